//! What one connection may hold (issue 12): a cap on open connections, and
//! the timeouts that cut off a peer that sends its headers or body a byte at a
//! time, stops reading a stream, or keeps a socket open doing nothing. The
//! timeouts are salvo's connection fuses (enforced in the transport itself);
//! the cap is a fuse policy counting live connections.
//!
//! A deadline for each request (not a stream) is [`RequestDeadline`], a hoop.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use salvo::conn::ConnCtrl;
use salvo::fuse::{ArcConnObserver, ConnObserver, FuseAction, FuseConfig, FuseInfo, FusePolicy};
use salvo::http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use salvo::prelude::*;

/// The limits (defaults are what a public server wants; each has a variable).
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// `GATEHOUSE_MAX_CONNECTIONS`: open connections at once; more are closed
    /// as soon as they are accepted.
    pub max_connections: usize,
    /// The whole request head must arrive within this.
    pub header_timeout: Duration,
    /// The longest gap between two pieces of a request body.
    pub body_timeout: Duration,
    /// The longest a write may wait for the peer to read (an SSE client that
    /// stopped reading is cut off).
    pub write_stall_timeout: Duration,
    /// A connection with no traffic at all for this long is closed (SSE
    /// streams send a comment every 15 s, so they never are).
    pub idle_timeout: Duration,
    /// `GATEHOUSE_REQUEST_TIMEOUT`: the longest a handler may take to begin
    /// its answer; streams, once begun, are not limited by it.
    pub request_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 8192,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            write_stall_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// The fuse policy: admit while under the cap, with the timeouts above.
pub struct Admission {
    limits: ConnectionLimits,
    open: Arc<AtomicUsize>,
}

impl Admission {
    pub fn new(limits: ConnectionLimits) -> Admission {
        Admission {
            limits,
            open: Arc::default(),
        }
    }

    fn config(&self) -> FuseConfig {
        FuseConfig::default()
            .with_http1_header_timeout(self.limits.header_timeout)
            .with_request_body_timeout(self.limits.body_timeout)
            .with_write_stall_timeout(self.limits.write_stall_timeout)
            .with_connection_idle_timeout(self.limits.idle_timeout)
    }
}

#[salvo::async_trait]
impl FusePolicy for Admission {
    async fn decide(&self, info: &FuseInfo) -> FuseAction {
        if self.open.load(Ordering::Acquire) >= self.limits.max_connections {
            tracing::warn!(peer = %info.remote_addr, max = self.limits.max_connections,
                "connection refused: too many open connections");
            return FuseAction::Reject;
        }
        FuseAction::Accept(self.config())
    }

    /// Counts the connection until its transport is dropped.
    fn observe(&self, _info: &FuseInfo, _ctrl: &ConnCtrl) -> Option<ArcConnObserver> {
        self.open.fetch_add(1, Ordering::AcqRel);
        Some(Arc::new(Open(self.open.clone())))
    }
}

/// One open connection, counted while it lives.
struct Open(Arc<AtomicUsize>);

impl ConnObserver for Open {}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A deadline on the authorization server's handlers: past it, 503 with
/// `Retry-After` and OAuth's `temporarily_unavailable`. (`/mcp` needs none: a
/// request still running after the 15 s keep-alive switches to a stream, and
/// its store calls have the store's own deadline.)
pub struct RequestDeadline(pub Duration);

#[salvo::async_trait]
impl Handler for RequestDeadline {
    async fn handle(
        &self,
        req: &mut Request,
        depot: &mut Depot,
        res: &mut Response,
        ctrl: &mut FlowCtrl,
    ) {
        if tokio::time::timeout(self.0, ctrl.call_next(req, depot, res))
            .await
            .is_ok()
        {
            return;
        }
        tracing::warn!(path = %req.uri().path(), deadline = ?self.0, "request took too long; answered 503");
        ctrl.skip_rest();
        *res = Response::new();
        res.status_code(StatusCode::SERVICE_UNAVAILABLE);
        res.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(5u64));
        res.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let _ = res.write_body(
            r#"{"error":"temporarily_unavailable","error_description":"the request took too long; try again"}"#,
        );
    }
}
