//! DNS-rebinding defence (T-2, MCP-REQUIREMENTS 4.4): a browser `Origin` must be
//! allowed by the spec's origin rules, else 403. Requests without `Origin`
//! (server-to-server clients) pass. A loopback listener also checks `Host`, which
//! a rebinding attack cannot forge.

use std::sync::Arc;

use gatehouse_specs::origin::{Origin, OriginPattern};
use salvo::http::StatusCode;
use salvo::http::header::{self, HeaderValue};
use salvo::prelude::*;

use crate::mcp::{ProtocolVersion, TransportError};

/// The allowed origins and, for a loopback listener, the allowed hosts.
#[derive(Clone)]
pub struct OriginRules {
    origins: Arc<Vec<OriginPattern>>,
    /// `None`: any Host (a public listener behind a proxy).
    hosts: Option<Arc<Vec<String>>>,
}

impl OriginRules {
    pub fn new(origins: Vec<OriginPattern>, hosts: Option<Vec<String>>) -> OriginRules {
        OriginRules {
            origins: Arc::new(origins),
            hosts: hosts.map(Arc::new),
        }
    }

    pub fn allows_origin(&self, value: &str) -> bool {
        value
            .parse::<Origin>()
            .is_ok_and(|o| self.origins.iter().any(|p| p.matches(&o)))
    }

    fn allows_host(&self, host: &str) -> bool {
        let Some(hosts) = &self.hosts else {
            return true;
        };
        // The host without its port; an IPv6 literal keeps its brackets.
        // Over bytes: `str::find` by `char` costs every request more.
        let bytes = host.as_bytes();
        let name = match bytes.iter().position(|&b| b == b']') {
            Some(end) if bytes.first() == Some(&b'[') => &host[..=end],
            Some(_) => return false,
            None => match bytes.iter().rposition(|&b| b == b':') {
                Some(colon) => &host[..colon],
                None => host,
            },
        };
        hosts.iter().any(|h| h.eq_ignore_ascii_case(name))
    }

    /// A request's `Origin` and `Host` (each its first value).
    fn check(
        &self,
        origin: Option<&HeaderValue>,
        host: Option<&HeaderValue>,
    ) -> Result<(), TransportError> {
        if let Some(origin) = origin {
            let value = origin.to_str().unwrap_or("");
            if !self.allows_origin(value) {
                return Err(TransportError::ForbiddenOrigin(value.to_string()));
            }
        }
        if let Some(host) = host.and_then(|h| h.to_str().ok())
            && !self.allows_host(host)
        {
            return Err(TransportError::ForbiddenHost(host.to_string()));
        }
        Ok(())
    }

    /// Whether a request with this `Origin` and `Host` passes; if not, its
    /// 403 is written to `res`.
    pub fn admits(
        &self,
        origin: Option<&HeaderValue>,
        host: Option<&HeaderValue>,
        res: &mut Response,
    ) -> bool {
        let Err(e) = self.check(origin, host) else {
            return true;
        };
        refuse(e, res);
        false
    }
}

/// A 403 for a request the rules refuse. Cold: out of the hot path's cache
/// lines (`bench/analysis.md`).
#[cold]
#[inline(never)]
fn refuse(e: TransportError, res: &mut Response) {
    tracing::warn!(error = %e, "request refused");
    res.status_code(StatusCode::FORBIDDEN);
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let _ = res.write_body(e.body(ProtocolVersion::LATEST).to_string());
}

#[salvo::async_trait]
impl Handler for OriginRules {
    async fn handle(
        &self,
        req: &mut Request,
        depot: &mut Depot,
        res: &mut Response,
        ctrl: &mut FlowCtrl,
    ) {
        let headers = req.headers();
        if self.admits(headers.get(header::ORIGIN), headers.get(header::HOST), res) {
            ctrl.call_next(req, depot, res).await;
        } else {
            ctrl.skip_rest();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_matched_without_port() {
        let rules = OriginRules::new(
            Vec::new(),
            Some(vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()]),
        );
        assert!(rules.allows_host("localhost:8080"));
        assert!(rules.allows_host("127.0.0.1"));
        assert!(rules.allows_host("[::1]:3000"));
        assert!(!rules.allows_host("evil.example.com:8080"));
        assert!(!rules.allows_host("localhost.evil.com"));
        assert!(rules.allows_host("[::1]"));
        assert!(rules.allows_host("LOCALHOST:80"));
        assert!(!rules.allows_host("localhost]:80"), "a bracket not opening");
        assert!(!rules.allows_host("[::1"), "an unclosed literal");
        assert!(!rules.allows_host("[::2]:3000"));
        assert!(!rules.allows_host(":8080"));
    }
}
