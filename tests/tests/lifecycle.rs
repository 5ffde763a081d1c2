//! The MCP lifecycle and JSON-RPC rules (L-*), over real HTTP, on every backend.

use gatehouse_tests::{TestServer, backend_tests};
use reqwest::StatusCode;
use serde_json::json;

backend_tests! {
    // L-5, L-6: each supported version is answered with itself; the result's shape
    // follows the version (title from 2025-06-18, description/websiteUrl from
    // 2025-11-25; MCP-REQUIREMENTS section 5 item 9).
    async fn initialize_per_version(db) {
        let server = TestServer::testkit(&db).await;
        let client = server.client();
        for version in ["2025-03-26", "2025-06-18", "2025-11-25"] {
            let session = client.initialize(version).await;
            assert_eq!(session.version, version, "L-6: a supported version is echoed");
            // T-18: visible ASCII only.
            assert!(session.id.bytes().all(|b| (0x21..=0x7e).contains(&b)));
            insta::assert_json_snapshot!(format!("initialize_{}", version.replace('-', "_")), session.initialize);
        }
    }

    // L-6: an unknown version gets the server's latest, not an error.
    async fn negotiates_unknown_versions_to_latest(db) {
        let server = TestServer::testkit(&db).await;
        for requested in ["2024-11-05", "1999-01-01", "latest"] {
            let session = server.client().initialize(requested).await;
            assert_eq!(session.version, "2025-11-25");
        }
    }

    // L-5: initialize params are validated; a bad initialize is a JSON-RPC error
    // with HTTP 200: a 400/404/405 would send clients to the legacy HTTP+SSE
    // transport (T-29, section 5 item 14), which this server does not offer.
    async fn rejects_malformed_initialize(db) {
        let server = TestServer::testkit(&db).await;
        let client = server.client();
        let mut cases = Vec::new();
        for params in [
            json!({ "capabilities": {}, "clientInfo": { "name": "x", "version": "1" } }),
            json!({ "protocolVersion": 20250618, "clientInfo": { "name": "x", "version": "1" } }),
            json!({ "protocolVersion": "2025-06-18", "capabilities": {} }),
            json!({ "protocolVersion": "2025-06-18", "capabilities": [], "clientInfo": { "name": "x" } }),
        ] {
            let reply = client.send(json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params })).await;
            assert_eq!(reply.status, StatusCode::OK);
            assert!(reply.header("mcp-session-id").is_none(), "no session for a failed initialize");
            assert_eq!(reply.body()["error"]["code"], -32602);
            cases.push(reply.body().clone());
        }
        insta::assert_json_snapshot!("malformed_initialize", cases);
    }

    // L-7: notifications/initialized is accepted with 202 and no body; ping
    // answers {} at any time.
    async fn initialized_and_ping(db) {
        let server = TestServer::testkit(&db).await;
        let session = server.client().initialize("2025-06-18").await;
        let reply = session.send(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" })).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        assert!(reply.text.is_empty());
        assert_eq!(session.call("ping", json!({})).await, json!({}));
        let reply = session.send(json!({ "jsonrpc": "2.0", "id": "p", "method": "ping" })).await;
        assert_eq!(reply.body(), &json!({ "jsonrpc": "2.0", "id": "p", "result": {} }));
    }

    // L-1: string and integer ids are echoed exactly; notifications (any method)
    // are never answered.
    async fn ids_are_echoed_and_notifications_unanswered(db) {
        let server = TestServer::testkit(&db).await;
        let session = server.client().initialize("2025-11-25").await;
        for id in [json!(7), json!("seven"), json!(-1), json!("")] {
            let reply = session.send(json!({ "jsonrpc": "2.0", "id": id, "method": "ping" })).await;
            assert_eq!(reply.body()["id"], id);
        }
        for method in ["notifications/roots/list_changed", "notifications/unknown", "ping"] {
            let reply = session.send(json!({ "jsonrpc": "2.0", "method": method })).await;
            assert_eq!(reply.status, StatusCode::ACCEPTED, "{method}");
            assert!(reply.text.is_empty());
        }
    }

    // L-1, 3.4: every malformed message gets its exact JSON-RPC code; L-2: when
    // the id cannot be read, a 2025-11-25 error omits it.
    async fn malformed_messages_get_exact_codes(db) {
        let server = TestServer::testkit(&db).await;
        let session = server.client().initialize("2025-11-25").await;
        let mut seen = Vec::new();
        let cases = [
            (json!({ "jsonrpc": "2.0", "id": 1, "method": "no/such/method" }), -32601),
            (json!({ "jsonrpc": "1.0", "id": 2, "method": "ping" }), -32600),
            (json!({ "jsonrpc": "2.0", "id": null, "method": "ping" }), -32600),
            (json!({ "jsonrpc": "2.0", "id": 3.5, "method": "ping" }), -32600),
            (json!({ "jsonrpc": "2.0", "id": 4, "method": 42 }), -32600),
            (json!({ "jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": "x" }), -32600),
            (json!({ "jsonrpc": "2.0", "id": 6, "method": "tools/list", "params": [1] }), -32602),
            (json!({ "jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": { "cursor": "bogus" } }), -32602),
            (json!({ "jsonrpc": "2.0", "id": 8, "method": "tools/list", "params": { "cursor": 5 } }), -32602),
            (json!({ "jsonrpc": "2.0", "id": 9, "method": "logging/setLevel", "params": { "level": "loud" } }), -32602),
            (json!("just a string"), -32600),
            (json!({ "jsonrpc": "2.0", "id": 11 }), -32600),
        ];
        for (message, code) in cases {
            let reply = session.send(message.clone()).await;
            let body = reply.body();
            assert_eq!(body["error"]["code"], code, "{message} → {body}");
            seen.push(json!({ "sent": message, "status": reply.status.as_u16(), "got": body }));
        }
        insta::assert_json_snapshot!("malformed_messages", seen);
    }

    // Operations: /healthz answers when the store does; every response carries a
    // request id (the caller's, when sane), the id of its tracing span.
    async fn health_and_request_ids(db) {
        let server = TestServer::testkit(&db).await;
        let base = server.url().trim_end_matches("/mcp").to_string();
        let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        assert_eq!(health.text().await.unwrap(), "ok");
        let client = server.client();
        let reply = client.post().header("x-request-id", "trace-me-42")
            .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "ping" })).send().await.unwrap();
        assert_eq!(reply.headers()["x-request-id"], "trace-me-42");
        let reply = client.post().header("x-request-id", "has spaces")
            .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "ping" })).send().await.unwrap();
        let id = reply.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(id.len(), 32, "a generated id replaces an unusable one: {id}");
    }

    // 3.5 logging: setLevel answers {} and filters what tools log.
    async fn logging_set_level_filters_messages(db) {
        let server = TestServer::testkit(&db).await;
        let session = server.client().initialize("2025-11-25").await;
        let levels = |reply: &gatehouse_tests::client::Reply| -> Vec<String> {
            reply.messages.iter()
                .filter(|m| m["method"] == "notifications/message")
                .map(|m| m["params"]["level"].as_str().unwrap().to_string())
                .collect()
        };
        // Before any setLevel: warning and above.
        let reply = session.request("tools/call", json!({ "name": "log" })).await;
        assert_eq!(levels(&reply), ["warning", "error", "critical", "alert", "emergency"]);
        assert_eq!(session.call("logging/setLevel", json!({ "level": "debug" })).await, json!({}));
        let reply = session.request("tools/call", json!({ "name": "log" })).await;
        assert_eq!(levels(&reply).len(), 8);
        let first = reply.messages.iter().find(|m| m["method"] == "notifications/message").unwrap();
        assert_eq!(first["params"], json!({ "level": "debug", "logger": "testkit", "data": { "level": "debug" } }));
        assert_eq!(session.call("logging/setLevel", json!({ "level": "error" })).await, json!({}));
        let reply = session.request("tools/call", json!({ "name": "log" })).await;
        assert_eq!(levels(&reply), ["error", "critical", "alert", "emergency"]);
        // The response itself is last on the stream.
        assert_eq!(reply.body()["result"]["content"][0]["text"], "logged");
    }
}
