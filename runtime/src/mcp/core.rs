//! The MCP server proper: shared state, the lifecycle (initialize, notifications)
//! and every JSON-RPC method, independent of HTTP. The transport hands it parsed
//! messages and a stream to answer on.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::broker::{Broker, Signal};
use super::catalog::Catalog;
use super::context::{ClientRequestError, Context, ContextParts};
use super::definition::Handlers;
use super::error::McpError;
use super::handle::ServerHandle;
use super::inflight::InFlight;
use super::jsonrpc::{self, Notification, Request, RequestId, Response, params_object};
use super::methods::params::{
    CallToolParams, CompleteParams, GetPromptParams, ListParams, SetLevelParams, UriParams,
};
use super::methods::{Answer, Methods};
use super::outbound::Outbound;
use super::session::{Session, Sessions};
use super::version::ProtocolVersion;
use crate::principal::Principal;
use crate::store::{Store, StoreError, now_ms};

/// The largest `clientInfo` and client `capabilities` kept with a session.
const MAX_CLIENT_INFO: usize = 4096;
const MAX_CAPABILITIES: usize = 16 * 1024;

/// Tunables of the MCP server.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Items per page of the list methods.
    pub page_size: usize,
    /// A session unused for this long expires (404 afterwards, T-21).
    pub session_idle_timeout: Duration,
    /// Idle SSE streams get a comment this often; a request still running after
    /// this long switches its reply from JSON to SSE so the connection stays busy.
    pub keepalive: Duration,
    /// The `retry` sent with priming events (2025-11-25).
    pub sse_retry: Duration,
    /// Logged events are kept this long…
    pub event_max_age: Duration,
    /// …and at most this many per session.
    pub events_per_session: i64,
    /// How long a server-to-client request waits for the client's answer.
    pub client_request_timeout: Duration,
    /// Stream readers re-check the event log this often even without a signal
    /// (a safety net; signals and listener resyncs normally wake them).
    pub poll_interval: Duration,
    /// Largest accepted request body, in bytes (413 beyond).
    pub max_body: usize,
    /// Messages in one batch (2025-03-26), at most.
    pub max_batch: usize,
    /// `GATEHOUSE_SESSIONS_PER_USER`: live sessions one user may have; a new
    /// one beyond this ends the least recently used.
    pub sessions_per_user: i64,
    /// `GATEHOUSE_STREAMS_PER_USER`: GET streams one user may hold open on
    /// one process at once (429 beyond).
    pub streams_per_user: usize,
    /// The authorization server's tunables.
    pub oauth: crate::oauth::OAuthSettings,
    /// Connections: how many, and how long each may stall (issue 12).
    pub connections: crate::http::connections::ConnectionLimits,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            page_size: 50,
            session_idle_timeout: Duration::from_secs(24 * 3600),
            keepalive: Duration::from_secs(15),
            sse_retry: Duration::from_secs(1),
            event_max_age: Duration::from_secs(3600),
            events_per_session: 1000,
            client_request_timeout: Duration::from_secs(300),
            poll_interval: Duration::from_secs(30),
            max_body: 4 * 1024 * 1024,
            max_batch: 100,
            sessions_per_user: 100,
            streams_per_user: 50,
            oauth: crate::oauth::OAuthSettings::default(),
            connections: Default::default(),
        }
    }
}

/// A client request's run ([`Core::request_run`]).
pub(crate) type RequestRun = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

pub(crate) struct Core {
    /// The method families (tools, prompts, resources, completion).
    pub methods: Methods,
    pub store: Store,
    pub sessions: Sessions,
    pub broker: Broker,
    pub inflight: Arc<InFlight>,
    /// Open GET streams per user (issue 12).
    pub streams: super::stream_counts::StreamCounts,
    pub settings: Settings,
    /// Sign-in providers whose tokens tools may ask for (with OAuth).
    pub upstream: Option<Arc<crate::oauth::upstream::Upstream>>,
    /// Seals the 2026-07-28 era's `requestState` (input_required.rs).
    pub sealer: crate::oauth::sealing::Sealer,
}

impl Core {
    pub(crate) fn new(
        catalog: Catalog,
        handlers: Arc<dyn Handlers>,
        store: Store,
        settings: Settings,
        upstream: Option<Arc<crate::oauth::upstream::Upstream>>,
        sealer: crate::oauth::sealing::Sealer,
    ) -> Core {
        Core {
            sessions: Sessions::new(store.clone(), settings.session_idle_timeout),
            broker: Broker::new(store.clone()),
            inflight: Arc::new(InFlight::default()),
            streams: super::stream_counts::StreamCounts::new(settings.streams_per_user),
            methods: Methods::new(catalog, handlers, settings.page_size),
            store,
            settings,
            upstream,
            sealer,
        }
    }

    // --- lifecycle ---------------------------------------------------------------

    /// `initialize` (L-5, L-6): create the session and answer with the negotiated
    /// version, the capabilities and the server's identity.
    pub(crate) async fn initialize(
        &self,
        owner: &str,
        req: Request,
    ) -> Result<(Session, String), McpError> {
        let params = params_object(req.params)?;
        let requested = params
            .get("protocolVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| McpError::InvalidParams("`protocolVersion` must be a string".into()))?;
        let client_info = params.get("clientInfo").cloned().unwrap_or(Value::Null);
        if client_info.get("name").and_then(Value::as_str).is_none() {
            return Err(McpError::InvalidParams(
                "`clientInfo` must be an object with a string `name`".into(),
            ));
        }
        // Stored with the session: bounded (issue 12).
        for (key, max) in [
            ("clientInfo", MAX_CLIENT_INFO),
            ("capabilities", MAX_CAPABILITIES),
        ] {
            if params.get(key).is_some_and(|v| v.to_string().len() > max) {
                return Err(McpError::InvalidParams(format!(
                    "`{key}` is larger than {max} bytes"
                )));
            }
        }
        let capabilities = match params.get("capabilities") {
            None | Some(Value::Null) => json!({}),
            Some(c @ Value::Object(_)) => c.clone(),
            Some(_) => {
                return Err(McpError::InvalidParams(
                    "`capabilities` must be an object".into(),
                ));
            }
        };
        let version = ProtocolVersion::negotiate(requested);
        let session = self
            .sessions
            .create(owner, version, &client_info, &capabilities)
            .await?;
        // One user's live sessions are capped: beyond the cap the least
        // recently used end (a client that never deletes its sessions
        // cannot fill the store).
        for old in self
            .store
            .evict_sessions(owner, self.settings.sessions_per_user)
            .await?
        {
            self.sessions.forget(&old);
            self.inflight.cancel_session(&old);
            self.broker
                .publish(Signal::Deleted {
                    session: old.clone(),
                })
                .await;
            tracing::info!(session = %old, "session ended: the user's oldest beyond the cap");
        }
        let mut result = json!({
            "protocolVersion": version.as_str(),
            "capabilities": self.methods.catalog().capabilities(),
            "serverInfo": self.methods.catalog().server_info.for_version(version),
        });
        if let Some(i) = &self.methods.catalog().instructions {
            result["instructions"] = json!(i);
        }
        tracing::info!(session = %session.id, %version, client = %client_info["name"], "session created");
        Ok((session, jsonrpc::result_message(&req.id, &result)))
    }

    /// The scopes a request needs that the caller's token lacks (A-RS-10).
    pub(crate) fn missing_scopes(&self, principal: &Principal, req: &Request) -> Vec<String> {
        self.methods
            .missing_scopes(principal, &req.method, req.params.as_ref())
    }

    /// A notification from the client: never answered (L-1).
    pub(crate) async fn notification(
        &self,
        session: &Session,
        n: Notification,
    ) -> Result<(), StoreError> {
        match n.method.as_str() {
            "notifications/initialized" => self.sessions.mark_initialized(&session.id).await?,
            "notifications/cancelled" => {
                let id = n
                    .params
                    .as_ref()
                    .and_then(|p| p.get("requestId"))
                    .and_then(|v| serde_json::from_value::<RequestId>(v.clone()).ok());
                if let Some(id) = id {
                    let key = id.key();
                    if !self.inflight.cancel(&session.id, &key) {
                        // Running on another replica, or already finished.
                        self.broker
                            .publish(Signal::Cancel {
                                session: session.id.clone(),
                                request: key,
                            })
                            .await;
                    }
                }
            }
            other => tracing::debug!(method = other, "notification ignored"),
        }
        Ok(())
    }

    /// The client's answer to a request we sent: to our waiter, or through the
    /// store to the replica that waits for it.
    pub(crate) async fn client_response(
        &self,
        session: &Session,
        r: Response,
    ) -> Result<(), StoreError> {
        let key = r.id.key();
        if self.inflight.deliver(&session.id, &key, r.message.clone()) {
            return Ok(());
        }
        // Kept only when a replica waits for it (issue 12): answers to
        // requests nobody sent are dropped, not stored.
        if !self
            .store
            .put_client_response(&session.id, &key, &r.message.to_string())
            .await?
        {
            tracing::debug!(session = %session.id, "a client response to no waiting request dropped");
            return Ok(());
        }
        self.broker
            .publish(Signal::Response {
                session: session.id.clone(),
                request: key,
            })
            .await;
        Ok(())
    }

    /// A client request's whole run as a future: registered for cancellation
    /// (`notifications/cancelled`), answered on `out` (nothing when cancelled), a
    /// panicking handler answered with an internal error. The caller drives it in
    /// a task of its own (a batch's requests) or, for a lone request, in the
    /// POST's task until it must outlive it ([`super::streams::reply`]); either
    /// way a dropped connection does not cancel it (T-12).
    pub(crate) fn request_run(
        self: &Arc<Self>,
        session: &Session,
        principal: &Arc<Principal>,
        req: Request,
        out: Outbound,
    ) -> RequestRun {
        let core = self.clone();
        let session = session.clone();
        let principal = principal.clone();
        let mut req = req;
        let method = std::mem::take(&mut req.method);
        // The run keeps the HTTP request's span (and its request id). Its own
        // `rpc` span is for `debug`: at `info`, as servers ship, creating,
        // entering and closing it was about 5% of a call (issue 13), and the
        // lines written at `info` from here say the method and session
        // themselves.
        let span = tracing::debug_span!(
            "rpc",
            method = method.as_str(),
            session = session.id.as_str()
        );
        Box::pin(
            async move {
            let (cancel, _guard) = core.inflight.start(&session.id, req.id.key());
            let id = req.id.clone();
            let version = session.version;
            let work = AssertUnwindSafe(core.request(session.clone(), principal, &method, req, out.clone(), cancel.clone()))
                .catch_unwind();
            // Biased: once cancelled, no response is sent, even if the handler
            // noticed the cancellation and finished in the same instant.
            let response = tokio::select! {
                biased;
                _ = cancel.cancelled() => None,
                done = work => Some(match done {
                    Ok(Ok(result)) => jsonrpc::result_message(&id, &result),
                    Ok(Err(e)) => {
                        if let McpError::Internal(detail) | McpError::Unavailable(detail) = &e {
                            tracing::error!(rpc = method, session = session.id, error = %detail, "request failed");
                        }
                        jsonrpc::error_response(Some(&id), &e, version).to_string()
                    }
                    Err(_) => {
                        tracing::error!(rpc = method, session = session.id, "a handler panicked");
                        jsonrpc::error_response(Some(&id), &McpError::internal("panic"), version)
                            .to_string()
                    }
                }),
            };
            out.finish(response);
        }
            .instrument(span),
        )
    }

    /// Run one request. `method` is the request's method, moved out of
    /// `req` by [`Core::request_run`] (which logs it after `req` is gone):
    /// `req.method` is empty here and is not read.
    async fn request(
        self: &Arc<Self>,
        session: Session,
        principal: Arc<Principal>,
        method: &str,
        req: Request,
        out: Outbound,
        cancel: CancellationToken,
    ) -> Result<Answer, McpError> {
        let progress_token = req.progress_token();
        let v = session.version;
        let ctx = Context::new(ContextParts {
            server: self.clone(),
            session: session.clone(),
            principal,
            request_id: req.id.clone(),
            progress_token,
            out,
            cancel: Some(cancel),
            round: None,
        });
        let params = req.params;
        let catalog = self.methods.catalog();
        let result = match method {
            "ping" => Ok(json!({})),
            "initialize" => Err(McpError::InvalidRequest(
                "`initialize` starts a new session; send it without Mcp-Session-Id".into(),
            )),
            "tools/list" => self.methods.list_tools(v, &ListParams::parse(params)?),
            "tools/call" => {
                let result = self
                    .methods
                    .call_tool(ctx, CallToolParams::parse(params)?)
                    .await?;
                return Ok(Answer::Tool(result));
            }
            "prompts/list" if catalog.has_prompts() => {
                self.methods.list_prompts(v, &ListParams::parse(params)?)
            }
            "prompts/get" if catalog.has_prompts() => {
                self.methods
                    .get_prompt(ctx, GetPromptParams::parse(params)?)
                    .await
            }
            "resources/list" if catalog.has_resources() => {
                self.methods.list_resources(v, &ListParams::parse(params)?)
            }
            "resources/templates/list" if catalog.has_resources() => self
                .methods
                .list_resource_templates(v, &ListParams::parse(params)?),
            "resources/read" if catalog.has_resources() => {
                self.methods
                    .read_resource(ctx, UriParams::parse(params)?)
                    .await
            }
            "resources/subscribe" | "resources/unsubscribe" if catalog.has_subscriptions() => {
                let uri = UriParams::parse(params)?.uri;
                if method == "resources/unsubscribe" {
                    Box::pin(self.store.unsubscribe(&session.id, &uri)).await?;
                    return Ok(Answer::Value(json!({})));
                }
                match self.methods.resource(&uri) {
                    Some(r) if r.subscribe => {
                        Box::pin(self.store.subscribe(&session.id, &uri, now_ms())).await?;
                        Ok(json!({}))
                    }
                    Some(_) => Err(McpError::InvalidParams(format!(
                        "resource `{uri}` does not support subscriptions"
                    ))),
                    None => Err(McpError::ResourceNotFound { uri }),
                }
            }
            "logging/setLevel" => {
                let level = SetLevelParams::parse(params)?.level;
                // Boxed, as the subscriptions above: rare, and a store call
                // would make every request's future as large as its own.
                Box::pin(self.sessions.set_log_level(&session.id, level)).await?;
                Ok(json!({}))
            }
            "completion/complete" if catalog.has_prompts() || catalog.has_resources() => {
                self.methods
                    .complete(ctx, CompleteParams::parse(params)?)
                    .await
            }
            other => Err(McpError::MethodNotFound(other.to_string())),
        };
        result.map(Answer::Value)
    }

    // --- server → client -----------------------------------------------------------

    /// Append a message to the session's standalone GET stream.
    pub(crate) async fn notify_session(
        &self,
        session: &str,
        message: &Value,
    ) -> Result<(), StoreError> {
        let seq = self
            .store
            .append_event(
                session,
                super::session::STANDALONE_STREAM,
                &message.to_string(),
                false,
                now_ms(),
            )
            .await?;
        self.broker
            .event_appended(session, super::session::STANDALONE_STREAM, seq);
        Ok(())
    }

    /// Tell every session subscribed to `uri` that it changed
    /// (`notifications/resources/updated`, on each one's standalone stream).
    pub(crate) async fn resource_updated(&self, uri: &str) -> Result<(), StoreError> {
        let message =
            jsonrpc::notification("notifications/resources/updated", json!({ "uri": uri }));
        for session in self.store.subscribers(uri).await? {
            self.notify_session(&session, &message).await?;
        }
        // 2026-07-28 listen streams, on every replica.
        self.broker
            .publish(Signal::Updated {
                uri: uri.to_string(),
            })
            .await;
        Ok(())
    }

    async fn forget_client_response(&self, session: &str, key: &str) {
        if let Err(e) = self.store.forget_client_response(session, key).await {
            tracing::warn!(error = %e, "could not forget a request to the client");
        }
    }

    /// Send a request to the client on a request's stream and wait for the answer.
    pub(crate) async fn client_request(
        &self,
        session: &str,
        out: &Outbound,
        cancel: &CancellationToken,
        method: &str,
        params: Value,
    ) -> Result<Value, ClientRequestError> {
        let id = RequestId::String(format!("gh-{}", uuid::Uuid::new_v4().simple()));
        let key = id.key();
        let (answer, _guard) = self.inflight.wait_for(session, &key);
        // Another replica may receive the answer: it keeps it only for a
        // request someone waits for.
        if let Err(e) = self
            .store
            .await_client_response(session, &key, now_ms())
            .await
        {
            tracing::warn!(error = %e, "could not record a request to the client");
        }
        if !out.send(jsonrpc::request(&id, method, params)) {
            self.forget_client_response(session, &key).await;
            return Err(ClientRequestError::Closed);
        }
        let timeout = self.settings.client_request_timeout;
        let message = tokio::select! {
            a = answer => a.map_err(|_| ClientRequestError::Closed),
            _ = cancel.cancelled() => Err(ClientRequestError::Cancelled),
            _ = tokio::time::sleep(timeout) => Err(ClientRequestError::TimedOut(timeout)),
        };
        self.forget_client_response(session, &key).await;
        let message = message?;
        if let Some(result) = message.get("result") {
            return Ok(result.clone());
        }
        let error = message.get("error").cloned().unwrap_or(Value::Null);
        Err(ClientRequestError::Rejected {
            code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        })
    }

    /// Act on signals from other replicas: cancellations of requests running here,
    /// answers for requests waiting here.
    pub(crate) fn spawn_signal_handler(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let core = Arc::downgrade(self);
        let mut signals = self.broker.subscribe();
        tokio::spawn(async move {
            loop {
                let signal = match signals.recv().await {
                    Ok(s) => s,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                let Some(core) = core.upgrade() else { return };
                match &*signal {
                    Signal::Cancel { session, request } => {
                        core.inflight.cancel(session, request);
                    }
                    Signal::Response { session, request }
                        if core.inflight.is_waiting(session, request) =>
                    {
                        match core.store.take_client_response(session, request).await {
                            Ok(Some(text)) => {
                                if let Ok(message) = serde_json::from_str(&text) {
                                    core.inflight.deliver(session, request, message);
                                }
                            }
                            Ok(None) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "could not read a client response")
                            }
                        }
                    }
                    Signal::Deleted { session } => {
                        core.sessions.forget(session);
                        core.inflight.cancel_session(session);
                    }
                    _ => {}
                }
            }
        })
    }

    /// Periodically delete expired sessions and prune the event log.
    pub(crate) fn spawn_sweeper(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let core = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(core) = core.upgrade() else { return };
                let now = now_ms();
                match core.store.delete_expired_sessions(now).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(sessions = n, "expired sessions deleted"),
                    Err(e) => tracing::warn!(error = %e, "session sweep failed"),
                }
                let before = now - core.settings.event_max_age.as_millis() as i64;
                if let Err(e) = core
                    .store
                    .prune_events(before, core.settings.events_per_session)
                    .await
                {
                    tracing::warn!(error = %e, "event pruning failed");
                }
            }
        })
    }

    /// End a session: DELETE (T-22). Requests still running for it are cancelled
    /// and its open streams close, on every replica.
    pub(crate) async fn delete_session(&self, session: &Session) -> Result<(), StoreError> {
        self.sessions.delete(&session.id).await?;
        self.inflight.cancel_session(&session.id);
        self.broker
            .publish(Signal::Deleted {
                session: session.id.clone(),
            })
            .await;
        tracing::info!(session = %session.id, "session deleted");
        Ok(())
    }
}

#[salvo::async_trait]
impl ServerHandle for Core {
    async fn notify_session(&self, session: &str, message: &Value) -> Result<(), StoreError> {
        Core::notify_session(self, session, message).await
    }

    async fn resource_updated(&self, uri: &str) -> Result<(), StoreError> {
        Core::resource_updated(self, uri).await
    }

    async fn client_request(
        &self,
        session: &str,
        out: &Outbound,
        cancel: &CancellationToken,
        method: &str,
        params: Value,
    ) -> Result<Value, ClientRequestError> {
        Core::client_request(self, session, out, cancel, method, params).await
    }

    fn upstream(&self) -> Option<&Arc<crate::oauth::upstream::Upstream>> {
        self.upstream.as_ref()
    }
}
