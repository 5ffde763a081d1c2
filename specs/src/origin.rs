//! Origin patterns (`https://claude.ai`, `https://*.example.com`, `http://localhost:*`)
//! and matching an `Origin` header against them (T-2).

use std::fmt;
use std::str::FromStr;

/// One allowed-origin rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: String,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    /// `*.example.com`: any subdomain (not the apex).
    Subdomains(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortPattern {
    /// No port in the pattern: the scheme's default port.
    Default,
    Exact(u16),
    Any,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl FromStr for OriginPattern {
    type Err = String;

    fn from_str(pattern: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("origin `{pattern}` is not valid: {why}");
        let (scheme, rest) = pattern
            .split_once("://")
            .ok_or_else(|| bad("expected scheme://host[:port]"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(bad("the scheme must be http or https"));
        }
        if rest.contains(['/', '?', '#', '@']) {
            return Err(bad("an origin has no path, query, fragment or user info"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') && h.contains(':') => {
                return Err(bad(&format!(
                    "IPv6 hosts need brackets, as in [::1], not {h}:{p}"
                )));
            }
            Some((h, "*")) => (h, PortPattern::Any),
            Some((h, p)) if !h.is_empty() && !p.contains(']') => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| bad("the port must be a number or *"))?;
                (h, PortPattern::Exact(port))
            }
            _ => (rest, PortPattern::Default),
        };
        let host = host.to_ascii_lowercase();
        let host = if let Some(suffix) = host.strip_prefix("*.") {
            check_host(suffix).map_err(|e| bad(&e))?;
            HostPattern::Subdomains(suffix.to_string())
        } else {
            check_host(&host).map_err(|e| bad(&e))?;
            HostPattern::Exact(host)
        };
        Ok(OriginPattern { scheme, host, port })
    }
}

fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if host.contains('*') {
        return Err("`*` is only allowed as a leading `*.` or as the port".into());
    }
    url::Host::parse(host)
        .map(|_| ())
        .map_err(|e| format!("bad host `{host}`: {e}"))
}

impl OriginPattern {
    /// Whether an `Origin` header value matches.
    pub fn matches(&self, origin: &Origin) -> bool {
        if origin.scheme != self.scheme {
            return false;
        }
        let host_ok = match &self.host {
            HostPattern::Exact(h) => &origin.host == h,
            HostPattern::Subdomains(suffix) => origin
                .host
                .strip_suffix(suffix.as_str())
                .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.')),
        };
        let port_ok = match self.port {
            PortPattern::Any => true,
            PortPattern::Exact(p) => origin.port == Some(p),
            PortPattern::Default => origin.port == default_port(&self.scheme),
        };
        host_ok && port_ok
    }

    /// `http://localhost:*`, `http://127.0.0.1:*`, `http://[::1]:*` (and https).
    pub fn loopback() -> Vec<OriginPattern> {
        ["localhost", "127.0.0.1", "[::1]"]
            .iter()
            .flat_map(|h| ["http", "https"].map(|s| format!("{s}://{h}:*")))
            .map(|p| p.parse().expect("loopback patterns are valid"))
            .collect()
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme)?;
        match &self.host {
            HostPattern::Exact(h) => write!(f, "{h}")?,
            HostPattern::Subdomains(s) => write!(f, "*.{s}")?,
        }
        match self.port {
            PortPattern::Default => Ok(()),
            PortPattern::Exact(p) => write!(f, ":{p}"),
            PortPattern::Any => write!(f, ":*"),
        }
    }
}

/// A parsed `Origin` header (`null` and malformed values do not parse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl FromStr for Origin {
    type Err = ();

    fn from_str(value: &str) -> Result<Self, ()> {
        let url = url::Url::parse(value).map_err(|_| ())?;
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(());
        }
        let host = match url.host().ok_or(())? {
            url::Host::Domain(d) => d.to_ascii_lowercase(),
            url::Host::Ipv4(ip) => ip.to_string(),
            url::Host::Ipv6(ip) => format!("[{ip}]"),
        };
        Ok(Origin {
            scheme: url.scheme().to_string(),
            host,
            port: url.port_or_known_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, origin: &str) -> bool {
        let p: OriginPattern = pattern.parse().unwrap();
        origin.parse::<Origin>().is_ok_and(|o| p.matches(&o))
    }

    #[test]
    fn matches_origins() {
        assert!(m("https://claude.ai", "https://claude.ai"));
        assert!(m("https://claude.ai", "https://claude.ai:443"));
        assert!(!m("https://claude.ai", "https://claude.ai:8443"));
        assert!(!m("https://claude.ai", "http://claude.ai"));
        assert!(!m("https://claude.ai", "https://evil-claude.ai"));
        assert!(m("https://*.example.com", "https://a.example.com"));
        assert!(!m("https://*.example.com", "https://example.com"));
        assert!(!m("https://*.example.com", "https://aexample.com"));
        assert!(m("http://localhost:*", "http://localhost:6274"));
        assert!(m("http://[::1]:*", "http://[::1]:3000"));
        assert!(!m("http://localhost:*", "null"));
    }

    #[test]
    fn rejects_bad_patterns() {
        for bad in [
            "claude.ai",
            "ftp://x.com",
            "https://x.com/path",
            "https://*",
            "https://a.*.com",
            "https://x.com:port",
            "https://::1:80",
        ] {
            assert!(bad.parse::<OriginPattern>().is_err(), "{bad} should fail");
        }
    }
}
