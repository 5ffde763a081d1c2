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

const GATED: &str = env!("CARGO_BIN_EXE_gated-server");

/// Run the gated server's command line with `env` on `db`.
fn gated(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(GATED)
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("GATEHOUSE_PUBLIC_URL", "https://gated.example.com")
        .env(
            "GATED_BACKEND_SECRET",
            gatehouse_tests::gated::BACKEND_SECRET,
        )
        .env("GATEHOUSE_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("the gated server runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

gatehouse_tests::backend_tests! {
    // Keys at rest: with GATEHOUSE_SECRET_KEY the signing keys are sealed (a
    // copy of the database alone signs nothing); keys stored before are sealed
    // at the next start; another secret refuses to start and says how to
    // rewrap; `keys rewrap` moves them; tokens keep working throughout.
    async fn signing_keys_sealed_at_rest(db) {
        let k1 = "first secret key, long enough for sure";
        let k2 = "second secret key, also long enough!!";
        let (ok, _, err) = gated(&db, &["users", "add", "ada@example.com", "--password", "correct horse battery"], &[]);
        assert!(ok, "{err}");
        let (ok, token, err) = gated(&db, &["tokens", "issue", "ada@example.com"], &[]);
        assert!(ok, "{err}");
        assert!(err.contains("GATEHOUSE_SECRET_KEY is not set"), "said loudly: {err}");
        let store = gatehouse::Store::connect(db.url()).await.unwrap();
        let plain = store.signing_keys().await.unwrap()[0].private_der.clone();
        assert!(!plain.starts_with("v1."), "no secret: stored as is");

        // With a secret: sealed at start, and the earlier token still verifies.
        let secret = ("GATED_BACKEND_SECRET", gatehouse_tests::gated::BACKEND_SECRET);
        let public = ("GATEHOUSE_PUBLIC_URL", "https://gated.example.com");
        let env = [("GATEHOUSE_SECRET_KEY", k1), public, secret];
        let server = Process::spawn_with_env(GATED, db.url(), "127.0.0.1:0", &env);
        let rows = store.signing_keys().await.unwrap();
        assert!(rows.iter().all(|k| k.private_der.starts_with("v1.") && !k.private_der.contains(&plain)), "sealed: {rows:?}");
        let session = gatehouse_tests::Client::new(&server.url).with_bearer(token.trim()).initialize("2025-11-25").await;
        assert_eq!(session.request("ping", serde_json::json!({})).await.status, reqwest::StatusCode::OK);
        server.kill();

        // Another secret without a rewrap: refused, with the way out.
        for command in [&["keys", "rotate"][..], &["tokens", "issue", "ada@example.com"]] {
            let (ok, _, err) = gated(&db, command, &[("GATEHOUSE_SECRET_KEY", k2)]);
            assert!(!ok && err.contains("cannot be opened") && err.contains("keys rewrap"), "{command:?}: {err}");
        }
        let (ok, out, err) = gated(&db, &["keys", "rewrap"], &[("GATEHOUSE_SECRET_KEY", k2), ("GATEHOUSE_PREVIOUS_SECRET_KEY", k1)]);
        assert!(ok, "{err}");
        assert!(out.contains("sealed 1 signing key(s)"), "{out}");
        let (ok, _, err) = gated(&db, &["keys", "rewrap"], &[]);
        assert!(!ok && err.contains("set GATEHOUSE_SECRET_KEY"), "{err}");

        let env = [("GATEHOUSE_SECRET_KEY", k2), public, secret];
        let server = Process::spawn_with_env(GATED, db.url(), "127.0.0.1:0", &env);
        let (ok, fresh, err) = gated(&db, &["tokens", "issue", "ada@example.com"], &env);
        assert!(ok, "{err}");
        for t in [token.trim(), fresh.trim()] {
            let s = gatehouse_tests::Client::new(&server.url).with_bearer(t).initialize("2025-11-25").await;
            assert_eq!(s.request("ping", serde_json::json!({})).await.status, reqwest::StatusCode::OK, "nothing lost");
        }
        store.close().await;
    }
}
