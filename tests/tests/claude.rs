//! The exact sequence of requests Claude.ai makes when a person adds the memory
//! server as a custom connector, and what Claude does when the server later
//! loses state (MCP-REQUIREMENTS: A-RS-1..4, A-AS-1, A-AZ-1/2, A-TK-*, T-20..24).
//! Every request and the parts of every response Claude acts on are recorded in
//! a transcript, pinned as a snapshot (ports, ids and tokens redacted). A
//! variant signs the person in through the memory server's single sign-on
//! provider instead of a password (IDENTITY.md, issue 10).

use gatehouse_tests::browser::Browser;
use gatehouse_tests::idp::Idp;
use gatehouse_tests::oauth::{CLAUDE_REDIRECT, Flow, Pkce, Registered, params};
use gatehouse_tests::{Session, TestServer, backend_tests};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// What Claude saw, step by step.
#[derive(Default)]
struct Transcript(Vec<Value>);

impl Transcript {
    fn record(&mut self, step: &str, request: &str, status: StatusCode, seen: Value) {
        self.0.push(
            json!({ "step": step, "request": request, "status": status.as_u16(), "seen": seen }),
        );
    }
}

fn challenge_url(www_authenticate: &str) -> String {
    www_authenticate
        .split("resource_metadata=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("resource_metadata in the challenge")
        .to_string()
}

fn names(result: &Value, list: &str, key: &str) -> Value {
    result[list]
        .as_array()
        .map(|items| items.iter().map(|i| i[key].clone()).collect())
        .unwrap_or(Value::Null)
}

/// Register as Claude does (RFC 7591, public client, Claude's callback).
async fn register(flow: &Flow, t: &mut Transcript, step: &str) -> Registered {
    let (status, body) = flow
        .register(json!({
            "client_name": "Claude",
            "redirect_uris": [CLAUDE_REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    t.record(
        step,
        "POST /oauth/register",
        status,
        json!({
            "client_id": body["client_id"], "redirect_uris": body["redirect_uris"],
            "token_endpoint_auth_method": body["token_endpoint_auth_method"],
        }),
    );
    Registered {
        client_id: body["client_id"].as_str().unwrap().into(),
        client_secret: None,
        redirect_uri: CLAUDE_REDIRECT.into(),
        body,
    }
}

/// Authorize with `resource` (the person signs up or in and allows), then
/// exchange the code. The token response.
async fn authorize(flow: &Flow, client: &Registered, t: &mut Transcript, sign_up: bool) -> Value {
    let pkce = Pkce::new();
    let url = flow.authorize_url(
        client,
        &pkce,
        "claude-state",
        Some("memories:read memories:write"),
    );
    let (back, _) = flow.browser(&url, "claude-user@example.com", sign_up).await;
    let p = params(&back);
    assert!(back.starts_with(CLAUDE_REDIRECT), "{back}");
    assert_eq!(p["state"], "claude-state");
    t.record("the person signs in and allows; the browser returns to Claude",
        "GET /oauth/authorize?resource=…", StatusCode::SEE_OTHER,
        json!({ "callback": CLAUDE_REDIRECT, "has_code": p.contains_key("code"), "state": p["state"], "iss": p["iss"] }));
    let (status, tokens) = flow.exchange(client, &p["code"], &pkce).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    t.record("code exchanged with the PKCE verifier and resource", "POST /oauth/token", status, json!({
        "token_type": tokens["token_type"], "scope": tokens["scope"],
        "has_access_token": tokens["access_token"].is_string(), "has_refresh_token": tokens["refresh_token"].is_string(),
    }));
    tokens
}

/// initialize at 2025-06-18 (what Claude sends) and the three lists it loads.
async fn connect(server: &TestServer, access: &str, t: &mut Transcript) -> Session {
    let session = server
        .client()
        .with_bearer(access)
        .initialize("2025-06-18")
        .await;
    t.record(
        "initialize (then notifications/initialized → 202)",
        "POST /mcp",
        StatusCode::OK,
        json!({
            "protocolVersion": session.initialize["result"]["protocolVersion"],
            "capabilities": session.initialize["result"]["capabilities"],
            "has_session_id": !session.id.is_empty(),
        }),
    );
    for (method, list, key) in [
        ("tools/list", "tools", "name"),
        ("resources/list", "resources", "uri"),
        ("prompts/list", "prompts", "name"),
    ] {
        let reply = session.request(method, json!({})).await;
        assert_eq!(reply.status, StatusCode::OK, "{method}: {reply:?}");
        t.record(
            method,
            "POST /mcp",
            reply.status,
            names(&reply.body()["result"], list, key),
        );
    }
    session
}

backend_tests! {
    async fn claude_connects_and_recovers(db) {
        let server = TestServer::memory(&db).await;
        let addr = server.running.local_addr();
        let flow = server.oauth();
        let mut t = Transcript::default();

        // 1. Claude probes the URL it was given, without credentials: HEAD, then POST.
        let head = flow.http.head(flow.resource.as_str()).send().await.unwrap();
        let head_challenge = head.headers()["www-authenticate"].to_str().unwrap().to_string();
        assert_eq!(head.status(), StatusCode::UNAUTHORIZED, "A-RS-1: HEAD is challenged like POST");
        assert!(head.bytes().await.unwrap().is_empty(), "HEAD has no body");
        t.record("probe", "HEAD /mcp", StatusCode::UNAUTHORIZED, json!({ "www-authenticate": head_challenge }));
        let post = server.client().send(json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": gatehouse_tests::client::initialize_params("2025-06-18") })).await;
        assert_eq!(post.status, StatusCode::UNAUTHORIZED, "A-RS-1");
        let challenge = post.header("www-authenticate").unwrap().to_string();
        assert_eq!(challenge, head_challenge);
        t.record("initialize without a token", "POST /mcp", post.status, json!({ "www-authenticate": challenge, "body": post.body() }));

        // 2. Discovery: the protected-resource metadata at both paths (A-RS-3, A-RS-4), the AS metadata (A-AS-1).
        let prm_url = challenge_url(&challenge);
        for path in ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"] {
            let (status, prm) = flow.get_json(path).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(prm["resource"], flow.resource.as_str());
            t.record("protected-resource metadata", &format!("GET {path}"), status, json!({
                "resource": prm["resource"], "authorization_servers": prm["authorization_servers"],
                "scopes_supported": prm["scopes_supported"],
            }));
        }
        assert!(prm_url.ends_with("/.well-known/oauth-protected-resource/mcp"));
        let (status, meta) = flow.get_json("/.well-known/oauth-authorization-server").await;
        assert_eq!(status, StatusCode::OK);
        t.record("authorization-server metadata", "GET /.well-known/oauth-authorization-server", status, json!({
            "issuer": meta["issuer"], "registration_endpoint": meta["registration_endpoint"],
            "code_challenge_methods_supported": meta["code_challenge_methods_supported"],
            "token_endpoint_auth_methods_supported": meta["token_endpoint_auth_methods_supported"],
        }));

        // 3. Registration, authorization with `resource`, token.
        let client = register(&flow, &mut t, "dynamic client registration").await;
        let tokens = authorize(&flow, &client, &mut t, true).await;
        let access = tokens["access_token"].as_str().unwrap().to_string();

        // 4. Connected: initialize at 2025-06-18, tools/list, resources/list, prompts/list.
        let session = connect(&server, &access, &mut t).await;
        let added = session.call_tool("add_memory", json!({ "text": "Claude keeps this across restarts" })).await;
        assert!(added["structuredContent"]["id"].is_string(), "{added}");

        // 5. The server restarts (a deploy): the same session id keeps working (T-20).
        server.stop().await;
        let server = TestServer::memory_at(&db, addr).await;
        let same = Session::resume(server.client().with_bearer(&access), &session.id, "2025-06-18");
        let reply = same.request("tools/call", json!({ "name": "search_memories", "arguments": { "query": "restarts" } })).await;
        assert_eq!(reply.status, StatusCode::OK, "the session survived the restart: {reply:?}");
        assert_eq!(reply.body()["result"]["structuredContent"]["memories"][0]["text"], "Claude keeps this across restarts");
        t.record("after a server restart, the same Mcp-Session-Id", "POST /mcp", reply.status, json!({ "found": 1 }));

        // 6. The server forgets the session (idle expiry; the sweeper deletes it):
        //    404, and Claude starts a new session (T-22, T-23).
        //    Deleted in the store, as the sweeper or another replica does: this
        //    replica's session cache lets it go within a second.
        assert!(server.store.delete_session(&session.id).await.unwrap());
        let (gone, took) = same.until_refused("tools/list", json!({}), std::time::Duration::from_secs(2)).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND, "T-22: an unknown session is 404");
        assert!(took < std::time::Duration::from_secs(1));
        t.record("the session expired on the server", "POST /mcp", gone.status, gone.body().clone());
        let fresh = server.client().with_bearer(&access).initialize("2025-06-18").await;
        assert_ne!(fresh.id, session.id);
        t.record("re-initialize", "POST /mcp", StatusCode::OK, json!({ "new_session_id": fresh.id != session.id }));
        let reply = fresh.request("tools/list", json!({})).await;
        assert_eq!(reply.status, StatusCode::OK);

        // 7. The server forgets the client (registrations unused for long are
        //    deleted; the test moves the cut-off instead of waiting): the refresh
        //    gets 401 invalid_client, the answer that makes Claude register again.
        let forgotten = server.store.delete_unused_clients(i64::MAX).await.unwrap();
        assert_eq!(forgotten, 1);
        let (status, body) = flow.refresh(&client, tokens["refresh_token"].as_str().unwrap()).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "{body}");
        t.record("refresh with a client the server forgot", "POST /oauth/token", status, body);
        let again = register(&flow, &mut t, "Claude registers again").await;
        assert_ne!(again.client_id, client.client_id);
        let tokens = authorize(&flow, &again, &mut t, false).await;
        let session = connect(&server, tokens["access_token"].as_str().unwrap(), &mut t).await;
        let found = session.call_tool("search_memories", json!({ "query": "Claude" })).await;
        assert_eq!(found["structuredContent"]["memories"][0]["text"], "Claude keeps this across restarts", "the same user's data");

        insta::with_settings!({ filters => vec![
            (r"127\.0\.0\.1:\d+", "[host]"),
            (r"gh_[A-Za-z0-9_-]{22}", "[client_id]"),
        ] }, {
            insta::assert_json_snapshot!("claude_transcript", t.0);
        });
        server.stop().await;
    }

    // The same connection with sign-in through an identity provider the
    // product already has (the memory server's `sso`, here the loopback
    // OpenID provider): the person clicks Connect, chooses single sign-on,
    // signs in there and is back in Claude; the MCP server sees the internal
    // user, and a second connection later is the same user with the same data.
    async fn claude_connects_through_single_sign_on(db) {
        let idp = Idp::start();
        let env: Vec<(String, String)> = idp.env().into_iter().filter(|(k, _)| k.starts_with("SSO_")).collect();
        let server = TestServer::memory_env(&db, &env).await;
        let flow = server.oauth();
        let mut t = Transcript::default();

        let client = register(&flow, &mut t, "dynamic client registration").await;
        let browser = Browser::new();
        let pkce = Pkce::new();
        let url = flow.authorize_url(&client, &pkce, "claude-state", Some("memories:read memories:write"));
        let start = browser.get(&url).await;
        assert_eq!(start.status, StatusCode::SEE_OTHER);
        t.record("Claude opens the authorization URL in the browser", "GET /oauth/authorize?resource=…", start.status,
            json!({ "location": start.location().unwrap().split('?').next(),
                "binds_the_browser": start.headers.get("set-cookie").and_then(|c| c.to_str().ok()).is_some_and(|c| c.starts_with("gatehouse_browser=")) }));
        let page = browser.get(&flow.url(&start.location().unwrap())).await;
        assert_eq!(page.status, StatusCode::OK);
        let buttons: Vec<&str> = ["Continue with single sign-on", "Continue with Google", "Continue with GitHub"]
            .into_iter().filter(|b| page.html.contains(b)).collect();
        t.record("the sign-in page: single sign-on (the only provider configured) or a password", "GET /oauth/continue", page.status,
            json!({ "buttons": buttons, "password_form": page.html.contains("name=\"password\"") }));
        let marker = "href=\"/oauth/upstream/sso?request=";
        let at = page.html.find(marker).expect("the single sign-on button") + "href=\"".len();
        let button = &page.html[at..at + page.html[at..].find('"').unwrap()];
        let upstream = browser.get(&flow.url(button)).await;
        assert_eq!(upstream.status, StatusCode::SEE_OTHER);
        let to = upstream.location().unwrap();
        let q = params(&to);
        t.record("the person chooses single sign-on", "GET /oauth/upstream/sso?request=…", upstream.status, json!({
            "location": to.split('?').next(), "redirect_uri": q["redirect_uri"], "scope": q["scope"],
            "code_challenge_method": q["code_challenge_method"], "has_state": q.contains_key("state"), "has_nonce": q.contains_key("nonce"),
        }));
        let callback = browser.walk(&to, "alice", &flow.url("/oauth/callback/")).await.reached();
        t.record("signed in at the provider, which sends the browser back", "GET [idp]/auth → …", StatusCode::SEE_OTHER,
            json!({ "callback": callback.split('?').next(), "has_code": params(&callback).contains_key("code"), "iss": params(&callback)["iss"] }));
        let back = browser.get(&callback).await;
        assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.html);
        t.record("gatehouse redeems the code and verifies the ID token", "GET /oauth/callback/sso?code=…", back.status,
            json!({ "location": back.location().unwrap().split('?').next(), "signed_in": back.cookie().is_some() }));
        let consent = browser.get(&flow.url(&back.location().unwrap())).await;
        assert_eq!(consent.status, StatusCode::OK);
        let who = consent.html.find("Signed in as").map(|i| consent.html[i..].split('<').next().unwrap().trim().to_string());
        t.record("the consent page names Claude and how the person signed in", "GET /oauth/continue", consent.status, json!({ "who": who }));
        let allowed = browser.post_form(&flow.url("/oauth/consent"), &[
            ("request", &consent.field("request").unwrap()), ("csrf", &consent.field("csrf").unwrap()), ("decision", "allow"),
        ]).await;
        let to_claude = allowed.location().unwrap();
        assert!(to_claude.starts_with(CLAUDE_REDIRECT), "{to_claude}");
        let p = params(&to_claude);
        t.record("back in Claude", "POST /oauth/consent", allowed.status,
            json!({ "callback": CLAUDE_REDIRECT, "has_code": p.contains_key("code"), "state": p["state"], "iss": p["iss"] }));
        let (status, tokens) = flow.exchange(&client, &p["code"], &pkce).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        t.record("code exchanged", "POST /oauth/token", status, json!({ "scope": tokens["scope"], "has_refresh_token": tokens["refresh_token"].is_string() }));

        let session = connect(&server, tokens["access_token"].as_str().unwrap(), &mut t).await;
        session.call_tool("add_memory", json!({ "text": "Signed in with the company account" })).await;
        let user = server.store.identity(&idp.url("sso"), "alice").await.unwrap().expect("the identity").user_id;
        assert!(uuid::Uuid::parse_str(&user).is_ok(), "the internal user id");

        // Later, Claude connects again: the browser is still signed in on the
        // server and this person allowed Claude already, so the browser goes
        // straight back, with no provider and no page; the data is the same
        // user's.
        let again = register(&flow, &mut t, "Claude registers again (the same metadata: the same client)").await;
        let pkce = Pkce::new();
        let url = flow.authorize_url(&again, &pkce, "claude-state", Some("memories:read memories:write"));
        let straight = browser.walk(&url, "nobody", CLAUDE_REDIRECT).await.reached();
        let p = params(&straight);
        t.record("signed in and allowed before: straight back to Claude", "GET /oauth/authorize?resource=…", StatusCode::SEE_OTHER,
            json!({ "callback": CLAUDE_REDIRECT, "has_code": p.contains_key("code") }));
        assert_eq!(idp.stats("sso").await["authorization"], 1, "the provider was not asked again");
        let (_, tokens) = flow.exchange(&again, &p["code"], &pkce).await;
        let session = connect(&server, tokens["access_token"].as_str().unwrap(), &mut t).await;
        let found = session.call_tool("search_memories", json!({ "query": "company" })).await;
        assert_eq!(found["structuredContent"]["memories"][0]["text"], "Signed in with the company account", "the same user's data");
        assert_eq!(server.store.users().await.unwrap().len(), 1);

        insta::with_settings!({ filters => vec![
            (r"127\.0\.0\.1:\d+", "[host]"),
            (r"127\.\d+\.\d+\.[2-7]:\d+", "[idp]"),
            (r"gh_[A-Za-z0-9_-]{22}", "[client_id]"),
        ] }, {
            insta::assert_json_snapshot!("claude_sso_transcript", t.0);
        });
        server.stop().await;
    }
}
