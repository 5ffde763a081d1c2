//! What a request's [`Context`](super::context::Context) may ask of the server
//! beyond its own stream: a narrow handle instead of the whole server, so that
//! the context does not depend on an era's machinery (issue 13). The session
//! era implements it in `core.rs`; a sessionless era implements its own.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::outbound::Outbound;
use crate::oauth::upstream::Upstream;
use crate::store::StoreError;

#[salvo::async_trait]
pub(crate) trait ServerHandle: Send + Sync {
    /// Append a notification to a session's standalone stream.
    async fn notify_session(&self, session: &str, message: &Value) -> Result<(), StoreError>;

    /// Tell every subscriber of `uri` that it changed.
    async fn resource_updated(&self, uri: &str) -> Result<(), StoreError>;

    /// Send a request to the client on a request's stream and wait for its
    /// answer (`result`).
    async fn client_request(
        &self,
        session: &str,
        out: &Outbound,
        cancel: &CancellationToken,
        method: &str,
        params: Value,
    ) -> Result<Value, ClientRequestError>;

    /// The sign-in providers whose tokens tools may ask for (with OAuth).
    fn upstream(&self) -> Option<&Arc<Upstream>>;
}

/// A request the server sent to the client did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientRequestError {
    /// L-8: the client did not declare the capability this request needs.
    #[error("the client does not support {0}")]
    Unsupported(&'static str),
    /// The client answered with a JSON-RPC error.
    #[error("the client answered with error {code}: {message}")]
    Rejected {
        /// The JSON-RPC error code.
        code: i64,
        /// Its message.
        message: String,
    },
    /// No answer within the settings' `client_request_timeout`.
    #[error("the client did not answer within {0:?}")]
    TimedOut(Duration),
    /// The call was cancelled while it waited.
    #[error("the request was cancelled")]
    Cancelled,
    /// The connection to the client is gone.
    #[error("the stream to the client is closed")]
    Closed,
    /// The client's answer does not have the shape of its request's result.
    #[error("the client's answer is {0}")]
    Malformed(String),
}
