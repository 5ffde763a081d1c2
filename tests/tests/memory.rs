//! The memory server, driven the way a client would, on every backend.

use gatehouse_tests::{TestServer, backend_tests};
use serde_json::{Value, json};

fn memories(result: &Value) -> Vec<String> {
    result["structuredContent"]["memories"]
        .as_array()
        .expect("a memories array")
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}

backend_tests! {
    // The generated input and output schemas of the memory tools, pinned.
    async fn memory_tools_list(db) {
        let server = TestServer::memory(&db).await;
        let session = server.signed_in_client("ada@example.com").await.initialize("2025-11-25").await;
        let tools = session.call("tools/list", json!({})).await;
        insta::assert_json_snapshot!("memory_tools_list", tools);
    }

    // add → search (ranked full text) → list (newest first, paginated) → delete.
    async fn remember_search_list_forget(db) {
        let server = TestServer::memory(&db).await;
        let session = server.signed_in_client("ada@example.com").await.initialize("2025-06-18").await;
        let texts = [
            "I drink green tea every morning",
            "My favourite tea is oolong; I dislike coffee",
            "The cat is called Miso",
            "Tea, tea and more tea: I collect tea pots",
        ];
        let mut ids = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            let result = session.call_tool("add_memory", json!({ "text": t, "tags": [format!("t{i}")] })).await;
            let out = &result["structuredContent"];
            assert_eq!(out["id"].as_str().unwrap().len(), 32);
            assert!(out["created_at"].as_str().unwrap().ends_with('Z'));
            ids.push(out["id"].as_str().unwrap().to_string());
            // Distinct timestamps keep the newest-first order deterministic.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let found = session.call_tool("search_memories", json!({ "query": "tea" })).await;
        let found = memories(&found);
        assert_eq!(found.len(), 3);
        assert_eq!(found[0], texts[3], "the densest match ranks first");
        assert!(!found.contains(&texts[2].to_string()));
        let found = session.call_tool("search_memories", json!({ "query": "Miso cat", "limit": 1 })).await;
        assert_eq!(memories(&found), [texts[2]]);
        let found = session.call_tool("search_memories", json!({ "query": "\"unbalanced OR (" })).await;
        assert!(memories(&found).is_empty(), "FTS syntax in queries is harmless");

        let page1 = session.call_tool("list_memories", json!({ "limit": 3 })).await;
        assert_eq!(memories(&page1), [texts[3], texts[2], texts[1]]);
        let cursor = page1["structuredContent"]["next_cursor"].as_str().expect("a next page").to_string();
        let page2 = session.call_tool("list_memories", json!({ "limit": 3, "cursor": cursor })).await;
        assert_eq!(memories(&page2), [texts[0]]);
        assert!(page2["structuredContent"].get("next_cursor").is_none());
        let bad = session.call_tool("list_memories", json!({ "cursor": "nonsense" })).await;
        assert_eq!(bad["isError"], true);

        let gone = session.call_tool("delete_memory", json!({ "id": ids[2] })).await;
        assert_eq!(gone["structuredContent"]["deleted"], true);
        let again = session.call_tool("delete_memory", json!({ "id": ids[2] })).await;
        assert_eq!(again["structuredContent"]["deleted"], false);
        let found = session.call_tool("search_memories", json!({ "query": "Miso" })).await;
        assert!(memories(&found).is_empty(), "deleted memories leave the index");
    }

    // The memory resource template, the guide resource, the prompt and completion
    // of its topic from the stored tags.
    async fn resources_prompt_and_completion(db) {
        let server = TestServer::memory(&db).await;
        let session = server.signed_in_client("ada@example.com").await.initialize("2025-11-25").await;
        let added = session.call_tool("add_memory", json!({ "text": "Prefers window seats", "tags": ["travel", "trains"] })).await;
        let id = added["structuredContent"]["id"].as_str().unwrap();
        let read = session.call("resources/read", json!({ "uri": format!("memory://memories/{id}") })).await;
        let body: Value = serde_json::from_str(read["contents"][0]["text"].as_str().unwrap()).unwrap();
        assert_eq!(body["text"], "Prefers window seats");
        assert_eq!(read["contents"][0]["mimeType"], "application/json");
        let missing = session.request("resources/read", json!({ "uri": "memory://memories/nope" })).await;
        assert_eq!(missing.body()["error"]["code"], -32002);
        let guide = session.call("resources/read", json!({ "uri": "memory://guide" })).await;
        assert!(guide["contents"][0]["text"].as_str().unwrap().starts_with("# Memory"));

        let prompt = session.call("prompts/get", json!({ "name": "summarize_topic", "arguments": { "topic": "window" } })).await;
        let text = prompt["messages"][0]["content"]["text"].as_str().unwrap();
        assert!(text.contains("- Prefers window seats (tags: travel, trains)"), "{text}");
        let empty = session.call("prompts/get", json!({ "name": "summarize_topic", "arguments": { "topic": "opera" } })).await;
        assert!(empty["messages"][0]["content"]["text"].as_str().unwrap().contains("(nothing yet)"));

        let completion = session.call("completion/complete", json!({
            "ref": { "type": "ref/prompt", "name": "summarize_topic" },
            "argument": { "name": "topic", "value": "tr" } })).await;
        assert_eq!(completion["completion"]["values"], json!(["trains", "travel"]));
    }

    // Sessions and memories outlive the server process (restart on one store).
    async fn restart_keeps_sessions_and_memories(db) {
        let server = TestServer::memory(&db).await;
        let session = server.signed_in_client("ada@example.com").await.initialize("2025-06-18").await;
        session.call_tool("add_memory", json!({ "text": "Survives restarts" })).await;
        let (id, version) = (session.id.clone(), session.version.clone());
        let addr = server.running.local_addr();
        server.stop().await;

        let server = TestServer::memory_at(&db, addr).await;
        // The signing keys and the token's grant are in the store too.
        let bearer = session.client.bearer.clone().unwrap();
        let resumed = gatehouse_tests::Session::resume(server.client().with_bearer(&bearer), &id, &version);
        let found = resumed.call_tool("search_memories", json!({ "query": "restarts" })).await;
        assert_eq!(memories(&found), ["Survives restarts"]);
    }
}
