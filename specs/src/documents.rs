//! Client ID Metadata Documents: which URLs may name a client (MODERN.md M-2)
//! and which of them a server accepts (`client_metadata_documents.allow`).
//! Shared by the spec checks and the authorization server.

use url::Url;

use crate::redirect::is_loopback_host;

/// A URL client id as the draft requires it: https, a host, a path beyond
/// `/`, no user info, no fragment, no `.` or `..` segments. With `loopback`
/// (tests only), `http://` to a loopback address is accepted too.
pub fn check_document_url(client_id: &str, loopback: bool) -> Result<Url, String> {
    let url = Url::parse(client_id).map_err(|e| format!("`{client_id}` is not a URL: {e}"))?;
    let local_http =
        loopback && url.scheme() == "http" && url.host().is_some_and(|h| is_loopback_host(&h));
    if url.scheme() != "https" && !local_http {
        return Err(format!("`{client_id}` is not an https URL"));
    }
    if url.host().is_none() {
        return Err(format!("`{client_id}` has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{client_id}` carries user information"));
    }
    if client_id.contains('#') {
        return Err(format!("`{client_id}` has a fragment"));
    }
    // The parser removes dot segments; the string must not have had any.
    let raw_path = client_id
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("");
    let raw_path = raw_path.split(['?', '#']).next().unwrap_or("");
    if raw_path.split('/').any(|s| {
        s == "." || s == ".." || s.eq_ignore_ascii_case("%2e") || s.eq_ignore_ascii_case("%2e%2e")
    }) {
        return Err(format!("`{client_id}` has dot segments in its path"));
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err(format!("`{client_id}` has no path"));
    }
    Ok(url)
}

/// Whether `url` matches `pattern`: equal, or equal where each `*` of the
/// pattern stands for any run of characters other than `/`.
pub fn url_matches(pattern: &str, url: &str) -> bool {
    fn go(p: &[u8], u: &[u8]) -> bool {
        match p.split_first() {
            None => u.is_empty(),
            Some((b'*', rest)) => {
                // Any run of non-slash characters, shortest first.
                let mut i = 0;
                loop {
                    if go(rest, &u[i..]) {
                        return true;
                    }
                    if i == u.len() || u[i] == b'/' {
                        return false;
                    }
                    i += 1;
                }
            }
            Some((c, rest)) => u.first() == Some(c) && go(rest, &u[1..]),
        }
    }
    go(pattern.as_bytes(), url.as_bytes())
}

/// A pattern of `allow`: what it must look like.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    if !pattern.starts_with("https://") {
        return Err(format!("`{pattern}` must start with https://"));
    }
    if pattern.matches('*').count() > 4 {
        return Err(format!("`{pattern}` has more than four `*`"));
    }
    Url::parse(&pattern.replace('*', "x"))
        .map(|_| ())
        .map_err(|e| format!("`{pattern}` is not a URL pattern: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_urls() {
        assert!(
            check_document_url("https://claude.ai/oauth/mcp-oauth-client-metadata", false).is_ok()
        );
        for bad in [
            "http://example.com/client",
            "https://example.com",
            "https://example.com/",
            "https://user@example.com/client",
            "https://example.com/client#x",
            "https://example.com/a/../client",
            "https://example.com/a/./client",
            "https://example.com/a/%2E%2E/client",
            "ftp://example.com/client",
            "not a url",
        ] {
            assert!(check_document_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_document_url("http://127.0.0.1:9/client", false).is_err());
        assert!(check_document_url("http://127.0.0.1:9/client", true).is_ok());
        assert!(check_document_url("http://example.com/client", true).is_err());
    }

    #[test]
    fn patterns() {
        assert!(url_matches("https://a.example/x", "https://a.example/x"));
        assert!(url_matches(
            "https://*.example/oauth/*",
            "https://app.example/oauth/client"
        ));
        assert!(!url_matches(
            "https://*.example/oauth/*",
            "https://app.example/oauth/a/b"
        ));
        assert!(!url_matches(
            "https://*.example/oauth/*",
            "https://evil.com/.example/oauth/x"
        ));
        assert!(!url_matches("https://a.example/x", "https://a.example/xy"));
        assert!(check_pattern("https://*.example/*").is_ok());
        assert!(check_pattern("http://a.example/*").is_err());
    }
}
