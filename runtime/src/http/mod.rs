//! The HTTP layer: listener, origin rules, CORS, request ids, the `/mcp`
//! route that applies them around the MCP endpoint, and the one client for
//! outbound calls (`egress`, with `addresses` deciding which hosts an
//! attacker-named URL may reach).

pub mod addresses;
pub mod client_addr;
pub mod connections;
pub mod cors;
pub mod egress;
pub mod guard;
pub mod listener;
pub mod mcp_route;
pub mod rate_limit;
pub mod request_id;
