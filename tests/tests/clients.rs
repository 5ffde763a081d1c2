//! Every MCP client gatehouse knows (`specs/clients.yaml`, issue 11) connects to
//! the memory server the way it really does: its own registration body (201,
//! with `refresh_token` among the registered grants), an authorization with its
//! own redirect URI whose code arrives there, and the token exchange with the
//! authentication method it registered. Then the rules around it: patterns that
//! must not match, a spec that accepts fewer clients, scopes as clients ask for
//! them, honest names on the consent page, and browser origins on `/mcp`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_specs::clients::profiles;
use gatehouse_tests::oauth::{Flow, PASSWORD, Page, Pkce, REDIRECT, Registered, params};
use gatehouse_tests::{TestDb, TestServer, backend_tests, gated};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Ports change per run: snapshots name the host `[host]`.
macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({ filters => vec![(r"127\.0\.0\.1:\d+", "[host]")] }, {
            insta::assert_json_snapshot!($name, $value);
        })
    };
}

/// Exchange a code as a client registered with `body` does.
async fn exchange(
    flow: &Flow,
    body: &Value,
    redirect_uri: &str,
    code: &str,
    pkce: &Pkce,
) -> (StatusCode, Value) {
    let client_id = body["client_id"].as_str().unwrap();
    let secret = body["client_secret"].as_str();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", pkce.verifier.as_str()),
        ("redirect_uri", redirect_uri),
        ("resource", flow.resource.as_str()),
    ];
    let mut req = flow.http.post(flow.url("/oauth/token"));
    match body["token_endpoint_auth_method"].as_str().unwrap() {
        "none" => form.push(("client_id", client_id)),
        "client_secret_post" => {
            form.push(("client_id", client_id));
            form.push((
                "client_secret",
                secret.expect("a secret for client_secret_post"),
            ));
        }
        "client_secret_basic" => {
            let basic = STANDARD.encode(format!("{client_id}:{}", secret.unwrap()));
            req = req.header("authorization", format!("Basic {basic}"));
        }
        other => panic!("unexpected auth method {other}"),
    }
    let r = req.form(&form).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Sign in on a fresh browser (sign up `email` the first time) and stop at the
/// consent page.
async fn to_consent(flow: &Flow, authorize: &str, email: &str) -> (Page, String) {
    let start = flow.get(authorize, None).await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.html);
    let continue_url = start.location().unwrap();
    let sign_in = flow
        .get(&format!("{continue_url}&mode=sign_up"), None)
        .await;
    let request = sign_in.field("request").unwrap();
    let signed = flow
        .post_form(
            "/oauth/sign-in",
            &[
                ("request", &request),
                ("csrf", &sign_in.field("csrf").unwrap()),
                ("action", "sign_up"),
                ("email", email),
                ("password", PASSWORD),
            ],
            None,
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.html);
    let cookie = signed.cookie().unwrap();
    let consent = flow.get(&signed.location().unwrap(), Some(&cookie)).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.html);
    (consent, cookie)
}

async fn allow(flow: &Flow, consent: &Page, cookie: &str) -> String {
    let allowed = flow
        .post_form(
            "/oauth/consent",
            &[
                ("request", &consent.field("request").unwrap()),
                ("csrf", &consent.field("csrf").unwrap()),
                ("decision", "allow"),
            ],
            Some(cookie),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::SEE_OTHER, "{}", allowed.html);
    allowed.location().unwrap()
}

fn registered(body: &Value, redirect_uri: &str) -> Registered {
    Registered {
        client_id: body["client_id"].as_str().unwrap().into(),
        client_secret: body["client_secret"].as_str().map(str::to_string),
        redirect_uri: redirect_uri.into(),
        body: body.clone(),
    }
}

/// The visible text of the consent page's heading and note.
fn consent_text(page: &Page) -> String {
    let start = page.html.find("<h1>").unwrap();
    let end = page.html.find("<form").unwrap();
    page.html[start..end].to_string()
}

async fn memory(db: &TestDb) -> TestServer {
    TestServer::memory(db).await
}

backend_tests! {
    // Every profile, as its client does it: register its real body (201),
    // authorize with its redirect URI (the code arrives there, with state and
    // iss), exchange with its auth method, and use the token.
    async fn every_known_client_connects(db) {
        let server = memory(&db).await;
        let flow = server.oauth();
        for (name, profile) in profiles() {
            let (status, body) = flow.register(profile.example.clone()).await;
            assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
            assert_eq!(body["redirect_uris"], profile.example["redirect_uris"], "{name}: registered as sent");
            let grants = body["grant_types"].as_array().unwrap();
            assert!(grants.contains(&json!("refresh_token")) && grants.contains(&json!("authorization_code")), "{name}: {body}");
            assert_eq!(body["token_endpoint_auth_method"], profile.example["token_endpoint_auth_method"], "{name}");
            assert_eq!(body["client_secret"].is_string(), profile.example["token_endpoint_auth_method"] != "none", "{name}");

            let pkce = Pkce::new();
            let authorize = flow.authorize_url(&registered(&body, &profile.authorize_with), &pkce, &format!("{name}-state"), Some("memories:read"));
            let (consent, cookie) = to_consent(&flow, &authorize, &format!("{name}@example.com")).await;
            let heading = consent_text(&consent);
            let hosted = profile.patterns().iter().any(|p| !p.is_loopback_only());
            if hosted {
                assert!(heading.contains(&format!("<strong>{}</strong>", profile.name)) && heading.contains("recognised callback"), "{name}: {heading}");
            } else {
                assert!(heading.contains("calls itself") && !heading.contains("recognised"), "{name}: a loopback client is not recognised: {heading}");
            }
            let back = allow(&flow, &consent, &cookie).await;
            assert!(back.starts_with(&format!("{}?", profile.authorize_with)), "{name}: the code goes to its callback: {back}");
            let p = params(&back);
            assert_eq!(p["state"], format!("{name}-state"));
            assert_eq!(p["iss"], flow.base);
            let (status, tokens) = exchange(&flow, &body, &profile.authorize_with, &p["code"], &pkce).await;
            assert_eq!(status, StatusCode::OK, "{name}: {tokens}");
            assert!(tokens["refresh_token"].is_string(), "{name}");
            let session = server.client().with_bearer(tokens["access_token"].as_str().unwrap()).initialize("2025-06-18").await;
            assert_eq!(session.request("tools/list", json!({})).await.status, StatusCode::OK, "{name}");
        }
    }

    // ChatGPT's callbacks carry a per-connector id: each connector registers
    // its own, and the fixed older callback works too.
    async fn chatgpt_connectors_each_register(db) {
        let server = memory(&db).await;
        let flow = server.oauth();
        for uri in [
            "https://chatgpt.com/connector/oauth/abc123XYZ",
            "https://chatgpt.com/connector/oauth/second_connector-2",
            "https://chatgpt.com/connector_platform_oauth_redirect",
        ] {
            let (status, body) = flow.register(json!({
                "client_name": "ChatGPT", "redirect_uris": [uri], "token_endpoint_auth_method": "none",
            })).await;
            assert_eq!(status, StatusCode::CREATED, "{uri}: {body}");
            assert_eq!(body["grant_types"], json!(["authorization_code", "refresh_token"]), "registered without grant_types: refresh_token still stated");
            let pkce = Pkce::new();
            let (back, _) = flow.browser(&flow.authorize_url(&registered(&body, uri), &pkce, "s", None), &format!("{}@example.com", uri.len()), true).await;
            assert!(back.starts_with(&format!("{uri}?")), "{back}");
        }
    }

    // Look-alikes of every pattern kind are refused at registration, with the
    // URI named in the JSON error (never in HTML).
    async fn lookalikes_are_refused(db) {
        let server = memory(&db).await;
        let flow = server.oauth();
        let mut errors = serde_json::Map::new();
        for uri in [
            "https://chatgpt.com.evil.example/connector/oauth/abc",
            "https://chatgpt.com@evil.example/connector/oauth/abc",
            "https://chatgpt.com./connector/oauth/abc",
            "https://CHATGPT.com/connector/oauth/abc",
            "https://chatgpt.com/connector/oauth/abc/def",
            "https://chatgpt.com/connector/oauth/",
            "https://chatgpt.com/connector/oauth/a%2F..%2F..%2Fevil",
            "https://chatgpt.com/connector/oauth/../../evil",
            "https://chatgpt.com/connector/oauth/abc#frag",
            "https://claude.ai:443/api/mcp/auth_callback",
            "https://claude.ai/api/mcp/auth_callback/",
            "cursor://anysphere.cursor-mcp/oauth/callback/x",
            "cursors://anysphere.cursor-mcp/oauth/callback",
            "javascript://chatgpt.com/%0Aalert(1)",
            "data:text/html,<script>alert(1)</script>",
            "file:///etc/passwd",
            "vbscript:msgbox(1)",
            "blob:https://chatgpt.com/1",
            "about:blank",
            "http://vscode.dev/redirect",
        ] {
            let (status, body) = flow.register(json!({ "client_name": "x", "redirect_uris": ["http://127.0.0.1:1/cb", uri], "token_endpoint_auth_method": "none" })).await;
            assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_redirect_uri")), "{uri}: {body}");
            errors.insert(uri.into(), body["error_description"].clone());
        }
        snapshot!("lookalike_errors", errors);
        assert_eq!(server.store.clients().await.unwrap().len(), 0, "nothing was registered");
    }

    // A spec that accepts only Claude refuses the others' callbacks and
    // browser origins.
    async fn a_spec_chooses_its_clients(db) {
        let server = TestServer::start(&db, gated::app()).await;
        let flow = server.oauth();
        let claude = &profiles()["claude"];
        let (status, _) = flow.register(claude.example.clone()).await;
        assert_eq!(status, StatusCode::CREATED);
        for other in ["chatgpt", "cursor", "vscode", "antigravity"] {
            let (status, body) = flow.register(profiles()[other].example.clone()).await;
            assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_redirect_uri")), "{other}: {body}");
        }
        let preflight = flow.http.request(reqwest::Method::OPTIONS, &flow.resource)
            .header("origin", "https://vscode.dev").header("access-control-request-method", "POST").send().await.unwrap();
        assert!(preflight.headers().get("access-control-allow-origin").is_none(), "the browser is not let through");
        let post = flow.http.post(&flow.resource).header("origin", "https://vscode.dev")
            .header("content-type", "application/json").header("accept", "application/json, text/event-stream")
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).send().await.unwrap();
        assert_eq!(post.status(), StatusCode::FORBIDDEN, "T-2: vscode.dev is not accepted here");
    }

    // Browser origins of accepted clients (vscode.dev) may call /mcp; others
    // still get 403 (T-2).
    async fn browser_origins_of_known_clients(db) {
        let server = memory(&db).await;
        let flow = server.oauth();
        for origin in ["https://vscode.dev", "https://insiders.vscode.dev"] {
            let preflight = flow.http.request(reqwest::Method::OPTIONS, &flow.resource)
                .header("origin", origin).header("access-control-request-method", "POST")
                .header("access-control-request-headers", "authorization, content-type, mcp-protocol-version").send().await.unwrap();
            assert!(preflight.status().is_success(), "{origin}: {}", preflight.status());
            assert_eq!(preflight.headers()["access-control-allow-origin"], origin);
            let post = flow.http.post(&flow.resource).header("origin", origin)
                .header("content-type", "application/json").header("accept", "application/json, text/event-stream")
                .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).send().await.unwrap();
            assert_eq!(post.status(), StatusCode::UNAUTHORIZED, "{origin}: the token is still required");
            let exposed = post.headers().get("access-control-expose-headers").and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
            assert!(exposed.contains("www-authenticate"), "{origin}: {exposed}");
        }
        for evil in ["https://vscode.dev.evil.example", "https://evil.example", "http://vscode.dev"] {
            let post = flow.http.post(&flow.resource).header("origin", evil)
                .header("content-type", "application/json").header("accept", "application/json, text/event-stream")
                .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).send().await.unwrap();
            assert_eq!(post.status(), StatusCode::FORBIDDEN, "{evil}");
        }
    }

    // Scopes as clients ask for them: `offline_access` and `openid profile
    // email` are left out, the rest granted, and a refresh token issued;
    // nothing defined left: the default scopes. A spec may refuse instead.
    async fn scopes_as_clients_ask(db) {
        let server = memory(&db).await;
        let flow = server.oauth();
        for (i, (asked, granted)) in [
            ("memories:read offline_access", "memories:read"),
            ("openid profile email memories:read", "memories:read"),
            ("openid profile email offline_access", "memories:read memories:write"),
            ("memories:write memories:write", "memories:write"),
        ].into_iter().enumerate() {
            let client = flow.register_public(REDIRECT).await;
            let pkce = Pkce::new();
            let (back, _) = flow.browser(&flow.authorize_url(&client, &pkce, "s", Some(asked)), &format!("scopes{i}@example.com"), true).await;
            let (status, tokens) = flow.exchange(&client, &params(&back)["code"], &pkce).await;
            assert_eq!(status, StatusCode::OK, "{asked}: {tokens}");
            assert_eq!(tokens["scope"], granted, "{asked}");
            assert!(tokens["refresh_token"].is_string(), "{asked}: a refresh token");
        }
        // Registration with scopes the server does not define: kept to the defined ones.
        let (status, body) = flow.register(json!({
            "client_name": "x", "redirect_uris": ["http://127.0.0.1:5/cb"], "token_endpoint_auth_method": "none",
            "scope": "openid offline_access memories:read",
        })).await;
        assert_eq!((status, body["scope"].as_str()), (StatusCode::CREATED, Some("memories:read")), "{body}");

        // `unknown_scopes: reject` (the gated server): refused.
        let gated = TestServer::start(&db, gated::app()).await;
        let flow = gated.oauth();
        let client = flow.register_public("http://127.0.0.1:7/cb").await;
        let start = flow.get(&flow.authorize_url(&client, &Pkce::new(), "s", Some("notes:read offline_access")), None).await;
        let p = params(&start.location().unwrap());
        assert_eq!(p["error"], "invalid_scope", "{p:?}");
        let (status, body) = flow.register(json!({
            "client_name": "x", "redirect_uris": ["http://127.0.0.1:5/cb"], "token_endpoint_auth_method": "none", "scope": "openid",
        })).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")));
    }

    // Consent names the client honestly: a known client by its name with the
    // "recognised callback" mark only when every redirect URI matched it;
    // otherwise the name the app gave itself, said to be its own.
    async fn consent_names_clients_honestly(db) {
        let server = memory(&db).await;
        let flow = server.oauth();
        let cases = [
            // A loopback app calling itself ChatGPT.
            (json!(["http://127.0.0.1:9000/cb"]), "ChatGPT", false, "“ChatGPT”"),
            // Claude's callback plus a loopback one: no single known client has both.
            (json!(["https://claude.ai/api/mcp/auth_callback", "http://127.0.0.1:9000/cb"]), "Claude", false, "“Claude”"),
            // Cursor's three, under another name: recognised as Cursor.
            (profiles()["cursor"].example["redirect_uris"].clone(), "Totally Cursor", true, "<strong>Cursor</strong>"),
            // A name with markup is shown as text.
            (json!(["http://127.0.0.1:9000/cb"]), "<b>Evil</b>", false, "“&lt;b&gt;Evil&lt;&#x2f;b&gt;”"),
        ];
        for (i, (uris, name, recognised, shown)) in cases.into_iter().enumerate() {
            let (status, body) = flow.register(json!({ "client_name": name, "redirect_uris": uris, "token_endpoint_auth_method": "none" })).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            let redirect = body["redirect_uris"][0].as_str().unwrap();
            let (consent, _) = to_consent(&flow, &flow.authorize_url(&registered(&body, redirect), &Pkce::new(), "s", None), &format!("honest{i}@example.com")).await;
            let text = consent_text(&consent);
            assert!(text.contains(shown), "{name}: {text}");
            assert_eq!(text.contains("recognised callback"), recognised, "{name}: {text}");
            assert_eq!(text.contains("calls itself"), !recognised, "{name}: {text}");
        }
    }
}
