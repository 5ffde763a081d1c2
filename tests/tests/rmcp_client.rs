//! rmcp 3.11, the official Rust SDK, as a real client (issue 13's proof):
//! against the memory server with an OAuth token in its `Auto` lifecycle (it
//! probes `server/discover` and must end on 2026-07-28, not fall back) and in
//! its legacy `initialize` lifecycle; and, without sign-in, against the test
//! kit's `introduce` tool, which asks the person twice: in a session the
//! questions arrive as requests on the call's stream, in 2026-07-28 as
//! `InputRequiredResult`s that rmcp answers through the same handler and
//! retries with.

use gatehouse_tests::{TestServer, backend_tests};
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction, Implementation, ProtocolVersion,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RequestContext, RoleClient};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, ErrorData};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// A person at an rmcp client: answers a name, then a colour, and remembers
/// what they were asked.
#[derive(Clone, Default)]
struct Person {
    asked: Arc<Mutex<Vec<String>>>,
}

impl ClientHandler for Person {
    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let ElicitRequestParams::FormElicitationParams { message, .. } = request else {
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        };
        let answer = if message.contains("name") {
            json!({ "name": "Ada" })
        } else {
            json!({ "colour": "teal" })
        };
        self.asked.lock().unwrap().push(message);
        Ok(ElicitResult::new(ElicitationAction::Accept).with_content(answer))
    }

    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        capabilities.elicitation = Some(Default::default());
        ClientConfig::new(
            capabilities,
            Implementation::new("gatehouse-rmcp-test", "1.0.0"),
        )
    }
}

fn config(url: &str, token: Option<&str>) -> StreamableHttpClientTransportConfig {
    // rmcp's reqwest is built without a crypto provider of its own.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_string());
    match token {
        Some(t) => config.auth_header(t.to_string()),
        None => config,
    }
}

fn auto() -> ClientLifecycleMode {
    ClientLifecycleMode::Auto {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        legacy_version: None,
    }
}

fn text(result: &rmcp::model::CallToolResult) -> String {
    let v = serde_json::to_value(result).unwrap();
    v["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn call(name: &'static str, arguments: Value) -> CallToolRequestParams {
    CallToolRequestParams::new(name).with_arguments(arguments.as_object().unwrap().clone())
}

backend_tests! {
    // With OAuth: Auto ends on 2026-07-28 (no fallback), the legacy lifecycle
    // on 2025-11-25; both see the same memories with the same token.
    async fn rmcp_serves_both_eras_with_oauth(db) {
        let server = TestServer::memory(&db).await;
        let (_, tokens) = server.oauth().sign_up("rmcp@example.com", None).await;
        let token = tokens["access_token"].as_str().unwrap();
        let url = server.url();

        let modern = Person::default()
            .serve_with_lifecycle(StreamableHttpClientTransport::from_config(config(&url, Some(token))), auto())
            .await
            .expect("rmcp connects in Auto");
        assert_eq!(modern.peer_info().map(|i| i.protocol_version.clone()), Some(ProtocolVersion::V_2026_07_28));
        let tools = modern.peer().list_tools(None).await.unwrap();
        assert!(tools.tools.iter().any(|t| t.name == "add_memory"), "{tools:?}");
        let added = modern.call_tool(call("add_memory", json!({ "text": "rmcp remembers the lighthouse" }))).await.unwrap();
        assert!(added.is_error != Some(true) && added.structured_content.as_ref().is_some_and(|s| s["id"].is_string()), "{added:?}");
        modern.cancel().await.unwrap();

        let legacy = Person::default()
            .serve_with_lifecycle(StreamableHttpClientTransport::from_config(config(&url, Some(token))), ClientLifecycleMode::Initialize)
            .await
            .expect("rmcp connects with initialize");
        assert_eq!(legacy.peer_info().map(|i| i.protocol_version.clone()), Some(ProtocolVersion::V_2025_11_25));
        let found = legacy.call_tool(call("search_memories", json!({ "query": "lighthouse" }))).await.unwrap();
        assert!(text(&found).contains("rmcp remembers the lighthouse"), "{found:?}");
        legacy.cancel().await.unwrap();

        // Without a token both lifecycles fail (401), neither falls back to anything.
        assert!(Person::default().serve_with_lifecycle(StreamableHttpClientTransport::from_config(config(&url, None)), auto()).await.is_err());
        server.stop().await;
    }

    // One eliciting tool, both eras, the same handler: the person is asked
    // twice, in order, and the tool finishes.
    async fn rmcp_answers_a_tool_that_asks_in_both_eras(db) {
        let server = TestServer::testkit(&db).await;
        let url = server.url();
        for lifecycle in [ClientLifecycleMode::Initialize, auto()] {
            let person = Person::default();
            let client = person.clone().serve_with_lifecycle(StreamableHttpClientTransport::from_config(config(&url, None)), lifecycle).await.unwrap();
            let era = client.peer_info().map(|i| i.protocol_version.clone());
            let done = client.call_tool(call("introduce", json!({ "greeting": "So: " }))).await.unwrap();
            assert_eq!(text(&done), "So: Ada likes teal", "{era:?}: {done:?}");
            assert_eq!(
                *person.asked.lock().unwrap(),
                ["What is your name?", "What is your favourite colour, Ada?"],
                "{era:?}"
            );
            client.cancel().await.unwrap();
        }
        server.stop().await;
    }
}
