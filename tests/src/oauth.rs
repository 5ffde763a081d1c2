//! The OAuth flow the way a client and a browser perform it, over plain HTTP:
//! registration, the authorization request, the sign-in and consent forms (with
//! their CSRF tokens and the session cookie), the redirect back, the token
//! endpoint. No redirects are followed automatically, so tests see each step.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const REDIRECT: &str = "http://127.0.0.1:9999/callback";
pub const CLAUDE_REDIRECT: &str = "https://claude.ai/api/mcp/auth_callback";
pub const PASSWORD: &str = "correct horse battery staple";

/// An HTTP client for the authorization server (and the MCP endpoint), and a
/// browser for its pages: `get` and `post_form` keep the pre-authentication
/// cookie the server sets (clones share it: the same browser).
#[derive(Clone)]
pub struct Flow {
    pub http: reqwest::Client,
    /// `http://127.0.0.1:port`
    pub base: String,
    /// `http://127.0.0.1:port/mcp`
    pub resource: String,
    browser: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

#[derive(Debug, Clone)]
pub struct Registered {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub redirect_uri: String,
    pub body: Value,
}

/// A PKCE pair (RFC 7636).
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Pkce {
        let verifier = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Pkce::new()
    }
}

/// A page of the browser flow, read whole.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub html: String,
}

impl Page {
    pub fn location(&self) -> Option<String> {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The value of a hidden form field.
    pub fn field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.html.find(&marker)? + marker.len();
        let end = self.html[start..].find('"')? + start;
        Some(self.html[start..end].replace("&amp;", "&"))
    }

    /// The session cookie a response set (`name=value`).
    pub fn cookie(&self) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.contains("gatehouse_session="))
            .and_then(|c| c.split(';').next())
            .map(str::to_string)
    }
}

async fn page(r: Response) -> Page {
    Page {
        status: r.status(),
        headers: r.headers().clone(),
        html: r.text().await.unwrap_or_default(),
    }
}

/// The query parameters of a URL.
pub fn params(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

impl Flow {
    pub fn new(mcp_url: &str) -> Flow {
        Flow {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
            base: mcp_url.trim_end_matches("/mcp").to_string(),
            resource: mcp_url.to_string(),
            browser: Default::default(),
        }
    }

    /// The same server seen from another browser (no cookies).
    pub fn other_browser(&self) -> Flow {
        Flow {
            browser: Default::default(),
            ..self.clone()
        }
    }

    /// The `Cookie` header this browser sends with `extra` (`name=value`).
    pub fn cookies(&self, extra: Option<&str>) -> Option<String> {
        let browser = self.browser.lock().unwrap().clone();
        match (browser, extra) {
            (Some(b), Some(e)) => Some(format!("{b}; {e}")),
            (b, e) => b.or(e.map(str::to_string)),
        }
    }

    /// Keep the pre-authentication cookie a response set.
    pub fn remember(&self, headers: &reqwest::header::HeaderMap) {
        let set = headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.contains("gatehouse_browser="))
            .and_then(|c| c.split(';').next())
            .map(str::to_string);
        if let Some(c) = set {
            *self.browser.lock().unwrap() = Some(c);
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let r = self.http.get(self.url(path)).send().await.expect("GET");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// `POST /oauth/register`.
    pub async fn register(&self, metadata: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url("/oauth/register"))
            .json(&metadata)
            .send()
            .await
            .expect("register");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Register a public client (like Claude, the SDKs, the Inspector do).
    pub async fn register_public(&self, redirect_uri: &str) -> Registered {
        let (status, body) = self
            .register(json!({
                "client_name": "Test client",
                "redirect_uris": [redirect_uri],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "registration: {body}");
        Registered {
            client_id: body["client_id"].as_str().unwrap().to_string(),
            client_secret: None,
            redirect_uri: redirect_uri.to_string(),
            body,
        }
    }

    /// The authorization URL a client sends the browser to.
    pub fn authorize_url(
        &self,
        client: &Registered,
        pkce: &Pkce,
        state: &str,
        scope: Option<&str>,
    ) -> String {
        let mut url = url::Url::parse(&self.url("/oauth/authorize")).unwrap();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &client.client_id)
                .append_pair("redirect_uri", &client.redirect_uri)
                .append_pair("code_challenge", &pkce.challenge)
                .append_pair("code_challenge_method", "S256")
                .append_pair("state", state)
                .append_pair("resource", &self.resource);
            if let Some(s) = scope {
                q.append_pair("scope", s);
            }
        }
        url.to_string()
    }

    /// GET a URL of the flow (relative to the server, or absolute), with a cookie.
    pub async fn get(&self, url: &str, cookie: Option<&str>) -> Page {
        let url = if url.starts_with('/') {
            self.url(url)
        } else {
            url.to_string()
        };
        let mut req = self.http.get(url);
        if let Some(c) = self.cookies(cookie) {
            req = req.header("cookie", c);
        }
        let r = req.send().await.expect("GET");
        self.remember(r.headers());
        page(r).await
    }

    /// POST a form of the flow.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)], cookie: Option<&str>) -> Page {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some(c) = self.cookies(cookie) {
            req = req.header("cookie", c);
        }
        let r = req.send().await.expect("POST");
        self.remember(r.headers());
        page(r).await
    }

    /// The browser part: follow the authorization request to the sign-in page,
    /// sign up (or in), consent, and return the redirect back to the client and
    /// the session cookie.
    pub async fn browser(
        &self,
        authorize_url: &str,
        email: &str,
        sign_up: bool,
    ) -> (String, String) {
        let start = self.get(authorize_url, None).await;
        assert_eq!(
            start.status,
            StatusCode::SEE_OTHER,
            "authorize: {}",
            start.html
        );
        let continue_url = start.location().expect("a redirect to the sign-in flow");
        let form_url = if sign_up {
            format!("{continue_url}&mode=sign_up")
        } else {
            continue_url.clone()
        };
        let sign_in = self.get(&form_url, None).await;
        assert_eq!(
            sign_in.status,
            StatusCode::OK,
            "sign-in page: {}",
            sign_in.html
        );
        let request = sign_in.field("request").expect("the request id");
        let csrf = sign_in.field("csrf").expect("a CSRF token");
        let action = if sign_up { "sign_up" } else { "sign_in" };
        let signed = self
            .post_form(
                "/oauth/sign-in",
                &[
                    ("request", &request),
                    ("csrf", &csrf),
                    ("action", action),
                    ("email", email),
                    ("password", PASSWORD),
                ],
                None,
            )
            .await;
        assert_eq!(
            signed.status,
            StatusCode::SEE_OTHER,
            "sign-in: {}",
            signed.html
        );
        let cookie = signed.cookie().expect("a session cookie");
        let next = self.get(&signed.location().unwrap(), Some(&cookie)).await;
        let back = if next.status == StatusCode::OK {
            let csrf = next.field("csrf").expect("the consent form's CSRF token");
            let consented = self
                .post_form(
                    "/oauth/consent",
                    &[
                        ("request", &request),
                        ("csrf", &csrf),
                        ("decision", "allow"),
                    ],
                    Some(&cookie),
                )
                .await;
            assert_eq!(
                consented.status,
                StatusCode::SEE_OTHER,
                "consent: {}",
                consented.html
            );
            consented.location().unwrap()
        } else {
            assert_eq!(next.status, StatusCode::SEE_OTHER);
            next.location().unwrap()
        };
        (back, cookie)
    }

    /// `POST /oauth/token`.
    pub async fn token(
        &self,
        form: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let r = self
            .http
            .post(self.url("/oauth/token"))
            .form(form)
            .send()
            .await
            .expect("token");
        let status = r.status();
        let headers = r.headers().clone();
        (status, headers, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn exchange(
        &self,
        client: &Registered,
        code: &str,
        pkce: &Pkce,
    ) -> (StatusCode, Value) {
        let (status, _, body) = self
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("code_verifier", &pkce.verifier),
                ("redirect_uri", &client.redirect_uri),
                ("client_id", &client.client_id),
                ("resource", &self.resource),
            ])
            .await;
        (status, body)
    }

    pub async fn refresh(&self, client: &Registered, refresh_token: &str) -> (StatusCode, Value) {
        let (status, _, body) = self
            .token(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", &client.client_id),
                ("resource", &self.resource),
            ])
            .await;
        (status, body)
    }

    /// Everything at once: register, sign up as `email`, consent, exchange. The
    /// token response.
    pub async fn sign_up(&self, email: &str, scope: Option<&str>) -> (Registered, Value) {
        let client = self.register_public(REDIRECT).await;
        let pkce = Pkce::new();
        let url = self.authorize_url(&client, &pkce, "xyz", scope);
        let (back, _) = self.browser(&url, email, true).await;
        let code = params(&back)
            .remove("code")
            .expect("a code in the redirect");
        let (status, tokens) = self.exchange(&client, &code, &pkce).await;
        assert_eq!(status, StatusCode::OK, "token: {tokens}");
        (client, tokens)
    }
}
