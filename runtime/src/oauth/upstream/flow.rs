//! The browser's side of upstream sign-in. A provider's button on the sign-in
//! page leads to `GET /oauth/upstream/{provider}?request=…`, which starts a
//! login transaction and sends the browser to the provider; the provider sends
//! it back to `GET /oauth/callback/{provider}`, where the callback is checked in
//! this order before anything is redeemed:
//!
//! 1. the transaction named by `state` exists and is taken (single use, U-1);
//! 2. it has not expired (U-1);
//! 3. this browser started it: the hash of its cookie matches (U-1);
//! 4. it was started for the provider whose path this is (mix-up, U-4);
//! 5. the pending MCP authorization still exists; it gets a new id, so the one
//!    seen before the round trip no longer works;
//! 6. the provider's `error`, if any, ends the attempt (retry offered);
//! 7. `iss` is the provider's issuer, and present where it advertises RFC 9207
//!    (U-4);
//! 8. the code is redeemed and who came back verified (`Upstream::complete`),
//!    then mapped to an internal user (`mapping`).
//!
//! Failures after step 5 offer "Try again" with the new id: an outage at the
//! provider never loses the MCP client's pending authorization.

use crate::oauth::forms::CallbackQuery;

use salvo::http::StatusCode;
use serde_json::json;

use super::error::UpstreamError;
use super::mapping::{self, Mapped, NoAccount};
use super::provider::{IssuerRule, Location, ProviderConfig};
use crate::oauth::OAuth;
use crate::oauth::authorize::Outcome;
use crate::oauth::browser::plausible;
use crate::oauth::error::AuthorizeError;
use crate::oauth::secrets;
use crate::store::{PendingRow, now_ms};

fn page(status: StatusCode, title: &str, message: &str) -> AuthorizeError {
    AuthorizeError::Page {
        status,
        title: title.into(),
        message: message.into(),
    }
}

fn expired() -> AuthorizeError {
    page(
        StatusCode::BAD_REQUEST,
        "This sign-in has expired",
        "It was completed already, is too old, or was not started here. Go back to the app and connect again.",
    )
}

/// Whether a cookie value can be a browser binding we issued (43 base64url
/// characters); anything else is replaced.
impl IssuerRule {
    /// RFC 9207: whether the `iss` of an authorization response names this
    /// provider (Entra `common`: any allowed directory's issuer).
    pub fn accepts_response_iss(&self, iss: &str) -> bool {
        match self {
            IssuerRule::Exact(s) => s == iss,
            IssuerRule::MicrosoftTemplate { template, .. } => {
                let (prefix, suffix) = template
                    .split_once("{tenantid}")
                    .expect("the template names {tenantid}");
                iss.strip_prefix(prefix)
                    .and_then(|rest| rest.strip_suffix(suffix))
                    .is_some_and(|tid| self.token_issuer(Some(tid)).is_ok_and(|i| i == iss))
            }
        }
    }
}

fn response_issuer_ok(config: &ProviderConfig, iss: &str) -> bool {
    match &config.location {
        Location::Discovered { issuer, .. } => issuer.accepts_response_iss(iss),
        Location::Github { issuer, .. } => issuer == iss,
    }
}

impl OAuth {
    /// The provider `/oauth/authorize` goes to without a page: passwords are off
    /// and exactly one provider is offered.
    pub(in crate::oauth) fn direct_provider(&self) -> Option<&ProviderConfig> {
        if self.cfg.password {
            return None;
        }
        let mut offered = self.upstream.offered();
        match (offered.next(), offered.next()) {
            (Some(p), None) => Some(p),
            _ => None,
        }
    }

    /// `GET /oauth/upstream/{provider}?request=…`: start a round trip.
    pub(in crate::oauth) async fn upstream_start(
        &self,
        provider: &str,
        request_id: &str,
        browser: Option<&str>,
    ) -> Result<Outcome, AuthorizeError> {
        let (pending, _) = self.pending_and_client(request_id).await?;
        self.check_browser(&pending, browser)?;
        self.go_upstream(provider, request_id, &pending, browser)
            .await
    }

    /// Store a transaction for `pending` and send the browser to `provider`.
    pub(in crate::oauth) async fn go_upstream(
        &self,
        provider: &str,
        request_id: &str,
        pending: &PendingRow,
        browser: Option<&str>,
    ) -> Result<Outcome, AuthorizeError> {
        let Some(offered) = self.upstream.get(provider) else {
            return Err(page(
                StatusCode::NOT_FOUND,
                "Unknown sign-in method",
                "This server offers no such way to sign in. Go back and choose another.",
            ));
        };
        let (browser, cookie) = match browser.filter(|b| plausible(b)) {
            Some(b) => (b.to_string(), None),
            None => {
                let b = secrets::random_token();
                (b.clone(), Some(b))
            }
        };
        match self
            .upstream
            .begin(offered, &pending.id_hash, &browser)
            .await
        {
            Ok(url) => Ok(Outcome::Upstream {
                cookie,
                to: url.to_string(),
            }),
            Err(e) => Ok(self.upstream_failure(&offered.config, &e, request_id)),
        }
    }

    /// A page saying what went wrong at the provider, with "Try again".
    fn upstream_failure(
        &self,
        config: &ProviderConfig,
        e: &UpstreamError,
        request_id: &str,
    ) -> Outcome {
        let label = config.kind_label();
        let (title, message) = match e {
            UpstreamError::Unavailable(detail) => {
                tracing::warn!(provider = %config.name, error = %detail, "sign-in provider unavailable");
                (
                    format!("{label} is not answering"),
                    format!(
                        "Signing in with {label} did not work because {label} could not be reached. Your connection request is kept: try again in a moment."
                    ),
                )
            }
            UpstreamError::Refused { error, .. } if error == "access_denied" => (
                format!("Sign-in with {label} was cancelled"),
                "Nothing was shared. You can try again, or go back to the app.".to_string(),
            ),
            UpstreamError::Refused { error, description } => {
                // `?`: these came in the callback's query, so anyone can write
                // them; Debug escapes line breaks (no forged log lines).
                tracing::warn!(provider = %config.name, error = ?error, description = ?description, "sign-in provider refused");
                (
                    format!("{label} refused the sign-in"),
                    format!(
                        "{label} answered `{error}`. Try again; if it keeps happening, the server's operator should check its {label} settings."
                    ),
                )
            }
            UpstreamError::Invalid(detail) => {
                tracing::warn!(provider = %config.name, error = ?detail, "sign-in response refused");
                (
                    format!("Sign-in with {label} could not be verified"),
                    format!(
                        "The answer from {label} was not acceptable ({detail}). Nothing was shared."
                    ),
                )
            }
            UpstreamError::Store(inner) => {
                tracing::error!(error = %inner, "store unavailable during upstream sign-in");
                (
                    "Temporarily unavailable".to_string(),
                    "The server could not complete this step. Try again in a moment.".to_string(),
                )
            }
        };
        Outcome::Page {
            status: e.status(),
            template: "error.html",
            ctx: json!({
                "server_title": self.cfg.server_title, "title": title, "message": message,
                "retry_request": request_id,
            }),
        }
    }

    /// `GET /oauth/callback/{provider}`: finish a round trip (see the module's
    /// order of checks).
    pub(in crate::oauth) async fn upstream_callback(
        &self,
        provider: &str,
        q: &CallbackQuery,
        browser: Option<&str>,
    ) -> Result<Outcome, AuthorizeError> {
        let state = q.state.as_ref().filter(|s| !s.is_empty()).ok_or_else(|| {
            page(
                StatusCode::BAD_REQUEST,
                "Invalid sign-in response",
                "The answer from the sign-in provider does not say which sign-in it belongs to. Go back to the app and connect again.",
            )
        })?;
        // 1, 2: single use, not expired (U-1).
        let transaction = self
            .store
            .take_upstream_transaction(&secrets::hash(state))
            .await?
            .ok_or_else(expired)?;
        let now = now_ms();
        if transaction.expires_at <= now {
            return Err(expired());
        }
        // 3: the browser that started it (U-1).
        if !browser.is_some_and(|b| secrets::matches_hash(b, &transaction.browser_hash)) {
            tracing::warn!(provider = ?provider, "upstream callback from another browser refused");
            return Err(page(
                StatusCode::FORBIDDEN,
                "This sign-in was started in another browser",
                "For your safety it can only be finished in the browser where it began. Go back to the app and connect again from this browser.",
            ));
        }
        // 4: mix-up (U-4).
        if transaction.provider != provider {
            tracing::warn!(provider = ?provider, started_with = %transaction.provider, "upstream callback on another provider's path refused");
            return Err(page(
                StatusCode::BAD_REQUEST,
                "Sign-in answer from the wrong provider",
                "This answer arrived for another sign-in provider than the one you chose. Nothing was shared. Go back to the app and connect again.",
            ));
        }
        let Some(offered) = self.upstream.get(provider) else {
            return Err(expired());
        };
        // 5: the pending request, under a new id.
        let request_id = secrets::random_token();
        if !self
            .store
            .rekey_pending(&transaction.pending_hash, &secrets::hash(&request_id), now)
            .await?
        {
            return Err(expired());
        }
        let config = &offered.config;
        // 6: the provider's answer was an error.
        if let Some(error) = &q.error {
            let e = UpstreamError::Refused {
                error: error.clone(),
                description: q.error_description.clone(),
            };
            return Ok(self.upstream_failure(config, &e, &request_id));
        }
        // 7: RFC 9207, before the code is redeemed (U-4).
        let metadata = match self.upstream.metadata(offered).await {
            Ok(m) => m,
            Err(e) => return Ok(self.upstream_failure(config, &e, &request_id)),
        };
        match &q.iss {
            Some(iss) if !response_issuer_ok(config, iss) => {
                let e = UpstreamError::invalid(format!(
                    "the answer names the issuer `{iss}`, not this provider's (RFC 9207, U-4)"
                ));
                return Ok(self.upstream_failure(config, &e, &request_id));
            }
            None if metadata.iss_parameter => {
                let e = UpstreamError::invalid(
                    "the answer does not name its issuer, which this provider always does (RFC 9207, U-4)",
                );
                return Ok(self.upstream_failure(config, &e, &request_id));
            }
            _ => {}
        }
        let Some(code) = q.code.as_ref().filter(|c| !c.is_empty()) else {
            let e = UpstreamError::invalid("the answer carries no authorization code");
            return Ok(self.upstream_failure(config, &e, &request_id));
        };
        // 8: redeem, verify, map.
        let done = match self.upstream.complete(offered, &transaction, code).await {
            Ok(d) => d,
            Err(e) => return Ok(self.upstream_failure(config, &e, &request_id)),
        };
        let user_id = match mapping::map(&self.store, config, &done.profile, now).await? {
            Mapped::User(id) => id,
            Mapped::NoAccount(why) => {
                let (pending, client) = self.pending_and_client(&request_id).await?;
                let label = config.kind_label();
                let message = match why {
                    NoAccount::SignUpClosed => format!(
                        "There is no account on this server for the {label} account you signed in with. Ask the server's operator for one."
                    ),
                    NoAccount::EmailInUse => format!(
                        "An account with the email of your {label} account exists already. Sign in to it the way you did before, or ask the server's operator to link {label} to it."
                    ),
                    NoAccount::Disabled => "This account is disabled.".to_string(),
                };
                tracing::info!(provider = %provider, outcome = ?why, "upstream sign-in found no account");
                return Ok(self.sign_in_page(
                    &request_id,
                    &pending,
                    &client,
                    "sign_in",
                    "",
                    Some(&message),
                    StatusCode::FORBIDDEN,
                ));
            }
        };
        self.upstream
            .save_tokens(offered, &done.profile, &user_id, &done.tokens)
            .await?;
        tracing::info!(user = %user_id, provider = %provider, "signed in through provider");
        crate::audit::record(
            &self.store,
            crate::audit::Entry::new(crate::audit::Event::SignIn, "success")
                .user(&user_id)
                .detail(format!("through {provider}")),
        )
        .await;
        self.start_browser_session(&user_id, provider, &request_id)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 9207 with Entra `common`: only an allowed directory's issuer.
    #[test]
    fn response_iss_for_microsoft_common() {
        let allowed = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let rule = IssuerRule::MicrosoftTemplate {
            template: "https://login.microsoftonline.com/{tenantid}/v2.0".into(),
            tenants: vec![allowed.into()],
        };
        assert!(
            rule.accepts_response_iss(&format!("https://login.microsoftonline.com/{allowed}/v2.0"))
        );
        assert!(!rule.accepts_response_iss(
            "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0"
        ));
        assert!(!rule.accepts_response_iss("https://login.microsoftonline.com/{tenantid}/v2.0"));
        assert!(!rule.accepts_response_iss("https://evil.example.com/v2.0"));
        assert!(IssuerRule::Exact("https://a".into()).accepts_response_iss("https://a"));
        assert!(!IssuerRule::Exact("https://a".into()).accepts_response_iss("https://a/"));
    }
}
