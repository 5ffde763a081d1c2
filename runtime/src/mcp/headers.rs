//! Reading a request header as text, by a `HeaderName` (a lookup by a
//! string parses the name first): the one helper the transport and the
//! 2026-07-28 era both use.

use salvo::http::{HeaderMap, HeaderName};

/// The header's value as text, trimmed; `None` when absent or not text.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}
