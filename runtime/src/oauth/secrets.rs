//! Random secrets and how they are kept: 256-bit random values, base64url; stored
//! only as SHA-256 hashes; compared in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A fresh random token (32 bytes, base64url: 43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How a secret is stored: SHA-256, hex.
pub fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `BASE64URL(SHA256(verifier))`, the S256 PKCE transform (RFC 7636 4.2).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Constant-time equality of two strings.
pub fn equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Whether `secret` hashes to `stored`, in constant time.
pub fn matches_hash(secret: &str, stored: &str) -> bool {
    equal(&hash(secret), stored)
}

/// A token derived from another with a server key: the same input always gives
/// the same output, so a retried refresh can be answered identically, while the
/// database alone (which holds only hashes) cannot produce it.
pub fn derive(key: &[u8], from: &str, purpose: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(from.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn tokens_hashes_and_derivations() {
        let t = random_token();
        assert_eq!(t.len(), 43);
        assert_ne!(t, random_token());
        assert!(matches_hash(&t, &hash(&t)));
        assert!(!matches_hash("other", &hash(&t)));
        assert_eq!(derive(b"k", "a", "next"), derive(b"k", "a", "next"));
        assert_ne!(derive(b"k", "a", "next"), derive(b"k", "b", "next"));
        assert_ne!(derive(b"k", "a", "next"), derive(b"j", "a", "next"));
    }
}
