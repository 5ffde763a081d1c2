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

/// The log at the default level (`info`, as servers ship): a failed call's
/// line says which HTTP request it was (the `X-Request-Id` the caller sent, on
/// the request span), which JSON-RPC method and which session, although the
/// per-call `rpc` span is only opened at `debug` (issue 13: it cost about 5%
/// of a call).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_calls_are_logged_with_request_method_and_session() {
    let db = TestDb::sqlite().await;
    let server = Process::spawn_logging(TESTKIT, db.url(), &[("RUST_LOG", "info,sqlx=warn")]);
    let session = server.client().initialize("2025-11-25").await;
    let call = |request_id: &'static str, tool: &'static str| {
        session
            .post()
            .header("x-request-id", request_id)
            .json(&serde_json::json!({
                "jsonrpc": "2.0", "id": 7, "method": "tools/call",
                "params": { "name": tool, "arguments": {} }
            }))
            .send()
    };
    let reply =
        gatehouse_tests::client::read_reply(call("call-that-panics", "explode").await.unwrap())
            .await;
    assert_eq!(reply.body()["error"]["code"], -32603, "{:?}", reply.body());
    let line = server
        .log_line("a handler panicked")
        .expect("the panic is logged");
    for part in [
        "id=call-that-panics",
        "rpc=\"tools/call\"",
        &format!("session=\"{}\"", session.id),
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }
    assert!(!line.contains("rpc{"), "no rpc span at info: {line}");
    // A tool's internal error: the line names the tool, under its request.
    let result =
        gatehouse_tests::client::read_reply(call("call-that-crashes", "crash").await.unwrap())
            .await;
    assert_eq!(
        result.body()["result"]["isError"],
        true,
        "{:?}",
        result.body()
    );
    let line = server
        .log_line("tool failed")
        .expect("the failure is logged");
    assert!(
        line.contains("id=call-that-crashes") && line.contains("tool=crash"),
        "{line}"
    );
    // The same in the 2026-07-28 era, where the request span is made only
    // when a line is logged (`logging::request_span`): the line has it.
    let modern = gatehouse_tests::modern::post(
        &server.url,
        None,
        8,
        "tools/call",
        gatehouse_tests::modern::with_meta(
            serde_json::json!({ "name": "crash", "arguments": {} }),
            serde_json::json!({}),
        ),
        &[("x-request-id", Some("modern-call-that-crashes"))],
    )
    .await;
    assert_eq!(modern.body["result"]["isError"], true, "{:?}", modern.body);
    let line = server
        .log_line("tool failed")
        .expect("the failure is logged");
    assert!(
        line.contains("request{id=modern-call-that-crashes method=POST path=/mcp}:")
            && line.contains("tool=crash"),
        "{line}"
    );
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

use gatehouse::Settings;
use gatehouse::settings::AbuseLimits;
use gatehouse::settings::OAuthSettings;
use gatehouse_tests::oauth::{Flow, PASSWORD, Page, Pkce};
use gatehouse_tests::{TestServer, gated};
use reqwest::StatusCode;
use serde_json::json;

fn limits(change: impl FnOnce(&mut AbuseLimits)) -> Settings {
    let mut l = AbuseLimits::default();
    change(&mut l);
    Settings {
        oauth: OAuthSettings {
            limits: l,
            ..OAuthSettings::default()
        },
        ..Settings::default()
    }
}

/// A gated server with Ada's and Bob's accounts.
async fn gated_with(db: &TestDb, settings: Settings) -> TestServer {
    let server = TestServer::start_with(db, gated::app(), settings).await;
    for who in ["ada@example.com", "bob@example.com"] {
        gatehouse::testing::accounts::create_local_user(&server.store, who, PASSWORD)
            .await
            .unwrap();
    }
    server
}

/// A fresh authorization request's sign-in page (request id and CSRF token).
async fn sign_in_page(flow: &Flow, forwarded_for: Option<&str>) -> Page {
    let client = flow.register_public("http://127.0.0.1:4000/cb").await;
    let mut req = flow
        .http
        .get(flow.authorize_url(&client, &Pkce::new(), "s", None));
    if let Some(f) = forwarded_for {
        req = req.header("x-forwarded-for", f);
    }
    let start = req.send().await.unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    flow.remember(start.headers());
    let to = start.headers()["location"].to_str().unwrap().to_string();
    flow.get(&to, None).await
}

/// Post the sign-in form of `page`.
async fn attempt(
    flow: &Flow,
    page: &Page,
    email: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> Page {
    let form = [
        ("request", page.field("request").unwrap()),
        ("csrf", page.field("csrf").unwrap()),
        ("action", "sign_in".into()),
        ("email", email.into()),
        ("password", password.into()),
    ];
    let mut req = flow.http.post(flow.url("/oauth/sign-in")).form(&form);
    if let Some(c) = flow.cookies(None) {
        req = req.header("cookie", c);
    }
    if let Some(f) = forwarded_for {
        req = req.header("x-forwarded-for", f);
    }
    let r = req.send().await.unwrap();
    Page {
        status: r.status(),
        headers: r.headers().clone(),
        html: r.text().await.unwrap(),
    }
}

gatehouse_tests::backend_tests! {
    // Sign-in attempts are limited per client address: the right password
    // after a flood of wrong ones is refused too (429 + Retry-After) until the
    // wait is over; another address is not affected.
    async fn sign_in_is_limited_per_address(db) {
        let server = gated_with(&db, limits(|l| { l.sign_ins_per_minute = 4; l.failures_per_request = 100; l.free_failures = 100; })).await;
        let flow = server.oauth();
        let page = sign_in_page(&flow, None).await;
        for _ in 0..4 {
            assert_eq!(attempt(&flow, &page, "ada@example.com", "wrong password!", None).await.status, StatusCode::UNAUTHORIZED);
        }
        let limited = attempt(&flow, &page, "ada@example.com", PASSWORD, None).await;
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{}", limited.html);
        let wait: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(limited.html.contains("Too many attempts from your network") && limited.cookie().is_none());
        // (Forwarding headers from an untrusted peer change nothing.)
        let spoofed = attempt(&flow, &page, "ada@example.com", PASSWORD, Some("203.0.113.9")).await;
        assert_eq!(spoofed.status, StatusCode::TOO_MANY_REQUESTS, "X-Forwarded-For is not believed from anyone");
    }

    // An account backs off after a few failures (the email as given: unknown
    // accounts behave the same, so nothing is revealed); others are unaffected.
    async fn accounts_back_off(db) {
        let server = gated_with(&db, limits(|l| { l.free_failures = 2; l.sign_ins_per_minute = 1000; l.failures_per_request = 100; })).await;
        let flow = server.oauth();
        let page = sign_in_page(&flow, None).await;
        let mut answers = Vec::new();
        for email in ["ada@example.com", "nobody@example.com"] {
            let mut seen = Vec::new();
            for _ in 0..3 {
                seen.push(attempt(&flow, &page, email, "wrong password!", None).await.status);
            }
            let locked = attempt(&flow, &page, email, PASSWORD, None).await;
            seen.push(locked.status);
            assert!(locked.headers.get("retry-after").is_some());
            assert!(locked.html.contains("Too many failed attempts for this account"), "{}", locked.html);
            answers.push(seen);
        }
        assert_eq!(answers[0], [StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS]);
        assert_eq!(answers[0], answers[1], "a known and an unknown account answer alike");
        let bob = attempt(&flow, &page, "bob@example.com", PASSWORD, None).await;
        assert_eq!(bob.status, StatusCode::SEE_OTHER, "another account signs in: {}", bob.html);
        // After the lock, the right password works and clears the count.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let ada = attempt(&flow, &page, "ada@example.com", PASSWORD, None).await;
        assert_eq!(ada.status, StatusCode::SEE_OTHER, "{}", ada.html);
    }

    // A pending authorization is given up after a few wrong passwords.
    async fn pending_requests_die_after_failures(db) {
        let server = gated_with(&db, limits(|l| { l.failures_per_request = 3; l.free_failures = 100; })).await;
        let flow = server.oauth();
        let page = sign_in_page(&flow, None).await;
        for _ in 0..2 {
            assert_eq!(attempt(&flow, &page, "ada@example.com", "wrong password!", None).await.status, StatusCode::UNAUTHORIZED);
        }
        let burnt = attempt(&flow, &page, "ada@example.com", "wrong password!", None).await;
        assert_eq!(burnt.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(burnt.html.contains("given up"), "{}", burnt.html);
        let after = attempt(&flow, &page, "ada@example.com", PASSWORD, None).await;
        assert_eq!(after.status, StatusCode::BAD_REQUEST, "the request is gone, even with the right password");
        assert!(after.html.contains("expired"), "{}", after.html);
    }

    // Password hashing runs in a few slots off the async workers: when they are
    // all busy, 503 with Retry-After, and /mcp keeps answering meanwhile.
    async fn hashing_is_bounded(db) {
        let server = gated_with(&db, limits(|l| {
            l.hashing_concurrency = 1; l.hashing_wait = Duration::from_millis(1);
            l.sign_ins_per_minute = 1000; l.failures_per_request = 1000; l.free_failures = 1000;
        })).await;
        let flow = server.oauth();
        let page = sign_in_page(&flow, None).await;
        let attempts: Vec<_> = (0..12).map(|i| {
            let (flow, page) = (flow.clone(), &page);
            async move { attempt(&flow, page, &format!("user{i}@example.com"), "wrong password!", None).await }
        }).collect();
        let mcp = async {
            let reply = server.client().post().json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "ping" })).send().await.unwrap();
            reply.status()
        };
        let (pages, mcp_status) = tokio::join!(futures_util::future::join_all(attempts), mcp);
        assert_eq!(mcp_status, StatusCode::UNAUTHORIZED, "/mcp answers (401 without a token) during the flood");
        let busy: Vec<&Page> = pages.iter().filter(|p| p.status == StatusCode::SERVICE_UNAVAILABLE).collect();
        assert!(!busy.is_empty(), "with one slot and no waiting, some of 12 concurrent checks are turned away");
        for b in &busy {
            assert_eq!(b.headers["retry-after"], "2");
            assert!(b.html.contains("busy"));
        }
        assert!(pages.iter().all(|p| p.status == StatusCode::UNAUTHORIZED || p.status == StatusCode::SERVICE_UNAVAILABLE));
    }

    // Behind a trusted proxy, limits apply per forwarded client address.
    async fn limits_follow_trusted_proxies(db) {
        let store = gatehouse::Store::connect(db.url()).await.unwrap();
        gatehouse::testing::accounts::create_local_user(&store, "ada@example.com", PASSWORD).await.unwrap();
        let mut config = gatehouse::Config::for_listen("127.0.0.1:0".parse().unwrap(), "unused");
        config.settings = limits(|l| { l.sign_ins_per_minute = 2; l.free_failures = 100; l.failures_per_request = 100; });
        config.env.set("GATED_BACKEND_SECRET", gated::BACKEND_SECRET);
        config.trusted_proxies = gatehouse::settings::TrustedProxies::parse("127.0.0.1/32").unwrap();
        let server = TestServer::start_config(store, gated::app(), config, |_| {}).await;
        let flow = server.oauth();
        let page = sign_in_page(&flow, Some("203.0.113.1")).await;
        for _ in 0..2 {
            assert_eq!(attempt(&flow, &page, "ada@example.com", "wrong password!", Some("203.0.113.1")).await.status, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(attempt(&flow, &page, "ada@example.com", PASSWORD, Some("203.0.113.1")).await.status, StatusCode::TOO_MANY_REQUESTS);
        // Another client behind the same proxy is someone else; a client that
        // prepends an address of its own is still itself (the right-most one counts).
        assert_eq!(attempt(&flow, &page, "ada@example.com", PASSWORD, Some("203.0.113.2")).await.status, StatusCode::SEE_OTHER);
        assert_eq!(attempt(&flow, &page, "ada@example.com", PASSWORD, Some("198.51.100.7, 203.0.113.1")).await.status, StatusCode::TOO_MANY_REQUESTS);
    }

    // Registration (anyone may call it): limited per address, metadata bounded
    // and named when refused, the body capped; nothing is stored for a refusal.
    async fn registration_is_bounded(db) {
        let server = gated_with(&db, limits(|l| l.registrations_per_hour = 100)).await;
        let flow = server.oauth();
        let base = json!({ "client_name": "x", "redirect_uris": ["http://127.0.0.1:4000/cb"], "token_endpoint_auth_method": "none" });
        let with = |k: &str, v: serde_json::Value| { let mut m = base.clone(); m[k] = v; m };
        let many: Vec<String> = (0..11).map(|i| format!("http://127.0.0.1:4000/cb{i}")).collect();
        let mut errors = serde_json::Map::new();
        for (case, meta) in [
            ("too many redirect URIs", with("redirect_uris", json!(many))),
            ("a line break in the name", with("client_name", json!("Claude\nINFO forged log line"))),
            ("a bidi override in the name", with("client_name", json!("Cl\u{202E}edua"))),
            ("a long scope", with("scope", json!("a ".repeat(600)))),
        ] {
            let (status, body) = flow.register(meta).await;
            assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")), "{case}: {body}");
            errors.insert(case.into(), body["error_description"].clone());
        }
        insta::assert_json_snapshot!("registration_bounds", errors);
        let huge = flow.http.post(flow.url("/oauth/register")).header("content-type", "application/json")
            .body(format!(r#"{{"client_name":"{}","redirect_uris":["http://127.0.0.1:1/cb"]}}"#, "x".repeat(20_000))).send().await.unwrap();
        assert_eq!(huge.status(), StatusCode::BAD_REQUEST, "a 20 KB registration");
        let registered = |server: &TestServer| {
            let store = server.store.clone();
            async move { store.clients().await.unwrap().into_iter().filter(|c| c.registered == 1).count() }
        };
        assert_eq!(registered(&server).await, 0, "nothing is stored for a refusal");

        // Three registrations an hour from one address: the fourth is refused
        // (429 + Retry-After, OAuth's temporarily_unavailable) and not stored.
        let server = TestServer::start_with(&db, gated::app(), limits(|l| l.registrations_per_hour = 3)).await;
        let flow = server.oauth();
        let before = registered(&server).await;
        for i in 0..3 {
            let (status, body) = flow.register(with("client_name", json!(format!("app {i}")))).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let r = flow.http.post(flow.url("/oauth/register")).json(&base).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(r.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() > 0);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
        assert_eq!(registered(&server).await - before, 3, "only what was accepted is stored");
    }

    // The authorization endpoint: parameters bounded (a clear page), requests
    // per address limited, live pending requests per address capped.
    async fn authorization_requests_are_bounded(db) {
        let server = gated_with(&db, limits(|l| { l.pending_per_address = 3; l.authorizations_per_minute = 1000; })).await;
        let flow = server.oauth();
        let client = flow.register_public("http://127.0.0.1:4000/cb").await;
        let long_state = flow.authorize_url(&client, &Pkce::new(), &"s".repeat(1025), None);
        let r = flow.get(&long_state, None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.html.contains("`state` is longer than 1024 characters"), "{}", r.html);
        for _ in 0..3 {
            assert_eq!(flow.get(&flow.authorize_url(&client, &Pkce::new(), "s", None), None).await.status, StatusCode::SEE_OTHER);
        }
        let capped = flow.get(&flow.authorize_url(&client, &Pkce::new(), "s", None), None).await;
        assert_eq!(capped.status, StatusCode::TOO_MANY_REQUESTS, "{}", capped.html);
        assert!(capped.headers.get("retry-after").is_some());
        assert!(capped.html.contains("too many unfinished sign-ins"), "{}", capped.html);

        let server = TestServer::start_with(&db, gated::app(), limits(|l| l.authorizations_per_minute = 2)).await;
        let flow = server.oauth();
        let client = flow.register_public("http://127.0.0.1:4000/cb").await;
        let statuses: Vec<StatusCode> = futures_util::future::join_all((0..3).map(|_| {
            let flow = flow.clone();
            let url = flow.authorize_url(&client, &Pkce::new(), "s", None);
            async move { flow.get(&url, None).await.status }
        })).await;
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(), 1, "{statuses:?}");
    }
}

gatehouse_tests::backend_tests! {
    // Login CSRF (issue 12): an attacker starts an authorization, signs in as
    // themselves in the victim's browser by posting the form there. Refused
    // three ways: the request belongs to the attacker's browser; a post from
    // another site (Origin, or Sec-Fetch-Site without one) is refused before
    // the form is read. Nothing is lost: the request still works where it began.
    async fn login_csrf_is_refused(db) {
        let server = gated_with(&db, Settings::default()).await;
        let attacker = server.oauth();
        let page = sign_in_page(&attacker, None).await;
        let form = |email: &'static str| vec![
            ("request", page.field("request").unwrap()), ("csrf", page.field("csrf").unwrap()),
            ("action", "sign_in".to_string()), ("email", email.to_string()), ("password", PASSWORD.to_string()),
        ];
        let victim = attacker.other_browser();
        let post = |flow: &Flow, headers: &[(&str, &str)], form: Vec<(&str, String)>| {
            let mut req = flow.http.post(flow.url("/oauth/sign-in")).form(&form);
            if let Some(c) = flow.cookies(None) { req = req.header("cookie", c); }
            for (k, v) in headers { req = req.header(*k, *v); }
            async move { let r = req.send().await.unwrap(); (r.status(), r.headers().get("set-cookie").is_some(), r.text().await.unwrap()) }
        };
        // The victim's browser (its own pre-authentication cookie, or none).
        let (status, cookie, html) = post(&victim, &[], form("bob@example.com")).await;
        assert_eq!((status, cookie), (StatusCode::FORBIDDEN, false), "{html}");
        assert!(html.contains("started in another browser"), "{html}");
        let continued = victim.get(&format!("/oauth/continue?request={}", page.field("request").unwrap()), None).await;
        assert_eq!(continued.status, StatusCode::FORBIDDEN, "the pages are not shown to another browser either");
        // A post from another site, even with the right cookie (an unknown
        // Origin is already refused by the origin rules, T-2).
        for headers in [&[("origin", "https://evil.example")][..], &[("origin", "null")], &[("sec-fetch-site", "cross-site")]] {
            let (status, cookie, html) = post(&attacker, headers, form("bob@example.com")).await;
            assert_eq!((status, cookie), (StatusCode::FORBIDDEN, false), "{headers:?}: {html}");
        }
        let (_, _, html) = post(&attacker, &[("sec-fetch-site", "cross-site")], form("bob@example.com")).await;
        assert!(html.contains("came from another site"), "{html}");
        // The browser that started it, from the server's own page: signed in.
        let own = attacker.base.clone();
        let (status, cookie, _) = post(&attacker, &[("origin", own.as_str()), ("sec-fetch-site", "same-origin")], form("bob@example.com")).await;
        assert_eq!((status, cookie), (StatusCode::SEE_OTHER, true), "nothing was lost");

        // An origin the spec allows for MCP (a browser-based client such as
        // vscode.dev, from the memory server's client profiles) may call /mcp,
        // but may not post the sign-in form.
        let memory = TestServer::memory(&db).await;
        let flow = memory.oauth();
        let page = sign_in_page(&flow, None).await;
        let form = [("request", page.field("request").unwrap()), ("csrf", page.field("csrf").unwrap()),
            ("action", "sign_up".to_string()), ("email", "eve@example.com".to_string()), ("password", PASSWORD.to_string())];
        let r = flow.http.post(flow.url("/oauth/sign-in")).form(&form).header("cookie", flow.cookies(None).unwrap())
            .header("origin", "https://vscode.dev").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.text().await.unwrap().contains("came from another site"));
        let preflight = memory.client().http.request(reqwest::Method::OPTIONS, memory.url()).header("origin", "https://vscode.dev")
            .header("access-control-request-method", "POST").send().await.unwrap();
        assert!(preflight.status().is_success(), "vscode.dev is still allowed on /mcp");
    }

    // Sign-out: the consent page's "Not you?" ends the browser session (in the
    // store, not only the cookie) and goes back to the sign-in page of the same
    // request; from another site it is refused and the session lives on.
    async fn sign_out_ends_the_browser_session(db) {
        let server = gated_with(&db, Settings::default()).await;
        let flow = server.oauth();
        let page = sign_in_page(&flow, None).await;
        let signed = attempt(&flow, &page, "ada@example.com", PASSWORD, None).await;
        assert_eq!(signed.status, StatusCode::SEE_OTHER);
        let session = signed.cookie().unwrap();
        let consent = flow.get(&signed.location().unwrap(), Some(&session)).await;
        assert_eq!(consent.status, StatusCode::OK);
        assert!(consent.html.contains("action=\"/oauth/sign-out\"") && consent.html.contains("Not you?"), "{}", consent.html);
        let request = consent.field("request").unwrap();
        let form = [("request", request.as_str()), ("csrf", &consent.field("csrf").unwrap())];

        let foreign = flow.http.post(flow.url("/oauth/sign-out")).form(&form)
            .header("cookie", flow.cookies(Some(&session)).unwrap()).header("origin", "https://evil.example").send().await.unwrap();
        assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
        assert_eq!(flow.get(&format!("/oauth/continue?request={request}"), Some(&session)).await.status, StatusCode::OK);
        let wrong_csrf = flow.post_form("/oauth/sign-out", &[("request", &request), ("csrf", "guess")], Some(&session)).await;
        assert_eq!(wrong_csrf.status, StatusCode::FORBIDDEN);

        let out = flow.post_form("/oauth/sign-out", &form, Some(&session)).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.html);
        assert_eq!(out.location().unwrap(), format!("/oauth/continue?request={request}"));
        let cleared = out.headers["set-cookie"].to_str().unwrap();
        assert!(cleared.starts_with("gatehouse_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
        // The old cookie, replayed, is signed out: the sign-in page again.
        let again = flow.get(&out.location().unwrap(), Some(&session)).await;
        assert_eq!(again.status, StatusCode::OK);
        assert!(again.html.contains("name=\"password\"") && !again.html.contains("Signed in as"), "{}", again.html);
        // Someone else signs in on the same request: nothing was lost.
        let bob = attempt(&flow, &again, "bob@example.com", PASSWORD, None).await;
        assert_eq!(bob.status, StatusCode::SEE_OTHER);
        let consent = flow.get(&bob.location().unwrap(), Some(&bob.cookie().unwrap())).await;
        assert!(consent.html.contains("Signed in as bob@example.com"), "{}", consent.html);
    }
}

/// Where a `postgres://` URL points.
async fn socket_of(url: &str) -> std::net::SocketAddr {
    let u = url::Url::parse(url).unwrap();
    let host = format!("{}:{}", u.host_str().unwrap(), u.port().unwrap_or(5432));
    tokio::net::lookup_host(host).await.unwrap().next().unwrap()
}

/// What one request during an outage got, and how long it took.
struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    body: String,
    took: Duration,
}

async fn timed(req: reqwest::RequestBuilder) -> Answer {
    let started = std::time::Instant::now();
    let r = req
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("an answer, not a hang");
    Answer {
        status: r.status(),
        retry_after: r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string()),
        took: started.elapsed(),
        body: r.text().await.unwrap(),
    }
}

gatehouse_tests::backend_tests! {
    // The database goes away under a live session: PostgreSQL stopped (every
    // connection cut, new ones refused) and stalled (connections open, nothing
    // answered), through a proxy so that other tests keep their server; SQLite
    // locked by another writer. Every request answers within seconds (the store
    // deadline here is 2 s) with 503, Retry-After and a body of its kind (OAuth
    // JSON, a JSON-RPC error on /mcp, a page); /healthz says so. When the
    // database is back the server recovers by itself, and nothing was lost:
    // the session, its data, and the refresh token that was refused meanwhile.
    async fn store_outages_answer_fast_and_recover(db) {
        use gatehouse_tests::outage::DbProxy;
        let proxy = if db.is_postgres() { Some(DbProxy::start(socket_of(db.url()).await).await) } else { None };
        let url = proxy.as_ref().map(|p| p.url(db.url())).unwrap_or_else(|| db.url().to_string());
        let store = gatehouse::Store::connect_with_deadline(&url, Duration::from_secs(2)).await.unwrap();
        let app = memory_server::app(store.clone()).await.unwrap();
        let server = TestServer::start_on(store, app, Settings::default()).await;
        let flow = server.oauth();
        let (client, tokens) = flow.sign_up("ada@example.com", None).await;
        let access = tokens["access_token"].as_str().unwrap().to_string();
        let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
        let mcp = server.client().with_bearer(&access);
        let session = mcp.initialize("2025-11-25").await;
        let added = session.call_tool("add_memory", json!({ "text": "written before the outage" })).await;
        assert_ne!(added["isError"], true, "{added}");

        let outages: Vec<&str> = if db.is_postgres() { vec!["stopped", "stalled"] } else { vec!["locked"] };
        for outage in outages {
            let mut lock = None;
            match outage {
                "stopped" => proxy.as_ref().unwrap().down(),
                "stalled" => proxy.as_ref().unwrap().hang(),
                _ => {
                    use sqlx::Connection;
                    let mut c = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
                    sqlx::query("BEGIN IMMEDIATE").execute(&mut c).await.unwrap();
                    lock = Some(c);
                }
            }
            // Past the verified-token cache's re-read interval (0.5 s).
            tokio::time::sleep(Duration::from_millis(600)).await;

            let token = timed(flow.http.post(flow.url("/oauth/token")).form(&[
                ("grant_type", "refresh_token"), ("refresh_token", refresh.as_str()), ("client_id", client.client_id.as_str()),
            ])).await;
            let init = timed(mcp.post().json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": { "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } } }))).await;
            let authorize = timed(flow.http.get(flow.authorize_url(&client, &Pkce::new(), "s", None))).await;
            let health = timed(flow.http.get(flow.url("/healthz"))).await;
            for (what, a) in [("token", &token), ("initialize", &init), ("authorize", &authorize), ("healthz", &health)] {
                assert!(a.took < Duration::from_secs(10), "{outage}: {what} took {:?}", a.took);
                if what == "healthz" && outage == "locked" {
                    // SQLite readers are not blocked by a writer: health is fine.
                    continue;
                }
                assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{outage}: {what}: {}", a.body);
                assert_eq!(a.retry_after.as_deref(), Some("5"), "{outage}: {what}");
            }
            let body: serde_json::Value = serde_json::from_str(&token.body).unwrap();
            assert_eq!(body["error"], "temporarily_unavailable", "{outage}");
            let body: serde_json::Value = serde_json::from_str(&init.body).unwrap();
            assert_eq!((body["jsonrpc"].as_str(), body["error"]["code"].as_i64()), (Some("2.0"), Some(-32603)), "{outage}: {body}");
            assert!(authorize.body.contains("Temporarily unavailable"), "{outage}: {}", authorize.body);

            // Back: the server recovers without a restart.
            match outage {
                "stopped" | "stalled" => proxy.as_ref().unwrap().up(),
                _ => {
                    let mut c = lock.take().unwrap();
                    sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
                }
            }
            let mut healthy = false;
            for _ in 0..60 {
                if timed(flow.http.get(flow.url("/healthz"))).await.status == StatusCode::OK {
                    healthy = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            assert!(healthy, "{outage}: /healthz back to 200");
        }

        // Nothing lost: the live session and what it wrote, the refresh token
        // that was refused during the outage, a new session with the new token.
        let mut found = json!(null);
        for _ in 0..20 {
            found = session.call_tool("search_memories", json!({ "query": "outage" })).await;
            if found["isError"] != true { break; }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert!(found.to_string().contains("written before the outage"), "{found}");
        let (status, fresh) = flow.refresh(&client, &refresh).await;
        assert_eq!(status, StatusCode::OK, "the refresh token survived: {fresh}");
        let again = server.client().with_bearer(fresh["access_token"].as_str().unwrap()).initialize("2025-11-25").await;
        let added = again.call_tool("add_memory", json!({ "text": "written after" })).await;
        assert_ne!(added["isError"], true, "{added}");
    }
}

gatehouse_tests::backend_tests! {
    // A statement that runs too long ends at the store's deadline, on the
    // database's side too (PostgreSQL's statement_timeout, SQLite's busy
    // timeout behind another writer's lock), as a clear error rather than a
    // request that never answers.
    async fn slow_statements_end_at_the_deadline(db) {
        let store = gatehouse::Store::connect_with_deadline(db.url(), Duration::from_secs(1)).await.unwrap();
        if let Some(pool) = store.postgres() {
            let e = sqlx::query("SELECT pg_sleep(10)").execute(pool).await.unwrap_err();
            assert!(e.to_string().contains("statement timeout"), "{e}");
        } else {
            use sqlx::Connection;
            let mut other = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            sqlx::query("BEGIN IMMEDIATE").execute(&mut other).await.unwrap();
            let e = gatehouse::testing::accounts::create_local_user(&store, "ada@example.com", PASSWORD).await.unwrap_err();
            assert!(e.to_string().contains("locked") || e.to_string().contains("did not answer"), "{e}");
            sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
        }
        // Afterwards the same store works.
        gatehouse::testing::accounts::create_local_user(&store, "bob@example.com", PASSWORD).await.unwrap();
        store.close().await;
    }
}

/// A raw connection to `server`.
async fn raw(server: &TestServer) -> tokio::net::TcpStream {
    tokio::net::TcpStream::connect(server.running.local_addr())
        .await
        .unwrap()
}

/// Read until the peer closes (or `within` passes): what it sent, and whether it closed.
async fn read_until_closed(conn: &mut tokio::net::TcpStream, within: Duration) -> (String, bool) {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

fn connection_limits(change: impl FnOnce(&mut gatehouse::settings::ConnectionLimits)) -> Settings {
    let mut settings = Settings::default();
    change(&mut settings.connections);
    settings
}

gatehouse_tests::backend_tests! {
    // Open connections are capped: past the cap a new connection is closed at
    // once, the open ones keep working, and a freed slot is usable again.
    async fn connections_are_capped(db) {
        use tokio::io::AsyncWriteExt;
        let server = TestServer::start_with(&db, gated::app(), connection_limits(|c| c.max_connections = 3)).await;
        let mut open = Vec::new();
        for _ in 0..3 {
            open.push(raw(&server).await);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut refused = raw(&server).await;
        let _ = refused.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
        let (got, closed) = read_until_closed(&mut refused, Duration::from_secs(5)).await;
        assert!(closed && got.is_empty(), "the fourth connection is closed unanswered: {got:?}");
        // An admitted connection still works.
        open[0].write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").await.unwrap();
        let (got, _) = read_until_closed(&mut open[0], Duration::from_secs(5)).await;
        assert!(got.starts_with("HTTP/1.1 200"), "{got}");
        // That one is closed now: a slot is free again.
        let mut served = false;
        for _ in 0..40 {
            let mut c = raw(&server).await;
            let _ = c.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").await;
            let (got, _) = read_until_closed(&mut c, Duration::from_secs(2)).await;
            if got.starts_with("HTTP/1.1 200") { served = true; break; }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(served, "a freed slot admits a new connection");
    }

    // A client that sends its head or its body a byte at a time, or keeps a
    // connection open doing nothing, is cut off; a normal client on another
    // connection is served meanwhile.
    async fn slow_clients_are_cut_off(db) {
        use tokio::io::AsyncWriteExt;
        let server = TestServer::start_with(&db, gated::app(), connection_limits(|c| {
            c.header_timeout = Duration::from_secs(1);
            c.body_timeout = Duration::from_secs(1);
            c.idle_timeout = Duration::from_secs(2);
        })).await;
        // The head, never finished.
        let mut head = raw(&server).await;
        head.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();
        let (_, closed) = read_until_closed(&mut head, Duration::from_secs(8)).await;
        assert!(closed, "an unfinished request head is cut off");
        // The body, announced and never sent.
        let mut body = raw(&server).await;
        body.write_all(b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type=").await.unwrap();
        let (got, closed) = read_until_closed(&mut body, Duration::from_secs(8)).await;
        assert!(closed || got.starts_with("HTTP/1.1 4"), "a stalled body is cut off: {got:?}");
        assert!(!got.starts_with("HTTP/1.1 2"), "{got}");
        // Nothing at all after a request: the idle connection is closed.
        let mut idle = raw(&server).await;
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
        let (got, closed) = read_until_closed(&mut idle, Duration::from_secs(10)).await;
        assert!(got.starts_with("HTTP/1.1 200") && closed, "answered, then closed when idle: {got:?}");
        // Meanwhile everyone else is served.
        assert_eq!(reqwest::get(server.url().replace("/mcp", "/healthz")).await.unwrap().status(), StatusCode::OK);
    }

    // A client that stops reading is cut off once a write has waited for the
    // write-stall timeout (SSE streams and JSON answers go through the same
    // transport and the same fuse), and its session is unharmed. A connection
    // with traffic outlives the idle timeout.
    async fn stalled_readers_are_cut_off_busy_connections_are_not(db) {
        use tokio::io::AsyncWriteExt;
        let server = TestServer::start_with(&db, gatehouse_tests::testkit::app(), connection_limits(|c| {
            c.write_stall_timeout = Duration::from_secs(1);
            c.idle_timeout = Duration::from_secs(60);
        })).await;
        let session = server.client().initialize("2025-11-25").await;
        // An answer of about 7.6 MB (the argument twice), more than the
        // kernel's socket buffers hold, to a socket with a 4 KB receive buffer
        // that is never read.
        let who = "x".repeat(3_800_000);
        let body = json!({ "jsonrpc": "2.0", "id": 9, "method": "prompts/get",
            "params": { "name": "conversation", "arguments": { "who": who } } }).to_string();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stalled = socket.connect(server.running.local_addr()).await.unwrap();
        stalled.write_all(format!(
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMcp-Session-Id: {}\r\nMcp-Protocol-Version: 2025-11-25\r\nContent-Length: {}\r\n\r\n",
            session.id, body.len()
        ).as_bytes()).await.unwrap();
        stalled.write_all(body.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_secs(4)).await;
        let (got, closed) = read_until_closed(&mut stalled, Duration::from_secs(10)).await;
        assert!(got.starts_with("HTTP/1.1 200"), "{}", &got[..got.len().min(200)]);
        assert!(closed, "a reader that stalled is cut off (read {} bytes)", got.len());
        assert!(got.len() < 2 * who.len(), "cut off before the answer was written ({} bytes)", got.len());
        // The session is unharmed.
        let r = session.request("prompts/get", json!({ "name": "conversation", "arguments": { "who": "Ada" } })).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body()["result"]["messages"][0]["content"]["text"], "Hi, I am Ada.");

        // Traffic keeps a connection open past the idle timeout.
        let server = TestServer::start_with(&db, gatehouse_tests::testkit::app(), connection_limits(|c| {
            c.idle_timeout = Duration::from_secs(1);
        })).await;
        let mut busy = raw(&server).await;
        for _ in 0..8 {
            busy.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
            let mut buf = [0u8; 512];
            let n = tokio::io::AsyncReadExt::read(&mut busy, &mut buf).await.unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "still served on the same connection");
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        let (_, closed) = read_until_closed(&mut busy, Duration::from_secs(5)).await;
        assert!(closed, "and closed once quiet");
    }

    // Every request has a deadline: with a statement waiting on another
    // writer's lock for longer than a request may take (the store's own
    // deadline is 20 s here), the answer is 503 at the request's deadline,
    // and once the lock is gone the same request succeeds.
    async fn requests_have_a_deadline(db) {
        let store = gatehouse::Store::connect_with_deadline(db.url(), Duration::from_secs(20)).await.unwrap();
        let server = TestServer::start_on(store, gated::app(), connection_limits(|c| c.request_timeout = Duration::from_secs(1))).await;
        let flow = server.oauth();
        let lock: Box<dyn std::any::Any> = if db.is_postgres() {
            use sqlx::{Connection, Executor};
            let mut c = sqlx::PgConnection::connect(db.url()).await.unwrap();
            c.execute("BEGIN").await.unwrap();
            c.execute("LOCK TABLE oauth_clients IN ACCESS EXCLUSIVE MODE").await.unwrap();
            Box::new(c)
        } else {
            use sqlx::{Connection, Executor};
            let mut c = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            c.execute("BEGIN IMMEDIATE").await.unwrap();
            Box::new(c)
        };
        let body = json!({ "client_name": "x", "redirect_uris": ["http://127.0.0.1:4000/cb"], "token_endpoint_auth_method": "none" });
        let r = timed(flow.http.post(flow.url("/oauth/register")).json(&body)).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
        assert_eq!(r.retry_after.as_deref(), Some("5"));
        assert!(r.took < Duration::from_secs(10), "answered at the request's deadline, not the store's: {:?}", r.took);
        assert!(r.body.contains("temporarily_unavailable") && r.body.contains("took too long"), "{}", r.body);
        drop(lock);
        let mut registered = StatusCode::SERVICE_UNAVAILABLE;
        for _ in 0..40 {
            registered = flow.register(body.clone()).await.0;
            if registered == StatusCode::CREATED { break; }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(registered, StatusCode::CREATED, "fine once the lock is gone");
    }
}

fn mcp_limits(change: impl FnOnce(&mut Settings)) -> Settings {
    let mut settings = Settings::default();
    change(&mut settings);
    settings
}

/// Rows in a table of the test database.
async fn rows(store: &gatehouse::Store, table: &'static str) -> i64 {
    let sql = match table {
        "mcp_sessions" => "SELECT COUNT(*) FROM mcp_sessions",
        "mcp_client_responses" => "SELECT COUNT(*) FROM mcp_client_responses",
        _ => unreachable!("a table of this test"),
    };
    match (store.sqlite(), store.postgres()) {
        (Some(p), _) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        (_, Some(p)) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        _ => unreachable!(),
    }
}

gatehouse_tests::backend_tests! {
    // Authenticated amplification, bounded: a batch of more than 100 messages
    // is refused whole (400, -32600) and runs nothing; `clientInfo` and the
    // client's capabilities are size-capped before anything is stored.
    async fn batches_and_client_text_are_capped(db) {
        let server = TestServer::testkit(&db).await;
        let session = server.client().initialize("2025-03-26").await;
        let batch = |n: usize| json!((0..n).map(|i| json!({ "jsonrpc": "2.0", "id": i, "method": "ping" })).collect::<Vec<_>>());
        let refused = session.send(batch(101)).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(refused.body()["error"]["code"], -32600);
        assert!(refused.body()["error"]["message"].as_str().unwrap().contains("at most 100"), "{}", refused.text);
        let accepted = session.send(batch(100)).await;
        assert_eq!(accepted.status, StatusCode::OK);
        assert_eq!(accepted.body().as_array().map(Vec::len), Some(100), "{}", accepted.text);

        let sessions_before = rows(&server.store, "mcp_sessions").await;
        for (key, value) in [("clientInfo", json!({ "name": "x", "version": "1", "padding": "p".repeat(5000) })),
                             ("capabilities", json!({ "experimental": { "padding": "p".repeat(20_000) } }))] {
            let mut params = json!({ "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "x", "version": "1" } });
            params[key] = value;
            let r = server.client().send(json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params })).await;
            assert_eq!(r.body()["error"]["code"], -32602, "{key}: {}", r.text);
            assert!(r.body()["error"]["message"].as_str().unwrap().contains(&format!("`{key}` is larger than")), "{}", r.text);
            assert!(r.headers.get("mcp-session-id").is_none());
        }
        assert_eq!(rows(&server.store, "mcp_sessions").await, sessions_before, "nothing stored for a refusal");
    }

    // One user's live sessions are capped: a new one beyond the cap ends the
    // least recently used (404 afterwards, so its client starts again); the
    // others keep working. Open GET streams per user are capped too (429),
    // and a closed one frees its place.
    async fn sessions_and_streams_per_user_are_capped(db) {
        let server = TestServer::start_with(&db, gatehouse_tests::testkit::app(), mcp_limits(|s| {
            s.sessions_per_user = 3;
            s.streams_per_user = 2;
            // Use is recorded at most every quarter of this (1 s here).
            s.session_idle_timeout = Duration::from_secs(4);
        })).await;
        let mut sessions = Vec::new();
        for _ in 0..3 {
            let s = server.client().initialize("2025-11-25").await;
            assert_eq!(s.request("ping", json!({})).await.status, StatusCode::OK);
            sessions.push(s);
        }
        // Use the first again (after the recording interval) so the second is
        // the least recently used.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(sessions[0].request("ping", json!({})).await.status, StatusCode::OK);
        let fourth = server.client().initialize("2025-11-25").await;
        assert_eq!(rows(&server.store, "mcp_sessions").await, 3);
        let ended = sessions[1].request("ping", json!({})).await;
        assert_eq!(ended.status, StatusCode::NOT_FOUND, "the least recently used ended: {}", ended.text);
        for s in [&sessions[0], &sessions[2], &fourth] {
            assert_eq!(s.request("ping", json!({})).await.status, StatusCode::OK);
        }

        let a = sessions[0].get(None).await;
        let b = sessions[2].get(None).await;
        assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
        let third = fourth.get(None).await;
        assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
        let body: serde_json::Value = third.json().await.unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains("at most 2 open streams"), "{body}");
        drop(a);
        let mut opened = StatusCode::TOO_MANY_REQUESTS;
        for _ in 0..40 {
            let r = fourth.get(None).await;
            opened = r.status();
            if opened == StatusCode::OK { break; }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(opened, StatusCode::OK, "a closed stream frees its place");
        drop(b);
    }

    // A client response to a request the server never sent is accepted (202,
    // as JSON-RPC responses are) but not stored: the table stays empty however
    // many arrive.
    async fn unsolicited_client_responses_are_not_stored(db) {
        let server = TestServer::testkit(&db).await;
        let session = server.client().initialize("2025-11-25").await;
        for i in 0..50 {
            let r = session.send(json!({ "jsonrpc": "2.0", "id": format!("gh-{i:032x}"), "result": { "padding": "p".repeat(10_000) } })).await;
            assert_eq!(r.status, StatusCode::ACCEPTED);
        }
        assert_eq!(rows(&server.store, "mcp_client_responses").await, 0);
    }
}

gatehouse_tests::backend_tests! {
    // The audit log records every security-relevant step with who, which
    // client, from which address and user agent, and how it ended; never a
    // secret. `audit list` shows it to the operator, one escaped line each.
    async fn audit_log_records_who_did_what(db) {
        let mut settings = Settings::default();
        settings.oauth.refresh_grace = Duration::ZERO; // a reused refresh token is reuse at once
        let server = gated_with(&db, settings).await;
        let mut flow = server.oauth();
        flow.http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none())
            .user_agent("audit-test/1.0").build().unwrap();
        let client = flow.register_public("http://127.0.0.1:4000/cb").await;
        let pkce = Pkce::new();
        let start = flow.get(&flow.authorize_url(&client, &pkce, "s", None), None).await;
        let page = flow.get(&start.location().unwrap(), None).await;
        assert_eq!(attempt(&flow, &page, "ada@example.com", "wrong password!", None).await.status, StatusCode::UNAUTHORIZED);
        attempt(&flow, &page, "eve@example.com\nforged\tline", "wrong password!", None).await;
        let signed = attempt(&flow, &page, "ada@example.com", PASSWORD, None).await;
        let session = signed.cookie().unwrap();
        let consent = flow.get(&signed.location().unwrap(), Some(&session)).await;
        let allowed = flow.post_form("/oauth/consent", &[("request", &consent.field("request").unwrap()),
            ("csrf", &consent.field("csrf").unwrap()), ("decision", "allow")], Some(&session)).await;
        let code = gatehouse_tests::oauth::params(&allowed.location().unwrap())["code"].clone();
        let (status, tokens) = flow.exchange(&client, &code, &pkce).await;
        assert_eq!(status, StatusCode::OK);
        let first_refresh = tokens["refresh_token"].as_str().unwrap().to_string();
        let (status, rotated) = flow.refresh(&client, &first_refresh).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = flow.refresh(&client, &first_refresh).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "reuse");
        let (status, _, _) = flow.token(&[("grant_type", "refresh_token"), ("refresh_token", "not-a-token"), ("client_id", &client.client_id)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        // Bob, in another browser: signs in, then his client revokes its token.
        let bob = flow.other_browser();
        let bobs = bob.register_public("http://127.0.0.1:4001/cb").await;
        let bob_pkce = Pkce::new();
        let (back, _) = bob.browser(&bob.authorize_url(&bobs, &bob_pkce, "b", None), "bob@example.com", false).await;
        let (_, bob_tokens) = bob.exchange(&bobs, &gatehouse_tests::oauth::params(&back)["code"], &bob_pkce).await;
        let revoked = bob.http.post(bob.url("/oauth/revoke")).form(&[("token", bob_tokens["refresh_token"].as_str().unwrap()),
            ("client_id", bobs.client_id.as_str())]).send().await.unwrap();
        assert_eq!(revoked.status(), StatusCode::OK);
        let out = flow.post_form("/oauth/sign-out", &[], Some(&session)).await;
        assert_eq!(out.status, StatusCode::OK, "{}", out.html);
        gatehouse::testing::keys::rotate(&server.store, None).await.unwrap();

        let events = server.store.audit_events(None, 0, 1000).await.unwrap();
        let seen: Vec<(String, String)> = events.iter().map(|e| (e.event.clone(), e.outcome.clone())).collect();
        for expected in [("registration", "success"), ("sign_in", "failure"), ("sign_in", "success"), ("consent", "allowed"),
            ("code_exchange", "success"), ("refresh", "success"), ("refresh_reuse", "revoked"), ("refresh", "failure"),
            ("revocation", "success"), ("sign_out", "success"), ("key_rotation", "success")] {
            assert!(seen.contains(&(expected.0.into(), expected.1.into())), "{expected:?} in {seen:?}");
        }
        let ada = server.store.users().await.unwrap().into_iter().find(|u| u.email.as_deref() == Some("ada@example.com")).unwrap().id;
        let sign_in = events.iter().find(|e| e.event == "sign_in" && e.outcome == "success").unwrap();
        assert_eq!(sign_in.user_id.as_deref(), Some(ada.as_str()));
        assert_eq!(sign_in.client_id.as_deref(), Some(client.client_id.as_str()));
        assert_eq!(sign_in.address.as_deref(), Some("127.0.0.1"));
        assert!(sign_in.user_agent.as_deref().is_some_and(|ua| ua.starts_with("audit-test/1.0")), "{sign_in:?}");
        let failure = events.iter().find(|e| e.event == "sign_in" && e.outcome == "failure").unwrap();
        assert_eq!((failure.user_id.as_deref(), failure.subject.as_deref()), (None, Some("ada@example.com")));
        // Never a secret.
        let all = format!("{events:?}");
        for secret in [PASSWORD, "wrong password!", &code, &first_refresh, tokens["access_token"].as_str().unwrap(),
            rotated["refresh_token"].as_str().unwrap(), &session] {
            assert!(!all.contains(secret), "a secret in the audit log");
        }

        let (ok, out, err) = gated(&db, &["audit", "list", "--user", "ada@example.com"], &[]);
        assert!(ok, "{err}");
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.iter().any(|l| l.contains("\tsign_in\tsuccess\tada@example.com\t")), "{out}");
        assert!(lines.iter().all(|l| !l.contains("bob@")), "only Ada's events: {out}");
        let (ok, everything, err) = gated(&db, &["audit", "list"], &[]);
        assert!(ok, "{err}");
        assert!(everything.contains("eve@example.com\\nforged\\tline"), "{everything}");
        assert!(everything.lines().all(|l| !l.starts_with("forged")), "what callers send is escaped: {everything}");
        let (ok, _, err) = gated(&db, &["audit", "list", "--since", "soon"], &[]);
        assert!(!ok && err.contains("soon"), "{err}");
    }
}
