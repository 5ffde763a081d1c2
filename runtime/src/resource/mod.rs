//! The protected resource: every request to `/mcp` (POST, GET, DELETE) carries a
//! bearer token issued by this server for this resource (A-RS-6…A-RS-8); sessions
//! are never a substitute. Failures are 401 with a `WWW-Authenticate` challenge
//! that points at the protected-resource metadata (A-RS-2) and names the scopes
//! (A-RS-5); a tool whose scopes the token lacks is 403 `insufficient_scope`
//! (A-RS-10, checked by the transport with [`Challenge::insufficient_scope`]).

mod verified;

use std::sync::Arc;

use salvo::http::StatusCode;
use salvo::http::header::{self, HeaderValue};
use salvo::prelude::*;
use serde_json::json;

use crate::oauth::OAuth;
use crate::principal::Principal;
use crate::store::AccessStatus;
use verified::{Lookup, VerifiedTokens};

/// Builds `WWW-Authenticate` values (one place, so every variant agrees).
#[derive(Debug, Clone)]
pub struct Challenge {
    pub resource_metadata: String,
    /// The baseline scopes a client should ask for (`scopes_supported`).
    pub scopes: Vec<String>,
}

fn quote(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

impl Challenge {
    /// 401: no token (`error` absent, RFC 6750 3.1) or a bad one (`invalid_token`).
    pub fn unauthorized(&self, invalid: Option<&str>) -> String {
        let mut parts = Vec::new();
        if let Some(description) = invalid {
            parts.push("error=\"invalid_token\"".to_string());
            parts.push(format!("error_description=\"{}\"", quote(description)));
        }
        parts.push(format!(
            "resource_metadata=\"{}\"",
            quote(&self.resource_metadata)
        ));
        if !self.scopes.is_empty() {
            parts.push(format!("scope=\"{}\"", self.scopes.join(" ")));
        }
        format!("Bearer {}", parts.join(", "))
    }

    /// 403 (A-RS-10): the scopes the request needs, including those already
    /// granted, so the client does not lose them when it asks again.
    pub fn insufficient_scope(&self, needed: &[String]) -> String {
        format!(
            "Bearer error=\"insufficient_scope\", scope=\"{}\", resource_metadata=\"{}\", error_description=\"{}\"",
            needed.join(" "),
            quote(&self.resource_metadata),
            "the token lacks a scope this request needs"
        )
    }
}

/// The token of `Authorization: Bearer <token>` (the scheme in any case,
/// RFC 6750 2.1), read as the `headers` crate reads it (the unit test holds
/// the two together), without its copy of the value: on every request, and
/// the value is a token of about 500 bytes. An empty token is none.
fn bearer_token(value: &HeaderValue) -> Option<&str> {
    let bytes = value.as_bytes();
    let scheme = b"Bearer";
    if bytes.len() <= scheme.len()
        || bytes[scheme.len()] != b' '
        || !bytes[..scheme.len()].eq_ignore_ascii_case(scheme)
    {
        return None;
    }
    // A header value holds no control characters, so ASCII is text
    // (`HeaderValue::to_str`'s test), checked a word at a time.
    if !bytes.is_ascii() {
        return None;
    }
    // SAFETY: ASCII is UTF-8. (`str::from_utf8` would read the 500 bytes of
    // a token a second time on every request.)
    let token = unsafe { std::str::from_utf8_unchecked(&bytes[scheme.len() + 1..]) }.trim();
    (!token.is_empty()).then_some(token)
}

/// The bearer check of every request to `/mcp` (`http::mcp_route` calls it).
pub struct BearerAuth {
    oauth: Arc<OAuth>,
    challenge: Challenge,
    verified: VerifiedTokens,
}

impl BearerAuth {
    pub fn new(oauth: Arc<OAuth>) -> BearerAuth {
        let challenge = Challenge {
            resource_metadata: oauth.cfg.resource_metadata_url.clone(),
            scopes: oauth.cfg.scopes.keys().cloned().collect(),
        };
        BearerAuth {
            oauth,
            challenge,
            verified: VerifiedTokens::new(),
        }
    }

    pub fn challenge(&self) -> Challenge {
        self.challenge.clone()
    }

    async fn principal(
        &self,
        authorization: Option<&HeaderValue>,
    ) -> Result<Arc<Principal>, (StatusCode, Option<String>)> {
        let Some(value) = authorization else {
            return Err((StatusCode::UNAUTHORIZED, None));
        };
        let Some(token) = bearer_token(value) else {
            return Err((
                StatusCode::UNAUTHORIZED,
                Some("the Authorization header must be `Bearer <token>`".into()),
            ));
        };
        // A token verified before: no signature check; its revocation status is
        // read again once it is older than a second (verified.rs).
        let epoch = self.oauth.store.revocations();
        let stale = match self.verified.lookup(token, epoch) {
            Lookup::Fresh(v) => return Ok(v.principal.clone()),
            Lookup::Stale(v) => Some(v),
            Lookup::Unknown => None,
        };
        // Boxed: the hoop's own future stays small (it is copied whole on
        // every request), the signature check and store read only when needed.
        Box::pin(self.check(token, stale, epoch)).await
    }

    /// A token the cache cannot vouch for: its signature (unless only its
    /// status is stale) and its status in the store.
    async fn check(
        &self,
        token: &str,
        stale: Option<Arc<verified::Verified>>,
        epoch: u64,
    ) -> Result<Arc<Principal>, (StatusCode, Option<String>)> {
        let (principal, jti, expires_at) = match &stale {
            Some(v) => (v.principal.clone(), v.jti.clone(), v.expires_at),
            None => {
                let claims = self
                    .oauth
                    .keys
                    .verify(token, &self.oauth.cfg.issuer, &self.oauth.cfg.resource)
                    .await
                    .map_err(|e| (StatusCode::UNAUTHORIZED, Some(e.to_string())))?;
                let principal = Arc::new(Principal {
                    user_id: claims.sub,
                    client_id: Some(claims.client_id),
                    scopes: Some(
                        claims
                            .scope
                            .split_whitespace()
                            .map(str::to_string)
                            .collect(),
                    ),
                });
                (principal, claims.jti, claims.exp.saturating_mul(1000))
            }
        };
        let status = self
            .oauth
            .store
            .access_status(
                &jti,
                &principal.user_id,
                principal.client_id.as_deref().unwrap_or(""),
                principal.scopes.as_deref().unwrap_or(&[]),
            )
            .await;
        match status {
            Ok(AccessStatus::Active) => {
                match &stale {
                    Some(v) => self.verified.confirmed(v, epoch),
                    None => self
                        .verified
                        .insert(token, principal.clone(), jti, expires_at, epoch),
                }
                Ok(principal)
            }
            Ok(AccessStatus::Inactive) => {
                self.verified.forget(token);
                Err((
                    StatusCode::UNAUTHORIZED,
                    Some("the token has been revoked or is no longer valid".into()),
                ))
            }
            Err(e) => {
                tracing::error!(error = %e, "store unavailable while checking a token");
                Err((StatusCode::SERVICE_UNAVAILABLE, None))
            }
        }
    }

    /// The caller of a request to `/mcp` with this `Authorization` header
    /// (its first value), or `None` once the refusal (401 with its challenge,
    /// or 503 when the store is down) is written to `res`.
    pub async fn authenticate(
        &self,
        authorization: Option<&HeaderValue>,
        res: &mut Response,
    ) -> Option<Arc<Principal>> {
        match self.principal(authorization).await {
            Ok(p) => Some(p),
            Err((status, reason)) => {
                self.refuse(status, reason, res);
                None
            }
        }
    }

    /// A 401 with its challenge, or a 503 when the store is down. Cold: out
    /// of the hot path's cache lines (`bench/analysis.md`).
    #[cold]
    #[inline(never)]
    fn refuse(&self, status: StatusCode, reason: Option<String>, res: &mut Response) {
        res.status_code(status);
        let body = if status == StatusCode::SERVICE_UNAVAILABLE {
            // The store is down: a JSON-RPC error (as /mcp answers
            // everything) and when to try again.
            res.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(crate::store::OUTAGE_RETRY_AFTER),
            );
            json!({ "jsonrpc": "2.0", "id": null,
                "error": { "code": -32603, "message": "Service Unavailable: try again shortly" } })
        } else {
            if let Ok(v) = HeaderValue::from_str(&self.challenge.unauthorized(reason.as_deref())) {
                res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            match &reason {
                Some(r) => json!({ "error": "invalid_token", "error_description": r }),
                None => {
                    json!({ "error": "unauthorized", "error_description": "authorization required: send a bearer token" })
                }
            }
        };
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let _ = res.write_body(body.to_string());
    }
}

#[cfg(test)]
mod tests {
    use salvo::http::headers::authorization::Bearer;
    use salvo::http::headers::{Authorization, Header};

    use super::*;

    /// A-RS-6: the token is read exactly as the `headers` crate reads it.
    #[test]
    fn bearer_tokens_are_read_as_the_headers_crate_reads_them() {
        let values: [&[u8]; 14] = [
            b"Bearer abc.def.ghi",
            b"bearer abc",
            b"BEARER  abc  ",
            b"Bearer\tabc",
            b"Bearer ",
            b"Bearer    ",
            b"Bearer",
            b"Bearerabc",
            b"Basic YWxhZGRpbjpvcGVuc2VzYW1l",
            b"Bear abc",
            b"",
            b"Bearer caf\xc3\xa9",
            b"Bearer a\x80b",
            b"Bearer a b",
        ];
        for v in values {
            let value = HeaderValue::from_bytes(v).unwrap();
            let theirs = Authorization::<Bearer>::decode(&mut std::iter::once(&value))
                .ok()
                .map(|b| b.token().trim().to_string())
                .filter(|t| !t.is_empty());
            assert_eq!(
                bearer_token(&value).map(str::to_string),
                theirs,
                "{:?}",
                String::from_utf8_lossy(v)
            );
        }
    }
}
