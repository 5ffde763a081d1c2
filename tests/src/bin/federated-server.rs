//! The upstream sign-in tests' server as a binary, for the command-line tests.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    gatehouse::run(|_store| async { Ok(gatehouse_tests::federated::app()) }).await
}
