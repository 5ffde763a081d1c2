//! Verifying an ID token (OIDC Core 3.1.3.7) before anyone is signed in with
//! it:
//!
//! - U-7: the algorithm is on the allowlist (what gatehouse verifies ∩ what the
//!   provider advertises), never `none`, never HMAC; the key is the provider's
//!   (JWKS, U-9) and fits the algorithm;
//! - U-5: `iss` is exactly the provider's issuer (Entra `common`: with the
//!   token's allowed `tid` put in);
//! - U-6: `aud` contains our client id; with several audiences `azp` is ours
//!   (and an `azp` that is not ours is refused in any case);
//! - U-8: `exp` in the future and `iat` not in the future nor long past, with a
//!   small leeway;
//! - U-3: `nonce` is the one sent.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::error::UpstreamError;
use super::provider::IssuerRule;

/// Clock leeway for `exp` and `iat`.
pub const LEEWAY: Duration = Duration::from_secs(60);
/// The oldest `iat` accepted: the token was minted for this exchange.
pub const MAX_AGE: Duration = Duration::from_secs(10 * 60);

/// The algorithms gatehouse verifies (asymmetric only, U-7).
pub const VERIFIABLE: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The claims gatehouse reads.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    #[serde(default)]
    pub aud: Audience,
    #[serde(default)]
    pub azp: Option<String>,
    pub exp: i64,
    pub iat: i64,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub email_verified: Option<bool>,
    #[serde(default)]
    pub name: Option<String>,
    /// Entra: the directory and the object id of the user (U-11).
    #[serde(default)]
    pub tid: Option<String>,
    #[serde(default)]
    pub oid: Option<String>,
}

/// `aud`: one string or several.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
    #[default]
    None,
}

impl Audience {
    fn values(&self) -> Vec<&str> {
        match self {
            Audience::One(a) => vec![a.as_str()],
            Audience::Many(v) => v.iter().map(String::as_str).collect(),
            Audience::None => Vec::new(),
        }
    }
}

/// `true`, or `"true"` as some providers send it.
pub fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) => Some(s.eq_ignore_ascii_case("true")),
        _ => None,
    })
}

/// What a token must be, besides well signed.
pub struct Expected<'a> {
    pub issuer: &'a IssuerRule,
    pub client_id: &'a str,
    pub nonce: &'a str,
    /// Now, in seconds since the epoch.
    pub now: i64,
}

/// The algorithm a token claims, if it may be used at all (U-7): one gatehouse
/// verifies and the provider advertises (`id_token_signing_alg_values_supported`;
/// none advertised: RS256, the OIDC default).
pub fn allowed_algorithm(
    token: &str,
    advertised: &[String],
) -> Result<(Algorithm, Option<String>), UpstreamError> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| {
        UpstreamError::invalid(format!(
            "the ID token's header is not acceptable ({e}); `none` and unknown algorithms are refused (U-7)"
        ))
    })?;
    let alg = header.alg;
    let advertised_ok = if advertised.is_empty() {
        alg == Algorithm::RS256
    } else {
        advertised
            .iter()
            .any(|a| a.parse::<Algorithm>().is_ok_and(|x| x == alg))
    };
    if !VERIFIABLE.contains(&alg) || !advertised_ok {
        return Err(UpstreamError::invalid(format!(
            "the ID token is signed with {alg:?}, which is not allowed for this provider (U-7)"
        )));
    }
    Ok((alg, header.kid))
}

/// Check a token's signature with `key` and every claim (U-3, U-5..U-8).
pub fn verify(
    token: &str,
    alg: Algorithm,
    key: &jsonwebtoken::jwk::Jwk,
    expected: &Expected<'_>,
) -> Result<IdClaims, UpstreamError> {
    let key = DecodingKey::from_jwk(key)
        .map_err(|e| UpstreamError::invalid(format!("the provider's key is not usable: {e}")))?;
    let mut validation = Validation::new(alg);
    validation.leeway = LEEWAY.as_secs();
    validation.set_audience(&[expected.client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.validate_nbf = true;
    let data = jsonwebtoken::decode::<IdClaims>(token, &key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind as K;
        UpstreamError::invalid(match e.kind() {
            K::ExpiredSignature => "the ID token has expired (U-8)".to_string(),
            K::ImmatureSignature => "the ID token is not valid yet (U-8)".to_string(),
            K::InvalidAudience => "the ID token was issued to another client (U-6)".to_string(),
            K::InvalidSignature => "the ID token's signature does not verify (U-7)".to_string(),
            K::MissingRequiredClaim(c) => format!("the ID token has no `{c}`"),
            _ => format!("the ID token is not acceptable: {e}"),
        })
    })?;
    let claims = data.claims;
    // U-5.
    let issuer = expected
        .issuer
        .token_issuer(claims.tid.as_deref())
        .map_err(UpstreamError::invalid)?;
    if claims.iss != issuer {
        return Err(UpstreamError::invalid(format!(
            "the ID token was issued by `{}`, not `{issuer}` (U-5)",
            claims.iss
        )));
    }
    // U-6.
    let audiences = claims.aud.values();
    let azp_needed = audiences.len() > 1;
    match claims.azp.as_deref() {
        Some(azp) if azp != expected.client_id => {
            return Err(UpstreamError::invalid(
                "the ID token was issued to another party (azp, U-6)",
            ));
        }
        None if azp_needed => {
            return Err(UpstreamError::invalid(
                "the ID token has several audiences and no azp (U-6)",
            ));
        }
        _ => {}
    }
    // U-8.
    let leeway = LEEWAY.as_secs() as i64;
    if claims.iat > expected.now + leeway {
        return Err(UpstreamError::invalid(
            "the ID token was issued in the future (U-8)",
        ));
    }
    if claims.iat < expected.now - leeway - MAX_AGE.as_secs() as i64 {
        return Err(UpstreamError::invalid(
            "the ID token was issued too long ago (U-8)",
        ));
    }
    // U-3.
    match claims.nonce.as_deref() {
        Some(n) if crate::oauth::secrets::equal(n, expected.nonce) => {}
        _ => {
            return Err(UpstreamError::invalid(
                "the ID token's nonce is not the one this sign-in sent (U-3)",
            ));
        }
    }
    if claims.sub.is_empty() {
        return Err(UpstreamError::invalid("the ID token has an empty subject"));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ed25519_dalek::Signer;
    use serde_json::json;

    use super::*;

    /// An Ed25519 key pair: the signer and its JWK.
    fn keypair() -> (ed25519_dalek::SigningKey, jsonwebtoken::jwk::Jwk) {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let x = URL_SAFE_NO_PAD.encode(sk.verifying_key().as_bytes());
        let jwk =
            serde_json::from_value(json!({ "kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k1" }))
                .unwrap();
        (sk, jwk)
    }

    fn sign(sk: &ed25519_dalek::SigningKey, header: Value, claims: Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = sk.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    const NOW: i64 = 1_900_000_000;

    fn claims() -> Value {
        json!({ "iss": "https://idp.example.com", "sub": "u1", "aud": "gatehouse", "exp": NOW + 300,
                "iat": NOW, "nonce": "n-1", "email": "a@example.com", "email_verified": "true" })
    }

    fn check(token: &str) -> Result<IdClaims, UpstreamError> {
        let (_, jwk) = keypair();
        let rule = IssuerRule::Exact("https://idp.example.com".into());
        let expected = Expected {
            issuer: &rule,
            client_id: "gatehouse",
            nonce: "n-1",
            now: jsonwebtoken::get_current_timestamp() as i64,
        };
        let (alg, _) = allowed_algorithm(token, &["EdDSA".to_string()])?;
        verify(token, alg, &jwk, &expected)
    }

    fn with(change: impl FnOnce(&mut Value)) -> String {
        let (sk, _) = keypair();
        let mut c = claims();
        change(&mut c);
        sign(&sk, json!({ "alg": "EdDSA", "kid": "k1" }), c)
    }

    #[test]
    fn a_good_token_verifies() {
        // jsonwebtoken checks `exp` against the real clock: keep it in the future.
        let (sk, jwk) = keypair();
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let token = sign(
            &sk,
            json!({ "alg": "EdDSA", "kid": "k1" }),
            json!({ "iss": "https://idp.example.com", "sub": "u1", "aud": ["gatehouse", "other"], "azp": "gatehouse",
                    "exp": now + 300, "iat": now, "nonce": "n-1", "email_verified": "true" }),
        );
        let rule = IssuerRule::Exact("https://idp.example.com".into());
        let expected = Expected {
            issuer: &rule,
            client_id: "gatehouse",
            nonce: "n-1",
            now,
        };
        // RS256 is the default when nothing is advertised: EdDSA then is refused.
        assert!(allowed_algorithm(&token, &[]).is_err());
        let (alg, kid) = allowed_algorithm(&token, &["EdDSA".into()]).unwrap();
        assert_eq!(kid.as_deref(), Some("k1"));
        let c = verify(&token, alg, &jwk, &expected).unwrap();
        assert_eq!((c.sub.as_str(), c.email_verified), ("u1", Some(true)));
    }

    // Each rule, broken on purpose.
    #[test]
    fn every_rule_is_enforced() {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let live = |c: &mut Value| {
            c["exp"] = json!(now + 300);
            c["iat"] = json!(now);
        };
        let cases: Vec<(&str, String, &str)> = vec![
            (
                "expired",
                with(|c| {
                    live(c);
                    c["exp"] = json!(now - 3600);
                }),
                "U-8",
            ),
            (
                "issued in the future",
                with(|c| {
                    live(c);
                    c["iat"] = json!(now + 3600);
                }),
                "U-8",
            ),
            (
                "issued long ago",
                with(|c| {
                    live(c);
                    c["iat"] = json!(now - 7200);
                }),
                "U-8",
            ),
            (
                "another audience",
                with(|c| {
                    live(c);
                    c["aud"] = json!("someone-else");
                }),
                "U-6",
            ),
            (
                "several audiences, no azp",
                with(|c| {
                    live(c);
                    c["aud"] = json!(["gatehouse", "x"]);
                }),
                "U-6",
            ),
            (
                "foreign azp",
                with(|c| {
                    live(c);
                    c["azp"] = json!("x");
                }),
                "U-6",
            ),
            (
                "another issuer",
                with(|c| {
                    live(c);
                    c["iss"] = json!("https://evil.example.com");
                }),
                "U-5",
            ),
            (
                "wrong nonce",
                with(|c| {
                    live(c);
                    c["nonce"] = json!("n-2");
                }),
                "U-3",
            ),
            (
                "no nonce",
                with(|c| {
                    live(c);
                    c.as_object_mut().unwrap().remove("nonce");
                }),
                "U-3",
            ),
        ];
        for (what, token, rule) in cases {
            let (sk_alg, _) = allowed_algorithm(&token, &["EdDSA".into()]).unwrap();
            let (_, jwk) = keypair();
            let rule_set = IssuerRule::Exact("https://idp.example.com".into());
            let expected = Expected {
                issuer: &rule_set,
                client_id: "gatehouse",
                nonce: "n-1",
                now,
            };
            let e = verify(&token, sk_alg, &jwk, &expected).unwrap_err();
            assert!(e.to_string().contains(rule), "{what}: {e}");
        }
        // A signature by another key.
        let other = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        let mut c = claims();
        live(&mut c);
        let forged = sign(&other, json!({ "alg": "EdDSA", "kid": "k1" }), c);
        assert!(check(&forged).unwrap_err().to_string().contains("U-7"));
    }

    // U-7: `none` and HMAC are never accepted, whatever the provider says.
    #[test]
    fn none_and_hmac_are_refused() {
        let body = URL_SAFE_NO_PAD.encode(claims().to_string());
        let none = format!("{}.{body}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#));
        assert!(allowed_algorithm(&none, &["none".into()]).is_err());
        let hs = format!(
            "{}.{body}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#)
        );
        let e = allowed_algorithm(&hs, &["HS256".into()]).unwrap_err();
        assert!(e.to_string().contains("U-7"), "{e}");
        let rs = format!(
            "{}.{body}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#)
        );
        assert!(
            allowed_algorithm(&rs, &["ES256".into()]).is_err(),
            "not advertised"
        );
        assert!(allowed_algorithm(&rs, &["RS256".into()]).is_ok());
        let _ = check; // (used above)
    }
}
