//! Server features over real HTTP, on every backend: tools (listing with generated
//! schemas, calls, errors, version shaping, pagination), prompts, resources and
//! completion (MCP-REQUIREMENTS 3.5–3.8).

use gatehouse::Settings;
use gatehouse_tests::{TestServer, backend_tests, testkit};
use reqwest::StatusCode;
use serde_json::json;

fn error_code(reply: &gatehouse_tests::client::Reply) -> i64 {
    reply.body()["error"]["code"].as_i64().unwrap_or_default()
}

backend_tests! {
    // tools/list per version: the generated input and output schemas; `title` and
    // `outputSchema` only from 2025-06-18 (section 5 item 9).
    async fn tools_list_per_version(db) {
        let server = TestServer::testkit(&db).await;
        for version in ["2025-03-26", "2025-06-18"] {
            let session = server.client().initialize(version).await;
            let result = session.call("tools/list", json!({})).await;
            assert!(result.get("nextCursor").is_none());
            insta::assert_json_snapshot!(format!("tools_list_{}", version.replace('-', "_")), result);
        }
        let newest = server.client().initialize("2025-11-25").await;
        let old = server.client().initialize("2025-06-18").await;
        assert_eq!(newest.call("tools/list", json!({})).await, old.call("tools/list", json!({})).await);
    }

    // Pagination (3.5): opaque cursors walk the whole list; a bad cursor is -32602.
    async fn list_pagination(db) {
        let settings = Settings { page_size: 5, ..Settings::default() };
        let server = TestServer::start_with(&db, testkit::app(), settings).await;
        let session = server.client().initialize("2025-11-25").await;
        let mut names = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let params = match &cursor { Some(c) => json!({ "cursor": c }), None => json!({}) };
            let result = session.call("tools/list", params).await;
            let tools = result["tools"].as_array().unwrap();
            assert!(tools.len() <= 5);
            names.extend(tools.iter().map(|t| t["name"].as_str().unwrap().to_string()));
            pages += 1;
            match result.get("nextCursor") {
                Some(c) => cursor = Some(c.as_str().unwrap().to_string()),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(names.len(), 14);
        let reply = session.request("prompts/list", json!({ "cursor": "not-ours" })).await;
        assert_eq!(error_code(&reply), -32602);
    }

    // tools/call: typed arguments with defaults, structured output with its JSON
    // text; input validation failures are isError results for 2025-11-25 and
    // -32602 before (SEP-1303); unknown tools are -32602.
    async fn tool_calls_and_argument_errors(db) {
        let server = TestServer::testkit(&db).await;
        let new = server.client().initialize("2025-11-25").await;
        let result = new.call_tool("kinds", json!({ "s": "hi", "camelCase": "c", "type": "t",
            "point": { "x": 1 }, "tags": ["a", "b"], "e": "high", "n": 1.25 })).await;
        insta::assert_json_snapshot!("kinds_result", result);
        let result = new.call_tool("kinds", json!({ "s": "defaults" })).await;
        assert_eq!(result["structuredContent"]["summary"],
            "s=defaults i=3 n=None b=false e=low tags=None point=None camelCase=None type=None");

        let mut invalid = Vec::new();
        for args in [
            json!({}),
            json!({ "s": "x" }),
            json!({ "s": "ok", "i": 11 }),
            json!({ "s": "ok", "e": "medium" }),
            json!({ "s": "ok", "tags": ["1", "2", "3", "4"] }),
            json!({ "s": "ok", "point": { "y": 2 } }),
            json!({ "s": "ok", "surprise": true }),
            json!({ "s": 5 }),
            json!("not an object"),
        ] {
            let result = new.call_tool("kinds", args.clone()).await;
            assert_eq!(result["isError"], true, "{args}");
            invalid.push(json!({ "arguments": args, "result": result }));
        }
        insta::assert_json_snapshot!("kinds_invalid_arguments_2025_11_25", invalid);

        let old = server.client().initialize("2025-06-18").await;
        let reply = old.request("tools/call", json!({ "name": "kinds", "arguments": { "s": "x" } })).await;
        assert_eq!(reply.status, StatusCode::OK);
        insta::assert_json_snapshot!("kinds_invalid_arguments_2025_06_18", reply.body());

        for params in [json!({ "name": "nope" }), json!({ "arguments": {} }), json!({ "name": 7 })] {
            let reply = new.request("tools/call", params.clone()).await;
            assert_eq!(error_code(&reply), -32602, "{params}");
        }
        let reply = new.request("tools/call", json!({ "name": "nope" })).await;
        insta::assert_json_snapshot!("unknown_tool", reply.body());
    }

    // Execution errors are isError results the model can read; internal errors
    // are isError without their detail; a panic is -32603 and the server lives on.
    async fn tool_failures(db) {
        let server = TestServer::testkit(&db).await;
        let session = server.client().initialize("2025-11-25").await;
        let fail = session.call_tool("fail", json!({})).await;
        insta::assert_json_snapshot!("tool_failed", fail);
        let crash = session.call_tool("crash", json!({})).await;
        assert_eq!(crash["isError"], true);
        assert!(!crash.to_string().contains("secret"), "internal detail must not leak: {crash}");
        insta::assert_json_snapshot!("tool_internal_error", crash);
        let reply = session.request("tools/call", json!({ "name": "explode" })).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(error_code(&reply), -32603);
        insta::assert_json_snapshot!("tool_panicked", reply.body());
        assert_eq!(session.call("ping", json!({})).await, json!({}), "still serving");
    }

    // Result shapes per version: resource_link (2025-06-18+) becomes text for
    // 2025-03-26; structuredContent only from 2025-06-18.
    async fn tool_results_per_version(db) {
        let server = TestServer::testkit(&db).await;
        let old = server.client().initialize("2025-03-26").await;
        let new = server.client().initialize("2025-06-18").await;
        let old_link = old.call_tool("link", json!({})).await;
        let new_link = new.call_tool("link", json!({})).await;
        insta::assert_json_snapshot!("link_2025_03_26", old_link);
        insta::assert_json_snapshot!("link_2025_06_18", new_link);
        let old_kinds = old.call_tool("kinds", json!({ "s": "ab" })).await;
        assert!(old_kinds.get("structuredContent").is_none());
        let new_kinds = new.call_tool("kinds", json!({ "s": "ab" })).await;
        assert!(new_kinds.get("structuredContent").is_some());
    }

    // Prompts (3.8): listing, rendering with arguments (and handler variables),
    // and -32602 for unknown prompts and bad arguments.
    async fn prompts(db) {
        let server = TestServer::testkit(&db).await;
        let session = server.client().initialize("2025-06-18").await;
        insta::assert_json_snapshot!("prompts_list", session.call("prompts/list", json!({})).await);
        let greet = session.call("prompts/get", json!({ "name": "greet", "arguments": { "name": "Ada", "mood": "cheerful" } })).await;
        insta::assert_json_snapshot!("prompt_greet", greet);
        let greet = session.call("prompts/get", json!({ "name": "greet", "arguments": { "name": "Ada" } })).await;
        assert_eq!(greet["messages"][0]["content"]["text"], "Hello Ada!");
        let convo = session.call("prompts/get", json!({ "name": "conversation", "arguments": { "who": "Bo" } })).await;
        let roles: Vec<&str> = convo["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["user", "assistant"]);
        assert_eq!(convo["messages"][1]["content"]["text"], "Hello, Bo.");
        let counted = session.call("prompts/get", json!({ "name": "counted", "arguments": { "word": "gatehouse" } })).await;
        assert_eq!(counted["messages"][0]["content"]["text"], "gatehouse has 9 letters.");

        let mut errors = Vec::new();
        for params in [
            json!({ "name": "nope" }),
            json!({ "name": "greet" }),
            json!({ "name": "greet", "arguments": { "name": "A", "extra": "x" } }),
            json!({ "name": "greet", "arguments": { "name": 5 } }),
            json!({ "name": "greet", "arguments": ["A"] }),
        ] {
            let reply = session.request("prompts/get", params.clone()).await;
            assert_eq!(error_code(&reply), -32602, "{params}");
            errors.push(reply.body()["error"].clone());
        }
        insta::assert_json_snapshot!("prompt_errors", errors);
        // 2025-03-26 knows no titles.
        let old = server.client().initialize("2025-03-26").await;
        let listed = old.call("prompts/list", json!({})).await;
        assert!(listed["prompts"].as_array().unwrap().iter().all(|p| p.get("title").is_none()));
    }

    // Resources (3.7): static text, embedded binary file, handler, templates;
    // -32002 with the URI for what does not exist; -32602 for a malformed URI.
    async fn resources(db) {
        let server = TestServer::testkit(&db).await;
        let session = server.client().initialize("2025-11-25").await;
        insta::assert_json_snapshot!("resources_list", session.call("resources/list", json!({})).await);
        insta::assert_json_snapshot!("resource_templates_list", session.call("resources/templates/list", json!({})).await);
        let readme = session.call("resources/read", json!({ "uri": "test://readme" })).await;
        assert_eq!(readme, json!({ "contents": [{ "uri": "test://readme", "mimeType": "text/plain", "text": "Read me." }] }));
        let pixel = session.call("resources/read", json!({ "uri": "test://pixel.png" })).await;
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(pixel["contents"][0]["blob"].as_str().expect("binary files are blobs")).unwrap();
        assert_eq!(bytes, std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/specs/pixel.png")).unwrap());
        let clock = session.call("resources/read", json!({ "uri": "test://clock" })).await;
        assert_eq!(clock["contents"][0]["text"], "tick");
        let item = session.call("resources/read", json!({ "uri": "test://items/a%20b" })).await;
        assert_eq!(item["contents"][0]["text"], json!({ "id": "a b" }).to_string(), "variables are percent-decoded");

        for uri in ["test://nothing", "test://items/missing", "test://items/1/extra"] {
            let reply = session.request("resources/read", json!({ "uri": uri })).await;
            assert_eq!(error_code(&reply), -32002, "{uri}");
            assert_eq!(reply.body()["error"]["data"]["uri"], uri);
        }
        let reply = session.request("resources/read", json!({ "uri": "test://nothing" })).await;
        insta::assert_json_snapshot!("resource_not_found", reply.body());
        for params in [json!({ "uri": "no scheme" }), json!({}), json!({ "uri": 1 })] {
            let reply = session.request("resources/read", params.clone()).await;
            assert_eq!(error_code(&reply), -32602, "{params}");
        }
    }

    // completion/complete (3.5): a prompt argument's `values` filtered by prefix,
    // a template variable through the handler; bad references are -32602.
    async fn completion(db) {
        let server = TestServer::testkit(&db).await;
        let session = server.client().initialize("2025-06-18").await;
        let names = session.call("completion/complete", json!({
            "ref": { "type": "ref/prompt", "name": "greet" },
            "argument": { "name": "name", "value": "al" } })).await;
        assert_eq!(names, json!({ "completion": { "values": ["Alice", "alfred"], "total": 2, "hasMore": false } }));
        let ids = session.call("completion/complete", json!({
            "ref": { "type": "ref/resource", "uri": "test://items/{id}" },
            "argument": { "name": "id", "value": "ap" },
            "context": { "arguments": {} } })).await;
        assert_eq!(ids["completion"]["values"], json!(["apple", "apricot"]));
        for params in [
            json!({ "ref": { "type": "ref/prompt", "name": "nope" }, "argument": { "name": "x", "value": "" } }),
            json!({ "ref": { "type": "ref/prompt", "name": "greet" }, "argument": { "name": "nope", "value": "" } }),
            json!({ "ref": { "type": "ref/tool", "name": "echo" }, "argument": { "name": "x", "value": "" } }),
            json!({ "ref": { "type": "ref/resource", "uri": "test://unknown/{x}" }, "argument": { "name": "x", "value": "" } }),
            json!({ "ref": { "type": "ref/prompt", "name": "greet" } }),
        ] {
            let reply = session.request("completion/complete", params.clone()).await;
            assert_eq!(error_code(&reply), -32602, "{params}");
        }
    }
}

backend_tests! {
    // resources/subscribe and unsubscribe (3.7): a subscribed session gets
    // notifications/resources/updated on its GET stream when a tool says the
    // resource changed, an unsubscribed one stops getting them; resources that do
    // not allow it are -32602, unknown ones -32002; the capability is declared.
    async fn resource_subscriptions(db) {
        use std::time::Duration;
        let server = TestServer::testkit(&db).await;
        let watcher = server.client().initialize("2025-11-25").await;
        let other = server.client().initialize("2025-11-25").await;
        assert_eq!(watcher.initialize["result"]["capabilities"]["resources"]["subscribe"], true);

        let reply = watcher.request("resources/subscribe", json!({ "uri": "test://readme" })).await;
        assert_eq!(error_code(&reply), -32602, "readme does not allow subscriptions");
        let reply = watcher.request("resources/subscribe", json!({ "uri": "test://nowhere" })).await;
        assert_eq!(error_code(&reply), -32002);
        assert_eq!(watcher.call("resources/subscribe", json!({ "uri": "test://watched" })).await, json!({}));
        // Subscribing twice is harmless.
        assert_eq!(watcher.call("resources/subscribe", json!({ "uri": "test://watched" })).await, json!({}));

        let mut stream = watcher.stream(None).await;
        let mut other_stream = other.stream(None).await;
        other.call_tool("touch", json!({ "uri": "test://watched" })).await;
        let updates = |events: Vec<gatehouse_tests::SseEvent>| -> Vec<serde_json::Value> {
            events.iter()
                .filter_map(|e| e.data.as_deref().filter(|d| !d.is_empty()))
                .map(|d| serde_json::from_str::<serde_json::Value>(d).unwrap())
                .collect()
        };
        let got = updates(stream.rest(Duration::from_millis(500)).await);
        assert_eq!(got, vec![json!({ "jsonrpc": "2.0", "method": "notifications/resources/updated", "params": { "uri": "test://watched" } })]);
        assert!(updates(other_stream.rest(Duration::from_millis(200)).await).is_empty(), "only subscribers are told");

        assert_eq!(watcher.call("resources/unsubscribe", json!({ "uri": "test://watched" })).await, json!({}));
        other.call_tool("touch", json!({ "uri": "test://watched" })).await;
        assert!(updates(stream.rest(Duration::from_millis(500)).await).is_empty(), "unsubscribed");

        // A deleted session's subscriptions go with it.
        assert_eq!(other.call("resources/subscribe", json!({ "uri": "test://watched" })).await, json!({}));
        assert_eq!(server.store.subscribers("test://watched").await.unwrap().len(), 1);
        assert_eq!(other.delete().await, StatusCode::OK);
        assert!(server.store.subscribers("test://watched").await.unwrap().is_empty());
    }
}
