//! The server the official MCP conformance suite (`@modelcontextprotocol/conformance`)
//! drives. `specs/conformance.yaml` declares every tool, prompt and resource its
//! scenarios look for; this crate implements the tools and the resource template.
//! Each body is what the scenario asserts, written with the framework's public
//! API only: nothing here is special-cased in the runtime.

use std::time::Duration;

use gatehouse::{
    Content, Context, LogLevel, ResourceContents, ResourceError, Store, ToolError, ToolResult,
};
use serde_json::{Value, json};

/// The module generated from the spec: typed arguments, the `Tools` trait, dispatch.
pub mod api {
    gatehouse::spec!("../../specs/conformance.yaml");
}

use api::*;

const PIXEL_PNG: &[u8] = include_bytes!("../../../specs/conformance/pixel.png");
const BEEP_WAV: &[u8] = include_bytes!("../../../specs/conformance/beep.wav");

/// The conformance server holds no state of its own.
pub struct ConformanceServer;

/// The app the `conformance-server` binary serves: without sign-in as the spec
/// says (the suite's `server` scenarios connect without credentials), or with the
/// built-in OAuth 2.1 authorization server when `CONFORMANCE_AUTH=oauth` (for the
/// suite's `authorization` checks).
pub async fn app(_store: Store) -> anyhow::Result<gatehouse::App> {
    let app = api::app(ConformanceServer);
    match std::env::var("CONFORMANCE_AUTH").as_deref() {
        Err(_) | Ok("none") => Ok(app),
        Ok("oauth") => Ok(app.with_auth(gatehouse::Auth::OAuth)),
        Ok(other) => anyhow::bail!("CONFORMANCE_AUTH must be `none` or `oauth`, not `{other}`"),
    }
}

/// The text of a client's answer to `sampling/createMessage`: the content block's
/// text, or the whole content when it is not text.
fn sampled_text(result: &Value) -> String {
    match result.pointer("/content/text").and_then(Value::as_str) {
        Some(text) => text.to_owned(),
        None => result
            .get("content")
            .cloned()
            .unwrap_or(Value::Null)
            .to_string(),
    }
}

/// Sends `elicitation/create` and reports what the user answered.
async fn elicit_and_report(ctx: &Context, params: Value) -> Result<ToolResult, ToolError> {
    let answer = ctx.elicit(params).await?;
    let action = answer
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let content = answer.get("content").cloned().unwrap_or(Value::Null);
    Ok(ToolResult::text(format!(
        "User response: action={action}, content={content}"
    )))
}

impl Tools for ConformanceServer {
    async fn test_simple_text(
        &self,
        _ctx: Context,
        _args: TestSimpleTextArgs,
    ) -> Result<ToolResult, ToolError> {
        Ok(ToolResult::text(
            "This is a simple text response for testing.",
        ))
    }

    async fn test_image_content(
        &self,
        _ctx: Context,
        _args: TestImageContentArgs,
    ) -> Result<ToolResult, ToolError> {
        Ok(ToolResult::new(vec![Content::image(
            PIXEL_PNG,
            "image/png",
        )]))
    }

    async fn test_audio_content(
        &self,
        _ctx: Context,
        _args: TestAudioContentArgs,
    ) -> Result<ToolResult, ToolError> {
        Ok(ToolResult::new(vec![Content::audio(BEEP_WAV, "audio/wav")]))
    }

    async fn test_embedded_resource(
        &self,
        _ctx: Context,
        _args: TestEmbeddedResourceArgs,
    ) -> Result<ToolResult, ToolError> {
        Ok(ToolResult::new(vec![Content::resource(
            ResourceContents::text(
                "test://embedded-resource",
                Some("text/plain"),
                "This is an embedded resource content.",
            ),
        )]))
    }

    async fn test_multiple_content_types(
        &self,
        _ctx: Context,
        _args: TestMultipleContentTypesArgs,
    ) -> Result<ToolResult, ToolError> {
        Ok(ToolResult::new(vec![
            Content::text("Multiple content types test:"),
            Content::image(PIXEL_PNG, "image/png"),
            Content::resource(ResourceContents::text(
                "test://mixed-content-resource",
                Some("application/json"),
                json!({ "test": "data", "value": 123 }).to_string(),
            )),
        ]))
    }

    async fn test_tool_with_logging(
        &self,
        ctx: Context,
        _args: TestToolWithLoggingArgs,
    ) -> Result<ToolResult, ToolError> {
        let steps = [
            "Tool execution started",
            "Tool processing data",
            "Tool execution completed",
        ];
        for (i, step) in steps.into_iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            ctx.log(LogLevel::Info, Some("conformance"), step);
        }
        Ok(ToolResult::text("Tool with logging executed successfully"))
    }

    async fn test_missing_capability(
        &self,
        ctx: Context,
        _args: TestMissingCapabilityArgs,
    ) -> Result<ToolResult, ToolError> {
        let answer = ctx
            .create_message(json!({
                "messages": [{ "role": "user", "content": { "type": "text", "text": "ping" } }],
                "maxTokens": 10,
            }))
            .await?;
        Ok(ToolResult::text(answer.to_string()))
    }

    async fn test_logging_tool(
        &self,
        ctx: Context,
        _args: TestLoggingToolArgs,
    ) -> Result<ToolResult, ToolError> {
        ctx.log(
            LogLevel::Warning,
            Some("conformance"),
            "a message at warning",
        );
        Ok(ToolResult::text("logged"))
    }

    async fn test_error_handling(
        &self,
        _ctx: Context,
        _args: TestErrorHandlingArgs,
    ) -> Result<ToolResult, ToolError> {
        Err(ToolError::failed(
            "This tool intentionally returns an error for testing",
        ))
    }

    async fn test_tool_with_progress(
        &self,
        ctx: Context,
        _args: TestToolWithProgressArgs,
    ) -> Result<ToolResult, ToolError> {
        for (i, step) in [0.0, 50.0, 100.0].into_iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            ctx.progress(
                step,
                Some(100.0),
                Some(&format!("Completed step {step} of 100")),
            );
        }
        Ok(ToolResult::text("Progress test completed"))
    }

    async fn test_sampling(
        &self,
        ctx: Context,
        args: TestSamplingArgs,
    ) -> Result<ToolResult, ToolError> {
        let result = ctx
            .create_message(json!({
                "messages": [
                    { "role": "user", "content": { "type": "text", "text": args.prompt } }
                ],
                "maxTokens": 100,
            }))
            .await?;
        Ok(ToolResult::text(format!(
            "LLM response: {}",
            sampled_text(&result)
        )))
    }

    async fn test_elicitation(
        &self,
        ctx: Context,
        args: TestElicitationArgs,
    ) -> Result<ToolResult, ToolError> {
        elicit_and_report(
            &ctx,
            json!({
                "message": args.message,
                "requestedSchema": {
                    "type": "object",
                    "properties": {
                        "username": { "type": "string", "description": "Your username" },
                        "email": { "type": "string", "description": "Your email address" }
                    },
                    "required": ["username", "email"]
                }
            }),
        )
        .await
    }

    async fn test_elicitation_sep1034_defaults(
        &self,
        ctx: Context,
        _args: TestElicitationSep1034DefaultsArgs,
    ) -> Result<ToolResult, ToolError> {
        elicit_and_report(
            &ctx,
            json!({
                "message": "Please review and update the form fields with defaults",
                "requestedSchema": {
                    "type": "object",
                    "properties": {
                        "name": { "type": "string", "description": "User name", "default": "John Doe" },
                        "age": { "type": "integer", "description": "User age", "default": 30 },
                        "score": { "type": "number", "description": "User score", "default": 95.5 },
                        "status": {
                            "type": "string",
                            "description": "User status",
                            "enum": ["active", "inactive", "pending"],
                            "default": "active"
                        },
                        "verified": { "type": "boolean", "description": "Verification status", "default": true }
                    }
                }
            }),
        )
        .await
    }

    async fn test_elicitation_sep1330_enums(
        &self,
        ctx: Context,
        _args: TestElicitationSep1330EnumsArgs,
    ) -> Result<ToolResult, ToolError> {
        let options = ["option1", "option2", "option3"];
        let titled: Vec<Value> = options
            .iter()
            .enumerate()
            .map(|(i, o)| json!({ "const": o, "title": format!("Option {}", i + 1) }))
            .collect();
        elicit_and_report(
            &ctx,
            json!({
                "message": "Please select options from the enum fields",
                "requestedSchema": {
                    "type": "object",
                    "properties": {
                        "untitledSingle": {
                            "type": "string",
                            "description": "Select one option",
                            "enum": options
                        },
                        "titledSingle": {
                            "type": "string",
                            "description": "Select one option with titles",
                            "oneOf": titled
                        },
                        "legacyEnum": {
                            "type": "string",
                            "description": "Select one option (legacy)",
                            "enum": options,
                            "enumNames": ["Option One", "Option Two", "Option Three"]
                        },
                        "untitledMulti": {
                            "type": "array",
                            "description": "Select multiple options",
                            "minItems": 1,
                            "maxItems": 3,
                            "items": { "type": "string", "enum": options }
                        },
                        "titledMulti": {
                            "type": "array",
                            "description": "Select multiple options with titles",
                            "minItems": 1,
                            "maxItems": 3,
                            "items": { "anyOf": titled }
                        }
                    },
                    "required": []
                }
            }),
        )
        .await
    }

    async fn test_reconnection(
        &self,
        ctx: Context,
        _args: TestReconnectionArgs,
    ) -> Result<ToolResult, ToolError> {
        // SEP-1699: end this POST's connection after the priming event; the
        // client comes back with Last-Event-ID and receives the result.
        ctx.close_stream();
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(ToolResult::text(
            "Reconnection test completed: the result arrived on the resumed stream",
        ))
    }

    async fn json_schema_2020_12_tool(
        &self,
        _ctx: Context,
        args: JsonSchema202012ToolArgs,
    ) -> Result<ToolResult, ToolError> {
        Ok(ToolResult::text(format!(
            "Received: {}",
            Value::Object(args)
        )))
    }

    async fn read_template(
        &self,
        _ctx: Context,
        uri: String,
        params: TemplateParams,
    ) -> Result<Vec<ResourceContents>, ResourceError> {
        let body = json!({ "id": params.id, "templateTest": true, "data": format!("Data for ID: {}", params.id) });
        Ok(vec![ResourceContents::text(
            uri,
            Some("application/json"),
            body.to_string(),
        )])
    }
}
