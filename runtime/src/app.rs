//! Putting it together: an [`App`] (generated definition + the user's handlers)
//! becomes a [`Server`] (catalog, store, background tasks, salvo router), which
//! binds to become a [`Running`] server.

use crate::http::connections::{Admission, ConnectionLimits, RequestDeadline};
use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use salvo::prelude::*;
use salvo::server::ServerHandle;

use crate::config::Config;
use crate::http::client_addr::ClientAddresses;
use crate::http::guard::OriginRules;
use crate::http::listener::NodelayAcceptor;
use crate::http::mcp_route::{Caller, McpRoute};
use crate::http::request_id::RequestIds;
use crate::mcp::catalog::Catalog;
use crate::mcp::core::Core;
use crate::mcp::{Handlers, McpEndpoint, ServerDefinition};
use crate::oauth::sealing::Sealer;
use crate::oauth::{OAuth, OAuthStartError};
use crate::principal::Principal;
use crate::resource::BearerAuth;
use crate::store::{Store, StoreError, redact_url};

/// A server as generated from a spec, with the user's implementation.
pub struct App {
    definition: ServerDefinition,
    handlers: Arc<dyn Handlers>,
    auth: Option<gatehouse_specs::Auth>,
}

/// Why a server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The authorization server could not be set up (keys, clients, providers).
    #[error(transparent)]
    OAuth(#[from] OAuthStartError),
    /// `auth: none` on an address other than loopback (T-3).
    #[error(
        "this server has no sign-in (`auth: none`) and would listen on {0}, which is not a loopback address: anyone who reaches it could use it. Listen on 127.0.0.1, use `auth: oauth`, or set GATEHOUSE_ALLOW_UNAUTHENTICATED=1 if a proxy in front authenticates everyone"
    )]
    PublicWithoutAuth(SocketAddr),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
}

impl App {
    /// An app from a generated definition and its dispatch table; generated
    /// code calls this as `app(tools)`.
    pub fn new(definition: ServerDefinition, handlers: impl Handlers) -> App {
        App {
            definition,
            handlers: Arc::new(handlers),
            auth: None,
        }
    }

    /// Serve with `auth` instead of the spec's `auth:` (the rest of the spec's
    /// OAuth sections apply as written). For a server that is run both ways, such
    /// as the conformance server: the suite's server scenarios need `none`, its
    /// authorization checks need `oauth`. Chosen in code, never by the runtime
    /// from the environment, so a deployment cannot lose its sign-in by accident.
    pub fn with_auth(mut self, auth: gatehouse_specs::Auth) -> App {
        self.auth = Some(auth);
        self
    }

    /// The spec as generated (with `auth` as [`App::with_auth`] set it): what
    /// the CLI's commands read, as the server does.
    pub fn spec(&self) -> gatehouse_specs::Spec {
        let mut spec = self.definition.spec.clone();
        if let Some(auth) = self.auth {
            spec.auth = auth;
        }
        spec
    }

    /// Read the embedded spec, connect the pieces and start the background tasks
    /// (session sweeper; with PostgreSQL, the signal listener; with OAuth, the
    /// authorization server's upkeep).
    pub async fn start(self, config: &Config, store: Store) -> Result<Server, StartError> {
        let mut catalog = Catalog::build(self.definition);
        if let Some(auth) = self.auth {
            catalog.spec.auth = auth;
        }
        // T-3, issue 12: without sign-in, only loopback unless told otherwise.
        if catalog.spec.auth == gatehouse_specs::Auth::None
            && !config.listen.ip().is_loopback()
            && !config.allow_unauthenticated
        {
            return Err(StartError::PublicWithoutAuth(config.listen));
        }
        let oauth = match catalog.spec.auth {
            gatehouse_specs::Auth::OAuth => Some(Arc::new(
                OAuth::start(&catalog.spec, config, store.clone()).await?,
            )),
            gatehouse_specs::Auth::None => None,
        };
        let mut origins = catalog.origins.clone();
        if let Ok(public) = config.public_url.origin().ascii_serialization().parse() {
            origins.push(public);
        }
        // Known clients that run as web pages (vscode.dev) call /mcp from there.
        if let Some(o) = &oauth {
            origins.extend(
                o.cfg
                    .clients
                    .iter()
                    .flat_map(|c| c.origins.iter())
                    .filter_map(|origin| origin.parse().ok()),
            );
        }
        let name = catalog.server_info.name.clone();
        // 2026-07-28 request states are sealed with the server's key, shared
        // by every replica (made and kept in the store without one).
        let sealer = Sealer::load(&store, config.secret_key.as_deref()).await?;
        let core = Arc::new(Core::new(
            catalog,
            self.handlers,
            store,
            config.settings.clone(),
            oauth.as_ref().map(|o| o.upstream.clone()),
            sealer,
        ));
        let mut tasks = vec![
            core.spawn_signal_handler(),
            core.spawn_sweeper(Duration::from_secs(60)),
        ];
        if let Some((listener, mut ready)) = core.broker.spawn_listener_ready() {
            tasks.push(listener);
            // Serve only once other replicas' signals are heard (a few
            // milliseconds); a database that does not answer is not waited
            // for longer than this: the listener keeps retrying.
            let wait = tokio::time::timeout(Duration::from_secs(5), ready.wait_for(|r| *r));
            if wait.await.is_err() {
                tracing::warn!("serving before the signal listener is connected; it keeps trying");
            }
        }

        let hosts = config.listen.ip().is_loopback().then(|| {
            let mut hosts: Vec<String> =
                vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()];
            if let Some(h) = config.public_url.host_str() {
                hosts.push(h.to_string());
            }
            hosts
        });
        let rules = OriginRules::new(origins, hosts);
        let mut authorization_server = None;
        let caller = match &oauth {
            Some(o) => {
                // The authorization server's handlers get a deadline. /mcp's
                // answers within the keep-alive interval by design (a request
                // still running by then switches to a stream) and its store
                // calls have the store's deadline, so its hot path does
                // without another timer.
                // Only they read the client's address (limits per address, the
                // audit log): /mcp's limits are per user, and it writes no
                // audit events, so its hot path does not work it out.
                let deadline = RequestDeadline(config.settings.connections.request_timeout);
                let addresses = ClientAddresses(config.trusted_proxies.clone());
                authorization_server = Some(
                    crate::oauth::router(o.clone(), rules.clone())
                        .hoop(addresses)
                        .hoop(deadline),
                );
                tasks.push(spawn_oauth_upkeep(o.clone()));
                Caller::Bearer(BearerAuth::new(o.clone()))
            }
            None => Caller::Local(Arc::new(Principal::local())),
        };
        let challenge = match &caller {
            Caller::Bearer(bearer) => Some(bearer.challenge()),
            Caller::Local(_) => None,
        };
        let endpoint = McpEndpoint::new(core.clone(), challenge);
        // /mcp first, as one handler that does its own request id, origin
        // rules, bearer check and CORS (`http::mcp_route`): salvo tries
        // routes in order, and the authorization server's two dozen routes
        // cost every MCP request their path filters when they come first
        // (about a sixth of a call's instructions, counted with
        // bench/instructions).
        let mcp = Router::with_path("mcp").goal(McpRoute::new(rules, caller, endpoint));
        let mut others = Router::new().hoop(RequestIds);
        if let Some(authorization_server) = authorization_server {
            others = others.push(authorization_server);
        }
        let others = others.push(Router::with_path("healthz").get(Health {
            store: core.store.clone(),
        }));
        let router = Router::new().push(mcp).push(others);
        Ok(Server {
            router,
            tasks,
            listen: config.listen,
            name,
            oauth,
            connections: config.settings.connections.clone(),
        })
    }
}

fn spawn_oauth_upkeep(o: Arc<OAuth>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = o.sweep().await {
                tracing::warn!(error = %e, "authorization server upkeep failed");
            }
        }
    })
}

/// A started server, not yet listening.
pub struct Server {
    router: Router,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    listen: SocketAddr,
    name: String,
    oauth: Option<Arc<OAuth>>,
    connections: ConnectionLimits,
}

#[cfg(feature = "testing")]
impl Server {
    /// Tokens for `user_id`, as the operator's `tokens issue` makes them;
    /// `None` without OAuth. For benchmarks that call `/mcp` in process.
    #[doc(hidden)]
    pub async fn issue_for_operator(
        &self,
        user_id: &str,
        scope: Option<&str>,
    ) -> Option<Result<serde_json::Value, crate::oauth::error::OAuthError>> {
        let oauth = self.oauth.as_ref()?;
        Some(oauth.issue_for_operator(user_id, scope).await)
    }
}

impl Server {
    /// The authorization server, when the spec uses OAuth.
    pub(crate) fn oauth(&self) -> Option<&Arc<OAuth>> {
        self.oauth.as_ref()
    }

    /// The salvo router, to mount in a larger application (the background tasks
    /// stop when the returned [`Server`] handle is dropped; keep it alive).
    pub fn take_router(&mut self) -> Router {
        std::mem::take(&mut self.router)
    }

    /// Listen on the configured address.
    pub async fn bind(self) -> Result<Running, StartError> {
        let addr = self.listen;
        self.bind_to(addr).await
    }

    /// Listen on `addr` (port 0 picks a free port).
    pub async fn bind_to(self, addr: SocketAddr) -> Result<Running, StartError> {
        let acceptor = NodelayAcceptor::bind(addr)
            .await
            .map_err(|error| StartError::Bind { addr, error })?;
        self.serve(acceptor, addr)
    }

    /// Serve on a listener bound earlier (see [`bind_listener`]).
    pub fn serve_on(self, listener: std::net::TcpListener) -> Result<Running, StartError> {
        let addr = listener.local_addr().map_err(|error| StartError::Bind {
            addr: self.listen,
            error,
        })?;
        let acceptor = NodelayAcceptor::from_std(listener)
            .map_err(|error| StartError::Bind { addr, error })?;
        self.serve(acceptor, addr)
    }

    fn serve(mut self, acceptor: NodelayAcceptor, addr: SocketAddr) -> Result<Running, StartError> {
        let local_addr = acceptor
            .local_addr()
            .map_err(|error| StartError::Bind { addr, error })?;
        let server =
            salvo::Server::new(acceptor).fuse_policy(Admission::new(self.connections.clone()));
        let handle = server.handle();
        let service = Service::new(std::mem::take(&mut self.router));
        let join = tokio::spawn(async move { server.serve(service).await });
        Ok(Running {
            local_addr,
            handle,
            join: Some(join),
            tasks: std::mem::take(&mut self.tasks),
            name: self.name.clone(),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Bind the configured address before starting the app, so that a port chosen
/// by the system (port 0) is known to the configuration (the public URL, token
/// audiences) from the start.
pub fn bind_listener(config: &mut Config) -> Result<std::net::TcpListener, StartError> {
    let addr = config.listen;
    let listener =
        std::net::TcpListener::bind(addr).map_err(|error| StartError::Bind { addr, error })?;
    let bound = listener
        .local_addr()
        .map_err(|error| StartError::Bind { addr, error })?;
    config.bound_to(bound);
    Ok(listener)
}

/// A listening server.
pub struct Running {
    local_addr: SocketAddr,
    handle: ServerHandle,
    join: Option<tokio::task::JoinHandle<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    name: String,
}

impl Running {
    /// The address it listens on (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The MCP endpoint, e.g. `http://127.0.0.1:8080/mcp`.
    pub fn mcp_url(&self) -> String {
        format!("http://{}/mcp", self.local_addr)
    }

    /// Stop accepting, give open requests a moment, then stop.
    pub async fn stop(mut self) {
        self.handle.stop_graceful(Some(Duration::from_secs(5)));
        if let Some(join) = self.join.take() {
            let _ = join.await;
        }
    }

    /// Serve until the server stops.
    pub async fn wait(mut self) {
        if let Some(join) = self.join.take() {
            let _ = join.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if self.join.is_some() {
            self.handle.stop_forceful();
        }
    }
}

/// `GET /healthz`: 200 when the store answers.
struct Health {
    store: Store,
}

#[salvo::async_trait]
impl Handler for Health {
    async fn handle(
        &self,
        _req: &mut Request,
        _depot: &mut Depot,
        res: &mut Response,
        _ctrl: &mut FlowCtrl,
    ) {
        match self.store.ping().await {
            Ok(_) => res.render(Text::Plain("ok")),
            Err(e) => {
                tracing::error!(error = %e, "health check failed");
                res.status_code(StatusCode::SERVICE_UNAVAILABLE);
                res.headers_mut().insert(
                    salvo::http::header::RETRY_AFTER,
                    salvo::http::HeaderValue::from(crate::store::OUTAGE_RETRY_AFTER),
                );
                res.render(Text::Plain("store unavailable"));
            }
        }
    }
}

/// The whole life of a server binary: the command line (`serve` by default, or an
/// operator command), configuration from the environment, the store, the app
/// built by `build` (which may create its own tables in the store), serving until
/// Ctrl-C or SIGTERM.
pub async fn run<F, Fut>(build: F) -> ExitCode
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = anyhow::Result<App>>,
{
    run_with(|_| {}, build).await
}

/// As [`run`], with the settings read from the environment then adjusted by
/// `tune` (the test binaries use it for switches that no environment variable
/// may turn on, such as fetching client documents from loopback).
pub async fn run_with<T, F, Fut>(tune: T, build: F) -> ExitCode
where
    T: FnOnce(&mut crate::Settings),
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = anyhow::Result<App>>,
{
    use clap::Parser;
    let cli = crate::cli::Cli::parse();
    crate::logging::init_tracing();
    let mut config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            return ExitCode::from(2);
        }
    };
    tune(&mut config.settings);
    let store =
        match Store::connect_with_deadline(&config.database_url, config.database_timeout).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!(
                    "gatehouse: cannot open {}: {e}",
                    redact_url(&config.database_url)
                );
                return ExitCode::FAILURE;
            }
        };
    let app = match build(store.clone()).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("gatehouse: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(command) = cli
        .command
        .filter(|c| !matches!(c, crate::cli::Command::Serve))
    {
        let spec = app.spec();
        return match crate::cli::run(&store, &spec, &config, command).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gatehouse: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let listener = match bind_listener(&mut config) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = match app.start(&config, store.clone()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(o) = server.oauth()
        && !o.cfg.self_signup
        && !o.upstream.offered().any(|p| p.sign_up)
        && store.count_users().await.unwrap_or(1) == 0
    {
        let bin = std::env::args()
            .next()
            .and_then(|a| {
                std::path::Path::new(&a)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "server".into());
        println!(
            "gatehouse: no accounts yet, and sign-up is off; create one with: {bin} users add you@example.com"
        );
    }
    let running = server.serve_on(listener);
    let running = match running {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Tests and scripts read this line to find the port.
    println!(
        "gatehouse: serving {} on {}",
        running.name,
        running.mcp_url()
    );
    tracing::info!(database = %redact_url(&config.database_url), public_url = %config.public_url, "ready");
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.stop().await;
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
