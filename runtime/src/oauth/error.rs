//! OAuth errors. [`OAuthError`] is what the token, registration, revocation and
//! introspection endpoints answer: one RFC error code and one HTTP status per
//! variant, a JSON body, `Cache-Control: no-store`.

use salvo::http::StatusCode;
use serde_json::{Value, json};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// RFC 6749 5.2: missing or malformed parameters.
    #[error("{0}")]
    InvalidRequest(String),
    /// Client authentication failed or the client is unknown: 401, which makes
    /// clients such as Claude register again.
    #[error("{0}")]
    InvalidClient(String),
    /// The code or refresh token is invalid, expired, revoked, reused or was
    /// issued to another client; or PKCE failed.
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    UnauthorizedClient(String),
    #[error("grant type `{0}` is not supported")]
    UnsupportedGrantType(String),
    #[error("{0}")]
    InvalidScope(String),
    /// RFC 8707: the `resource` is not this server's.
    #[error("{0}")]
    InvalidTarget(String),
    /// RFC 7591.
    #[error("{0}")]
    InvalidRedirectUri(String),
    /// RFC 7591.
    #[error("{0}")]
    InvalidClientMetadata(String),
    /// RFC 7009: revocation of this token type is not supported.
    #[error("{0}")]
    UnsupportedTokenType(String),
    /// Over a limit (issue 12): 429 with `Retry-After` (seconds).
    #[error("too many requests from this address; try again in {0} seconds")]
    RateLimited(u64),
    /// The store failed: 503, the client may retry.
    #[error("the authorization server is temporarily unavailable")]
    Unavailable(#[from] StoreError),
    /// Another transient failure (no signing key loaded yet): 503.
    #[error("{0}")]
    TemporarilyUnavailable(String),
}

impl OAuthError {
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient(_) => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::InvalidTarget(_) => "invalid_target",
            OAuthError::InvalidRedirectUri(_) => "invalid_redirect_uri",
            OAuthError::InvalidClientMetadata(_) => "invalid_client_metadata",
            OAuthError::UnsupportedTokenType(_) => "unsupported_token_type",
            OAuthError::RateLimited(_) => "temporarily_unavailable",
            OAuthError::Unavailable(_) | OAuthError::TemporarilyUnavailable(_) => {
                "temporarily_unavailable"
            }
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            OAuthError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            OAuthError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            OAuthError::Unavailable(_) | OAuthError::TemporarilyUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::BAD_REQUEST,
        }
    }

    pub fn body(&self) -> Value {
        json!({ "error": self.code(), "error_description": self.to_string() })
    }
}

/// Why an authorization request failed, and where the answer goes: before the
/// redirect URI is trusted, to an error page on this server; after, back to the
/// client's redirect URI with `error`, `state` and `iss` (RFC 9207).
#[derive(Debug)]
pub enum AuthorizeError {
    /// Rendered as a page: unknown client, bad redirect URI (400), a form whose
    /// CSRF token does not match (403).
    Page {
        status: StatusCode,
        title: String,
        message: String,
    },
    /// Redirected to the client.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
    Unavailable(StoreError),
    /// Over a limit (issue 12): a 429 page with `Retry-After`.
    Limited {
        retry_after: u64,
        title: String,
        message: String,
    },
}

impl AuthorizeError {
    /// A 400 error page.
    pub fn page(title: &str, message: &str) -> AuthorizeError {
        AuthorizeError::Page {
            status: StatusCode::BAD_REQUEST,
            title: title.into(),
            message: message.into(),
        }
    }
}

impl From<StoreError> for AuthorizeError {
    fn from(e: StoreError) -> Self {
        AuthorizeError::Unavailable(e)
    }
}
