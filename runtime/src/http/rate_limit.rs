//! Rate limits for what anyone on the internet can call (issue 12): a keyed
//! token bucket (`governor`, GCRA) per client address or account, and an
//! exponential back-off for accounts that keep failing to sign in. Both live in
//! the process: each replica limits on its own (a deployment of N replicas
//! allows up to N times the rate), which keeps the database out of the way of
//! a flood.

use std::collections::HashMap;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// At most `per_period` events per key and period, in bursts of up to `burst`.
pub struct KeyedLimit<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> KeyedLimit<K> {
    /// `events` per `period` for each key, all of them allowed at once.
    pub fn new(events: u32, period: Duration) -> KeyedLimit<K> {
        let events = NonZeroU32::new(events.max(1)).expect("at least one");
        let quota = Quota::with_period(period / events.get())
            .expect("a positive period")
            .allow_burst(events);
        KeyedLimit {
            limiter: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        }
    }

    /// Count one event for `key`: `Err(wait)` when over the limit.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forget keys whose buckets are full again (bounded memory).
    pub fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// Consecutive failures per key: the first `free` cost nothing, then each
/// locks the key for twice as long as the one before (1 s, 2 s, 4 s, … up to
/// `max`). A success clears the key.
pub struct Backoff {
    free: u32,
    max: Duration,
    state: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Backoff {
    pub fn new(free: u32, max: Duration) -> Backoff {
        Backoff {
            free,
            max,
            state: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` while `key` is locked.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let state = self.state.lock().expect("backoff lock");
        match state.get(key) {
            Some((_, until)) if *until > Instant::now() => Err(*until - Instant::now()),
            _ => Ok(()),
        }
    }

    /// Record a failure; the lock it earns, if any.
    pub fn failed(&self, key: &str) -> Option<Duration> {
        let mut state = self.state.lock().expect("backoff lock");
        let entry = state.entry(key.to_string()).or_insert((0, Instant::now()));
        entry.0 += 1;
        let over = entry.0.saturating_sub(self.free);
        if over == 0 {
            return None;
        }
        let lock = Duration::from_secs(1u64 << (over - 1).min(20)).min(self.max);
        entry.1 = Instant::now() + lock;
        Some(lock)
    }

    pub fn succeeded(&self, key: &str) {
        self.state.lock().expect("backoff lock").remove(key);
    }

    /// Forget keys whose last lock ended more than `max` ago.
    pub fn prune(&self) {
        let horizon = Instant::now();
        let max = self.max;
        self.state
            .lock()
            .expect("backoff lock")
            .retain(|_, (_, until)| *until + max > horizon);
    }
}

/// Whole seconds for a `Retry-After` header (at least 1).
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_limits() {
        let limit = KeyedLimit::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(limit.check(&"a").is_ok());
        }
        let wait = limit.check(&"a").unwrap_err();
        assert!(
            wait > Duration::from_secs(10) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(limit.check(&"b").is_ok(), "keys are independent");
        limit.prune();
        assert!(limit.check(&"a").is_err(), "a limited key is kept");
    }

    #[test]
    fn backoff_doubles_and_resets() {
        let b = Backoff::new(2, Duration::from_secs(5));
        assert_eq!(b.failed("k"), None);
        assert_eq!(b.failed("k"), None);
        assert_eq!(b.failed("k"), Some(Duration::from_secs(1)));
        assert!(b.check("k").is_err());
        assert_eq!(b.failed("k"), Some(Duration::from_secs(2)));
        assert_eq!(b.failed("k"), Some(Duration::from_secs(4)));
        assert_eq!(b.failed("k"), Some(Duration::from_secs(5)), "capped");
        assert!(b.check("other").is_ok());
        b.succeeded("k");
        assert!(b.check("k").is_ok());
        assert_eq!(b.failed("k"), None, "a success starts over");
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }
}
