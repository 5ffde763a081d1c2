//! A request id for every HTTP request: taken from `X-Request-Id` when the caller
//! sent a sane one, otherwise generated; echoed in the response and carried by the
//! `request` tracing span of everything the request logs (handlers read it
//! from there, not from the depot: nothing is stored per request). The span
//! is made when a line is logged (`logging::request_span`).

use salvo::http::header::{HeaderName, HeaderValue};
use salvo::prelude::*;

use crate::logging::request_span::{InRequest, RequestSpan};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

pub struct RequestIds;

/// A generated id: a random prefix drawn once per process and a counter, as 32
/// hex digits. Unique across replicas and restarts without a system call per
/// request (a v4 UUID costs a `getrandom`); ids need not be secret.
fn generate() -> HeaderValue {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<[u8; 16]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hex = |n: u64| -> [u8; 16] {
        std::array::from_fn(|i| HEX[((n >> ((15 - i) * 4)) & 0xf) as usize])
    };
    // The prefix's digits are written once.
    let prefix = PREFIX.get_or_init(|| hex(uuid::Uuid::new_v4().as_u64_pair().0));
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    // By hand: `format!` with two padded hex fields was most of this hoop.
    let mut id = Vec::with_capacity(32);
    id.extend_from_slice(prefix);
    id.extend_from_slice(&hex(count));
    // The bytes become the header value as they are (no copy).
    HeaderValue::from_maybe_shared(bytes::Bytes::from(id)).expect("hex digits are a header value")
}

/// A caller's id is used when it is 1 to 128 visible ASCII characters.
fn sane(id: &HeaderValue) -> bool {
    let id = id.as_bytes();
    !id.is_empty() && id.len() <= 128 && id.iter().all(|b| b.is_ascii_graphic())
}

/// The request's id (the caller's `given` one, or a new one), set on the
/// response, and the `request` span that carries it, made if the request
/// logs a line (run the request in it with [`InRequest`]).
pub fn open(given: Option<&HeaderValue>, req: &Request, res: &mut Response) -> RequestSpan {
    // The caller's value is shared, not copied, with the response (and the
    // span). Visible ASCII (`sane`, `generate`).
    let id = match given {
        Some(v) if sane(v) => v.clone(),
        _ => generate(),
    };
    res.headers_mut().insert(HEADER, id.clone());
    RequestSpan::new(id, req.method().clone(), req.uri().clone())
}

/// The hoop that gives every request of the authorization server its id
/// (`/mcp` calls [`open`] itself: `http::mcp_route`).
#[salvo::async_trait]
impl Handler for RequestIds {
    async fn handle(
        &self,
        req: &mut Request,
        depot: &mut Depot,
        res: &mut Response,
        ctrl: &mut FlowCtrl,
    ) {
        let span = open(req.headers().get(HEADER), req, res);
        InRequest::new(ctrl.call_next(req, depot, res), span).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_32_hex_digits_sharing_a_prefix() {
        let (a, b) = (generate(), generate());
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        for id in [a, b] {
            assert_eq!(id.len(), 32, "{id}");
            assert!(
                id.bytes()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
                "{id}"
            );
            assert!(sane(&HeaderValue::from_str(id).unwrap()));
        }
        assert_eq!(a[..16], b[..16]);
        let count = |id: &str| u64::from_str_radix(&id[16..], 16).unwrap();
        assert!(count(b) > count(a), "{a} {b}");
    }

    #[test]
    fn only_short_visible_ascii_ids_are_taken() {
        let value = |b: &[u8]| HeaderValue::from_bytes(b).unwrap();
        assert!(sane(&value(b"abc-123_XYZ.~")));
        assert!(sane(&value(&[b'a'; 128])));
        assert!(!sane(&value(&[b'a'; 129])), "too long");
        assert!(!sane(&value(b"")), "empty");
        assert!(!sane(&value(b"two words")), "a space");
        assert!(!sane(&value(b"caf\xc3\xa9")), "not ASCII");
        assert!(!sane(&value(b"tab\there")), "a control character");
    }
}
