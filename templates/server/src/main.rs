//! A gatehouse server: the spec says what it offers, this file does it.
//! `cargo run` serves it at http://127.0.0.1:8080/mcp with its state in
//! ./gatehouse.db; `cargo run -- --help` lists the operator commands.

use std::process::ExitCode;

use gatehouse::{Context, ToolError};

/// Generated from spec.yaml: `GreetArgs`, `GreetOutput` and the `Tools` trait.
mod api {
    gatehouse::spec!("spec.yaml");
}

use api::{GreetArgs, GreetOutput, Tools};

struct Server;

impl Tools for Server {
    async fn greet(&self, _ctx: Context, args: GreetArgs) -> Result<GreetOutput, ToolError> {
        Ok(GreetOutput {
            greeting: format!("Hello, {}!", args.name),
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    gatehouse::run(|_store| async { Ok(api::app(Server)) }).await
}
