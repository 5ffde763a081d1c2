//! `/mcp` as one salvo handler: the request id and its span, the origin rules
//! (T-2), the caller (the bearer check, A-RS-6…A-RS-8, or the local user),
//! the endpoint, then CORS. Every MCP request takes this path, and as a chain
//! of hoops it cost each request four boxed futures, four dynamic calls and a
//! trip through the depot for the caller; done in order in one handler it
//! runs fewer, smaller functions (what a request's time goes to on a busy
//! server is mostly cache misses, `bench/analysis.md`). The headers every
//! step reads are found in one pass first (`McpHeaders`).

use std::sync::Arc;

use salvo::http::StatusCode;
use salvo::http::{Method, ReqBody};
use salvo::prelude::*;

use super::cors::BrowserCors;
use super::guard::OriginRules;
use super::request_id;
use crate::logging::request_span::InRequest;
use crate::mcp::{McpEndpoint, McpHeaders};
use crate::principal::Principal;
use crate::resource::BearerAuth;

/// Who a request to `/mcp` runs for.
pub enum Caller {
    /// OAuth: the bearer token's subject.
    Bearer(BearerAuth),
    /// `auth: none`: the one local user, for every request.
    Local(Arc<Principal>),
}

pub struct McpRoute {
    rules: OriginRules,
    cors: BrowserCors,
    caller: Caller,
    endpoint: McpEndpoint,
}

impl McpRoute {
    pub fn new(rules: OriginRules, caller: Caller, endpoint: McpEndpoint) -> McpRoute {
        McpRoute {
            cors: BrowserCors::new(rules.clone()),
            rules,
            caller,
            endpoint,
        }
    }

    /// The answer, or the refusal that came first. `body`: the request's,
    /// taken out of it so that `seen` can borrow its headers meanwhile.
    async fn answer(
        &self,
        method: &Method,
        body: ReqBody,
        seen: &McpHeaders<'_>,
        res: &mut Response,
    ) {
        if !self.rules.admits(seen.origin, seen.host, res) {
            return;
        }
        if method == Method::OPTIONS {
            // A CORS preflight, answered without credentials (browsers
            // send none); `BrowserCors` adds its headers.
            res.status_code(StatusCode::NO_CONTENT);
            return;
        }
        let principal = match &self.caller {
            Caller::Bearer(bearer) => match bearer.authenticate(seen.authorization, res).await {
                Some(principal) => principal,
                None => return,
            },
            Caller::Local(principal) => principal.clone(),
        };
        self.endpoint
            .serve(method, body, seen, res, &principal)
            .await;
    }
}

#[salvo::async_trait]
impl Handler for McpRoute {
    async fn handle(
        &self,
        req: &mut Request,
        depot: &mut Depot,
        res: &mut Response,
        ctrl: &mut FlowCtrl,
    ) {
        let body = req.take_body();
        let seen = McpHeaders::read(req.headers());
        let from_browser = seen.origin.is_some();
        let span = request_id::open(seen.request_id, req, res);
        InRequest::new(self.answer(req.method(), body, &seen, res), span).await;
        // Outside the span: it only adds headers (and `seen` borrows the
        // request, which CORS takes whole).
        self.cors.finish(from_browser, req, depot, res, ctrl).await;
    }
}
