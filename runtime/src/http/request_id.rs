//! A request id for every HTTP request: taken from `X-Request-Id` when the caller
//! sent a sane one, otherwise generated; echoed in the response and carried by the
//! `request` tracing span that wraps everything the request does.

use salvo::http::header::HeaderValue;
use salvo::prelude::*;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

/// The id, available to later handlers through the depot.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub struct RequestIds;

fn sane(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())
}

#[salvo::async_trait]
impl Handler for RequestIds {
    async fn handle(
        &self,
        req: &mut Request,
        depot: &mut Depot,
        res: &mut Response,
        ctrl: &mut FlowCtrl,
    ) {
        let id = req
            .headers()
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| sane(v))
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        if let Ok(v) = HeaderValue::from_str(&id) {
            res.headers_mut().insert(HEADER, v);
        }
        let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path());
        depot.insert_typed(RequestId(id));
        ctrl.call_next(req, depot, res).instrument(span).await;
    }
}
