//! `/mcp` as one salvo handler: the request id and its span, the origin rules
//! (T-2), the caller (the bearer check, A-RS-6…A-RS-8, or the local user),
//! the endpoint, then CORS. Every MCP request takes this path, and as a chain
//! of hoops it cost each request four boxed futures, four dynamic calls and a
//! trip through the depot for the caller; done in order in one handler it
//! runs fewer, smaller functions (what a request's time goes to on a busy
//! server is mostly cache misses, `bench/analysis.md`).

use std::sync::Arc;

use salvo::http::Method;
use salvo::http::StatusCode;
use salvo::prelude::*;
use tracing::Instrument;

use super::cors::BrowserCors;
use super::guard::OriginRules;
use super::request_id;
use crate::mcp::McpEndpoint;
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

    /// The answer, or the refusal that came first.
    async fn answer(&self, req: &mut Request, res: &mut Response) {
        if !self.rules.admits(req, res) {
            return;
        }
        if req.method() == Method::OPTIONS {
            // A CORS preflight, answered without credentials (browsers
            // send none); `BrowserCors` adds its headers.
            res.status_code(StatusCode::NO_CONTENT);
            return;
        }
        let principal = match &self.caller {
            Caller::Bearer(bearer) => match bearer.authenticate(req, res).await {
                Some(principal) => principal,
                None => return,
            },
            Caller::Local(principal) => principal.clone(),
        };
        self.endpoint.serve(req, res, &principal).await;
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
        let span = request_id::open(req, res);
        async {
            self.answer(req, res).await;
            self.cors.finish(req, depot, res, ctrl).await;
        }
        .instrument(span)
        .await;
    }
}
