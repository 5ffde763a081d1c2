//! Which addresses the server may fetch attacker-named URLs from (a client's
//! metadata document, MODERN.md M-4): never a special-use address of RFC 6890
//! (loopback, private networks, link-local, carrier-grade NAT, documentation,
//! benchmarking, multicast, reserved, and IPv6's equivalents, with IPv4 mapped
//! or translated addresses judged by the IPv4 address inside), so a URL cannot
//! make the server reach its own network. The host is resolved once and the
//! fetch pinned to the address checked here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Whether `ip` is a special-use address (RFC 6890 and its successors).
pub fn is_special_use(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || a == 0 // "this network"
        || a == 10
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || a == 127
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224 // multicast, reserved, broadcast
}

fn special_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return special_v4(v4);
    }
    let s = ip.segments();
    ip.is_unspecified()
        || ip.is_loopback()
        || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0) // IPv4-compatible
        || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64: judged as private, never fetched
        || (s[0] == 0x100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard-only
        || (s[0] == 0x2001 && s[1] < 0x200) // IETF protocol assignments (Teredo, ORCHID, …)
        || (s[0] == 0x2001 && s[1] == 0xdb8) // documentation
        || s[0] == 0x2002 // 6to4
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
}

/// Why a host cannot be fetched from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("{host} could not be resolved")]
    Unresolvable { host: String },
    #[error(
        "{host} resolves to {addr}, a special-use address (RFC 6890) this server does not fetch from"
    )]
    SpecialUse { host: String, addr: IpAddr },
}

/// Resolve `host:port` and return the address to connect to: every address
/// the name has must be public (one special-use address among them is
/// enough to refuse: which one a connection would use is not ours to pick),
/// or loopback when `loopback` allows it (tests).
pub async fn resolve_public(
    host: &str,
    port: u16,
    loopback: bool,
) -> Result<SocketAddr, AddressError> {
    let unresolvable = || AddressError::Unresolvable {
        host: host.to_string(),
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|_| unresolvable())?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(unresolvable());
    }
    for a in &addrs {
        let allowed = loopback && a.ip().is_loopback();
        if is_special_use(a.ip()) && !allowed {
            return Err(AddressError::SpecialUse {
                host: host.to_string(),
                addr: a.ip(),
            });
        }
    }
    Ok(addrs[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_use_addresses_are_recognised() {
        for special in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "100::1",
            "2001:db8::1",
            "2001::1",
            "2002:7f00:1::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
        ] {
            assert!(is_special_use(special.parse().unwrap()), "{special}");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_special_use(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn names_and_literals_are_checked_before_any_connection() {
        let err = resolve_public("127.0.0.1", 443, false).await.unwrap_err();
        assert!(matches!(err, AddressError::SpecialUse { .. }), "{err}");
        let err = resolve_public("[::1]", 443, false).await.unwrap_err();
        assert!(matches!(err, AddressError::SpecialUse { .. }), "{err}");
        // `localhost` resolves to loopback: refused unless tests allow it.
        assert!(resolve_public("localhost", 443, false).await.is_err());
        assert!(
            resolve_public("127.0.0.1", 8080, true)
                .await
                .unwrap()
                .ip()
                .is_loopback()
        );
        assert!(matches!(
            resolve_public("no-such-host.invalid", 443, false).await,
            Err(AddressError::Unresolvable { .. })
        ));
    }
}
