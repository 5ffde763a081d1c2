//! The test kit as a standalone server, for tests that run several processes
//! (replicas on one PostgreSQL, kill -9 and restart).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    gatehouse::run(|_store| async { Ok(gatehouse_tests::testkit::app()) }).await
}
