//! The benchmark server: one `echo` tool behind the built-in OAuth server, so a
//! measured `tools/call` costs only what gatehouse itself does.

use gatehouse::{Context, Store, ToolError, ToolResult};

/// The module generated from the spec.
pub mod api {
    gatehouse::spec!("../../specs/bench.yaml");
}

use api::*;

pub struct BenchServer;

/// The app the `bench-server` binary serves.
pub async fn app(_store: Store) -> anyhow::Result<gatehouse::App> {
    Ok(api::app(BenchServer))
}

impl Tools for BenchServer {
    async fn echo(&self, _ctx: Context, args: EchoArgs) -> Result<ToolResult, ToolError> {
        Ok(ToolResult::text(args.text))
    }
}
