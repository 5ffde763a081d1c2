//! `bench-server`: the benchmark server (configuration from the environment).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    gatehouse::run(bench_server::app).await
}
