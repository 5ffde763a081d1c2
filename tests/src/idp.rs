//! A real identity provider for the upstream sign-in tests: npm `oidc-provider`
//! (OpenID Certified) started on loopback by `tests/upstream/provider.mjs`,
//! installed from its lock file on first use. Each issuer has a loopback
//! address of its own (127.a.b.2, 127.a.b.3, …, with `a.b` random per provider
//! process) so its cookies stay apart from gatehouse's on 127.0.0.1, as on
//! separate sites, and a restart on the same ports cannot collide with another
//! test's provider.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// The client id every issuer knows gatehouse by.
pub const CLIENT_ID: &str = "gatehouse-test";

/// The secret gatehouse uses at `issuer`.
pub fn client_secret(issuer: &str) -> String {
    format!("secret-for-{issuer}")
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("upstream")
}

/// `npm ci` into `tests/upstream/node_modules` unless it is there. Test
/// binaries may run at once: each installs into a directory of its own and the
/// first to finish renames it into place.
fn install() {
    let dir = dir();
    if dir.join("node_modules/oidc-provider/package.json").exists() {
        return;
    }
    let scratch = dir.join(format!(".install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).expect("a scratch directory");
    for f in ["package.json", "package-lock.json"] {
        std::fs::copy(dir.join(f), scratch.join(f)).expect("the package files");
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&scratch)
        .status()
        .expect("npm runs (Node.js and npm are needed for the upstream sign-in tests)");
    assert!(status.success(), "npm ci in {} failed", scratch.display());
    let _ = std::fs::rename(scratch.join("node_modules"), dir.join("node_modules"));
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(
        dir.join("node_modules/oidc-provider/package.json").exists(),
        "oidc-provider is installed"
    );
}

/// The accounts people sign in as at every issuer.
pub fn accounts() -> Value {
    json!({
        "alice": { "email": "alice@example.com", "email_verified": true, "name": "Alice",
                   "github_id": 1001, "login": "alice",
                   "emails": [{ "email": "alice@example.com", "primary": true, "verified": true }] },
        // Claims Alice's address without having verified it.
        "mallory": { "email": "alice@example.com", "email_verified": false, "name": "Mallory",
                     "github_id": 1002, "login": "mallory",
                     "emails": [{ "email": "alice@example.com", "primary": true, "verified": false },
                                { "email": "mallory@example.com", "primary": false, "verified": true }] },
        "carol": { "email": "carol@example.com", "email_verified": true, "name": "Carol",
                   "github_id": 1003, "login": "carol",
                   "emails": [{ "email": "carol@example.com", "primary": true, "verified": true }] },
        "erin": { "email": "erin@example.com", "email_verified": true, "name": "Erin",
                  "github_id": 1005, "login": "erin", "emails": [] },
    })
}

/// One issuer of the provider process.
#[derive(Debug, Clone)]
pub struct IssuerSpec {
    pub name: &'static str,
    /// The last byte of its loopback address (the rest is the `Idp`'s own).
    pub host: u8,
    /// Extra options (see provider.mjs): idTokenClaims, github, clockSkew, …
    /// (ES256 keys unless `alg` says otherwise: quick to make).
    pub options: Value,
}

/// The issuers the tests use, named like the providers of `specs/federated.yaml`.
pub fn standard_issuers() -> Vec<IssuerSpec> {
    vec![
        IssuerSpec {
            name: "sso",
            host: 2,
            options: json!({ "idTokenClaims": true, "refreshTokens": true, "accessTokenTtl": 30, "alg": "RS256" }),
        },
        // Email and name only from userinfo (oidc-provider's default).
        IssuerSpec {
            name: "plain",
            host: 3,
            options: json!({ "idTokenClaims": false }),
        },
        // Email only from userinfo unless asked for with the claims parameter.
        IssuerSpec {
            name: "other",
            host: 4,
            options: json!({ "idTokenClaims": false }),
        },
        IssuerSpec {
            name: "github",
            host: 5,
            options: json!({ "github": true, "tokenAuth": "client_secret_post" }),
        },
        // A clock two hours behind: its ID tokens have expired when they arrive.
        IssuerSpec {
            name: "stale",
            host: 6,
            options: json!({ "idTokenClaims": true, "clockSkew": 7200 }),
        },
        IssuerSpec {
            name: "rotating",
            host: 7,
            options: json!({ "idTokenClaims": true }),
        },
    ]
}

/// The provider process; killed when dropped.
pub struct Idp {
    child: Child,
    /// `127.a.b`: this provider's own loopback network.
    network: String,
    issuers: Vec<IssuerSpec>,
    urls: serde_json::Map<String, Value>,
    http: reqwest::Client,
}

impl Idp {
    /// Start the standard issuers on free ports.
    pub fn start() -> Idp {
        let a = 1 + uuid::Uuid::new_v4().as_bytes()[0] % 250;
        let b = 1 + uuid::Uuid::new_v4().as_bytes()[0] % 250;
        Self::start_with(format!("127.{a}.{b}"), standard_issuers(), None)
    }

    fn config(
        network: &str,
        issuers: &[IssuerSpec],
        ports: Option<&serde_json::Map<String, Value>>,
    ) -> Value {
        let list: Vec<Value> = issuers
            .iter()
            .map(|i| {
                let port = ports
                    .and_then(|p| p.get(i.name))
                    .and_then(Value::as_str)
                    .and_then(|u| u.rsplit(':').next())
                    .and_then(|p| p.parse::<u16>().ok())
                    .unwrap_or(0);
                let mut o = json!({
                    "name": i.name, "host": format!("{network}.{}", i.host), "port": port, "clientId": CLIENT_ID, "alg": "ES256",
                    "clientSecret": client_secret(i.name),
                    "redirectUris": [format!("http://127.0.0.1/oauth/callback/{}", i.name)],
                });
                for (k, v) in i.options.as_object().into_iter().flatten() {
                    o[k] = v.clone();
                }
                o
            })
            .collect();
        json!({ "issuers": list, "accounts": accounts() })
    }

    fn start_with(
        network: String,
        issuers: Vec<IssuerSpec>,
        ports: Option<&serde_json::Map<String, Value>>,
    ) -> Idp {
        install();
        let config = Self::config(&network, &issuers, ports);
        // On a loaded machine a start has (rarely) never announced itself; it is
        // a fixture, not what is under test: try again, saying why.
        let mut attempts = Vec::new();
        for _ in 0..3 {
            match Self::launch(&config) {
                Ok((child, urls)) => {
                    return Idp {
                        child,
                        network,
                        issuers,
                        urls,
                        http: reqwest::Client::new(),
                    };
                }
                Err(why) => {
                    eprintln!("the identity provider did not start, trying again: {why}");
                    attempts.push(why);
                }
            }
        }
        panic!("the identity provider did not start: {attempts:#?}");
    }

    /// One start of the provider process: it and its issuers' URLs.
    fn launch(config: &Value) -> Result<(Child, serde_json::Map<String, Value>), String> {
        // Its warnings (Node version, in-memory adapter) go to a file, shown
        // if it does not start.
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let mut child = Command::new("node")
            .arg(dir().join("provider.mjs"))
            .arg(config.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log.reopen().expect("the log file"))
            .spawn()
            .expect("node runs");
        let rx = crate::server::stdout_lines(&mut child);
        loop {
            let line = match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(line) => line,
                Err(e) => {
                    let pid = child.id();
                    let state = std::fs::read_to_string(format!("/proc/{pid}/status"))
                        .unwrap_or_default()
                        .lines()
                        .find(|l| l.starts_with("State"))
                        .unwrap_or("")
                        .to_string();
                    let alive = child.try_wait();
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "no `ready` line ({e}); {state}; exited: {alive:?}; its output: {}",
                        std::fs::read_to_string(log.path()).unwrap_or_default()
                    ));
                }
            };
            if let Some(json) = line.strip_prefix("ready ") {
                let urls = serde_json::from_str::<serde_json::Map<String, Value>>(json)
                    .expect("the issuers' URLs");
                return Ok((child, urls));
            }
        }
    }

    /// The issuer URL of `name`, e.g. `http://127.0.0.2:41234`.
    pub fn url(&self, name: &str) -> String {
        self.urls[name]
            .as_str()
            .expect("a known issuer")
            .to_string()
    }

    /// The environment a gatehouse server needs for every issuer, with the
    /// default variable names (`{NAME}_ISSUER`, `{NAME}_CLIENT_ID`,
    /// `{NAME}_CLIENT_SECRET`; GitHub's base URL as `GITHUB_URL`).
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        for i in &self.issuers {
            let prefix = i.name.to_uppercase();
            env.push((format!("{prefix}_ISSUER"), self.url(i.name)));
            env.push((format!("{prefix}_URL"), self.url(i.name)));
            env.push((format!("{prefix}_CLIENT_ID"), CLIENT_ID.to_string()));
            env.push((format!("{prefix}_CLIENT_SECRET"), client_secret(i.name)));
        }
        env
    }

    /// The issuer signs with a new key from now on.
    pub async fn rotate(&self, name: &str) {
        let r = self
            .http
            .post(format!("{}/__control/rotate", self.url(name)))
            .send()
            .await
            .expect("rotate");
        assert!(r.status().is_success());
    }

    /// How often the issuer's discovery, JWKS, token and userinfo endpoints were hit.
    pub async fn stats(&self, name: &str) -> Value {
        self.http
            .get(format!("{}/__control/stats", self.url(name)))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats JSON")
    }

    /// Stop the provider (it is down until `restart`).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start it again on the same ports (its memory is gone: sessions,
    /// grants, tokens, as after a provider's restart).
    pub fn restart(&mut self) {
        self.stop();
        let fresh = Self::start_with(self.network.clone(), self.issuers.clone(), Some(&self.urls));
        let old = std::mem::replace(self, fresh);
        drop(old);
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
