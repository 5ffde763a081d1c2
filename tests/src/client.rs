//! A raw-HTTP MCP client for tests: it sends what real clients send and hands back
//! status, headers and bodies untouched, so tests can assert on the wire.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

use crate::sse::{SseEvent, SseStream};

pub const ACCEPT_BOTH: &str = "application/json, text/event-stream";
const WAIT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub url: String,
    /// Sent as `Authorization: Bearer …` on every request (A-RS-6).
    pub bearer: Option<String>,
}

/// A reply to a POST, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub content_type: String,
    /// The JSON body, or for SSE every event's JSON in order.
    pub messages: Vec<Value>,
    /// The raw SSE events, when the reply was a stream.
    pub events: Vec<SseEvent>,
    pub text: String,
}

impl Reply {
    /// The only JSON body (JSON replies) or the last message (SSE replies).
    pub fn body(&self) -> &Value {
        self.messages.last().expect("the reply has a message")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn is_sse(&self) -> bool {
        self.content_type.starts_with("text/event-stream")
    }
}

/// Read a response fully: JSON bodies parsed, SSE streams read to the end.
pub async fn read_reply(response: Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if content_type.starts_with("text/event-stream") {
        let mut stream = SseStream::new(response);
        let events = stream.rest(WAIT).await;
        let messages = events.iter().filter_map(SseEvent::json).collect();
        return Reply {
            status,
            headers,
            content_type,
            messages,
            events,
            text: String::new(),
        };
    }
    let text = response.text().await.unwrap_or_default();
    let messages = serde_json::from_str::<Value>(&text)
        .map(|v| vec![v])
        .unwrap_or_default();
    Reply {
        status,
        headers,
        content_type,
        messages,
        events: Vec::new(),
        text,
    }
}

pub fn initialize_params(version: &str) -> Value {
    json!({
        "protocolVersion": version,
        "capabilities": { "sampling": {}, "elicitation": {} },
        "clientInfo": { "name": "gatehouse-tests", "version": "1.0.0" },
    })
}

impl Client {
    pub fn new(url: &str) -> Client {
        Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
            url: url.to_string(),
            bearer: None,
        }
    }

    /// The same client, authenticating with a bearer token.
    pub fn with_bearer(&self, token: &str) -> Client {
        Client {
            bearer: Some(token.to_string()),
            ..self.clone()
        }
    }

    fn authorized(&self, req: RequestBuilder) -> RequestBuilder {
        match &self.bearer {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// A GET to the MCP endpoint (with the bearer token, if any).
    pub fn get(&self) -> RequestBuilder {
        self.authorized(self.http.get(&self.url))
    }

    /// A DELETE to the MCP endpoint (with the bearer token, if any).
    pub fn delete(&self) -> RequestBuilder {
        self.authorized(self.http.delete(&self.url))
    }

    /// A POST to the MCP endpoint with the headers every client sends.
    pub fn post(&self) -> RequestBuilder {
        self.authorized(self.http.post(&self.url))
            .header("accept", ACCEPT_BOTH)
            .header("content-type", "application/json")
    }

    /// POST a JSON body and read the reply.
    pub async fn send(&self, body: Value) -> Reply {
        read_reply(self.post().json(&body).send().await.expect("POST")).await
    }

    /// `initialize` + `notifications/initialized`.
    pub async fn initialize(&self, version: &str) -> Session {
        self.initialize_with(initialize_params(version)).await
    }

    pub async fn initialize_with(&self, params: Value) -> Session {
        let reply = self
            .send(json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params }))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "initialize: {reply:?}");
        let id = reply
            .header("mcp-session-id")
            .expect("initialize returns Mcp-Session-Id")
            .to_string();
        let version = reply.body()["result"]["protocolVersion"]
            .as_str()
            .expect("a negotiated version")
            .to_string();
        let session = Session {
            client: self.clone(),
            id,
            version,
            next_id: AtomicI64::new(1),
            initialize: reply.body().clone(),
        };
        let r = session
            .send(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        session
    }
}

/// An initialized session.
pub struct Session {
    pub client: Client,
    pub id: String,
    pub version: String,
    next_id: AtomicI64,
    /// The `initialize` response.
    pub initialize: Value,
}

impl Session {
    /// Resume a session by id (e.g. from another process or after a restart).
    pub fn resume(client: Client, id: &str, version: &str) -> Session {
        Session {
            client,
            id: id.to_string(),
            version: version.to_string(),
            next_id: AtomicI64::new(1000),
            initialize: Value::Null,
        }
    }

    pub fn next_id(&self) -> i64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A POST carrying the session and version headers.
    pub fn post(&self) -> RequestBuilder {
        self.client
            .post()
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", &self.version)
    }

    pub async fn send(&self, body: Value) -> Reply {
        read_reply(self.post().json(&body).send().await.expect("POST")).await
    }

    /// A request; returns the whole reply (check `.body()`).
    pub async fn request(&self, method: &str, params: Value) -> Reply {
        let id = self.next_id();
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))
            .await
    }

    /// Repeat a request until it is answered with something other than 200, or
    /// `give_up` passes: the last reply and how long it took. For changes made by
    /// another process or replica, which its caches may take up to a second to see.
    pub async fn until_refused(
        &self,
        method: &str,
        params: Value,
        give_up: Duration,
    ) -> (Reply, Duration) {
        let since = std::time::Instant::now();
        loop {
            let reply = self.request(method, params.clone()).await;
            if reply.status != StatusCode::OK || since.elapsed() > give_up {
                return (reply, since.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A request expected to succeed; returns its `result`.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        let reply = self.request(method, params).await;
        assert_eq!(reply.status, StatusCode::OK, "{method}: {reply:?}");
        let body = reply.body();
        assert!(body.get("result").is_some(), "{method} failed: {body}");
        body["result"].clone()
    }

    /// `tools/call`, returning the result.
    pub async fn call_tool(&self, name: &str, arguments: Value) -> Value {
        self.call(
            "tools/call",
            json!({ "name": name, "arguments": arguments }),
        )
        .await
    }

    /// Open the GET stream (resuming after `last_event_id` when given).
    pub async fn get(&self, last_event_id: Option<&str>) -> Response {
        let mut req = self
            .client
            .get()
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", &self.version);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        req.send().await.expect("GET")
    }

    /// Open the GET stream and expect SSE.
    pub async fn stream(&self, last_event_id: Option<&str>) -> SseStream {
        let response = self.get(last_event_id).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("text/event-stream")
        );
        SseStream::new(response)
    }

    pub async fn delete(&self) -> StatusCode {
        self.client
            .delete()
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", &self.version)
            .send()
            .await
            .expect("DELETE")
            .status()
    }
}
