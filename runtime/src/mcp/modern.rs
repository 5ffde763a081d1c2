//! The 2026-07-28 era on the same endpoint (issue 13, M-1): a request whose
//! `_meta` claims a version after 2025-11-25 (or, without a session, whose
//! `MCP-Protocol-Version` header names one) is served on its own, without a
//! session: its version and client capabilities travel in `_meta`, it is
//! checked against its headers, answered from the same method families as
//! the session era (`methods/`), and nothing about it is stored. `initialize`
//! without such a claim keeps the session era (`core.rs`).
//!
//! Order of checks (each a 400 with the request's id): `MCP-Protocol-Version`
//! present (-32020), `_meta` has the version and the client capabilities
//! (-32602), the two versions agree (-32020), the version is one this server
//! speaks (-32022 with `supported` and `requested`), `Mcp-Method` and, for
//! `tools/call`, `prompts/get` and `resources/read`, `Mcp-Name` agree with the
//! body (-32020). Methods that do not exist in this era (`initialize`, `ping`,
//! `logging/setLevel`, `resources/subscribe`…) and unknown ones: 404 with
//! -32601. A tool that needs a client capability the request did not declare:
//! 400 with -32021 and `requiredCapabilities`. A handler that asks the client
//! for input ends its call with an `InputRequiredResult` (`input_required.rs`).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt;
use salvo::http::StatusCode;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::context::{ClientRequestError, Context, ContextParts};
use super::core::Core;
use super::error::{McpError, TransportError};
use super::handle::ServerHandle;
use super::headers::{McpHeaders, text};
use super::input_required::{Binding, Outcome, Round, run_until_input};
use super::jsonrpc::{Request, RequestId};
use super::logging::LogLevel;
use super::methods::Answer;
use super::methods::params::{
    CallToolParams, CompleteParams, GetPromptParams, ListParams, UriParams,
};
use super::modern_method::ModernMethod;
use super::outbound::{Outbound, StreamItem};
use super::session::Session;
use crate::oauth::upstream::Upstream;
use crate::principal::Principal;
use crate::store::{StoreError, now_ms};

/// The versions of this era the server speaks, newest first.
pub const MODERN_VERSIONS: [&str; 1] = ["2026-07-28"];

pub(crate) const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
const META_SUBSCRIPTION: &str = "io.modelcontextprotocol/subscriptionId";

/// -32020: a header disagrees with the body (or is missing).
const HEADER_MISMATCH: i64 = -32020;
/// -32021: the request needs a client capability it did not declare.
const MISSING_CAPABILITY: i64 = -32021;
/// -32022: a version this server does not speak.
const UNSUPPORTED_VERSION: i64 = -32022;

/// Versions of the session era (and the one before it, which no client sends
/// with `_meta`): a claim of anything else is this era's to answer.
fn is_session_era(version: &str) -> bool {
    version == "2024-11-05" || super::version::ProtocolVersion::parse(version).is_some()
}

/// Whether a POST's single message belongs to this era, from its `method`
/// and the version its `_meta` claims (a response has neither).
pub(crate) fn claims_modern(
    seen: &McpHeaders<'_>,
    method: Option<&str>,
    claimed: Option<&Value>,
) -> bool {
    match claimed {
        Some(Value::String(v)) => !is_session_era(v),
        Some(_) => true,
        None => {
            seen.session.is_none()
                && method != Some("initialize")
                && text(seen.version).is_some_and(|v| MODERN_VERSIONS.contains(&v))
        }
    }
}

/// A refusal of this era: an HTTP status and a JSON-RPC error with the
/// request's id.
pub(crate) struct Refusal {
    pub status: StatusCode,
    pub body: Value,
}

/// Why a request of this era was not served.
pub(crate) enum Refused {
    Rpc(Refusal),
    /// A refusal the session era gives the same way (403 with a challenge).
    Transport(TransportError),
}

impl From<Refusal> for Refused {
    fn from(r: Refusal) -> Self {
        Refused::Rpc(r)
    }
}

/// Cold, as every refusal path is: the compiler then lays the code that
/// leads here out of the hot path's cache lines (`bench/analysis.md`).
#[cold]
#[inline(never)]
fn refuse(
    status: StatusCode,
    id: &RequestId,
    code: i64,
    message: &str,
    data: Option<Value>,
) -> Refusal {
    let mut error = json!({ "code": code, "message": message });
    if let Some(d) = data {
        error["data"] = d;
    }
    Refusal {
        status,
        body: json!({ "jsonrpc": "2.0", "id": id, "error": error }),
    }
}

/// What a checked request carries in `_meta` besides its client
/// capabilities (which stay in `req.meta`, checked to be an object).
struct Claims {
    log_level: Option<LogLevel>,
}

/// The checks before any method runs (see the module's order).
fn check(
    seen: &McpHeaders<'_>,
    req: &Request,
    method: Option<ModernMethod>,
) -> Result<Claims, Refusal> {
    let bad = |code, message: &str| refuse(StatusCode::BAD_REQUEST, &req.id, code, message, None);
    let Some(version_header) = text(seen.version) else {
        return Err(bad(
            HEADER_MISMATCH,
            "Header mismatch: MCP-Protocol-Version is required",
        ));
    };
    // Read from the body once (`jsonrpc::Meta`): no lookups here.
    let meta = req.meta();
    let (version, capabilities) = match (&meta.version, &meta.capabilities) {
        (Some(v), Some(c)) => (v, c),
        (v, c) => {
            let missing: Vec<&str> = [(META_VERSION, v), (META_CAPABILITIES, c)]
                .into_iter()
                .filter(|(_, found)| found.is_none())
                .map(|(k, _)| k)
                .collect();
            return Err(bad(
                -32602,
                &format!("Invalid params: `_meta` lacks {}", missing.join(", ")),
            ));
        }
    };
    let Some(version) = version.as_str() else {
        return Err(bad(
            -32602,
            &format!("Invalid params: `_meta.{META_VERSION}` must be a string"),
        ));
    };
    if !capabilities.is_object() {
        return Err(bad(
            -32602,
            &format!("Invalid params: `_meta.{META_CAPABILITIES}` must be an object"),
        ));
    }
    if version != version_header {
        return Err(bad(
            HEADER_MISMATCH,
            "Header mismatch: MCP-Protocol-Version differs from the request's protocol version",
        ));
    }
    if !MODERN_VERSIONS.contains(&version) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            &req.id,
            UNSUPPORTED_VERSION,
            "Unsupported protocol version",
            Some(json!({ "supported": MODERN_VERSIONS, "requested": version })),
        ));
    }
    if text(seen.method) != Some(req.method.as_str()) {
        return Err(bad(
            HEADER_MISMATCH,
            "Header mismatch: Mcp-Method must name the request's method",
        ));
    }
    if let Some(key) = method.and_then(ModernMethod::target_key) {
        let in_body = req
            .params
            .as_ref()
            .and_then(|p| super::jsonrpc::member(p, key))
            .and_then(Value::as_str);
        if in_body.is_some() && text(seen.name) != in_body {
            return Err(bad(
                HEADER_MISMATCH,
                &format!("Header mismatch: Mcp-Name must be the request's `{key}`"),
            ));
        }
    }
    let log_level = match &meta.log_level {
        None | Some(Value::Null) => None,
        Some(l) => Some(l.as_str().and_then(LogLevel::parse).ok_or_else(|| {
            bad(
                -32602,
                &format!("Invalid params: `_meta.{META_LOG_LEVEL}` is not a log level"),
            )
        })?),
    };
    Ok(Claims { log_level })
}

/// What the tool's context may ask of the server in this era: no session to
/// notify or to carry a request to the client. Made once per endpoint
/// ([`stateless`]), not per request.
struct Stateless(Arc<Core>);

/// The handle every request of this era gives its tool's context.
pub(crate) fn stateless(core: &Arc<Core>) -> Arc<dyn ServerHandle> {
    Arc::new(Stateless(core.clone()))
}

#[salvo::async_trait]
impl ServerHandle for Stateless {
    async fn notify_session(&self, _session: &str, _message: &Value) -> Result<(), StoreError> {
        tracing::debug!("a notification for the session dropped: a 2026-07-28 request has none");
        Ok(())
    }

    async fn resource_updated(&self, uri: &str) -> Result<(), StoreError> {
        self.0.resource_updated(uri).await
    }

    async fn client_request(
        &self,
        _session: &str,
        _out: &Outbound,
        _cancel: &CancellationToken,
        method: &str,
        _params: Value,
    ) -> Result<Value, ClientRequestError> {
        tracing::warn!(
            method,
            "a request to the client from a 2026-07-28 request is not served yet"
        );
        Err(ClientRequestError::Unsupported(
            "requests to the client in the 2026-07-28 era",
        ))
    }

    fn upstream(&self) -> Option<&Arc<Upstream>> {
        self.0.upstream.as_ref()
    }
}

/// A checked request's answer: JSON, or SSE when it sends notifications
/// first (never logged: there is nothing to resume in this era).
pub(crate) enum Served {
    Json(StatusCode, Value),
    /// A response already serialized (written as it is: the hot path).
    Text(StatusCode, String),
    Sse(mpsc::Receiver<Bytes>),
}

/// Serve one request of this era.
pub(crate) async fn serve(
    core: &Arc<Core>,
    handle: &Arc<dyn ServerHandle>,
    seen: &McpHeaders<'_>,
    principal: &Arc<Principal>,
    req: Request,
    scopes: impl FnOnce(&Request) -> Result<(), TransportError>,
) -> Result<Served, Refused> {
    let method = ModernMethod::parse(&req.method);
    let claims = check(seen, &req, method).map_err(Refused::Rpc)?;
    let Some(method) = method else {
        return Err(Refused::Rpc(refuse(
            StatusCode::NOT_FOUND,
            &req.id,
            -32601,
            &format!("Method not found: {}", req.method),
            None,
        )));
    };
    scopes(&req).map_err(Refused::Transport)?;
    match method {
        ModernMethod::Listen => return listen(core, principal, req),
        ModernMethod::Discover => return Ok(discover(core, &req.id)),
        _ => {}
    }
    let mut req = req;
    let now = || now_ms() / 1000;
    // A tool's arguments, shared by its binding and the call (not copied).
    let arguments = (method == ModernMethod::ToolsCall)
        .then(|| CallToolParams::take_arguments(&mut req.params));
    // SEP-2322: a call that may need the client's input takes its answers
    // (and the state of earlier rounds) out of its params first.
    let round = match Binding::of(method, req.params.as_ref(), arguments.as_ref(), principal) {
        None => None,
        Some(binding) => match Round::begin(&core.sealer, binding, &mut req.params, now()) {
            Ok(round) => Some(Arc::new(round)),
            Err(e) => {
                return Ok(Served::Json(StatusCode::OK, error_response(&req.id, &e)));
            }
        },
    };
    // Checked to be an object: taken, not copied.
    let capabilities = req
        .meta
        .as_mut()
        .and_then(|m| m.capabilities.take())
        .unwrap_or_default();
    // The channel carries what the handler sends before its answer
    // (notifications); the answer is what the run returns.
    let (out, rx) = Outbound::channel();
    let ctx = Context::new(ContextParts {
        server: handle.clone(),
        session: Session::stateless(&principal.user_id, capabilities, claims.log_level),
        principal: principal.clone(),
        request_id: req.id.clone(),
        progress_token: req.progress_token(),
        out,
        // Closing the response stream is the cancellation (the run is
        // dropped): no token.
        cancel: None,
        round: round.clone(),
    });
    let watched = ctx.clone();
    let core = core.clone();
    let id = req.id.clone();
    let run = async move {
        let caching = caching_of(&core, method, &req);
        let call = AssertUnwindSafe(call(&core, ctx, method, req, arguments)).catch_unwind();
        let outcome = match &round {
            Some(round) => run_until_input(round, call).await,
            None => Outcome::Done(call.await),
        };
        let invalid_answer = round.as_ref().and_then(|r| r.invalid());
        match outcome {
            // Serialized once, straight from the method's result (a tool's
            // is never turned into a JSON tree first).
            Outcome::Done(Ok(Ok(result)))
                if invalid_answer.is_none() && watched.missing_capability().is_none() =>
            {
                Finished {
                    text: result_message(&id, &result, caching),
                    refused: false,
                }
            }
            other => settle(other, &watched, round.as_deref(), &core, &id, caching),
        }
    };
    Ok(reply(Box::pin(run), rx).await)
}

/// A run's answer, serialized, and whether it is -32021 (which HTTP carries
/// as 400).
struct Finished {
    text: String,
    refused: bool,
}

/// The answer of a run that did not simply succeed: a capability the client
/// did not declare (-32021, carried as HTTP 400: `refused` is set), a round
/// that stops for the client's input, an answer that does not fit its
/// question, an error or a panic. Cold: out of the hot path's cache lines.
#[cold]
#[inline(never)]
fn settle(
    outcome: Outcome<std::thread::Result<Result<Answer, McpError>>>,
    ctx: &Context,
    round: Option<&Round>,
    core: &Core,
    id: &RequestId,
    caching: Option<gatehouse_specs::Caching>,
) -> Finished {
    if let Some(capability) = ctx.missing_capability() {
        let text = refuse(
            StatusCode::BAD_REQUEST,
            id,
            MISSING_CAPABILITY,
            &format!("Missing required client capability: {capability}"),
            Some(json!({ "requiredCapabilities": { capability: {} } })),
        )
        .body
        .to_string();
        return Finished {
            text,
            refused: true,
        };
    }
    let message = match outcome {
        Outcome::NeedsInput => {
            let round = round.expect("only a round stops for input");
            let result = round.input_required(&core.sealer, now_ms() / 1000);
            json!({ "jsonrpc": "2.0", "id": id, "result": result })
        }
        Outcome::Done(_) if let Some(invalid) = round.and_then(Round::invalid) => {
            error_response(id, &McpError::InvalidParams(invalid))
        }
        // `serve` writes a plain success itself; this is the same answer.
        Outcome::Done(Ok(Ok(result))) => {
            return Finished {
                text: result_message(id, &result, caching),
                refused: false,
            };
        }
        Outcome::Done(Ok(Err(e))) => {
            if let McpError::Internal(detail) | McpError::Unavailable(detail) = &e {
                tracing::error!(error = %detail, "request failed");
            }
            error_response(id, &e)
        }
        Outcome::Done(Err(_)) => {
            tracing::error!("a handler panicked");
            error_response(id, &McpError::internal("panic"))
        }
    };
    Finished {
        text: message.to_string(),
        refused: false,
    }
}

/// `server/discover`'s answer. Out of line: `serve` runs for every call, and
/// code it does not run still takes room in the instruction cache.
#[inline(never)]
fn discover(core: &Core, id: &RequestId) -> Served {
    let catalog = core.methods.catalog();
    let mut result = json!({
        "supportedVersions": MODERN_VERSIONS,
        "capabilities": catalog.capabilities(),
        "_meta": { META_SERVER_INFO: catalog.server_info.for_version(super::version::ProtocolVersion::LATEST) },
    });
    if let Some(i) = &catalog.instructions {
        result["instructions"] = json!(i);
    }
    Served::Text(
        StatusCode::OK,
        result_message(id, &result, Some(catalog.caching)),
    )
}

/// The method itself, from the families every era shares. `arguments`: a
/// `tools/call`'s, taken out of `params` before.
async fn call(
    core: &Core,
    ctx: Context,
    method: ModernMethod,
    req: Request,
    arguments: Option<Arc<Value>>,
) -> Result<Answer, McpError> {
    let methods = &core.methods;
    let catalog = methods.catalog();
    let v = super::version::ProtocolVersion::LATEST;
    let params = req.params;
    let value = match method {
        ModernMethod::ToolsList => methods.list_tools(v, &ListParams::parse(params)?),
        ModernMethod::ToolsCall => {
            let params = match arguments {
                Some(arguments) => CallToolParams::parse_rest(params, arguments)?,
                None => CallToolParams::parse(params)?,
            };
            let result = methods.call_tool(ctx, params).await?;
            return Ok(Answer::Tool(result));
        }
        ModernMethod::PromptsList if catalog.has_prompts() => {
            methods.list_prompts(v, &ListParams::parse(params)?)
        }
        ModernMethod::PromptsGet if catalog.has_prompts() => {
            methods
                .get_prompt(ctx, GetPromptParams::parse(params)?)
                .await
        }
        ModernMethod::ResourcesList if catalog.has_resources() => {
            methods.list_resources(v, &ListParams::parse(params)?)
        }
        ModernMethod::ResourceTemplatesList if catalog.has_resources() => {
            methods.list_resource_templates(v, &ListParams::parse(params)?)
        }
        ModernMethod::ResourcesRead if catalog.has_resources() => {
            methods.read_resource(ctx, UriParams::parse(params)?).await
        }
        ModernMethod::Complete if catalog.has_prompts() || catalog.has_resources() => {
            methods.complete(ctx, CompleteParams::parse(params)?).await
        }
        // A family the server does not have, or (never here: `serve`
        // answers them itself) discovery and listening.
        _ => Err(McpError::MethodNotFound(req.method)),
    };
    value.map(Answer::Value)
}

/// The caching hints a result of `req` carries, if its method has them:
/// the spec's (`caching:` on the server, a resource or a template; defaults
/// in `gatehouse_specs::Caching`).
fn caching_of(
    core: &Core,
    method: ModernMethod,
    req: &Request,
) -> Option<gatehouse_specs::Caching> {
    match method {
        m if m.is_list() => Some(core.methods.catalog().caching),
        ModernMethod::ResourcesRead => {
            let uri = req
                .params
                .as_ref()
                .and_then(|p| p.get("uri"))
                .and_then(Value::as_str);
            Some(core.methods.read_caching(uri.unwrap_or_default()))
        }
        _ => None,
    }
}

/// A result of this era: the method's own members, with `resultType` and,
/// where results may be reused, the caching hints.
#[derive(serde::Serialize)]
struct Complete<'a, T: serde::Serialize> {
    #[serde(rename = "resultType")]
    result_type: &'static str,
    #[serde(rename = "ttlMs", skip_serializing_if = "Option::is_none")]
    ttl_ms: Option<u64>,
    #[serde(rename = "cacheScope", skip_serializing_if = "Option::is_none")]
    cache_scope: Option<&'static str>,
    #[serde(flatten)]
    result: &'a T,
}

/// The whole response to a request answered with `result`.
fn result_message<T: serde::Serialize>(
    id: &RequestId,
    result: &T,
    caching: Option<gatehouse_specs::Caching>,
) -> String {
    super::jsonrpc::result_message(
        id,
        &Complete {
            result_type: "complete",
            ttl_ms: caching.map(|c| c.ttl_ms),
            cache_scope: caching.map(|c| c.scope.as_str()),
            result,
        },
    )
}

/// The response to a request that failed with `e`.
fn error_response(id: &RequestId, e: &McpError) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": error_object(e) })
}

/// An error in this era's codes: a resource that does not exist is -32602
/// (the session era's -32002 was retired).
fn error_object(e: &McpError) -> Value {
    match e {
        McpError::ResourceNotFound { uri } => json!({
            "code": -32602,
            "message": format!("Resource not found: {uri}"),
            "data": { "uri": uri },
        }),
        other => other.to_object(),
    }
}

/// `subscriptions/listen`: a stream that acknowledges first (with what it
/// honours: `resourceSubscriptions` where the server has subscribable
/// resources; list changes never happen, the catalog being fixed at build
/// time, so none are honoured), then carries `notifications/resources/updated`
/// for the URIs asked for, whichever replica the change happened on (the
/// broker's `U` signal). Every message is tagged with the subscription's id
/// (the request's). Counted against the caller's open streams (issue 12).
#[inline(never)]
fn listen(core: &Arc<Core>, principal: &Arc<Principal>, req: Request) -> Result<Served, Refused> {
    let bad = |m: &str| {
        Refused::Rpc(refuse(
            StatusCode::BAD_REQUEST,
            &req.id,
            -32602,
            &format!("Invalid params: {m}"),
            None,
        ))
    };
    let filter = req
        .params
        .as_ref()
        .and_then(|p| p.get("notifications"))
        .and_then(Value::as_object)
        .ok_or_else(|| bad("`notifications` must be an object"))?;
    let mut uris: Vec<String> = Vec::new();
    match filter.get("resourceSubscriptions") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                let uri = item
                    .as_str()
                    .ok_or_else(|| bad("`resourceSubscriptions` must hold URIs"))?;
                if !uris.iter().any(|u| u == uri) {
                    uris.push(uri.to_string());
                }
            }
        }
        Some(_) => return Err(bad("`resourceSubscriptions` must be an array")),
    }
    if uris.len() > MAX_SUBSCRIPTIONS {
        return Err(bad(&format!(
            "at most {MAX_SUBSCRIPTIONS} resources per stream"
        )));
    }
    let held = core
        .streams
        .open(&principal.user_id)
        .ok_or(Refused::Transport(TransportError::TooManyStreams(
            core.settings.streams_per_user,
        )))?;
    let honoured = core.methods.catalog().has_subscriptions() && !uris.is_empty();
    let mut agreed = json!({});
    if honoured {
        agreed["resourceSubscriptions"] = json!(uris);
    } else {
        uris.clear();
    }
    let tag = json!({ META_SUBSCRIPTION: req.id });
    let ack = json!({
        "jsonrpc": "2.0",
        "method": "notifications/subscriptions/acknowledged",
        "params": { "notifications": agreed, "_meta": tag },
    });
    let mut signals = core.broker.subscribe();
    let keepalive = core.settings.keepalive;
    let (tx, body) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        let _held = held;
        let event = |v: &Value| Bytes::from(format!("data: {v}\n\n"));
        if tx.send(event(&ack)).await.is_err() {
            return;
        }
        let mut tick = tokio::time::interval(keepalive);
        tick.tick().await;
        loop {
            tokio::select! {
                () = tx.closed() => return,
                _ = tick.tick() => {
                    if tx.send(Bytes::from_static(b": keep-alive\n\n")).await.is_err() {
                        return;
                    }
                }
                signal = signals.recv() => match signal {
                    Ok(s) => {
                        if let super::broker::Signal::Updated { uri } = &*s
                            && uris.iter().any(|u| u == uri)
                        {
                            let n = json!({
                                "jsonrpc": "2.0",
                                "method": "notifications/resources/updated",
                                "params": { "uri": uri, "_meta": tag },
                            });
                            if tx.send(event(&n)).await.is_err() {
                                return;
                            }
                        }
                    }
                    // Updates are hints to read again; a burst that
                    // overflows the channel loses some, never the stream.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    Ok(Served::Sse(body))
}

/// The most resources one listen stream may subscribe to.
const MAX_SUBSCRIPTIONS: usize = 100;

type Run = std::pin::Pin<Box<dyn std::future::Future<Output = Finished> + Send>>;

/// JSON when the response comes before any notification, else SSE. The run is
/// driven here; a switch to SSE moves it to a task that ends, dropping the
/// run, when the client closes the stream (that is cancellation here).
async fn reply(mut run: Run, mut rx: mpsc::UnboundedReceiver<StreamItem>) -> Served {
    let (first, answer) = loop {
        tokio::select! {
            biased;
            finished = &mut run => match first_message(&mut rx) {
                // What the handler sent before it answered goes first.
                Some(m) => break (m, Some(finished.text)),
                None => return finished.served(),
            },
            item = rx.recv() => match item {
                Some(StreamItem::Message(m)) => break (*m, None),
                // Nothing to resume in this era: the connection stays; no
                // answer comes on this channel.
                Some(StreamItem::Disconnect | StreamItem::Final(_)) => {}
                // The handler's context is gone: the answer is the run's.
                None => return (&mut run).await.served(),
            },
        }
    };
    stream(run, rx, first, answer)
}

impl Finished {
    fn served(self) -> Served {
        let status = if self.refused {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        Served::Text(status, self.text)
    }
}

/// The first message queued on `rx`, if any (a disconnect is skipped: there
/// is nothing to resume in this era).
fn first_message(rx: &mut mpsc::UnboundedReceiver<StreamItem>) -> Option<Value> {
    loop {
        match rx.try_recv() {
            Ok(StreamItem::Message(m)) => return Some(*m),
            Ok(StreamItem::Disconnect | StreamItem::Final(_)) => {}
            Err(_) => return None,
        }
    }
}

/// The answer as an SSE stream: `first`, then the rest of what the handler
/// sends, then its answer (`answer`, when it was ready already).
#[cold]
#[inline(never)]
fn stream(
    mut run: Run,
    mut rx: mpsc::UnboundedReceiver<StreamItem>,
    first: Value,
    mut answer: Option<String>,
) -> Served {
    let (tx, body) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        let event = |data: &str| Bytes::from(format!("data: {data}\n\n"));
        if tx.send(event(&first.to_string())).await.is_err() {
            return;
        }
        loop {
            if let Some(text) = answer.take() {
                while let Some(m) = first_message(&mut rx) {
                    if tx.send(event(&m.to_string())).await.is_err() {
                        return;
                    }
                }
                let _ = tx.send(event(&text)).await;
                return;
            }
            tokio::select! {
                biased;
                finished = &mut run => answer = Some(finished.text),
                () = tx.closed() => return,
                item = rx.recv() => match item {
                    Some(StreamItem::Message(m)) => {
                        if tx.send(event(&m.to_string())).await.is_err() {
                            return;
                        }
                    }
                    Some(_) => {}
                    None => answer = Some((&mut run).await.text),
                },
            }
        }
    });
    Served::Sse(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use salvo::http::HeaderMap;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn claims(headers: &HeaderMap, message: &Value) -> bool {
        claims_modern(
            &McpHeaders::read(headers),
            message["method"].as_str(),
            message["params"]["_meta"].get(META_VERSION),
        )
    }

    #[test]
    fn the_era_is_chosen_per_request() {
        let modern = json!({ "method": "tools/list", "params": { "_meta": { META_VERSION: "2026-07-28" } } });
        let legacy =
            json!({ "method": "tools/list", "params": { "_meta": { "progressToken": 1 } } });
        let initialize = json!({ "method": "initialize", "params": {} });
        assert!(claims(&headers(&[]), &modern));
        assert!(
            claims(&headers(&[("mcp-session-id", "s")]), &modern),
            "the claim decides"
        );
        assert!(!claims(&headers(&[]), &legacy));
        assert!(
            claims(&headers(&[("mcp-protocol-version", "2026-07-28")]), &legacy),
            "no session, modern header"
        );
        assert!(!claims(
            &headers(&[
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-session-id", "s")
            ]),
            &legacy
        ));
        assert!(
            !claims(
                &headers(&[("mcp-protocol-version", "2026-07-28")]),
                &initialize
            ),
            "initialize keeps sessions"
        );
        let unknown =
            json!({ "method": "server/discover", "params": { "_meta": { META_VERSION: "v999" } } });
        assert!(
            claims(&headers(&[]), &unknown),
            "an unknown version is refused by this era (-32022)"
        );
        let old = json!({ "method": "tools/list", "params": { "_meta": { META_VERSION: "2025-11-25" } } });
        assert!(!claims(&headers(&[]), &old));
    }
}
