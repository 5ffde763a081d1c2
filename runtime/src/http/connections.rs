//! What one connection may hold (issue 12): a cap on open connections, and
//! the timeouts that cut off a peer that sends its headers or body a byte at a
//! time, stops reading a stream, or keeps a socket open doing nothing. The
//! timeouts are salvo's connection fuses (enforced in the transport itself);
//! the cap is a fuse policy counting live connections.
//!
//! A deadline for each request (not a stream) is [`RequestDeadline`], a hoop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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

    /// The idle timeout is not salvo's (which re-arms a timer on every read and
    /// write, about 3 % of a `tools/call`'s CPU): see [`Open`].
    fn config(&self) -> FuseConfig {
        FuseConfig::default()
            .with_http1_header_timeout(self.limits.header_timeout)
            .with_request_body_timeout(self.limits.body_timeout)
            .with_write_stall_timeout(self.limits.write_stall_timeout)
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

    /// Counts the connection until its transport is dropped, and watches it
    /// for idleness.
    fn observe(&self, _info: &FuseInfo, ctrl: &ConnCtrl) -> Option<ArcConnObserver> {
        self.open.fetch_add(1, Ordering::AcqRel);
        let open = Arc::new(Open {
            count: self.open.clone(),
            traffic: AtomicU64::new(0),
        });
        spawn_idle_watch(&open, ctrl.clone(), self.limits.idle_timeout);
        Some(open)
    }
}

/// One open connection, counted while it lives, with a tally of its reads
/// and writes.
struct Open {
    count: Arc<AtomicUsize>,
    traffic: AtomicU64,
}

impl ConnObserver for Open {
    fn on_read(&self, _bytes: usize) {
        self.traffic.fetch_add(1, Ordering::Relaxed);
    }

    fn on_write(&self, _bytes: usize) {
        self.traffic.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How often the idle watch looks, as a fraction of the idle timeout: a
/// silent connection is closed between `idle` and `idle * 5 / 4` after its
/// last byte.
const IDLE_CHECKS: u32 = 4;

/// The idle timeout: a connection with no byte read or written for the
/// timeout is aborted. Its reads and writes only bump a counter (no clock, no
/// timer per I/O, which is what salvo's fuse does); this task looks at the
/// counter a few times per timeout and ends with the connection.
fn spawn_idle_watch(open: &Arc<Open>, ctrl: ConnCtrl, idle: Duration) {
    let open = Arc::downgrade(open);
    let every = (idle / IDLE_CHECKS).max(Duration::from_millis(10));
    tokio::spawn(async move {
        let (mut seen, mut quiet) = (0u64, 0u32);
        loop {
            tokio::time::sleep(every).await;
            let Some(open) = open.upgrade() else { return };
            let now = open.traffic.load(Ordering::Relaxed);
            if now != seen || ctrl.is_relaxed() {
                (seen, quiet) = (now, 0);
                continue;
            }
            quiet += 1;
            if quiet >= IDLE_CHECKS {
                tracing::debug!(idle = ?idle, "idle connection closed");
                ctrl.abort();
                return;
            }
        }
    });
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
