//! The server of the authorization tests (`specs/gated.yaml`).

use gatehouse::{Context, ToolError, ToolResult};
use serde_json::json;

pub mod api {
    gatehouse::spec!("specs/gated.yaml");
}

use api::*;

/// The confidential client's secret, as the tests' environment provides it.
pub const BACKEND_SECRET: &str = "backend-secret-for-tests-only";

pub struct Gated;

/// The gated server as an app (sets the confidential client's secret variable).
pub fn app() -> gatehouse::App {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: set once, before any server reads it, and never changed.
    ONCE.call_once(|| unsafe { std::env::set_var("GATED_BACKEND_SECRET", BACKEND_SECRET) });
    api::app(Gated)
}

impl Tools for Gated {
    async fn whoami(&self, ctx: Context, _args: WhoamiArgs) -> Result<ToolResult, ToolError> {
        let who =
            json!({ "user": ctx.user_id(), "client": ctx.client_id(), "scopes": ctx.scopes() });
        Ok(ToolResult::text(who.to_string()))
    }

    async fn write_note(
        &self,
        _ctx: Context,
        args: WriteNoteArgs,
    ) -> Result<ToolResult, ToolError> {
        Ok(ToolResult::text(format!("noted: {}", args.text)))
    }
}
