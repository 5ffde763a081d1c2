//! A request id for every HTTP request: taken from `X-Request-Id` when the caller
//! sent a sane one, otherwise generated; echoed in the response and carried by the
//! `request` tracing span that wraps everything the request does (handlers
//! read it from there, not from the depot: nothing is stored per request).

use salvo::http::header::{HeaderName, HeaderValue};
use salvo::prelude::*;
use tracing::Instrument;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

pub struct RequestIds;

/// A generated id: a random prefix drawn once per process and a counter, as 32
/// hex digits. Unique across replicas and restarts without a system call per
/// request (a v4 UUID costs a `getrandom`); ids need not be secret.
fn generate() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let prefix = *PREFIX.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    // By hand: `format!` with two padded hex fields was most of this hoop.
    let mut id = String::with_capacity(32);
    for n in [prefix, count] {
        for shift in (0..16).rev() {
            id.push(HEX[((n >> (shift * 4)) & 0xf) as usize] as char);
        }
    }
    id
}

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
            .unwrap_or_else(generate);
        if let Ok(v) = HeaderValue::from_str(&id) {
            res.headers_mut().insert(HEADER, v);
        }
        // Plain string fields: written as text only if a line is logged
        // (`logging::PlainSpanFields`).
        let span = tracing::info_span!(
            "request",
            id = id.as_str(),
            method = req.method().as_str(),
            path = req.uri().path()
        );
        ctrl.call_next(req, depot, res).instrument(span).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_32_hex_digits_sharing_a_prefix() {
        let (a, b) = (generate(), generate());
        for id in [&a, &b] {
            assert_eq!(id.len(), 32, "{id}");
            assert!(
                id.bytes()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
                "{id}"
            );
            assert!(sane(id));
        }
        assert_eq!(a[..16], b[..16]);
        let count = |id: &str| u64::from_str_radix(&id[16..], 16).unwrap();
        assert!(count(&b) > count(&a), "{a} {b}");
    }
}
