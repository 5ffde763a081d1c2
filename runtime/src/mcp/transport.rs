//! Streamable HTTP at the MCP endpoint (T-1…T-29): POST carries client messages
//! and answers JSON or SSE, GET opens (or resumes) a server-to-client stream,
//! DELETE ends the session. Every refusal is a [`TransportError`] with its status.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use salvo::http::ReqBody;
use salvo::http::header::{self, HeaderValue};
use salvo::http::{Method, StatusCode};
use salvo::prelude::*;
use serde_json::Value;
use tokio_stream::wrappers::ReceiverStream;

use super::core::Core;
use super::error::{McpError, TransportError};
use super::handle::ServerHandle;
use super::headers::{McpHeaders, text};
use super::jsonrpc::{self, Message, Request as RpcRequest, parse_message};
use super::modern;
use super::outbound::Outbound;
use super::session::Session;
use super::streams::{self, Reply};
use super::version::ProtocolVersion;
use crate::principal::Principal;
use crate::resource::Challenge;
use crate::store::now_ms;

pub use super::session::SESSION_HEADER;

/// The salvo handler for the MCP endpoint.
pub struct McpEndpoint {
    core: Arc<Core>,
    /// What a 2026-07-28 request's tool context may ask of the server.
    stateless: Arc<dyn ServerHandle>,
    /// With OAuth: how to word a 403 `insufficient_scope` challenge.
    challenge: Option<Challenge>,
}

impl McpEndpoint {
    pub(crate) fn new(core: Arc<Core>, challenge: Option<Challenge>) -> McpEndpoint {
        McpEndpoint {
            stateless: modern::stateless(&core),
            core,
            challenge,
        }
    }

    /// A-RS-10: 403 with the scopes the request needs, those the token already
    /// has included so the client does not lose them when it asks again.
    fn check_scopes(
        &self,
        principal: &Principal,
        requests: &[RpcRequest],
    ) -> Result<(), TransportError> {
        let (Some(challenge), Some(granted)) = (&self.challenge, &principal.scopes) else {
            return Ok(());
        };
        let mut missing = Vec::new();
        for r in requests {
            for s in self.core.missing_scopes(principal, r) {
                if !missing.contains(&s) {
                    missing.push(s);
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let mut needed = granted.clone();
        needed.extend(missing.iter().cloned());
        Err(TransportError::InsufficientScope {
            missing,
            challenge: challenge.insufficient_scope(&needed),
        })
    }
}

/// A successful answer plus the session id to announce (after `initialize`).
struct Answer {
    reply: Reply,
    session: Option<String>,
}

impl From<Reply> for Answer {
    fn from(reply: Reply) -> Self {
        Answer {
            reply,
            session: None,
        }
    }
}

/// A failed request: HTTP-level, or a JSON-RPC error for one unreadable message,
/// or a 2026-07-28 refusal (its own status and body).
enum Failure {
    Transport(TransportError),
    Rpc {
        id: Option<jsonrpc::RequestId>,
        error: McpError,
    },
    Modern(modern::Refusal),
}

/// One JSON-RPC message; an unreadable one is answered with its own error.
fn parse(value: Value) -> Result<Message, Failure> {
    parse_message(value).map_err(|m| Failure::Rpc {
        id: m.id,
        error: m.error,
    })
}

impl From<TransportError> for Failure {
    fn from(e: TransportError) -> Self {
        Failure::Transport(e)
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Self {
        Failure::Transport(TransportError::Unavailable(e.to_string()))
    }
}

impl McpEndpoint {
    /// Answer a request to `/mcp` from `principal` (authenticated by the
    /// route in front, `http::mcp_route`, which also answers CORS preflights
    /// and reads the headers, `seen`, and takes the `body` out of the request).
    pub(crate) async fn serve(
        &self,
        method: &Method,
        body: ReqBody,
        seen: &McpHeaders<'_>,
        res: &mut Response,
        principal: &Arc<Principal>,
    ) {
        let outcome = match *method {
            Method::POST => self.post(body, seen, principal).await,
            // Boxed: only POST is the hot path (see `post`).
            Method::GET => Box::pin(self.get(seen, principal)).await,
            Method::DELETE => Box::pin(self.delete(seen, principal)).await,
            _ => Err(TransportError::MethodNotAllowed.into()),
        };
        match outcome {
            Ok(answer) => write_answer(res, answer),
            Err(failure) => write_failure(res, failure, seen),
        }
    }

    async fn post(
        &self,
        body: ReqBody,
        seen: &McpHeaders<'_>,
        principal: &Arc<Principal>,
    ) -> Result<Answer, Failure> {
        if !accepted(seen, &POST_TYPES) {
            return Err(TransportError::NotAcceptablePost.into());
        }
        if !is_json(seen) {
            return Err(TransportError::UnsupportedMediaType.into());
        }
        let body = read_body(body, seen, self.core.settings.max_body).await?;
        // A well-formed request is read without a JSON tree for its envelope;
        // anything else as a tree, for the exact error (L-1) or the batch.
        let message = match jsonrpc::read_request(&body) {
            Some(message) => message,
            None => match read_tree(&body)? {
                // Boxed, as the other rare paths below: a future holds the
                // bytes of its largest path, and the hot one is copied whole.
                Tree::Batch(items) => {
                    return Box::pin(self.post_batch(seen, principal, items)).await;
                }
                Tree::One(message) => message,
            },
        };
        let (method, claimed) = match &message {
            Message::Request(r) => (Some(r.method.as_str()), r.meta().version.as_ref()),
            Message::Notification(n) => (Some(n.method.as_str()), n.meta().version.as_ref()),
            Message::Response(r) => (None, r.message["params"]["_meta"].get(modern::META_VERSION)),
        };
        if modern::claims_modern(seen, method, claimed) {
            self.post_modern(seen, principal, message).await
        } else {
            self.post_single(seen, principal, message).await
        }
    }

    /// A 2026-07-28 message (`modern.rs`): no session; a notification or a
    /// response is accepted and has nothing to act on in this era yet.
    async fn post_modern(
        &self,
        seen: &McpHeaders<'_>,
        principal: &Arc<Principal>,
        message: Message,
    ) -> Result<Answer, Failure> {
        let Message::Request(r) = message else {
            return Ok(Reply::Accepted.into());
        };
        let scopes = |r: &RpcRequest| self.check_scopes(principal, std::slice::from_ref(r));
        match modern::serve(&self.core, &self.stateless, seen, principal, r, scopes).await {
            Ok(modern::Served::Text(StatusCode::OK, text)) => Ok(Reply::Json(text).into()),
            other => modern_answer(other),
        }
    }

    async fn post_single(
        &self,
        seen: &McpHeaders<'_>,
        principal: &Arc<Principal>,
        message: Message,
    ) -> Result<Answer, Failure> {
        if let Message::Request(r) = &message
            && r.method == "initialize"
        {
            let r: RpcRequest = r.clone();
            let id = r.id.clone();
            return match Box::pin(self.core.initialize(&principal.user_id, r)).await {
                Ok((session, response)) => Ok(Answer {
                    reply: Reply::Json(response),
                    session: Some(session.id.clone()),
                }),
                // The store is down: 503 and Retry-After, which clients retry.
                Err(McpError::Unavailable(detail)) => {
                    Err(Failure::Transport(TransportError::Unavailable(detail)))
                }
                // A bad initialize is a JSON-RPC error, not a 4xx: 400/404/405 would
                // send 2025-11-25 clients to the legacy transport (section 5, item 14).
                Err(e) => Ok(Reply::Json(
                    jsonrpc::error_response(Some(&id), &e, ProtocolVersion::LATEST).to_string(),
                )
                .into()),
            };
        }
        let session = self.session(seen, principal).await?;
        match message {
            Message::Notification(n) => {
                Box::pin(self.core.notification(&session, n)).await?;
                Ok(Reply::Accepted.into())
            }
            Message::Response(r) => {
                Box::pin(self.core.client_response(&session, r)).await?;
                Ok(Reply::Accepted.into())
            }
            Message::Request(r) => {
                self.check_scopes(principal, std::slice::from_ref(&r))?;
                Ok(self
                    .run(session, principal, vec![r], Vec::new(), false)
                    .await
                    .into())
            }
        }
    }

    /// T-27: 2025-03-26 sessions may POST a JSON array of messages.
    async fn post_batch(
        &self,
        seen: &McpHeaders<'_>,
        principal: &Arc<Principal>,
        items: Vec<Value>,
    ) -> Result<Answer, Failure> {
        if items.is_empty() {
            return Err(TransportError::EmptyBatch.into());
        }
        // Each request of a batch runs in a task of its own: bounded.
        if items.len() > self.core.settings.max_batch {
            return Err(TransportError::BatchTooLarge(self.core.settings.max_batch).into());
        }
        if items
            .iter()
            .any(|m| m.get("method").and_then(Value::as_str) == Some("initialize"))
        {
            return Err(TransportError::InitializeInBatch.into());
        }
        let session = self.session(seen, principal).await?;
        if !session.version.allows_batches() {
            return Err(TransportError::BatchNotSupported(session.version.as_str()).into());
        }
        let mut requests = Vec::new();
        let mut errors = Vec::new();
        for item in items {
            match parse_message(item) {
                Ok(Message::Request(r)) => requests.push(r),
                Ok(Message::Notification(n)) => self.core.notification(&session, n).await?,
                Ok(Message::Response(r)) => self.core.client_response(&session, r).await?,
                Err(m) => errors.push(jsonrpc::error_response(
                    m.id.as_ref(),
                    &m.error,
                    session.version,
                )),
            }
        }
        if requests.is_empty() && errors.is_empty() {
            return Ok(Reply::Accepted.into());
        }
        self.check_scopes(principal, &requests)?;
        Ok(self
            .run(session, principal, requests, errors, true)
            .await
            .into())
    }

    /// Start the requests and wait until the reply's form (JSON or SSE) is known.
    /// A lone request runs in this task while its reply may still be JSON (the
    /// hot path: no task to spawn); a batch's requests each get a task.
    async fn run(
        &self,
        session: Session,
        principal: &Arc<Principal>,
        mut requests: Vec<RpcRequest>,
        errors: Vec<Value>,
        batch: bool,
    ) -> Reply {
        let (out, rx) = Outbound::channel();
        let expected = requests.len() + errors.len();
        let lone = match (requests.len(), errors.is_empty(), batch) {
            (1, true, false) => requests.pop(),
            _ => None,
        };
        let run = lone.map(|r| self.core.request_run(&session, principal, r, out.clone()));
        for e in errors {
            out.finish(Some(e.to_string()));
        }
        for r in requests {
            tokio::spawn(self.core.request_run(&session, principal, r, out.clone()));
        }
        drop(out);
        streams::reply(self.core.clone(), session, rx, run, expected, batch).await
    }

    async fn get(
        &self,
        seen: &McpHeaders<'_>,
        principal: &Arc<Principal>,
    ) -> Result<Answer, Failure> {
        if !accepted(seen, &["text/event-stream"]) {
            return Err(TransportError::NotAcceptableGet.into());
        }
        let session = self.session(seen, principal).await?;
        let core = &self.core;
        let held = core
            .streams
            .open(&principal.user_id)
            .ok_or(TransportError::TooManyStreams(
                core.settings.streams_per_user,
            ))?;
        let last_event_id = text(seen.last_event_id);
        let resuming = last_event_id.is_some();
        let (stream, after) = match last_event_id {
            Some(last) => {
                let bad = || TransportError::BadLastEventId(last.to_string());
                let (stream, seq) = streams::parse_event_id(last).ok_or_else(bad)?;
                let state = core
                    .store
                    .stream_state(&session.id, &stream)
                    .await?
                    .ok_or_else(bad)?;
                if seq > state.last_seq {
                    return Err(bad().into());
                }
                (stream, seq)
            }
            None => {
                let state = core
                    .store
                    .open_stream(&session.id, super::session::STANDALONE_STREAM, now_ms())
                    .await?;
                (
                    super::session::STANDALONE_STREAM.to_string(),
                    state.last_seq,
                )
            }
        };
        // A new stream is primed (2025-11-25) so the client holds an id to resume
        // from; a resumed one already has it.
        let prime = if resuming {
            None
        } else {
            streams::get_priming(core, &session, &stream, after)
        };
        let body = streams::serve(core.clone(), session, stream, after, prime, held);
        Ok(Reply::Sse(body).into())
    }

    async fn delete(
        &self,
        seen: &McpHeaders<'_>,
        principal: &Arc<Principal>,
    ) -> Result<Answer, Failure> {
        let session = self.session(seen, principal).await?;
        self.core.delete_session(&session).await?;
        Ok(Reply::Done.into())
    }

    /// T-19…T-21, T-24…T-26: the request's session, and its version header.
    async fn session(
        &self,
        seen: &McpHeaders<'_>,
        principal: &Principal,
    ) -> Result<Session, Failure> {
        let id = text(seen.session).ok_or(TransportError::MissingSession)?;
        // T-26: a header that is not even text is as invalid as an unknown
        // version (it is not "absent").
        if let Some(raw) = seen.version {
            match raw.to_str() {
                Ok(v) if ProtocolVersion::parse(v).is_some() => {}
                Ok(v) => return Err(TransportError::BadProtocolVersion(v.to_string()).into()),
                Err(_) => {
                    return Err(TransportError::BadProtocolVersion("(not text)".into()).into());
                }
            }
        }
        // A header naming another supported version than the session's: the
        // session's negotiated version wins.
        self.core
            .sessions
            .get(id, &principal.user_id)
            .await?
            .ok_or_else(|| TransportError::SessionNotFound.into())
    }
}

/// What a POST's `Accept` must admit (T-6): a JSON answer and an SSE stream.
const POST_TYPES: [&str; 2] = ["application/json", "text/event-stream"];

/// The `Accept` values the SDKs and the conformance suite send with every
/// POST, each of which admits exactly [`POST_TYPES`] (the unit test reads
/// each range by range to prove it).
const COMMON_ACCEPT: [&[u8]; 2] = [
    b"application/json, text/event-stream",
    b"text/event-stream, application/json",
];

/// Whether the Accept header admits every one of `types` (wildcards count; no
/// Accept header admits nothing, as the SDKs do), in one pass over its media
/// ranges (the hot path: every POST).
fn accepted(seen: &McpHeaders<'_>, types: &[&str]) -> bool {
    // What the SDKs send, as one value: admits exactly the POST's two types.
    // Compared whole first, before reading it range by range below.
    if let (Some(only), false) = (seen.accept, seen.more_accept)
        && types == POST_TYPES
        && COMMON_ACCEPT.contains(&only.as_bytes())
    {
        return true;
    }
    // Bit i: types[i] is admitted.
    let all = (1u32 << types.len()) - 1;
    let mut admitted = 0u32;
    // Over bytes: splitting `str`s by `char` patterns cost a request about a
    // thousand instructions for the two ranges every SDK sends.
    let values = seen.accept_values().iter().filter_map(|v| v.to_str().ok());
    for value in values {
        for range in value.as_bytes().split(|&b| b == b',') {
            let range = range
                .split(|&b| b == b';')
                .next()
                .unwrap_or_default()
                .trim_ascii();
            if range == b"*/*" {
                return true;
            }
            let major = range.strip_suffix(b"/*");
            for (i, wanted) in types.iter().enumerate() {
                let admits = range.eq_ignore_ascii_case(wanted.as_bytes())
                    || major.is_some_and(|m| {
                        wanted
                            .split_once('/')
                            .is_some_and(|(w, _)| m.eq_ignore_ascii_case(w.as_bytes()))
                    });
                if admits {
                    admitted |= 1 << i;
                }
            }
            if admitted == all {
                return true;
            }
        }
    }
    admitted == all
}

/// `application/json`, optionally with `charset=utf-8` (JSON-RPC is UTF-8).
fn is_json(seen: &McpHeaders<'_>) -> bool {
    let Some(ct) = text(seen.content_type) else {
        return false;
    };
    // What clients send, compared whole before reading it part by part.
    if ct.eq_ignore_ascii_case("application/json") {
        return true;
    }
    let mut parts = ct.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        && parts.all(|p| match p.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
                v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            }
            _ => true,
        })
}

/// The body, at most `max` bytes (a larger declared length is refused
/// before reading any of it), read as salvo's `payload_with_max_size` reads it.
async fn read_body(
    body: ReqBody,
    seen: &McpHeaders<'_>,
    max: usize,
) -> Result<Bytes, TransportError> {
    use http_body_util::{BodyExt, Limited};
    let declared = text(seen.content_length).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(TransportError::PayloadTooLarge(max));
    }
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if too_large(e.as_ref()) => Err(TransportError::PayloadTooLarge(max)),
        Err(e) => Err(TransportError::Parse(format!(
            "could not read the body: {e}"
        ))),
    }
}

/// Whether reading a body failed on its size limit (the error may come
/// wrapped in an I/O error, as salvo also checks).
fn too_large(e: &(dyn std::error::Error + 'static)) -> bool {
    e.is::<http_body_util::LengthLimitError>()
        || e.downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .is_some_and(|inner| too_large(inner))
}

fn write_json(res: &mut Response, status: StatusCode, body: &Value) {
    write_json_text(res, status, body.to_string());
}

fn write_json_text(res: &mut Response, status: StatusCode, body: String) {
    res.status_code(status);
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res.body(salvo::http::ResBody::Once(Bytes::from(body)));
}

/// A message that `jsonrpc::read_request` could not read as one well-formed
/// request: read as a tree, for the exact error (L-1) or the batch.
enum Tree {
    Batch(Vec<Value>),
    One(Message),
}

#[cold]
#[inline(never)]
fn read_tree(body: &[u8]) -> Result<Tree, Failure> {
    match serde_json::from_slice(body).map_err(|e| TransportError::Parse(e.to_string()))? {
        Value::Array(items) => Ok(Tree::Batch(items)),
        single => Ok(Tree::One(parse(single)?)),
    }
}

/// A 2026-07-28 answer other than a JSON success already serialized (the hot
/// path, which `post_modern` takes itself).
#[cold]
#[inline(never)]
fn modern_answer(served: Result<modern::Served, modern::Refused>) -> Result<Answer, Failure> {
    match served {
        Ok(modern::Served::Json(StatusCode::OK, body)) => Ok(Reply::Json(body.to_string()).into()),
        Ok(modern::Served::Json(status, body)) => {
            Err(Failure::Modern(modern::Refusal { status, body }))
        }
        Ok(modern::Served::Text(StatusCode::OK, text)) => Ok(Reply::Json(text).into()),
        Ok(modern::Served::Text(status, text)) => Err(Failure::Modern(modern::Refusal {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        })),
        Ok(modern::Served::Sse(rx)) => Ok(Reply::Sse(rx).into()),
        Err(modern::Refused::Rpc(refusal)) => Err(Failure::Modern(refusal)),
        Err(modern::Refused::Transport(e)) => Err(e.into()),
    }
}

/// A refusal as its status, headers and JSON body. Cold: out of the hot
/// path's cache lines (`bench/analysis.md`).
#[cold]
#[inline(never)]
fn write_failure(res: &mut Response, failure: Failure, seen: &McpHeaders<'_>) {
    // The version for error bodies: the client's header when it is one we know.
    let version = || {
        text(seen.version)
            .and_then(ProtocolVersion::parse)
            .unwrap_or(ProtocolVersion::DEFAULT)
    };
    match failure {
        Failure::Transport(e) => {
            if let TransportError::Unavailable(inner) = &e {
                tracing::error!(error = %inner, "store unavailable");
                res.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(crate::store::OUTAGE_RETRY_AFTER),
                );
            }
            if let TransportError::InsufficientScope { challenge, .. } = &e
                && let Ok(v) = HeaderValue::from_str(challenge)
            {
                res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            if matches!(e, TransportError::MethodNotAllowed) {
                res.add_header(header::ALLOW, "GET, POST, DELETE", true)
                    .ok();
            }
            write_json(res, e.status(), &e.body(version()));
        }
        Failure::Modern(refusal) => write_json(res, refusal.status, &refusal.body),
        Failure::Rpc { id, error } => {
            write_json(
                res,
                StatusCode::BAD_REQUEST,
                &jsonrpc::error_response(id.as_ref(), &error, version()),
            );
        }
    }
}

fn write_answer(res: &mut Response, answer: Answer) {
    if let Some(id) = &answer.session
        && let Ok(v) = HeaderValue::from_str(id)
    {
        res.headers_mut().insert(SESSION_HEADER, v);
    }
    match answer.reply {
        // An explicit empty body: salvo logs a warning for every bodiless 2xx
        // answer to a POST, which would be one per client notification.
        Reply::Accepted => {
            res.status_code(StatusCode::ACCEPTED);
            res.body(salvo::http::ResBody::Once(Bytes::new()));
        }
        Reply::Done => {
            res.status_code(StatusCode::OK);
            res.body(salvo::http::ResBody::Once(Bytes::new()));
        }
        Reply::Json(body) => write_json_text(res, StatusCode::OK, body),
        Reply::Sse(rx) => {
            res.status_code(StatusCode::OK);
            let headers = res.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
            res.stream(ReceiverStream::new(rx).map(Ok::<_, std::convert::Infallible>));
        }
    }
}

#[cfg(test)]
mod tests {
    use salvo::http::HeaderMap;

    use super::*;

    fn with_accept(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::ACCEPT, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    fn accepts(values: &[&[u8]], types: &[&str]) -> bool {
        accepted(&McpHeaders::read(&with_accept(values)), types)
    }

    /// The whole-value shortcut (T-6) says yes only where reading the value
    /// range by range says yes, and anything else still goes range by range.
    #[test]
    fn the_common_accept_values_are_read_the_same_either_way() {
        for common in COMMON_ACCEPT {
            assert!(accepts(&[common], &POST_TYPES));
            // Range by range (the shortcut is for one value only).
            assert!(accepts(&[common, b"text/plain"], &POST_TYPES));
            assert!(
                !accepts(&[common], &["text/html"]),
                "the shortcut is for the POST's two types only"
            );
        }
        assert!(!accepts(&[b"application/json"], &POST_TYPES));
        assert!(!accepts(
            &[b"application/json, text/event-streams"],
            &POST_TYPES
        ));
        assert!(!accepts(&[], &POST_TYPES));
        assert!(accepts(
            &[b"application/json", b"text/event-stream"],
            &POST_TYPES
        ));
        assert!(accepts(&[b"*/*"], &POST_TYPES));
        assert!(accepts(&[b"APPLICATION/JSON;q=0.9, text/*"], &POST_TYPES));
        assert!(accepts(&[b"text/event-stream"], &["text/event-stream"]));
    }
}
