//! The MCP server: JSON-RPC 2.0, the lifecycle and version negotiation, the
//! methods, sessions, the resumable event log and the Streamable HTTP transport.

mod broker;
pub(crate) mod catalog;
mod context;
pub(crate) mod core;
mod definition;
mod error;
mod handle;
mod headers;
mod inflight;
mod input;
mod input_required;
pub mod jsonrpc;
#[cfg(test)]
mod layering;
mod logging;
mod methods;
mod modern;
mod modern_method;
mod outbound;
mod pagination;
mod session;
mod stream_counts;
mod streams;
mod transport;
mod version;
pub mod wire;

pub use context::{
    ClientRequestError, CompletionRef, CompletionRequest, Context, ResourceError, ToolError,
};
pub use core::Settings;
pub use definition::{BoxFuture, Handlers, ServerDefinition, ToolSchemas};
pub use error::TransportError;
pub(crate) use headers::McpHeaders;
pub use input::{
    ElicitAction, ElicitResult, Elicitation, InputRequest, ListRoots, Root, Roots, Sampling,
    SamplingMessage, SamplingResult,
};
pub use logging::LogLevel;
pub use transport::McpEndpoint;
pub use version::ProtocolVersion;
