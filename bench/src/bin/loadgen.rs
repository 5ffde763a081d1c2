//! The load generator bench/run drives. Each mode prints one JSON line.
//!
//! The measured loops run on one thread (bench/run pins this process to its own
//! core) over `--conns` HTTP/1.1 keep-alive connections, each sending its next
//! request as soon as the previous answer is read; latency is per request.
//! Setup (accounts, tokens, sessions, codes) uses the test suite's OAuth client
//! and is never timed.
//!
//!   loadgen bare URL --conns N --secs S          POST a JSON-RPC body to the bare echo
//!   loadgen call MCP_URL --conns N --secs S      authenticated tools/call echo in a live session
//!   loadgen initialize MCP_URL --conns N --secs S   new sessions
//!   loadgen refresh MCP_URL --conns N --secs S   refresh-token grants (each connection rotates its own chain)
//!   loadgen code MCP_URL --conns N --count K     code exchanges (K codes minted first, untimed)
//!   loadgen sessions MCP_URL --count K           create K sessions, then exit
//!   loadgen streams MCP_URL --count K --hold S   open K idle GET SSE streams, hold them S seconds
//!   loadgen coldstart MCP_URL --token T -- BIN   start BIN, time until initialize succeeds

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use gatehouse_tests::oauth::{Flow, Pkce, Registered, params};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    Bare {
        url: String,
        #[arg(long, default_value_t = 32)]
        conns: usize,
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
    },
    Call {
        url: String,
        #[arg(long, default_value_t = 32)]
        conns: usize,
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
    },
    /// Authenticated `tools/call` of the 2026-07-28 era: no session, the
    /// version and capabilities in `_meta`, checked on every request.
    Modern {
        url: String,
        #[arg(long, default_value_t = 32)]
        conns: usize,
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
    },
    /// The 2026-07-28 call's request, byte for byte (a real bearer token from
    /// `--mcp`, the same headers and body), sent to the bare echo: what
    /// receiving, parsing and echoing those bytes costs by itself, the floor
    /// under any server that answers that request.
    BareModern {
        url: String,
        /// The gatehouse server whose token the request carries.
        #[arg(long)]
        mcp: String,
        #[arg(long, default_value_t = 32)]
        conns: usize,
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
    },
    /// The session era's call, byte for byte (a real token and session from
    /// `--mcp`), sent to the bare echo: the same floor for that request.
    BareCall {
        url: String,
        /// The gatehouse server whose token and session the request carries.
        #[arg(long)]
        mcp: String,
        #[arg(long, default_value_t = 32)]
        conns: usize,
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
    },
    Initialize {
        url: String,
        #[arg(long, default_value_t = 32)]
        conns: usize,
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
    },
    Refresh {
        url: String,
        #[arg(long, default_value_t = 32)]
        conns: usize,
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
    },
    Code {
        url: String,
        #[arg(long, default_value_t = 32)]
        conns: usize,
        #[arg(long, default_value_t = 2000)]
        count: usize,
    },
    Sessions {
        url: String,
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        #[arg(long, default_value_t = 32)]
        conns: usize,
    },
    Streams {
        url: String,
        #[arg(long, default_value_t = 1000)]
        count: usize,
        #[arg(long, default_value_t = 5.0)]
        hold: f64,
    },
    /// Authenticated tools/call on `conns` connections while `flood`
    /// connections post wrong passwords to the sign-in form (issue 12).
    Flood {
        url: String,
        #[arg(long, default_value_t = 32)]
        conns: usize,
        #[arg(long, default_value_t = 32)]
        flood: usize,
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
    },
    Coldstart {
        url: String,
        #[arg(long)]
        token: String,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

const ACCEPT: &str = "application/json, text/event-stream";
const VERSION: &str = "2025-11-25";

/// One request to send: everything but the connection.
#[derive(Clone)]
struct Req {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl Req {
    fn post_json(path: &str, body: &Value, headers: &[(&str, &str)]) -> Req {
        let mut h: Vec<(String, String)> = vec![
            ("content-type".into(), "application/json".into()),
            ("accept".into(), ACCEPT.into()),
        ];
        h.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Req {
            method: Method::POST,
            path: path.into(),
            headers: h,
            body: Bytes::from(body.to_string()),
        }
    }

    fn post_form(path: &str, form: &[(&str, &str)]) -> Req {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        Req {
            method: Method::POST,
            path: path.into(),
            headers: vec![(
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            body: Bytes::from(body),
        }
    }
}

/// A keep-alive HTTP/1.1 connection (TCP_NODELAY, as any HTTP client sets it).
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
}

impl Conn {
    async fn open(authority: &str) -> Result<Conn> {
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .context("connect")?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Conn {
            sender,
            authority: authority.into(),
        })
    }

    /// Send `req`; the status, the session header if any, and the whole body.
    async fn send(&mut self, req: &Req) -> Result<(StatusCode, Option<String>, Bytes)> {
        let mut b = Request::builder()
            .method(req.method.clone())
            .uri(&req.path)
            .header("host", &self.authority);
        for (k, v) in &req.headers {
            b = b.header(k, v);
        }
        self.sender.ready().await?;
        let res = self
            .sender
            .send_request(b.body(Full::new(req.body.clone()))?)
            .await?;
        let status = res.status();
        let session = res
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = res.into_body().collect().await?.to_bytes();
        Ok((status, session, body))
    }
}

/// The JSON-RPC result in a reply that is JSON or SSE.
fn rpc_result(body: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(body).ok()?;
    let json = if text.starts_with('{') {
        text.to_string()
    } else {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim)
            .rfind(|d| d.contains("\"result\""))?
            .to_string()
    };
    serde_json::from_str::<Value>(&json)
        .ok()?
        .get("result")
        .cloned()
}

struct Split {
    authority: String,
    path: String,
}

fn split(url: &str) -> Result<Split> {
    let rest = url.strip_prefix("http://").context("an http:// URL")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    Ok(Split {
        authority: authority.into(),
        path: format!("/{path}"),
    })
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn error(&mut self, e: String) {
        self.errors += 1;
        self.first_error.get_or_insert(e);
    }

    fn report(mut self, mode: &str, conns: usize, elapsed: Duration) -> Value {
        self.latencies_us.sort_unstable();
        let pct = |p: f64| -> f64 {
            if self.latencies_us.is_empty() {
                return 0.0;
            }
            let i = ((self.latencies_us.len() as f64 * p).ceil() as usize)
                .clamp(1, self.latencies_us.len())
                - 1;
            self.latencies_us[i] as f64 / 1000.0
        };
        let ok = self.latencies_us.len() as u64;
        json!({
            "mode": mode, "conns": conns, "requests": ok, "errors": self.errors,
            "secs": elapsed.as_secs_f64(),
            "rps": ok as f64 / elapsed.as_secs_f64(),
            "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "first_error": self.first_error,
        })
    }
}

/// What each connection does per iteration: build the request, judge the answer.
trait Step: Send + 'static {
    fn request(&mut self) -> Req;
    /// `Err` when the answer is not what a correct server sends.
    fn answer(&mut self, status: StatusCode, body: &[u8]) -> Result<(), String>;
    /// No more requests to send.
    fn done(&self) -> bool {
        false
    }
}

/// The same request every time, answered with 200 (and, with `rpc`, a JSON-RPC
/// result).
struct Fixed {
    req: Req,
    rpc: bool,
}

impl Fixed {
    /// One per connection.
    fn each(req: &Req, rpc: bool, conns: usize) -> Vec<Fixed> {
        (0..conns)
            .map(|_| Fixed {
                req: req.clone(),
                rpc,
            })
            .collect()
    }
}

impl Step for Fixed {
    fn request(&mut self) -> Req {
        self.req.clone()
    }
    fn answer(&mut self, status: StatusCode, body: &[u8]) -> Result<(), String> {
        if status != StatusCode::OK {
            return Err(format!("{status}: {}", String::from_utf8_lossy(body)));
        }
        if self.rpc && rpc_result(body).is_none() {
            return Err(format!("no result in {}", String::from_utf8_lossy(body)));
        }
        Ok(())
    }
}

/// A wrong password on the sign-in form of one pending request, again and
/// again; every answer a correct server gives a flood (401, 429, 503, or 400
/// once the request was given up) counts, by status.
struct WrongPassword {
    req: Req,
    statuses: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<u16, u64>>>,
}

impl Step for WrongPassword {
    fn request(&mut self) -> Req {
        self.req.clone()
    }
    fn answer(&mut self, status: StatusCode, _body: &[u8]) -> Result<(), String> {
        *self
            .statuses
            .lock()
            .unwrap()
            .entry(status.as_u16())
            .or_default() += 1;
        match status.as_u16() {
            400 | 401 | 429 | 503 => Ok(()),
            _ => Err(format!("{status} to a wrong password")),
        }
    }
}

/// A refresh-token chain: each answer's refresh token is the next request's.
struct RefreshChain {
    client_id: String,
    resource: String,
    token: String,
}

impl Step for RefreshChain {
    fn request(&mut self) -> Req {
        Req::post_form(
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &self.token),
                ("client_id", &self.client_id),
                ("resource", &self.resource),
            ],
        )
    }
    fn answer(&mut self, status: StatusCode, body: &[u8]) -> Result<(), String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        match (status, v["refresh_token"].as_str()) {
            (StatusCode::OK, Some(t)) => {
                self.token = t.to_string();
                Ok(())
            }
            _ => Err(format!("{status}: {v}")),
        }
    }
}

/// Runs `steps` (one per connection) for `secs`, or until each has done `limit` requests.
async fn drive<S: Step>(
    authority: &str,
    steps: Vec<S>,
    secs: f64,
    limit: Option<usize>,
) -> Result<(Tally, Duration)> {
    let mut conns = Vec::new();
    for _ in 0..steps.len() {
        conns.push(Conn::open(authority).await?);
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for (mut step, mut conn) in steps.into_iter().zip(conns) {
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut done = 0;
            while Instant::now() < deadline && limit.is_none_or(|l| done < l) && !step.done() {
                let req = step.request();
                let t = Instant::now();
                match conn.send(&req).await {
                    Ok((status, _, body)) => match step.answer(status, &body) {
                        Ok(()) => tally
                            .latencies_us
                            .push(t.elapsed().as_micros().min(u32::MAX as u128) as u32),
                        Err(e) => tally.error(e),
                    },
                    Err(e) => {
                        tally.error(e.to_string());
                        match Conn::open(&conn.authority).await {
                            Ok(c) => conn = c,
                            Err(_) => break,
                        }
                    }
                }
                done += 1;
            }
            tally
        }));
    }
    let mut tally = Tally::default();
    for t in tasks {
        tally.merge(t.await?);
    }
    Ok((tally, start.elapsed()))
}

/// A signed-up user with a token, as a client that completed the flow has.
async fn sign_up(mcp: &str) -> Result<(Flow, Registered, Value)> {
    let flow = Flow::new(mcp);
    let email = format!("bench-{}@example.com", std::process::id());
    let (client, tokens) = flow.sign_up(&email, None).await;
    Ok((flow, client, tokens))
}

fn bearer(tokens: &Value) -> String {
    format!(
        "Bearer {}",
        tokens["access_token"].as_str().unwrap_or_default()
    )
}

fn initialize_body() -> Value {
    json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": VERSION, "capabilities": {}, "clientInfo": { "name": "loadgen", "version": "1" } } })
}

/// initialize + notifications/initialized; the session id.
async fn new_session(conn: &mut Conn, path: &str, auth: &str) -> Result<String> {
    let (status, session, body) = conn
        .send(&Req::post_json(
            path,
            &initialize_body(),
            &[("authorization", auth)],
        ))
        .await?;
    let Some(session) = session.filter(|_| status == StatusCode::OK) else {
        bail!("initialize: {status} {}", String::from_utf8_lossy(&body));
    };
    let note = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let (status, _, _) = conn
        .send(&Req::post_json(
            path,
            &note,
            &[
                ("authorization", auth),
                ("mcp-session-id", &session),
                ("mcp-protocol-version", VERSION),
            ],
        ))
        .await?;
    if status != StatusCode::ACCEPTED {
        bail!("notifications/initialized: {status}");
    }
    Ok(session)
}

fn call_body() -> Value {
    json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": { "name": "echo", "arguments": { "text": "hello, gatehouse" } } })
}

/// The session era's `tools/call` of `echo` (a token and a live session at
/// the server `mcp`), for `path`.
async fn session_call(mcp: &str, path: &str) -> Result<Req> {
    let m = split(mcp)?;
    let (_, _, tokens) = sign_up(mcp).await?;
    let auth = bearer(&tokens);
    let session = new_session(&mut Conn::open(&m.authority).await?, &m.path, &auth).await?;
    Ok(Req::post_json(
        path,
        &call_body(),
        &[
            ("authorization", &auth),
            ("mcp-session-id", &session),
            ("mcp-protocol-version", VERSION),
        ],
    ))
}

/// The 2026-07-28 era's `tools/call` of `echo`: no session, the version and
/// capabilities in `_meta`, the headers that repeat them.
fn modern_call(path: &str, auth: &str) -> Req {
    let mut body = call_body();
    body["params"]["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    Req::post_json(
        path,
        &body,
        &[
            ("authorization", auth),
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "echo"),
        ],
    )
}

async fn run(mode: Mode) -> Result<Value> {
    Ok(match mode {
        Mode::Bare { url, conns, secs } => {
            let u = split(&url)?;
            let req = Req::post_json(&u.path, &call_body(), &[]);
            let (tally, elapsed) =
                drive(&u.authority, Fixed::each(&req, false, conns), secs, None).await?;
            tally.report("bare", conns, elapsed)
        }
        Mode::Call { url, conns, secs } => {
            let u = split(&url)?;
            let req = session_call(&url, &u.path).await?;
            let steps = Fixed::each(&req, true, conns);
            let (tally, elapsed) = drive(&u.authority, steps, secs, None).await?;
            tally.report("call", conns, elapsed)
        }
        Mode::BareCall {
            url,
            mcp,
            conns,
            secs,
        } => {
            let u = split(&url)?;
            let req = session_call(&mcp, &u.path).await?;
            let (tally, elapsed) =
                drive(&u.authority, Fixed::each(&req, false, conns), secs, None).await?;
            tally.report("bare-call", conns, elapsed)
        }
        Mode::Modern { url, conns, secs } => {
            let u = split(&url)?;
            let (_, _, tokens) = sign_up(&url).await?;
            let req = modern_call(&u.path, &bearer(&tokens));
            let steps = Fixed::each(&req, true, conns);
            let (tally, elapsed) = drive(&u.authority, steps, secs, None).await?;
            tally.report("modern", conns, elapsed)
        }
        Mode::BareModern {
            url,
            mcp,
            conns,
            secs,
        } => {
            let u = split(&url)?;
            let (_, _, tokens) = sign_up(&mcp).await?;
            let req = modern_call(&u.path, &bearer(&tokens));
            let (tally, elapsed) =
                drive(&u.authority, Fixed::each(&req, false, conns), secs, None).await?;
            tally.report("bare-modern", conns, elapsed)
        }
        Mode::Initialize { url, conns, secs } => {
            let u = split(&url)?;
            let (_, _, tokens) = sign_up(&url).await?;
            let req = Req::post_json(
                &u.path,
                &initialize_body(),
                &[("authorization", &bearer(&tokens))],
            );
            let steps = Fixed::each(&req, true, conns);
            let (tally, elapsed) = drive(&u.authority, steps, secs, None).await?;
            tally.report("initialize", conns, elapsed)
        }
        Mode::Sessions { url, count, conns } => {
            let u = split(&url)?;
            let (_, _, tokens) = sign_up(&url).await?;
            let req = Req::post_json(
                &u.path,
                &initialize_body(),
                &[("authorization", &bearer(&tokens))],
            );
            let per = count.div_ceil(conns);
            let steps = Fixed::each(&req, true, conns);
            let (tally, elapsed) = drive(&u.authority, steps, 3600.0, Some(per)).await?;
            tally.report("sessions", conns, elapsed)
        }
        Mode::Refresh { url, conns, secs } => {
            let u = split(&url)?;
            let (flow, client, tokens) = sign_up(&url).await?;
            // One grant per connection (each a separate token family).
            let mut steps = vec![RefreshChain {
                client_id: client.client_id.clone(),
                resource: flow.resource.clone(),
                token: tokens["refresh_token"].as_str().unwrap_or_default().into(),
            }];
            while steps.len() < conns {
                let (status, t) = flow.refresh(&client, &steps[0].token).await;
                if status != StatusCode::OK {
                    bail!("refresh during setup: {status} {t}");
                }
                steps[0].token = t["refresh_token"].as_str().unwrap_or_default().into();
                let (_, again) = flow
                    .sign_up(
                        &format!("bench-{}-{}@example.com", std::process::id(), steps.len()),
                        None,
                    )
                    .await;
                steps.push(RefreshChain {
                    client_id: client.client_id.clone(),
                    resource: flow.resource.clone(),
                    token: again["refresh_token"].as_str().unwrap_or_default().into(),
                });
            }
            let (tally, elapsed) = drive(&u.authority, steps, secs, None).await?;
            tally.report("refresh", conns, elapsed)
        }
        Mode::Code { url, conns, count } => {
            let u = split(&url)?;
            // A signed-in browser gets a code from /oauth/authorize after the
            // consent page (shown every time to a native app): mint `count`
            // codes that way, untimed.
            let flow = Flow::new(&url);
            let client = flow.register_public(gatehouse_tests::oauth::REDIRECT).await;
            let pkce = Pkce::new();
            let email = format!("bench-code-{}@example.com", std::process::id());
            let (_, cookie) = flow
                .browser(&flow.authorize_url(&client, &pkce, "s", None), &email, true)
                .await;
            let mut codes = Vec::with_capacity(count);
            for _ in 0..count {
                let pkce = Pkce::new();
                // /oauth/authorize → /oauth/continue → the callback with a code.
                let start = flow
                    .get(
                        &flow.authorize_url(&client, &pkce, "s", None),
                        Some(&cookie),
                    )
                    .await;
                let next = flow
                    .get(
                        &start.location().context("a redirect to continue")?,
                        Some(&cookie),
                    )
                    .await;
                // A native app (loopback) is asked every time (issue 12).
                let next = if next.status == StatusCode::OK {
                    let form = [
                        ("request", next.field("request").context("a request id")?),
                        ("csrf", next.field("csrf").context("a CSRF token")?),
                        ("decision", "allow".to_string()),
                    ];
                    let form: Vec<(&str, &str)> =
                        form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    flow.post_form("/oauth/consent", &form, Some(&cookie)).await
                } else {
                    next
                };
                let back = next.location().context("a redirect to the client")?;
                let code = params(&back)
                    .remove("code")
                    .with_context(|| format!("a code in {back}"))?;
                codes.push((code, pkce.verifier));
            }
            let per = count.div_ceil(conns);
            let steps: Vec<CodeExchange> = codes
                .chunks(per)
                .map(|c| CodeExchange {
                    client_id: client.client_id.clone(),
                    redirect: client.redirect_uri.clone(),
                    resource: flow.resource.clone(),
                    codes: c.to_vec(),
                })
                .collect();
            let n = steps.len();
            let (tally, elapsed) = drive(&u.authority, steps, 3600.0, None).await?;
            tally.report("code", n, elapsed)
        }
        Mode::Flood {
            url,
            conns,
            flood,
            secs,
        } => {
            let u = split(&url)?;
            let (_, _, tokens) = sign_up(&url).await?;
            let auth = bearer(&tokens);
            let session = new_session(&mut Conn::open(&u.authority).await?, &u.path, &auth).await?;
            let call = Req::post_json(
                &u.path,
                &call_body(),
                &[
                    ("authorization", &auth),
                    ("mcp-session-id", &session),
                    ("mcp-protocol-version", VERSION),
                ],
            );
            // One pending request per flooding connection, from one browser.
            let flow = Flow::new(&url);
            let client = flow.register_public(gatehouse_tests::oauth::REDIRECT).await;
            let statuses = std::sync::Arc::new(std::sync::Mutex::new(Default::default()));
            let mut floods = Vec::new();
            for _ in 0..flood {
                let start = flow
                    .get(&flow.authorize_url(&client, &Pkce::new(), "s", None), None)
                    .await;
                let page = flow
                    .get(&start.location().context("a redirect to sign in")?, None)
                    .await;
                let mut req = Req::post_form(
                    "/oauth/sign-in",
                    &[
                        ("request", &page.field("request").context("a request id")?),
                        ("csrf", &page.field("csrf").context("a CSRF token")?),
                        ("action", "sign_in"),
                        ("email", "victim@example.com"),
                        ("password", "not the password"),
                    ],
                );
                req.headers.push((
                    "cookie".into(),
                    flow.cookies(None).context("a browser cookie")?,
                ));
                floods.push(WrongPassword {
                    req,
                    statuses: statuses.clone(),
                });
            }
            let (calls, attacks) = tokio::join!(
                drive(&u.authority, Fixed::each(&call, true, conns), secs, None),
                drive(&u.authority, floods, secs, None),
            );
            let ((calls, elapsed), (attacks, attack_elapsed)) = (calls?, attacks?);
            let statuses = statuses.lock().unwrap().clone();
            // The calls' figures at the top level (as every mode reports them),
            // the flood's beside them.
            let mut report = calls.report("flood", conns, elapsed);
            let attacks = attacks.report("wrong-password", flood, attack_elapsed);
            report["flood_conns"] = json!(flood);
            report["flood_rps"] = attacks["rps"].clone();
            report["flood_p99_ms"] = attacks["p99_ms"].clone();
            report["flood_errors"] = attacks["errors"].clone();
            report["flood_statuses"] = json!(statuses);
            report
        }
        Mode::Streams { url, count, hold } => {
            let u = split(&url)?;
            let (_, _, tokens) = sign_up(&url).await?;
            let auth = bearer(&tokens);
            let mut setup = Conn::open(&u.authority).await?;
            let mut open = Vec::new();
            for _ in 0..count {
                let session = new_session(&mut setup, &u.path, &auth).await?;
                let stream = tokio::net::TcpStream::connect(&u.authority).await?;
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                tokio::spawn(conn);
                let req = Request::builder()
                    .method(Method::GET)
                    .uri(&u.path)
                    .header("host", &u.authority)
                    .header("accept", "text/event-stream")
                    .header("authorization", &auth)
                    .header("mcp-session-id", &session)
                    .header("mcp-protocol-version", VERSION)
                    .body(Full::new(Bytes::new()))?;
                let res = sender.send_request(req).await?;
                if res.status() != StatusCode::OK {
                    bail!("GET stream: {}", res.status());
                }
                open.push((sender, res));
            }
            println!("{}", json!({ "mode": "streams", "open": open.len() }));
            tokio::time::sleep(Duration::from_secs_f64(hold)).await;
            json!({ "mode": "streams", "held": open.len() })
        }
        Mode::Coldstart {
            url,
            token,
            command,
        } => {
            let u = split(&url)?;
            let auth = format!("Bearer {token}");
            let start = Instant::now();
            let mut child = tokio::process::Command::new(&command[0])
                .args(&command[1..])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()?;
            let result = loop {
                if start.elapsed() > Duration::from_secs(30) {
                    break Err(anyhow::anyhow!("no successful initialize within 30 s"));
                }
                if let Ok(mut conn) = Conn::open(&u.authority).await
                    && let Ok((StatusCode::OK, Some(_), _)) = conn
                        .send(&Req::post_json(
                            &u.path,
                            &initialize_body(),
                            &[("authorization", &auth)],
                        ))
                        .await
                {
                    break Ok(start.elapsed());
                }
                tokio::time::sleep(Duration::from_micros(500)).await;
            };
            child.kill().await.ok();
            json!({ "mode": "coldstart", "ms": result?.as_secs_f64() * 1000.0 })
        }
    })
}

/// Exchanges pre-minted codes, one per request.
struct CodeExchange {
    client_id: String,
    redirect: String,
    resource: String,
    codes: Vec<(String, String)>,
}

impl Step for CodeExchange {
    fn request(&mut self) -> Req {
        let (code, verifier) = self.codes.pop().unwrap_or_default();
        Req::post_form(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", &verifier),
                ("redirect_uri", &self.redirect),
                ("client_id", &self.client_id),
                ("resource", &self.resource),
            ],
        )
    }
    fn answer(&mut self, status: StatusCode, body: &[u8]) -> Result<(), String> {
        match status {
            StatusCode::OK => Ok(()),
            s => Err(format!("{s}: {}", String::from_utf8_lossy(body))),
        }
    }
    fn done(&self) -> bool {
        self.codes.is_empty()
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    // One thread: bench/run gives this process a core of its own.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(run(cli.mode))?;
    println!("{report}");
    Ok(())
}
