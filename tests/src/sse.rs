//! A strict reader of `text/event-stream` bodies for tests. Deliberately
//! hand-written and literal: tests must see the exact frames (an empty-data priming
//! event, `retry`, comments) that a conforming EventSource would hide.

use std::time::Duration;

use bytes::BytesMut;
use futures_util::StreamExt;
use serde_json::Value;

/// One SSE block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub retry: Option<u64>,
    /// Joined `data:` lines; `None` when the block had no `data:` line.
    pub data: Option<String>,
    /// The block held only a comment (keep-alive).
    pub comment: bool,
}

impl SseEvent {
    /// The data as JSON (a JSON-RPC message), if it is some.
    pub fn json(&self) -> Option<Value> {
        self.data
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
    }
}

pub struct SseStream {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: BytesMut,
    pub ended: bool,
}

impl SseStream {
    pub fn new(response: reqwest::Response) -> SseStream {
        SseStream {
            body: response.bytes_stream().boxed(),
            buf: BytesMut::new(),
            ended: false,
        }
    }

    /// The next block (comments included), or `None` when the stream ended or
    /// nothing arrived within `wait`.
    pub async fn next_block(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(pos) = find(&self.buf, b"\n\n") {
                let block = self.buf.split_to(pos + 2);
                return Some(parse_block(&String::from_utf8_lossy(&block[..pos])));
            }
            if self.ended {
                return None;
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Ok(Some(Ok(chunk))) => self.buf.extend_from_slice(&chunk),
                Ok(Some(Err(_))) | Ok(None) => self.ended = true,
                Err(_) => return None,
            }
        }
    }

    /// The next block that is not a comment.
    pub async fn next_event(&mut self, wait: Duration) -> Option<SseEvent> {
        loop {
            let e = self.next_block(wait).await?;
            if !e.comment {
                return Some(e);
            }
        }
    }

    /// Read until the stream ends (or `wait` passes with nothing new).
    pub async fn rest(&mut self, wait: Duration) -> Vec<SseEvent> {
        let mut out = Vec::new();
        while let Some(e) = self.next_event(wait).await {
            out.push(e);
        }
        out
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_block(block: &str) -> SseEvent {
    let mut e = SseEvent::default();
    let mut data: Vec<&str> = Vec::new();
    let mut fields = 0;
    for line in block.lines() {
        if line.starts_with(':') {
            continue;
        }
        fields += 1;
        let (name, value) = match line.split_once(':') {
            Some((n, v)) => (n, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match name {
            "id" => e.id = Some(value.to_string()),
            "retry" => e.retry = value.parse().ok(),
            "data" => data.push(value),
            _ => {}
        }
    }
    e.comment = fields == 0;
    if !data.is_empty() {
        e.data = Some(data.join("\n"));
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_blocks() {
        assert_eq!(
            parse_block("id: a-0\nretry: 1000\ndata: "),
            SseEvent {
                id: Some("a-0".into()),
                retry: Some(1000),
                data: Some(String::new()),
                comment: false
            }
        );
        assert!(parse_block(": keep-alive").comment);
        assert_eq!(parse_block("data: {}").data.as_deref(), Some("{}"));
    }
}
