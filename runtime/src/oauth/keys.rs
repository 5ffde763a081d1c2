//! Signing keys and access tokens. Keys are Ed25519 (JWS `EdDSA`), generated on
//! first start and kept in the store so every replica signs and verifies with the
//! same ones; `keys rotate` retires the current key, which stays in the JWKS until
//! the tokens it signed have expired. Access tokens are RFC 9068 JWTs
//! (`typ: at+jwt`). Ed25519 signatures are deterministic, which lets a retried
//! refresh be answered with the very same token.
//!
//! Private keys at rest: sealed with the key derived from `GATEHOUSE_SECRET_KEY`
//! (`sealing.rs`) when it is set, so a copy of the database alone signs
//! nothing; without it they are stored as they are and the server says so at
//! start-up. Keys stored before the variable was set are sealed at the next
//! start; `keys rewrap` moves them to a new secret.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::sealing::{SealError, Sealer};
use crate::store::{KeyRow, Store, StoreError, StoreResult, now_ms};

/// Why the signing keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A sealed key does not open with this server's secret key.
    #[error(
        "signing key {kid} cannot be opened ({error}); if GATEHOUSE_SECRET_KEY changed, run `keys rewrap` with the old one in GATEHOUSE_PREVIOUS_SECRET_KEY"
    )]
    Sealed {
        /// The key's id.
        kid: String,
        /// Why it did not open.
        error: SealError,
    },
    /// A key is sealed and no secret key is set to open it.
    #[error("signing key {0} is sealed, and GATEHOUSE_SECRET_KEY is not set")]
    NoSecret(String),
}

/// What a stored private key is bound to when sealed.
fn seal_context(kid: &str) -> String {
    format!("signing-key|{kid}")
}

/// A stored private key, opened: its PKCS#8 DER, base64.
fn open_private(row: &KeyRow, sealer: Option<&Sealer>) -> Result<String, KeysError> {
    if !row.private_der.starts_with("v1.") {
        return Ok(row.private_der.clone());
    }
    let sealer = sealer.ok_or_else(|| KeysError::NoSecret(row.kid.clone()))?;
    sealer
        .open(&row.private_der, &seal_context(&row.kid))
        .map_err(|error| KeysError::Sealed {
            kid: row.kid.clone(),
            error,
        })
}

/// The claims of an access token (RFC 9068 section 2.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    /// The internal user id.
    pub sub: String,
    /// The protected resource (the MCP endpoint URL).
    pub aud: String,
    pub client_id: String,
    /// Space-separated.
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// Why a token was refused (the `error_description` of the 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token is not an access token (typ must be at+jwt)")]
    WrongType,
    #[error("the token's algorithm is not accepted")]
    WrongAlgorithm,
    #[error("the token was signed with an unknown key")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token was issued for another resource")]
    WrongAudience,
    #[error("the token was issued by another server")]
    WrongIssuer,
}

struct KeySet {
    /// The key new tokens are signed with.
    active: Option<String>,
    signers: HashMap<String, EncodingKey>,
    verifiers: HashMap<String, DecodingKey>,
    jwks: Value,
    loaded: Instant,
}

pub struct Keys {
    store: Store,
    /// How long a retired key stays published (the access token lifetime).
    publish_retired_for: Duration,
    /// Seals private keys at rest (`GATEHOUSE_SECRET_KEY`).
    sealer: Option<Sealer>,
    set: RwLock<KeySet>,
}

/// The RFC 7638 thumbprint of an Ed25519 public key: its `kid`.
fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// A new Ed25519 key, ready to store (sealed when there is a sealer).
pub fn generate_key(now: i64, sealer: Option<&Sealer>) -> KeyRow {
    let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let der = signing
        .to_pkcs8_der()
        .expect("an Ed25519 key encodes as PKCS#8");
    let x = URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes());
    let kid = thumbprint(&x);
    let plain = STANDARD.encode(der.as_bytes());
    KeyRow {
        private_der: match sealer {
            Some(s) => s.seal(&plain, &seal_context(&kid)),
            None => plain,
        },
        kid,
        alg: "EdDSA".into(),
        public_x: x,
        created_at: now,
        retired_at: None,
    }
}

impl Keys {
    /// Load the keys, creating the first one if the store has none; with a
    /// sealer, keys stored in the clear are sealed first.
    pub async fn load(
        store: Store,
        publish_retired_for: Duration,
        sealer: Option<Sealer>,
    ) -> Result<Keys, KeysError> {
        if let Some(s) = &sealer {
            let sealed = rewrap(&store, s, &[]).await?;
            if sealed > 0 {
                tracing::info!(
                    keys = sealed,
                    "signing keys sealed with GATEHOUSE_SECRET_KEY"
                );
            }
        }
        let keys = Keys {
            store,
            publish_retired_for,
            sealer,
            set: RwLock::new(KeySet {
                active: None,
                signers: HashMap::new(),
                verifiers: HashMap::new(),
                jwks: json!({ "keys": [] }),
                loaded: Instant::now(),
            }),
        };
        keys.load_set().await?;
        if keys.set.read().expect("keys lock").active.is_none() {
            keys.store
                .insert_signing_key(&generate_key(now_ms(), keys.sealer.as_ref()))
                .await?;
            keys.load_set().await?;
        }
        Ok(keys)
    }

    /// Re-read the keys from the store (a rotation on another replica).
    pub async fn reload(&self) -> StoreResult<()> {
        match self.load_set().await {
            Ok(()) => Ok(()),
            Err(KeysError::Store(e)) => Err(e),
            // A key another replica wrote that this one cannot open: keep the
            // keys it has, and say why.
            Err(e) => {
                tracing::error!(error = %e, "signing keys not reloaded");
                Ok(())
            }
        }
    }

    async fn load_set(&self) -> Result<(), KeysError> {
        let rows = self.store.signing_keys().await?;
        let now = now_ms();
        let horizon = now - self.publish_retired_for.as_millis() as i64;
        let mut set = KeySet {
            active: None,
            signers: HashMap::new(),
            verifiers: HashMap::new(),
            jwks: json!({ "keys": [] }),
            loaded: Instant::now(),
        };
        let mut published = Vec::new();
        for row in rows {
            if row.alg != "EdDSA" {
                continue;
            }
            let private = open_private(&row, self.sealer.as_ref())?;
            let Ok(der) = STANDARD.decode(&private) else {
                tracing::error!(kid = %row.kid, "a stored signing key is corrupt; skipped");
                continue;
            };
            let Ok(verifier) = DecodingKey::from_ed_components(&row.public_x) else {
                continue;
            };
            let encoding = EncodingKey::from_ed_der(&der);
            if row.retired_at.is_none() && set.active.is_none() {
                set.active = Some(row.kid.clone());
            }
            if row.retired_at.is_none_or(|r| r > horizon) {
                published.push(json!({
                    "kty": "OKP", "crv": "Ed25519", "x": row.public_x,
                    "kid": row.kid, "alg": "EdDSA", "use": "sig",
                }));
                set.verifiers.insert(row.kid.clone(), verifier);
            }
            set.signers.insert(row.kid, encoding);
        }
        set.jwks = json!({ "keys": published });
        *self.set.write().expect("keys lock") = set;
        Ok(())
    }

    /// Reload if the cache is older than `max_age`.
    pub async fn refresh_if_older(&self, max_age: Duration) -> StoreResult<()> {
        let stale = self.set.read().expect("keys lock").loaded.elapsed() > max_age;
        if stale { self.reload().await } else { Ok(()) }
    }

    pub fn jwks(&self) -> Value {
        self.set.read().expect("keys lock").jwks.clone()
    }

    /// The key new tokens are signed with.
    pub fn active_kid(&self) -> Option<String> {
        self.set.read().expect("keys lock").active.clone()
    }

    /// Sign with the key `kid` (the active key for new tokens; the recorded key
    /// when re-issuing a token for a retried refresh).
    pub fn sign(&self, kid: &str, claims: &AccessClaims) -> Option<String> {
        let set = self.set.read().expect("keys lock");
        let key = set.signers.get(kid)?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("at+jwt".into());
        header.kid = Some(kid.to_string());
        jsonwebtoken::encode(&header, claims, key).ok()
    }

    fn verifier(&self, kid: &str) -> Option<DecodingKey> {
        self.set
            .read()
            .expect("keys lock")
            .verifiers
            .get(kid)
            .cloned()
    }

    /// Verify an access token's form, signature, issuer, audience and expiry (the
    /// store decides about revocation). A token signed by a key this process has not
    /// seen yet triggers one reload (a key rotated on another replica).
    pub async fn verify(
        &self,
        token: &str,
        issuer: &str,
        audience: &str,
    ) -> Result<AccessClaims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::WrongAlgorithm);
        }
        let typ_ok = header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(TokenError::WrongType);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let mut key = self.verifier(&kid);
        if key.is_none() && self.refresh_if_older(Duration::from_secs(5)).await.is_ok() {
            key = self.verifier(&kid);
        }
        let key = key.ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        match jsonwebtoken::decode::<AccessClaims>(token, &key, &validation) {
            Ok(data) => Ok(data.claims),
            Err(e) => Err(match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                jsonwebtoken::errors::ErrorKind::InvalidAudience => TokenError::WrongAudience,
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::BadSignature,
                _ => TokenError::Malformed,
            }),
        }
    }
}

/// Retire every key in use and create a new one (`keys rotate`).
pub async fn rotate(store: &Store, sealer: Option<&Sealer>) -> StoreResult<String> {
    let now = now_ms();
    store.retire_signing_keys(now).await?;
    let key = generate_key(now + 1, sealer);
    store.insert_signing_key(&key).await?;
    crate::audit::record(
        store,
        crate::audit::Entry::new(crate::audit::Event::KeyRotation, "success")
            .detail(format!("new key {}", key.kid)),
    )
    .await;
    Ok(key.kid)
}

/// Seal every stored private key with `to`: keys in the clear, and keys sealed
/// with one of `from` (earlier secrets). How many were (re)sealed; a key that
/// no given secret opens is an error.
pub async fn rewrap(store: &Store, to: &Sealer, from: &[Sealer]) -> Result<usize, KeysError> {
    let mut changed = 0;
    for row in store.signing_keys().await? {
        let ctx = seal_context(&row.kid);
        if row.private_der.starts_with("v1.") && to.open(&row.private_der, &ctx).is_ok() {
            continue;
        }
        let plain = if row.private_der.starts_with("v1.") {
            from.iter()
                .find_map(|s| s.open(&row.private_der, &ctx).ok())
                .ok_or_else(|| KeysError::Sealed {
                    kid: row.kid.clone(),
                    error: SealError::OtherKey,
                })?
        } else {
            row.private_der.clone()
        };
        store
            .set_signing_key_private(&row.kid, &to.seal(&plain, &ctx))
            .await?;
        changed += 1;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kids_are_rfc7638_thumbprints() {
        // RFC 8037 appendix A.3.
        assert_eq!(
            thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        let k = generate_key(0, None);
        assert_eq!(k.kid, thumbprint(&k.public_x));
        let sealer = Sealer::from_secret(&"s".repeat(32));
        let sealed = generate_key(0, Some(&sealer));
        assert!(sealed.private_der.starts_with("v1."));
        let opened = open_private(&sealed, Some(&sealer)).unwrap();
        assert!(STANDARD.decode(opened).is_ok());
        assert!(matches!(
            open_private(&sealed, None),
            Err(KeysError::NoSecret(_))
        ));
        let other = Sealer::from_secret(&"t".repeat(32));
        assert!(matches!(
            open_private(&sealed, Some(&other)),
            Err(KeysError::Sealed { .. })
        ));
    }
}
