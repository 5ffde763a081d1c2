//! Hardening for the open internet (issue 12), tried the way an attacker
//! would: each limit or check is pushed on, and the test asserts the exact
//! refusal and that nothing was lost.

use std::process::{Command, Stdio};
use std::time::Duration;

use gatehouse_tests::TestDb;
use gatehouse_tests::server::Process;

const TESTKIT: &str = env!("CARGO_BIN_EXE_testkit-server");

/// T-3: a server without sign-in (`auth: none`) does not start on a public
/// address unless the operator says a proxy authenticates everyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_none_stays_on_loopback() {
    let db = TestDb::sqlite().await;
    let out = Command::new(TESTKIT)
        .env("DATABASE_URL", db.url())
        .env("GATEHOUSE_LISTEN", "0.0.0.0:0")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("the testkit server runs");
    assert!(!out.status.success(), "it must not serve");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has no sign-in (`auth: none`)")
            && err.contains("GATEHOUSE_ALLOW_UNAUTHENTICATED"),
        "{err}"
    );
    // Said explicitly, it serves (and loopback always does).
    let public = Process::spawn_with_env(
        TESTKIT,
        db.url(),
        "0.0.0.0:0",
        &[("GATEHOUSE_ALLOW_UNAUTHENTICATED", "1")],
    );
    assert!(public.url.contains(":"), "{}", public.url);
    drop(public);
    let local = Process::testkit(TESTKIT, db.url());
    let session = local.client().initialize("2025-11-25").await;
    assert_eq!(
        session.request("ping", serde_json::json!({})).await.status,
        reqwest::StatusCode::OK
    );
    let _ = Duration::ZERO;
}
