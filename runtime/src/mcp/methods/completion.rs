//! `completion/complete`: a prompt argument's declared values, or the
//! server's completion handler.

use serde_json::{Value, json};

use super::params::CompleteParams;
use super::{Methods, handler_error};
use crate::mcp::context::{CompletionRef, CompletionRequest, Context};
use crate::mcp::error::McpError;

/// At most this many values in one answer (the spec's limit).
const MAX_VALUES: usize = 100;

fn completion(mut values: Vec<String>) -> Value {
    let total = values.len();
    values.truncate(MAX_VALUES);
    json!({ "completion": { "values": values, "total": total, "hasMore": total > MAX_VALUES } })
}

impl Methods {
    pub(crate) async fn complete(
        &self,
        ctx: Context,
        params: CompleteParams,
    ) -> Result<Value, McpError> {
        let CompleteParams {
            reference,
            argument,
            value,
            arguments,
        } = params;
        match &reference {
            CompletionRef::Prompt { name } => {
                let prompt = self
                    .catalog
                    .prompt(name)
                    .ok_or_else(|| McpError::InvalidParams(format!("Unknown prompt: {name}")))?;
                let def = prompt.spec.arguments.get(&argument).ok_or_else(|| {
                    McpError::InvalidParams(format!("Prompt {name} has no argument `{argument}`"))
                })?;
                if let Some(values) = &def.values {
                    let needle = value.to_lowercase();
                    let matching: Vec<String> = values
                        .iter()
                        .filter(|v| v.to_lowercase().starts_with(&needle))
                        .cloned()
                        .collect();
                    return Ok(completion(matching));
                }
            }
            CompletionRef::Resource { uri } => {
                let known = self
                    .catalog
                    .templates
                    .iter()
                    .any(|t| t.info.uri_template == *uri)
                    || self.catalog.resources.iter().any(|r| r.info.uri == *uri);
                if !known {
                    return Err(McpError::InvalidParams(format!("Unknown resource: {uri}")));
                }
            }
        }
        let request = CompletionRequest {
            reference,
            argument,
            value,
            arguments,
        };
        let values = self
            .handlers
            .complete(ctx, request)
            .await
            .map_err(handler_error)?;
        Ok(completion(values))
    }
}
