//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
//! the MCP 2026-07-28 authorization spec; MODERN.md M-2 to M-6): a client whose
//! `client_id` is an https URL is not registered; its metadata (name, redirect
//! URIs) is the JSON document at that URL.
//!
//! Resolving one, in order: URL client ids accepted at all (spec), the URL's
//! form (M-2), the spec's `allow` patterns, a document pinned in the spec
//! (used as written, never fetched), this replica's cache, then a fetch:
//! the host resolved once, every address public (RFC 6890; loopback only
//! behind the test switch), the connection pinned to the address checked,
//! https, no redirects, short timeouts, at most `max_bytes`, and a JSON
//! answer (an HTML page, such as a bot challenge, is a failure that says
//! so). The document must name itself (`client_id` equal to the URL, M-3),
//! have a name and redirect URIs that are valid redirect URIs, and carry no
//! shared secret: its clients are public (`none`). A good document is kept
//! as a client row (so tokens, refresh and revocation work as for any
//! client; an operator's revocation sticks) and cached for its
//! `Cache-Control: max-age` within bounds; a failure is never cached (M-5).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::http::addresses::{AddressError, resolve_public};
use crate::http::egress::{Egress, EgressError, EgressLimits};
use crate::store::{ClientRow, Store, StoreError, now_ms};
use gatehouse_specs::documents::{check_document_url, url_matches};

/// `registered` of a client row that came from a metadata document.
pub const FROM_DOCUMENT: i64 = 2;

/// The most documents one replica keeps in memory.
const MAX_CACHED: usize = 1000;

/// Tunables of document fetching.
#[derive(Debug, Clone)]
pub struct DocumentSettings {
    /// Test-only: accept `http://` document URLs on loopback addresses and
    /// fetch from loopback. Never set in production (no environment variable
    /// turns it on).
    pub allow_loopback: bool,
    /// Test-only: certificate authorities trusted besides the public ones when
    /// fetching a document, so that a test can serve documents over https
    /// from loopback (clients such as the TypeScript SDK accept only https
    /// document URLs). Never set in production (no environment variable sets
    /// it).
    pub trusted_roots: Vec<reqwest::Certificate>,
    /// A document is kept at least this long, whatever its headers say…
    pub min_cache: Duration,
    /// …at most this long…
    pub max_cache: Duration,
    /// …and this long when it says nothing.
    pub default_cache: Duration,
    /// Timeouts and the size cap of the fetch (`max_bytes` is the spec's
    /// `client_metadata_documents.max_bytes`).
    pub limits: EgressLimits,
}

impl Default for DocumentSettings {
    fn default() -> Self {
        DocumentSettings {
            allow_loopback: false,
            trusted_roots: Vec::new(),
            min_cache: Duration::from_secs(60),
            max_cache: Duration::from_secs(24 * 3600),
            default_cache: Duration::from_secs(3600),
            limits: EgressLimits {
                connect_timeout: Duration::from_secs(3),
                timeout: Duration::from_secs(5),
                max_body: 0, // the spec's max_bytes
            },
        }
    }
}

/// Why a URL client id cannot be used; each is shown on an error page (the
/// redirect URI is not trusted yet, so never a redirect).
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("This server does not accept apps identified by a URL.")]
    Disabled,
    #[error("The app's identifier is not a valid metadata document URL: {0}.")]
    BadUrl(String),
    #[error("This server does not accept apps whose details are published at {0}.")]
    NotAllowed(String),
    #[error("The app's details could not be fetched: {0}.")]
    Address(#[from] AddressError),
    #[error("The app's details could not be fetched: {0}.")]
    Fetch(#[from] EgressError),
    #[error("{host} answered {status} instead of the app's details.")]
    Status { host: String, status: u16 },
    #[error(
        "{host} answered with {content_type} instead of the app's JSON details (a sign-in or challenge page?). The server's operator can pin this app's document in the spec (client_metadata_documents.pinned)."
    )]
    NotJson { host: String, content_type: String },
    #[error("The app's published details are not valid: {0}.")]
    Invalid(String),
    #[error("This app has been revoked on this server.")]
    Revoked,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a document says, checked.
#[derive(Debug, Clone, PartialEq)]
struct Document {
    name: String,
    redirect_uris: Vec<String>,
    scope: Option<String>,
}

/// Resolves URL client ids.
pub struct ClientDocuments {
    policy: gatehouse_specs::ClientDocuments,
    settings: DocumentSettings,
    egress: Egress,
    store: Store,
    /// Until when each document's row is current, by URL.
    cache: Mutex<HashMap<String, Instant>>,
}

impl ClientDocuments {
    pub fn new(
        policy: gatehouse_specs::ClientDocuments,
        settings: DocumentSettings,
        store: Store,
    ) -> ClientDocuments {
        let egress = Egress::with_roots(settings.limits.clone(), settings.trusted_roots.clone());
        ClientDocuments {
            policy,
            settings,
            egress,
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the server advertises and accepts URL client ids.
    pub fn enabled(&self) -> bool {
        self.policy.enabled
    }

    /// Whether `client_id` names a document rather than a registration.
    pub fn is_document_id(client_id: &str) -> bool {
        client_id.starts_with("https://") || client_id.starts_with("http://")
    }

    /// The client row for a URL client id (fetched, or cached, or pinned).
    pub async fn resolve(&self, client_id: &str) -> Result<ClientRow, DocumentError> {
        // An operator's own client that happens to have a URL id is theirs.
        let stored = match self.store.client(client_id).await? {
            Some(row) if row.registered != FROM_DOCUMENT => return Ok(row),
            other => other,
        };
        if !self.policy.enabled {
            return Err(DocumentError::Disabled);
        }
        let url = check_document_url(client_id, self.settings.allow_loopback)
            .map_err(DocumentError::BadUrl)?;
        let pinned = self.policy.pinned.get(client_id);
        if pinned.is_none()
            && !self.policy.allow.is_empty()
            && !self.policy.allow.iter().any(|p| url_matches(p, client_id))
        {
            return Err(DocumentError::NotAllowed(client_id.to_string()));
        }
        // Fresh in the cache: the stored row is the document's (a revoked
        // client has none, so revocation takes effect at once).
        if let Some(row) = stored
            && self
                .cache
                .lock()
                .expect("documents")
                .get(client_id)
                .is_some_and(|until| *until > Instant::now())
        {
            return Ok(row);
        }
        let (document, keep) = match pinned {
            Some(p) => (
                Document {
                    name: p.client_name.clone(),
                    redirect_uris: p.redirect_uris.clone(),
                    scope: None,
                },
                self.settings.max_cache,
            ),
            None => self.fetch(&url, client_id).await?,
        };
        let row = ClientRow {
            id: client_id.to_string(),
            secret_hash: None,
            name: document.name,
            redirect_uris: serde_json::to_string(&document.redirect_uris)
                .expect("strings serialize"),
            grant_types: r#"["authorization_code","refresh_token"]"#.into(),
            scope: document.scope,
            token_endpoint_auth_method: "none".into(),
            metadata_hash: None,
            registered: FROM_DOCUMENT,
            auto_approve: 0,
            created_at: now_ms(),
            last_used_at: None,
            revoked_at: None,
        };
        self.store.upsert_client(&row).await?;
        // Revocation (`clients revoke`) outlives any refetch.
        let row = self
            .store
            .client(client_id)
            .await?
            .ok_or(DocumentError::Revoked)?;
        let mut cache = self.cache.lock().expect("documents");
        if cache.len() >= MAX_CACHED {
            let now = Instant::now();
            cache.retain(|_, until| *until > now);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(client_id.to_string(), Instant::now() + keep);
        tracing::info!(client = %client_id, "client metadata document accepted");
        Ok(row)
    }

    async fn fetch(
        &self,
        url: &url::Url,
        client_id: &str,
    ) -> Result<(Document, Duration), DocumentError> {
        let host = url.host_str().unwrap_or_default().to_string();
        let port = url.port_or_known_default().unwrap_or(443);
        let addr = resolve_public(&host, port, self.settings.allow_loopback).await?;
        let answer = self
            .egress
            .get_pinned(
                url,
                addr,
                self.policy.max_bytes as usize,
                &[("accept", "application/json")],
            )
            .await?;
        if answer.status != 200 {
            return Err(DocumentError::Status {
                host,
                status: answer.status,
            });
        }
        if !answer.is_json() {
            return Err(DocumentError::NotJson {
                host,
                content_type: answer
                    .content_type
                    .unwrap_or_else(|| "no content type".into()),
            });
        }
        let value: Value = serde_json::from_slice(&answer.body)
            .map_err(|e| DocumentError::Invalid(format!("not JSON: {e}")))?;
        let document = validate(&value, client_id)?;
        Ok((document, self.keep_for(answer.cache_control.as_deref())))
    }

    fn keep_for(&self, cache_control: Option<&str>) -> Duration {
        keep_for(&self.settings, cache_control)
    }
}

/// How long to keep a document: its `max-age` within the bounds.
fn keep_for(s: &DocumentSettings, cache_control: Option<&str>) -> Duration {
    {
        let said = cache_control.and_then(|c| {
            c.split(',').find_map(|d| {
                let d = d.trim().to_ascii_lowercase();
                if d == "no-store" || d == "no-cache" {
                    return Some(Duration::ZERO);
                }
                d.strip_prefix("max-age=")
                    .and_then(|v| v.trim_matches('"').parse::<u64>().ok())
                    .map(Duration::from_secs)
            })
        });
        said.unwrap_or(s.default_cache)
            .clamp(s.min_cache, s.max_cache)
    }
}

/// M-3: what a document must say.
fn validate(value: &Value, client_id: &str) -> Result<Document, DocumentError> {
    let invalid = |m: String| DocumentError::Invalid(m);
    let object = value
        .as_object()
        .ok_or_else(|| invalid("it is not a JSON object".into()))?;
    let text = |k: &str| object.get(k).and_then(Value::as_str);
    match text("client_id") {
        Some(id) if id == client_id => {}
        Some(other) => {
            return Err(invalid(format!(
                "its client_id is `{other}`, not the URL it was fetched from"
            )));
        }
        None => return Err(invalid("it has no client_id".into())),
    }
    let name = text("client_name")
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.chars().count() <= 200)
        .ok_or_else(|| invalid("it has no client_name (of at most 200 characters)".into()))?;
    if object.contains_key("client_secret") || object.contains_key("client_secret_expires_at") {
        return Err(invalid(
            "it carries a client secret, which a public document must not".into(),
        ));
    }
    match text("token_endpoint_auth_method") {
        None | Some("none") => {}
        Some("private_key_jwt") => {
            return Err(invalid(
                "it asks for private_key_jwt client authentication, which this server does not support yet".into(),
            ));
        }
        Some(other) => {
            return Err(invalid(format!(
                "token_endpoint_auth_method `{other}` relies on a shared secret; only `none` is accepted"
            )));
        }
    }
    let listed = |k: &str, needed: &str| match object.get(k) {
        None => Ok(()),
        Some(Value::Array(items)) if items.iter().any(|v| v == needed) => Ok(()),
        Some(_) => Err(invalid(format!("its {k} do not include `{needed}`"))),
    };
    listed("grant_types", "authorization_code")?;
    listed("response_types", "code")?;
    let uris = object
        .get("redirect_uris")
        .and_then(Value::as_array)
        .filter(|u| !u.is_empty() && u.len() <= 20)
        .ok_or_else(|| invalid("it has no redirect_uris (1 to 20)".into()))?;
    let mut redirect_uris = Vec::new();
    for u in uris {
        let u = u
            .as_str()
            .ok_or_else(|| invalid("a redirect URI is not a string".into()))?;
        gatehouse_specs::redirect::check_redirect_uri(u).map_err(invalid)?;
        redirect_uris.push(u.to_string());
    }
    let scope = text("scope").map(str::to_string);
    Ok(Document {
        name: name.to_string(),
        redirect_uris,
        scope,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ID: &str = "https://app.example/oauth/client.json";

    fn doc(extra: Value) -> Value {
        let mut d = json!({ "client_id": ID, "client_name": "App",
            "redirect_uris": ["https://app.example/callback"] });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                d.as_object_mut().unwrap().remove(k);
            } else {
                d[k] = v.clone();
            }
        }
        d
    }

    fn refused(d: Value) -> String {
        match validate(&d, ID) {
            Err(e) => e.to_string(),
            Ok(doc) => panic!("accepted {doc:?}"),
        }
    }

    #[test]
    fn documents_are_checked() {
        let ok = validate(&doc(json!({})), ID).unwrap();
        assert_eq!(ok.name, "App");
        assert!(validate(&doc(json!({ "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"] })), ID).is_ok());
        assert!(
            refused(doc(json!({ "client_id": "https://evil.example/x" }))).contains("not the URL")
        );
        assert!(refused(doc(json!({ "client_id": null }))).contains("no client_id"));
        assert!(refused(doc(json!({ "client_name": null }))).contains("client_name"));
        assert!(refused(doc(json!({ "client_name": "  " }))).contains("client_name"));
        assert!(refused(doc(json!({ "client_secret": "s" }))).contains("secret"));
        assert!(
            refused(doc(
                json!({ "token_endpoint_auth_method": "client_secret_basic" })
            ))
            .contains("shared secret")
        );
        assert!(
            refused(doc(
                json!({ "token_endpoint_auth_method": "private_key_jwt" })
            ))
            .contains("private_key_jwt")
        );
        assert!(
            refused(doc(json!({ "grant_types": ["client_credentials"] })))
                .contains("authorization_code")
        );
        assert!(refused(doc(json!({ "redirect_uris": [] }))).contains("redirect_uris"));
        assert!(
            refused(doc(json!({ "redirect_uris": ["javascript:alert(1)"] })))
                .contains("javascript")
        );
        assert!(refused(json!([ID])).contains("not a JSON object"));
    }

    #[test]
    fn cache_lifetimes_stay_within_bounds() {
        let s = DocumentSettings::default();
        assert_eq!(
            keep_for(&s, Some("public, max-age=600")),
            Duration::from_secs(600)
        );
        assert_eq!(keep_for(&s, Some("max-age=5")), Duration::from_secs(60));
        assert_eq!(
            keep_for(&s, Some("max-age=99999999")),
            Duration::from_secs(24 * 3600)
        );
        assert_eq!(keep_for(&s, Some("no-store")), Duration::from_secs(60));
        assert_eq!(keep_for(&s, None), Duration::from_secs(3600));
    }
}
