//! Verified access tokens, remembered so the hot path does not check an EdDSA
//! signature and ask the store about revocation on every request.
//!
//! An entry is keyed by the token itself and lives until the token expires.
//! A lookup hashes the presented token with the cache's fast hasher and compares
//! it with a remembered one in constant time: no SHA-256 of a JWT of about 500
//! bytes on every request (nine compression rounds, about 0.3 µs of the bench
//! machine's CPU, as much as the rest of a cached bearer check). Holding
//! the token rather than its digest exposes nothing a memory dump would not
//! (the process holds its signing keys). Its revocation status is re-read from the store when the last
//! reading is older than [`REVALIDATE_MS`], so a token revoked on any replica
//! (revocation endpoint, refresh-token reuse, `clients revoke`, `users disable`)
//! stops working everywhere within that time. A revocation made through this
//! process (its store counts them, `Store::revocations`) makes every entry
//! re-read at once. Bounded: the least used entries go first.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use quick_cache::Equivalent;
use quick_cache::sync::Cache;

use crate::principal::Principal;
use crate::store::now_ms;

/// How long a revocation check stays good: half a second, so that a revoked
/// token stops working within one second on every replica, request time included.
pub(crate) const REVALIDATE_MS: i64 = 500;

/// Tokens remembered at most (about 1 KB each: the token and its principal).
const CAPACITY: usize = 50_000;

/// A remembered token. Equal only to the same text, compared in constant time
/// (a lookup whose hash matches a valid token's learns nothing from how long
/// the comparison took).
struct TokenKey(Box<str>);

/// Whether two tokens are the same, in time that depends only on their
/// lengths (which are not secret): eight bytes at a time, differences
/// OR-ed together with no early exit. `subtle`'s byte-wise comparison
/// (`secrets::equal`) cost a 500-byte token about 5,000 instructions, more
/// than the SHA-256 this comparison replaced.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().expect("chunks of eight"));
    let mut diff = 0u64;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        diff |= word(x) ^ word(y);
    }
    let tail = a.len() - a.len() % 8;
    for (x, y) in a[tail..].iter().zip(&b[tail..]) {
        diff |= u64::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

impl Hash for TokenKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        Presented(&self.0).hash(h);
    }
}

impl PartialEq for TokenKey {
    fn eq(&self, other: &TokenKey) -> bool {
        same(&self.0, &other.0)
    }
}

impl Eq for TokenKey {}

/// A token as a request presents it, looked up without copying it.
struct Presented<'a>(&'a str);

/// How much of a token its hash reads: its last bytes, which for a JWT are
/// its signature (86 characters for EdDSA). Hashing all of a token of about
/// 500 bytes was about 460 instructions of every request; the tail alone
/// spreads tokens as well, since only verified tokens are ever stored and
/// no one without the signing key can make two of them end alike. Equality
/// still compares the whole token ([`same`]).
const HASHED_TAIL: usize = 64;

impl Hash for Presented<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        let bytes = self.0.as_bytes();
        h.write(&bytes[bytes.len().saturating_sub(HASHED_TAIL)..]);
    }
}

impl Equivalent<TokenKey> for Presented<'_> {
    fn equivalent(&self, key: &TokenKey) -> bool {
        same(self.0, &key.0)
    }
}

#[derive(Debug)]
pub(crate) struct Verified {
    pub principal: Arc<Principal>,
    pub jti: String,
    /// Expiry, milliseconds since the epoch.
    pub expires_at: i64,
    /// When the store last said the token is active, and the store's revocation
    /// count read before asking.
    checked_at: std::sync::atomic::AtomicI64,
    checked_epoch: std::sync::atomic::AtomicU64,
}

/// What the cache knows about a token.
pub(crate) enum Lookup {
    /// Verified, unexpired and checked against the store within [`REVALIDATE_MS`].
    Fresh(Arc<Verified>),
    /// Verified and unexpired, but its revocation status must be read again.
    Stale(Arc<Verified>),
    /// Not remembered (or expired): verify from scratch.
    Unknown,
}

pub(crate) struct VerifiedTokens {
    cache: Cache<TokenKey, Arc<Verified>>,
}

impl VerifiedTokens {
    pub(crate) fn new() -> VerifiedTokens {
        VerifiedTokens {
            cache: Cache::new(CAPACITY),
        }
    }

    /// `epoch`: the store's revocation count now.
    pub(crate) fn lookup(&self, token: &str, epoch: u64) -> Lookup {
        let Some(entry) = self.cache.get(&Presented(token)) else {
            return Lookup::Unknown;
        };
        let now = now_ms();
        if entry.expires_at <= now {
            self.forget(token);
            return Lookup::Unknown;
        }
        let checked = entry.checked_at.load(std::sync::atomic::Ordering::Relaxed);
        let same_epoch = entry
            .checked_epoch
            .load(std::sync::atomic::Ordering::Acquire)
            == epoch;
        if same_epoch && now - checked < REVALIDATE_MS {
            Lookup::Fresh(entry)
        } else {
            Lookup::Stale(entry)
        }
    }

    /// Remember a token the store just said is active (`epoch`: the store's
    /// revocation count read before asking it).
    pub(crate) fn insert(
        &self,
        token: &str,
        principal: Arc<Principal>,
        jti: String,
        expires_at: i64,
        epoch: u64,
    ) {
        self.cache.insert(
            TokenKey(token.into()),
            Arc::new(Verified {
                principal,
                jti,
                expires_at,
                checked_at: std::sync::atomic::AtomicI64::new(now_ms()),
                checked_epoch: std::sync::atomic::AtomicU64::new(epoch),
            }),
        );
    }

    /// The store said again that the token is active.
    pub(crate) fn confirmed(&self, entry: &Verified, epoch: u64) {
        entry
            .checked_at
            .store(now_ms(), std::sync::atomic::Ordering::Relaxed);
        entry
            .checked_epoch
            .store(epoch, std::sync::atomic::Ordering::Release);
    }

    /// The token is no longer valid.
    pub(crate) fn forget(&self, token: &str) {
        self.cache.remove(&Presented(token));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal() -> Arc<Principal> {
        Arc::new(Principal {
            user_id: "u".into(),
            client_id: Some("c".into()),
            scopes: None,
        })
    }

    const TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl";

    #[test]
    fn only_the_same_token_finds_its_entry() {
        let tokens = VerifiedTokens::new();
        tokens.insert(TOKEN, principal(), "jti".into(), now_ms() + 60_000, 0);
        assert!(matches!(tokens.lookup(TOKEN, 0), Lookup::Fresh(_)));
        // Near misses of a remembered token: a changed last byte (another
        // signature), a prefix, a suffix added, another case.
        let mut changed = TOKEN.to_string();
        changed.pop();
        let prefix = changed.clone();
        changed.push('M');
        for other in [
            changed,
            prefix,
            format!("{TOKEN}x"),
            TOKEN.to_uppercase(),
            String::new(),
        ] {
            assert!(
                matches!(tokens.lookup(&other, 0), Lookup::Unknown),
                "{other:?} must not find {TOKEN:?}"
            );
        }
        // A newer revocation count makes the entry stale; forgetting removes it.
        assert!(matches!(tokens.lookup(TOKEN, 1), Lookup::Stale(_)));
        tokens.forget(TOKEN);
        assert!(matches!(tokens.lookup(TOKEN, 0), Lookup::Unknown));
    }

    /// Only a token's tail is hashed: a token made of a remembered token's
    /// signature behind another header and payload (what an attacker can
    /// make without the key) lands in that token's bucket and still does
    /// not find it; two remembered tokens with the same tail stay apart.
    #[test]
    fn tokens_that_end_alike_are_still_told_apart() {
        let signature = format!(".{}", "s".repeat(HASHED_TAIL + 22));
        let (a, b) = (
            format!("{}{signature}", "a".repeat(400)),
            format!("{}{signature}", "b".repeat(400)),
        );
        let forged = format!("{}{signature}", "c".repeat(400));
        let tokens = VerifiedTokens::new();
        tokens.insert(&a, principal(), "jti-a".into(), now_ms() + 60_000, 0);
        assert!(matches!(tokens.lookup(&b, 0), Lookup::Unknown));
        assert!(matches!(tokens.lookup(&forged, 0), Lookup::Unknown));
        tokens.insert(&b, principal(), "jti-b".into(), now_ms() + 60_000, 0);
        for (token, jti) in [(&a, "jti-a"), (&b, "jti-b")] {
            match tokens.lookup(token, 0) {
                Lookup::Fresh(v) => assert_eq!(v.jti, jti),
                _ => panic!("{jti} must be found"),
            }
        }
        assert!(matches!(tokens.lookup(&forged, 0), Lookup::Unknown));
        tokens.forget(&a);
        assert!(matches!(tokens.lookup(&a, 0), Lookup::Unknown));
        assert!(matches!(tokens.lookup(&b, 0), Lookup::Fresh(_)));
    }

    #[test]
    fn an_expired_entry_is_dropped() {
        let tokens = VerifiedTokens::new();
        tokens.insert(TOKEN, principal(), "jti".into(), now_ms() - 1, 0);
        assert!(matches!(tokens.lookup(TOKEN, 0), Lookup::Unknown));
        assert!(tokens.cache.is_empty(), "the expired entry is removed");
    }

    #[test]
    fn same_is_equality() {
        let long = "x".repeat(517);
        for (a, b) in [
            ("", ""),
            ("a", "a"),
            ("a", "b"),
            ("abcdefgh", "abcdefgh"),
            ("abcdefgh", "abcdefgi"),
            ("abcdefghi", "abcdefghj"),
            ("abcdefghi", "bbcdefghi"),
            ("abc", "abcd"),
            (TOKEN, TOKEN),
        ] {
            assert_eq!(same(a, b), a == b, "{a:?} {b:?}");
        }
        // Every single-byte change of a long token, anywhere in it.
        for i in 0..long.len() {
            let mut other = long.clone().into_bytes();
            other[i] = b'y';
            assert!(
                !same(&long, std::str::from_utf8(&other).unwrap()),
                "byte {i}"
            );
        }
        assert!(same(&long, &long.clone()));
    }

    #[test]
    fn keys_hash_and_compare_as_the_presented_text() {
        use std::hash::BuildHasher;
        let state = std::hash::RandomState::new();
        let key = TokenKey(TOKEN.into());
        assert_eq!(state.hash_one(&key), state.hash_one(Presented(TOKEN)));
        assert!(Presented(TOKEN).equivalent(&key));
        assert!(!Presented("eyJ").equivalent(&key));
        assert!(key == TokenKey(TOKEN.into()));
    }
}
