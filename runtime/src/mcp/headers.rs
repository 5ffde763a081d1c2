//! The request headers `/mcp` reads, found in one pass over the request's
//! header map ([`McpHeaders`]), and reading one of them as text.
//!
//! `HeaderMap::get` hashes the name it is given on every call, byte by byte
//! for names that are not standard (`mcp-protocol-version`, `mcp-method`…).
//! A 2026-07-28 call read twelve headers that way (request id, origin, host,
//! token, accept, content type and length, version, method, name, session),
//! about 2,000 instructions of every request (issue 13); one walk over the
//! eight or so headers a client sends finds them all.

use salvo::http::header::{self, HeaderMap, HeaderValue};

/// Every header of a request that the `/mcp` route or the endpoint reads:
/// for each, its first value, as `HeaderMap::get` gives it.
#[derive(Clone, Copy)]
pub struct McpHeaders<'a> {
    /// All of them, for what is read rarely (every `Accept` value when a
    /// client sends more than one).
    pub all: &'a HeaderMap,
    pub request_id: Option<&'a HeaderValue>,
    pub origin: Option<&'a HeaderValue>,
    pub host: Option<&'a HeaderValue>,
    pub authorization: Option<&'a HeaderValue>,
    pub accept: Option<&'a HeaderValue>,
    /// More than one `Accept` value.
    pub more_accept: bool,
    pub content_type: Option<&'a HeaderValue>,
    pub content_length: Option<&'a HeaderValue>,
    /// `MCP-Protocol-Version`.
    pub version: Option<&'a HeaderValue>,
    /// `Mcp-Session-Id`.
    pub session: Option<&'a HeaderValue>,
    /// `Mcp-Method` and `Mcp-Name` (2026-07-28).
    pub method: Option<&'a HeaderValue>,
    pub name: Option<&'a HeaderValue>,
    pub last_event_id: Option<&'a HeaderValue>,
}

impl<'a> McpHeaders<'a> {
    /// One pass over `all`. Names arrive lowercase (`HeaderName` keeps them
    /// so), and a name's values come one after another, the first first.
    pub fn read(all: &'a HeaderMap) -> McpHeaders<'a> {
        let mut seen = McpHeaders {
            all,
            request_id: None,
            origin: None,
            host: None,
            authorization: None,
            accept: None,
            more_accept: false,
            content_type: None,
            content_length: None,
            version: None,
            session: None,
            method: None,
            name: None,
            last_event_id: None,
        };
        for (name, value) in all {
            let slot = match name.as_str() {
                "authorization" => &mut seen.authorization,
                "host" => &mut seen.host,
                "accept" => {
                    seen.more_accept = seen.accept.is_some();
                    &mut seen.accept
                }
                "content-type" => &mut seen.content_type,
                "content-length" => &mut seen.content_length,
                "mcp-protocol-version" => &mut seen.version,
                "mcp-method" => &mut seen.method,
                "mcp-name" => &mut seen.name,
                "mcp-session-id" => &mut seen.session,
                "origin" => &mut seen.origin,
                "x-request-id" => &mut seen.request_id,
                "last-event-id" => &mut seen.last_event_id,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value);
            }
        }
        seen
    }

    /// Every `Accept` value, in order.
    pub fn accept_values(&self) -> header::GetAll<'a, HeaderValue> {
        self.all.get_all(header::ACCEPT)
    }
}

/// A header's value as text, trimmed; `None` when absent or not text.
/// Text here is visible ASCII, spaces and tabs (`HeaderValue::to_str`), so
/// trimming ASCII whitespace is `str::trim` without its walk through
/// Unicode's whitespace table. Out of line: a 2026-07-28 call reads six
/// headers as text, and inlined each read was a copy of the same two loops
/// in the instruction cache (`bench/analysis.md`).
#[inline(never)]
pub(crate) fn text(value: Option<&HeaderValue>) -> Option<&str> {
    value.and_then(|v| v.to_str().ok()).map(str::trim_ascii)
}

#[cfg(test)]
mod tests {
    use super::*;
    use salvo::http::HeaderName;

    /// Each field holds what `HeaderMap::get` gives for its name (the first
    /// value, whatever the case the client wrote the name in), headers it
    /// does not read change nothing, and a second `Accept` is noticed.
    #[test]
    fn one_pass_finds_what_get_finds() {
        let names = [
            ("x-request-id", 0),
            ("origin", 1),
            ("host", 2),
            ("authorization", 3),
            ("accept", 4),
            ("content-type", 5),
            ("content-length", 6),
            ("mcp-protocol-version", 7),
            ("mcp-session-id", 8),
            ("mcp-method", 9),
            ("mcp-name", 10),
            ("last-event-id", 11),
        ];
        // The names the server writes with its constants are the ones read.
        for constant in [
            &super::super::session::SESSION_HEADER,
            &crate::http::request_id::HEADER,
        ] {
            assert!(
                names.iter().any(|(n, _)| *n == constant.as_str()),
                "{constant}"
            );
        }
        let fields = |h: &McpHeaders<'_>| {
            [
                h.request_id,
                h.origin,
                h.host,
                h.authorization,
                h.accept,
                h.content_type,
                h.content_length,
                h.version,
                h.session,
                h.method,
                h.name,
                h.last_event_id,
            ]
            .map(|v| v.map(|v| v.as_bytes().to_vec()))
        };
        let mut map = HeaderMap::new();
        let empty = McpHeaders::read(&map);
        assert_eq!(fields(&empty), std::array::from_fn(|_| None));
        assert!(!empty.more_accept);
        map.append("user-agent", HeaderValue::from_static("test"));
        map.append("x-mcp-other", HeaderValue::from_static("ignored"));
        for (name, _) in names {
            // As a client may write it; `HeaderName` lowercases.
            let upper = HeaderName::from_bytes(name.to_uppercase().as_bytes()).unwrap();
            map.append(
                upper,
                HeaderValue::from_str(&format!("first {name}")).unwrap(),
            );
            map.append(
                name,
                HeaderValue::from_str(&format!("second {name}")).unwrap(),
            );
        }
        let seen = McpHeaders::read(&map);
        let got = fields(&seen);
        for (name, i) in names {
            assert_eq!(
                got[i].as_deref(),
                map.get(name).map(|v| v.as_bytes()),
                "{name}"
            );
            assert_eq!(got[i].as_deref(), Some(format!("first {name}").as_bytes()));
        }
        assert!(seen.more_accept);
        assert_eq!(seen.accept_values().iter().count(), 2);
        map.remove(header::ACCEPT);
        map.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert!(!McpHeaders::read(&map).more_accept);
    }

    #[test]
    fn text_is_trimmed_and_only_text() {
        let v = HeaderValue::from_static("  2026-07-28 \t");
        assert_eq!(text(Some(&v)), Some("2026-07-28"));
        let bytes = HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap();
        assert_eq!(text(Some(&bytes)), None);
        assert_eq!(text(None), None);
    }
}
