//! The browser an authorization belongs to (issue 12, login CSRF).
//!
//! `/oauth/authorize` gives the browser a pre-authentication cookie (random,
//! HttpOnly, SameSite=Lax, `__Host-` on https) and stores its hash with the
//! pending request. The sign-in and consent pages, their forms and the round
//! trip through a sign-in provider (whose login transactions carry the same
//! binding, U-1) are then only served to that browser: a request id and CSRF
//! token obtained elsewhere, by an attacker who started the request, cannot be
//! used to sign a victim's browser in to the attacker's account.
//!
//! Form posts must also come from this server's own pages: a foreign `Origin`
//! (or, without one, `Sec-Fetch-Site: cross-site`) is refused.

use salvo::http::HeaderMap;
use salvo::http::StatusCode;

use super::error::AuthorizeError;
use super::{OAuth, secrets};
use crate::store::PendingRow;

impl OAuth {
    /// The name of the pre-authentication cookie: `__Host-` on https.
    pub(in crate::oauth) fn browser_cookie(&self) -> &'static str {
        if self.cfg.secure_cookies {
            "__Host-gatehouse_browser"
        } else {
            "gatehouse_browser"
        }
    }

    /// Refuse a pending request that another browser made.
    pub(in crate::oauth) fn check_browser(
        &self,
        pending: &PendingRow,
        browser: Option<&str>,
    ) -> Result<(), AuthorizeError> {
        let Some(bound) = &pending.browser_hash else {
            return Ok(());
        };
        if browser.is_some_and(|b| secrets::matches_hash(b, bound)) {
            return Ok(());
        }
        tracing::warn!("a pending authorization was used from another browser");
        Err(AuthorizeError::Page {
            status: StatusCode::FORBIDDEN,
            title: "Open this sign-in from the app".into(),
            message: "This sign-in was started in another browser (or this browser's cookies were cleared). For your safety it can only be finished where it started. Go back to the app and connect again.".into(),
        })
    }

    /// Whether a form post comes from this server's own pages: its `Origin` is
    /// the issuer's origin; without `Origin`, the browser does not say it is
    /// cross-site (`Sec-Fetch-Site`).
    pub(in crate::oauth) fn posted_by_our_pages(&self, headers: &HeaderMap) -> bool {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        match header("origin") {
            Some(origin) => url::Url::parse(&self.cfg.issuer)
                .is_ok_and(|issuer| issuer.origin().ascii_serialization() == origin),
            None => !matches!(header("sec-fetch-site"), Some("cross-site" | "same-site")),
        }
    }
}

/// A cookie value this server could have made (43 characters of base64url).
pub(in crate::oauth) fn plausible(cookie: &str) -> bool {
    cookie.len() == 43
        && cookie
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_tokens_are_plausible() {
        assert!(plausible(&secrets::random_token()));
        assert!(!plausible("short"));
        assert!(!plausible(&"é".repeat(22)));
        assert!(!plausible(&format!("{};", "a".repeat(42))));
    }
}
