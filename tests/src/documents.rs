//! A loopback web server publishing client metadata documents (CIMD) for
//! tests: canned answers by path, with hit counts, so a test can serve a good
//! document, an HTML challenge page, a redirect, an oversized one, or change
//! one between fetches.

use std::collections::HashMap;

use gatehouse::{Context, ToolError, ToolResult};

/// A server whose spec sets a document policy (`tests/specs/documents.yaml`).
pub mod api {
    gatehouse::spec!("specs/documents.yaml");
}

struct Pong;

impl api::Tools for Pong {
    async fn ping(&self, _ctx: Context, _args: api::PingArgs) -> Result<ToolResult, ToolError> {
        Ok(ToolResult::text("pong"))
    }
}

/// The app of `tests/specs/documents.yaml`.
pub fn policy_app() -> gatehouse::App {
    api::app(Pong)
}
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One canned answer.
#[derive(Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Canned {
    pub fn json(value: &Value, cache_control: Option<&str>) -> Canned {
        let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
        if let Some(c) = cache_control {
            headers.push(("cache-control".into(), c.into()));
        }
        Canned {
            status: 200,
            headers,
            body: serde_json::to_vec(value).unwrap(),
        }
    }

    pub fn html(body: &str) -> Canned {
        Canned {
            status: 200,
            headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn redirect(to: &str) -> Canned {
        Canned {
            status: 302,
            headers: vec![("location".into(), to.into())],
            body: Vec::new(),
        }
    }
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Canned>,
    hits: HashMap<String, usize>,
}

/// The server; stops when dropped.
pub struct DocumentServer {
    pub base: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl DocumentServer {
    pub async fn start() -> DocumentServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head);
                    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let canned = {
                        let mut s = state.lock().unwrap();
                        *s.hits.entry(path.clone()).or_default() += 1;
                        s.routes.get(&path).cloned()
                    };
                    let c = canned.unwrap_or(Canned {
                        status: 404,
                        headers: vec![("content-type".into(), "text/plain".into())],
                        body: b"not found".to_vec(),
                    });
                    let mut out = format!(
                        "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                        c.status,
                        c.body.len()
                    );
                    for (k, v) in &c.headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    let _ = socket.write_all(out.as_bytes()).await;
                    let _ = socket.write_all(&c.body).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        DocumentServer { base, state, task }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn serve(&self, path: &str, canned: Canned) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), canned);
    }

    /// How many requests `path` has had.
    pub fn hits(&self, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for DocumentServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
