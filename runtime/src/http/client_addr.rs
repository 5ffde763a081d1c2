//! Who is on the other end: the client's IP address, for rate limits, caps and
//! the audit log (issue 12). The TCP peer, unless that peer is a proxy the
//! operator trusts (`GATEHOUSE_TRUSTED_PROXIES`, a list of CIDRs): only then are
//! `Forwarded` / `X-Forwarded-For` believed, read from the right, skipping
//! trusted proxies, so a client cannot pick its own address by sending the
//! header itself.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use salvo::prelude::*;

/// The client's address, in the depot of every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<Vec<IpNet>>);

impl TrustedProxies {
    /// Parse `GATEHOUSE_TRUSTED_PROXIES`: CIDRs or single addresses, separated
    /// by commas or spaces.
    pub fn parse(text: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for item in text
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let net = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("`{item}` is not an IP address or CIDR range"))?;
            nets.push(net);
        }
        Ok(TrustedProxies(Arc::new(nets)))
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        let ip = canonical(*ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// Whether no proxy is trusted (the TCP peer is the client).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The client behind `peer`, given the request's forwarding headers.
    pub fn client(&self, peer: IpAddr, headers: &salvo::http::HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(&peer) {
            return peer;
        }
        let mut chain = forwarded_for(headers);
        // Right to left: the nearest hop first; the first address that is not
        // one of our proxies is the client.
        while let Some(ip) = chain.pop() {
            if !self.contains(&ip) {
                return ip;
            }
        }
        peer
    }
}

/// IPv4-mapped IPv6 addresses as IPv4 (a dual-stack listener reports them).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The addresses the request passed through, oldest first: RFC 7239
/// `Forwarded: for=…` when present, else `X-Forwarded-For`. Entries that are
/// not addresses (`unknown`, obfuscated names) end the chain there.
fn forwarded_for(headers: &salvo::http::HeaderMap) -> Vec<IpAddr> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let entries: Vec<String> = if !forwarded.is_empty() {
        forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.trim().split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| v.trim().trim_matches('"').to_string())
                })
            })
            .collect()
    } else {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_string())
            .collect()
    };
    let mut chain = Vec::new();
    for e in entries {
        match parse_node(&e) {
            Some(ip) => chain.push(canonical(ip)),
            // An unknown hop: nothing before it can be trusted.
            None => chain.clear(),
        }
    }
    chain
}

/// `203.0.113.7`, `203.0.113.7:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    node.rsplit_once(':')?
        .0
        .parse::<std::net::Ipv4Addr>()
        .ok()
        .map(IpAddr::V4)
}

/// The hoop that puts the [`ClientAddr`] of every request into the depot.
pub struct ClientAddresses(pub TrustedProxies);

#[salvo::async_trait]
impl Handler for ClientAddresses {
    async fn handle(
        &self,
        req: &mut Request,
        depot: &mut Depot,
        res: &mut Response,
        ctrl: &mut FlowCtrl,
    ) {
        let peer = req
            .remote_addr()
            .as_ipv4()
            .map(|a| IpAddr::V4(*a.ip()))
            .or_else(|| req.remote_addr().as_ipv6().map(|a| IpAddr::V6(*a.ip())))
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let address = self.0.client(peer, req.headers());
        depot.insert_typed(ClientAddr(address));
        // The audit log records who called, wherever in the request it writes.
        let caller = crate::audit::Caller {
            address,
            user_agent: req.headers().get(salvo::http::header::USER_AGENT).cloned(),
        };
        caller.scope(ctrl.call_next(req, depot, res)).await;
    }
}

/// The client address of a request (the unspecified address if the hoop did
/// not run, as in handlers mounted elsewhere).
pub fn client_addr(depot: &Depot) -> IpAddr {
    depot
        .get_typed::<ClientAddr>()
        .map(|c| c.0)
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

#[cfg(test)]
mod tests {
    use salvo::http::HeaderMap;

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                salvo::http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarding_headers_only_from_trusted_proxies() {
        let none = TrustedProxies::default();
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            none.client(ip("198.51.100.9"), &spoofed),
            ip("198.51.100.9"),
            "not believed from anyone"
        );

        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.168.1.1").unwrap();
        assert_eq!(
            proxies.client(ip("198.51.100.9"), &spoofed),
            ip("198.51.100.9"),
            "not from an untrusted peer"
        );
        assert_eq!(proxies.client(ip("10.1.2.3"), &spoofed), ip("1.2.3.4"));
        // A client that sends its own header: the proxy appends the real address.
        let appended = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.5")]);
        assert_eq!(
            proxies.client(ip("10.1.2.3"), &appended),
            ip("203.0.113.5"),
            "the right-most untrusted"
        );
        let two_proxies = headers(&[("x-forwarded-for", "203.0.113.5, 192.168.1.1")]);
        assert_eq!(
            proxies.client(ip("10.1.2.3"), &two_proxies),
            ip("203.0.113.5")
        );
        let rfc7239 = headers(&[(
            "forwarded",
            r#"for="[2001:db8::7]:4711";proto=https, for=10.0.0.2"#,
        )]);
        assert_eq!(proxies.client(ip("10.1.2.3"), &rfc7239), ip("2001:db8::7"));
        let unknown = headers(&[("x-forwarded-for", "203.0.113.5, unknown")]);
        assert_eq!(
            proxies.client(ip("10.1.2.3"), &unknown),
            ip("10.1.2.3"),
            "an unknown hop ends the chain"
        );
        assert_eq!(
            proxies.client(ip("::ffff:10.1.2.3"), &spoofed),
            ip("1.2.3.4"),
            "IPv4-mapped peers"
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
    }
}
