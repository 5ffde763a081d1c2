//! Errors on the MCP wire. [`McpError`] is a JSON-RPC error (one code per variant);
//! [`TransportError`] is an HTTP-level refusal (one status per variant, with a
//! JSON-RPC error body the SDK clients understand).

use salvo::http::StatusCode;
use serde_json::{Value, json};

use crate::store::StoreError;

/// A JSON-RPC error answered to a request (MCP-REQUIREMENTS 3.4).
#[derive(Debug, Clone, thiserror::Error)]
pub enum McpError {
    /// -32600: JSON, but not a valid JSON-RPC message.
    #[error("Invalid Request: {0}")]
    InvalidRequest(String),
    /// -32601: unknown method, or a capability this server did not declare.
    #[error("Method not found: {0}")]
    MethodNotFound(String),
    /// -32602: bad params (unknown tool or prompt, missing argument, bad cursor…).
    #[error("Invalid params: {0}")]
    InvalidParams(String),
    /// -32002: `resources/read` of a URI this server does not have.
    #[error("Resource not found")]
    ResourceNotFound { uri: String },
    /// -32603: something failed on our side. The detail is logged, never sent.
    #[error("Internal error")]
    Internal(String),
    /// -32603: the store failed (down or too slow); the client may retry. Where
    /// the answer is still a plain HTTP one, 503 with `Retry-After`.
    #[error("Service Unavailable")]
    Unavailable(String),
}

impl McpError {
    pub fn code(&self) -> i64 {
        match self {
            McpError::InvalidRequest(_) => -32600,
            McpError::MethodNotFound(_) => -32601,
            McpError::InvalidParams(_) => -32602,
            McpError::ResourceNotFound { .. } => -32002,
            McpError::Internal(_) | McpError::Unavailable(_) => -32603,
        }
    }

    /// The `error` member of a response.
    pub fn to_object(&self) -> Value {
        let mut obj = json!({ "code": self.code(), "message": self.to_string() });
        if let McpError::ResourceNotFound { uri } = self {
            obj["data"] = json!({ "uri": uri });
        }
        obj
    }

    pub fn internal(detail: impl std::fmt::Display) -> McpError {
        McpError::Internal(detail.to_string())
    }
}

impl From<StoreError> for McpError {
    fn from(e: StoreError) -> Self {
        McpError::Unavailable(e.to_string())
    }
}

/// An HTTP-level refusal of a request to the MCP endpoint.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// T-6: a POST must accept both `application/json` and `text/event-stream`.
    #[error("Not Acceptable: Client must accept both application/json and text/event-stream")]
    NotAcceptablePost,
    /// T-13: a GET must accept `text/event-stream`.
    #[error("Not Acceptable: Client must accept text/event-stream")]
    NotAcceptableGet,
    #[error("Unsupported Media Type: Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("Payload Too Large: the body exceeds {0} bytes")]
    PayloadTooLarge(usize),
    /// T-2: `Origin` present and not allowed.
    #[error("Forbidden: Origin `{0}` is not allowed")]
    ForbiddenOrigin(String),
    /// DNS-rebinding defence for loopback listeners.
    #[error("Forbidden: Host `{0}` is not allowed")]
    ForbiddenHost(String),
    /// T-20.
    #[error("Bad Request: Mcp-Session-Id header is required")]
    MissingSession,
    /// T-21: unknown, expired or deleted session; the client re-initializes.
    #[error("Session not found")]
    SessionNotFound,
    /// T-26.
    #[error(
        "Bad Request: Unsupported protocol version `{0}` (supported: 2025-11-25, 2025-06-18, 2025-03-26)"
    )]
    BadProtocolVersion(String),
    /// T-28: batches were removed after 2025-03-26.
    #[error("Invalid Request: JSON-RPC batches are not supported in protocol version {0}")]
    BatchNotSupported(&'static str),
    #[error("Invalid Request: an empty batch")]
    EmptyBatch,
    /// -32700 for a body that is not JSON.
    #[error("Parse error: {0}")]
    Parse(String),
    #[error("Bad Request: `initialize` must be sent alone, not in a batch")]
    InitializeInBatch,
    /// A batch of more messages than the server takes at once (issue 12).
    #[error("Bad Request: a batch may hold at most {0} messages")]
    BatchTooLarge(usize),
    /// This user already holds as many open streams as allowed (issue 12).
    #[error("Too Many Requests: at most {0} open streams per user; close one first")]
    TooManyStreams(usize),
    #[error("Bad Request: Last-Event-ID `{0}` does not name an event of this session")]
    BadLastEventId(String),
    #[error("Method Not Allowed")]
    MethodNotAllowed,
    /// The store failed (the detail is logged); the client may retry.
    #[error("Service Unavailable")]
    Unavailable(String),
    /// A-RS-10: the token lacks a scope a tool needs (403 with a challenge).
    #[error("Forbidden: insufficient scope (missing: {})", missing.join(" "))]
    InsufficientScope {
        missing: Vec<String>,
        challenge: String,
    },
}

impl TransportError {
    pub fn status(&self) -> StatusCode {
        use TransportError::*;
        match self {
            NotAcceptablePost | NotAcceptableGet => StatusCode::NOT_ACCEPTABLE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ForbiddenOrigin(_) | ForbiddenHost(_) | InsufficientScope { .. } => {
                StatusCode::FORBIDDEN
            }
            MissingSession
            | BadProtocolVersion(_)
            | BatchNotSupported(_)
            | EmptyBatch
            | Parse(_)
            | InitializeInBatch
            | BatchTooLarge(_)
            | BadLastEventId(_) => StatusCode::BAD_REQUEST,
            TooManyStreams(_) => StatusCode::TOO_MANY_REQUESTS,
            SessionNotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The JSON-RPC code of the error body.
    pub fn code(&self) -> i64 {
        use TransportError::*;
        match self {
            Parse(_) => -32700,
            BatchNotSupported(_) | EmptyBatch | InitializeInBatch | BatchTooLarge(_) => -32600,
            SessionNotFound => -32001,
            Unavailable(_) => -32603,
            _ => -32000,
        }
    }

    /// The error body: a JSON-RPC error without a request id.
    pub fn body(&self, version: super::version::ProtocolVersion) -> Value {
        let mut body = json!({
            "jsonrpc": "2.0",
            "error": { "code": self.code(), "message": self.to_string() },
        });
        if !version.is_2025_11_25_or_later() {
            body["id"] = Value::Null;
        }
        body
    }
}
