//! Encryption of what the store keeps for later use and must not give away to
//! someone who can only read the database (upstream access and refresh tokens,
//! U-14). XChaCha20-Poly1305 (RustCrypto), a random 192-bit nonce per value, and
//! associated data that names what the value is for, so a sealed value cannot be
//! moved to another row and opened there.
//!
//! The key comes from `GATEHOUSE_SECRET_KEY`. Without it, a random key is made
//! once and kept in the store itself: values are then only as safe as the
//! database, which the server says loudly at start-up.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use super::secrets;
use crate::store::{Store, StoreError};

/// Why a sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the value was sealed with another key (was GATEHOUSE_SECRET_KEY changed?)")]
    OtherKey,
    #[error("the sealed value is damaged or belongs elsewhere")]
    Damaged,
}

/// Seals and opens values with one key.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    /// Names the key in every sealed value (`v1.<key id>.<data>`).
    key_id: String,
    /// Whether the key lives in the store (no `GATEHOUSE_SECRET_KEY`).
    stored_key: bool,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("key_id", &self.key_id)
            .field("stored_key", &self.stored_key)
            .finish()
    }
}

impl Sealer {
    /// A sealer from a secret (`GATEHOUSE_SECRET_KEY`, at least 32 characters).
    pub fn from_secret(secret: &str) -> Sealer {
        let key = Sha256::new()
            .chain_update(b"gatehouse sealing key v1\0")
            .chain_update(secret.as_bytes())
            .finalize();
        let key_id = secrets::hash(&URL_SAFE_NO_PAD.encode(key))[..8].to_string();
        Sealer {
            cipher: XChaCha20Poly1305::new(&key),
            key_id,
            stored_key: false,
        }
    }

    /// The configured key, or the one kept in the store (made on first use).
    pub async fn load(store: &Store, secret: Option<&str>) -> Result<Sealer, StoreError> {
        match secret {
            Some(s) => Ok(Sealer::from_secret(s)),
            None => {
                let stored = store
                    .secret("sealing_key", &secrets::random_token())
                    .await?;
                let mut sealer = Sealer::from_secret(&stored);
                sealer.stored_key = true;
                Ok(sealer)
            }
        }
    }

    /// Whether the key is kept in the store (so sealed values are only as safe
    /// as the database).
    pub fn key_is_stored(&self) -> bool {
        self.stored_key
    }

    /// Seal `plaintext` for the purpose `context` names.
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 seals any length this server handles");
        let mut data = nonce.to_vec();
        data.extend_from_slice(&sealed);
        format!("v1.{}.{}", self.key_id, URL_SAFE_NO_PAD.encode(data))
    }

    /// Open a value sealed for `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<String, SealError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(key_id), Some(data)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Damaged);
        };
        if key_id != self.key_id {
            return Err(SealError::OtherKey);
        }
        let data = URL_SAFE_NO_PAD
            .decode(data)
            .map_err(|_| SealError::Damaged)?;
        if data.len() < 24 {
            return Err(SealError::Damaged);
        }
        let (nonce, ciphertext) = data.split_at(24);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::Damaged)?;
        String::from_utf8(plain).map_err(|_| SealError::Damaged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_binds_to_the_context() {
        let s = Sealer::from_secret(&"a".repeat(32));
        let sealed = s.seal("upstream-access-token", "row 1");
        assert!(!sealed.contains("upstream-access-token"));
        assert_ne!(
            sealed,
            s.seal("upstream-access-token", "row 1"),
            "a fresh nonce each time"
        );
        assert_eq!(s.open(&sealed, "row 1").unwrap(), "upstream-access-token");
        // Moved to another row: refused.
        assert_eq!(s.open(&sealed, "row 2"), Err(SealError::Damaged));
        // Another key: said so.
        let other = Sealer::from_secret(&"b".repeat(32));
        assert_eq!(other.open(&sealed, "row 1"), Err(SealError::OtherKey));
        // Tampered with: refused.
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(s.open(&tampered, "row 1"), Err(SealError::Damaged));
        assert_eq!(s.open("nonsense", "row 1"), Err(SealError::Damaged));
    }
}
