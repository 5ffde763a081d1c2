//! CORS for browser clients (e.g. the MCP Inspector): allowed origins are the
//! spec's origin rules; the MCP headers may be sent, and `Mcp-Session-Id` and
//! `WWW-Authenticate` may be read (hiding the latter breaks browser sign-in).

use salvo::cors::{AllowHeaders, AllowOrigin, Cors, CorsHandler, ExposeHeaders};
use salvo::http::Method;
use salvo::http::header::HeaderName;

use super::guard::OriginRules;

pub fn cors(rules: OriginRules) -> CorsHandler {
    Cors::new()
        .allow_origin(AllowOrigin::dynamic(move |origin, _req, _depot| {
            let origin = origin?;
            rules
                .allows_origin(origin.to_str().ok()?)
                .then(|| origin.clone())
        }))
        .allow_methods(vec![
            Method::GET,
            Method::POST,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(AllowHeaders::list([
            HeaderName::from_static("content-type"),
            HeaderName::from_static("accept"),
            HeaderName::from_static("authorization"),
            HeaderName::from_static("mcp-session-id"),
            HeaderName::from_static("mcp-protocol-version"),
            HeaderName::from_static("last-event-id"),
        ]))
        .expose_headers(ExposeHeaders::list([
            HeaderName::from_static("mcp-session-id"),
            HeaderName::from_static("mcp-protocol-version"),
            HeaderName::from_static("www-authenticate"),
        ]))
        .max_age(86400)
        .into_handler()
}
