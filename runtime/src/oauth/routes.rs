//! HTTP for the authorization server. Two routers: the API (discovery, register,
//! token, revoke, introspect), which browser clients may call from any origin
//! (CORS `*`, no cookies involved), and the browser pages (authorize, continue,
//! sign-in, consent, and the round trip to sign-in providers), which get no
//! CORS at all.

use crate::audit::{self, Entry, Event};
use std::sync::Arc;

use salvo::cors::{AllowHeaders, AllowOrigin, Cors};
use salvo::http::cookie::{Cookie, SameSite};
use salvo::http::header::{self, HeaderName, HeaderValue};
use salvo::http::{Method, StatusCode};
use salvo::prelude::*;
use serde_json::Value;

use super::OAuth;
use super::authorize::{Outcome, query};
use super::client_auth::form;
use super::error::OAuthError;
use super::forms::{AuthorizeQuery, CallbackQuery, ConsentForm, PageQuery, SignInForm};
use super::metadata;
use crate::http::client_addr::client_addr;
use crate::http::guard::OriginRules;
use crate::http::rate_limit::retry_after_secs;

/// Largest body the OAuth endpoints read.
const MAX_BODY: usize = 64 * 1024;
/// Largest registration body (real ones are well under 2 KB).
const MAX_REGISTRATION_BODY: usize = 16 * 1024;

/// Puts the authorization server into the depot for the handlers below.
struct Inject(Arc<OAuth>);

#[salvo::async_trait]
impl Handler for Inject {
    async fn handle(
        &self,
        req: &mut Request,
        depot: &mut Depot,
        res: &mut Response,
        ctrl: &mut FlowCtrl,
    ) {
        depot.insert_typed(self.0.clone());
        ctrl.call_next(req, depot, res).await;
    }
}

fn oauth(depot: &Depot) -> Arc<OAuth> {
    depot
        .get_typed::<Arc<OAuth>>()
        .expect("the OAuth routes inject the server")
        .clone()
}

/// Answers CORS preflights (the CORS layer adds the headers).
struct Preflight;

#[salvo::async_trait]
impl Handler for Preflight {
    async fn handle(
        &self,
        _req: &mut Request,
        _depot: &mut Depot,
        res: &mut Response,
        _ctrl: &mut FlowCtrl,
    ) {
        res.status_code(StatusCode::NO_CONTENT);
    }
}

/// The authorization server's routes; `guard` (the origin rules) protects the
/// browser pages.
pub fn router(o: Arc<OAuth>, guard: OriginRules) -> Router {
    let cors = Cors::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods(vec![Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers(AllowHeaders::list([
            HeaderName::from_static("authorization"),
            HeaderName::from_static("content-type"),
            HeaderName::from_static("mcp-protocol-version"),
        ]))
        .max_age(86400)
        .into_handler();
    let api = Router::new()
        .hoop(cors)
        .hoop(Inject(o.clone()))
        .push(
            Router::with_path(".well-known/oauth-authorization-server")
                .get(as_metadata)
                .options(Preflight),
        )
        .push(
            Router::with_path(".well-known/oauth-authorization-server/{**rest}")
                .get(as_metadata)
                .options(Preflight),
        )
        .push(
            Router::with_path(".well-known/oauth-protected-resource")
                .get(pr_metadata)
                .options(Preflight),
        )
        .push(
            Router::with_path(".well-known/oauth-protected-resource/{**rest}")
                .get(pr_metadata)
                .options(Preflight),
        )
        .push(
            Router::with_path(".well-known/jwks.json")
                .get(jwks)
                .options(Preflight),
        )
        .push(
            Router::with_path("oauth/register")
                .post(register)
                .options(Preflight),
        )
        .push(
            Router::with_path("register")
                .post(register)
                .options(Preflight),
        )
        .push(
            Router::with_path("oauth/token")
                .post(token)
                .options(Preflight),
        )
        .push(Router::with_path("token").post(token).options(Preflight))
        .push(
            Router::with_path("oauth/revoke")
                .post(revoke)
                .options(Preflight),
        )
        .push(
            Router::with_path("oauth/introspect")
                .post(introspect)
                .options(Preflight),
        );
    let pages = Router::new()
        .hoop(guard)
        .hoop(Inject(o))
        .push(Router::with_path("oauth/authorize").get(authorize))
        .push(Router::with_path("authorize").get(authorize))
        .push(Router::with_path("oauth/continue").get(resume))
        .push(Router::with_path("oauth/upstream/{provider}").get(upstream_start))
        .push(Router::with_path("oauth/callback/{provider}").get(upstream_callback))
        .push(Router::with_path("oauth/sign-in").post(sign_in))
        .push(Router::with_path("oauth/consent").post(consent))
        .push(Router::with_path("oauth/sign-out").post(sign_out));
    Router::new().push(api).push(pages)
}

fn json(res: &mut Response, status: StatusCode, body: &Value) {
    res.status_code(status);
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let _ = res.write_body(body.to_string());
}

/// Token-endpoint style answers: never cached (RFC 6749 5.1).
fn no_store(res: &mut Response) {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn oauth_error(req: &Request, res: &mut Response, e: &OAuthError) {
    if let OAuthError::Unavailable(inner) = e {
        tracing::error!(error = %inner, "store unavailable at the authorization server");
    }
    no_store(res);
    match e {
        OAuthError::RateLimited(secs) => {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*secs));
        }
        OAuthError::Unavailable(_) | OAuthError::TemporarilyUnavailable(_) => {
            res.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(crate::store::OUTAGE_RETRY_AFTER),
            );
        }
        _ => {}
    }
    // RFC 6749 5.2: a client that tried Basic authentication is told how to retry.
    if matches!(e, OAuthError::InvalidClient(_))
        && req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("basic "))
    {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"oauth\""),
        );
    }
    json(res, e.status(), &e.body());
}

async fn body(req: &mut Request) -> Result<Vec<u8>, OAuthError> {
    body_up_to(req, MAX_BODY).await
}

async fn body_up_to(req: &mut Request, max: usize) -> Result<Vec<u8>, OAuthError> {
    match req.payload_with_max_size(max).await {
        Ok(b) => Ok(b.to_vec()),
        Err(_) => Err(OAuthError::InvalidRequest(format!(
            "the body is unreadable or larger than {max} bytes"
        ))),
    }
}

/// A form body, as the token, revocation and introspection endpoints require.
async fn form_body<T: serde::de::DeserializeOwned>(req: &mut Request) -> Result<T, OAuthError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(OAuthError::InvalidRequest(
            "the body must be application/x-www-form-urlencoded".into(),
        ));
    }
    form(&body(req).await?)
}

/// Answer an API call: the JSON (or an empty body) with `status`, or the error;
/// never cached (RFC 6749 5.1).
fn answer(
    req: &Request,
    res: &mut Response,
    status: StatusCode,
    result: Result<Option<Value>, OAuthError>,
) {
    match result {
        Ok(body) => {
            no_store(res);
            match body {
                Some(b) => json(res, status, &b),
                None => {
                    res.status_code(status);
                }
            }
        }
        Err(e) => oauth_error(req, res, &e),
    }
}

#[handler]
async fn as_metadata(depot: &mut Depot, res: &mut Response) {
    json(
        res,
        StatusCode::OK,
        &metadata::authorization_server(&oauth(depot)),
    );
}

#[handler]
async fn pr_metadata(depot: &mut Depot, res: &mut Response) {
    json(
        res,
        StatusCode::OK,
        &metadata::protected_resource(&oauth(depot)),
    );
}

#[handler]
async fn jwks(depot: &mut Depot, res: &mut Response) {
    json(res, StatusCode::OK, &oauth(depot).keys.jwks());
}

#[handler]
async fn register(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    let o = oauth(depot);
    let result = if !o.cfg.registration_enabled {
        Err(OAuthError::InvalidRequest(
            "dynamic client registration is disabled on this server".into(),
        ))
    } else if let Err(wait) = o.guards.registration(client_addr(depot)) {
        Err(OAuthError::RateLimited(retry_after_secs(wait)))
    } else {
        match body_up_to(req, MAX_REGISTRATION_BODY).await {
            Ok(b) => o.register(&b).await.map(Some),
            Err(e) => Err(e),
        }
    };
    let entry = match &result {
        Ok(Some(body)) => Entry::new(Event::Registration, "success")
            .client(body["client_id"].as_str().unwrap_or_default())
            .detail(format!(
                "{:?}",
                body["client_name"].as_str().unwrap_or_default()
            )),
        Ok(None) => Entry::new(Event::Registration, "success"),
        Err(e) => Entry::new(Event::Registration, "refused").detail(format!("{}: {e}", e.code())),
    };
    audit::record(&o.store, entry).await;
    answer(req, res, StatusCode::CREATED, result);
}

#[handler]
async fn token(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    let o = oauth(depot);
    let result = match form_body(req).await {
        Ok(f) => o.token(req.headers(), &f).await.map(Some),
        Err(e) => Err(e),
    };
    answer(req, res, StatusCode::OK, result);
}

#[handler]
async fn revoke(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    let o = oauth(depot);
    let result = match form_body(req).await {
        Ok(f) => o.revoke(req.headers(), &f).await.map(|()| None),
        Err(e) => Err(e),
    };
    answer(req, res, StatusCode::OK, result);
}

#[handler]
async fn introspect(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    let o = oauth(depot);
    let result = match form_body(req).await {
        Ok(f) => o.introspect(req.headers(), &f).await.map(Some),
        Err(e) => Err(e),
    };
    answer(req, res, StatusCode::OK, result);
}

fn session_cookie(req: &Request, o: &OAuth) -> Option<String> {
    req.cookie(o.cfg.session_cookie())
        .map(|c| c.value().to_string())
}

/// This browser's pre-authentication cookie (`oauth/browser.rs`), which binds
/// pending requests and login transactions to it (U-1).
fn browser_cookie(req: &Request, o: &OAuth) -> Option<String> {
    req.cookie(o.browser_cookie())
        .map(|c| c.value().to_string())
}

/// Set one of the flow's cookies (the browser session, the pre-authentication
/// cookie): HttpOnly, `Secure` on https, for the whole site, living `max_age`
/// (zero clears it). SameSite=Lax: the authorization request and a provider's
/// redirect back are top-level navigations from other sites, which Lax lets
/// the cookies join; a cross-site form post does not get them.
fn set_cookie(
    o: &OAuth,
    res: &mut Response,
    name: &'static str,
    value: String,
    max_age: std::time::Duration,
) {
    let cookie = Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(o.cfg.secure_cookies)
        .path("/")
        .max_age(salvo::http::cookie::time::Duration::seconds(
            max_age.as_secs() as i64,
        ))
        .build();
    res.add_cookie(cookie);
}

/// Set the pre-authentication cookie (`oauth/browser.rs`).
fn set_browser_cookie(o: &OAuth, res: &mut Response, value: String) {
    set_cookie(
        o,
        res,
        o.browser_cookie(),
        value,
        o.cfg.settings.pending_lifetime,
    );
}

/// A form post from a page of another site (login CSRF): refused before the
/// form is read.
fn foreign_post(o: &OAuth, req: &Request) -> Option<Outcome> {
    if o.posted_by_our_pages(req.headers()) {
        return None;
    }
    tracing::warn!(origin = ?req.headers().get("origin"), "form post from another site refused");
    Some(o.authorize_failure(super::error::AuthorizeError::Page {
        status: StatusCode::FORBIDDEN,
        title: "This form came from another site".into(),
        message: "Sign-in forms are only accepted from this server's own pages. Go back to the app and connect again.".into(),
    }))
}

fn respond(o: &OAuth, res: &mut Response, outcome: Outcome) {
    match outcome {
        Outcome::Redirect(to) => redirect(res, &to),
        Outcome::SignedIn { session, to } => {
            let lifetime = o.cfg.settings.browser_session_lifetime;
            set_cookie(o, res, o.cfg.session_cookie(), session, lifetime);
            redirect(res, &to);
        }
        Outcome::SignedOut { to } => {
            set_cookie(
                o,
                res,
                o.cfg.session_cookie(),
                String::new(),
                std::time::Duration::ZERO,
            );
            match to {
                Some(to) => redirect(res, &to),
                None => o.pages.render(
                    res,
                    StatusCode::OK,
                    "error.html",
                    serde_json::json!({
                        "server_title": o.cfg.server_title,
                        "title": "You are signed out",
                        "message": "To connect an app again, start from the app.",
                    }),
                ),
            }
        }
        Outcome::Upstream { cookie, to } => {
            if let Some(value) = cookie {
                set_browser_cookie(o, res, value);
            }
            redirect(res, &to);
        }
        Outcome::Page {
            status,
            template,
            ctx,
        } => {
            if let Some(secs) = ctx.get("retry_after").and_then(Value::as_u64) {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            o.pages.render(res, status, template, ctx)
        }
    }
}

fn redirect(res: &mut Response, to: &str) {
    res.status_code(StatusCode::SEE_OTHER);
    super::pages::secure_headers(res);
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
}

#[handler]
async fn authorize(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    let o = oauth(depot);
    let session = session_cookie(req, &o);
    // The browser keeps its pre-authentication cookie (renewed), or gets one.
    let browser = browser_cookie(req, &o)
        .filter(|b| super::browser::plausible(b))
        .unwrap_or_else(super::secrets::random_token);
    let addr = client_addr(depot);
    let outcome = match query::<AuthorizeQuery>(req.uri().query().unwrap_or("")) {
        Ok(q) => match o.authorize(&q, addr, &browser).await {
            Ok(id) => {
                set_browser_cookie(&o, res, browser.clone());
                o.after_authorize(&id, session.as_deref(), Some(&browser))
                    .await
                    .unwrap_or_else(|e| o.authorize_failure(e))
            }
            Err(e) => o.authorize_failure(e),
        },
        Err(e) => o.authorize_failure(e),
    };
    respond(&o, res, outcome);
}

#[handler]
async fn resume(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    let o = oauth(depot);
    let (session, browser) = (session_cookie(req, &o), browser_cookie(req, &o));
    let outcome = match query::<PageQuery>(req.uri().query().unwrap_or("")) {
        Ok(q) => {
            let id = q.request.unwrap_or_default();
            let sign_up = q.mode.as_deref() == Some("sign_up");
            o.resume(&id, session.as_deref(), sign_up, browser.as_deref())
                .await
                .unwrap_or_else(|e| o.authorize_failure(e))
        }
        Err(e) => o.authorize_failure(e),
    };
    respond(&o, res, outcome);
}

/// `GET /oauth/upstream/{provider}?request=…`: off to a sign-in provider.
#[handler]
async fn upstream_start(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    let o = oauth(depot);
    let provider = req.param::<String>("provider").unwrap_or_default();
    let browser = browser_cookie(req, &o);
    let outcome = match query::<PageQuery>(req.uri().query().unwrap_or("")) {
        Ok(q) => {
            let id = q.request.unwrap_or_default();
            o.upstream_start(&provider, &id, browser.as_deref())
                .await
                .unwrap_or_else(|e| o.authorize_failure(e))
        }
        Err(e) => o.authorize_failure(e),
    };
    respond(&o, res, outcome);
}

/// `GET /oauth/callback/{provider}`: back from a sign-in provider.
#[handler]
async fn upstream_callback(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    let o = oauth(depot);
    let provider = req.param::<String>("provider").unwrap_or_default();
    let browser = browser_cookie(req, &o);
    let outcome = match query::<CallbackQuery>(req.uri().query().unwrap_or("")) {
        Ok(q) => o
            .upstream_callback(&provider, &q, browser.as_deref())
            .await
            .unwrap_or_else(|e| o.authorize_failure(e)),
        Err(e) => o.authorize_failure(e),
    };
    respond(&o, res, outcome);
}

/// The form of a page's POST: refused when it comes from another site (login
/// CSRF) or cannot be read.
async fn posted_form<T: serde::de::DeserializeOwned>(
    o: &OAuth,
    req: &mut Request,
) -> Result<T, Outcome> {
    if let Some(refused) = foreign_post(o, req) {
        return Err(refused);
    }
    let read = match req.payload_with_max_size(MAX_BODY).await {
        Ok(b) => form(b).ok(),
        Err(_) => None,
    };
    read.ok_or_else(|| {
        o.authorize_failure(super::error::AuthorizeError::page(
            "Invalid request",
            "The form could not be read.",
        ))
    })
}

#[handler]
async fn sign_in(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    let o = oauth(depot);
    let addr = client_addr(depot);
    // A flood from one address is refused before its body is read or any
    // page is rendered: the refusal costs less than an MCP call.
    if let Err(wait) = o.guards.sign_in_attempt(addr) {
        if o.guards.note_limited(addr) {
            tracing::warn!(%addr, "sign-in attempts from this address limited");
            audit::record(
                &o.store,
                Entry::new(Event::SignIn, "limited")
                    .detail("too many attempts from this address (recorded once a minute)"),
            )
            .await;
        }
        let secs = retry_after_secs(wait);
        res.status_code(StatusCode::TOO_MANY_REQUESTS);
        super::pages::secure_headers(res);
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        let _ = res.write_body(format!(
            "<!doctype html><meta charset=\"utf-8\"><title>Too many attempts</title>\
             <p>Too many attempts from your network. Try again in {secs} seconds.</p>"
        ));
        return;
    }
    let browser = browser_cookie(req, &o);
    let outcome = match posted_form::<SignInForm>(&o, req).await {
        Ok(f) => o
            .sign_in(&f, addr, browser.as_deref())
            .await
            .unwrap_or_else(|e| o.authorize_failure(e)),
        Err(refused) => refused,
    };
    respond(&o, res, outcome);
}

#[handler]
async fn sign_out(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    let o = oauth(depot);
    let (session, browser) = (session_cookie(req, &o), browser_cookie(req, &o));
    let outcome = match posted_form::<ConsentForm>(&o, req).await {
        Ok(f) => o
            .sign_out(&f, session.as_deref(), browser.as_deref())
            .await
            .unwrap_or_else(|e| o.authorize_failure(e)),
        Err(refused) => refused,
    };
    respond(&o, res, outcome);
}

#[handler]
async fn consent(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    let o = oauth(depot);
    let (session, browser) = (session_cookie(req, &o), browser_cookie(req, &o));
    let outcome = match posted_form::<ConsentForm>(&o, req).await {
        Ok(f) => o
            .consent(&f, session.as_deref(), browser.as_deref())
            .await
            .unwrap_or_else(|e| o.authorize_failure(e)),
        Err(refused) => refused,
    };
    respond(&o, res, outcome);
}
