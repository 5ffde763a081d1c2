//! The server the official MCP conformance suite (`@modelcontextprotocol/conformance`)
//! drives. `specs/conformance.yaml` declares every tool, prompt and resource its
//! scenarios look for; this crate implements the tools and the resource template.
//! Each body is what the scenario asserts, written with the framework's public
//! API only: nothing here is special-cased in the runtime.

use std::time::Duration;

use gatehouse::{
    Content, Context, ElicitResult, Elicitation, ListRoots, LogLevel, ResourceContents,
    ResourceError, Sampling, Store, ToolError, ToolResult,
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

/// Sends `elicitation/create` and reports what the user answered.
async fn elicit_and_report(ctx: &Context, request: Elicitation) -> Result<ToolResult, ToolError> {
    let answer = ctx.elicit(request).await?;
    let action = serde_json::to_value(answer.action)?;
    let content = json!(answer.content);
    Ok(ToolResult::text(format!(
        "User response: action={}, content={content}",
        action.as_str().unwrap_or_default()
    )))
}

/// A name (input-required scenarios).
#[derive(schemars::JsonSchema, serde::Deserialize)]
struct Name {
    name: String,
}

/// A yes or no.
#[derive(schemars::JsonSchema, serde::Deserialize)]
struct Confirmation {
    ok: bool,
}

/// A favourite colour.
#[derive(schemars::JsonSchema, serde::Deserialize)]
struct Colour {
    color: String,
}

/// Background for a prompt.
#[derive(schemars::JsonSchema, serde::Deserialize)]
struct Background {
    context: String,
}

/// The form's values as `T`, or a tool error saying what the user did instead.
fn accepted<T: serde::de::DeserializeOwned>(answer: &ElicitResult) -> Result<T, ToolError> {
    answer
        .accepted::<T>()
        .map_err(|e| ToolError::failed(format!("the form came back malformed: {e}")))?
        .ok_or_else(|| ToolError::failed(format!("the user chose to {:?}", answer.action)))
}

fn ask_name(key: &str, message: &str) -> Elicitation {
    Elicitation::form::<Name>(message).key(key)
}

/// What `test_elicitation` asks for.
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
struct Account {
    /// Your username
    username: String,
    /// Your email address
    email: String,
}

/// Asks for a confirmation; reached only once the retry's `requestState`
/// has passed the framework's integrity and binding checks.
async fn confirm(ctx: &Context) -> Result<ToolResult, ToolError> {
    let ask = Elicitation::form::<Confirmation>("Please confirm").key("confirm");
    let confirmation: Confirmation = accepted(&ctx.elicit(ask).await?)?;
    Ok(ToolResult::text(format!(
        "state-ok: confirmed={}",
        confirmation.ok
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
        let answer = ctx.create_message(Sampling::prompt("ping", 10)).await?;
        Ok(ToolResult::text(answer.text()))
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
            .create_message(Sampling::prompt(args.prompt, 100))
            .await?;
        Ok(ToolResult::text(format!("LLM response: {}", result.text())))
    }

    async fn test_elicitation(
        &self,
        ctx: Context,
        args: TestElicitationArgs,
    ) -> Result<ToolResult, ToolError> {
        elicit_and_report(&ctx, Elicitation::form::<Account>(args.message)).await
    }

    async fn test_elicitation_sep1034_defaults(
        &self,
        ctx: Context,
        _args: TestElicitationSep1034DefaultsArgs,
    ) -> Result<ToolResult, ToolError> {
        elicit_and_report(
            &ctx,
            Elicitation::with_schema(
                "Please review and update the form fields with defaults",
                json!({
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
                }),
            ),
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
            Elicitation::with_schema(
                "Please select options from the enum fields",
                json!({
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
                }),
            ),
        )
        .await
    }

    async fn test_input_required_result_elicitation(
        &self,
        ctx: Context,
        _args: TestInputRequiredResultElicitationArgs,
    ) -> Result<ToolResult, ToolError> {
        let answer = ctx
            .elicit(ask_name("user_name", "What is your name?"))
            .await?;
        let name: Name = accepted(&answer)?;
        Ok(ToolResult::text(format!("Hello, {}!", name.name)))
    }

    async fn test_input_required_result_sampling(
        &self,
        ctx: Context,
        _args: TestInputRequiredResultSamplingArgs,
    ) -> Result<ToolResult, ToolError> {
        let question =
            Sampling::prompt("What is the capital of France?", 50).key("capital_question");
        let answer = ctx.create_message(question).await?;
        Ok(ToolResult::text(format!(
            "The model says: {}",
            answer.text()
        )))
    }

    async fn test_input_required_result_list_roots(
        &self,
        ctx: Context,
        _args: TestInputRequiredResultListRootsArgs,
    ) -> Result<ToolResult, ToolError> {
        let roots = ctx.ask(ListRoots::new().key("client_roots")).await?;
        let uris: Vec<&str> = roots.roots.iter().map(|r| r.uri.as_str()).collect();
        Ok(ToolResult::text(format!(
            "Client roots: {}",
            uris.join(", ")
        )))
    }

    async fn test_input_required_result_request_state(
        &self,
        ctx: Context,
        _args: TestInputRequiredResultRequestStateArgs,
    ) -> Result<ToolResult, ToolError> {
        confirm(&ctx).await
    }

    async fn test_input_required_result_multiple_inputs(
        &self,
        ctx: Context,
        _args: TestInputRequiredResultMultipleInputsArgs,
    ) -> Result<ToolResult, ToolError> {
        // Asked together, so the client gets all three in one round.
        let (name, greeting, roots) = tokio::try_join!(
            ctx.elicit(ask_name("user_name", "What is your name?")),
            ctx.create_message(Sampling::prompt("Generate a greeting", 50).key("greeting")),
            ctx.ask(ListRoots::new().key("client_roots")),
        )?;
        let name: Name = accepted(&name)?;
        Ok(ToolResult::text(format!(
            "{} {} ({} roots)",
            greeting.text(),
            name.name,
            roots.roots.len()
        )))
    }

    async fn test_input_required_result_multi_round(
        &self,
        ctx: Context,
        _args: TestInputRequiredResultMultiRoundArgs,
    ) -> Result<ToolResult, ToolError> {
        let name = ctx
            .elicit(ask_name("step1", "Step 1: What is your name?"))
            .await?;
        let name: Name = accepted(&name)?;
        let colour = Elicitation::form::<Colour>(format!(
            "Step 2: What is your favorite color, {}?",
            name.name
        ))
        .key("step2");
        let colour: Colour = accepted(&ctx.elicit(colour).await?)?;
        Ok(ToolResult::text(format!(
            "{} likes {}",
            name.name, colour.color
        )))
    }

    async fn test_input_required_result_tampered_state(
        &self,
        ctx: Context,
        _args: TestInputRequiredResultTamperedStateArgs,
    ) -> Result<ToolResult, ToolError> {
        confirm(&ctx).await
    }

    async fn test_input_required_result_capabilities(
        &self,
        ctx: Context,
        _args: TestInputRequiredResultCapabilitiesArgs,
    ) -> Result<ToolResult, ToolError> {
        // Only what the request's client can answer is asked.
        let name = async {
            match ctx.client_supports("elicitation") {
                true => ctx
                    .elicit(ask_name("user_name", "What is your name?"))
                    .await
                    .map(Some),
                false => Ok(None),
            }
        };
        let greeting = async {
            match ctx.client_supports("sampling") {
                true => ctx
                    .create_message(Sampling::prompt("Generate a greeting", 50).key("greeting"))
                    .await
                    .map(Some),
                false => Ok(None),
            }
        };
        let (name, greeting) = tokio::try_join!(name, greeting)?;
        Ok(ToolResult::text(format!(
            "asked for a name: {}; asked for a greeting: {}",
            name.is_some(),
            greeting.is_some()
        )))
    }

    async fn test_streaming_elicitation(
        &self,
        ctx: Context,
        _args: TestStreamingElicitationArgs,
    ) -> Result<ToolResult, ToolError> {
        ctx.progress(0.0, None, Some("about to ask"));
        let name: Name = accepted(
            &ctx.elicit(ask_name("user_name", "What is your name?"))
                .await?,
        )?;
        Ok(ToolResult::text(format!("Hello, {}!", name.name)))
    }

    async fn prompt_test_input_required_result_prompt(
        &self,
        ctx: Context,
        _args: TestInputRequiredResultPromptPromptArgs,
    ) -> Result<Value, ToolError> {
        let ask =
            Elicitation::form::<Background>("What should the prompt be about?").key("context");
        let background: Background = accepted(&ctx.elicit(ask).await?)?;
        Ok(json!({ "context": background.context }))
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
