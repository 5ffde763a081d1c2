//! What a provider says about itself (OpenID Connect Discovery) and its signing
//! keys (JWKS), fetched through the egress client and cached.
//!
//! - U-5: discovery's `issuer` must be exactly the configured issuer.
//! - U-9: keys are cached by `kid`; a token signed with a `kid` not in the cache
//!   makes one refetch, at most once per `refetch_interval` (key rotation works,
//!   a stream of made-up `kid`s does not turn into a stream of fetches).

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

use super::error::UpstreamError;
use super::provider::{IssuerRule, Location, ProviderConfig};
use crate::http::egress::{Egress, check_url};

/// The endpoints and abilities of a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub jwks_uri: Option<Url>,
    pub userinfo_endpoint: Option<Url>,
    /// `id_token_signing_alg_values_supported`.
    pub id_token_algs: Vec<String>,
    /// RFC 9207: the provider puts `iss` on its authorization responses.
    pub iss_parameter: bool,
    pub claims_parameter: bool,
    pub token_auth_methods: Vec<String>,
}

#[derive(Deserialize)]
struct Document {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    #[serde(default)]
    jwks_uri: Option<String>,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    #[serde(default)]
    id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    claims_parameter_supported: bool,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

fn endpoint(name: &str, value: &str) -> Result<Url, UpstreamError> {
    let url = Url::parse(value)
        .map_err(|_| UpstreamError::invalid(format!("its {name} `{value}` is not a URL")))?;
    check_url(&url)
        .map_err(|_| UpstreamError::invalid(format!("its {name} `{value}` is not https (U-10)")))?;
    Ok(url)
}

/// Parse and check a discovery document (U-5, U-10).
pub fn parse_document(body: &[u8], rule: &IssuerRule) -> Result<Metadata, UpstreamError> {
    let doc: Document = serde_json::from_slice(body).map_err(|e| {
        UpstreamError::unavailable(format!("its discovery document is not usable: {e}"))
    })?;
    let expected = rule.discovery_issuer();
    if doc.issuer != expected {
        return Err(UpstreamError::invalid(format!(
            "its discovery document names the issuer `{}`, not `{expected}` (U-5)",
            doc.issuer
        )));
    }
    Ok(Metadata {
        authorization_endpoint: endpoint("authorization_endpoint", &doc.authorization_endpoint)?,
        token_endpoint: endpoint("token_endpoint", &doc.token_endpoint)?,
        jwks_uri: doc
            .jwks_uri
            .as_deref()
            .map(|u| endpoint("jwks_uri", u))
            .transpose()?,
        userinfo_endpoint: doc
            .userinfo_endpoint
            .as_deref()
            .map(|u| endpoint("userinfo_endpoint", u))
            .transpose()?,
        issuer: doc.issuer,
        id_token_algs: doc.id_token_signing_alg_values_supported,
        iss_parameter: doc.authorization_response_iss_parameter_supported,
        claims_parameter: doc.claims_parameter_supported,
        // RFC 8414: absent means client_secret_basic.
        token_auth_methods: doc
            .token_endpoint_auth_methods_supported
            .unwrap_or_else(|| vec!["client_secret_basic".into()]),
    })
}

/// A provider's metadata and keys, fetched when needed.
pub struct Discovery {
    metadata: Mutex<Option<(Instant, Arc<Metadata>)>>,
    keys: Mutex<KeyCache>,
    ttl: Duration,
    refetch_interval: Duration,
}

#[derive(Default)]
struct KeyCache {
    keys: Vec<Jwk>,
    fetched_at: Option<Instant>,
}

impl Discovery {
    pub fn new(ttl: Duration, refetch_interval: Duration) -> Discovery {
        Discovery {
            metadata: Mutex::new(None),
            keys: Mutex::new(KeyCache::default()),
            ttl,
            refetch_interval,
        }
    }

    /// The provider's metadata: cached for `ttl`; a failure is never cached.
    pub async fn metadata(
        &self,
        egress: &Egress,
        config: &ProviderConfig,
    ) -> Result<Arc<Metadata>, UpstreamError> {
        let mut cached = self.metadata.lock().await;
        if let Some((at, m)) = cached.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(m.clone());
        }
        let fresh = Arc::new(fetch_metadata(egress, config).await?);
        *cached = Some((Instant::now(), fresh.clone()));
        Ok(fresh)
    }

    /// The key a token names (`kid`), for algorithm `alg` (U-7, U-9).
    pub async fn key(
        &self,
        egress: &Egress,
        jwks_uri: &Url,
        kid: Option<&str>,
        alg: jsonwebtoken::Algorithm,
    ) -> Result<Jwk, UpstreamError> {
        let mut cache = self.keys.lock().await;
        let stale = cache.fetched_at.is_none_or(|at| at.elapsed() >= self.ttl);
        if !stale && let Some(k) = find(&cache.keys, kid, alg) {
            return Ok(k);
        }
        // Unknown kid (rotation) or a stale set: fetch again, but not more than
        // once per interval.
        let may_fetch = cache
            .fetched_at
            .is_none_or(|at| at.elapsed() >= self.refetch_interval);
        if may_fetch {
            cache.keys = fetch_keys(egress, jwks_uri).await?;
            cache.fetched_at = Some(Instant::now());
        }
        find(&cache.keys, kid, alg).ok_or_else(|| {
            UpstreamError::invalid(match kid {
                Some(k) => format!("the ID token is signed with a key (kid `{k}`) the provider does not publish (U-9)"),
                None => "the ID token names no key and the provider publishes no single key for its algorithm".into(),
            })
        })
    }
}

/// Fetch and check the metadata (GitHub has none to fetch: its endpoints are known).
pub async fn fetch_metadata(
    egress: &Egress,
    config: &ProviderConfig,
) -> Result<Metadata, UpstreamError> {
    match &config.location {
        Location::Github {
            issuer,
            authorization_endpoint,
            token_endpoint,
            ..
        } => Ok(Metadata {
            issuer: issuer.clone(),
            authorization_endpoint: authorization_endpoint.clone(),
            token_endpoint: token_endpoint.clone(),
            jwks_uri: None,
            userinfo_endpoint: None,
            id_token_algs: Vec::new(),
            // GitHub sends no `iss` (U-4: the callback path is its defence).
            iss_parameter: false,
            claims_parameter: false,
            token_auth_methods: vec!["client_secret_post".into(), "client_secret_basic".into()],
        }),
        Location::Discovered {
            discovery_url,
            issuer,
        } => {
            let res = egress
                .get(discovery_url, &[("accept", "application/json")])
                .await?;
            if !res.is_success() {
                return Err(UpstreamError::unavailable(format!(
                    "its discovery document answered HTTP {}",
                    res.status
                )));
            }
            parse_document(&res.body, issuer)
        }
    }
}

async fn fetch_keys(egress: &Egress, jwks_uri: &Url) -> Result<Vec<Jwk>, UpstreamError> {
    let res = egress
        .get(jwks_uri, &[("accept", "application/json")])
        .await?;
    if !res.is_success() {
        return Err(UpstreamError::unavailable(format!(
            "its key set answered HTTP {}",
            res.status
        )));
    }
    parse_keys(&res.body)
}

/// The usable keys of a JWKS: asymmetric signing keys (U-7). Keys of types this
/// server does not know are skipped rather than failing the whole set.
pub fn parse_keys(body: &[u8]) -> Result<Vec<Jwk>, UpstreamError> {
    #[derive(Deserialize)]
    struct Set {
        keys: Vec<serde_json::Value>,
    }
    let set: Set = serde_json::from_slice(body)
        .map_err(|e| UpstreamError::unavailable(format!("its key set is not usable: {e}")))?;
    Ok(set
        .keys
        .into_iter()
        .filter_map(|k| serde_json::from_value::<Jwk>(k).ok())
        .filter(|k| {
            family_of(k).is_some()
                && matches!(
                    k.common.public_key_use,
                    None | Some(jsonwebtoken::jwk::PublicKeyUse::Signature)
                )
        })
        .collect())
}

/// The asymmetric family of a key (none for symmetric or unknown keys).
fn family_of(k: &Jwk) -> Option<jsonwebtoken::AlgorithmFamily> {
    use jsonwebtoken::jwk::AlgorithmParameters as P;
    match k.algorithm {
        P::RSA(_) => Some(jsonwebtoken::AlgorithmFamily::Rsa),
        P::EllipticCurve(_) => Some(jsonwebtoken::AlgorithmFamily::Ec),
        P::OctetKeyPair(_) => Some(jsonwebtoken::AlgorithmFamily::Ed),
        _ => None,
    }
}

/// The name an algorithm has in JOSE (`RS256`, `EdDSA`, …).
fn jose_name(value: impl serde::Serialize) -> Option<String> {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
}

/// The key for `kid` (or, without a kid, the only key of the algorithm's
/// family), if its type fits `alg` and its own `alg`, when it names one, is
/// `alg`.
fn find(keys: &[Jwk], kid: Option<&str>, alg: jsonwebtoken::Algorithm) -> Option<Jwk> {
    let fits = |k: &&Jwk| {
        family_of(k).is_some_and(|f| f.algorithms().contains(&alg))
            && k.common
                .key_algorithm
                .is_none_or(|ka| jose_name(ka).is_some_and(|n| Some(n) == jose_name(alg)))
    };
    match kid {
        Some(kid) => keys
            .iter()
            .filter(|k| k.common.key_id.as_deref() == Some(kid))
            .find(fits)
            .cloned(),
        None => {
            let mut candidates = keys.iter().filter(fits);
            match (candidates.next(), candidates.next()) {
                (Some(k), None) => Some(k.clone()),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(issuer: &str) -> Vec<u8> {
        serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": "https://idp.example.com/auth",
            "token_endpoint": "https://idp.example.com/token",
            "jwks_uri": "https://idp.example.com/jwks",
            "id_token_signing_alg_values_supported": ["RS256"],
            "authorization_response_iss_parameter_supported": true,
        })
        .to_string()
        .into_bytes()
    }

    // U-5: discovery's issuer is exactly the configured one.
    #[test]
    fn discovery_issuer_must_match_exactly() {
        let rule = IssuerRule::Exact("https://idp.example.com".into());
        let m = parse_document(&doc("https://idp.example.com"), &rule).unwrap();
        assert!(m.iss_parameter);
        assert_eq!(m.token_auth_methods, ["client_secret_basic"]);
        for other in [
            "https://idp.example.com/",
            "https://IDP.example.com",
            "https://evil.example.com",
        ] {
            let e = parse_document(&doc(other), &rule).unwrap_err();
            assert!(e.to_string().contains("U-5"), "{other}: {e}");
        }
        let http = serde_json::json!({
            "issuer": "https://idp.example.com",
            "authorization_endpoint": "http://idp.example.com/auth",
            "token_endpoint": "https://idp.example.com/token",
        });
        let e = parse_document(http.to_string().as_bytes(), &rule).unwrap_err();
        assert!(e.to_string().contains("U-10"), "{e}");
        assert!(parse_document(b"<html>", &rule).is_err());
    }

    // U-7: symmetric and encryption keys are never used to verify.
    #[test]
    fn only_asymmetric_signing_keys() {
        let body = serde_json::json!({ "keys": [
            { "kty": "oct", "kid": "h", "k": "c2VjcmV0" },
            { "kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB" },
            { "kty": "RSA", "kid": "sig", "use": "sig", "alg": "RS256", "n": "AQAB", "e": "AQAB" },
            { "kty": "unknown", "kid": "x" },
        ]});
        let keys = parse_keys(body.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        use jsonwebtoken::Algorithm::*;
        assert!(find(&keys, Some("sig"), RS256).is_some());
        assert!(
            find(&keys, Some("sig"), RS384).is_none(),
            "the key says RS256"
        );
        assert!(find(&keys, Some("sig"), HS256).is_none());
        assert!(find(&keys, Some("h"), HS256).is_none());
        assert!(find(&keys, None, RS256).is_some(), "the only RSA key");
        assert!(find(&keys, Some("other"), RS256).is_none());
    }
}
