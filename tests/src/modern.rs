//! A 2026-07-28 client for tests: requests with `_meta` and the headers that
//! revision requires, and `subscriptions/listen` streams read event by event.

use reqwest::StatusCode;
use serde_json::{Value, json};

pub const V: &str = "2026-07-28";

pub fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": V,
        "io.modelcontextprotocol/clientInfo": { "name": "modern-test", "version": "1" },
        "io.modelcontextprotocol/clientCapabilities": {},
    })
}

/// An answer: status, body (JSON, or the SSE events' data in order).
pub struct Answer {
    pub status: StatusCode,
    pub sse: bool,
    pub body: Value,
    pub events: Vec<Value>,
    pub headers: reqwest::header::HeaderMap,
}

/// A POST as a 2026-07-28 client sends it: the version, method and name
/// headers from the body, unless `headers` replaces them (`None` drops one).
pub async fn post(
    url: &str,
    token: Option<&str>,
    id: i64,
    method: &str,
    params: Value,
    headers: &[(&str, Option<&str>)],
) -> Answer {
    let mut h: Vec<(String, String)> = vec![
        ("mcp-protocol-version".into(), V.into()),
        ("mcp-method".into(), method.into()),
    ];
    if let Some(name) = params
        .get("name")
        .or_else(|| params.get("uri"))
        .and_then(Value::as_str)
        && matches!(method, "tools/call" | "prompts/get" | "resources/read")
    {
        h.push(("mcp-name".into(), name.into()));
    }
    for (k, v) in headers {
        h.retain(|(n, _)| n != k);
        if let Some(v) = v {
            h.push((k.to_string(), v.to_string()));
        }
    }
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .json(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
    for (k, v) in &h {
        req = req.header(k.as_str(), v.as_str());
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let sse = headers
        .get("content-type")
        .is_some_and(|c| c.to_str().unwrap().starts_with("text/event-stream"));
    let text = r.text().await.unwrap();
    if sse {
        let events: Vec<Value> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str(d).ok())
            .collect();
        let body = events.last().cloned().unwrap_or(Value::Null);
        Answer {
            status,
            sse,
            body,
            events,
            headers,
        }
    } else {
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            sse,
            body,
            events: Vec::new(),
            headers,
        }
    }
}

/// An open `subscriptions/listen` stream, read event by event.
pub struct Listen(reqwest::Response, String);

impl Listen {
    pub async fn open(url: &str, id: i64, notifications: Value) -> Listen {
        let r = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", V)
            .header("mcp-method", "subscriptions/listen")
            .json(
                &json!({ "jsonrpc": "2.0", "id": id, "method": "subscriptions/listen",
                "params": { "notifications": notifications, "_meta": meta() } }),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Listen(r, String::new())
    }

    /// The next event's data, within `wait`.
    pub async fn next(&mut self, wait: std::time::Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.1.find("\n\n") {
                let block: String = self.1.drain(..end + 2).collect();
                if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) {
                    return serde_json::from_str(data).ok();
                }
            }
            match tokio::time::timeout_at(deadline, self.0.chunk()).await {
                Ok(Ok(Some(bytes))) => self.1.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }
}

pub fn with_meta(mut params: Value, extra: Value) -> Value {
    let mut m = meta();
    for (k, v) in extra.as_object().unwrap() {
        m[k] = v.clone();
    }
    params["_meta"] = m;
    params
}
