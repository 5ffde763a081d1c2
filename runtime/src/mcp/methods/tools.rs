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
            let problems: Vec<String> = tool
                .validator
                .iter_errors(&arguments)
                .map(|e| {
                    let at = e.instance_path().to_string();
                    if at.is_empty() {
                        e.to_string()
                    } else {
                        format!("{at}: {e}")
                    }
                })
                .collect();
            Err(ToolError::InvalidArguments(problems.join("; ")))
        };
        let result = match outcome {
            Ok(result) => result,
            Err(ToolError::Failed(message)) => ToolResult::error(message),
            Err(ToolError::InvalidArguments(message)) if v.is_2025_11_25_or_later() => {
                ToolResult::error(format!("Invalid arguments for tool {name}: {message}"))
            }
            Err(ToolError::InvalidArguments(message)) => {
                return Err(McpError::InvalidParams(format!(
                    "Invalid arguments for tool {name}: {message}"
                )));
            }
            Err(ToolError::Internal(e)) => {
                tracing::error!(tool = %name, error = %format!("{e:#}"), "tool failed");
                ToolResult::error(format!("Tool {name} failed with an internal error."))
            }
        };
        Ok(result.into_version(v))
    }
}
