//! Client ID Metadata Documents (issue 13, item 5; MODERN.md M-2 to M-6): a
//! client whose `client_id` is the URL of its metadata document signs a
//! person in without registering. Documents are served from a loopback test
//! server, which only the test-only switch `DocumentSettings::allow_loopback`
//! lets the authorization server reach.

use gatehouse::Settings;
use gatehouse_tests::documents::{Canned, DocumentServer, policy_app};
use gatehouse_tests::oauth::{CLAUDE_REDIRECT, Flow, Pkce, REDIRECT, Registered, params};
use gatehouse_tests::{TestServer, backend_tests, testkit};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn loopback_documents() -> Settings {
    let mut s = Settings::default();
    s.oauth.documents.allow_loopback = true;
    s
}

async fn server(db: &gatehouse_tests::db::TestDb, settings: Settings) -> TestServer {
    TestServer::start_with(
        db,
        testkit::app().with_auth(gatehouse::Auth::OAuth),
        settings,
    )
    .await
}

fn document(id: &str) -> Value {
    json!({ "client_id": id, "client_name": "Doc App", "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"] })
}

fn client(id: &str, redirect: &str) -> Registered {
    Registered {
        client_id: id.into(),
        client_secret: None,
        redirect_uri: redirect.into(),
        body: Value::Null,
    }
}

/// `/oauth/authorize` for `id`: the page shown, or where it redirected.
async fn authorize(flow: &Flow, id: &str) -> (StatusCode, String) {
    let url = flow.authorize_url(&client(id, REDIRECT), &Pkce::new(), "s", None);
    let page = flow.get(&url, None).await;
    (page.status, page.html)
}

backend_tests! {
    // A document's client signs in, gets tokens, refreshes and calls /mcp;
    // the pages name it with the host that published it; the document is
    // fetched once and then cached (max-age), and the metadata says so.
    async fn a_document_client_signs_in(db) {
        let docs = DocumentServer::start().await;
        let id = docs.url("/clients/app.json");
        docs.serve("/clients/app.json", Canned::json(&document(&id), Some("max-age=600")));
        let server = server(&db, loopback_documents()).await;
        let flow = server.oauth();
        let (_, meta) = flow.get_json("/.well-known/oauth-authorization-server").await;
        assert_eq!(meta["client_id_metadata_document_supported"], true);
        assert!(meta["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("none")));

        let start = flow.get(&flow.authorize_url(&client(&id, REDIRECT), &Pkce::new(), "s", None), None).await;
        assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.html);
        let sign_in = flow.get(&start.location().unwrap(), None).await;
        assert!(sign_in.html.contains("<strong>Doc App</strong> (published by <strong>127.0.0.1</strong>)"), "{}", sign_in.html);

        let pkce = Pkce::new();
        let app = client(&id, REDIRECT);
        let (back, _) = flow.browser(&flow.authorize_url(&app, &pkce, "xyz", None), "doc@example.com", true).await;
        let code = params(&back)["code"].clone();
        let (status, tokens) = flow.exchange(&app, &code, &pkce).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let (status, refreshed) = flow.refresh(&app, tokens["refresh_token"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{refreshed}");
        let mcp = server.client().with_bearer(refreshed["access_token"].as_str().unwrap());
        let session = mcp.initialize("2025-11-25").await;
        assert_eq!(session.call_tool("echo", json!({ "text": "hi" })).await["content"][0]["text"], "hi");
        assert_eq!(docs.hits("/clients/app.json"), 1, "fetched once, then cached");

        // A-AZ-3 holds for documents: only their redirect URIs.
        let elsewhere = flow.get(&flow.authorize_url(&client(&id, "https://evil.example/cb"), &Pkce::new(), "s", None), None).await;
        assert_eq!(elsewhere.status, StatusCode::BAD_REQUEST);
        assert!(elsewhere.html.contains("did not register"), "{}", elsewhere.html);

        // An operator's revocation holds at once, cached document or not,
        // and a refetch does not undo it.
        assert!(server.store.revoke_client(&id, gatehouse::testing::now_ms()).await.unwrap());
        let (status, html) = authorize(&flow, &id).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
        assert!(html.contains("revoked"), "{html}");
        server.stop().await;
    }

    // M-3, M-4: what a document's host answers is checked, and a failure is
    // a page that says why (never a redirect to an unverified URI); failures
    // are not cached, so a fixed document works at once.
    async fn bad_documents_are_refused_and_not_cached(db) {
        let docs = DocumentServer::start().await;
        let server = server(&db, loopback_documents()).await;
        let flow = server.oauth();
        let cases: Vec<(&str, Canned, &str)> = vec![
            ("/html", Canned::html("<html><body>Just a moment…</body></html>"), "challenge page"),
            ("/redirect", Canned::redirect("https://elsewhere.example/doc"), "redirects are not followed"),
            ("/missing", Canned { status: 404, headers: vec![], body: vec![] }, "answered 404"),
            ("/other-id", Canned::json(&document("https://someone.else/doc"), None), "not the URL it was fetched from"),
            ("/secret", Canned::json(&json!({ "client_id": docs.url("/secret"), "client_name": "x", "redirect_uris": [REDIRECT], "client_secret": "s" }), None), "carries a client secret"),
            ("/basic", Canned::json(&json!({ "client_id": docs.url("/basic"), "client_name": "x", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic" }), None), "shared secret"),
            ("/big", Canned::json(&json!({ "padding": "x".repeat(40_000) }), None), "more than 32768 bytes"),
            ("/not-json", Canned { status: 200, headers: vec![("content-type".into(), "application/json".into())], body: b"{oops".to_vec() }, "not JSON"),
        ];
        for (path, canned, says) in cases {
            docs.serve(path, canned);
            let (status, html) = authorize(&flow, &docs.url(path)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {html}");
            assert!(html.contains(says), "{path} should say {says:?}: {html}");
            assert!(!html.contains("Doc App"));
        }
        // The same URL, fixed: accepted at once (the failure was not kept).
        let fixed = docs.url("/html");
        docs.serve("/html", Canned::json(&document(&fixed), None));
        let (status, html) = authorize(&flow, &fixed).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
        // Refused documents left no client behind.
        for path in ["/redirect", "/other-id", "/big"] {
            assert!(server.store.client(&docs.url(path)).await.unwrap().is_none(), "{path}");
        }
        server.stop().await;
    }

    // M-2, M-4 without the test switch: URL ids must be https with a path,
    // and a host that is (or resolves to) a special-use address is never
    // fetched, whichever way it is written.
    async fn documents_never_reach_private_addresses(db) {
        let docs = DocumentServer::start().await;
        let port = docs.base.rsplit(':').next().unwrap().to_string();
        docs.serve("/doc", Canned::json(&document(&docs.url("/doc")), None));
        let server = server(&db, Settings::default()).await;
        let flow = server.oauth();
        let cases = [
            (docs.url("/doc"), "not an https URL"),
            (format!("https://127.0.0.1:{port}/doc"), "special-use address"),
            (format!("https://localhost:{port}/doc"), "special-use address"),
            (format!("https://[::1]:{port}/doc"), "special-use address"),
            (format!("https://[::ffff:127.0.0.1]:{port}/doc"), "special-use address"),
            ("https://169.254.169.254/latest/meta-data".to_string(), "special-use address"),
            ("https://10.0.0.1/doc".to_string(), "special-use address"),
            ("https://app.example".to_string(), "no path"),
            ("https://app.example/a/../doc".to_string(), "dot segments"),
            ("https://user@app.example/doc".to_string(), "user information"),
        ];
        for (id, says) in cases {
            let (status, html) = authorize(&flow, &id).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{id}: {html}");
            assert!(html.contains(says), "{id} should say {says:?}: {html}");
        }
        assert_eq!(docs.hits("/doc"), 0, "nothing was fetched");
        server.stop().await;
    }

    // The spec's policy: only documents its `allow` patterns match, and a
    // pinned document used as written, without any fetch (Claude's, whose
    // URL may answer a datacenter with a challenge page).
    async fn the_spec_decides_which_documents(db) {
        let docs = DocumentServer::start().await;
        docs.serve("/doc", Canned::json(&document(&docs.url("/doc")), None));
        let server = TestServer::start_with(&db, policy_app(), loopback_documents()).await;
        let flow = server.oauth();
        let (status, html) = authorize(&flow, &docs.url("/doc")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(html.contains("does not accept apps whose details are published at"), "{html}");
        assert_eq!(docs.hits("/doc"), 0);

        let claude = "https://claude.ai/oauth/mcp-oauth-client-metadata";
        let app = client(claude, CLAUDE_REDIRECT);
        let start = flow.get(&flow.authorize_url(&app, &Pkce::new(), "s", None), None).await;
        assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.html);
        let sign_in = flow.get(&start.location().unwrap(), None).await;
        assert!(sign_in.html.contains("<strong>Claude</strong> (published by <strong>claude.ai</strong>)"), "{}", sign_in.html);
        let pkce = Pkce::new();
        let (back, _) = flow.browser(&flow.authorize_url(&app, &pkce, "xyz", None), "claude@example.com", true).await;
        assert!(back.starts_with(CLAUDE_REDIRECT), "{back}");
        let (status, tokens) = flow.exchange(&app, &params(&back)["code"], &pkce).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        server.stop().await;
    }

    // The memory server pins Claude's and Claude Code's documents: both start
    // a sign-in without any fetch, Claude Code on any loopback port.
    async fn the_memory_server_knows_claude_without_fetching(db) {
        let server = TestServer::memory(&db).await;
        let flow = server.oauth();
        for (id, redirect) in [
            ("https://claude.ai/oauth/mcp-oauth-client-metadata", CLAUDE_REDIRECT),
            ("https://claude.ai/oauth/claude-code-client-metadata", "http://127.0.0.1:43123/callback"),
            ("https://claude.ai/oauth/claude-code-client-metadata", "http://localhost:50000/callback"),
        ] {
            let url = flow.authorize_url(&client(id, redirect), &Pkce::new(), "s", None);
            let page = flow.get(&url, None).await;
            assert_eq!(page.status, StatusCode::SEE_OTHER, "{id} {redirect}: {}", page.html);
        }
        let wrong = flow.authorize_url(&client("https://claude.ai/oauth/claude-code-client-metadata", "https://evil.example/callback"), &Pkce::new(), "s", None);
        assert_eq!(flow.get(&wrong, None).await.status, StatusCode::BAD_REQUEST);
        server.stop().await;
    }
}
