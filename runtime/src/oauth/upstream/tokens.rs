//! A provider's own tokens, for tools that call its API as the user
//! (`store_tokens: true`, `Context::upstream_token`). They are sealed at rest,
//! bound to their identity (U-14), never sent to MCP clients, and refreshed
//! when needed; gatehouse's own tokens and sessions never depend on them (U-15).

use super::error::UpstreamError;
use super::token_endpoint::{self, TokenResponse};
use super::{Offered, Upstream};
use crate::store::{StoreError, UpstreamProfile, UpstreamTokenRow, now_ms};

/// A stored access token is used until this close to its expiry.
const MARGIN_MS: i64 = 60_000;

/// Why a tool cannot have a provider's token. The messages are for the model
/// and the person behind it.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamTokenError {
    #[error(
        "this server does not keep tokens of `{0}` (store_tokens is off or the provider is not offered)"
    )]
    NotKept(String),
    #[error(
        "no {0} account is connected: sign in with {0} again (disconnect and reconnect this server)"
    )]
    NotConnected(String),
    #[error(
        "the {0} sign-in has expired or was revoked: sign in with {0} again (disconnect and reconnect this server)"
    )]
    SignInAgain(String),
    #[error("{0} is not answering; try again in a moment")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn context(provider: &str, subject: &str, which: &str) -> String {
    format!("upstream-token|{provider}|{subject}|{which}")
}

fn expires_at(now: i64, t: &TokenResponse) -> Option<i64> {
    t.expires_in.map(|s| now + s.max(0) * 1000)
}

impl Upstream {
    /// Keep the tokens a sign-in produced (for providers with `store_tokens`).
    pub async fn save_tokens(
        &self,
        offered: &Offered,
        profile: &UpstreamProfile,
        user_id: &str,
        tokens: &TokenResponse,
    ) -> Result<(), StoreError> {
        let Some(sealer) = &self.sealer else {
            return Ok(());
        };
        if !offered.config.store_tokens {
            return Ok(());
        }
        let now = now_ms();
        let (p, s) = (&profile.provider, &profile.subject);
        self.store
            .save_upstream_tokens(&UpstreamTokenRow {
                provider: p.clone(),
                subject: s.clone(),
                provider_name: offered.config.name.clone(),
                user_id: user_id.to_string(),
                access_token: sealer.seal(&tokens.access_token, &context(p, s, "access")),
                refresh_token: tokens
                    .refresh_token
                    .as_deref()
                    .map(|r| sealer.seal(r, &context(p, s, "refresh"))),
                expires_at: expires_at(now, tokens),
                scope: tokens.scope.clone(),
                updated_at: now,
            })
            .await
    }

    /// A usable access token of `provider` for `user_id`, refreshed if needed.
    pub async fn token_for(
        &self,
        user_id: &str,
        provider: &str,
    ) -> Result<String, UpstreamTokenError> {
        let offered = self
            .providers
            .get(provider)
            .filter(|o| o.config.store_tokens)
            .ok_or_else(|| UpstreamTokenError::NotKept(provider.to_string()))?;
        let sealer = self
            .sealer
            .as_ref()
            .ok_or_else(|| UpstreamTokenError::NotKept(provider.to_string()))?;
        let label = offered.config.kind_label();
        let stored = async || -> Result<Result<String, UpstreamTokenRow>, UpstreamTokenError> {
            let row = self
                .store
                .upstream_tokens(user_id, provider)
                .await?
                .ok_or_else(|| UpstreamTokenError::NotConnected(label.clone()))?;
            Ok(self.fresh(sealer, &row).ok_or(row))
        };
        let row = match stored().await? {
            Ok(token) => return Ok(token),
            Err(row) => row,
        };
        // One refresh at a time per identity in this process (another replica
        // racing us is caught by the compare-and-swap below); then read again:
        // whoever held the lock may have refreshed already.
        let lock = {
            let mut map = self.refreshing.lock().expect("refresh locks");
            map.retain(|_, l| std::sync::Arc::strong_count(l) > 1);
            map.entry(format!("{}|{}", row.provider, row.subject))
                .or_default()
                .clone()
        };
        let _guard = lock.lock().await;
        let row = match stored().await? {
            Ok(token) => return Ok(token),
            Err(row) => row,
        };
        let (p, s) = (row.provider.clone(), row.subject.clone());
        let refresh = row
            .refresh_token
            .as_deref()
            .and_then(|r| sealer.open(r, &context(&p, &s, "refresh")).ok())
            .ok_or_else(|| UpstreamTokenError::SignInAgain(label.clone()))?;
        let metadata = self
            .metadata(offered)
            .await
            .map_err(|_| UpstreamTokenError::Unavailable(label.clone()))?;
        let refreshed = token_endpoint::request(
            &self.egress,
            &metadata,
            &offered.config,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        let tokens = match refreshed {
            Ok(t) => t,
            Err(UpstreamError::Unavailable(_)) => {
                return Err(UpstreamTokenError::Unavailable(label));
            }
            Err(e) => {
                tracing::info!(provider = %provider, user = %user_id, error = %e, "upstream refresh refused; the tokens are forgotten");
                self.store.delete_upstream_tokens(&p, &s).await?;
                return Err(UpstreamTokenError::SignInAgain(label));
            }
        };
        let now = now_ms();
        let next = UpstreamTokenRow {
            access_token: sealer.seal(&tokens.access_token, &context(&p, &s, "access")),
            // A provider that does not rotate keeps the old refresh token valid.
            refresh_token: Some(match &tokens.refresh_token {
                Some(r) => sealer.seal(r, &context(&p, &s, "refresh")),
                None => row.refresh_token.clone().unwrap_or_default(),
            }),
            expires_at: expires_at(now, &tokens),
            scope: tokens.scope.clone(),
            updated_at: now,
            ..row.clone()
        };
        let old = row.refresh_token.clone().unwrap_or_default();
        if !self.store.replace_upstream_tokens(&next, &old).await? {
            // Another replica refreshed first: use what it stored.
            let winner = self
                .store
                .upstream_tokens(user_id, provider)
                .await?
                .ok_or_else(|| UpstreamTokenError::NotConnected(label.clone()))?;
            return self
                .fresh(sealer, &winner)
                .ok_or(UpstreamTokenError::SignInAgain(label));
        }
        Ok(tokens.access_token)
    }

    /// The stored access token, if it is not about to expire.
    fn fresh(&self, sealer: &super::Sealer, row: &UpstreamTokenRow) -> Option<String> {
        if row.expires_at.is_some_and(|e| e <= now_ms() + MARGIN_MS) {
            return None;
        }
        sealer
            .open(
                &row.access_token,
                &context(&row.provider, &row.subject, "access"),
            )
            .ok()
    }
}

impl super::provider::ProviderConfig {
    /// How the provider is named in messages: Google, GitHub, …; a generic
    /// provider by its button's text without "Continue with", else its name.
    pub fn kind_label(&self) -> String {
        match self.kind {
            gatehouse_specs::ProviderKind::Oidc => self
                .label
                .strip_prefix("Continue with ")
                .unwrap_or(&self.name)
                .to_string(),
            k => k.display_name().to_string(),
        }
    }
}

/// Seal every stored provider token with `to` (`keys rewrap`): values sealed
/// with one of `from` are opened and sealed again. How many token sets changed;
/// one that no given key opens is an error.
pub async fn rewrap(
    store: &crate::store::Store,
    to: &super::Sealer,
    from: &[super::Sealer],
) -> Result<usize, UpstreamTokenError> {
    let mut changed = 0;
    for row in store.all_upstream_tokens().await? {
        // The value sealed with `to`, and whether that changed it.
        let reseal = |value: &str, which: &str| -> Result<(String, bool), UpstreamTokenError> {
            let ctx = context(&row.provider, &row.subject, which);
            if to.open(value, &ctx).is_ok() {
                return Ok((value.to_string(), false));
            }
            let plain = from
                .iter()
                .find_map(|s| s.open(value, &ctx).ok())
                .ok_or_else(|| {
                    UpstreamTokenError::Unavailable(format!(
                        "the tokens of {} at {} (no given secret opens them)",
                        row.subject, row.provider
                    ))
                })?;
            Ok((to.seal(&plain, &ctx), true))
        };
        let (access, a) = reseal(&row.access_token, "access")?;
        let (refresh, r) = match row.refresh_token.as_deref() {
            Some(v) => {
                let (v, changed) = reseal(v, "refresh")?;
                (Some(v), changed)
            }
            None => (None, false),
        };
        if a || r {
            store
                .reseal_upstream_tokens(&row.provider, &row.subject, &access, refresh.as_deref())
                .await?;
            changed += 1;
        }
    }
    Ok(changed)
}
