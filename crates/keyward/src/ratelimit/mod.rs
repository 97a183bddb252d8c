//! Per-key rate limiting and the failed-auth throttle, behind one interface
//! with an in-process implementation (one node) and a Redis one (several
//! nodes share every key's sliding log; see [`redis`]).
//!
//! Both implement the same contract: the exact sliding log of
//! [`keyward_core::ratelimit`], with the same [`Decision`] arithmetic.

pub mod login;
pub mod redis;

use self::redis::{RedisLimiter, RedisStats};
use keyward_core::ratelimit::{Decision, FailedAuthThrottle, KeyedLimiter};
use keyward_core::HashedKey;
use std::net::IpAddr;

/// Where the limits live (`--redis-*`).
#[derive(Clone)]
pub struct LimiterConfig {
    /// Redis shared by every node; in-process limits when `None`.
    pub redis_url: Option<String>,
    /// Prefix of every key keyward writes to Redis.
    pub redis_prefix: String,
    /// The share of a key's limit each node grants on its own while Redis
    /// does not answer.
    pub redis_fallback_share: f64,
}

/// The rate limiter in force, chosen at start-up.
pub enum RateLimiter {
    /// Exact sliding logs in this process.
    Memory { keys: KeyedLimiter<HashedKey>, failed: FailedAuthThrottle },
    /// Exact sliding logs in Redis, shared by every node; a local fallback
    /// while Redis does not answer.
    Redis(RedisLimiter),
}

impl RateLimiter {
    pub fn memory() -> Self {
        RateLimiter::Memory { keys: KeyedLimiter::new(), failed: FailedAuthThrottle::new() }
    }

    /// The limiter the configuration asks for: Redis when `--redis-url` is
    /// set, otherwise in-process. A malformed URL fails start-up; a Redis that
    /// does not answer does not (the node starts on its local fallback and
    /// keeps trying to connect).
    pub async fn connect(config: &LimiterConfig) -> anyhow::Result<Self> {
        match &config.redis_url {
            None => Ok(Self::memory()),
            Some(url) => Ok(RateLimiter::Redis(
                RedisLimiter::connect(url, &config.redis_prefix, config.redis_fallback_share).await?,
            )),
        }
    }

    /// Step 6: count this request against the key if it is under `limit`.
    /// `now_ms` is this node's clock; the Redis limiter uses Redis's own
    /// clock instead, so every node agrees on the window.
    pub async fn try_acquire(&self, key: &HashedKey, limit: u32, now_ms: u64) -> Decision {
        match self {
            RateLimiter::Memory { keys, .. } => keys.try_acquire(key, limit, now_ms),
            RateLimiter::Redis(r) => r.try_acquire(key, limit, now_ms).await,
        }
    }

    /// An invalid key from `ip`: `Some(retry_after)` when the IP is over the
    /// failed-auth limit (answer 429, not counted), otherwise count this
    /// failure (answer 401). Check and count happen atomically.
    pub async fn failed_auth(&self, ip: IpAddr, now_ms: u64) -> Option<u64> {
        match self {
            RateLimiter::Memory { failed, .. } => failed.check_and_record(ip, now_ms),
            RateLimiter::Redis(r) => r.failed_auth(ip, now_ms).await,
        }
    }

    /// Drop idle state (periodic sweep). Redis expires its own keys.
    pub fn evict_idle(&self, now_ms: u64) {
        match self {
            RateLimiter::Memory { keys, failed } => {
                keys.evict_idle(now_ms);
                failed.evict_idle(now_ms);
            }
            RateLimiter::Redis(r) => r.evict_idle(now_ms),
        }
    }

    /// Health and fallback counters of the Redis limiter (`None` in memory).
    pub fn redis_stats(&self) -> Option<RedisStats> {
        self.redis().map(RedisLimiter::stats)
    }

    /// The Redis limiter, when that is the one in force.
    pub fn redis(&self) -> Option<&RedisLimiter> {
        match self {
            RateLimiter::Memory { .. } => None,
            RateLimiter::Redis(r) => Some(r),
        }
    }
}
