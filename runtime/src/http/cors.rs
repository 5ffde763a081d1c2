//! CORS for browser clients (e.g. the MCP Inspector): allowed origins are the
//! spec's origin rules; the MCP headers may be sent, and `Mcp-Session-Id` and
//! `WWW-Authenticate` may be read (hiding the latter breaks browser sign-in).

use salvo::cors::{AllowHeaders, AllowOrigin, Cors, CorsHandler, ExposeHeaders};
use salvo::http::Method;
use salvo::http::header::{self, HeaderName, HeaderValue};
use salvo::prelude::*;

use super::guard::OriginRules;

/// CORS for `/mcp`, applied only to requests from browsers (they carry
/// `Origin`; CORS means nothing to other clients). Server-to-server clients such
/// as Claude.ai's backend and the SDKs skip the work on every request; their
/// responses still say `Vary: Origin`, so no cache mixes the two.
pub struct BrowserCors(CorsHandler);

impl BrowserCors {
    pub fn new(rules: OriginRules) -> BrowserCors {
        BrowserCors(cors_handler(rules))
    }

    /// Add the CORS headers to the answer `/mcp` has written (`http::mcp_route`
    /// calls it last, its refusals included: a browser must be able to read
    /// a 401's `WWW-Authenticate`). `ctrl` is the route's, which has no
    /// handler after it. `from_browser`: the request has an `Origin`.
    pub async fn finish(
        &self,
        from_browser: bool,
        req: &mut Request,
        depot: &mut Depot,
        res: &mut Response,
        ctrl: &mut FlowCtrl,
    ) {
        if from_browser {
            self.0.handle(req, depot, res, ctrl).await;
        } else {
            res.headers_mut()
                .append(header::VARY, HeaderValue::from_static("origin"));
        }
    }
}

fn cors_handler(rules: OriginRules) -> CorsHandler {
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
