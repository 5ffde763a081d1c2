//! The typed parameters of each method family, read from a request's
//! `params` in one place. Every failure is -32602 with the message clients
//! have always been given (the lifecycle and feature snapshots pin them), so
//! the checks are written out here rather than left to a derive whose wording
//! would differ.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::mcp::context::CompletionRef;
use crate::mcp::error::McpError;
use crate::mcp::jsonrpc::{find, member, params_object, take};
use crate::mcp::logging::LogLevel;

fn invalid(message: impl Into<String>) -> McpError {
    McpError::InvalidParams(message.into())
}

/// A string member of an object, or "`{name}` must be a string".
fn string(object: &Map<String, Value>, key: &str, name: &str) -> Result<String, McpError> {
    find(object, key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| invalid(format!("`{name}` must be a string")))
}

/// The params of a list method (`tools/list`, `prompts/list`, …).
#[derive(Debug, Default)]
pub(crate) struct ListParams {
    pub cursor: Option<String>,
}

impl ListParams {
    pub(crate) fn parse(params: Option<Value>) -> Result<ListParams, McpError> {
        let p = params_object(params)?;
        let cursor = match p.get("cursor") {
            None | Some(Value::Null) => None,
            Some(Value::String(c)) => Some(c.clone()),
            Some(_) => return Err(invalid("`cursor` must be a string")),
        };
        Ok(ListParams { cursor })
    }
}

/// `tools/call`.
#[derive(Debug)]
pub(crate) struct CallToolParams {
    pub name: String,
    /// `{}` when absent; checked against the tool's input schema later.
    /// Shared, not copied, with a 2026-07-28 call's input binding
    /// (`input_required.rs`), which must still have them after the tool has
    /// read them.
    pub arguments: Arc<Value>,
}

impl CallToolParams {
    pub(crate) fn parse(params: Option<Value>) -> Result<CallToolParams, McpError> {
        let mut params = params;
        let arguments = CallToolParams::take_arguments(&mut params);
        CallToolParams::parse_rest(params, arguments)
    }

    /// The arguments taken out of `params` by themselves (`{}` when absent
    /// or null); the rest is read by [`CallToolParams::parse_rest`], with the
    /// same errors as [`CallToolParams::parse`].
    pub(crate) fn take_arguments(params: &mut Option<Value>) -> Arc<Value> {
        let taken = params
            .as_mut()
            .and_then(Value::as_object_mut)
            .and_then(|p| take(p, "arguments"));
        Arc::new(match taken {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(a) => a,
        })
    }

    /// What [`CallToolParams::parse`] reads besides the arguments.
    pub(crate) fn parse_rest(
        params: Option<Value>,
        arguments: Arc<Value>,
    ) -> Result<CallToolParams, McpError> {
        let p = params_object(params)?;
        Ok(CallToolParams {
            name: string(&p, "name", "name")?,
            arguments,
        })
    }

    /// The tool a `tools/call` names, without reading the rest (scope checks).
    pub(crate) fn name_of(params: Option<&Value>) -> Option<&str> {
        member(params?, "name")?.as_str()
    }
}

/// `prompts/get`.
#[derive(Debug)]
pub(crate) struct GetPromptParams {
    pub name: String,
    pub arguments: Map<String, Value>,
}

impl GetPromptParams {
    pub(crate) fn parse(params: Option<Value>) -> Result<GetPromptParams, McpError> {
        let mut p = params_object(params)?;
        let name = string(&p, "name", "name")?;
        let arguments = match p.remove("arguments") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(invalid("`arguments` must be an object")),
        };
        Ok(GetPromptParams { name, arguments })
    }
}

/// `resources/read`, `resources/subscribe`, `resources/unsubscribe`.
#[derive(Debug)]
pub(crate) struct UriParams {
    pub uri: String,
}

impl UriParams {
    pub(crate) fn parse(params: Option<Value>) -> Result<UriParams, McpError> {
        let p = params_object(params)?;
        Ok(UriParams {
            uri: string(&p, "uri", "uri")?,
        })
    }
}

/// `logging/setLevel`.
#[derive(Debug)]
pub(crate) struct SetLevelParams {
    pub level: LogLevel,
}

impl SetLevelParams {
    pub(crate) fn parse(params: Option<Value>) -> Result<SetLevelParams, McpError> {
        let p = params_object(params)?;
        let level = p
            .get("level")
            .and_then(Value::as_str)
            .and_then(LogLevel::parse)
            .ok_or_else(|| {
                invalid(
                    "`level` must be one of debug, info, notice, warning, error, critical, alert, emergency",
                )
            })?;
        Ok(SetLevelParams { level })
    }
}

/// `completion/complete`.
#[derive(Debug)]
pub(crate) struct CompleteParams {
    pub reference: CompletionRef,
    /// The argument being completed, and what the user typed so far.
    pub argument: String,
    pub value: String,
    /// The other arguments' values (2025-06-18 `context`).
    pub arguments: Map<String, Value>,
}

impl CompleteParams {
    pub(crate) fn parse(params: Option<Value>) -> Result<CompleteParams, McpError> {
        let p = params_object(params)?;
        let reference = p.get("ref").ok_or_else(|| invalid("`ref` is required"))?;
        let argument = p
            .get("argument")
            .ok_or_else(|| invalid("`argument` is required"))?;
        let empty = Map::new();
        let argument = argument.as_object().unwrap_or(&empty);
        let name = string(argument, "name", "argument.name")?;
        let value = string(argument, "value", "argument.value")?;
        let arguments = p
            .get("context")
            .and_then(|c| c.get("arguments"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let reference = reference.as_object().unwrap_or(&empty);
        let reference = match reference.get("type").and_then(Value::as_str) {
            Some("ref/prompt") => CompletionRef::Prompt {
                name: string(reference, "name", "ref.name")?,
            },
            Some("ref/resource") => CompletionRef::Resource {
                uri: string(reference, "uri", "ref.uri")?,
            },
            _ => return Err(invalid("`ref.type` must be ref/prompt or ref/resource")),
        };
        Ok(CompleteParams {
            reference,
            argument: name,
            value,
            arguments,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message(e: McpError) -> String {
        match e {
            McpError::InvalidParams(m) => m,
            other => panic!("not -32602: {other:?}"),
        }
    }

    #[test]
    fn each_family_reads_its_params_or_names_the_field() {
        let call = CallToolParams::parse(Some(json!({ "name": "echo" }))).unwrap();
        assert_eq!((call.name.as_str(), &*call.arguments), ("echo", &json!({})));
        assert_eq!(
            message(CallToolParams::parse(Some(json!({ "name": 1 }))).unwrap_err()),
            "`name` must be a string"
        );
        assert_eq!(
            message(
                GetPromptParams::parse(Some(json!({ "name": "g", "arguments": [] }))).unwrap_err()
            ),
            "`arguments` must be an object"
        );
        assert_eq!(
            message(ListParams::parse(Some(json!({ "cursor": 5 }))).unwrap_err()),
            "`cursor` must be a string"
        );
        assert_eq!(
            message(ListParams::parse(Some(json!([]))).unwrap_err()),
            "params must be an object"
        );
        assert_eq!(
            message(
                CompleteParams::parse(Some(
                    json!({ "ref": {}, "argument": { "name": "a", "value": "" } })
                ))
                .unwrap_err()
            ),
            "`ref.type` must be ref/prompt or ref/resource"
        );
        assert_eq!(
            message(
                CompleteParams::parse(Some(
                    json!({ "ref": { "type": "ref/prompt" }, "argument": { "value": "" } })
                ))
                .unwrap_err()
            ),
            "`argument.name` must be a string"
        );
        let c = CompleteParams::parse(Some(
            json!({ "ref": { "type": "ref/resource", "uri": "x://{a}" },
            "argument": { "name": "a", "value": "b" }, "context": { "arguments": { "c": "d" } } }),
        ))
        .unwrap();
        assert!(matches!(c.reference, CompletionRef::Resource { ref uri } if uri == "x://{a}"));
        assert_eq!(c.arguments["c"], "d");
        assert_eq!(
            SetLevelParams::parse(Some(json!({ "level": "error" })))
                .unwrap()
                .level,
            LogLevel::Error
        );
    }
}
