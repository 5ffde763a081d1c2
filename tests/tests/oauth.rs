//! The authorization server and the protected resource (MCP-REQUIREMENTS section
//! 2 and 4: A-RS-*, A-AS-*, A-AZ-*, A-TK-*), over plain HTTP, on every backend.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use gatehouse::Settings;
use gatehouse::settings::OAuthSettings;
use gatehouse_tests::client::{Reply, initialize_params, read_reply};
use gatehouse_tests::oauth::{CLAUDE_REDIRECT, PASSWORD, Pkce, REDIRECT, params};
use gatehouse_tests::{Session, TestServer, backend_tests, gated};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Ports change per run: snapshots name the host `[host]`.
macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({ filters => vec![(r"127\.0\.0\.1:\d+", "[host]")] }, {
            insta::assert_json_snapshot!($name, $value);
        })
    };
    ($name:expr, $value:expr, { $($redaction:tt)* }) => {
        insta::with_settings!({ filters => vec![(r"127\.0\.0\.1:\d+", "[host]")] }, {
            insta::assert_json_snapshot!($name, $value, { $($redaction)* });
        })
    };
}

fn initialize_body() -> Value {
    json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize_params("2025-06-18") })
}

/// The JSON of a JWT part.
fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("a JWT part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Sign arbitrary claims with the server's current key (or another key).
async fn mint(server: &TestServer, header: Value, claims: Value) -> String {
    let key = server.store.signing_keys().await.unwrap().remove(0);
    let der = STANDARD.decode(&key.private_der).unwrap();
    sign_raw(&der, header, &claims)
}

fn sign_raw(pkcs8: &[u8], header: Value, claims: &Value) -> String {
    use ed25519_dalek::Signer;
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    let key = ed25519_dalek::SigningKey::from_pkcs8_der(pkcs8).unwrap();
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

async fn kid(server: &TestServer) -> String {
    server.store.signing_keys().await.unwrap().remove(0).kid
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// POST initialize with a bearer token.
async fn init_with(server: &TestServer, token: Option<&str>) -> Reply {
    let mut req = server.client().post().json(&initialize_body());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    read_reply(req.send().await.unwrap()).await
}

fn quick_oauth() -> Settings {
    Settings {
        oauth: OAuthSettings {
            code_lifetime: Duration::from_millis(800),
            refresh_grace: Duration::from_millis(800),
            ..OAuthSettings::default()
        },
        ..Settings::default()
    }
}

async fn gated_server(db: &gatehouse_tests::TestDb) -> TestServer {
    let server = TestServer::start_with(db, gated::app(), Settings::default()).await;
    gatehouse::testing::accounts::create_local_user(&server.store, "ada@example.com", PASSWORD)
        .await
        .unwrap();
    gatehouse::testing::accounts::create_local_user(&server.store, "bob@example.com", PASSWORD)
        .await
        .unwrap();
    server
}

/// A pre-registered client of the gated server as the flow helper sees it.
fn preregistered(id: &str, redirect: &str) -> gatehouse_tests::oauth::Registered {
    gatehouse_tests::oauth::Registered {
        client_id: id.into(),
        client_secret: None,
        redirect_uri: redirect.into(),
        body: Value::Null,
    }
}

backend_tests! {
    // The whole flow the way Claude does it, with plain HTTP: 401 from /mcp
    // (A-RS-1, A-RS-2) → protected-resource metadata (A-RS-3, A-RS-4) → AS metadata
    // (A-AS-1) → registration → authorize with `resource` (A-AZ-1, A-AZ-2) → sign-up
    // and consent → token (RFC 9068 access token) → initialize → tools/call →
    // refresh (A-TK-2) → revoke.
    async fn claude_shaped_flow(db) {
        let server = TestServer::memory(&db).await;
        let flow = server.oauth();

        let unauth = init_with(&server, None).await;
        assert_eq!(unauth.status, StatusCode::UNAUTHORIZED, "A-RS-1");
        let challenge = unauth.header("www-authenticate").unwrap().to_string();
        snapshot!("challenge_without_token", json!({ "www-authenticate": challenge, "body": unauth.body() }));
        let prm_url = challenge.split("resource_metadata=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        assert!(prm_url.ends_with("/.well-known/oauth-protected-resource/mcp"), "A-RS-4 path-suffixed");
        let prm: Value = flow.http.get(&prm_url).send().await.unwrap().json().await.unwrap();
        let (status, root_prm) = flow.get_json("/.well-known/oauth-protected-resource").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(prm, root_prm, "A-RS-4: both locations serve the same document");
        assert_eq!(prm["resource"], flow.resource, "A-RS-3: resource is the canonical MCP URL");
        snapshot!("protected_resource_metadata", prm);
        let issuer = prm["authorization_servers"][0].as_str().unwrap().to_string();
        let (status, meta) = flow.get_json("/.well-known/oauth-authorization-server").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(meta["issuer"], issuer);
        assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]), "A-AS-1");
        snapshot!("authorization_server_metadata", meta);

        let (status, registered) = flow.register(json!({
            "client_name": "Claude", "redirect_uris": [CLAUDE_REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        })).await;
        assert_eq!(status, StatusCode::CREATED);
        snapshot!("registration_response", registered, { ".client_id" => "[client_id]", ".client_id_issued_at" => "[time]" });
        let client = gatehouse_tests::oauth::Registered {
            client_id: registered["client_id"].as_str().unwrap().into(),
            client_secret: None,
            redirect_uri: CLAUDE_REDIRECT.into(),
            body: registered.clone(),
        };
        let pkce = Pkce::new();
        let url = flow.authorize_url(&client, &pkce, "claude-state-1", Some("memories:read memories:write"));
        let (back, _) = flow.browser(&url, "ada@example.com", true).await;
        assert!(back.starts_with(CLAUDE_REDIRECT));
        let p = params(&back);
        assert_eq!(p["state"], "claude-state-1", "state passes through");
        assert_eq!(p["iss"], issuer, "RFC 9207 iss");
        let (status, headers, tokens) = flow.token(&[
            ("grant_type", "authorization_code"), ("code", &p["code"]), ("code_verifier", &pkce.verifier),
            ("redirect_uri", CLAUDE_REDIRECT), ("client_id", &client.client_id), ("resource", &flow.resource),
        ]).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        assert_eq!(headers["cache-control"], "no-store");
        snapshot!("token_response", tokens, { ".access_token" => "[jwt]", ".refresh_token" => "[refresh]" });
        let access = tokens["access_token"].as_str().unwrap();
        let header = jwt_part(access, 0);
        assert_eq!((header["typ"].as_str(), header["alg"].as_str()), (Some("at+jwt"), Some("EdDSA")));
        let claims = jwt_part(access, 1);
        assert_eq!(claims["iss"], issuer);
        assert_eq!(claims["aud"], flow.resource, "A-RS-8: bound to this resource");
        assert_eq!(claims["client_id"], client.client_id.as_str());
        assert_eq!(claims["scope"], "memories:read memories:write");
        assert!(uuid::Uuid::parse_str(claims["sub"].as_str().unwrap()).is_ok(), "sub is the internal user id");
        assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
        let (_, jwks) = flow.get_json("/.well-known/jwks.json").await;
        assert!(jwks["keys"].as_array().unwrap().iter().any(|k| k["kid"] == header["kid"]));

        let mcp = server.client().with_bearer(access);
        let session = mcp.initialize("2025-06-18").await;
        session.call_tool("add_memory", json!({ "text": "Claude was here" })).await;

        let (status, refreshed) = flow.refresh(&client, tokens["refresh_token"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{refreshed}");
        assert_ne!(refreshed["refresh_token"], tokens["refresh_token"], "A-TK-2: rotated");
        let again = Session::resume(mcp.with_bearer(refreshed["access_token"].as_str().unwrap()), &session.id, &session.version);
        let found = again.call_tool("search_memories", json!({ "query": "Claude" })).await;
        assert_eq!(found["structuredContent"]["memories"][0]["text"], "Claude was here");

        let revoke = flow.http.post(flow.url("/oauth/revoke")).form(&[
            ("token", refreshed["refresh_token"].as_str().unwrap()), ("client_id", &client.client_id),
        ]).send().await.unwrap();
        assert_eq!(revoke.status(), StatusCode::OK);
        let after = again.request("ping", json!({})).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED, "revoking the refresh token revokes its family");
        let (status, body) = flow.refresh(&client, refreshed["refresh_token"].as_str().unwrap()).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    }

    // The pending request and the code live in the store: a restart between the
    // authorization request and sign-in, and between the code and the token
    // exchange, changes nothing.
    async fn restart_in_the_middle_of_the_flow(db) {
        let server = TestServer::memory(&db).await;
        let addr = server.running.local_addr();
        let flow = server.oauth();
        let client = flow.register_public(REDIRECT).await;
        let pkce = Pkce::new();
        let start = flow.get(&flow.authorize_url(&client, &pkce, "s", None), None).await;
        let continue_url = start.location().unwrap();
        server.stop().await;
        let server = TestServer::memory_at(&db, addr).await;
        let page = flow.get(&format!("{continue_url}&mode=sign_up"), None).await;
        assert_eq!(page.status, StatusCode::OK, "the pending request survived the restart");
        let request = page.field("request").unwrap();
        let csrf = page.field("csrf").unwrap();
        let signed = flow.post_form("/oauth/sign-in", &[("request", &request), ("csrf", &csrf), ("action", "sign_up"),
            ("email", "restart@example.com"), ("password", PASSWORD)], None).await;
        let cookie = signed.cookie().unwrap();
        let consent = flow.get(&signed.location().unwrap(), Some(&cookie)).await;
        let csrf = consent.field("csrf").unwrap();
        let back = flow.post_form("/oauth/consent", &[("request", &request), ("csrf", &csrf), ("decision", "allow")], Some(&cookie)).await;
        let code = params(&back.location().unwrap()).remove("code").unwrap();
        server.stop().await;
        let server = TestServer::memory_at(&db, addr).await;
        let (status, tokens) = flow.exchange(&client, &code, &pkce).await;
        assert_eq!(status, StatusCode::OK, "the code survived the restart: {tokens}");
        let session = server.client().with_bearer(tokens["access_token"].as_str().unwrap()).initialize("2025-11-25").await;
        session.call_tool("add_memory", json!({ "text": "after two restarts" })).await;
    }

    // Every WWW-Authenticate variant (A-RS-2, A-RS-5, A-RS-7, A-RS-10).
    async fn www_authenticate_variants(db) {
        let server = gated_server(&db).await;
        let flow = server.oauth();
        let mut seen = serde_json::Map::new();
        let r = init_with(&server, None).await;
        seen.insert("missing_token".into(), json!({ "status": r.status.as_u16(), "header": r.header("www-authenticate") }));
        let r = init_with(&server, Some("not-a-jwt")).await;
        seen.insert("malformed_token".into(), json!({ "status": r.status.as_u16(), "header": r.header("www-authenticate"), "body": r.body() }));
        let r = read_reply(server.client().post().header("authorization", "Basic Zm9vOmJhcg==").json(&initialize_body()).send().await.unwrap()).await;
        seen.insert("not_bearer".into(), json!({ "status": r.status.as_u16(), "header": r.header("www-authenticate") }));
        let expired = mint(&server, json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid(&server).await }), json!({
            "iss": flow.base, "sub": "u", "aud": flow.resource, "client_id": "c", "scope": "", "iat": now() - 7200,
            "exp": now() - 3600, "jti": "j" })).await;
        let r = init_with(&server, Some(&expired)).await;
        seen.insert("expired_token".into(), json!({ "status": r.status.as_u16(), "header": r.header("www-authenticate") }));
        // A token with notes:read only, calling the notes:write tool.
        let client = preregistered("readonly-app", "http://localhost:8888/cb");
        let pkce = Pkce::new();
        let (back, _) = flow.browser(&flow.authorize_url(&client, &pkce, "s", None), "ada@example.com", false).await;
        let (_, tokens) = flow.exchange(&client, &params(&back)["code"], &pkce).await;
        assert_eq!(tokens["scope"], "notes:read", "the client may only have notes:read");
        let session = server.client().with_bearer(tokens["access_token"].as_str().unwrap()).initialize("2025-11-25").await;
        let listed = session.call("tools/list", json!({})).await;
        assert_eq!(listed["tools"].as_array().unwrap().len(), 2, "tools/list shows every tool");
        assert!(session.call_tool("whoami", json!({})).await["content"][0]["text"].as_str().unwrap().contains("readonly-app"));
        let r = session.request("tools/call", json!({ "name": "write_note", "arguments": { "text": "x" } })).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "A-RS-10");
        seen.insert("insufficient_scope".into(), json!({ "status": r.status.as_u16(), "header": r.header("www-authenticate"), "body": r.body() }));
        snapshot!("www_authenticate_variants", seen);
    }

    // Tokens are checked on every request (A-RS-6…A-RS-8): each forgery is 401
    // invalid_token with its reason.
    async fn forged_and_foreign_tokens_are_refused(db) {
        let server = gated_server(&db).await;
        let flow = server.oauth();
        let client = preregistered("trusted-app", "http://127.0.0.1:7777/callback");
        let pkce = Pkce::new();
        let (back, _) = flow.browser(&flow.authorize_url(&client, &pkce, "s", None), "ada@example.com", false).await;
        let (_, tokens) = flow.exchange(&client, &params(&back)["code"], &pkce).await;
        let good = tokens["access_token"].as_str().unwrap().to_string();
        assert_eq!(init_with(&server, Some(&good)).await.status, StatusCode::OK);
        let bob_id = server.store.local_account("bob@example.com").await.unwrap().unwrap().0.id;
        let claims = jwt_part(&good, 1);
        let header = jwt_part(&good, 0);
        let with = |k: &str, v: Value| { let mut c = claims.clone(); c[k] = v; c };
        let other_key = ed25519_dalek::SigningKey::generate(&mut rand_core_os());
        let other_der = { use ed25519_dalek::pkcs8::EncodePrivateKey; other_key.to_pkcs8_der().unwrap().as_bytes().to_vec() };
        let parts: Vec<&str> = good.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(with("sub", json!("someone-else")).to_string()), parts[2]);
        let alg_none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "typ": "at+jwt" }).to_string()), parts[1]);
        // The good token is remembered (resource/verified.rs): near misses of
        // it must not find its entry. The last character of a 64-byte
        // signature in base64url carries two bits (A, Q, g or w): swapped for
        // another of those, the signature still decodes and only differs.
        let mut last_changed = good.clone();
        let last = last_changed.pop().unwrap();
        assert!("AQgw".contains(last), "{good}");
        last_changed.push(if last == 'A' { 'Q' } else { 'A' });
        let cases = vec![
            ("cached token, last byte changed", last_changed),
            ("cached token, a byte appended", format!("{good}A")),
            ("cached token, last byte cut", good[..good.len() - 1].to_string()),
            ("wrong audience", mint(&server, header.clone(), with("aud", json!("https://other.example.com/mcp"))).await),
            ("expired", mint(&server, header.clone(), with("exp", json!(now() - 60))).await),
            ("wrong issuer", mint(&server, header.clone(), with("iss", json!("https://evil.example.com"))).await),
            ("tampered signature", tampered),
            ("alg none", alg_none),
            ("unknown key", sign_raw(&other_der, json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": "not-ours" }), &claims)),
            ("our kid, another key", sign_raw(&other_der, header.clone(), &claims)),
            ("not an access token", mint(&server, json!({ "alg": "EdDSA", "typ": "JWT", "kid": header["kid"] }), claims.clone()).await),
            ("unknown jti", mint(&server, header.clone(), with("jti", json!("never-issued"))).await),
            // Signed with the real key (as someone who copied it could): a
            // real jti under another user, client or more scopes than its grant.
            ("real jti, another user", mint(&server, header.clone(), with("sub", json!(bob_id))).await),
            ("real jti, another client", mint(&server, header.clone(), with("client_id", json!("readonly-app"))).await),
            ("real jti, more scopes", mint(&server, header.clone(), with("scope", json!("notes:read notes:write admin"))).await),
        ];
        let mut reasons = serde_json::Map::new();
        for (case, token) in cases {
            let r = init_with(&server, Some(&token)).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{case}");
            assert_eq!(r.body()["error"], "invalid_token", "{case}");
            reasons.insert(case.into(), r.body()["error_description"].clone());
        }
        snapshot!("token_rejections", reasons);
    }

    // The authorization endpoint (A-AZ-1…A-AZ-3): before the redirect URI is
    // trusted, an error page; after, a redirect with error, state and iss.
    async fn authorization_request_errors(db) {
        let server = gated_server(&db).await;
        let flow = server.oauth();
        let client = preregistered("trusted-app", "http://127.0.0.1:7777/callback");
        let pkce = Pkce::new();
        let good = flow.authorize_url(&client, &pkce, "st", None);
        let tweak = |key: &str, value: Option<&str>| {
            let mut u = url::Url::parse(&good).unwrap();
            let pairs: Vec<(String, String)> = u.query_pairs().filter(|(k, _)| k != key).map(|(k, v)| (k.into(), v.into())).collect();
            let mut q = u.query_pairs_mut();
            q.clear();
            for (k, v) in pairs { q.append_pair(&k, &v); }
            if let Some(v) = value { q.append_pair(key, v); }
            drop(q);
            u.to_string()
        };
        // Pages (no redirect to an untrusted URI).
        for (case, url) in [
            ("unknown client", tweak("client_id", Some("nobody"))),
            ("missing client", tweak("client_id", None)),
            ("redirect mismatch", tweak("redirect_uri", Some("http://127.0.0.1:7777/elsewhere"))),
            ("redirect to another host", tweak("redirect_uri", Some("https://evil.example.com/callback"))),
        ] {
            let page = flow.get(&url, None).await;
            assert_eq!(page.status, StatusCode::BAD_REQUEST, "{case}");
            assert!(page.location().is_none(), "{case}: no redirect");
            assert_eq!(page.headers["x-frame-options"], "DENY");
        }
        // A loopback redirect may change its port (RFC 8252).
        let page = flow.get(&tweak("redirect_uri", Some("http://127.0.0.1:5555/callback")), None).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        // Redirected errors.
        let mut errors = serde_json::Map::new();
        for (case, url) in [
            ("plain PKCE method", tweak("code_challenge_method", Some("plain"))),
            ("no PKCE method", tweak("code_challenge_method", None)),
            ("missing code_challenge", tweak("code_challenge", None)),
            ("malformed code_challenge", tweak("code_challenge", Some("short"))),
            ("token response type", tweak("response_type", Some("token"))),
            ("unknown scope", tweak("scope", Some("notes:read admin"))),
            ("foreign resource", tweak("resource", Some("https://other.example.com/mcp"))),
        ] {
            let page = flow.get(&url, None).await;
            assert_eq!(page.status, StatusCode::SEE_OTHER, "{case}");
            let to = page.location().unwrap();
            assert!(to.starts_with("http://127.0.0.1:7777/callback?"), "{case}: {to}");
            let mut p = params(&to);
            assert_eq!(p.remove("state").as_deref(), Some("st"), "{case}");
            assert_eq!(p.remove("iss").as_deref(), Some(flow.base.as_str()), "{case}");
            errors.insert(case.into(), json!(p.into_iter().collect::<std::collections::BTreeMap<_, _>>()));
        }
        snapshot!("authorization_errors", errors);
        // A parameter given twice is refused.
        let page = flow.get(&format!("{good}&state=again"), None).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST);
    }

    // The token endpoint's errors, each with its exact status and code.
    async fn token_endpoint_errors(db) {
        let settings = quick_oauth();
        let server = TestServer::start_with(&db, gated::app(), settings).await;
        gatehouse::testing::accounts::create_local_user(&server.store, "ada@example.com", PASSWORD).await.unwrap();
        let flow = server.oauth();
        let client = preregistered("trusted-app", "http://127.0.0.1:7777/callback");
        let code_for = |pkce: Pkce| { let flow = flow.clone(); let client = client.clone(); async move {
            let (back, _) = flow.browser(&flow.authorize_url(&client, &pkce, "s", None), "ada@example.com", false).await;
            params(&back).remove("code").unwrap()
        }};
        let mut bodies = serde_json::Map::new();
        let mut expect = |case: &str, status: StatusCode, body: &Value, want_status: StatusCode, want: &str| {
            assert_eq!((status, body["error"].as_str()), (want_status, Some(want)), "{case}: {body}");
            bodies.insert(case.into(), body.clone());
        };

        let pkce = Pkce::new();
        let code = code_for(pkce.clone()).await;
        let (s, b) = flow.exchange(&client, &code, &Pkce::new()).await;
        expect("PKCE mismatch", s, &b, StatusCode::BAD_REQUEST, "invalid_grant");
        let (s, b) = flow.exchange(&client, &code, &pkce).await;
        expect("code used after a failed attempt", s, &b, StatusCode::BAD_REQUEST, "invalid_grant");

        // Code reuse revokes what the first exchange issued.
        let pkce = Pkce::new();
        let code = code_for(pkce.clone()).await;
        let (s, first) = flow.exchange(&client, &code, &pkce).await;
        assert_eq!(s, StatusCode::OK);
        let access = first["access_token"].as_str().unwrap();
        assert_eq!(init_with(&server, Some(access)).await.status, StatusCode::OK);
        let (s, b) = flow.exchange(&client, &code, &pkce).await;
        expect("code reuse", s, &b, StatusCode::BAD_REQUEST, "invalid_grant");
        assert_eq!(init_with(&server, Some(access)).await.status, StatusCode::UNAUTHORIZED, "tokens from a replayed code are revoked");
        let (s, b) = flow.refresh(&client, first["refresh_token"].as_str().unwrap()).await;
        expect("refresh from a replayed code", s, &b, StatusCode::BAD_REQUEST, "invalid_grant");

        let pkce = Pkce::new();
        let code = code_for(pkce.clone()).await;
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let (s, b) = flow.exchange(&client, &code, &pkce).await;
        expect("expired code", s, &b, StatusCode::BAD_REQUEST, "invalid_grant");

        let pkce = Pkce::new();
        let code = code_for(pkce.clone()).await;
        let (s, _, b) = flow.token(&[("grant_type", "authorization_code"), ("code", &code), ("code_verifier", &pkce.verifier),
            ("redirect_uri", "http://127.0.0.1:7777/other"), ("client_id", "trusted-app")]).await;
        expect("redirect_uri mismatch", s, &b, StatusCode::BAD_REQUEST, "invalid_grant");

        let (s, _, b) = flow.token(&[("grant_type", "authorization_code"), ("code", "x"), ("code_verifier", &pkce.verifier), ("client_id", "forgotten-client")]).await;
        expect("unknown client", s, &b, StatusCode::UNAUTHORIZED, "invalid_client");
        let (s, h, b) = flow.token(&[("grant_type", "client_credentials"), ("client_id", "trusted-app")]).await;
        expect("unsupported grant", s, &b, StatusCode::BAD_REQUEST, "unsupported_grant_type");
        assert_eq!(h["cache-control"], "no-store");
        let (s, _, b) = flow.token(&[("client_id", "trusted-app")]).await;
        expect("missing grant_type", s, &b, StatusCode::BAD_REQUEST, "invalid_request");
        let (s, _, b) = flow.token(&[("grant_type", "authorization_code"), ("client_id", "trusted-app")]).await;
        expect("missing code", s, &b, StatusCode::BAD_REQUEST, "invalid_request");
        let r = flow.http.post(flow.url("/oauth/token")).json(&json!({ "grant_type": "authorization_code" })).send().await.unwrap();
        let s = r.status();
        let b: Value = r.json().await.unwrap();
        expect("JSON body", s, &b, StatusCode::BAD_REQUEST, "invalid_request");
        let (s, _, b) = flow.token(&[("grant_type", "authorization_code"), ("code", "x"), ("code_verifier", &pkce.verifier),
            ("client_id", "trusted-app"), ("resource", "https://other.example.com/mcp")]).await;
        expect("foreign resource", s, &b, StatusCode::BAD_REQUEST, "invalid_target");
        snapshot!("token_errors", bodies);
        // Forms are read into typed structs (issue 12, item 10) only after a
        // repeated parameter is refused, in the client's part as elsewhere.
        for (name, form) in [
            ("grant_type", [("grant_type", "authorization_code"), ("grant_type", "refresh_token"), ("client_id", "trusted-app")]),
            ("client_id", [("grant_type", "refresh_token"), ("client_id", "trusted-app"), ("client_id", "other-app")]),
        ] {
            let (s, _, b) = flow.token(&form).await;
            assert_eq!((s, b["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{name}: {b}");
            assert!(b["error_description"].as_str().unwrap().contains(&format!("`{name}`")), "{b}");
        }
    }

    // Refresh rotation (A-TK-2): a concurrent retry within the grace window gets
    // the same new pair; reuse after it revokes the whole family.
    async fn refresh_rotation_and_reuse(db) {
        let server = TestServer::start_with(&db, gated::app(), quick_oauth()).await;
        gatehouse::testing::accounts::create_local_user(&server.store, "ada@example.com", PASSWORD).await.unwrap();
        let flow = server.oauth();
        let client = preregistered("trusted-app", "http://127.0.0.1:7777/callback");
        let pkce = Pkce::new();
        let (back, _) = flow.browser(&flow.authorize_url(&client, &pkce, "s", None), "ada@example.com", false).await;
        let (_, first) = flow.exchange(&client, &params(&back)["code"], &pkce).await;
        let old = first["refresh_token"].as_str().unwrap().to_string();
        let (a, b) = tokio::join!(flow.refresh(&client, &old), flow.refresh(&client, &old));
        assert_eq!((a.0, b.0), (StatusCode::OK, StatusCode::OK), "{} {}", a.1, b.1);
        assert_eq!(a.1["refresh_token"], b.1["refresh_token"], "concurrent retries get the same pair");
        assert_eq!(a.1["access_token"], b.1["access_token"]);
        let newest = a.1["access_token"].as_str().unwrap().to_string();
        assert_eq!(init_with(&server, Some(&newest)).await.status, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let (s, body) = flow.refresh(&client, &old).await;
        assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "reuse after the grace window");
        snapshot!("refresh_reuse", body);
        assert_eq!(init_with(&server, Some(&newest)).await.status, StatusCode::UNAUTHORIZED, "the family is revoked");
        let (s, _) = flow.refresh(&client, a.1["refresh_token"].as_str().unwrap()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    }

    // Registration (RFC 7591): allowlisted https or loopback redirect URIs only;
    // metadata checked; idempotent for public clients.
    async fn registration_rules(db) {
        let server = gated_server(&db).await;
        let flow = server.oauth();
        let base = json!({ "client_name": "x", "redirect_uris": ["http://127.0.0.1:4000/cb"], "token_endpoint_auth_method": "none" });
        let with = |k: &str, v: Value| { let mut m = base.clone(); m[k] = v; m };
        let mut errors = serde_json::Map::new();
        for (case, meta, code) in [
            ("http on a public host", with("redirect_uris", json!(["http://evil.example.com/cb"])), "invalid_redirect_uri"),
            ("https not allowlisted", with("redirect_uris", json!(["https://evil.example.com/cb"])), "invalid_redirect_uri"),
            ("fragment", with("redirect_uris", json!(["http://127.0.0.1:4000/cb#x"])), "invalid_redirect_uri"),
            ("javascript scheme", with("redirect_uris", json!(["javascript:alert(1)"])), "invalid_redirect_uri"),
            ("no redirect URIs", with("redirect_uris", json!([])), "invalid_redirect_uri"),
            ("unknown auth method", with("token_endpoint_auth_method", json!("private_key_jwt")), "invalid_client_metadata"),
            ("implicit grant", with("grant_types", json!(["implicit"])), "invalid_client_metadata"),
            ("refresh without code", with("grant_types", json!(["refresh_token"])), "invalid_client_metadata"),
            ("token response type", with("response_types", json!(["token"])), "invalid_client_metadata"),
            ("unknown scope", with("scope", json!("notes:read admin")), "invalid_client_metadata"),
            ("not an object", json!(["x"]), "invalid_client_metadata"),
        ] {
            let (status, body) = flow.register(meta).await;
            assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some(code)), "{case}: {body}");
            errors.insert(case.into(), body);
        }
        snapshot!("registration_errors", errors);
        let (s1, a) = flow.register(base.clone()).await;
        let (s2, b) = flow.register(base.clone()).await;
        assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
        assert_eq!(a["client_id"], b["client_id"], "re-registering the same metadata is idempotent");
        let (s, confidential) = flow.register(with("token_endpoint_auth_method", json!("client_secret_basic"))).await;
        assert_eq!(s, StatusCode::CREATED);
        assert!(confidential["client_secret"].as_str().is_some_and(|s| s.len() >= 32));
        assert_eq!(confidential["client_secret_expires_at"], 0);
    }

    // Sessions are bound to the token's user (MCP-REQUIREMENTS 4.3): another
    // user's token on that session id gets 404, as if unknown.
    async fn sessions_are_bound_to_users(db) {
        let server = TestServer::memory(&db).await;
        let ada = server.signed_in_client("ada@example.com").await;
        let bob = server.signed_in_client("bob@example.com").await;
        let session = ada.initialize("2025-06-18").await;
        session.call_tool("add_memory", json!({ "text": "Ada's secret" })).await;
        let hijack = Session::resume(bob.clone(), &session.id, &session.version);
        assert_eq!(hijack.request("ping", json!({})).await.status, StatusCode::NOT_FOUND);
        assert_eq!(hijack.get(None).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(hijack.delete().await, StatusCode::NOT_FOUND);
        let bobs = bob.initialize("2025-06-18").await;
        let found = bobs.call_tool("search_memories", json!({ "query": "secret" })).await;
        assert_eq!(found["structuredContent"]["memories"], json!([]), "memories are per user");
        assert_eq!(session.request("ping", json!({})).await.status, StatusCode::OK);
    }

    // The browser pages: no framing, no caching, CSRF-protected forms, cookies
    // HttpOnly and SameSite=Lax; a remembered consent and auto-approval skip the
    // consent page; denying sends access_denied back.
    async fn pages_and_consent(db) {
        let server = gated_server(&db).await;
        let flow = server.oauth();
        let client = flow.register_public(REDIRECT).await;
        let pkce = Pkce::new();
        let start = flow.get(&flow.authorize_url(&client, &pkce, "s1", Some("notes:read")), None).await;
        let page = flow.get(&start.location().unwrap(), None).await;
        assert_eq!(page.status, StatusCode::OK);
        for (h, want) in [("x-frame-options", "DENY"), ("cache-control", "no-store")] {
            assert_eq!(page.headers[h], want);
        }
        assert!(page.headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
        for field in ["name=\"email\"", "name=\"password\"", "type=\"submit\""] {
            assert!(page.html.contains(field), "{field}");
        }
        assert!(!page.html.contains("<script"), "no JavaScript");
        let request = page.field("request").unwrap();
        let csrf = page.field("csrf").unwrap();
        let no_csrf = flow.post_form("/oauth/sign-in", &[("request", &request), ("email", "ada@example.com"), ("password", PASSWORD)], None).await;
        assert_eq!(no_csrf.status, StatusCode::FORBIDDEN, "CSRF token missing");
        let bad_csrf = flow.post_form("/oauth/sign-in", &[("request", &request), ("csrf", "guess"), ("email", "ada@example.com"), ("password", PASSWORD)], None).await;
        assert_eq!(bad_csrf.status, StatusCode::FORBIDDEN);
        let wrong = flow.post_form("/oauth/sign-in", &[("request", &request), ("csrf", &csrf), ("email", "ada@example.com"), ("password", "nope nope nope")], None).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.html.contains("Wrong email or password."));
        let closed = flow.post_form("/oauth/sign-in", &[("request", &request), ("csrf", &csrf), ("action", "sign_up"), ("email", "eve@example.com"), ("password", PASSWORD)], None).await;
        assert_eq!(closed.status, StatusCode::BAD_REQUEST, "sign-up is off in this spec");
        let signed = flow.post_form("/oauth/sign-in", &[("request", &request), ("csrf", &csrf), ("email", "ADA@example.com"), ("password", PASSWORD)], None).await;
        assert_eq!(signed.status, StatusCode::SEE_OTHER);
        let set_cookie = signed.headers["set-cookie"].to_str().unwrap().to_string();
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(set_cookie.contains(attr), "{attr} in {set_cookie}");
        }
        assert!(!set_cookie.contains("Secure") && set_cookie.starts_with("gatehouse_session="), "plain http: no Secure, no __Host-");
        let cookie = signed.cookie().unwrap();
        let consent = flow.get(&signed.location().unwrap(), Some(&cookie)).await;
        assert_eq!(consent.status, StatusCode::OK);
        assert!(consent.html.contains("Test client") && consent.html.contains("127.0.0.1:9999") && consent.html.contains("Read your notes"),
            "the consent page names the client, the redirect host and the scopes");
        let csrf = consent.field("csrf").unwrap();
        let allowed = flow.post_form("/oauth/consent", &[("request", &request), ("csrf", &csrf), ("decision", "allow")], Some(&cookie)).await;
        assert!(params(&allowed.location().unwrap()).contains_key("code"));
        // A native app (a registered public client answered on loopback) is
        // asked every time: any local program can register the same metadata
        // and would otherwise get a code silently (RFC 8252 8.6).
        let again = flow.get(&flow.authorize_url(&client, &Pkce::new(), "s2", Some("notes:read")), None).await;
        let asked_again = flow.get(&again.location().unwrap(), Some(&cookie)).await;
        assert_eq!(asked_again.status, StatusCode::OK, "loopback public clients always see consent");
        assert!(asked_again.html.contains("value=\"allow\""), "{}", asked_again.html);
        // Other clients' consent is remembered: the same scope skips the page.
        let readonly = preregistered("readonly-app", "http://localhost:8888/cb");
        let first = flow.get(&flow.authorize_url(&readonly, &Pkce::new(), "r1", Some("notes:read")), None).await;
        let first = flow.get(&first.location().unwrap(), Some(&cookie)).await;
        assert_eq!(first.status, StatusCode::OK, "asked once");
        let allowed = flow.post_form("/oauth/consent", &[("request", &first.field("request").unwrap()), ("csrf", &first.field("csrf").unwrap()), ("decision", "allow")], Some(&cookie)).await;
        assert!(params(&allowed.location().unwrap()).contains_key("code"));
        let again = flow.get(&flow.authorize_url(&readonly, &Pkce::new(), "r2", Some("notes:read")), None).await;
        let skipped = flow.get(&again.location().unwrap(), Some(&cookie)).await;
        assert_eq!(skipped.status, StatusCode::SEE_OTHER);
        assert!(params(&skipped.location().unwrap()).contains_key("code"), "remembered consent");
        // A wider scope asks again; denying sends access_denied.
        let wider = flow.get(&flow.authorize_url(&client, &Pkce::new(), "s3", Some("notes:read notes:write")), None).await;
        let asked = flow.get(&wider.location().unwrap(), Some(&cookie)).await;
        assert_eq!(asked.status, StatusCode::OK);
        let denied = flow.post_form("/oauth/consent", &[("request", &asked.field("request").unwrap()), ("csrf", &asked.field("csrf").unwrap()), ("decision", "deny")], Some(&cookie)).await;
        let p = params(&denied.location().unwrap());
        assert_eq!((p["error"].as_str(), p["state"].as_str()), ("access_denied", "s3"));
        // Auto-approved: a pre-registered client, and a registration allowlist pattern.
        let trusted = preregistered("trusted-app", "http://127.0.0.1:7777/callback");
        let t = flow.get(&flow.authorize_url(&trusted, &Pkce::new(), "t", None), None).await;
        let t = flow.get(&t.location().unwrap(), Some(&cookie)).await;
        assert_eq!(t.status, StatusCode::SEE_OTHER, "auto_approve skips consent");
        let app = flow.register_public("https://app.example.com/cb").await;
        let a = flow.get(&flow.authorize_url(&app, &Pkce::new(), "a", None), None).await;
        let a = flow.get(&a.location().unwrap(), Some(&cookie)).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "registration auto_approve pattern skips consent");
        // Completed requests cannot be replayed.
        let replay = flow.post_form("/oauth/consent", &[("request", &request), ("csrf", &csrf), ("decision", "allow")], Some(&cookie)).await;
        assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    }

    // Confidential clients (client_secret_basic, client_secret_post), introspection
    // (RFC 7662) and revocation of an access token (RFC 7009).
    async fn confidential_clients_introspection_revocation(db) {
        let server = gated_server(&db).await;
        let flow = server.oauth();
        let backend = gatehouse_tests::oauth::Registered {
            client_id: "backend".into(),
            client_secret: Some(gated::BACKEND_SECRET.into()),
            redirect_uri: "https://backend.example.com/oauth/callback".into(),
            body: Value::Null,
        };
        let pkce = Pkce::new();
        let (back, _) = flow.browser(&flow.authorize_url(&backend, &pkce, "s", None), "bob@example.com", false).await;
        let code = params(&back).remove("code").unwrap();
        let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("code_verifier", pkce.verifier.as_str()),
            ("redirect_uri", "https://backend.example.com/oauth/callback")];
        let r = flow.http.post(flow.url("/oauth/token")).basic_auth("backend", Some("wrong")).form(&form).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"oauth\"");
        let r = flow.http.post(flow.url("/oauth/token")).form(&[form.as_slice(), &[("client_id", "backend")]].concat()).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "a confidential client must authenticate");
        // (Both failed before the code was looked at, so it is still good.)
        let r = flow.http.post(flow.url("/oauth/token")).basic_auth("backend", Some(gated::BACKEND_SECRET)).form(&form).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let tokens: Value = r.json().await.unwrap();
        let access = tokens["access_token"].as_str().unwrap();
        let introspect = |token: &str, auth: (&str, &str)| {
            flow.http.post(flow.url("/oauth/introspect")).form(&[("token", token), ("client_id", auth.0), ("client_secret", auth.1)]).send()
        };
        let active: Value = introspect(access, ("backend", gated::BACKEND_SECRET)).await.unwrap().json().await.unwrap();
        assert_eq!(active["active"], true);
        assert_eq!(active["client_id"], "backend");
        assert_eq!(active["aud"], flow.resource);
        let r = flow.http.post(flow.url("/oauth/introspect")).form(&[("token", access), ("client_id", "trusted-app")]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "introspection is for confidential clients");
        // A client that registered itself with a secret (as Claude does) is
        // confidential too, but not one the operator declared: it learns
        // nothing about other clients' tokens (issue 12).
        let (_, own) = flow.register(json!({ "client_name": "Prober", "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
            "token_endpoint_auth_method": "client_secret_post" })).await;
        let prober = (own["client_id"].as_str().unwrap(), own["client_secret"].as_str().unwrap());
        let r = introspect(access, prober).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
        assert!(body.get("active").is_none() && !body.to_string().contains("bob"), "{body}");
        let r = flow.http.post(flow.url("/oauth/revoke")).basic_auth("backend", Some(gated::BACKEND_SECRET)).form(&[("token", access)]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let inactive: Value = introspect(access, ("backend", gated::BACKEND_SECRET)).await.unwrap().json().await.unwrap();
        assert_eq!(inactive, json!({ "active": false }));
        assert_eq!(init_with(&server, Some(access)).await.status, StatusCode::UNAUTHORIZED);
        let still: Value = introspect(tokens["refresh_token"].as_str().unwrap(), ("backend", gated::BACKEND_SECRET)).await.unwrap().json().await.unwrap();
        assert_eq!(still["active"], true, "revoking an access token leaves the refresh token");
        let r = flow.http.post(flow.url("/oauth/revoke")).form(&[("token", "unknown"), ("client_id", "trusted-app")]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "unknown tokens get 200 (RFC 7009 2.2)");
    }

    // Behind https: the session cookie gets `Secure` and the `__Host-` prefix.
    // CORS: the discovery, token and registration endpoints answer any origin;
    // the authorization endpoint answers none.
    async fn https_cookies_and_cors(db) {
        let server = TestServer::start_public(&db, gated::app(), "https://gated.test").await;
        gatehouse::testing::accounts::create_local_user(&server.store, "ada@example.com", PASSWORD).await.unwrap();
        let mut flow = server.oauth();
        flow.resource = "https://gated.test/mcp".into();
        let (_, meta) = flow.get_json("/.well-known/oauth-authorization-server").await;
        assert_eq!(meta["issuer"], "https://gated.test");
        let client = flow.register_public(REDIRECT).await;
        let start = flow.get(&flow.authorize_url(&client, &Pkce::new(), "s", None), None).await;
        assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.html);
        let page = flow.get(&start.location().unwrap(), None).await;
        let signed = flow.post_form("/oauth/sign-in", &[("request", &page.field("request").unwrap()),
            ("csrf", &page.field("csrf").unwrap()), ("email", "ada@example.com"), ("password", PASSWORD)], None).await;
        let cookie = signed.headers["set-cookie"].to_str().unwrap().to_string();
        assert!(cookie.starts_with("__Host-gatehouse_session="), "{cookie}");
        for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(attr), "{attr} in {cookie}");
        }
        assert!(!cookie.contains("Domain"), "__Host- cookies have no Domain");

        let origin = "https://some-browser-client.example";
        for path in ["/oauth/token", "/oauth/register", "/oauth/revoke", "/.well-known/oauth-authorization-server"] {
            let pre = flow.http.request(reqwest::Method::OPTIONS, flow.url(path)).header("origin", origin)
                .header("access-control-request-method", "POST").send().await.unwrap();
            assert!(pre.status().is_success(), "{path}: {}", pre.status());
            assert_eq!(pre.headers()["access-control-allow-origin"], "*", "{path}");
        }
        let (_, _, _) = flow.token(&[("grant_type", "nope")]).await;
        let meta = flow.http.get(flow.url("/.well-known/oauth-protected-resource")).header("origin", origin).send().await.unwrap();
        assert_eq!(meta.headers()["access-control-allow-origin"], "*");
        let authorize = flow.http.get(flow.authorize_url(&client, &Pkce::new(), "s", None)).header("origin", origin).send().await.unwrap();
        assert!(authorize.headers().get("access-control-allow-origin").is_none(), "no CORS on authorize");
    }

    // Operators: a disabled user's tokens and browser session stop working; a
    // revoked client's tokens too; key rotation keeps old tokens valid.
    async fn operator_actions(db) {
        let server = gated_server(&db).await;
        let flow = server.oauth();
        let trusted = preregistered("trusted-app", "http://127.0.0.1:7777/callback");
        let token = |email: &'static str| { let flow = flow.clone(); let trusted = trusted.clone(); async move {
            let pkce = Pkce::new();
            let (back, _) = flow.browser(&flow.authorize_url(&trusted, &pkce, "s", None), email, false).await;
            let (_, t) = flow.exchange(&trusted, &params(&back)["code"], &pkce).await;
            t["access_token"].as_str().unwrap().to_string()
        }};
        let ada = token("ada@example.com").await;
        let (user, _) = server.store.local_account("ada@example.com").await.unwrap().unwrap();
        server.store.disable_user(&user.id, 0).await.unwrap();
        assert_eq!(init_with(&server, Some(&ada)).await.status, StatusCode::UNAUTHORIZED);
        let bob = token("bob@example.com").await;
        let old_kid = jwt_part(&bob, 0)["kid"].clone();
        let new_kid = gatehouse::testing::keys::rotate(&server.store, None).await.unwrap();
        assert_ne!(json!(new_kid), old_kid);
        assert_eq!(init_with(&server, Some(&bob)).await.status, StatusCode::OK, "tokens of a retired key stay valid");
        server.store.revoke_client("trusted-app", 0).await.unwrap();
        assert_eq!(init_with(&server, Some(&bob)).await.status, StatusCode::UNAUTHORIZED, "a revoked client's tokens stop");
    }
}

fn rand_core_os() -> impl ed25519_dalek::ed25519::signature::rand_core::CryptoRngCore {
    ed25519_dalek::ed25519::signature::rand_core::OsRng
}

backend_tests! {
    // Two replicas on one database, each with its own caches of verified tokens
    // and sessions (issue 5): a token revoked through one, and a session deleted
    // through one, stop working on the other within one second.
    async fn revocation_and_deletion_reach_every_replica_within_a_second(db) {
        let a = TestServer::memory(&db).await;
        // Both replicas serve one public URL, as behind a load balancer (tokens
        // name it as their audience).
        let store = gatehouse::Store::connect(db.url()).await.unwrap();
        let app = memory_server::app(store).await.unwrap();
        let b = TestServer::start_public(&db, app, a.url().trim_end_matches("/mcp")).await;
        let (client, tokens) = a.oauth().sign_up("replicas@example.com", None).await;
        let access = tokens["access_token"].as_str().unwrap();
        let on_a = a.client().with_bearer(access).initialize("2025-11-25").await;
        let on_b = Session::resume(b.client().with_bearer(access), &on_a.id, &on_a.version);
        // Warm B's caches.
        for _ in 0..3 {
            assert_eq!(on_b.request("ping", json!({})).await.status, StatusCode::OK);
        }

        let revoke = a.oauth().http.post(a.oauth().url("/oauth/revoke")).form(&[
            ("token", tokens["refresh_token"].as_str().unwrap()), ("client_id", &client.client_id),
        ]).send().await.unwrap();
        assert_eq!(revoke.status(), StatusCode::OK);
        let (refused, took) = on_b.until_refused("ping", json!({}), Duration::from_secs(3)).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(took < Duration::from_secs(1), "revoked on A, refused by B after {took:?}");

        // A new token; the session is deleted through A; B answers 404 within a second.
        let (_, tokens) = a.oauth().sign_up("replicas-2@example.com", None).await;
        let access = tokens["access_token"].as_str().unwrap();
        let on_a = a.client().with_bearer(access).initialize("2025-11-25").await;
        let on_b = Session::resume(b.client().with_bearer(access), &on_a.id, &on_a.version);
        for _ in 0..3 {
            assert_eq!(on_b.request("ping", json!({})).await.status, StatusCode::OK);
        }
        assert_eq!(on_a.delete().await, StatusCode::OK);
        let (refused, took) = on_b.until_refused("ping", json!({}), Duration::from_secs(3)).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND);
        assert!(took < Duration::from_secs(1), "deleted on A, gone on B after {took:?}");
        a.stop().await;
        b.stop().await;
    }
}
