//! Client authentication at the token, revocation and introspection endpoints:
//! `none` (public clients: `client_id` only), `client_secret_basic` and
//! `client_secret_post` (secrets compared as hashes, in constant time). An unknown
//! client or a wrong secret is 401 `invalid_client`, never 400: that is what makes
//! Claude register again instead of giving up.

use salvo::http::HeaderMap;
use salvo::http::header::AUTHORIZATION;
use salvo::http::headers::authorization::Basic;
use salvo::http::headers::{Authorization, HeaderMapExt};

use super::OAuth;
use super::error::OAuthError;
use super::forms::ClientFields;
use super::params::{ParamError, typed};
use super::secrets;
use crate::store::ClientRow;

/// Read a form body (`application/x-www-form-urlencoded`) into its struct
/// (`forms.rs`); a parameter given twice is an error (RFC 6749 section 3.2).
pub(super) fn form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, OAuthError> {
    typed(body).map_err(|e| match e {
        ParamError::Repeated(k) => {
            OAuthError::InvalidRequest(format!("parameter `{k}` is given more than once"))
        }
        ParamError::Malformed(why) => OAuthError::InvalidRequest(why),
    })
}

/// One `application/x-www-form-urlencoded` value: `+` is a space, then
/// percent-decoding; not UTF-8 is malformed.
fn form_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|v| v.into_owned())
}

/// The credentials a request presents.
struct Credentials {
    id: String,
    secret: Option<String>,
}

fn credentials(
    headers: &HeaderMap,
    form: &ClientFields,
) -> Result<Option<Credentials>, OAuthError> {
    let says_basic = headers.get(AUTHORIZATION).is_some_and(|v| {
        v.as_bytes()
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case(b"basic "))
    });
    if says_basic {
        if form.client_secret.is_some() {
            return Err(OAuthError::InvalidRequest(
                "use one client authentication method, not Basic and client_secret".into(),
            ));
        }
        let bad = || OAuthError::InvalidClient("malformed Basic credentials".into());
        let basic = headers
            .typed_get::<Authorization<Basic>>()
            .ok_or_else(bad)?;
        // RFC 6749 2.3.1: both parts are form-urlencoded.
        let id = form_decode(basic.0.username()).ok_or_else(bad)?;
        let secret = form_decode(basic.0.password()).ok_or_else(bad)?;
        if form.client_id.as_ref().is_some_and(|f| f != &id) {
            return Err(OAuthError::InvalidClient(
                "client_id differs from the Basic credentials".into(),
            ));
        }
        return Ok(Some(Credentials {
            id,
            secret: Some(secret),
        }));
    }
    Ok(form.client_id.as_ref().map(|id| Credentials {
        id: id.clone(),
        secret: form.client_secret.clone(),
    }))
}

impl OAuth {
    /// The authenticated client of a request.
    pub(super) async fn authenticate_client(
        &self,
        headers: &HeaderMap,
        form: &ClientFields,
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
