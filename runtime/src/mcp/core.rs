//! The MCP server proper: shared state, the lifecycle (initialize, notifications)
//! and every JSON-RPC method, independent of HTTP. The transport hands it parsed
//! messages and a stream to answer on.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::broker::{Broker, Signal};
use super::catalog::{Catalog, MessageTemplate, ResourceSource};
use super::context::{
    ClientRequestError, CompletionRef, CompletionRequest, Context, ContextParts, LogLevel,
    ResourceError, ToolError,
};
use super::definition::Handlers;
use super::error::McpError;
use super::inflight::InFlight;
use super::jsonrpc::{self, Notification, Request, RequestId, Response, params_object};
use super::outbound::Outbound;
use super::pagination;
use super::session::{Session, Sessions};
use super::version::ProtocolVersion;
use super::wire::{self, Content, ResourceContents, ToolResult};
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

/// A method's result: JSON the method built, or a tool's result, serialized
/// straight into the response without a JSON tree in between.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Answer {
    Value(Value),
    Tool(ToolResult),
}

/// A client request's run ([`Core::request_run`]).
pub(crate) type RequestRun = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

pub(crate) struct Core {
    pub catalog: Catalog,
    pub handlers: Arc<dyn Handlers>,
    pub store: Store,
    pub sessions: Sessions,
    pub broker: Broker,
    pub inflight: Arc<InFlight>,
    /// Open GET streams per user (issue 12).
    pub streams: super::stream_counts::StreamCounts,
    pub settings: Settings,
    /// Sign-in providers whose tokens tools may ask for (with OAuth).
    pub upstream: Option<Arc<crate::oauth::upstream::Upstream>>,
    prompts: minijinja::Environment<'static>,
}

fn template_name(prompt: &str, index: usize) -> String {
    format!("{prompt}#{index}")
}

impl Core {
    pub(crate) fn new(
        catalog: Catalog,
        handlers: Arc<dyn Handlers>,
        store: Store,
        settings: Settings,
        upstream: Option<Arc<crate::oauth::upstream::Upstream>>,
    ) -> Core {
        let mut prompts = minijinja::Environment::new();
        // Prompts are plain text for a model, not HTML: no auto-escaping.
        prompts.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        // Block tags (`{% for %}`…) take their line with them, as in most Jinja setups.
        prompts.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .expect("the default delimiters are valid"),
        );
        for p in &catalog.prompts {
            for (i, source) in p.templates.iter().enumerate() {
                prompts
                    .add_template_owned(template_name(&p.info.name, i), source.clone())
                    .expect("prompt templates were checked by the spec loader");
            }
        }
        Core {
            sessions: Sessions::new(store.clone(), settings.session_idle_timeout),
            broker: Broker::new(store.clone()),
            inflight: Arc::new(InFlight::default()),
            streams: super::stream_counts::StreamCounts::new(settings.streams_per_user),
            catalog,
            handlers,
            store,
            settings,
            upstream,
            prompts,
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
            "capabilities": self.catalog.capabilities(),
            "serverInfo": self.catalog.server_info.for_version(version),
        });
        if let Some(i) = &self.catalog.instructions {
            result["instructions"] = json!(i);
        }
        tracing::info!(session = %session.id, %version, client = %client_info["name"], "session created");
        Ok((session, jsonrpc::result_message(&req.id, &result)))
    }

    /// The scopes a `tools/call` needs that the caller's token lacks (A-RS-10);
    /// empty when nothing is missing or the server has no OAuth.
    pub(crate) fn missing_scopes(&self, principal: &Principal, req: &Request) -> Vec<String> {
        let Some(granted) = &principal.scopes else {
            return Vec::new();
        };
        let param = |key: &str| req.params.as_ref().and_then(|p| p.get(key));
        let text = |key: &str| param(key).and_then(Value::as_str);
        // Every method that reads or changes data needs the scopes of what it
        // touches; lists show everything (as for tools). Unknown names get no
        // scope check here: the method itself answers with its own error.
        let needed: &[String] = match req.method.as_str() {
            "tools/call" => text("name")
                .and_then(|n| self.catalog.tool(n))
                .map(|t| &t.scopes[..]),
            "prompts/get" => text("name")
                .and_then(|n| self.catalog.prompt(n))
                .map(|p| &p.scopes[..]),
            "resources/read" | "resources/subscribe" => {
                text("uri").and_then(|u| self.catalog.resource_scopes(u))
            }
            "completion/complete" => param("ref").and_then(|r| self.catalog.completion_scopes(r)),
            _ => None,
        }
        .unwrap_or(&[]);
        needed
            .iter()
            .filter(|s| !granted.contains(s))
            .cloned()
            .collect()
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
        // The run keeps the HTTP request's span (and its request id).
        let span = tracing::info_span!("rpc", method = %req.method, session = %session.id);
        Box::pin(
            async move {
            let key = req.id.key();
            let (cancel, _guard) = core.inflight.start(&session.id, &key);
            let id = req.id.clone();
            let version = session.version;
            let work = AssertUnwindSafe(core.request(session, principal, req, out.clone(), cancel.clone()))
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
                            tracing::error!(error = %detail, "request failed");
                        }
                        jsonrpc::error_response(Some(&id), &e, version).to_string()
                    }
                    Err(_) => {
                        tracing::error!("a handler panicked");
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

    async fn request(
        self: &Arc<Self>,
        session: Session,
        principal: Arc<Principal>,
        req: Request,
        out: Outbound,
        cancel: CancellationToken,
    ) -> Result<Answer, McpError> {
        let progress_token = req
            .params
            .as_ref()
            .and_then(|p| p.get("_meta"))
            .and_then(|m| m.get("progressToken"))
            .filter(|t| t.is_string() || t.is_i64())
            .cloned();
        let v = session.version;
        let ctx = Context::new(ContextParts {
            core: self.clone(),
            session: session.clone(),
            principal,
            request_id: req.id.clone(),
            progress_token,
            out,
            cancel,
        });
        let params = req.params;
        let result = match req.method.as_str() {
            "ping" => Ok(json!({})),
            "initialize" => Err(McpError::InvalidRequest(
                "`initialize` starts a new session; send it without Mcp-Session-Id".into(),
            )),
            "tools/list" => {
                let p = params_object(params)?;
                let tools: Vec<Value> = self
                    .catalog
                    .tools
                    .iter()
                    .map(|t| json!(t.info.for_version(v)))
                    .collect();
                self.page("tools", &tools, &p)
            }
            "tools/call" => {
                let result = self.call_tool(ctx, params_object(params)?).await?;
                return Ok(Answer::Tool(result));
            }
            "prompts/list" if self.catalog.has_prompts() => {
                let p = params_object(params)?;
                let prompts: Vec<Value> = self
                    .catalog
                    .prompts
                    .iter()
                    .map(|p| json!(p.info.for_version(v)))
                    .collect();
                self.page("prompts", &prompts, &p)
            }
            "prompts/get" if self.catalog.has_prompts() => {
                self.get_prompt(ctx, params_object(params)?).await
            }
            "resources/list" if self.catalog.has_resources() => {
                let p = params_object(params)?;
                let resources: Vec<Value> = self
                    .catalog
                    .resources
                    .iter()
                    .map(|r| json!(r.info.for_version(v)))
                    .collect();
                self.page("resources", &resources, &p)
            }
            "resources/templates/list" if self.catalog.has_resources() => {
                let p = params_object(params)?;
                let templates: Vec<Value> = self
                    .catalog
                    .templates
                    .iter()
                    .map(|t| json!(t.info.for_version(v)))
                    .collect();
                self.page("resourceTemplates", &templates, &p)
            }
            "resources/read" if self.catalog.has_resources() => {
                self.read_resource(ctx, params_object(params)?).await
            }
            "resources/subscribe" | "resources/unsubscribe" if self.catalog.has_subscriptions() => {
                let p = params_object(params)?;
                let uri = p
                    .get("uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| McpError::InvalidParams("`uri` must be a string".into()))?;
                if req.method == "resources/unsubscribe" {
                    self.store.unsubscribe(&session.id, uri).await?;
                    return Ok(Answer::Value(json!({})));
                }
                match self.catalog.resources.iter().find(|r| r.info.uri == uri) {
                    Some(r) if r.subscribe => {
                        self.store.subscribe(&session.id, uri, now_ms()).await?;
                        Ok(json!({}))
                    }
                    Some(_) => Err(McpError::InvalidParams(format!(
                        "resource `{uri}` does not support subscriptions"
                    ))),
                    None => Err(McpError::ResourceNotFound {
                        uri: uri.to_string(),
                    }),
                }
            }
            "logging/setLevel" => {
                let p = params_object(params)?;
                let level = p
                    .get("level")
                    .and_then(Value::as_str)
                    .and_then(LogLevel::parse)
                    .ok_or_else(|| {
                        McpError::InvalidParams(
                            "`level` must be one of debug, info, notice, warning, error, critical, alert, emergency"
                                .into(),
                        )
                    })?;
                self.sessions.set_log_level(&session.id, level).await?;
                Ok(json!({}))
            }
            "completion/complete" if self.catalog.has_prompts() || self.catalog.has_resources() => {
                self.complete(ctx, params_object(params)?).await
            }
            other => Err(McpError::MethodNotFound(other.to_string())),
        };
        result.map(Answer::Value)
    }

    fn page(
        &self,
        key: &str,
        items: &[Value],
        params: &Map<String, Value>,
    ) -> Result<Value, McpError> {
        let cursor = match params.get("cursor") {
            None | Some(Value::Null) => None,
            Some(Value::String(c)) => Some(c.as_str()),
            Some(_) => return Err(McpError::InvalidParams("`cursor` must be a string".into())),
        };
        let (page, next) = pagination::page(items, cursor, self.settings.page_size)?;
        let mut result = json!({ key: page });
        if let Some(n) = next {
            result["nextCursor"] = json!(n);
        }
        Ok(result)
    }

    // --- tools ---------------------------------------------------------------------

    async fn call_tool(
        &self,
        ctx: Context,
        mut params: Map<String, Value>,
    ) -> Result<ToolResult, McpError> {
        let v = ctx.protocol_version();
        let args = match params.remove("arguments") {
            None | Some(Value::Null) => json!({}),
            Some(a) => a,
        };
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| McpError::InvalidParams("`name` must be a string".into()))?;
        let tool = self
            .catalog
            .tool(name)
            .ok_or_else(|| McpError::InvalidParams(format!("Unknown tool: {name}")))?;
        // The quick yes/no first; the list of problems only for bad arguments.
        let outcome = if tool.validator.is_valid(&args) {
            self.handlers.call_tool(name, ctx, args).await
        } else {
            let problems: Vec<String> = tool
                .validator
                .iter_errors(&args)
                .map(|e| {
                    let at = e.instance_path().to_string();
                    if at.is_empty() {
                        e.to_string()
                    } else {
                        format!("{at}: {e}")
                    }
                })
                .collect();
            Err(ToolError::InvalidArguments(problems.join("; ")))
        };
        let result = match outcome {
            Ok(result) => result,
            Err(ToolError::Failed(message)) => ToolResult::error(message),
            Err(ToolError::InvalidArguments(message)) if v.is_2025_11_25_or_later() => {
                ToolResult::error(format!("Invalid arguments for tool {name}: {message}"))
            }
            Err(ToolError::InvalidArguments(message)) => {
                return Err(McpError::InvalidParams(format!(
                    "Invalid arguments for tool {name}: {message}"
                )));
            }
            Err(ToolError::Internal(e)) => {
                tracing::error!(tool = name, error = %format!("{e:#}"), "tool failed");
                ToolResult::error(format!("Tool {name} failed with an internal error."))
            }
        };
        Ok(result.into_version(v))
    }

    // --- prompts -------------------------------------------------------------------

    async fn get_prompt(
        &self,
        ctx: Context,
        params: Map<String, Value>,
    ) -> Result<Value, McpError> {
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| McpError::InvalidParams("`name` must be a string".into()))?;
        let prompt = self
            .catalog
            .prompt(name)
            .ok_or_else(|| McpError::InvalidParams(format!("Unknown prompt: {name}")))?;
        let args = match params.get("arguments") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(McpError::InvalidParams(
                    "`arguments` must be an object".into(),
                ));
            }
        };
        for (key, value) in &args {
            if !prompt.spec.arguments.contains_key(key) {
                return Err(McpError::InvalidParams(format!(
                    "Unknown argument `{key}` for prompt {name}"
                )));
            }
            if !value.is_string() {
                return Err(McpError::InvalidParams(format!(
                    "Argument `{key}` must be a string"
                )));
            }
        }
        for (arg, def) in &prompt.spec.arguments {
            if def.required && !args.contains_key(arg) {
                return Err(McpError::InvalidParams(format!(
                    "Missing required argument `{arg}` for prompt {name}"
                )));
            }
        }
        let mut vars = if prompt.handler {
            self.handlers
                .prompt_variables(name, ctx, args.clone())
                .await
                .map_err(|e| match e {
                    ToolError::Failed(m) | ToolError::InvalidArguments(m) => {
                        McpError::InvalidParams(m)
                    }
                    ToolError::Internal(e) => McpError::internal(format!("{e:#}")),
                })?
        } else {
            Map::new()
        };
        vars.extend(args);
        let vars = Value::Object(vars);
        let render = |i: usize| {
            self.prompts
                .get_template(&template_name(name, i))
                .and_then(|t| t.render(minijinja::value::Serde(&vars)))
                .map_err(|e| McpError::internal(format!("prompt {name}: {e}")))
        };
        let mut messages = Vec::new();
        for (role, message) in &prompt.messages {
            let content = match message {
                MessageTemplate::Text(i) => Content::text(render(*i)?),
                MessageTemplate::Image { bytes, mime_type } => {
                    Content::image(bytes, mime_type.clone())
                }
                MessageTemplate::Resource {
                    uri,
                    mime_type,
                    text,
                } => Content::resource(ResourceContents::text(
                    render(*uri)?,
                    mime_type.as_deref(),
                    render(*text)?,
                )),
            };
            messages.push(wire::PromptMessage {
                role: *role,
                content,
            });
        }
        Ok(json!({ "description": prompt.info.description, "messages": messages }))
    }

    // --- resources -----------------------------------------------------------------

    async fn read_resource(
        &self,
        ctx: Context,
        params: Map<String, Value>,
    ) -> Result<Value, McpError> {
        let uri = params
            .get("uri")
            .and_then(Value::as_str)
            .ok_or_else(|| McpError::InvalidParams("`uri` must be a string".into()))?;
        if url::Url::parse(uri).is_err() {
            return Err(McpError::InvalidParams(format!(
                "`{uri}` is not an absolute URI"
            )));
        }
        let not_found = || McpError::ResourceNotFound {
            uri: uri.to_string(),
        };
        let handled = |r: Result<Vec<ResourceContents>, ResourceError>| match r {
            Ok(contents) => Ok(json!({ "contents": contents })),
            Err(ResourceError::NotFound) => Err(not_found()),
            Err(ResourceError::InvalidUri(m)) => Err(McpError::InvalidParams(m)),
            Err(ResourceError::Internal(e)) => Err(McpError::internal(format!("{e:#}"))),
        };
        if let Some(r) = self.catalog.resources.iter().find(|r| r.info.uri == uri) {
            let mime = r.info.mime_type.as_deref();
            let contents = match &r.source {
                ResourceSource::Text(t) => ResourceContents::text(uri, mime, t.clone()),
                ResourceSource::File(bytes) => ResourceContents::from_bytes(uri, mime, bytes),
                ResourceSource::Handler => {
                    let name = r.info.name.clone();
                    return handled(
                        self.handlers
                            .read_resource(&name, ctx, uri.to_string(), Vec::new())
                            .await,
                    );
                }
            };
            return Ok(json!({ "contents": [contents] }));
        }
        for t in &self.catalog.templates {
            if let Some(raw) = t.template.matches(uri) {
                let mut vars = Vec::with_capacity(raw.len());
                for (k, v) in raw {
                    let decoded = percent_encoding::percent_decode_str(&v)
                        .decode_utf8()
                        .map_err(|_| {
                            McpError::InvalidParams(format!("`{k}` in `{uri}` is not UTF-8"))
                        })?;
                    vars.push((k, decoded.into_owned()));
                }
                let name = t.info.name.clone();
                return handled(
                    self.handlers
                        .read_resource(&name, ctx, uri.to_string(), vars)
                        .await,
                );
            }
        }
        Err(not_found())
    }

    // --- completion ----------------------------------------------------------------

    async fn complete(&self, ctx: Context, params: Map<String, Value>) -> Result<Value, McpError> {
        let bad = |m: &str| McpError::InvalidParams(m.to_string());
        let reference = params.get("ref").ok_or_else(|| bad("`ref` is required"))?;
        let argument = params
            .get("argument")
            .ok_or_else(|| bad("`argument` is required"))?;
        let arg_name = argument
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("`argument.name` must be a string"))?;
        let value = argument
            .get("value")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("`argument.value` must be a string"))?;
        let arguments = params
            .get("context")
            .and_then(|c| c.get("arguments"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let reference = match reference.get("type").and_then(Value::as_str) {
            Some("ref/prompt") => {
                let name = reference
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("`ref.name` must be a string"))?;
                let prompt = self
                    .catalog
                    .prompt(name)
                    .ok_or_else(|| McpError::InvalidParams(format!("Unknown prompt: {name}")))?;
                let def = prompt.spec.arguments.get(arg_name).ok_or_else(|| {
                    McpError::InvalidParams(format!("Prompt {name} has no argument `{arg_name}`"))
                })?;
                if let Some(values) = &def.values {
                    let needle = value.to_lowercase();
                    let matching: Vec<String> = values
                        .iter()
                        .filter(|v| v.to_lowercase().starts_with(&needle))
                        .cloned()
                        .collect();
                    return Ok(completion(matching));
                }
                CompletionRef::Prompt {
                    name: name.to_string(),
                }
            }
            Some("ref/resource") => {
                let uri = reference
                    .get("uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("`ref.uri` must be a string"))?;
                let known = self
                    .catalog
                    .templates
                    .iter()
                    .any(|t| t.info.uri_template == uri)
                    || self.catalog.resources.iter().any(|r| r.info.uri == uri);
                if !known {
                    return Err(McpError::InvalidParams(format!("Unknown resource: {uri}")));
                }
                CompletionRef::Resource {
                    uri: uri.to_string(),
                }
            }
            _ => return Err(bad("`ref.type` must be ref/prompt or ref/resource")),
        };
        let request = CompletionRequest {
            reference,
            argument: arg_name.to_string(),
            value: value.to_string(),
            arguments,
        };
        let values = self
            .handlers
            .complete(ctx, request)
            .await
            .map_err(|e| match e {
                ToolError::Failed(m) | ToolError::InvalidArguments(m) => McpError::InvalidParams(m),
                ToolError::Internal(e) => McpError::internal(format!("{e:#}")),
            })?;
        Ok(completion(values))
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
                super::streams::STANDALONE,
                &message.to_string(),
                false,
                now_ms(),
            )
            .await?;
        self.broker
            .event_appended(session, super::streams::STANDALONE, seq);
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

fn completion(mut values: Vec<String>) -> Value {
    let total = values.len();
    values.truncate(100);
    json!({ "completion": { "values": values, "total": total, "hasMore": total > 100 } })
}
