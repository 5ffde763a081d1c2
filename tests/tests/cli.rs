//! The command line of a generated server (`users`, `clients`, `grants`, `keys`,
//! `tokens`), and the start-up hint when nobody can sign in yet.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use gatehouse_tests::server::Process;
use gatehouse_tests::{Client, TestDb};
use reqwest::StatusCode;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_gated-server");
/// The server's public URL, the same for the commands and the server: tokens name it.
const PUBLIC_URL: &str = "https://gated.example.com";
const ENV: [(&str, &str); 2] = [
    (
        "GATED_BACKEND_SECRET",
        gatehouse_tests::gated::BACKEND_SECRET,
    ),
    ("GATEHOUSE_PUBLIC_URL", PUBLIC_URL),
];

fn cli(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", db.url())
        .envs(ENV)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server binary runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands() {
    let db = TestDb::sqlite().await;
    // Sign-up is off and nobody has an account: start-up says how to make one.
    let first = Process::spawn_with_env(BIN, db.url(), "127.0.0.1:0", &ENV);
    assert!(
        first
            .stdout_lines()
            .iter()
            .any(|l| l.contains("no accounts yet") && l.contains("gated-server users add")),
        "{:?}",
        first.stdout_lines()
    );
    first.kill();

    let added = cli(
        &db,
        &[
            "users",
            "add",
            "Ada@Example.com",
            "--password",
            "correct horse battery",
        ],
        None,
    );
    assert!(added.status.success(), "{added:?}");
    assert!(stdout(&added).starts_with("created ada@example.com"));
    let piped = cli(
        &db,
        &["users", "add", "bob@example.com"],
        Some("another good password\n"),
    );
    assert!(
        piped.status.success(),
        "the password can come from standard input: {piped:?}"
    );
    let dup = cli(
        &db,
        &[
            "users",
            "add",
            "ada@example.com",
            "--password",
            "whatever123",
        ],
        None,
    );
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    let weak = cli(
        &db,
        &["users", "add", "eve@example.com", "--password", "short"],
        None,
    );
    assert!(String::from_utf8_lossy(&weak.stderr).contains("between 8 and 1024"));
    let listed = stdout(&cli(&db, &["users", "list"], None));
    assert!(
        listed.contains("ada@example.com\tactive") && listed.contains("bob@example.com\tactive"),
        "{listed}"
    );
    let clients = stdout(&cli(&db, &["clients", "list"], None));
    assert!(
        clients.contains("trusted-app")
            && clients.contains("backend\tBackend Service\tpre-registered\tconfidential"),
        "{clients}"
    );

    let token = stdout(&cli(
        &db,
        &[
            "tokens",
            "issue",
            "ada@example.com",
            "--scope",
            "notes:read",
        ],
        None,
    ));
    let token = token.trim();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let server = Process::spawn_with_env(BIN, db.url(), "127.0.0.1:0", &ENV);
    assert!(
        !server
            .stdout_lines()
            .iter()
            .any(|l| l.contains("no accounts yet")),
        "accounts exist now"
    );
    let client = Client::new(&server.url).with_bearer(token);
    let session = client.initialize("2025-11-25").await;
    let me = session.call_tool("whoami", json!({})).await;
    assert!(
        me["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("gatehouse-cli")
    );

    let rotated = stdout(&cli(&db, &["keys", "rotate"], None));
    assert!(rotated.starts_with("new signing key "), "{rotated}");
    assert_eq!(
        session.request("ping", json!({})).await.status,
        StatusCode::OK,
        "old keys stay valid"
    );

    let revoked = cli(&db, &["clients", "revoke", "gatehouse-cli"], None);
    assert!(revoked.status.success(), "{revoked:?}");
    // The server remembers verified tokens but re-reads their status at least
    // every half second: a revocation from another process takes effect within
    // one second.
    let (refused, took) = session
        .until_refused("ping", json!({}), std::time::Duration::from_secs(2))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "a revoked client's tokens stop"
    );
    assert!(took < std::time::Duration::from_secs(1));
    let missing = cli(&db, &["clients", "revoke", "nobody"], None);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no client nobody"));

    let disabled = cli(&db, &["users", "disable", "bob@example.com"], None);
    assert!(disabled.status.success());
    assert!(stdout(&cli(&db, &["users", "list"], None)).contains("bob@example.com\tdisabled"));
    let grants = cli(
        &db,
        &["grants", "revoke", "--user", "ada@example.com"],
        None,
    );
    assert!(
        stdout(&grants).contains("revoked 0 grant(s) of ada@example.com"),
        "{grants:?}"
    );
    let unknown = cli(&db, &["users", "disable", "nobody@example.com"], None);
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("no account has the email nobody@example.com")
    );
}
