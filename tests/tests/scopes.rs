//! Scopes on every method that reads or changes data (issue 12; A-RS-10): a
//! token granted only `memories:write` must not read memories through a
//! prompt, a resource or a completion, any more than through a tool. Lists
//! keep showing everything.

use gatehouse_tests::oauth::{PASSWORD, Pkce, params};
use gatehouse_tests::{Session, TestServer, backend_tests};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A session for a new user whose token has exactly `scope`.
async fn session_with(server: &TestServer, email: &str, scope: &str) -> Session {
    let (_, tokens) = server.oauth().sign_up(email, Some(scope)).await;
    assert_eq!(tokens["scope"], scope);
    server
        .client()
        .with_bearer(tokens["access_token"].as_str().unwrap())
        .initialize("2025-11-25")
        .await
}

/// The 403 a request gets, with its challenge.
fn forbidden(reply: &gatehouse_tests::client::Reply, what: &str) -> String {
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{what}: {reply:?}");
    let challenge = reply.header("www-authenticate").unwrap().to_string();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{what}: {challenge}"
    );
    challenge
}

backend_tests! {
    async fn every_method_checks_scopes(db) {
        let server = TestServer::memory(&db).await;
        // The data: a memory of Ada's, written with the write scope.
        let writer = session_with(&server, "ada@example.com", "memories:write").await;
        let added = writer.call_tool("add_memory", json!({ "text": "the spare key is under the blue pot" })).await;
        let id = added["structuredContent"]["id"].as_str().unwrap().to_string();
        let uri = format!("memory://memories/{id}");

        let mut challenges = serde_json::Map::new();
        for (what, method, params) in [
            ("prompts/get", "prompts/get", json!({ "name": "summarize_topic", "arguments": { "topic": "key" } })),
            ("resources/read of a template", "resources/read", json!({ "uri": uri })),
            ("completion of a prompt argument", "completion/complete",
                json!({ "ref": { "type": "ref/prompt", "name": "summarize_topic" }, "argument": { "name": "topic", "value": "k" } })),
            ("completion of a template variable", "completion/complete",
                json!({ "ref": { "type": "ref/resource", "uri": "memory://memories/{id}" }, "argument": { "name": "id", "value": "" } })),
            ("tools/call", "tools/call", json!({ "name": "search_memories", "arguments": { "query": "key" } })),
        ] {
            let reply = writer.request(method, params).await;
            let challenge = forbidden(&reply, what);
            // A-RS-10: every scope the operation needs, the granted ones kept.
            assert!(challenge.contains("scope=\"memories:write memories:read\""), "{what}: {challenge}");
            assert!(!reply.body().to_string().contains("spare key"), "{what}: nothing leaks");
            challenges.insert(what.into(), json!(challenge));
        }
        insta::with_settings!({ filters => vec![(r"127\.0\.0\.1:\d+", "[host]")] }, {
            insta::assert_json_snapshot!("insufficient_scope_per_method", challenges);
        });

        // The lists still show everything, and the static guide needs no scope.
        for list in ["prompts/list", "resources/list", "resources/templates/list", "tools/list"] {
            assert_eq!(writer.request(list, json!({})).await.status, StatusCode::OK, "{list}");
        }
        let guide = writer.call("resources/read", json!({ "uri": "memory://guide" })).await;
        assert!(guide["contents"][0]["text"].is_string());

        // With the read scope, the same requests work (and see Ada's data only
        // when they are Ada's: here another user's token finds nothing).
        let (_, tokens) = server.oauth().sign_up("ada2@example.com", Some("memories:read")).await;
        let reader = server.client().with_bearer(tokens["access_token"].as_str().unwrap()).initialize("2025-11-25").await;
        assert_eq!(reader.request("prompts/get", json!({ "name": "summarize_topic", "arguments": { "topic": "key" } })).await.status, StatusCode::OK);
        let read = reader.request("resources/read", json!({ "uri": uri })).await;
        assert_eq!(read.status, StatusCode::OK);
        assert!(!read.body().to_string().contains("spare key"), "another user's memory stays theirs: {:?}", read.body());
        let completed = reader.call("completion/complete",
            json!({ "ref": { "type": "ref/prompt", "name": "summarize_topic" }, "argument": { "name": "topic", "value": "k" } })).await;
        assert!(completed["completion"]["values"].is_array());
    }

    // A server-wide default applies to whatever names no scopes; `scopes: []`
    // opts out (the gated server: `default_scopes: [notes:read]`).
    async fn default_scopes_apply(db) {
        let server = TestServer::start(&db, gatehouse_tests::gated::app()).await;
        gatehouse::testing::accounts::create_local_user(&server.store, "ada@example.com", PASSWORD).await.unwrap();
        let flow = server.oauth();
        let client = flow.register_public("http://127.0.0.1:4000/cb").await;
        let pkce = Pkce::new();
        let (back, _) = flow.browser(&flow.authorize_url(&client, &pkce, "s", Some("notes:write")), "ada@example.com", false).await;
        let (_, tokens) = flow.exchange(&client, &params(&back)["code"], &pkce).await;
        let session = server.client().with_bearer(tokens["access_token"].as_str().unwrap()).initialize("2025-11-25").await;
        let challenge = forbidden(&session.request("prompts/get", json!({ "name": "note_prompt" })).await, "prompt under the default");
        assert!(challenge.contains("scope=\"notes:write notes:read\""), "{challenge}");
        forbidden(&session.request("resources/read", json!({ "uri": "notes://private" })).await, "resource under the default");
        forbidden(&session.request("resources/subscribe", json!({ "uri": "notes://private" })).await, "subscribing needs the read scope too");
        assert_eq!(session.request("resources/unsubscribe", json!({ "uri": "notes://private" })).await.status, StatusCode::OK, "unsubscribing needs nothing");
        let public = session.call("resources/read", json!({ "uri": "notes://public" })).await;
        assert_eq!(public["contents"][0]["text"], "anyone may read this");
        // Unknown names are the method's own errors, not scope errors.
        let unknown = session.request("prompts/get", json!({ "name": "nope" })).await;
        assert_eq!(unknown.status, StatusCode::OK);
        assert_eq!(unknown.body()["error"]["code"], -32602);
        let _: Value = json!(null);
    }
}
