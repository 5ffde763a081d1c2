//! Redirect-URI rules: what a redirect URI may be at all (https, or http on a
//! loopback address; no fragment, no user info), the allowlist patterns a spec
//! gives for dynamically registered clients, and exact matching with the loopback
//! port exception of RFC 8252 section 7.3 (MCP-REQUIREMENTS A-AZ-3).

use std::fmt;
use std::str::FromStr;

use url::{Host, Url};

/// Whether a host is a loopback address (or `localhost`).
pub fn is_loopback_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Check that a redirect URI is acceptable at all; returns it parsed.
pub fn check_redirect_uri(uri: &str) -> Result<Url, String> {
    let url = Url::parse(uri).map_err(|e| format!("`{uri}` is not an absolute URL: {e}"))?;
    if url.fragment().is_some() {
        return Err(format!("`{uri}` has a fragment; redirect URIs must not"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{uri}` has user info; redirect URIs must not"));
    }
    let scheme = url.scheme();
    if scheme != "https" && scheme != "http" {
        return Err(format!(
            "`{uri}` uses the scheme `{scheme}`; only https or http on loopback is allowed"
        ));
    }
    let host = url.host().ok_or_else(|| format!("`{uri}` has no host"))?;
    if scheme == "http" && !is_loopback_host(&host) {
        return Err(format!(
            "`{uri}` uses http; only https or a loopback address (127.0.0.1, [::1], localhost) is allowed"
        ));
    }
    Ok(url)
}

/// One allowlist entry for dynamically registered clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectPattern {
    /// `loopback`: any http(s) URL on 127.0.0.1, [::1] or localhost, any port and path.
    Loopback,
    /// An exact URL; with `:*` as the port, any port. `text` is as written.
    Exact {
        url: Url,
        any_port: bool,
        text: String,
    },
}

impl FromStr for RedirectPattern {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "loopback" {
            return Ok(RedirectPattern::Loopback);
        }
        let (text, any_port) = match port_wildcard(s) {
            Some(replaced) => (replaced, true),
            None => (s.to_string(), false),
        };
        let url = check_redirect_uri(&text).map_err(|e| format!("redirect pattern {e}"))?;
        Ok(RedirectPattern::Exact {
            url,
            any_port,
            text: s.to_string(),
        })
    }
}

/// `http://localhost:*/cb` → `http://localhost:1/cb` (a placeholder port).
fn port_wildcard(s: &str) -> Option<String> {
    let scheme_end = s.find("://")? + 3;
    let authority_end = s[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(s.len(), |i| scheme_end + i);
    let authority = &s[scheme_end..authority_end];
    let host = authority.strip_suffix(":*")?;
    Some(format!(
        "{}{}:1{}",
        &s[..scheme_end],
        host,
        &s[authority_end..]
    ))
}

impl RedirectPattern {
    /// Whether a (checked) redirect URI matches this pattern.
    pub fn matches(&self, uri: &Url) -> bool {
        match self {
            RedirectPattern::Loopback => uri.host().is_some_and(|h| is_loopback_host(&h)),
            RedirectPattern::Exact { url, any_port, .. } => {
                if *any_port {
                    url.scheme() == uri.scheme()
                        && url.host() == uri.host()
                        && url.path() == uri.path()
                        && url.query() == uri.query()
                } else {
                    url == uri
                }
            }
        }
    }
}

impl fmt::Display for RedirectPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedirectPattern::Loopback => f.write_str("loopback"),
            RedirectPattern::Exact { text, .. } => f.write_str(text),
        }
    }
}

/// Whether the redirect URI of an authorization request matches a registered one:
/// exactly, except that a loopback URI may use any port (RFC 8252 section 7.3).
pub fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(a), Ok(b)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    let loopback = a.host().is_some_and(|h| is_loopback_host(&h)) && a.scheme() == "http";
    loopback
        && a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.path() == b.path()
        && a.query() == b.query()
        && b.fragment().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_redirect_uris() {
        assert!(check_redirect_uri("https://claude.ai/api/mcp/auth_callback").is_ok());
        assert!(check_redirect_uri("http://127.0.0.1:33418/callback").is_ok());
        assert!(check_redirect_uri("http://localhost/cb").is_ok());
        assert!(check_redirect_uri("http://[::1]:9/cb").is_ok());
        for bad in [
            "http://example.com/cb",
            "https://claude.ai/cb#frag",
            "javascript:alert(1)",
            "data:text/html,x",
            "https://user:pw@claude.ai/cb",
            "/relative",
            "cursor://callback",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn matches_patterns() {
        let p = |s: &str| s.parse::<RedirectPattern>().unwrap();
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(p("loopback").matches(&u("http://127.0.0.1:5555/anything")));
        assert!(!p("loopback").matches(&u("https://claude.ai/cb")));
        let claude = p("https://claude.ai/api/mcp/auth_callback");
        assert!(claude.matches(&u("https://claude.ai/api/mcp/auth_callback")));
        assert!(!claude.matches(&u("https://claude.ai/api/mcp/auth_callback/x")));
        assert!(!claude.matches(&u("https://claude.ai.evil.com/api/mcp/auth_callback")));
        let inspector = p("http://localhost:*/oauth/callback");
        assert!(inspector.matches(&u("http://localhost:6274/oauth/callback")));
        assert!(!inspector.matches(&u("http://localhost:6274/other")));
        assert_eq!(inspector.to_string(), "http://localhost:*/oauth/callback");
        assert!("http://example.com/cb".parse::<RedirectPattern>().is_err());
    }

    #[test]
    fn loopback_ports_are_exempt_from_exact_matching() {
        assert!(redirect_matches(
            "http://127.0.0.1:1000/cb",
            "http://127.0.0.1:2000/cb"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1:1000/cb",
            "http://127.0.0.1:2000/other"
        ));
        assert!(!redirect_matches(
            "https://claude.ai/cb",
            "https://claude.ai/cb/"
        ));
        assert!(redirect_matches(
            "https://claude.ai/cb",
            "https://claude.ai/cb"
        ));
        assert!(!redirect_matches(
            "https://a.example:1/cb",
            "https://a.example:2/cb"
        ));
    }
}
