//! `resources/list`, `resources/templates/list` and `resources/read`: static
//! text and files from the spec, handlers for the rest and for templates.
//! (Subscriptions belong to an era: sessions keep them in `core.rs`.)

use serde_json::{Value, json};

use super::Methods;
use super::params::{ListParams, UriParams};
use crate::mcp::catalog::{ResourceEntry, ResourceSource};
use crate::mcp::context::{Context, ResourceError};
use crate::mcp::error::McpError;
use crate::mcp::version::ProtocolVersion;
use crate::mcp::wire::ResourceContents;

impl Methods {
    pub(crate) fn list_resources(
        &self,
        v: ProtocolVersion,
        params: &ListParams,
    ) -> Result<Value, McpError> {
        let resources: Vec<Value> = self
            .catalog
            .resources
            .iter()
            .map(|r| json!(r.info.for_version(v)))
            .collect();
        self.page("resources", &resources, params)
    }

    pub(crate) fn list_resource_templates(
        &self,
        v: ProtocolVersion,
        params: &ListParams,
    ) -> Result<Value, McpError> {
        let templates: Vec<Value> = self
            .catalog
            .templates
            .iter()
            .map(|t| json!(t.info.for_version(v)))
            .collect();
        self.page("resourceTemplates", &templates, params)
    }

    /// The static resource with exactly this URI.
    pub(crate) fn resource(&self, uri: &str) -> Option<&ResourceEntry> {
        self.catalog.resources.iter().find(|r| r.info.uri == uri)
    }

    /// The caching hints of reading `uri` (2026-07-28): its resource's, or
    /// the first template's that matches it.
    pub(crate) fn read_caching(&self, uri: &str) -> gatehouse_specs::Caching {
        if let Some(r) = self.resource(uri) {
            return r.caching;
        }
        self.catalog
            .templates
            .iter()
            .find(|t| t.template.matches(uri).is_some())
            .map_or(gatehouse_specs::Caching::HANDLER, |t| t.caching)
    }

    pub(crate) async fn read_resource(
        &self,
        ctx: Context,
        params: UriParams,
    ) -> Result<Value, McpError> {
        let uri = params.uri.as_str();
        if url::Url::parse(uri).is_err() {
            return Err(McpError::InvalidParams(format!(
                "`{uri}` is not an absolute URI"
            )));
        }
        let not_found = || McpError::ResourceNotFound {
            uri: uri.to_string(),
        };
        let handled = |r: Result<Vec<ResourceContents>, ResourceError>| match r {
            Ok(contents) => Ok(json!({ "contents": contents })),
            Err(ResourceError::NotFound) => Err(not_found()),
            Err(ResourceError::InvalidUri(m)) => Err(McpError::InvalidParams(m)),
            Err(ResourceError::Internal(e)) => Err(McpError::internal(format!("{e:#}"))),
        };
        if let Some(r) = self.resource(uri) {
            let mime = r.info.mime_type.as_deref();
            let contents = match &r.source {
                ResourceSource::Text(t) => ResourceContents::text(uri, mime, t.clone()),
                ResourceSource::File(bytes) => ResourceContents::from_bytes(uri, mime, bytes),
                ResourceSource::Handler => {
                    return handled(
                        self.handlers
                            .read_resource(r.index, ctx, uri.to_string())
                            .await,
                    );
                }
            };
            return Ok(json!({ "contents": [contents] }));
        }
        for t in &self.catalog.templates {
            if let Some(raw) = t.template.matches(uri) {
                let mut vars = Vec::with_capacity(raw.len());
                for (k, v) in raw {
                    let decoded = percent_encoding::percent_decode_str(&v)
                        .decode_utf8()
                        .map_err(|_| {
                            McpError::InvalidParams(format!("`{k}` in `{uri}` is not UTF-8"))
                        })?;
                    vars.push((k, decoded.into_owned()));
                }
                return handled(
                    self.handlers
                        .read_template(t.index, ctx, uri.to_string(), vars)
                        .await,
                );
            }
        }
        Err(not_found())
    }
}
