//! `tools/list` and `tools/call`.

use serde_json::{Value, json};

use super::Methods;
use super::params::{CallToolParams, ListParams};
use crate::mcp::context::{Context, ToolError};
use crate::mcp::error::McpError;
use crate::mcp::version::ProtocolVersion;
use crate::mcp::wire::ToolResult;

impl Methods {
    pub(crate) fn list_tools(
        &self,
        v: ProtocolVersion,
        params: &ListParams,
    ) -> Result<Value, McpError> {
        let tools: Vec<Value> = self
            .catalog
            .tools
            .iter()
            .map(|t| json!(t.info.for_version(v)))
            .collect();
        self.page("tools", &tools, params)
    }

    /// Validate the arguments against the tool's input schema, run it, and
    /// shape its result (or failure) for the caller's protocol version.
    pub(crate) async fn call_tool(
        &self,
        ctx: Context,
        params: CallToolParams,
    ) -> Result<ToolResult, McpError> {
        let v = ctx.protocol_version();
        let CallToolParams { name, arguments } = params;
        let tool = self
            .catalog
            .tool(&name)
            .ok_or_else(|| McpError::InvalidParams(format!("Unknown tool: {name}")))?;
        // The quick yes/no first; the list of problems only for bad arguments.
        let outcome = if tool.validator.is_valid(&arguments) {
            self.handlers.call_tool(tool.index, ctx, &arguments).await
        } else {
            Err(invalid_arguments(&tool.validator, &arguments))
        };
        let result = match outcome {
            Ok(result) => result,
            Err(e) => failed(&name, v, e)?,
        };
        Ok(result.into_version(v))
    }
}

/// What is wrong with a tool's arguments, every problem the schema finds.
/// Cold, as the other failure paths of a call: out of the hot path's cache
/// lines (`bench/analysis.md`).
#[cold]
#[inline(never)]
fn invalid_arguments(validator: &jsonschema::Validator, arguments: &Value) -> ToolError {
    let problems: Vec<String> = validator
        .iter_errors(arguments)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        })
        .collect();
    ToolError::InvalidArguments(problems.join("; "))
}

/// A tool's failure as its result (an error result the model can read) or,
/// before 2025-11-25, invalid arguments as a JSON-RPC error.
#[cold]
#[inline(never)]
fn failed(name: &str, v: ProtocolVersion, e: ToolError) -> Result<ToolResult, McpError> {
    match e {
        ToolError::Failed(message) => Ok(ToolResult::error(message)),
        ToolError::InvalidArguments(message) if v.is_2025_11_25_or_later() => Ok(
            ToolResult::error(format!("Invalid arguments for tool {name}: {message}")),
        ),
        ToolError::InvalidArguments(message) => Err(McpError::InvalidParams(format!(
            "Invalid arguments for tool {name}: {message}"
        ))),
        ToolError::Internal(e) => {
            tracing::error!(tool = %name, error = %format!("{e:#}"), "tool failed");
            Ok(ToolResult::error(format!(
                "Tool {name} failed with an internal error."
            )))
        }
    }
}
