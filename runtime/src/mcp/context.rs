//! What a tool, resource or prompt handler receives and may return: the request
//! [`Context`] (who is calling, progress, logging, cancellation, requests back to
//! the client) and the error types that map to exactly one wire error each.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub use super::handle::ClientRequestError;
use super::handle::ServerHandle;
use super::input::{
    ElicitResult, Elicitation, InputRequest, ListRoots, Roots, Sampling, SamplingResult,
};
use super::input_required::{Lookup, Round};
use super::jsonrpc::{self, RequestId};
use super::logging::LogLevel;
use super::outbound::Outbound;
use super::session::Session;
use super::version::ProtocolVersion;
use crate::principal::Principal;

/// A tool (or prompt handler) failed. `?` converts `anyhow::Error`, the
/// store's errors (`StoreError`, an app's tables included) and JSON errors
/// into `Internal`, and a failed request to the client into `Failed`; any
/// other error converts with [`ToolError::internal`] (it takes any
/// `std::error::Error`), so a tool does not depend on the database crate.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// An execution error the model should see and can react to: an `isError`
    /// result carrying this text.
    #[error("{0}")]
    Failed(String),
    /// The arguments do not fit the tool's input schema. An `isError` result for
    /// 2025-11-25 sessions (SEP-1303), JSON-RPC -32602 for earlier ones.
    #[error("Invalid arguments: {0}")]
    InvalidArguments(String),
    /// A failure on the server's side: logged with its detail; the model sees only
    /// "internal error".
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ToolError {
    /// A failure the model reads and may act on: the call's result has
    /// `isError: true` and this text.
    pub fn failed(message: impl Into<String>) -> ToolError {
        ToolError::Failed(message.into())
    }

    /// A failure of the server's own: logged with its cause, and the model
    /// reads only that the tool failed. Any `std::error::Error` converts,
    /// so `?` works on the errors of the libraries a tool calls:
    ///
    /// ```
    /// fn parse_limit(text: &str) -> Result<u32, gatehouse::ToolError> {
    ///     text.parse::<u32>().map_err(gatehouse::ToolError::internal)
    /// }
    /// assert!(parse_limit("ten").is_err());
    /// ```
    pub fn internal(error: impl Into<anyhow::Error>) -> ToolError {
        ToolError::Internal(error.into())
    }
}

impl From<anyhow::Error> for ToolError {
    fn from(e: anyhow::Error) -> Self {
        ToolError::Internal(e)
    }
}

/// A failed call to the store, an app's tables included ([`crate::AppStore`]).
impl From<crate::store::StoreError> for ToolError {
    fn from(e: crate::store::StoreError) -> Self {
        ToolError::Internal(e.into())
    }
}

impl From<serde_json::Error> for ToolError {
    fn from(e: serde_json::Error) -> Self {
        ToolError::Internal(e.into())
    }
}

impl From<ClientRequestError> for ToolError {
    fn from(e: ClientRequestError) -> Self {
        ToolError::Failed(e.to_string())
    }
}

/// Reading a resource failed.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// -32002: nothing at that URI.
    #[error("Resource not found")]
    NotFound,
    /// -32602: the URI is malformed for this resource.
    #[error("Invalid resource URI: {0}")]
    InvalidUri(String),
    /// -32603, logged with detail.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<anyhow::Error> for ResourceError {
    fn from(e: anyhow::Error) -> Self {
        ResourceError::Internal(e)
    }
}

impl From<crate::store::StoreError> for ResourceError {
    fn from(e: crate::store::StoreError) -> Self {
        ResourceError::Internal(e.into())
    }
}

impl From<serde_json::Error> for ResourceError {
    fn from(e: serde_json::Error) -> Self {
        ResourceError::Internal(e.into())
    }
}

/// An answer that is not a result of its request `R`.
fn malformed<R: InputRequest>(e: &serde_json::Error) -> ClientRequestError {
    ClientRequestError::Malformed(format!("not a valid {} result: {e}", R::METHOD))
}

/// What `completion/complete` asks about.
#[derive(Debug, Clone, PartialEq)]
pub enum CompletionRef {
    /// An argument of a prompt.
    Prompt {
        /// The prompt's name.
        name: String,
    },
    /// A variable of a resource template.
    Resource {
        /// The template (or a resource's URI).
        uri: String,
    },
}

/// A `completion/complete` request.
#[derive(Debug, Clone)]
pub struct CompletionRequest {
    /// The prompt or template the argument belongs to.
    pub reference: CompletionRef,
    /// The argument being completed.
    pub argument: String,
    /// What the user typed so far.
    pub value: String,
    /// Values of the other arguments (2025-06-18 `context`).
    pub arguments: serde_json::Map<String, Value>,
}

/// The request a handler runs for.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

struct Inner {
    server: Arc<dyn ServerHandle>,
    session: Session,
    principal: Arc<Principal>,
    request_id: RequestId,
    progress_token: Option<Value>,
    out: Outbound,
    /// `None` in the 2026-07-28 era, where closing the response stream drops
    /// the run instead.
    cancel: Option<CancellationToken>,
    last_progress: Mutex<Option<f64>>,
    /// A client capability the handler needed and the request did not
    /// declare (2026-07-28: the request is answered with -32021).
    missing_capability: Mutex<Option<&'static str>>,
    /// 2026-07-28 calls that may require input: where answers come from.
    round: Option<Arc<Round>>,
}

/// What a request's context is made of; the session and the caller are shared,
/// not copied.
pub(crate) struct ContextParts {
    /// What the request may ask of the server beyond its own stream.
    pub server: Arc<dyn ServerHandle>,
    pub session: Session,
    pub principal: Arc<Principal>,
    pub request_id: RequestId,
    pub progress_token: Option<Value>,
    pub out: Outbound,
    /// `notifications/cancelled` in a session; `None` where closing the
    /// response stream drops the run instead (2026-07-28).
    pub cancel: Option<CancellationToken>,
    /// 2026-07-28: the call's input round (`None` in a session, where input
    /// requests go to the client on the request's stream).
    pub round: Option<Arc<Round>>,
}

impl Context {
    pub(crate) fn new(p: ContextParts) -> Context {
        Context {
            inner: Arc::new(Inner {
                server: p.server,
                session: p.session,
                principal: p.principal,
                request_id: p.request_id,
                progress_token: p.progress_token,
                out: p.out,
                cancel: p.cancel,
                last_progress: Mutex::new(None),
                missing_capability: Mutex::new(None),
                round: p.round,
            }),
        }
    }

    /// The internal id of the user the request runs for.
    pub fn user_id(&self) -> &str {
        &self.inner.session.owner
    }

    /// The OAuth client the caller's token was issued to (`None` without OAuth).
    pub fn client_id(&self) -> Option<&str> {
        self.inner.principal.client_id.as_deref()
    }

    /// The scopes the caller's token grants (`None` without OAuth).
    pub fn scopes(&self) -> Option<&[String]> {
        self.inner.principal.scopes.as_deref()
    }

    /// The MCP session (empty for a 2026-07-28 request, which has none).
    pub fn session_id(&self) -> &str {
        &self.inner.session.id
    }

    /// The JSON-RPC id of the request.
    pub fn request_id(&self) -> &RequestId {
        &self.inner.request_id
    }

    /// The protocol version negotiated for the session.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.inner.session.version
    }

    /// The capabilities the client declared at `initialize`.
    pub fn client_capabilities(&self) -> &Value {
        &self.inner.session.client_capabilities
    }

    /// Whether the client cancelled the request (`notifications/cancelled`). A
    /// cancelled handler is also stopped at its next `.await`.
    pub fn is_cancelled(&self) -> bool {
        self.inner
            .cancel
            .as_ref()
            .is_some_and(CancellationToken::is_cancelled)
    }

    /// Completes when the request is cancelled.
    pub async fn cancelled(&self) {
        match &self.inner.cancel {
            Some(cancel) => cancel.cancelled().await,
            // Dropped with the run when its stream closes, or never.
            None => std::future::pending().await,
        }
    }

    /// Report progress (only when the client asked for it with a progress token;
    /// values that do not increase are dropped, as the spec requires).
    pub fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        let Some(token) = &self.inner.progress_token else {
            return;
        };
        {
            let mut last = self.inner.last_progress.lock().expect("progress lock");
            if last.is_some_and(|l| progress <= l) {
                return;
            }
            *last = Some(progress);
        }
        let mut params = json!({ "progressToken": token, "progress": progress });
        if let Some(t) = total {
            params["total"] = json!(t);
        }
        if let Some(m) = message {
            params["message"] = json!(m);
        }
        self.inner
            .out
            .send(jsonrpc::notification("notifications/progress", params));
    }

    /// Send a log message to the client (`notifications/message`) when its level
    /// passes the session's `logging/setLevel` (default: warning and above).
    pub fn log(&self, level: LogLevel, logger: Option<&str>, data: impl Serialize) {
        let threshold = match self.inner.session.log_level {
            Some(l) => l,
            // 2026-07-28: no messages unless the request asked for a level.
            None if self.inner.session.stateless => return,
            None => LogLevel::Warning,
        };
        if level < threshold {
            return;
        }
        let mut params = json!({ "level": level.as_str(), "data": data });
        if let Some(l) = logger {
            params["logger"] = json!(l);
        }
        self.inner
            .out
            .send(jsonrpc::notification("notifications/message", params));
    }

    /// A fresh access token of the sign-in provider `provider` (its name in the
    /// spec) for the calling user, to call that provider's API as them. The
    /// provider must keep tokens (`store_tokens: true`) and the user must have
    /// signed in with it; the token is refreshed when it is about to expire.
    /// Otherwise a tool error says what the person has to do (sign in again).
    /// Never return this token to the client (U-14: no token passthrough).
    pub async fn upstream_token(&self, provider: &str) -> Result<String, ToolError> {
        use crate::oauth::upstream::tokens::UpstreamTokenError;
        let Some(upstream) = self.inner.server.upstream() else {
            return Err(ToolError::failed(format!(
                "this server has no sign-in providers (auth: none); `{provider}` has no tokens"
            )));
        };
        match upstream.token_for(self.user_id(), provider).await {
            Ok(t) => Ok(t),
            Err(UpstreamTokenError::Store(e)) => Err(ToolError::internal(e)),
            Err(e) => Err(ToolError::failed(e.to_string())),
        }
    }

    /// Tell sessions subscribed to `uri` (`resources/subscribe`) that it changed.
    pub async fn notify_resource_updated(&self, uri: &str) -> Result<(), ToolError> {
        self.inner
            .server
            .resource_updated(uri)
            .await
            .map_err(ToolError::internal)
    }

    /// Close this request's connection without ending its stream (2025-11-25
    /// polling, SEP-1699): the client reconnects with `Last-Event-ID` after the
    /// `retry` interval and receives the rest, the response included. Earlier
    /// versions have no priming event to resume from, so for them this does nothing.
    pub fn close_stream(&self) {
        if self.inner.session.version.is_2025_11_25_or_later() && !self.inner.session.stateless {
            self.inner.out.disconnect();
        }
    }

    /// Send a notification related to this request, on its stream.
    pub fn notify(&self, method: &str, params: Value) {
        self.inner.out.send(jsonrpc::notification(method, params));
    }

    /// Send a notification unrelated to this request, on the session's standalone
    /// GET stream (held by whichever replica the client is connected to).
    pub async fn notify_session(&self, method: &str, params: Value) -> Result<(), ToolError> {
        let message = jsonrpc::notification(method, params);
        self.inner
            .server
            .notify_session(&self.inner.session.id, &message)
            .await
            .map_err(ToolError::internal)
    }

    /// Send a request to the client on this request's stream and wait for its
    /// answer (the `result` member).
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, ClientRequestError> {
        let never;
        let cancel = match &self.inner.cancel {
            Some(cancel) => cancel,
            None => {
                never = CancellationToken::new();
                &never
            }
        };
        self.inner
            .server
            .client_request(
                &self.inner.session.id,
                &self.inner.out,
                cancel,
                method,
                params,
            )
            .await
    }

    /// Whether the client declared `capability` (`sampling`, `elicitation`,
    /// `roots`, …) for this request: at `initialize` in a session, in the
    /// request's `_meta` in the 2026-07-28 era. Elicitation also needs
    /// 2025-06-18 or later.
    pub fn client_supports(&self, capability: &str) -> bool {
        let session = &self.inner.session;
        session.client_capabilities.get(capability).is_some()
            && (capability != "elicitation" || session.version.has_titles_and_structured_output())
    }

    /// Ask the client for something in the middle of this request and wait
    /// for the answer: an [`Elicitation`](super::input::Elicitation), a
    /// [`Sampling`](super::input::Sampling) or
    /// [`ListRoots`](super::input::ListRoots). In a session it is a request on
    /// this request's stream. In the 2026-07-28 era the call ends here with an
    /// `InputRequiredResult`, and the handler runs again from the start when
    /// the client retries with the answer, so whatever it did before asking
    /// must be safe to repeat. Questions asked together
    /// (`tokio::join!(ctx.ask(a), ctx.ask(b))`) go to the client together.
    pub async fn ask<R: InputRequest>(&self, request: R) -> Result<R::Output, ClientRequestError> {
        if !self.client_supports(R::CAPABILITY) {
            return Err(self.unsupported(R::CAPABILITY));
        }
        let params = request.params();
        let Some(round) = &self.inner.round else {
            let answer = self.request(R::METHOD, params).await?;
            return serde_json::from_value(answer).map_err(|e| malformed::<R>(&e));
        };
        let key = match request.chosen_key() {
            Some(k) => k.to_string(),
            None => round.next_key(R::KIND),
        };
        let answer = match round.lookup(&key, R::METHOD, params) {
            Lookup::Answered(answer) => answer,
            // The run ends at this point (`input_required::run_until_input`).
            Lookup::Pending => std::future::pending::<Value>().await,
        };
        serde_json::from_value(answer).map_err(|e| {
            round.malformed(&key, R::METHOD, &e);
            malformed::<R>(&e)
        })
    }

    /// `elicitation/create`: ask the user to fill in a form ([`Context::ask`]).
    pub async fn elicit(&self, request: Elicitation) -> Result<ElicitResult, ClientRequestError> {
        self.ask(request).await
    }

    /// `sampling/createMessage`: ask the client's model ([`Context::ask`]).
    pub async fn create_message(
        &self,
        request: Sampling,
    ) -> Result<SamplingResult, ClientRequestError> {
        self.ask(request).await
    }

    /// `roots/list`: the client's roots ([`Context::ask`]).
    pub async fn list_roots(&self) -> Result<Roots, ClientRequestError> {
        self.ask(ListRoots::new()).await
    }

    /// L-8: the client did not declare `capability`; remembered so that a
    /// 2026-07-28 request is answered with -32021 naming it.
    fn unsupported(&self, capability: &'static str) -> ClientRequestError {
        *self
            .inner
            .missing_capability
            .lock()
            .expect("capability lock") = Some(capability);
        ClientRequestError::Unsupported(capability)
    }

    /// The client capability the handler needed and did not have, if any.
    pub(crate) fn missing_capability(&self) -> Option<&'static str> {
        *self
            .inner
            .missing_capability
            .lock()
            .expect("capability lock")
    }
}
