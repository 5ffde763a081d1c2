//! Upstream sign-in: people sign in through an identity provider a product
//! already has (any OpenID Connect provider, Google, Microsoft Entra ID,
//! Supabase Auth, GitHub) and become the server's own users (IDENTITY.md).
//!
//! The round trip, read top-down:
//! - `provider`: the spec's providers resolved against the environment; one
//!   whose variables are unset is not offered.
//! - [`Upstream::begin`]: a login transaction (state, nonce, PKCE S256: U-1..U-3)
//!   stored server-side and bound to the browser's cookie; the browser goes to
//!   the provider.
//! - the callback (`flow`): the transaction taken once, its browser, provider
//!   (mix-up) and `iss` (RFC 9207) checked before the code is redeemed (U-1,
//!   U-4); then [`Upstream::complete`]: the code exchanged server-side
//!   (`token_endpoint`), the ID token verified (`id_token`, `discovery`: U-5..U-9)
//!   or GitHub's API asked (`github`); `mapping` turns the identity into an
//!   internal user (U-11..U-13); the pending MCP authorization resumes.
//! - `tokens`: where a provider keeps them, its tokens, sealed, for tools
//!   (`Context::upstream_token`); MCP clients never see them (U-14), and
//!   gatehouse's own tokens never depend on them (U-15).
//!
//! Every outbound call goes through the egress client (U-10).

mod discovery;
mod error;
mod flow;
pub mod github;
mod id_token;
pub mod mapping;
pub mod provider;
pub mod token_endpoint;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use gatehouse_specs::{ProviderKind, Spec};
use indexmap::IndexMap;
use serde_json::{Map, Value};
use url::Url;

use self::discovery::Discovery;
pub use self::discovery::Metadata;
pub use self::error::UpstreamError;
use self::provider::{IssuerRule, Location, NotOffered, ProviderConfig};
use self::token_endpoint::TokenResponse;
use super::sealing::Sealer;
use super::{accounts, secrets};
use crate::config::Config;
use crate::http::egress::{Egress, EgressLimits};
use crate::store::{Store, StoreError, TransactionRow, UpstreamProfile, now_ms};

/// Tunables of upstream sign-in (defaults are what production wants).
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// Limits of every call to a provider (U-10).
    pub egress: EgressLimits,
    /// How long a provider's discovery document and keys are trusted.
    pub discovery_ttl: Duration,
    /// An unknown `kid` refetches the keys at most this often (U-9).
    pub jwks_refetch_interval: Duration,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        UpstreamSettings {
            egress: EgressLimits::default(),
            discovery_ttl: Duration::from_secs(3600),
            jwks_refetch_interval: Duration::from_secs(30),
        }
    }
}

/// An offered provider with its cached metadata and keys.
pub struct Offered {
    pub config: ProviderConfig,
    discovery: Discovery,
}

/// A provider declared in the spec but not offered, and why.
#[derive(Debug, Clone)]
pub struct Unoffered {
    pub name: String,
    pub kind: ProviderKind,
    pub reason: NotOffered,
}

/// The providers of a server.
pub struct Upstream {
    providers: IndexMap<String, Arc<Offered>>,
    unoffered: Vec<Unoffered>,
    egress: Egress,
    /// Seals stored provider tokens; present when a provider keeps them.
    sealer: Option<Sealer>,
    store: Store,
    /// A login transaction lives this long (at most 10 minutes, U-1).
    transaction_lifetime: Duration,
    /// Serializes refreshes of one identity's stored tokens in this process.
    refreshing: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// What a finished round trip produced.
pub struct Completed {
    pub profile: UpstreamProfile,
    pub tokens: TokenResponse,
}

impl Upstream {
    /// Resolve the spec's providers against the configuration; log which are
    /// offered and why the others are not.
    pub async fn start(
        spec: &Spec,
        config: &Config,
        store: Store,
        public_base: &str,
        pending_lifetime: Duration,
    ) -> Result<Upstream, StoreError> {
        let settings = &config.settings.oauth.upstream;
        let mut providers = IndexMap::new();
        let mut unoffered = Vec::new();
        for (name, p) in &spec.sign_in.providers {
            match provider::resolve(name, p, &spec.sign_in, &config.env, public_base) {
                Ok(c) => {
                    tracing::info!(provider = %name, kind = %p.kind.as_str(), redirect_uri = %c.redirect_uri, "sign-in provider offered");
                    providers.insert(
                        name.clone(),
                        Arc::new(Offered {
                            config: c,
                            discovery: Discovery::new(
                                settings.discovery_ttl,
                                settings.jwks_refetch_interval,
                            ),
                        }),
                    );
                }
                Err(reason) => {
                    tracing::info!(provider = %name, kind = %p.kind.as_str(), "sign-in provider not offered: {reason}");
                    unoffered.push(Unoffered {
                        name: name.clone(),
                        kind: p.kind,
                        reason,
                    });
                }
            }
        }
        let sealer = if providers.values().any(|o| o.config.store_tokens) {
            let s = Sealer::load(&store, config.secret_key.as_deref()).await?;
            if s.key_is_stored() {
                tracing::warn!(
                    "GATEHOUSE_SECRET_KEY is not set: providers' tokens are encrypted with a key kept in the same database; set it to keep them safe from someone who can read the database"
                );
            }
            Some(s)
        } else {
            None
        };
        Ok(Upstream {
            providers,
            unoffered,
            egress: Egress::new(settings.egress.clone()),
            sealer,
            store,
            transaction_lifetime: pending_lifetime.min(Duration::from_secs(600)),
            refreshing: Default::default(),
        })
    }

    /// The offered providers, in spec order.
    pub fn offered(&self) -> impl Iterator<Item = &ProviderConfig> {
        self.providers.values().map(|o| &o.config)
    }

    /// The declared providers that are not offered.
    pub fn unoffered(&self) -> &[Unoffered] {
        &self.unoffered
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Offered>> {
        self.providers.get(name)
    }

    /// A provider's metadata (fetched if not cached); for `providers list`.
    pub async fn metadata(&self, offered: &Offered) -> Result<Arc<Metadata>, UpstreamError> {
        offered
            .discovery
            .metadata(&self.egress, &offered.config)
            .await
    }

    /// Start a round trip for the pending request `pending_hash` in the browser
    /// whose cookie is `browser`: the transaction is stored, and the URL of the
    /// provider's authorization endpoint returned (U-1..U-4).
    pub async fn begin(
        &self,
        offered: &Offered,
        pending_hash: &str,
        browser: &str,
    ) -> Result<Url, UpstreamError> {
        let config = &offered.config;
        let metadata = self.metadata(offered).await?;
        let state = secrets::random_token();
        let nonce = secrets::random_token();
        let verifier = secrets::random_token();
        let now = now_ms();
        self.store
            .insert_upstream_transaction(&TransactionRow {
                state_hash: secrets::hash(&state),
                provider: config.name.clone(),
                pending_hash: pending_hash.to_string(),
                browser_hash: secrets::hash(browser),
                nonce: nonce.clone(),
                code_verifier: verifier.clone(),
                created_at: now,
                expires_at: now + self.transaction_lifetime.as_millis() as i64,
            })
            .await?;
        let mut url = metadata.authorization_endpoint.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &config.client_id)
                .append_pair("redirect_uri", &config.redirect_uri)
                .append_pair("scope", &config.scopes.join(" "))
                .append_pair("state", &state)
                .append_pair("code_challenge", &secrets::s256(&verifier))
                .append_pair("code_challenge_method", "S256");
            for (k, v) in &config.authorization_params {
                q.append_pair(k, v);
            }
            if config.kind.is_oidc() {
                q.append_pair("nonce", &nonce);
                if !config.claims.is_empty() && metadata.claims_parameter {
                    q.append_pair("claims", &claims_request(&config.claims));
                }
            }
        }
        Ok(url)
    }

    /// The rest of a round trip whose callback passed its checks: redeem the
    /// code, verify who came back, and read their profile.
    pub async fn complete(
        &self,
        offered: &Offered,
        transaction: &TransactionRow,
        code: &str,
    ) -> Result<Completed, UpstreamError> {
        let config = &offered.config;
        let metadata = self.metadata(offered).await?;
        let tokens = token_endpoint::request(
            &self.egress,
            &metadata,
            config,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &config.redirect_uri),
                ("code_verifier", &transaction.code_verifier),
            ],
        )
        .await?;
        let profile = match &config.location {
            Location::Github { issuer, api, .. } => {
                let user = github::fetch_user(&self.egress, api, &tokens.access_token).await?;
                UpstreamProfile {
                    provider: issuer.clone(),
                    subject: user.id,
                    provider_name: config.name.clone(),
                    email: user
                        .verified_email
                        .and_then(|e| accounts::normalize_email(&e).ok()),
                    email_verified: true,
                    name: user.name.or(Some(user.login)),
                }
            }
            Location::Discovered { issuer, .. } => {
                self.verified_profile(offered, &metadata, issuer, transaction, &tokens)
                    .await?
            }
        };
        Ok(Completed { profile, tokens })
    }

    /// The ID token verified, completed from userinfo where it lacks the email.
    async fn verified_profile(
        &self,
        offered: &Offered,
        metadata: &Metadata,
        issuer: &IssuerRule,
        transaction: &TransactionRow,
        tokens: &TokenResponse,
    ) -> Result<UpstreamProfile, UpstreamError> {
        let config = &offered.config;
        let id_token = tokens.id_token.as_deref().ok_or_else(|| {
            UpstreamError::invalid(
                "the provider issued no ID token (is `openid` among the scopes?)",
            )
        })?;
        let (alg, kid) = id_token::allowed_algorithm(id_token, &metadata.id_token_algs)?;
        let jwks_uri = metadata
            .jwks_uri
            .as_ref()
            .ok_or_else(|| UpstreamError::invalid("the provider publishes no keys (jwks_uri)"))?;
        let key = offered
            .discovery
            .key(&self.egress, jwks_uri, kid.as_deref(), alg)
            .await?;
        let claims = id_token::verify(
            id_token,
            alg,
            &key,
            &id_token::Expected {
                issuer,
                client_id: &config.client_id,
                nonce: &transaction.nonce,
                now: now_ms() / 1000,
            },
        )?;
        let (mut email, mut email_verified, mut name) = (
            claims.email.clone(),
            claims.email_verified,
            claims.name.clone(),
        );
        if email.is_none()
            && let Some(userinfo) = &metadata.userinfo_endpoint
        {
            let info = self
                .userinfo(userinfo, &tokens.access_token, &claims.sub)
                .await?;
            email = info.email;
            email_verified = info.email_verified;
            name = name.or(info.name);
        }
        // U-11: Entra keys users on the object id within their directory
        // (the directory is in the issuer); U-13: its `email` is not verified.
        let (subject, verified) = if config.kind == ProviderKind::Microsoft {
            let oid = claims.oid.clone().ok_or_else(|| {
                UpstreamError::invalid(
                    "the Microsoft ID token has no object id (oid); ask for the `profile` scope",
                )
            })?;
            (oid, false)
        } else {
            (claims.sub.clone(), email_verified == Some(true))
        };
        Ok(UpstreamProfile {
            provider: claims.iss.clone(),
            subject,
            provider_name: config.name.clone(),
            email: email.and_then(|e| accounts::normalize_email(&e).ok()),
            email_verified: verified,
            name: name.filter(|n| !n.trim().is_empty()),
        })
    }

    /// OIDC Core 5.3: userinfo, whose `sub` must be the ID token's.
    async fn userinfo(
        &self,
        endpoint: &Url,
        access_token: &str,
        sub: &str,
    ) -> Result<UserInfo, UpstreamError> {
        let auth = format!("Bearer {access_token}");
        let res = self
            .egress
            .get(
                endpoint,
                &[("accept", "application/json"), ("authorization", &auth)],
            )
            .await?;
        if !res.is_success() {
            return Err(UpstreamError::unavailable(format!(
                "its userinfo endpoint answered HTTP {}",
                res.status
            )));
        }
        let info: UserInfo = serde_json::from_slice(&res.body)
            .map_err(|_| UpstreamError::unavailable("its userinfo answer is not a JSON object"))?;
        if info.sub != sub {
            return Err(UpstreamError::invalid(
                "userinfo describes another subject than the ID token (OIDC Core 5.3.2)",
            ));
        }
        Ok(info)
    }
}

#[derive(serde::Deserialize)]
struct UserInfo {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default, deserialize_with = "id_token::lenient_bool")]
    email_verified: Option<bool>,
    #[serde(default)]
    name: Option<String>,
}

/// The `claims` request parameter (OIDC Core 5.5): the same claims asked for in
/// the ID token and from userinfo.
fn claims_request(claims: &[String]) -> String {
    let wanted: Map<String, Value> = claims.iter().map(|c| (c.clone(), Value::Null)).collect();
    serde_json::json!({ "id_token": wanted, "userinfo": wanted }).to_string()
}
