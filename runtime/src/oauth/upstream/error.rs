//! Why a round trip to a provider failed, each with the one page status it
//! earns: the provider is down or answered nonsense (502), it refused (400),
//! what came back does not verify (400), or the store failed (503).

use salvo::http::StatusCode;

use crate::http::egress::EgressError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Unreachable, timed out, a 5xx, an unreadable answer: try again later.
    #[error("{0}")]
    Unavailable(String),
    /// The provider said no (`error` on the callback or at the token
    /// endpoint): the person cancelled, or the client is misconfigured.
    #[error("the provider answered `{error}`{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Refused {
        error: String,
        description: Option<String>,
    },
    /// What came back breaks a rule (signature, issuer, audience, nonce,
    /// expiry, mix-up): never accepted.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UpstreamError {
    pub fn unavailable(message: impl Into<String>) -> UpstreamError {
        UpstreamError::Unavailable(message.into())
    }

    pub fn invalid(message: impl Into<String>) -> UpstreamError {
        UpstreamError::Invalid(message.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            UpstreamError::Unavailable(_) => StatusCode::BAD_GATEWAY,
            UpstreamError::Refused { .. } | UpstreamError::Invalid(_) => StatusCode::BAD_REQUEST,
            UpstreamError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<EgressError> for UpstreamError {
    fn from(e: EgressError) -> Self {
        match e {
            // A configuration that points at plain http is not an outage.
            EgressError::NotAllowed(_) => UpstreamError::Invalid(e.to_string()),
            _ => UpstreamError::Unavailable(e.to_string()),
        }
    }
}
