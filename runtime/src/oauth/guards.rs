//! What keeps the public parts of the authorization server (the sign-in form,
//! registration, the authorization endpoint) from being used to stall the
//! server, guess passwords or fill the disk (issue 12):
//!
//! - password hashing (argon2id, deliberately slow) runs on blocking threads,
//!   at most `hashing_concurrency` at once; when all are busy a sign-in waits
//!   briefly, then gets 503 with `Retry-After`, so `/mcp` never stalls behind it;
//! - sign-in attempts are limited per client address, and an account (by the
//!   email given, known or not, so nothing is revealed) backs off exponentially
//!   after a few failures; a pending authorization dies after a few failures;
//! - registrations and authorization requests are limited per address, and
//!   live pending requests per address are capped (in the store: across
//!   replicas).
//!
//! Every number has a default and an environment variable (docs/security.md).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::hashing::HashPool;
use crate::http::rate_limit::{Backoff, KeyedLimit};

/// The limits (defaults are what a public server wants).
#[derive(Debug, Clone)]
pub struct AbuseLimits {
    /// `GATEHOUSE_SIGN_IN_PER_MINUTE`: sign-in and sign-up attempts per
    /// client address per minute.
    pub sign_ins_per_minute: u32,
    /// `GATEHOUSE_SIGN_IN_FREE_FAILURES`: failures an account may have before
    /// each further one locks it (1 s, doubling, at most 15 min).
    pub free_failures: u32,
    /// The longest an account stays locked after failures (15 min).
    pub max_lockout: Duration,
    /// `GATEHOUSE_FAILURES_PER_REQUEST`: failed sign-ins after which a
    /// pending authorization is given up.
    pub failures_per_request: i64,
    /// `GATEHOUSE_REGISTRATIONS_PER_HOUR`: client registrations per address.
    pub registrations_per_hour: u32,
    /// `GATEHOUSE_AUTHORIZATIONS_PER_MINUTE`: authorization requests per address.
    pub authorizations_per_minute: u32,
    /// `GATEHOUSE_PENDING_PER_ADDRESS`: live pending authorizations per address.
    pub pending_per_address: i64,
    /// `GATEHOUSE_HASHING_CONCURRENCY`: password hashes computed at once.
    pub hashing_concurrency: usize,
    /// How long a sign-in waits for a hashing slot before 503.
    pub hashing_wait: Duration,
}

impl Default for AbuseLimits {
    fn default() -> Self {
        AbuseLimits {
            sign_ins_per_minute: 20,
            free_failures: 5,
            max_lockout: Duration::from_secs(15 * 60),
            failures_per_request: 5,
            registrations_per_hour: 60,
            authorizations_per_minute: 60,
            pending_per_address: 50,
            hashing_concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            hashing_wait: Duration::from_secs(2),
        }
    }
}

/// The limits in force, with their counters.
pub struct Guards {
    pub limits: AbuseLimits,
    sign_ins: KeyedLimit<IpAddr>,
    accounts: Backoff,
    registrations: KeyedLimit<IpAddr>,
    authorizations: KeyedLimit<IpAddr>,
    hashing: Arc<Semaphore>,
    hash_pool: HashPool,
    /// One audit entry per address and minute for refused sign-in attempts,
    /// so a flood cannot fill the audit log.
    limited_notices: KeyedLimit<IpAddr>,
}

/// All hashing slots are taken: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server is busy checking passwords; try again in a moment")]
pub struct Busy;

impl Guards {
    pub fn new(limits: AbuseLimits) -> Guards {
        Guards {
            sign_ins: KeyedLimit::new(limits.sign_ins_per_minute, Duration::from_secs(60)),
            accounts: Backoff::new(limits.free_failures, limits.max_lockout),
            registrations: KeyedLimit::new(
                limits.registrations_per_hour,
                Duration::from_secs(3600),
            ),
            authorizations: KeyedLimit::new(
                limits.authorizations_per_minute,
                Duration::from_secs(60),
            ),
            hashing: Arc::new(Semaphore::new(limits.hashing_concurrency.max(1))),
            hash_pool: HashPool::new(limits.hashing_concurrency),
            limited_notices: KeyedLimit::new(1, Duration::from_secs(60)),
            limits,
        }
    }

    /// One sign-in attempt from `addr`.
    pub fn sign_in_attempt(&self, addr: IpAddr) -> Result<(), Duration> {
        self.sign_ins.check(&addr)
    }

    /// Whether a refused attempt from `addr` should be recorded (the first
    /// each minute).
    pub fn note_limited(&self, addr: IpAddr) -> bool {
        self.limited_notices.check(&addr).is_ok()
    }

    /// Whether `account` (a normalized email) is locked.
    pub fn account_locked(&self, account: &str) -> Result<(), Duration> {
        self.accounts.check(account)
    }

    /// A failed sign-in for `account`: the lock it earns, if any.
    pub fn account_failed(&self, account: &str) -> Option<Duration> {
        self.accounts.failed(account)
    }

    pub fn account_succeeded(&self, account: &str) {
        self.accounts.succeeded(account)
    }

    pub fn registration(&self, addr: IpAddr) -> Result<(), Duration> {
        self.registrations.check(&addr)
    }

    pub fn authorization(&self, addr: IpAddr) -> Result<(), Duration> {
        self.authorizations.check(&addr)
    }

    /// Run `work` (a password hash or check) on a blocking thread, when a
    /// hashing slot is free within `hashing_wait`.
    pub async fn hashing<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let permit = tokio::time::timeout(
            self.limits.hashing_wait,
            self.hashing.clone().acquire_owned(),
        )
        .await
        .map_err(|_| Busy)?
        .map_err(|_| Busy)?;
        let result = self
            .hash_pool
            .run(move || {
                let _permit = permit;
                work()
            })
            .await
            .ok_or(Busy)?;
        Ok(result)
    }

    /// Forget what no longer limits anyone (called by the upkeep task).
    pub fn prune(&self) {
        self.sign_ins.prune();
        self.limited_notices.prune();
        self.registrations.prune();
        self.authorizations.prune();
        self.accounts.prune();
    }
}
