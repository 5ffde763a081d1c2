//! The servers of the upstream sign-in tests (`specs/federated.yaml`,
//! `specs/federated_only.yaml`).

use gatehouse::{Context, ToolError, ToolResult};
use serde_json::json;

pub mod api {
    gatehouse::spec!("specs/federated.yaml");
}

pub mod only {
    gatehouse::spec!("specs/federated_only.yaml");
}

pub struct Federated;

/// The server with local accounts and six providers.
pub fn app() -> gatehouse::App {
    api::app(Federated)
}

/// The server whose only sign-in is one provider.
pub fn only_app() -> gatehouse::App {
    only::app(Federated)
}

fn whoami(ctx: &Context) -> ToolResult {
    ToolResult::text(json!({ "user": ctx.user_id(), "client": ctx.client_id() }).to_string())
}

impl api::Tools for Federated {
    async fn whoami(&self, ctx: Context, _args: api::WhoamiArgs) -> Result<ToolResult, ToolError> {
        Ok(whoami(&ctx))
    }

    /// Uses the provider's token as a tool would, and returns only what the
    /// provider said with it: never the token itself (U-14).
    async fn upstream_userinfo(
        &self,
        ctx: Context,
        args: api::UpstreamUserinfoArgs,
    ) -> Result<ToolResult, ToolError> {
        let token = ctx.upstream_token("sso").await?;
        let res = reqwest::Client::new()
            .get(&args.url)
            .bearer_auth(&token)
            .send()
            .await
            .map_err(ToolError::internal)?;
        let status = res.status().as_u16();
        let body: serde_json::Value = res.json().await.unwrap_or_default();
        Ok(ToolResult::text(
            json!({ "status": status, "sub": body["sub"] }).to_string(),
        ))
    }
}

impl only::Tools for Federated {
    async fn whoami(&self, ctx: Context, _args: only::WhoamiArgs) -> Result<ToolResult, ToolError> {
        Ok(whoami(&ctx))
    }
}
