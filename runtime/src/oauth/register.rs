//! Dynamic client registration (RFC 7591) at `/oauth/register`. Redirect URIs must
//! be https or loopback, without fragments, and match the spec's allowlist;
//! grant and response types must make sense together; the authentication method
//! must be one the token endpoint supports. Registering the same metadata again
//! as a public client returns the same client (idempotent); unused registrations
//! expire (see `OAuth::sweep`).

use serde_json::{Map, Value, json};

use super::OAuth;
use super::error::OAuthError;
use super::secrets;
use crate::store::{ClientRow, now_ms};
use gatehouse_specs::UnknownScopes;
use gatehouse_specs::redirect::{check_redirect_uri, shown};

const AUTH_METHODS: [&str; 3] = ["none", "client_secret_basic", "client_secret_post"];
/// The most redirect URIs one registration may list (VS Code sends four).
const MAX_REDIRECT_URIS: usize = 10;

/// Characters that reorder text when displayed (Trojan Source, CVE-2021-42574).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}
const GRANT_TYPES: [&str; 2] = ["authorization_code", "refresh_token"];

fn strings(meta: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, OAuthError> {
    match meta.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    OAuthError::InvalidClientMetadata(format!(
                        "`{key}` must be an array of strings"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(OAuthError::InvalidClientMetadata(format!(
            "`{key}` must be an array of strings"
        ))),
    }
}

fn string(meta: &Map<String, Value>, key: &str) -> Result<Option<String>, OAuthError> {
    match meta.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(OAuthError::InvalidClientMetadata(format!(
            "`{key}` must be a string"
        ))),
    }
}

impl OAuth {
    /// Register a client; the JSON of the 201 response.
    pub(super) async fn register(&self, body: &[u8]) -> Result<Value, OAuthError> {
        let meta: Map<String, Value> = match serde_json::from_slice(body) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(OAuthError::InvalidClientMetadata(
                    "the body must be a JSON object of client metadata".into(),
                ));
            }
        };
        let redirect_uris = strings(&meta, "redirect_uris")?
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                OAuthError::InvalidRedirectUri("`redirect_uris` must list at least one URI".into())
            })?;
        // Bounded (issue 12): anyone may register, so what is kept is small.
        if redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(OAuthError::InvalidClientMetadata(format!(
                "`redirect_uris` lists more than {MAX_REDIRECT_URIS} URIs"
            )));
        }
        for uri in &redirect_uris {
            let parsed = check_redirect_uri(uri)
                .map_err(|e| OAuthError::InvalidRedirectUri(format!("redirect URI {e}")))?;
            if !self
                .cfg
                .redirect_patterns
                .iter()
                .any(|p| p.matches(uri, &parsed))
            {
                return Err(OAuthError::InvalidRedirectUri(format!(
                    "`{}` is not an allowed redirect URI for this server",
                    shown(uri)
                )));
            }
        }
        let auth_method = string(&meta, "token_endpoint_auth_method")?
            .unwrap_or_else(|| "client_secret_basic".into());
        if !AUTH_METHODS.contains(&auth_method.as_str()) {
            return Err(OAuthError::InvalidClientMetadata(format!(
                "token_endpoint_auth_method `{auth_method}` is not supported (none, client_secret_basic, client_secret_post)"
            )));
        }
        // The refresh grant is advertised (metadata `grant_types_supported`),
        // so every client gets it, asked for or not: clients such as ChatGPT
        // give up when the registration answer lacks it.
        let mut grant_types =
            strings(&meta, "grant_types")?.unwrap_or_else(|| vec!["authorization_code".into()]);
        if let Some(g) = grant_types
            .iter()
            .find(|g| !GRANT_TYPES.contains(&g.as_str()))
        {
            return Err(OAuthError::InvalidClientMetadata(format!(
                "grant type `{g}` is not supported"
            )));
        }
        if !grant_types.iter().any(|g| g == "authorization_code") {
            return Err(OAuthError::InvalidClientMetadata(
                "grant_types must include authorization_code".into(),
            ));
        }
        if !grant_types.iter().any(|g| g == "refresh_token") {
            grant_types.push("refresh_token".into());
        }
        let response_types =
            strings(&meta, "response_types")?.unwrap_or_else(|| vec!["code".into()]);
        if response_types != ["code"] {
            return Err(OAuthError::InvalidClientMetadata(
                "response_types must be [\"code\"] (the authorization code flow)".into(),
            ));
        }
        let name = string(&meta, "client_name")?.unwrap_or_default();
        if name.chars().count() > 200 {
            return Err(OAuthError::InvalidClientMetadata(
                "`client_name` is longer than 200 characters".into(),
            ));
        }
        // Shown on pages and written to logs: no line breaks, no control or
        // bidirectional-override characters that would disguise it.
        if name.chars().any(|c| c.is_control() || is_bidi_control(c)) {
            return Err(OAuthError::InvalidClientMetadata(
                "`client_name` contains control or bidirectional-override characters".into(),
            ));
        }
        let requested = string(&meta, "scope")?.unwrap_or_default();
        if requested.chars().count() > 1000 {
            return Err(OAuthError::InvalidClientMetadata(
                "`scope` is longer than 1000 characters".into(),
            ));
        }
        if self.cfg.unknown_scopes == UnknownScopes::Reject
            && let Some(unknown) = requested
                .split_whitespace()
                .find(|x| !self.cfg.scopes.contains_key(*x))
        {
            return Err(OAuthError::InvalidClientMetadata(format!(
                "scope `{unknown}` is not offered here"
            )));
        }
        // Scopes the server does not define (`openid`, `offline_access`, …) are
        // left out; none left means every declared scope.
        let known: Vec<&str> = requested
            .split_whitespace()
            .filter(|x| self.cfg.scopes.contains_key(*x))
            .collect();
        let scope = (!known.is_empty()).then(|| known.join(" "));

        let normalized = json!({
            "redirect_uris": redirect_uris, "grant_types": grant_types, "client_name": name,
            "scope": scope, "token_endpoint_auth_method": auth_method,
        });
        let metadata_hash = secrets::hash(&normalized.to_string());
        let public = auth_method == "none";
        if public && let Some(existing) = self.store.client_by_metadata(&metadata_hash).await? {
            return Ok(response(&existing, None));
        }
        let secret = (!public).then(secrets::random_token);
        let now = now_ms();
        let row = ClientRow {
            id: format!("gh_{}", &secrets::random_token()[..22]),
            secret_hash: secret.as_deref().map(secrets::hash),
            name: if name.is_empty() {
                "Unnamed app".into()
            } else {
                name
            },
            redirect_uris: serde_json::to_string(&redirect_uris).unwrap_or_default(),
            grant_types: serde_json::to_string(&grant_types).unwrap_or_default(),
            scope,
            token_endpoint_auth_method: auth_method,
            metadata_hash: Some(metadata_hash),
            registered: 1,
            auto_approve: 0,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        self.store.upsert_client(&row).await?;
        // `?`: the name is the client's own text; Debug escapes line breaks.
        tracing::info!(client = %row.id, name = ?row.name, "client registered");
        Ok(response(&row, secret.as_deref()))
    }
}

fn response(c: &ClientRow, secret: Option<&str>) -> Value {
    let mut body = json!({
        "client_id": c.id,
        "client_id_issued_at": c.created_at / 1000,
        "client_name": c.name,
        "redirect_uris": serde_json::from_str::<Value>(&c.redirect_uris).unwrap_or(Value::Null),
        "grant_types": serde_json::from_str::<Value>(&c.grant_types).unwrap_or(Value::Null),
        "response_types": ["code"],
        "token_endpoint_auth_method": c.token_endpoint_auth_method,
    });
    if let Some(s) = &c.scope {
        body["scope"] = json!(s);
    }
    if let Some(s) = secret {
        body["client_secret"] = json!(s);
        body["client_secret_expires_at"] = json!(0);
    }
    body
}
