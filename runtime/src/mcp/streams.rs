//! SSE streams: how a POST's reply becomes JSON or a stream, and how GET streams
//! (the standalone one, or any stream resumed with `Last-Event-ID`) are served
//! from the durable event log.
//!
//! Event ids are `<stream>-<seq>`: unique across the session's streams (T-16) and
//! naming the stream they belong to, so a resumption replays that stream only
//! (T-17). Every event is appended to the log before it is written to the wire.

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc};
use tracing::Instrument;

use super::broker::Signal;
use super::core::{Core, RequestRun};
use super::outbound::StreamItem;
use super::session::Session;
use super::version::ProtocolVersion;
use crate::logging::request_span;
use crate::store::now_ms;

use super::session::STANDALONE_STREAM as STANDALONE;

/// What a POST gets back.
pub(crate) enum Reply {
    /// 202: nothing to answer (only notifications/responses, or all cancelled).
    Accepted,
    /// 200 `application/json`: one response, or an array for a batch, serialized.
    Json(String),
    /// 200 with no body (a DELETE).
    Done,
    /// 200 `text/event-stream`.
    Sse(mpsc::Receiver<Bytes>),
}

/// A fresh stream id: hex, so it never contains the `-` of event ids.
fn new_stream_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id[..16].to_string()
}

pub(crate) fn event_id(stream: &str, seq: i64) -> String {
    format!("{stream}-{seq}")
}

/// Split a `Last-Event-ID` into stream and sequence number.
pub(crate) fn parse_event_id(id: &str) -> Option<(String, i64)> {
    let (stream, seq) = id.rsplit_once('-')?;
    let valid_stream = !stream.is_empty() && stream.chars().all(|c| c.is_ascii_alphanumeric());
    let seq: i64 = seq.parse().ok().filter(|s| *s >= 0)?;
    valid_stream.then(|| (stream.to_string(), seq))
}

/// `id:` + `data:` (a JSON-RPC message serializes to one line).
fn sse_event(id: Option<&str>, data: &str) -> Bytes {
    let mut s = String::with_capacity(data.len() + 40);
    if let Some(id) = id {
        s.push_str("id: ");
        s.push_str(id);
        s.push('\n');
    }
    s.push_str("data: ");
    s.push_str(data);
    s.push_str("\n\n");
    Bytes::from(s)
}

/// T-11 (2025-11-25 only): an event with an id and empty data, plus `retry`, so
/// the client can reconnect before the first real event.
fn priming_event(id: &str, retry: Duration) -> Bytes {
    Bytes::from(format!(
        "id: {id}\nretry: {}\ndata: \n\n",
        retry.as_millis()
    ))
}

const KEEPALIVE: &[u8] = b": keep-alive\n\n";

/// The reply to a POST that carries `expected` requests: JSON when every
/// response is ready before anything else needs sending (and before the
/// keep-alive interval), otherwise SSE, every event logged.
///
/// `run` is a lone request's run, driven here, in the POST's task, while the
/// reply may still be JSON: a quick answer then costs no task, no channel
/// wake-up and no timer (the deadline is only armed once the run has to wait).
/// A switch to SSE moves the run to a task of its own, and so does the POST
/// going away first (a disconnect is not a cancellation, T-12).
pub(crate) async fn reply(
    core: std::sync::Arc<Core>,
    session: Session,
    mut rx: mpsc::UnboundedReceiver<StreamItem>,
    run: Option<RequestRun>,
    expected: usize,
    batch: bool,
) -> Reply {
    let mut run = Detachable(run);
    let mut finals: Vec<String> = Vec::new();
    let mut done = 0usize;
    let deadline = tokio::time::sleep(core.settings.keepalive);
    tokio::pin!(deadline);
    let mut disconnect = false;
    let first_message = loop {
        tokio::select! {
            // Biased: the run first, then what it sent; the deadline is polled
            // (and registered with the timer) only when both must wait.
            biased;
            () = std::future::poll_fn(|cx| run.poll(cx)), if run.is_running() => {}
            item = rx.recv() => match item {
                Some(StreamItem::Final(response)) => {
                    done += 1;
                    finals.extend(response);
                    if done == expected {
                        return json_reply(finals, batch);
                    }
                }
                Some(StreamItem::Message(m)) => break Some(*m),
                Some(StreamItem::Disconnect) => {
                    disconnect = true;
                    break None;
                }
                None => return json_reply(finals, batch),
            },
            _ = &mut deadline => break None,
        }
    };
    run.detach();
    let (tx, body) = mpsc::channel::<Bytes>(64);
    let stream = SseStart {
        finals,
        first_message,
        disconnect,
        done,
        expected,
    };
    tokio::spawn(write_sse(core, session, rx, tx, stream).instrument(request_span::current()));
    Reply::Sse(body)
}

/// A request's run that moves to a task of its own when whoever drives it stops
/// (see [`reply`]); it is never dropped unfinished.
struct Detachable(Option<RequestRun>);

impl Detachable {
    fn is_running(&self) -> bool {
        self.0.is_some()
    }

    fn poll(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let Some(run) = self.0.as_mut() else {
            return std::task::Poll::Ready(());
        };
        let done = run.as_mut().poll(cx);
        if done.is_ready() {
            self.0 = None;
        }
        done
    }

    /// Go on in a task of its own.
    fn detach(&mut self) {
        if let Some(run) = self.0.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(run);
                }
                // Only when the runtime itself is shutting down.
                Err(_) => tracing::warn!("a request was dropped unfinished at shutdown"),
            }
        }
    }
}

impl Drop for Detachable {
    fn drop(&mut self) {
        self.detach();
    }
}

/// Where a POST's reply stood when it became a stream.
struct SseStart {
    finals: Vec<String>,
    first_message: Option<Value>,
    disconnect: bool,
    done: usize,
    expected: usize,
}

async fn write_sse(
    core: std::sync::Arc<Core>,
    session: Session,
    mut rx: mpsc::UnboundedReceiver<StreamItem>,
    tx: mpsc::Sender<Bytes>,
    start: SseStart,
) {
    let SseStart {
        finals,
        first_message,
        disconnect,
        mut done,
        expected,
    } = start;
    let mut sse = SseWriter::open(&core, &session, tx).await;
    for response in finals {
        sse.send(&response, false).await;
    }
    if let Some(m) = first_message {
        sse.send(&m.to_string(), false).await;
    }
    if disconnect {
        sse.disconnect();
    }
    let mut keepalive = tokio::time::interval(core.settings.keepalive);
    keepalive.reset();
    while done < expected {
        tokio::select! {
            item = rx.recv() => match item {
                Some(StreamItem::Message(m)) => sse.send(&m.to_string(), false).await,
                Some(StreamItem::Disconnect) => sse.disconnect(),
                Some(StreamItem::Final(response)) => {
                    done += 1;
                    let last = done == expected;
                    match response {
                        Some(r) => sse.send(&r, last).await,
                        None if last => sse.end().await,
                        None => {}
                    }
                }
                None => break,
            },
            _ = keepalive.tick() => sse.raw(Bytes::from_static(KEEPALIVE)).await,
        }
    }
}

fn json_reply(mut finals: Vec<String>, batch: bool) -> Reply {
    match (finals.len(), batch) {
        (0, _) => Reply::Accepted,
        (_, true) => Reply::Json(format!("[{}]", finals.join(","))),
        (_, false) => Reply::Json(finals.swap_remove(0)),
    }
}

/// Writes one POST stream: logs each event, then sends it while the client is
/// still connected (a disconnected client resumes from the log, T-12).
struct SseWriter<'a> {
    core: &'a Core,
    session: &'a Session,
    stream: String,
    /// The connection, while the client is on it.
    tx: Option<mpsc::Sender<Bytes>>,
}

impl<'a> SseWriter<'a> {
    async fn open(core: &'a Core, session: &'a Session, tx: mpsc::Sender<Bytes>) -> SseWriter<'a> {
        let stream = new_stream_id();
        let mut w = SseWriter {
            core,
            session,
            stream,
            tx: Some(tx),
        };
        match core
            .store
            .open_stream(&session.id, &w.stream, now_ms())
            .await
        {
            Ok(_) if session.version >= ProtocolVersion::V2025_11_25 => {
                let prime = priming_event(&event_id(&w.stream, 0), core.settings.sse_retry);
                w.raw(prime).await;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "could not open a stream in the event log; it will not be resumable")
            }
        }
        w
    }

    async fn raw(&mut self, bytes: Bytes) {
        if let Some(tx) = &self.tx
            && tx.send(bytes).await.is_err()
        {
            self.tx = None;
            tracing::debug!(stream = %self.stream, "client disconnected; events stay in the log for resumption");
        }
    }

    /// End the connection, not the stream: later events go to the log only.
    fn disconnect(&mut self) {
        self.tx = None;
    }

    /// One serialized JSON-RPC message.
    async fn send(&mut self, text: &str, end: bool) {
        let logged = self
            .core
            .store
            .append_event(&self.session.id, &self.stream, text, end, now_ms())
            .await;
        let id = match logged {
            Ok(seq) => {
                self.core
                    .broker
                    .event_appended(&self.session.id, &self.stream, seq);
                Some(event_id(&self.stream, seq))
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not log an event; sending it without an id");
                None
            }
        };
        self.raw(sse_event(id.as_deref(), text)).await;
    }

    async fn end(&mut self) {
        if let Err(e) = self
            .core
            .store
            .end_stream(&self.session.id, &self.stream, now_ms())
            .await
        {
            tracing::warn!(error = %e, "could not mark a stream ended");
        }
    }
}

/// The name of a GET stream's connection (T-15: the newest one holds the
/// stream). Names sort in the order they were made: milliseconds, then a
/// per-process counter (so two GETs in the same millisecond on one replica keep
/// their order), then a random part that keeps replicas apart.
fn new_holder() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{:013}.{n:020}.{}", now_ms(), &random[..16])
}

/// Serve a stream from the log to a GET: replay what follows `after` and follow
/// new events live until the stream ends, another connection takes it over, the
/// session is deleted, or the client goes away.
pub(crate) fn serve(
    core: std::sync::Arc<Core>,
    session: Session,
    stream: String,
    after: i64,
    prime: Option<Bytes>,
    held: super::stream_counts::Held,
) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    // Subscribe before reading the log, so no signal falls between the two.
    let signals = core.broker.subscribe();
    // Named now, while the GET is handled, so a later GET gets a later name.
    let holder = new_holder();
    let span = request_span::current();
    tokio::spawn(tracing::Instrument::instrument(
        async move {
            // Counted against the user's streams until this task ends.
            let _held = held;
            core.broker
                .publish(Signal::Takeover {
                    session: session.id.clone(),
                    stream: stream.clone(),
                    holder: holder.clone(),
                })
                .await;
            if let Some(p) = prime
                && tx.send(p).await.is_err()
            {
                return;
            }
            follow(&core, &session, &stream, after, &holder, signals, tx).await;
        },
        span,
    ));
    rx
}

async fn follow(
    core: &Core,
    session: &Session,
    stream: &str,
    mut last: i64,
    holder: &str,
    mut signals: broadcast::Receiver<std::sync::Arc<Signal>>,
    tx: mpsc::Sender<Bytes>,
) {
    let mut keepalive = tokio::time::interval(core.settings.keepalive);
    keepalive.reset();
    let mut poll = tokio::time::interval(core.settings.poll_interval);
    loop {
        // Drain the log past what was sent.
        match core.store.events_after(&session.id, stream, last).await {
            Ok(events) => {
                for e in events {
                    let id = event_id(stream, e.seq);
                    if tx.send(sse_event(Some(&id), &e.message)).await.is_err() {
                        return;
                    }
                    last = e.seq;
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the event log"),
        }
        if stream != STANDALONE {
            match core.store.stream_state(&session.id, stream).await {
                Ok(Some(s)) if s.ended && last >= s.last_seq => return,
                Ok(None) => return,
                _ => {}
            }
        }
        // Wait for a reason to look again.
        loop {
            tokio::select! {
                signal = signals.recv() => match signal {
                    Ok(s) => match &*s {
                        Signal::Event { session: ss, stream: st, seq }
                            if *ss == session.id && st == stream && *seq > last => break,
                        // Only a newer connection takes over: an older one's
                        // signal can arrive late (on PostgreSQL a replica also
                        // hears its own NOTIFY), and must not end this one.
                        Signal::Takeover { session: ss, stream: st, holder: h }
                            if *ss == session.id && st == stream && h.as_str() > holder => return,
                        Signal::Deleted { session: ss } if *ss == session.id => return,
                        Signal::Resync => break,
                        _ => {}
                    },
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = poll.tick() => break,
                _ = keepalive.tick() => {
                    if tx.send(Bytes::from_static(KEEPALIVE)).await.is_err() {
                        return;
                    }
                }
                _ = tx.closed() => return,
            }
        }
    }
}

/// The priming event for a GET stream, when the session's version wants one.
pub(crate) fn get_priming(core: &Core, session: &Session, stream: &str, seq: i64) -> Option<Bytes> {
    (session.version >= ProtocolVersion::V2025_11_25)
        .then(|| priming_event(&event_id(stream, seq), core.settings.sse_retry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_round_trip() {
        assert_eq!(parse_event_id("g-7"), Some(("g".into(), 7)));
        assert_eq!(
            parse_event_id(&event_id("a1b2", 0)),
            Some(("a1b2".into(), 0))
        );
        assert_eq!(parse_event_id("nope"), None);
        assert_eq!(parse_event_id("g--1"), None);
        assert_eq!(parse_event_id("a b-1"), None);
    }

    #[test]
    fn later_holders_sort_after_earlier_ones() {
        let names: Vec<String> = (0..100).map(|_| new_holder()).collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
        assert!(
            names.iter().all(|n| !n.contains(' ')),
            "signals split on spaces"
        );
    }

    #[test]
    fn encodes_events() {
        assert_eq!(&sse_event(Some("g-1"), "{}")[..], b"id: g-1\ndata: {}\n\n");
        assert_eq!(
            &priming_event("ab-0", Duration::from_millis(1500))[..],
            b"id: ab-0\nretry: 1500\ndata: \n\n"
        );
    }
}
