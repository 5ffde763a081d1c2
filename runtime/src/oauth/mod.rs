//! The built-in OAuth 2.1 authorization server (MCP-REQUIREMENTS section 2).
//!
//! Read top-down, a client's journey is: discovery (`metadata`), registration
//! (`register`, RFC 7591), authorization (`authorize`: the pending request stored
//! under an opaque id, sign-in and consent `pages`), the token endpoint (`token`:
//! code exchange with PKCE, refresh rotation), then `revoke` and `introspect`.
//! Access tokens are verified by the protected resource (`crate::resource`).
//! Every rule that shapes the wire cites its id.

pub mod accounts;
mod authorize;
mod browser;
mod client_auth;
pub mod client_documents;
pub mod error;
pub(crate) mod forms;
pub mod guards;
mod hashing;
mod introspect;
pub mod keys;
mod metadata;
mod pages;
mod params;
mod register;
mod revoke;
mod routes;
pub mod sealing;
pub mod secrets;
mod token;
pub mod upstream;

use std::time::Duration;

use gatehouse_specs::Spec;
use gatehouse_specs::redirect::RedirectPattern;
use indexmap::IndexMap;

pub use self::keys::Keys;
pub use self::routes::router;
use crate::config::Config;
use crate::store::{ClientRow, Store, StoreError, now_ms};

/// Tunables of the authorization server that are not spec material (defaults
/// are what production wants; tests shorten them).
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// Authorization codes live this long (at most 60 s).
    pub code_lifetime: Duration,
    /// A pending authorization request (sign-in, consent) lives this long.
    pub pending_lifetime: Duration,
    /// A concurrent retry of the same refresh within this window gets the same
    /// new pair instead of revoking the family.
    pub refresh_grace: Duration,
    /// How long a browser stays signed in on this server.
    pub browser_session_lifetime: Duration,
    /// Upstream sign-in: outbound limits, discovery and key caching.
    pub upstream: upstream::UpstreamSettings,
    /// Limits on what anyone may call (issue 12).
    pub limits: guards::AbuseLimits,
    /// A registered client that never obtained a token is deleted after this
    /// long (used ones follow the spec's `expire_unused_after`).
    pub never_used_client_expiry: Duration,
    /// Client ID Metadata Documents: fetching and caching.
    pub documents: client_documents::DocumentSettings,
}

impl Default for OAuthSettings {
    fn default() -> Self {
        OAuthSettings {
            code_lifetime: Duration::from_secs(60),
            pending_lifetime: Duration::from_secs(600),
            refresh_grace: Duration::from_secs(30),
            browser_session_lifetime: Duration::from_secs(30 * 24 * 3600),
            upstream: upstream::UpstreamSettings::default(),
            limits: guards::AbuseLimits::default(),
            never_used_client_expiry: Duration::from_secs(24 * 3600),
            documents: Default::default(),
        }
    }
}

/// Everything derived from the spec and the public URL, computed once.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// `https://mcp.example.com` (no trailing slash): `iss` of tokens and metadata.
    pub issuer: String,
    /// The canonical MCP endpoint: the audience of every token (A-RS-3, A-RS-8).
    pub resource: String,
    /// Where the protected-resource metadata is (the `resource_metadata` of 401s).
    pub resource_metadata_url: String,
    /// Declared scopes and their descriptions, in spec order.
    pub scopes: IndexMap<String, String>,
    pub registration_enabled: bool,
    /// What registered clients may use as redirect URIs: the spec's own
    /// patterns and those of the known clients it accepts.
    pub redirect_patterns: Vec<RedirectPattern>,
    /// The known clients the spec accepts (`registration.clients`), with their
    /// parsed patterns: for registration and for naming them on consent.
    pub clients: Vec<KnownClient>,
    pub auto_approve_patterns: Vec<RedirectPattern>,
    /// Requested scopes the server does not define: ignored or refused.
    pub unknown_scopes: gatehouse_specs::UnknownScopes,
    pub unused_client_expiry: Duration,
    pub access_lifetime: Duration,
    pub refresh_lifetime: Duration,
    pub self_signup: bool,
    /// Local accounts (email and password) are offered.
    pub password: bool,
    /// The public URL is https: cookies get `Secure` and the `__Host-` prefix.
    pub secure_cookies: bool,
    /// Shown on the sign-in and consent pages.
    pub server_title: String,
    pub settings: OAuthSettings,
}

impl OAuthConfig {
    pub fn new(spec: &Spec, config: &Config) -> OAuthConfig {
        let issuer = config.public_url.as_str().trim_end_matches('/').to_string();
        let resource = format!("{issuer}/mcp");
        let origin = config.public_url.origin().ascii_serialization();
        let resource_path = url::Url::parse(&resource)
            .map(|u| u.path().to_string())
            .unwrap_or_default();
        let parse = |ps: &[String]| ps.iter().filter_map(|p| p.parse().ok()).collect::<Vec<_>>();
        let clients: Vec<KnownClient> = spec
            .registration
            .selected
            .iter()
            .map(|p| KnownClient {
                display_name: p.name.clone(),
                patterns: parse(&p.redirect_uris),
                origins: p.origins.clone(),
            })
            .collect();
        let mut redirect_patterns = parse(&spec.registration.redirect_uris);
        for c in &clients {
            redirect_patterns.extend(c.patterns.iter().cloned());
        }
        OAuthConfig {
            resource_metadata_url: format!(
                "{origin}/.well-known/oauth-protected-resource{resource_path}"
            ),
            issuer,
            resource,
            scopes: spec
                .scopes
                .iter()
                .map(|(k, v)| (k.clone(), v.description.clone()))
                .collect(),
            registration_enabled: spec.registration.enabled,
            redirect_patterns,
            clients,
            auto_approve_patterns: parse(&spec.registration.auto_approve),
            unknown_scopes: spec.unknown_scopes,
            unused_client_expiry: spec.registration.expire_unused_after.0,
            access_lifetime: spec.tokens.access_lifetime.0,
            refresh_lifetime: spec.tokens.refresh_lifetime.0,
            self_signup: spec.sign_in.self_signup,
            password: spec.sign_in.password,
            secure_cookies: config.public_url.scheme() == "https",
            server_title: spec
                .server
                .title
                .clone()
                .unwrap_or_else(|| spec.server.name.clone()),
            settings: config.settings.oauth.clone(),
        }
    }

    /// The name of the browser-session cookie: `__Host-` on https.
    pub fn session_cookie(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-gatehouse_session"
        } else {
            "gatehouse_session"
        }
    }

    /// Whether a (canonicalized) `resource` parameter names this server
    /// (A-AZ-2; case of scheme and host and a trailing slash are tolerated, A-RS-12).
    pub fn is_our_resource(&self, resource: &str) -> bool {
        let canonical = |s: &str| {
            url::Url::parse(s.trim_end_matches('/'))
                .map(|u| u.as_str().trim_end_matches('/').to_string())
                .unwrap_or_default()
        };
        let wanted = canonical(resource);
        !wanted.is_empty()
            && (wanted == canonical(&self.resource) || wanted == canonical(&self.issuer))
    }
}

/// A known MCP client the server accepts (`specs/clients.yaml`).
#[derive(Debug, Clone)]
pub struct KnownClient {
    pub display_name: String,
    pub patterns: Vec<RedirectPattern>,
    /// Browser origins where it runs as a web page.
    pub origins: Vec<String>,
}

impl OAuthConfig {
    /// The known client a registration is (honestly) recognised as: every one
    /// of its redirect URIs matches that client's patterns, and at least one of
    /// them is not a loopback address (which any local program can use). One
    /// client, or none.
    pub fn recognised_client(&self, redirect_uris: &[String]) -> Option<&KnownClient> {
        let parsed: Vec<(&String, url::Url)> = redirect_uris
            .iter()
            .filter_map(|u| url::Url::parse(u).ok().map(|p| (u, p)))
            .collect();
        if parsed.is_empty() || parsed.len() != redirect_uris.len() {
            return None;
        }
        let mut found = self.clients.iter().filter(|c| {
            let matched = |(raw, url): &(&String, url::Url), loopback_ok: bool| {
                c.patterns
                    .iter()
                    .any(|p| (loopback_ok || !p.is_loopback_only()) && p.matches(raw, url))
            };
            parsed.iter().all(|u| matched(u, true)) && parsed.iter().any(|u| matched(u, false))
        });
        match (found.next(), found.next()) {
            (Some(c), None) => Some(c),
            _ => None,
        }
    }
}

/// Why the authorization server could not start.
#[derive(Debug, thiserror::Error)]
pub enum OAuthStartError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A pre-registered confidential client's secret is not set.
    #[error("client `{client}` is confidential: set its secret in the environment variable {var}")]
    MissingClientSecret {
        /// The client's id in the spec.
        client: String,
        /// The variable its `secret_env` names.
        var: String,
    },
    /// The signing keys could not be loaded or made.
    #[error(transparent)]
    Keys(#[from] keys::KeysError),
}

/// The running authorization server.
pub struct OAuth {
    pub store: Store,
    pub keys: Keys,
    pub cfg: OAuthConfig,
    pages: pages::Pages,
    /// Derives the token that replaces a refresh token (see `token`).
    refresh_key: Vec<u8>,
    /// Sign-in through other identity providers (shared with the MCP core,
    /// whose tools may ask for a provider's token).
    pub upstream: std::sync::Arc<upstream::Upstream>,
    /// Limits on the public endpoints (issue 12).
    pub guards: guards::Guards,
    /// Clients identified by the URL of their metadata document.
    pub documents: client_documents::ClientDocuments,
}

impl OAuth {
    /// Register the spec's clients, load (or create) the signing keys and the
    /// server secrets.
    pub async fn start(
        spec: &Spec,
        config: &Config,
        store: Store,
    ) -> Result<OAuth, OAuthStartError> {
        let cfg = OAuthConfig::new(spec, config);
        let now = now_ms();
        for (id, client) in &spec.clients {
            let secret_hash = match &client.secret_env {
                Some(var) => {
                    let secret = config.env.get(var).ok_or_else(|| {
                        OAuthStartError::MissingClientSecret {
                            client: id.clone(),
                            var: var.clone(),
                        }
                    })?;
                    Some(secrets::hash(secret))
                }
                None => None,
            };
            store
                .upsert_client(&ClientRow {
                    id: id.clone(),
                    token_endpoint_auth_method: if secret_hash.is_some() {
                        "client_secret_basic".into()
                    } else {
                        "none".into()
                    },
                    secret_hash,
                    name: client.name.clone(),
                    redirect_uris: serde_json::to_string(&client.redirect_uris).unwrap_or_default(),
                    grant_types: r#"["authorization_code","refresh_token"]"#.into(),
                    scope: client.scopes.as_ref().map(|s| s.join(" ")),
                    metadata_hash: None,
                    registered: 0,
                    auto_approve: i64::from(client.auto_approve),
                    created_at: now,
                    last_used_at: None,
                    revoked_at: None,
                })
                .await?;
        }
        // Keys at rest (issue 12): sealed with GATEHOUSE_SECRET_KEY when set.
        let sealer = config
            .secret_key
            .as_deref()
            .map(sealing::Sealer::from_secret);
        if sealer.is_none() {
            tracing::warn!(
                "GATEHOUSE_SECRET_KEY is not set: token signing keys are stored unencrypted in the database. Fine for local use; in production set it (at least 32 characters, e.g. `openssl rand -base64 32`)"
            );
        }
        let keys = Keys::load(store.clone(), cfg.access_lifetime, sealer).await?;
        let refresh_key = store
            .secret("refresh_derivation", &secrets::random_token())
            .await?;
        let upstream = std::sync::Arc::new(
            upstream::Upstream::start(
                spec,
                config,
                store.clone(),
                &cfg.issuer,
                cfg.settings.pending_lifetime,
            )
            .await?,
        );
        Ok(OAuth {
            documents: client_documents::ClientDocuments::new(
                spec.client_metadata_documents.clone(),
                cfg.settings.documents.clone(),
                store.clone(),
            ),
            guards: guards::Guards::new(cfg.settings.limits.clone()),
            upstream,
            pages: pages::Pages::new(config.templates_dir.as_deref()),
            store,
            keys,
            cfg,
            refresh_key: refresh_key.into_bytes(),
        })
    }

    /// Periodic upkeep: expired rows, unused registrations, key reloads.
    pub async fn sweep(&self) -> Result<(), StoreError> {
        let now = now_ms();
        self.store
            .sweep_oauth(now, self.cfg.access_lifetime.as_millis() as i64 + 60_000)
            .await?;
        let before = now - self.cfg.unused_client_expiry.as_millis() as i64;
        let mut deleted = self.store.delete_unused_clients(before).await?;
        // Registrations that never led to a token go sooner (anyone may
        // register; the database must not fill with them).
        let never = now - self.cfg.settings.never_used_client_expiry.as_millis() as i64;
        deleted += self.store.delete_never_used_clients(never).await?;
        if deleted > 0 {
            tracing::info!(clients = deleted, "unused client registrations deleted");
        }
        self.guards.prune();
        self.keys.reload().await
    }
}
