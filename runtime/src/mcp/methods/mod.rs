//! The method families every protocol era serves (issue 13): tools, prompts,
//! resources and completion, each a module of [`Methods`]. They read typed
//! parameters (`params`), answer from the catalog and the server's handlers,
//! and know nothing of sessions, streams or HTTP: the session era
//! (`core.rs`, `transport.rs`) calls them, and so can a sessionless one.

mod completion;
pub(crate) mod params;
mod prompts;
mod resources;
mod tools;

use std::sync::Arc;

use serde_json::{Value, json};

use super::catalog::Catalog;
use super::definition::Handlers;
use super::error::McpError;
use super::pagination;
use crate::principal::Principal;
use params::{CallToolParams, ListParams};

/// A method's result in either era: JSON the method built, or a tool's
/// result, serialized straight into the response without a JSON tree in
/// between.
#[derive(serde::Serialize)]
#[serde(untagged)]
pub(crate) enum Answer {
    Value(Value),
    Tool(super::wire::ToolResult),
}

/// The catalog and the handlers, with what serving them needs.
pub(crate) struct Methods {
    catalog: Catalog,
    handlers: Arc<dyn Handlers>,
    prompts: minijinja::Environment<'static>,
    page_size: usize,
}

impl Methods {
    pub(crate) fn new(catalog: Catalog, handlers: Arc<dyn Handlers>, page_size: usize) -> Methods {
        let prompts = prompts::environment(&catalog);
        Methods {
            catalog,
            handlers,
            prompts,
            page_size,
        }
    }

    pub(crate) fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// One page of a list result: `{key: [...], nextCursor?}`.
    fn page(&self, key: &str, items: &[Value], params: &ListParams) -> Result<Value, McpError> {
        let (page, next) = pagination::page(items, params.cursor.as_deref(), self.page_size)?;
        let mut result = json!({ key: page });
        if let Some(n) = next {
            result["nextCursor"] = json!(n);
        }
        Ok(result)
    }

    /// The scopes a request needs that the caller's token lacks (A-RS-10);
    /// empty when nothing is missing or the server has no OAuth. Every method
    /// that reads or changes data needs the scopes of what it touches; lists
    /// show everything (as for tools). Unknown names get no scope check here:
    /// the method itself answers with its own error.
    pub(crate) fn missing_scopes(
        &self,
        principal: &Principal,
        method: &str,
        params: Option<&Value>,
    ) -> Vec<String> {
        let Some(granted) = &principal.scopes else {
            return Vec::new();
        };
        let param = |key: &str| params.and_then(|p| p.get(key));
        let text = |key: &str| param(key).and_then(Value::as_str);
        if method == "subscriptions/listen" {
            // Every resource the stream subscribes to (2026-07-28).
            let uris = param("notifications")
                .and_then(|n| n.get("resourceSubscriptions"))
                .and_then(Value::as_array);
            let mut missing: Vec<String> = Vec::new();
            for uri in uris.into_iter().flatten().filter_map(Value::as_str) {
                for s in self.catalog.resource_scopes(uri).unwrap_or(&[]) {
                    if !granted.contains(s) && !missing.contains(s) {
                        missing.push(s.clone());
                    }
                }
            }
            return missing;
        }
        let needed: &[String] = match method {
            "tools/call" => CallToolParams::name_of(params)
                .and_then(|n| self.catalog.tool(n))
                .map(|t| &t.scopes[..]),
            "prompts/get" => text("name")
                .and_then(|n| self.catalog.prompt(n))
                .map(|p| &p.scopes[..]),
            "resources/read" | "resources/subscribe" => {
                text("uri").and_then(|u| self.catalog.resource_scopes(u))
            }
            "completion/complete" => param("ref").and_then(|r| self.catalog.completion_scopes(r)),
            _ => None,
        }
        .unwrap_or(&[]);
        needed
            .iter()
            .filter(|s| !granted.contains(s))
            .cloned()
            .collect()
    }
}

/// A handler's error for a prompt's variables or a completion: the client's
/// mistake as -32602, the server's as an internal error.
fn handler_error(e: super::context::ToolError) -> McpError {
    use super::context::ToolError;
    match e {
        ToolError::Failed(m) | ToolError::InvalidArguments(m) => McpError::InvalidParams(m),
        ToolError::Internal(e) => McpError::internal(format!("{e:#}")),
    }
}
