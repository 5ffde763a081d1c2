//! Deployment settings, from the environment (never from the spec, so one build
//! runs in development and production).

use std::net::SocketAddr;
use std::time::Duration;

use url::Url;

use crate::mcp::Settings;

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct Config {
    /// `GATEHOUSE_LISTEN`, default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// `GATEHOUSE_PUBLIC_URL`: the origin clients see (behind a proxy, the https
    /// one). Default `http://<listen>`.
    pub public_url: Url,
    /// Whether `public_url` was given (rather than derived from `listen`).
    pub public_url_given: bool,
    /// `DATABASE_URL`, default `sqlite://gatehouse.db`.
    pub database_url: String,
    /// `GATEHOUSE_DB_TIMEOUT` (seconds, default 5): the longest one store call
    /// may take before the request answers 503.
    pub database_timeout: std::time::Duration,
    /// `GATEHOUSE_TEMPLATES`: a directory whose `sign_in.html`, `consent.html`,
    /// `error.html` or `base.html` replace the built-in pages.
    pub templates_dir: Option<std::path::PathBuf>,
    /// `GATEHOUSE_SECRET_KEY`: encrypts what the store keeps for later use
    /// (upstream tokens). At least 32 characters, e.g. `openssl rand -base64 32`.
    pub secret_key: Option<String>,
    /// `GATEHOUSE_TRUSTED_PROXIES`: the proxies (CIDRs) whose `Forwarded` /
    /// `X-Forwarded-For` headers name the client's address.
    pub trusted_proxies: crate::http::client_addr::TrustedProxies,
    /// `GATEHOUSE_ALLOW_UNAUTHENTICATED=1`: let a server with `auth: none` listen
    /// on an address other than loopback (anyone who reaches it is its user).
    pub allow_unauthenticated: bool,
    /// The environment the spec's variables are read from (client secrets,
    /// upstream providers' issuers, ids and secrets): the process's, captured
    /// when the configuration is made; tests set their own.
    pub env: Env,
    /// Limits, lifetimes and timeouts (defaults for production; see
    /// [`crate::settings`]).
    pub settings: Settings,
}

/// Environment variables, as captured (see [`Config::env`]).
#[derive(Clone, Default)]
pub struct Env(std::collections::HashMap<String, String>);

impl Env {
    /// The process's environment now.
    pub fn process() -> Env {
        Env(std::env::vars().collect())
    }

    /// A variable's value; unset and empty are the same.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Set a variable (for tests and embedding applications).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Env {
        self.0.insert(name.into(), value.into());
        self
    }
}

impl std::fmt::Debug for Env {
    /// Names only: values hold secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        f.debug_tuple("Env").field(&names).finish()
    }
}

/// A setting of the environment that cannot be used; the message names it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `GATEHOUSE_LISTEN` is not a socket address.
    #[error("GATEHOUSE_LISTEN `{0}` is not an address like 127.0.0.1:8080")]
    Listen(String),
    /// `GATEHOUSE_PUBLIC_URL` is not an absolute http(s) URL.
    #[error("GATEHOUSE_PUBLIC_URL `{0}` must be an absolute http(s) URL without query or fragment")]
    PublicUrl(String),
    /// A duration variable is not a whole number of seconds.
    #[error("{0} `{1}` must be a whole number of seconds")]
    Seconds(&'static str, String),
    /// `GATEHOUSE_SECRET_KEY` is too short.
    #[error("GATEHOUSE_SECRET_KEY must be at least 32 characters (e.g. `openssl rand -base64 32`)")]
    SecretKey,
    /// `GATEHOUSE_TRUSTED_PROXIES` is not a list of networks.
    #[error("GATEHOUSE_TRUSTED_PROXIES: {0}")]
    TrustedProxies(String),
    /// A count variable is not a whole number.
    #[error("{0} `{1}` must be a whole number")]
    Number(&'static str, String),
}

/// Where a server listens without `GATEHOUSE_LISTEN`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The database without `DATABASE_URL`: SQLite in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://gatehouse.db";

impl Config {
    /// Defaults for a listener, with the public URL derived from it.
    pub fn for_listen(listen: SocketAddr, database_url: impl Into<String>) -> Config {
        Config {
            listen,
            public_url: Url::parse(&format!("http://{listen}"))
                .expect("a socket address makes a URL"),
            public_url_given: false,
            database_url: database_url.into(),
            database_timeout: crate::store::DEFAULT_DEADLINE,
            templates_dir: None,
            secret_key: None,
            allow_unauthenticated: false,
            trusted_proxies: Default::default(),
            env: Env::process(),
            settings: Settings::default(),
        }
    }

    /// Once bound (port 0 picks one), a derived public URL names the real port.
    pub fn bound_to(&mut self, addr: SocketAddr) {
        self.listen = addr;
        if !self.public_url_given {
            self.public_url =
                Url::parse(&format!("http://{addr}")).expect("a socket address makes a URL");
        }
    }

    /// The configuration from the process's environment (`GATEHOUSE_*`,
    /// `DATABASE_URL`; README, Configuration).
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Read settings through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let listen_text = get("GATEHOUSE_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen: SocketAddr = listen_text
            .parse()
            .map_err(|_| ConfigError::Listen(listen_text.clone()))?;
        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        let mut config = Config::for_listen(listen, database_url);
        if let Some(u) = get("GATEHOUSE_PUBLIC_URL") {
            config.public_url = parse_public_url(&u)?;
            config.public_url_given = true;
        }
        config.templates_dir = get("GATEHOUSE_TEMPLATES")
            .filter(|d| !d.is_empty())
            .map(Into::into);
        if let Some(s) = get("GATEHOUSE_DB_TIMEOUT") {
            config.database_timeout =
                seconds("GATEHOUSE_DB_TIMEOUT", &s)?.max(Duration::from_secs(1));
        }
        if let Some(s) = get("GATEHOUSE_SESSION_IDLE_TIMEOUT") {
            config.settings.session_idle_timeout = seconds("GATEHOUSE_SESSION_IDLE_TIMEOUT", &s)?;
        }
        config.allow_unauthenticated =
            get("GATEHOUSE_ALLOW_UNAUTHENTICATED").as_deref() == Some("1");
        if let Some(p) = get("GATEHOUSE_TRUSTED_PROXIES") {
            config.trusted_proxies = crate::http::client_addr::TrustedProxies::parse(&p)
                .map_err(ConfigError::TrustedProxies)?;
        }
        let number = |name: &'static str| -> Result<Option<u64>, ConfigError> {
            get(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| ConfigError::Number(name, v))
                })
                .transpose()
        };
        let limits = &mut config.settings.oauth.limits;
        if let Some(n) = number("GATEHOUSE_SIGN_IN_PER_MINUTE")? {
            limits.sign_ins_per_minute = n as u32;
        }
        if let Some(n) = number("GATEHOUSE_SIGN_IN_FREE_FAILURES")? {
            limits.free_failures = n as u32;
        }
        if let Some(n) = number("GATEHOUSE_FAILURES_PER_REQUEST")? {
            limits.failures_per_request = n as i64;
        }
        if let Some(n) = number("GATEHOUSE_REGISTRATIONS_PER_HOUR")? {
            limits.registrations_per_hour = n as u32;
        }
        if let Some(n) = number("GATEHOUSE_AUTHORIZATIONS_PER_MINUTE")? {
            limits.authorizations_per_minute = n as u32;
        }
        if let Some(n) = number("GATEHOUSE_PENDING_PER_ADDRESS")? {
            limits.pending_per_address = n as i64;
        }
        if let Some(n) = number("GATEHOUSE_SESSIONS_PER_USER")? {
            config.settings.sessions_per_user = n.clamp(1, i64::MAX as u64) as i64;
        }
        if let Some(n) = number("GATEHOUSE_STREAMS_PER_USER")? {
            config.settings.streams_per_user = n.max(1) as usize;
        }
        if let Some(n) = number("GATEHOUSE_MAX_CONNECTIONS")? {
            config.settings.connections.max_connections = n as usize;
        }
        if let Some(s) = get("GATEHOUSE_REQUEST_TIMEOUT") {
            config.settings.connections.request_timeout =
                seconds("GATEHOUSE_REQUEST_TIMEOUT", &s)?.max(Duration::from_secs(1));
        }
        if let Some(n) = number("GATEHOUSE_HASHING_CONCURRENCY")? {
            limits.hashing_concurrency = n.max(1) as usize;
        }
        if let Some(key) = get("GATEHOUSE_SECRET_KEY").filter(|k| !k.is_empty()) {
            if key.chars().count() < 32 {
                return Err(ConfigError::SecretKey);
            }
            config.secret_key = Some(key);
        }
        Ok(config)
    }
}

fn seconds(name: &'static str, value: &str) -> Result<Duration, ConfigError> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| ConfigError::Seconds(name, value.to_string()))
}

fn parse_public_url(text: &str) -> Result<Url, ConfigError> {
    let bad = || ConfigError::PublicUrl(text.to_string());
    let url = Url::parse(text).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(bad());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    // T-3: a local server listens on 127.0.0.1 unless told otherwise.
    #[test]
    fn reads_the_environment() {
        let c = config(&[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.public_url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(c.database_url, "sqlite://gatehouse.db");
        let c = config(&[
            ("GATEHOUSE_PUBLIC_URL", "https://mcp.example.com"),
            ("GATEHOUSE_LISTEN", "0.0.0.0:9000"),
        ])
        .unwrap();
        assert_eq!(c.public_url.host_str(), Some("mcp.example.com"));
        assert!(matches!(
            config(&[("GATEHOUSE_LISTEN", "nope")]),
            Err(ConfigError::Listen(_))
        ));
        assert!(matches!(
            config(&[("GATEHOUSE_PUBLIC_URL", "ftp://x")]),
            Err(ConfigError::PublicUrl(_))
        ));
        assert!(matches!(
            config(&[("GATEHOUSE_SESSION_IDLE_TIMEOUT", "1h")]),
            Err(ConfigError::Seconds(..))
        ));
        assert!(matches!(
            config(&[("GATEHOUSE_SECRET_KEY", "too short")]),
            Err(ConfigError::SecretKey)
        ));
        let key = "k".repeat(32);
        assert_eq!(
            config(&[("GATEHOUSE_SECRET_KEY", &key)])
                .unwrap()
                .secret_key,
            Some(key)
        );
    }
}
