//! The authorization endpoint and the browser flow behind it.
//!
//! `GET /oauth/authorize` checks the request in the order RFC 6749 4.1.2.1 asks:
//! the client and its redirect URI first (failures there are shown on an error
//! page: the redirect URI is not trusted yet), then everything else (failures go
//! back to the client with `error`, `state` and `iss`, RFC 9207). A valid request
//! is stored under an opaque id and the browser goes to `/oauth/continue`, which a
//! reload, the sign-in round-trip or another replica can resume. There the user
//! signs in (or signs up), then consents, unless the client is auto-approved or
//! already has their consent for these scopes; then the code goes back to the
//! client. Forms carry a per-request CSRF token.

use crate::audit::{self, Entry, Event};
use std::net::IpAddr;
use std::time::Duration;

use salvo::http::StatusCode;
use serde_json::{Value, json};

use super::client_documents::{ClientDocuments, DocumentError, FROM_DOCUMENT};
use super::error::AuthorizeError;
use super::forms::{AuthorizeQuery, ConsentForm, SignInForm};
use super::params::ParamError;
use super::token::valid_pkce_value;
use super::{OAuth, accounts, secrets};
use crate::http::rate_limit::retry_after_secs;
use crate::store::{BrowserSession, ClientRow, CodeRow, PendingRow, UserRow, now_ms};
use gatehouse_specs::UnknownScopes;
use gatehouse_specs::redirect::{is_loopback_host, is_native_app, redirect_matches};

/// What the browser gets.
pub(in crate::oauth) enum Outcome {
    /// 303 See Other to this URL.
    Redirect(String),
    /// Set the browser-session cookie, then 303 to this URL.
    SignedIn { session: String, to: String },
    /// Clear the browser-session cookie, then 303 to this URL (or a page
    /// saying so).
    SignedOut { to: Option<String> },
    /// Set the cookie binding login transactions to this browser (when it has
    /// none yet), then 303 to a sign-in provider.
    Upstream { cookie: Option<String>, to: String },
    Page {
        status: StatusCode,
        template: &'static str,
        ctx: Value,
    },
}

/// The longest value each authorization parameter may have (issue 12: a
/// pending request stores them; nothing unbounded is kept).
const PARAMETER_LIMITS: [(&str, usize); 9] = [
    ("code_challenge_method", 16),
    ("client_id", 512),
    ("redirect_uri", gatehouse_specs::redirect::MAX_REDIRECT_URI),
    ("state", 1024),
    ("scope", 1000),
    ("resource", 2000),
    ("code_challenge", 128),
    ("nonce", 512),
    ("response_type", 32),
];

/// For a parameter missing from the table above.
const DEFAULT_PARAMETER_LIMIT: usize = 512;

fn page(title: &str, message: &str) -> AuthorizeError {
    AuthorizeError::page(title, message)
}

/// Read a query string into its struct (`forms.rs`); a parameter given twice
/// is an error.
pub(super) fn query<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, AuthorizeError> {
    super::params::typed(raw.as_bytes()).map_err(|e| match e {
        ParamError::Repeated(k) => page(
            "Invalid request",
            &format!("The parameter `{k}` was given more than once."),
        ),
        ParamError::Malformed(_) => page("Invalid request", "The request could not be read."),
    })
}

pub(in crate::oauth) fn continue_url(id: &str) -> String {
    format!("/oauth/continue?request={id}")
}

impl OAuth {
    /// The redirect back to the client, with `iss` always (RFC 9207).
    fn client_redirect(
        &self,
        redirect_uri: &str,
        params: &[(&str, &str)],
        state: Option<&str>,
    ) -> String {
        let mut url = url::Url::parse(redirect_uri).expect("redirect URIs were validated");
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in params {
                q.append_pair(k, v);
            }
            if let Some(s) = state {
                q.append_pair("state", s);
            }
            q.append_pair("iss", &self.cfg.issuer);
        }
        url.to_string()
    }

    /// Turn an authorization error into what the browser gets.
    pub(super) fn authorize_failure(&self, e: AuthorizeError) -> Outcome {
        match e {
            AuthorizeError::Page {
                status,
                title,
                message,
            } => Outcome::Page {
                status,
                template: "error.html",
                ctx: json!({ "server_title": self.cfg.server_title, "title": title, "message": message }),
            },
            AuthorizeError::Redirect {
                redirect_uri,
                state,
                error,
                description,
            } => Outcome::Redirect(self.client_redirect(
                &redirect_uri,
                &[("error", error), ("error_description", &description)],
                state.as_deref(),
            )),
            AuthorizeError::Limited {
                retry_after,
                title,
                message,
            } => Outcome::Page {
                status: StatusCode::TOO_MANY_REQUESTS,
                template: "error.html",
                ctx: json!({ "server_title": self.cfg.server_title, "title": title, "message": message,
                    "retry_after": retry_after }),
            },
            AuthorizeError::Unavailable(e) => {
                tracing::error!(error = %e, "store unavailable during authorization");
                Outcome::Page {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    template: "error.html",
                    ctx: json!({ "server_title": self.cfg.server_title, "title": "Temporarily unavailable",
                        "message": "The server could not complete this step. Try again in a moment.",
                        "retry_after": crate::store::OUTAGE_RETRY_AFTER }),
                }
            }
        }
    }

    /// `GET /oauth/authorize`: validate and store the request, bound to the
    /// browser whose pre-authentication cookie is `browser`; its opaque id.
    pub(super) async fn authorize(
        &self,
        q: &AuthorizeQuery,
        addr: IpAddr,
        browser: &str,
    ) -> Result<String, AuthorizeError> {
        if let Err(wait) = self.guards.authorization(addr) {
            return Err(AuthorizeError::Limited {
                retry_after: retry_after_secs(wait),
                title: "Too many requests".into(),
                message: "Too many sign-in requests came from your network. Wait a moment, then connect again from the app.".into(),
            });
        }
        // Nothing unbounded is stored: every parameter has a length limit.
        for (key, value) in q.values() {
            let max = PARAMETER_LIMITS
                .iter()
                .find(|(k, _)| *k == key)
                .map_or(DEFAULT_PARAMETER_LIMIT, |(_, max)| *max);
            if value.is_some_and(|v| v.chars().count() > max) {
                return Err(page(
                    "Invalid request",
                    &format!("The request's `{key}` is longer than {max} characters."),
                ));
            }
        }
        let client_id = q
            .client_id
            .as_ref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                page(
                    "Invalid request",
                    "The request does not say which app is asking (client_id).",
                )
            })?;
        let client = if ClientDocuments::is_document_id(client_id) {
            // M-2..M-5: a URL client id names its metadata document.
            match self.documents.resolve(client_id).await {
                Ok(client) => client,
                Err(DocumentError::Store(e)) => return Err(e.into()),
                Err(e) => {
                    tracing::info!(client = %client_id, error = %e, "client metadata document refused");
                    return Err(page("This app could not be identified", &e.to_string()));
                }
            }
        } else {
            self.store.client(client_id).await?.ok_or_else(|| {
                page(
                    "Unknown app",
                    "This app is not registered with this server (or its registration expired). Connect again from the app.",
                )
            })?
        };
        let registered: Vec<String> =
            serde_json::from_str(&client.redirect_uris).unwrap_or_default();
        // A-AZ-3: exact match, except a loopback redirect URI's port (RFC 8252).
        let redirect_uri = match &q.redirect_uri {
            Some(r) if registered.iter().any(|reg| redirect_matches(reg, r)) => r.clone(),
            Some(_) => {
                return Err(page(
                    "Wrong redirect address",
                    "The app asked to be sent back to an address it did not register. Nothing was shared.",
                ));
            }
            None if registered.len() == 1 => registered[0].clone(),
            None => {
                return Err(page(
                    "Invalid request",
                    "The request does not say where to send you back (redirect_uri).",
                ));
            }
        };
        let state = q.state.clone();
        let fail = |error: &'static str, description: String| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            error,
            description,
        };
        if q.response_type.as_deref() != Some("code") {
            return Err(fail(
                "unsupported_response_type",
                "response_type must be code".into(),
            ));
        }
        // A-AZ-1: PKCE with S256 on every request.
        let challenge = q.code_challenge.as_ref().ok_or_else(|| {
            fail(
                "invalid_request",
                "code_challenge is required (PKCE with S256)".into(),
            )
        })?;
        if q.code_challenge_method.as_deref() != Some("S256") {
            return Err(fail(
                "invalid_request",
                "code_challenge_method must be S256".into(),
            ));
        }
        if !valid_pkce_value(challenge) {
            return Err(fail(
                "invalid_request",
                "code_challenge is malformed".into(),
            ));
        }
        let allowed: Vec<String> = match &client.scope {
            Some(s) => s.split_whitespace().map(str::to_string).collect(),
            None => self.cfg.scopes.keys().cloned().collect(),
        };
        // Scopes this server does not define (`offline_access`, the OpenID
        // Connect way to ask for a refresh token, which is issued anyway;
        // `openid profile email` of generic clients) are left out unless the
        // spec says to refuse them (RFC 6749 3.3: the server may grant less,
        // and the token response names what it granted). A defined scope the
        // client may not have is refused. Nothing left: the default, as for an
        // omitted `scope`.
        let mut scope: Vec<String> = Vec::new();
        for s in q.scope.as_deref().unwrap_or("").split_whitespace() {
            if !self.cfg.scopes.contains_key(s) {
                if self.cfg.unknown_scopes == UnknownScopes::Reject {
                    return Err(fail(
                        "invalid_scope",
                        format!("scope `{s}` is not available to this app"),
                    ));
                }
                continue;
            }
            if !allowed.iter().any(|a| a == s) {
                return Err(fail(
                    "invalid_scope",
                    format!("scope `{s}` is not available to this app"),
                ));
            }
            if !scope.iter().any(|x| x == s) {
                scope.push(s.to_string());
            }
        }
        if scope.is_empty() {
            scope = allowed.clone();
        }
        // A-AZ-2: the resource must be this server; absent (2025-03-26 clients),
        // the token is still bound to it.
        if let Some(resource) = &q.resource
            && !self.cfg.is_our_resource(resource)
        {
            return Err(fail(
                "invalid_target",
                format!("`{resource}` is not a resource of this server"),
            ));
        }
        let now = now_ms();
        let ip = addr.to_string();
        if self.store.count_pending_from(&ip, now).await? >= self.guards.limits.pending_per_address
        {
            return Err(AuthorizeError::Limited {
                retry_after: 60,
                title: "Too many sign-ins in progress".into(),
                message: "Your network has too many unfinished sign-ins. Finish or close them, or wait a few minutes, then connect again.".into(),
            });
        }
        let id = secrets::random_token();
        self.store
            .insert_pending(&PendingRow {
                id_hash: secrets::hash(&id),
                client_id: client.id.clone(),
                redirect_uri,
                state,
                scope: scope.join(" "),
                resource: self.cfg.resource.clone(),
                code_challenge: challenge.clone(),
                csrf: secrets::random_token(),
                created_at: now,
                expires_at: now + self.cfg.settings.pending_lifetime.as_millis() as i64,
                client_ip: Some(ip),
                browser_hash: Some(secrets::hash(browser)),
            })
            .await?;
        Ok(id)
    }

    pub(in crate::oauth) async fn pending_and_client(
        &self,
        id: &str,
    ) -> Result<(PendingRow, ClientRow), AuthorizeError> {
        let expired = || {
            page(
                "This sign-in request has expired",
                "It was completed already or is too old. Go back to the app and connect again.",
            )
        };
        let pending = self
            .store
            .pending(&secrets::hash(id), now_ms())
            .await?
            .ok_or_else(expired)?;
        let client = self
            .store
            .client(&pending.client_id)
            .await?
            .ok_or_else(expired)?;
        Ok((pending, client))
    }

    async fn signed_in(
        &self,
        session: Option<&str>,
    ) -> Result<Option<BrowserSession>, AuthorizeError> {
        match session {
            Some(s) => Ok(self
                .store
                .browser_session(&secrets::hash(s), now_ms())
                .await?),
            None => Ok(None),
        }
    }

    /// After `/oauth/authorize` stored request `id`: on to the sign-in page, or
    /// (passwords off, one provider) straight to that provider.
    pub(super) async fn after_authorize(
        &self,
        id: &str,
        session: Option<&str>,
        browser: Option<&str>,
    ) -> Result<Outcome, AuthorizeError> {
        if self.direct_provider().is_some() {
            return self.resume(id, session, false, browser).await;
        }
        Ok(Outcome::Redirect(continue_url(id)))
    }

    /// `GET /oauth/continue`: sign in, consent, or done.
    pub(super) async fn resume(
        &self,
        id: &str,
        session: Option<&str>,
        sign_up: bool,
        browser: Option<&str>,
    ) -> Result<Outcome, AuthorizeError> {
        let (pending, client) = self.pending_and_client(id).await?;
        self.check_browser(&pending, browser)?;
        let Some(BrowserSession { user, method }) = self.signed_in(session).await? else {
            if let Some(provider) = self.direct_provider() {
                let name = provider.name.clone();
                return self.go_upstream(&name, id, &pending, browser).await;
            }
            if !self.cfg.password && self.upstream.offered().next().is_none() {
                return Err(AuthorizeError::Page {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    title: "Signing in is not possible right now".into(),
                    message: "This server offers no way to sign in yet. Its operator has to configure a sign-in provider.".into(),
                });
            }
            let mode = if sign_up && self.cfg.self_signup && self.cfg.password {
                "sign_up"
            } else {
                "sign_in"
            };
            return Ok(self.sign_in_page(id, &pending, &client, mode, "", None, StatusCode::OK));
        };
        // A remembered consent covering every requested scope skips the page,
        // except for a native app (a public client answered on loopback or an
        // app's own scheme): any program on the device can register the same
        // metadata, so its identity is not assured and the person is asked
        // every time (RFC 8252 8.6, RFC 6749 10.2).
        let remembered = if self.is_native_public(&client, &pending.redirect_uri) {
            None
        } else {
            self.store.consent(&user.id, &client.id).await?
        };
        let covered = remembered.as_deref().is_some_and(|granted| {
            pending
                .scope
                .split_whitespace()
                .all(|s| granted.split_whitespace().any(|g| g == s))
        });
        if self.auto_approved(&client, &pending.redirect_uri) || covered {
            return self.complete(&pending, &user).await;
        }
        let host = redirect_place(&pending.redirect_uri);
        let loopback = url::Url::parse(&pending.redirect_uri)
            .ok()
            .and_then(|u| u.host().map(|h| is_loopback_host(&h)))
            .unwrap_or(false);
        let scopes: Vec<Value> = pending
            .scope
            .split_whitespace()
            .map(|s| json!({ "name": s, "description": self.cfg.scopes.get(s).cloned().unwrap_or_default() }))
            .collect();
        // U-16: the page also says how the person signed in.
        let signed_in_with = method
            .as_deref()
            .and_then(|m| self.upstream.get(m))
            .map(|o| o.config.kind_label());
        Ok(Outcome::Page {
            status: StatusCode::OK,
            template: "consent.html",
            ctx: json!({
                "server_title": self.cfg.server_title, "client": self.client_identity(&client),
                "client_name": client.name, "redirect_host": host,
                "loopback": loopback, "scopes": scopes, "request_id": id, "csrf": pending.csrf,
                "user_email": user.email, "user_name": user.name, "signed_in_with": signed_in_with,
            }),
        })
    }

    /// How the pages name a client, honestly: a pre-registered client by the
    /// operator's name; a registered one by its known name with a "recognised
    /// callback" mark only when every redirect URI it registered matched that
    /// known client (not by loopback alone); otherwise by the name it gave
    /// itself, said to be its own.
    fn client_identity(&self, client: &ClientRow) -> Value {
        if client.registered == 0 {
            return json!({ "name": client.name, "kind": "preregistered" });
        }
        if client.registered == FROM_DOCUMENT {
            // M-6: the host that publishes the document vouches for it.
            let host = url::Url::parse(&client.id)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_default();
            return json!({ "name": client.name, "kind": "document", "host": host });
        }
        let uris: Vec<String> = serde_json::from_str(&client.redirect_uris).unwrap_or_default();
        match self.cfg.recognised_client(&uris) {
            Some(known) => json!({ "name": known.display_name, "kind": "recognised" }),
            None => json!({ "name": client.name, "kind": "self_asserted" }),
        }
    }

    /// A registered public client whose redirect URI is on this device
    /// (loopback) or an app's own scheme.
    fn is_native_public(&self, client: &ClientRow, redirect_uri: &str) -> bool {
        client.registered != 0
            && client.token_endpoint_auth_method == "none"
            && url::Url::parse(redirect_uri).is_ok_and(|u| is_native_app(&u))
    }

    fn auto_approved(&self, client: &ClientRow, redirect_uri: &str) -> bool {
        if client.auto_approve == 1 {
            return true;
        }
        client.registered == 1
            && url::Url::parse(redirect_uri).is_ok_and(|u| {
                self.cfg
                    .auto_approve_patterns
                    .iter()
                    .any(|p| p.matches(redirect_uri, &u))
            })
    }

    #[allow(clippy::too_many_arguments)]
    pub(in crate::oauth) fn sign_in_page(
        &self,
        id: &str,
        pending: &PendingRow,
        client: &ClientRow,
        mode: &str,
        email: &str,
        error: Option<&str>,
        status: StatusCode,
    ) -> Outcome {
        let providers: Vec<Value> = self
            .upstream
            .offered()
            .map(|p| json!({ "name": p.name, "label": p.label, "icon": p.icon }))
            .collect();
        Outcome::Page {
            status,
            template: "sign_in.html",
            ctx: json!({
                "server_title": self.cfg.server_title, "client": self.client_identity(client),
                "client_name": client.name, "request_id": id,
                "csrf": pending.csrf, "mode": mode, "email": email, "error": error,
                "self_signup": self.cfg.self_signup, "password": self.cfg.password,
                "providers": providers,
            }),
        }
    }

    /// The form's CSRF token must be the one stored with the request.
    fn check_csrf(&self, csrf: Option<&str>, pending: &PendingRow) -> Result<(), AuthorizeError> {
        match csrf {
            Some(t) if secrets::equal(t, &pending.csrf) => Ok(()),
            _ => Err(AuthorizeError::Page {
                status: StatusCode::FORBIDDEN,
                title: "This form has expired".into(),
                message:
                    "It was not sent from this page, or is too old. Reload the page and try again."
                        .into(),
            }),
        }
    }

    /// `POST /oauth/sign-in`: sign in or sign up, then continue. Limited per
    /// client address (checked by the route before the form is read) and, for
    /// sign-ins, per account (`guards`); a pending request is given up after a
    /// few failures.
    pub(super) async fn sign_in(
        &self,
        form: &SignInForm,
        addr: IpAddr,
        browser: Option<&str>,
    ) -> Result<Outcome, AuthorizeError> {
        let id = form.request.clone().unwrap_or_default();
        let email = form.email.as_deref().unwrap_or("");
        let sign_up = form.action.as_deref() == Some("sign_up");
        let (pending, client) = self.pending_and_client(&id).await?;
        self.check_browser(&pending, browser)?;
        self.check_csrf(form.csrf.as_deref(), &pending)?;
        if !self.cfg.password {
            return Err(AuthorizeError::Page {
                status: StatusCode::FORBIDDEN,
                title: "Passwords are not used here".into(),
                message: "This server signs people in through their existing account only. Go back and choose how to sign in.".into(),
            });
        }
        let password = form.password.as_deref().unwrap_or("");
        let mode = if sign_up { "sign_up" } else { "sign_in" };
        let again = |status: StatusCode, message: &str, retry_after: Option<Duration>| {
            let mut page =
                self.sign_in_page(&id, &pending, &client, mode, email, Some(message), status);
            if let (Outcome::Page { ctx, .. }, Some(wait)) = (&mut page, retry_after) {
                ctx["retry_after"] = json!(retry_after_secs(wait));
            }
            page
        };
        let busy = || {
            again(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server is busy. Try again in a moment.",
                Some(Duration::from_secs(2)),
            )
        };
        let user_id = if sign_up {
            if !self.cfg.self_signup {
                return Err(page(
                    "Sign-up is closed",
                    "Ask the server's operator for an account.",
                ));
            }
            match accounts::sign_up(&self.store, &self.guards, email, password).await {
                Ok(id) => {
                    audit::record(
                        &self.store,
                        Entry::new(Event::SignUp, "success")
                            .user(&id)
                            .subject(email)
                            .client(&pending.client_id),
                    )
                    .await;
                    id
                }
                Err(accounts::AccountError::Store(e)) => return Err(e.into()),
                Err(accounts::AccountError::Busy) => return Ok(busy()),
                Err(e) => {
                    audit::record(
                        &self.store,
                        Entry::new(Event::SignUp, "refused")
                            .subject(email)
                            .client(&pending.client_id)
                            .detail(e.to_string()),
                    )
                    .await;
                    let status = match e {
                        accounts::AccountError::EmailTaken => StatusCode::CONFLICT,
                        _ => StatusCode::BAD_REQUEST,
                    };
                    return Ok(again(status, &e.to_string(), None));
                }
            }
        } else {
            // The account's back-off, by the email as given (known or not:
            // the answer must not say which).
            let account = accounts::normalize_email(email).unwrap_or_else(|_| email.to_lowercase());
            if let Err(wait) = self.guards.account_locked(&account) {
                audit::record(
                    &self.store,
                    Entry::new(Event::SignIn, "locked")
                        .subject(&account)
                        .client(&pending.client_id)
                        .detail(format!("locked for {} s", retry_after_secs(wait))),
                )
                .await;
                return Ok(again(
                    StatusCode::TOO_MANY_REQUESTS,
                    &format!(
                        "Too many failed attempts for this account. Try again in {} seconds.",
                        retry_after_secs(wait)
                    ),
                    Some(wait),
                ));
            }
            match accounts::sign_in(&self.store, &self.guards, email, password).await {
                Ok(Some(user)) => {
                    self.guards.account_succeeded(&account);
                    audit::record(
                        &self.store,
                        Entry::new(Event::SignIn, "success")
                            .user(&user.id)
                            .client(&pending.client_id)
                            .detail("password"),
                    )
                    .await;
                    user.id
                }
                Ok(None) => {
                    let lock = self.guards.account_failed(&account);
                    let failures = self.store.pending_failed(&pending.id_hash).await?;
                    tracing::info!(%addr, failures, locked = lock.is_some(), "sign-in failed");
                    let mut entry = Entry::new(Event::SignIn, "failure")
                        .subject(&account)
                        .client(&pending.client_id);
                    if failures >= self.guards.limits.failures_per_request {
                        entry = entry.detail("wrong password; the request is given up");
                    } else if let Some(wait) = lock {
                        entry = entry.detail(format!(
                            "wrong password; the account waits {} s",
                            retry_after_secs(wait)
                        ));
                    }
                    audit::record(&self.store, entry).await;
                    if failures >= self.guards.limits.failures_per_request {
                        self.store.take_pending(&pending.id_hash).await?;
                        return Err(AuthorizeError::Page {
                            status: StatusCode::TOO_MANY_REQUESTS,
                            title: "Too many failed sign-ins".into(),
                            message: "This sign-in request was given up after several wrong passwords. Go back to the app and connect again.".into(),
                        });
                    }
                    return Ok(again(
                        StatusCode::UNAUTHORIZED,
                        "Wrong email or password.",
                        None,
                    ));
                }
                Err(accounts::AccountError::Busy) => return Ok(busy()),
                Err(accounts::AccountError::Store(e)) => return Err(e.into()),
                Err(e) => return Err(page("Invalid request", &e.to_string())),
            }
        };
        self.start_browser_session(&user_id, "password", &id).await
    }

    /// Sign this browser in as `user_id` (`method`: `password` or a provider's
    /// name) and continue request `id`.
    pub(in crate::oauth) async fn start_browser_session(
        &self,
        user_id: &str,
        method: &str,
        id: &str,
    ) -> Result<Outcome, AuthorizeError> {
        let session = secrets::random_token();
        let now = now_ms();
        let expires = now + self.cfg.settings.browser_session_lifetime.as_millis() as i64;
        self.store
            .insert_browser_session(&secrets::hash(&session), user_id, method, now, expires)
            .await?;
        Ok(Outcome::SignedIn {
            session,
            to: continue_url(id),
        })
    }

    /// `POST /oauth/sign-out`: end this browser's session; with a pending
    /// request (the consent page's "Not you?"), back to its sign-in page.
    pub(super) async fn sign_out(
        &self,
        form: &ConsentForm,
        session: Option<&str>,
        browser: Option<&str>,
    ) -> Result<Outcome, AuthorizeError> {
        let id = form.request.as_deref().filter(|r| !r.is_empty());
        if let Some(id) = id {
            let (pending, _) = self.pending_and_client(id).await?;
            self.check_browser(&pending, browser)?;
            self.check_csrf(form.csrf.as_deref(), &pending)?;
        }
        if let Some(s) = session {
            let who = self.signed_in(Some(s)).await?;
            if self.store.delete_browser_session(&secrets::hash(s)).await? {
                let mut entry = Entry::new(Event::SignOut, "success");
                if let Some(BrowserSession { user, .. }) = who {
                    entry = entry.user(user.id);
                }
                audit::record(&self.store, entry).await;
            }
        }
        tracing::info!("browser signed out");
        Ok(Outcome::SignedOut {
            to: id.map(continue_url),
        })
    }

    /// `POST /oauth/consent`: allow (remembered per user and client) or deny.
    pub(super) async fn consent(
        &self,
        form: &ConsentForm,
        session: Option<&str>,
        browser: Option<&str>,
    ) -> Result<Outcome, AuthorizeError> {
        let id = form.request.clone().unwrap_or_default();
        let (pending, client) = self.pending_and_client(&id).await?;
        self.check_browser(&pending, browser)?;
        self.check_csrf(form.csrf.as_deref(), &pending)?;
        let Some(BrowserSession { user, .. }) = self.signed_in(session).await? else {
            return Ok(Outcome::Redirect(continue_url(&id)));
        };
        match form.decision.as_deref() {
            Some("allow") => {
                let mut scopes: Vec<String> = self
                    .store
                    .consent(&user.id, &client.id)
                    .await?
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                for s in pending.scope.split_whitespace() {
                    if !scopes.iter().any(|x| x == s) {
                        scopes.push(s.to_string());
                    }
                }
                self.store
                    .save_consent(&user.id, &client.id, &scopes.join(" "), now_ms())
                    .await?;
                audit::record(
                    &self.store,
                    Entry::new(Event::Consent, "allowed")
                        .user(&user.id)
                        .client(&client.id)
                        .detail(format!("scope: {}", pending.scope)),
                )
                .await;
                self.complete(&pending, &user).await
            }
            Some("deny") => {
                self.store.take_pending(&pending.id_hash).await?;
                audit::record(
                    &self.store,
                    Entry::new(Event::Consent, "denied")
                        .user(&user.id)
                        .client(&client.id)
                        .detail(format!("scope: {}", pending.scope)),
                )
                .await;
                Ok(Outcome::Redirect(self.client_redirect(
                    &pending.redirect_uri,
                    &[
                        ("error", "access_denied"),
                        ("error_description", "the user denied access"),
                    ],
                    pending.state.as_deref(),
                )))
            }
            _ => Err(page("Invalid request", "Choose Allow or Deny.")),
        }
    }

    /// Issue the code and send the browser back to the client.
    async fn complete(
        &self,
        pending: &PendingRow,
        user: &UserRow,
    ) -> Result<Outcome, AuthorizeError> {
        if !self.store.take_pending(&pending.id_hash).await? {
            return Err(page(
                "This sign-in request has expired",
                "It was completed already. Go back to the app and connect again.",
            ));
        }
        let code = secrets::random_token();
        let now = now_ms();
        self.store
            .insert_code(&CodeRow {
                code_hash: secrets::hash(&code),
                family_id: secrets::random_token(),
                client_id: pending.client_id.clone(),
                user_id: user.id.clone(),
                redirect_uri: pending.redirect_uri.clone(),
                scope: pending.scope.clone(),
                resource: pending.resource.clone(),
                code_challenge: pending.code_challenge.clone(),
                created_at: now,
                expires_at: now
                    + self
                        .cfg
                        .settings
                        .code_lifetime
                        .min(std::time::Duration::from_secs(60))
                        .as_millis() as i64,
                used_at: None,
            })
            .await?;
        tracing::info!(client = %pending.client_id, user = %user.id, "authorization code issued");
        Ok(Outcome::Redirect(self.client_redirect(
            &pending.redirect_uri,
            &[("code", &code)],
            pending.state.as_deref(),
        )))
    }
}

/// Where a redirect URI sends the browser, for the consent page: `host[:port]`
/// for web callbacks, `scheme://host` for an app's own scheme.
fn redirect_place(uri: &str) -> String {
    let Ok(u) = url::Url::parse(uri) else {
        return String::new();
    };
    let host = u.host_str().unwrap_or_default();
    match (u.scheme(), u.port()) {
        ("https" | "http", Some(p)) => format!("{host}:{p}"),
        ("https" | "http", None) => host.to_string(),
        (scheme, _) => format!("{scheme}://{host}"),
    }
}
