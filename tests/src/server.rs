//! Servers for tests: in-process on 127.0.0.1:0 with a fresh store, or as a child
//! process (the `testkit-server` binary) for tests that kill and restart servers.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gatehouse::{App, Config, Running, Settings, Store};

use crate::client::Client;
use crate::db::TestDb;

pub struct TestServer {
    pub running: Running,
    pub store: Store,
}

impl TestServer {
    /// Start `app` on a free loopback port over `db`, with default settings.
    pub async fn start(db: &TestDb, app: App) -> TestServer {
        Self::start_with(db, app, Settings::default()).await
    }

    pub async fn start_with(db: &TestDb, app: App, settings: Settings) -> TestServer {
        let store = Store::connect(db.url())
            .await
            .expect("the test store opens");
        Self::start_on(store, app, settings).await
    }

    /// Start on an already open store (e.g. one the app created tables in).
    pub async fn start_on(store: Store, app: App, settings: Settings) -> TestServer {
        Self::start_at(store, app, settings, "127.0.0.1:0".parse().unwrap()).await
    }

    /// Start with a public URL other than the listener's (as behind a TLS proxy).
    pub async fn start_public(db: &TestDb, app: App, public_url: &str) -> TestServer {
        let store = Store::connect(db.url())
            .await
            .expect("the test store opens");
        let config = Config::for_listen("127.0.0.1:0".parse().unwrap(), "unused");
        Self::start_config(store, app, config, |c| {
            c.public_url = public_url.parse().expect("a public URL");
            c.public_url_given = true;
        })
        .await
    }

    /// Start with environment variables of its own (the spec's provider and
    /// client variables), as if the process had them.
    pub async fn start_env(
        db: &TestDb,
        app: App,
        settings: Settings,
        env: &[(String, String)],
    ) -> TestServer {
        let store = Store::connect(db.url())
            .await
            .expect("the test store opens");
        Self::start_env_on(store, app, settings, env).await
    }

    /// [`TestServer::start_env`] on an already open store.
    pub async fn start_env_on(
        store: Store,
        app: App,
        settings: Settings,
        env: &[(String, String)],
    ) -> TestServer {
        let mut config = Config::for_listen("127.0.0.1:0".parse().unwrap(), "unused");
        config.settings = settings;
        for (k, v) in env {
            config.env.set(k.clone(), v.clone());
        }
        Self::start_config(store, app, config, |_| {}).await
    }

    /// Start on a given address (a restart keeps its public URL, so issued tokens
    /// stay valid).
    pub async fn start_at(
        store: Store,
        app: App,
        settings: Settings,
        addr: SocketAddr,
    ) -> TestServer {
        let mut config = Config::for_listen(addr, "unused");
        config.settings = settings;
        Self::start_config(store, app, config, |_| {}).await
    }

    /// Bind `config`'s address (port 0 picks one), let `adjust` change the
    /// configuration now that the port is known, start `app` and serve.
    pub async fn start_config(
        store: Store,
        app: App,
        mut config: Config,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        let listener = gatehouse::bind_listener(&mut config).expect("a free port");
        adjust(&mut config);
        let server = app
            .start(&config, store.clone())
            .await
            .expect("the app starts");
        let running = server.serve_on(listener).expect("the server serves");
        TestServer { running, store }
    }

    /// The test kit.
    pub async fn testkit(db: &TestDb) -> TestServer {
        Self::start(db, crate::testkit::app()).await
    }

    /// The memory server.
    pub async fn memory(db: &TestDb) -> TestServer {
        Self::memory_at(db, "127.0.0.1:0".parse().unwrap()).await
    }

    /// The memory server on a given address.
    pub async fn memory_at(db: &TestDb, addr: SocketAddr) -> TestServer {
        let (store, app) = memory_app(db).await;
        Self::start_at(store, app, Settings::default(), addr).await
    }

    /// The memory server with environment variables of its own (e.g. the
    /// `SSO_*` variables of its single sign-on provider).
    pub async fn memory_env(db: &TestDb, env: &[(String, String)]) -> TestServer {
        let (store, app) = memory_app(db).await;
        Self::start_env_on(store, app, Settings::default(), env).await
    }

    pub fn url(&self) -> String {
        self.running.mcp_url()
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url())
    }

    /// The OAuth flow against this server.
    pub fn oauth(&self) -> crate::oauth::Flow {
        crate::oauth::Flow::new(&self.url())
    }

    /// A client signed in as a new user `email` (registration, sign-up, consent,
    /// token exchange), with every declared scope.
    pub async fn signed_in_client(&self, email: &str) -> Client {
        let (_, tokens) = self.oauth().sign_up(email, None).await;
        self.client()
            .with_bearer(tokens["access_token"].as_str().expect("an access token"))
    }

    /// Stop the server (open streams end).
    pub async fn stop(self) {
        self.running.stop().await;
        self.store.close().await;
    }
}

/// The memory server's app over a store on `db` (which it adds its tables to).
async fn memory_app(db: &TestDb) -> (Store, App) {
    let store = Store::connect(db.url())
        .await
        .expect("the test store opens");
    let app = memory_server::app(store.clone())
        .await
        .expect("the memory app builds");
    (store, app)
}

/// A server in a child process; killed when dropped.
pub struct Process {
    child: Child,
    pub url: String,
    lines: Vec<String>,
    log: Option<std::sync::mpsc::Receiver<String>>,
}

impl Process {
    /// Start the `testkit-server` binary on a free port over `database_url`.
    pub fn testkit(binary: &str, database_url: &str) -> Process {
        Self::spawn(binary, database_url, "127.0.0.1:0")
    }

    pub fn spawn(binary: &str, database_url: &str, listen: &str) -> Process {
        Self::spawn_with_env(binary, database_url, listen, &[])
    }

    /// Start a server binary; returns once it printed the URL it serves.
    pub fn spawn_with_env(
        binary: &str,
        database_url: &str,
        listen: &str,
        env: &[(&str, &str)],
    ) -> Process {
        Self::start(binary, database_url, listen, env, false)
    }

    /// As [`Process::spawn_with_env`], with the server's log (standard error)
    /// kept for [`Process::log_line`] instead of passed through.
    pub fn spawn_logging(binary: &str, database_url: &str, env: &[(&str, &str)]) -> Process {
        Self::start(binary, database_url, "127.0.0.1:0", env, true)
    }

    fn start(
        binary: &str,
        database_url: &str,
        listen: &str,
        env: &[(&str, &str)],
        logging: bool,
    ) -> Process {
        let mut child = Command::new(binary)
            .env("DATABASE_URL", database_url)
            .env("GATEHOUSE_LISTEN", listen)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(if logging {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .expect("the server binary starts");
        let log = logging.then(|| {
            let stderr = child.stderr.take().expect("piped stderr");
            lines_of(stderr)
        });
        let rx = stdout_lines(&mut child);
        let mut lines = Vec::new();
        let url = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the server prints the URL it serves");
            let served = line
                .strip_prefix("gatehouse: serving ")
                .and_then(|rest| rest.split(" on ").nth(1))
                .map(|u| u.trim().to_string());
            lines.push(line);
            if let Some(u) = served {
                break u;
            }
        };
        Process {
            child,
            url,
            lines,
            log,
        }
    }

    /// The first log line from now on that contains `needle` (waits up to ten
    /// seconds; `None` if none came). Needs [`Process::spawn_logging`].
    pub fn log_line(&self, needle: &str) -> Option<String> {
        let log = self.log.as_ref().expect("started with spawn_logging");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.checked_duration_since(std::time::Instant::now())?;
            let line = log.recv_timeout(left).ok()?;
            if line.contains(needle) {
                return Some(line);
            }
        }
    }

    /// What the server printed up to the line announcing its URL.
    pub fn stdout_lines(&self) -> &[String] {
        &self.lines
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url)
    }

    /// `kill -9`: no graceful shutdown, open streams cut.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child's standard output, line by line, read on a thread of its own (so a
/// test can wait for a line with a timeout).
pub fn stdout_lines(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    lines_of(child.stdout.take().expect("piped stdout"))
}

fn lines_of(out: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}
