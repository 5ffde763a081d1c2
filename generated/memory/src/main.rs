//! `cargo run`: serve the memory server (configuration from the environment; see
//! the README).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    gatehouse::run(memory_server::app).await
}
