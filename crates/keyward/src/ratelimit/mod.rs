//! Per-key rate limiting and the failed-auth throttle, behind one interface
//! with an in-process implementation (one node) and a Redis one (several).
use keyward_core::ratelimit::{Decision, FailedAuthThrottle, KeyedLimiter};
use keyward_core::HashedKey;
use std::net::IpAddr;

/// The rate limiter in force, chosen at start-up.
pub enum RateLimiter {
    /// Exact sliding logs in this process.
    Memory { keys: KeyedLimiter<HashedKey>, failed: FailedAuthThrottle },
}

impl RateLimiter {
    pub fn memory() -> Self {
        RateLimiter::Memory { keys: KeyedLimiter::new(), failed: FailedAuthThrottle::new() }
    }

    /// The limiter the configuration asks for.
    pub async fn from_config(_config: &crate::config::ServeArgs) -> anyhow::Result<Self> {
        Ok(Self::memory())
    }

    /// Step 6: count this request against the key if it is under `limit`.
    pub async fn try_acquire(&self, key: &HashedKey, limit: u32, now_ms: u64) -> Decision {
        match self {
            RateLimiter::Memory { keys, .. } => keys.try_acquire(key, limit, now_ms),
        }
    }

    /// An invalid key from `ip`: `Some(retry_after)` when the IP is over the
    /// failed-auth limit (answer 429, not counted), otherwise count this
    /// failure (answer 401). Check and count happen atomically.
    pub async fn failed_auth(&self, ip: IpAddr, now_ms: u64) -> Option<u64> {
        match self {
            RateLimiter::Memory { failed, .. } => failed.check_and_record(ip, now_ms),
        }
    }

    /// Drop idle state (periodic sweep).
    pub fn evict_idle(&self, now_ms: u64) {
        match self {
            RateLimiter::Memory { keys, failed } => {
                keys.evict_idle(now_ms);
                failed.evict_idle(now_ms);
            }
        }
    }
}
