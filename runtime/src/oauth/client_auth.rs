//! Client authentication at the token, revocation and introspection endpoints:
//! `none` (public clients: `client_id` only), `client_secret_basic` and
//! `client_secret_post` (secrets compared as hashes, in constant time). An unknown
//! client or a wrong secret is 401 `invalid_client`, never 400: that is what makes
//! Claude register again instead of giving up.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use salvo::http::HeaderMap;

use super::OAuth;
use super::error::OAuthError;
use super::secrets;
use crate::store::ClientRow;

/// Read a form body (`application/x-www-form-urlencoded`); a parameter given twice
/// is an error (RFC 6749 section 3.2).
pub(super) fn form(body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let mut map = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if map.insert(k.to_string(), v.to_string()).is_some() {
            return Err(OAuthError::InvalidRequest(format!(
                "parameter `{k}` is given more than once"
            )));
        }
    }
    Ok(map)
}

/// The credentials a request presents.
struct Credentials {
    id: String,
    secret: Option<String>,
}

fn credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Option<Credentials>, OAuthError> {
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    if let Some(b64) = basic {
        if form.contains_key("client_secret") {
            return Err(OAuthError::InvalidRequest(
                "use one client authentication method, not Basic and client_secret".into(),
            ));
        }
        let bad = || OAuthError::InvalidClient("malformed Basic credentials".into());
        let decoded = STANDARD.decode(b64.trim()).map_err(|_| bad())?;
        let text = String::from_utf8(decoded).map_err(|_| bad())?;
        let (id, secret) = text.split_once(':').ok_or_else(bad)?;
        // RFC 6749 2.3.1: both parts are form-urlencoded.
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.to_string())
        };
        let id = decode(id).ok_or_else(bad)?;
        if form.get("client_id").is_some_and(|f| f != &id) {
            return Err(OAuthError::InvalidClient(
                "client_id differs from the Basic credentials".into(),
            ));
        }
        return Ok(Some(Credentials {
            id,
            secret: decode(secret),
        }));
    }
    Ok(form.get("client_id").map(|id| Credentials {
        id: id.clone(),
        secret: form.get("client_secret").cloned(),
    }))
}

impl OAuth {
    /// The authenticated client of a request.
    pub(super) async fn authenticate_client(
        &self,
        headers: &HeaderMap,
        form: &HashMap<String, String>,
    ) -> Result<ClientRow, OAuthError> {
        let creds = credentials(headers, form)?.ok_or_else(|| {
            OAuthError::InvalidClient("client authentication is required (client_id)".into())
        })?;
        let client = self.store.client(&creds.id).await?.ok_or_else(|| {
            OAuthError::InvalidClient(format!("unknown client `{}`; register again", creds.id))
        })?;
        match (&client.secret_hash, &creds.secret) {
            (Some(stored), Some(given)) if secrets::matches_hash(given, stored) => Ok(client),
            (Some(_), _) => Err(OAuthError::InvalidClient(
                "client authentication failed".into(),
            )),
            (None, None) => Ok(client),
            (None, Some(_)) => Err(OAuthError::InvalidClient(
                "this client is public; it has no secret to send".into(),
            )),
        }
    }
}
