//! The HTTP layer around the MCP endpoint: listener, origin rules, CORS, request ids.

pub mod cors;
pub mod guard;
pub mod listener;
pub mod request_id;
