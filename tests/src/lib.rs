//! Shared helpers for the black-box tests: fresh databases on every backend, servers
//! on loopback port 0, and an MCP client that speaks raw HTTP so tests see exactly
//! what a real client would.

pub mod browser;
pub mod client;
pub mod db;
pub mod documents;
pub mod federated;
pub mod gated;
pub mod idp;
pub mod modern;
pub mod oauth;
pub mod outage;
pub mod server;
pub mod sse;
pub mod testkit;

pub use client::{Client, Session};
pub use db::TestDb;
pub use server::TestServer;
pub use sse::{SseEvent, SseStream};

/// One test body run against every store backend: SQLite always, PostgreSQL
/// when `TEST_DATABASE_URL` is set (CI sets it, and `GATEHOUSE_REQUIRE_POSTGRES=1`
/// turns its absence into a failure rather than a skip).
///
/// ```ignore
/// backend_tests! {
///     async fn creates_sessions(db) { /* db: TestDb */ }
/// }
/// ```
/// expands to a module per test with `sqlite` and `postgres` test functions.
#[macro_export]
macro_rules! backend_tests {
    ($( $(#[$meta:meta])* async fn $name:ident($db:ident) $body:block )*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let $db = $crate::TestDb::sqlite().await;
                    $body
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some($db) = $crate::TestDb::postgres().await else {
                        eprintln!("TEST_DATABASE_URL is not set: PostgreSQL variant skipped");
                        return;
                    };
                    $body
                }
            }
        )*
    };
}
