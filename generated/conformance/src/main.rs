//! `cargo run -p conformance-server`: serve the conformance server (configuration
//! from the environment, as for every gatehouse server; see the README).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    gatehouse::run(conformance_server::app).await
}
