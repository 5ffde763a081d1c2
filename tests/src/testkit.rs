//! The test kit's implementation: each tool drives one runtime feature.

use std::time::Duration;

use gatehouse::{
    CompletionRef, CompletionRequest, Content, Context, Elicitation, LogLevel, ResourceContents,
    ResourceError, Sampling, ToolError, ToolResult,
};
use serde_json::{Value, json};

pub mod api {
    gatehouse::spec!("specs/testkit.yaml");
}

use api::*;

pub struct Kit;

/// The test kit as an app.
pub fn app() -> gatehouse::App {
    api::app(Kit)
}

impl Tools for Kit {
    async fn echo(&self, _ctx: Context, args: EchoArgs) -> Result<ToolResult, ToolError> {
        Ok(ToolResult::text(args.text))
    }

    async fn kinds(&self, _ctx: Context, args: KindsArgs) -> Result<KindsOutput, ToolError> {
        Ok(KindsOutput {
            summary: format!(
                "s={} i={} n={:?} b={} e={} tags={:?} point={:?} camelCase={:?} type={:?}",
                args.s,
                args.i,
                args.n,
                args.b,
                args.e.as_str(),
                args.tags,
                args.point.map(|p| (p.x, p.y)),
                args.camel_case,
                args.r#type
            ),
        })
    }

    async fn progress(&self, ctx: Context, args: ProgressArgs) -> Result<ToolResult, ToolError> {
        for step in 0..=args.steps {
            ctx.progress(
                step as f64,
                Some(args.steps as f64),
                Some(&format!("step {step}")),
            );
            // A repeated value must be dropped (progress MUST increase).
            ctx.progress(step as f64, Some(args.steps as f64), None);
            tokio::time::sleep(Duration::from_millis(args.delay_ms as u64)).await;
        }
        Ok(ToolResult::text("done"))
    }

    async fn log(&self, ctx: Context, _args: LogArgs) -> Result<ToolResult, ToolError> {
        for level in LogLevel::ALL {
            ctx.log(level, Some("testkit"), json!({ "level": level.as_str() }));
        }
        Ok(ToolResult::text("logged"))
    }

    async fn slow(&self, ctx: Context, args: SlowArgs) -> Result<ToolResult, ToolError> {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(args.ms as u64)) => Ok(ToolResult::text("finished")),
            _ = ctx.cancelled() => Ok(ToolResult::text("cancelled")),
        }
    }

    async fn sample(&self, ctx: Context, args: SampleArgs) -> Result<ToolResult, ToolError> {
        let answer = ctx
            .create_message(Sampling::prompt(args.prompt, 50))
            .await?;
        Ok(ToolResult::text(format!(
            "the model said: {}",
            answer.text()
        )))
    }

    async fn introduce(&self, ctx: Context, args: IntroduceArgs) -> Result<ToolResult, ToolError> {
        #[derive(schemars::JsonSchema, serde::Deserialize)]
        struct Name {
            /// Your name
            name: String,
        }
        #[derive(schemars::JsonSchema, serde::Deserialize)]
        struct Colour {
            colour: String,
        }
        let answer = ctx
            .elicit(Elicitation::form::<Name>("What is your name?"))
            .await?;
        let Some(Name { name }) = answer.accepted()? else {
            return Ok(ToolResult::text(format!("no name ({:?})", answer.action)));
        };
        let question = format!("What is your favourite colour, {name}?");
        let answer = ctx.elicit(Elicitation::form::<Colour>(question)).await?;
        let Some(Colour { colour }) = answer.accepted()? else {
            return Ok(ToolResult::text(format!(
                "{name} keeps their colour to themselves"
            )));
        };
        let greeting = args.greeting.unwrap_or_default();
        Ok(ToolResult::text(format!("{greeting}{name} likes {colour}")))
    }

    async fn announce(&self, ctx: Context, args: AnnounceArgs) -> Result<ToolResult, ToolError> {
        for n in 1..=args.count {
            ctx.notify_session(
                "notifications/message",
                json!({ "level": "info", "data": { "n": n } }),
            )
            .await?;
            if args.interval_ms > 0 {
                tokio::time::sleep(Duration::from_millis(args.interval_ms as u64)).await;
            }
        }
        Ok(ToolResult::text(format!("announced {}", args.count)))
    }

    async fn touch(&self, ctx: Context, args: TouchArgs) -> Result<ToolResult, ToolError> {
        ctx.notify_resource_updated(&args.uri).await?;
        Ok(ToolResult::text(format!("touched {}", args.uri)))
    }

    async fn fail(&self, _ctx: Context, _args: FailArgs) -> Result<ToolResult, ToolError> {
        Err(ToolError::failed("the thing you asked for does not exist"))
    }

    async fn crash(&self, _ctx: Context, _args: CrashArgs) -> Result<ToolResult, ToolError> {
        Err(ToolError::internal(anyhow::anyhow!(
            "secret database detail"
        )))
    }

    async fn explode(&self, _ctx: Context, _args: ExplodeArgs) -> Result<ToolResult, ToolError> {
        panic!("the explode tool panics on purpose")
    }

    async fn link(&self, _ctx: Context, _args: LinkArgs) -> Result<ToolResult, ToolError> {
        Ok(ToolResult::new(vec![Content::ResourceLink {
            uri: "test://readme".into(),
            name: "readme".into(),
            title: Some("Read me".into()),
            description: Some("Static text".into()),
            mime_type: Some("text/plain".into()),
            annotations: None,
        }]))
    }

    async fn scoped(&self, ctx: Context, _args: ScopedArgs) -> Result<ToolResult, ToolError> {
        Ok(ToolResult::text(format!("hello {}", ctx.user_id())))
    }

    async fn read_clock(
        &self,
        _ctx: Context,
        uri: String,
    ) -> Result<Vec<ResourceContents>, ResourceError> {
        Ok(vec![ResourceContents::text(
            uri,
            Some("text/plain"),
            "tick",
        )])
    }

    async fn read_item(
        &self,
        _ctx: Context,
        uri: String,
        params: ItemParams,
    ) -> Result<Vec<ResourceContents>, ResourceError> {
        if params.id == "missing" {
            return Err(ResourceError::NotFound);
        }
        let body = json!({ "id": params.id });
        Ok(vec![ResourceContents::text(
            uri,
            Some("application/json"),
            body.to_string(),
        )])
    }

    async fn prompt_counted(
        &self,
        _ctx: Context,
        args: CountedPromptArgs,
    ) -> Result<Value, ToolError> {
        Ok(json!({ "letters": args.word.chars().count() }))
    }

    async fn complete(
        &self,
        _ctx: Context,
        request: CompletionRequest,
    ) -> Result<Vec<String>, ToolError> {
        match request.reference {
            CompletionRef::Resource { .. } if request.argument == "id" => {
                Ok(["apple", "apricot", "banana"]
                    .iter()
                    .filter(|v| v.starts_with(&request.value))
                    .map(|v| v.to_string())
                    .collect())
            }
            _ => Ok(Vec::new()),
        }
    }
}
