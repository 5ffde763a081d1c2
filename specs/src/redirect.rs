//! Redirect-URI rules (MCP-REQUIREMENTS A-AZ-3; RFC 8252; OAuth 2.1 7.12.2).
//!
//! What a redirect URI may be at all ([`check_redirect_uri`]): an absolute URL
//! without fragment or user info that is https, http on a loopback address, or a
//! private-use scheme of a native app (`cursor://…`, RFC 8252 7.1); schemes a
//! browser executes or that reach local files are never allowed.
//!
//! Which ones a server accepts from dynamically registered clients
//! ([`RedirectPattern`], from the spec and the client profiles):
//!
//! | pattern | matches |
//! |---|---|
//! | `https://claude.ai/api/mcp/auth_callback` | exactly that URL |
//! | `https://chatgpt.com/connector/oauth/*` | that URL with exactly one more path segment of safe characters (`A-Z a-z 0-9 - . _ ~`, not `.` or `..`), and nothing after it |
//! | `https://*.example.com/cb` | one DNS label in place of `*` (never more, never none), the rest exact |
//! | `http://localhost:*/cb` | any port, the rest exact |
//! | `cursor://anysphere.cursor-mcp/oauth/callback` | a private-use scheme: exactly that string |
//! | `loopback` | any port and path on `127.0.0.1`, `[::1]` or `localhost` |
//!
//! Matching is on the parsed URL, and except for `loopback` the URI must also
//! be written as its parsed form: so look-alikes (`chatgpt.com.evil.example`,
//! `chatgpt.com@evil.example`, a trailing dot, upper-case hosts, `:443`,
//! percent-encoded slashes, `..` segments) never match.
//!
//! At the authorization endpoint, the redirect URI must be one the client
//! registered, exactly, except that a loopback URI may use any port
//! ([`redirect_matches`], RFC 8252 7.3).

use std::fmt;
use std::str::FromStr;

use url::{Host, Url};

/// The longest redirect URI accepted.
pub const MAX_REDIRECT_URI: usize = 2000;

/// Schemes that must never receive an authorization response: a browser runs
/// them, or they reach local files or the browser's own pages.
pub const DANGEROUS_SCHEMES: [&str; 10] = [
    "javascript",
    "data",
    "file",
    "vbscript",
    "blob",
    "about",
    "filesystem",
    "view-source",
    "ws",
    "wss",
];

/// Network protocols' schemes: not a native app's own scheme (RFC 8252 7.1).
pub const NOT_APP_SCHEMES: [&str; 8] = [
    "ftp", "gopher", "ldap", "ssh", "telnet", "irc", "git", "ldaps",
];

/// Whether a host is a loopback address (or `localhost`).
pub fn is_loopback_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

fn is_loopback(url: &Url) -> bool {
    url.host().is_some_and(|h| is_loopback_host(&h))
}

/// Whether a scheme is a native app's private-use scheme (not https or http).
pub fn is_private_use(url: &Url) -> bool {
    !matches!(url.scheme(), "https" | "http")
}

/// Whether a redirect URI reaches a native app on the device: plain http on
/// loopback, or a private-use scheme (RFC 8252 7.1, 7.3). Any program there
/// can claim it, so it says nothing about which app it is (RFC 8252 8.6).
pub fn is_native_app(url: &Url) -> bool {
    is_private_use(url) || (url.scheme() == "http" && is_loopback(url))
}

/// `uri` shortened for a message (the whole of it can be 2000 characters).
pub fn shown(uri: &str) -> String {
    if uri.chars().count() <= 120 {
        uri.to_string()
    } else {
        format!("{}…", uri.chars().take(120).collect::<String>())
    }
}

/// Check that a redirect URI is acceptable at all; returns it parsed.
pub fn check_redirect_uri(uri: &str) -> Result<Url, String> {
    let s = shown(uri);
    if uri.len() > MAX_REDIRECT_URI {
        return Err(format!(
            "`{s}` is longer than {MAX_REDIRECT_URI} characters"
        ));
    }
    if uri.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "`{}` contains spaces or control characters",
            s.escape_debug()
        ));
    }
    let url = Url::parse(uri).map_err(|e| format!("`{s}` is not an absolute URL: {e}"))?;
    if url.fragment().is_some() {
        return Err(format!("`{s}` has a fragment; redirect URIs must not"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{s}` has user info; redirect URIs must not"));
    }
    let scheme = url.scheme();
    if DANGEROUS_SCHEMES.contains(&scheme) {
        return Err(format!(
            "`{s}` uses the scheme `{scheme}`, which never receives an authorization response"
        ));
    }
    if NOT_APP_SCHEMES.contains(&scheme) {
        return Err(format!(
            "`{s}` uses `{scheme}`, a network protocol, not an app's own scheme; only https, http on loopback or an app's scheme is allowed"
        ));
    }
    if url.cannot_be_a_base() {
        return Err(format!(
            "`{s}` is not a URL an authorization response can go to (`{scheme}:` has no path)"
        ));
    }
    match scheme {
        "https" if url.host().is_none() => Err(format!("`{s}` has no host")),
        "http" if !is_loopback(&url) => Err(format!(
            "`{s}` uses http; only https, http on a loopback address (127.0.0.1, [::1], localhost) or an app's own scheme is allowed"
        )),
        _ => Ok(url),
    }
}

/// One allowlist entry for dynamically registered clients (see the module's table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectPattern {
    /// `loopback`: any http(s) URL on `127.0.0.1`, `[::1]` or `localhost`, any port and path.
    Loopback,
    /// Exactly this URL.
    Exact { url: Url, text: String },
    /// Any port (`:*`); everything else exact.
    AnyPort { url: Url, text: String },
    /// `…/*`: `base` plus exactly one safe path segment.
    Segment { base: Url, text: String },
    /// `https://*.example.com/…`: one DNS label, then `suffix` (`example.com`),
    /// the rest as in `url`.
    Subdomain {
        suffix: String,
        url: Url,
        text: String,
    },
    /// A private-use scheme's URI, matched as a string.
    PrivateUse { text: String },
}

/// Replace the pattern's port wildcard: `http://localhost:*/cb` →
/// `http://localhost:1/cb` (a placeholder port).
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

/// The URL as it must be written to match a pattern: its own parsed form.
fn canonical(raw: &str, url: &Url) -> bool {
    raw == url.as_str()
}

/// A path segment a `*` may stand for.
fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.len() <= 200
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A DNS label `*.` may stand for.
fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl FromStr for RedirectPattern {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "loopback" {
            return Ok(RedirectPattern::Loopback);
        }
        let text = s.to_string();
        let bad = |why: &str| format!("redirect pattern `{s}` {why}");
        if let Some(replaced) = port_wildcard(s) {
            let url = check_redirect_uri(&replaced).map_err(|e| format!("redirect pattern {e}"))?;
            if is_private_use(&url) {
                return Err(bad(
                    "has a port wildcard; an app's own scheme is matched exactly",
                ));
            }
            return Ok(RedirectPattern::AnyPort { url, text });
        }
        if let Some(rest) = s.strip_prefix("https://*.") {
            let url = check_redirect_uri(&format!("https://wildcard.{rest}"))
                .map_err(|e| format!("redirect pattern {e}"))?;
            let host = url.host_str().unwrap_or_default();
            let suffix = host
                .strip_prefix("wildcard.")
                .unwrap_or_default()
                .to_string();
            if suffix.split('.').count() < 2 || suffix.contains('*') {
                return Err(bad(
                    "must name a registrable domain after `*.` (e.g. `*.example.com`)",
                ));
            }
            if !canonical(&format!("https://wildcard.{rest}"), &url) {
                return Err(bad(
                    "is not written in its normal form (lower-case host, no default port, no `..`)",
                ));
            }
            return Ok(RedirectPattern::Subdomain { suffix, url, text });
        }
        if s.contains('*') {
            let Some(base) = s.strip_suffix("/*") else {
                return Err(bad(
                    "may only use `*` as its whole last path segment (`…/oauth/*`), as the first host label (`https://*.example.com/…`), or as the port (`:*`)",
                ));
            };
            let base_url = check_redirect_uri(&format!("{base}/x"))
                .map_err(|e| format!("redirect pattern {e}"))?;
            if base.contains('*') || base_url.query().is_some() || is_private_use(&base_url) {
                return Err(bad(
                    "may only use one `*`, for the last path segment of an https URL",
                ));
            }
            if !canonical(&format!("{base}/x"), &base_url) {
                return Err(bad(
                    "is not written in its normal form (lower-case host, no default port, no `..`)",
                ));
            }
            return Ok(RedirectPattern::Segment {
                base: base_url,
                text,
            });
        }
        let url = check_redirect_uri(s).map_err(|e| format!("redirect pattern {e}"))?;
        if is_private_use(&url) {
            return Ok(RedirectPattern::PrivateUse { text });
        }
        if !canonical(s, &url) && !is_loopback(&url) {
            return Err(bad(
                "is not written in its normal form (lower-case host, no default port, no `..`)",
            ));
        }
        Ok(RedirectPattern::Exact { url, text })
    }
}

impl RedirectPattern {
    /// Whether a redirect URI (`raw` as the client wrote it, `uri` as
    /// [`check_redirect_uri`] parsed it) matches this pattern.
    pub fn matches(&self, raw: &str, uri: &Url) -> bool {
        // Never a fragment (RFC 6749 3.1.2) or credentials, whatever the
        // pattern (registration refuses them too; this holds on its own).
        if uri.fragment().is_some() || !uri.username().is_empty() || uri.password().is_some() {
            return false;
        }
        match self {
            RedirectPattern::Loopback => is_loopback(uri),
            RedirectPattern::PrivateUse { text } => raw == text,
            RedirectPattern::Exact { url, .. } => {
                (canonical(raw, uri) || is_loopback(uri)) && url == uri
            }
            RedirectPattern::AnyPort { url, .. } => {
                (canonical(raw, uri) || is_loopback(uri))
                    && url.scheme() == uri.scheme()
                    && url.host() == uri.host()
                    && url.path() == uri.path()
                    && url.query() == uri.query()
            }
            RedirectPattern::Segment { base, .. } => {
                let parent = |u: &Url| {
                    let mut segs: Vec<String> = u
                        .path_segments()
                        .map(|s| s.map(str::to_string).collect())
                        .unwrap_or_default();
                    let last = segs.pop();
                    (segs, last)
                };
                let (want, _) = parent(base);
                let (have, last) = parent(uri);
                canonical(raw, uri)
                    && uri.scheme() == base.scheme()
                    && uri.host() == base.host()
                    && uri.port() == base.port()
                    && uri.query().is_none()
                    && have == want
                    && last.as_deref().is_some_and(safe_segment)
            }
            RedirectPattern::Subdomain { suffix, url, .. } => {
                let label = uri
                    .host_str()
                    .and_then(|h| h.strip_suffix(suffix.as_str()))
                    .and_then(|h| h.strip_suffix('.'));
                canonical(raw, uri)
                    && label.is_some_and(dns_label)
                    && uri.scheme() == url.scheme()
                    && uri.port() == url.port()
                    && uri.path() == url.path()
                    && uri.query() == url.query()
            }
        }
    }

    /// Whether this pattern only admits loopback URIs (any local program can
    /// listen there, so such a match says nothing about which app it is).
    pub fn is_loopback_only(&self) -> bool {
        match self {
            RedirectPattern::Loopback => true,
            RedirectPattern::Exact { url, .. } | RedirectPattern::AnyPort { url, .. } => {
                is_loopback(url)
            }
            _ => false,
        }
    }
}

impl fmt::Display for RedirectPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedirectPattern::Loopback => f.write_str("loopback"),
            RedirectPattern::Exact { text, .. }
            | RedirectPattern::AnyPort { text, .. }
            | RedirectPattern::Segment { text, .. }
            | RedirectPattern::Subdomain { text, .. }
            | RedirectPattern::PrivateUse { text } => f.write_str(text),
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
    let loopback = is_loopback(&a) && a.scheme() == "http";
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
    fn native_apps_are_loopback_http_or_their_own_scheme() {
        let native = |u: &str| is_native_app(&Url::parse(u).unwrap());
        assert!(
            native("http://127.0.0.1:4000/cb")
                && native("http://localhost/cb")
                && native("http://[::1]:9/cb")
        );
        assert!(native("cursor://anysphere.cursor-mcp/oauth/callback"));
        assert!(
            !native("https://127.0.0.1/cb"),
            "https is a web origin, not a native app's claim"
        );
        assert!(
            !native("http://example.com/cb") && !native("https://claude.ai/api/mcp/auth_callback")
        );
    }

    fn p(s: &str) -> RedirectPattern {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// Whether `uri` is a redirect URI at all and matches `pattern`.
    fn admits(pattern: &str, uri: &str) -> bool {
        check_redirect_uri(uri).is_ok_and(|u| p(pattern).matches(uri, &u))
    }

    #[test]
    fn checks_redirect_uris() {
        for ok in [
            "https://claude.ai/api/mcp/auth_callback",
            "http://127.0.0.1:33418/callback",
            "http://localhost/cb",
            "http://[::1]:9/cb",
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(check_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/cb",
            "https://claude.ai/cb#frag",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,x",
            "file:///etc/passwd",
            "vbscript:msgbox(1)",
            "blob:https://claude.ai/1234",
            "about:blank",
            "https://user:pw@claude.ai/cb",
            "/relative",
            "https://claude.ai/cb\n",
            "urn:ietf:wg:oauth:2.0:oob",
            "mailto:a@example.com",
            "ftp://example.com/cb",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
        let long = format!("https://claude.ai/{}", "a".repeat(MAX_REDIRECT_URI));
        assert!(
            check_redirect_uri(&long).unwrap_err().len() < 300,
            "long URIs are shortened in messages"
        );
    }

    #[test]
    fn exact_patterns() {
        let claude = "https://claude.ai/api/mcp/auth_callback";
        assert!(admits(claude, claude));
        for lookalike in [
            "https://claude.ai/api/mcp/auth_callback/x",
            "https://claude.ai/api/mcp/auth_callback?x=1",
            "https://claude.ai.evil.example/api/mcp/auth_callback",
            "https://claude.ai@evil.example/api/mcp/auth_callback",
            "https://claude.ai./api/mcp/auth_callback",
            "https://CLAUDE.ai/api/mcp/auth_callback",
            "https://claude.ai:443/api/mcp/auth_callback",
            "https://claude.ai/api/mcp/x/../auth_callback",
            "https://claude.ai/api%2Fmcp/auth_callback",
            "http://claude.ai/api/mcp/auth_callback",
        ] {
            assert!(!admits(claude, lookalike), "{lookalike}");
        }
        let inspector = "http://localhost:*/oauth/callback";
        assert!(admits(inspector, "http://localhost:6274/oauth/callback"));
        assert!(!admits(inspector, "http://localhost:6274/other"));
        assert_eq!(p(inspector).to_string(), inspector);
        assert!("http://example.com/cb".parse::<RedirectPattern>().is_err());
        assert!(
            "https://Claude.ai/cb".parse::<RedirectPattern>().is_err(),
            "patterns are written normally"
        );
    }

    // One path segment wildcard: exactly one safe segment, nothing after it.
    #[test]
    fn segment_wildcards() {
        let chatgpt = "https://chatgpt.com/connector/oauth/*";
        assert!(admits(
            chatgpt,
            "https://chatgpt.com/connector/oauth/OUbdUMlL15Ct"
        ));
        assert!(admits(
            chatgpt,
            "https://chatgpt.com/connector/oauth/abc-DEF_1.2~3"
        ));
        for lookalike in [
            "https://chatgpt.com/connector/oauth/",
            "https://chatgpt.com/connector/oauth",
            "https://chatgpt.com/connector/oauth/a/b",
            "https://chatgpt.com/connector/oauth/a/",
            "https://chatgpt.com/connector/oauth/a?x=1",
            "https://chatgpt.com/connector/oauth/..",
            "https://chatgpt.com/connector/oauth/.",
            "https://chatgpt.com/connector/oauth/../../evil",
            "https://chatgpt.com/connector/oauth/a%2Fb",
            "https://chatgpt.com/connector/oauth/a%2F..%2Fb",
            "https://chatgpt.com/connector/oauth/%E2%80%AE",
            "https://chatgpt.com.evil.example/connector/oauth/a",
            "https://chatgpt.com@evil.example/connector/oauth/a",
            "https://chatgpt.com./connector/oauth/a",
            "https://ChatGPT.com/connector/oauth/a",
            "https://chatgpt.com/Connector/oauth/a",
            "https://chatgpt.com:8443/connector/oauth/a",
            "http://chatgpt.com/connector/oauth/a",
            "https://evil.example/connector/oauth/a",
        ] {
            assert!(!admits(chatgpt, lookalike), "{lookalike}");
        }
        for bad in [
            "https://chatgpt.com/*/oauth",
            "https://chatgpt.com/connector/oauth/*/cb",
            "https://chatgpt.com/connector/*/*",
            "https://chatgpt.com/connector/oauth/x*",
            "https://*/cb",
            "https://*.com/cb",
            "cursor://*",
            "https://chatgpt.com/connector/oauth/*?x=1",
        ] {
            assert!(bad.parse::<RedirectPattern>().is_err(), "{bad}");
        }
    }

    // Hosts only ever widen by an explicit `*.example.com`: one label.
    #[test]
    fn subdomain_wildcards() {
        let pattern = "https://*.example.com/cb";
        assert!(admits(pattern, "https://tenant-1.example.com/cb"));
        for lookalike in [
            "https://example.com/cb",
            "https://a.b.example.com/cb",
            "https://evil-example.com/cb",
            "https://a.example.com.evil.example/cb",
            "https://a.example.com/cb/x",
            "https://-a.example.com/cb",
            "https://A.example.com/cb",
            "http://a.example.com/cb",
        ] {
            assert!(!admits(pattern, lookalike), "{lookalike}");
        }
    }

    // RFC 8252 7.1: an app's own scheme, by exact URI only.
    #[test]
    fn private_use_schemes() {
        let cursor = "cursor://anysphere.cursor-mcp/oauth/callback";
        assert!(admits(cursor, cursor));
        for lookalike in [
            "cursor://anysphere.cursor-mcp/oauth/callback/x",
            "cursor://anysphere.cursor-mcp/oauth/callback?x=1",
            "cursor://anysphere.cursor-mcp/oauth/../oauth/callback",
            "cursor://ANYSPHERE.cursor-mcp/oauth/callback",
            "cursors://anysphere.cursor-mcp/oauth/callback",
            "cursor://anysphere.cursor-mcp.evil/oauth/callback",
        ] {
            assert!(!admits(cursor, lookalike), "{lookalike}");
        }
        for dangerous in [
            "javascript:alert(1)",
            "data:text/html,x",
            "file:///x",
            "about:blank",
            "blob:x",
        ] {
            assert!(dangerous.parse::<RedirectPattern>().is_err(), "{dangerous}");
        }
        assert!(!p(cursor).is_loopback_only());
        assert!(p("loopback").is_loopback_only());
        assert!(p("http://localhost:*/cb").is_loopback_only());
        assert!(!p("https://chatgpt.com/connector/oauth/*").is_loopback_only());
    }

    #[test]
    fn loopback() {
        for ok in [
            "http://127.0.0.1:5555/anything",
            "http://localhost:8787/callback",
            "http://127.0.0.1/",
            "http://[::1]:1/x/y",
        ] {
            assert!(admits("loopback", ok), "{ok}");
        }
        for no in [
            "https://claude.ai/cb",
            "http://127.0.0.1.evil.example/cb",
            "http://localhost.evil.example/cb",
        ] {
            assert!(!admits("loopback", no), "{no}");
        }
    }

    #[test]
    fn loopback_ports_are_exempt_from_exact_matching() {
        assert!(redirect_matches(
            "http://127.0.0.1:1000/cb",
            "http://127.0.0.1:2000/cb"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1/",
            "http://127.0.0.1:59656/"
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
        assert!(!redirect_matches("cursor://a/cb", "cursor://a/cb/"));
    }
}
