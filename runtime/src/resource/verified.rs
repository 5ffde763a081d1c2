//! Verified access tokens, remembered so the hot path does not check an EdDSA
//! signature and ask the store about revocation on every request.
//!
//! An entry is keyed by the SHA-256 of the token and lives until the token
//! expires. Its revocation status is re-read from the store when the last
//! reading is older than [`REVALIDATE_MS`], so a token revoked on any replica
//! (revocation endpoint, refresh-token reuse, `clients revoke`, `users disable`)
//! stops working everywhere within that time. A revocation made through this
//! process (its store counts them, `Store::revocations`) makes every entry
//! re-read at once. Bounded: the least used entries go first.

use std::sync::Arc;

use quick_cache::sync::Cache;
use sha2::{Digest, Sha256};

use crate::principal::Principal;
use crate::store::now_ms;

/// How long a revocation check stays good: half a second, so that a revoked
/// token stops working within one second on every replica, request time included.
pub(crate) const REVALIDATE_MS: i64 = 500;

/// Tokens remembered at most (about 300 bytes each).
const CAPACITY: usize = 50_000;

pub(crate) type TokenKey = [u8; 32];

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

    pub(crate) fn key(token: &str) -> TokenKey {
        Sha256::digest(token.as_bytes()).into()
    }

    /// `epoch`: the store's revocation count now.
    pub(crate) fn lookup(&self, key: &TokenKey, epoch: u64) -> Lookup {
        let Some(entry) = self.cache.get(key) else {
            return Lookup::Unknown;
        };
        let now = now_ms();
        if entry.expires_at <= now {
            self.cache.remove(key);
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
        key: TokenKey,
        principal: Arc<Principal>,
        jti: String,
        expires_at: i64,
        epoch: u64,
    ) {
        self.cache.insert(
            key,
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
    pub(crate) fn forget(&self, key: &TokenKey) {
        self.cache.remove(key);
    }
}
