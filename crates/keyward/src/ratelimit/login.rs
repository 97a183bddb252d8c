//! The login throttle: every password check is *reserved* before it runs,
//! atomically against every limit that applies, so concurrent attempts
//! cannot all slip in before the first failure is counted.
//!
//! Three sliding 60 s logs (exact, like [`keyward_core::ratelimit`]):
//! - per (email, client IP): [`PER_EMAIL_AND_IP`] (5) — an attacker guessing
//!   one account from one address;
//! - per email, every address together: [`PER_EMAIL`] (50) — a distributed
//!   guess at one account, loose enough that one attacker address cannot lock
//!   the owner out;
//! - per client IP (IPv6 by /64): [`PER_IP`] (20) — one address trying many
//!   accounts.
//!
//! An attempt passes only if all three have room; then it counts in all three
//! at once (one lock here, one Lua script on Redis). A successful login, or a
//! check the [`crate::password::HashGate`] refused, gives its reservation
//! back, so only failed checks count, as before.
//!
//! With `--redis-url` the logs live in Redis (`PREFIX login:…`, the email as
//! its SHA-256, never in clear), shared by every node; while Redis does not
//! answer each node keeps its own (the limits then apply per node).

use crate::ratelimit::redis::RedisLimiter;
use keyward_core::ratelimit::{throttle_key, WINDOW_MS};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

/// Failed logins per minute for one email from one client IP.
pub const PER_EMAIL_AND_IP: u32 = 5;
/// Failed logins per minute for one email from all client IPs together.
pub const PER_EMAIL: u32 = 50;
/// Failed logins per minute from one client IP (any emails).
pub const PER_IP: u32 = 20;

/// Reserves, atomically, each login attempt's place in its three logs.
pub struct LoginThrottle {
    redis: Option<RedisLimiter>,
    prefix: String,
    local: LocalLogs,
}

/// A reserved attempt: give it back with [`LoginThrottle::release`] when the
/// check did not fail.
#[derive(Debug)]
pub struct Reservation {
    keys: [String; 3],
    /// Where the reservation was made, so it is given back there.
    on_redis: bool,
    member: String,
    at_ms: u64,
}

impl LoginThrottle {
    pub fn new(redis: Option<RedisLimiter>, prefix: &str) -> Self {
        LoginThrottle { redis, prefix: prefix.to_string(), local: LocalLogs::default() }
    }

    /// In-process only (one node).
    pub fn memory() -> Self {
        Self::new(None, "")
    }

    fn keys(&self, email: &str, ip: IpAddr) -> [String; 3] {
        let email = hex::encode(Sha256::digest(email.as_bytes()));
        let ip = throttle_key(ip);
        let p = &self.prefix;
        [format!("{p}login:ei:{email}:{ip}"), format!("{p}login:e:{email}"), format!("{p}login:i:{ip}")]
    }

    /// Reserve one attempt for `email` from `ip`, or `Err(retry_after_secs)`
    /// when any of the three limits is used up (nothing is counted then).
    pub async fn reserve(&self, email: &str, ip: IpAddr, now_ms: u64) -> Result<Reservation, u64> {
        let keys = self.keys(email, ip);
        let member = format!("{now_ms}:{:016x}", rand::random::<u64>());
        if let Some(redis) = &self.redis {
            if let Some(answer) = redis.login_reserve(&keys, &LIMITS, &member, now_ms).await {
                return answer.map(|()| Reservation { keys, on_redis: true, member, at_ms: now_ms });
            }
        }
        self.local.reserve(&keys, now_ms)?;
        Ok(Reservation { keys, on_redis: false, member, at_ms: now_ms })
    }

    /// Give a reservation back (the login succeeded or was never checked).
    pub async fn release(&self, r: Reservation) {
        if r.on_redis {
            if let Some(redis) = &self.redis {
                redis.login_release(&r.keys, &r.member).await;
            }
        } else {
            self.local.release(&r.keys, r.at_ms);
        }
    }

    pub fn evict_idle(&self, now_ms: u64) {
        self.local.evict_idle(now_ms);
    }
}

const LIMITS: [u32; 3] = [PER_EMAIL_AND_IP, PER_EMAIL, PER_IP];

/// The three logs of every attempt, in this process, under one lock (logins
/// are few; the lock is what makes check-and-count atomic across the logs).
#[derive(Default)]
struct LocalLogs(Mutex<HashMap<String, VecDeque<u64>>>);

impl LocalLogs {
    fn reserve(&self, keys: &[String; 3], now: u64) -> Result<(), u64> {
        let mut logs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut retry = 0;
        for (key, &limit) in keys.iter().zip(LIMITS.iter()) {
            let Some(log) = logs.get_mut(key) else { continue };
            while log.front().is_some_and(|&t| t + WINDOW_MS <= now) {
                log.pop_front();
            }
            let limit = limit as usize;
            if log.len() >= limit {
                let frees = log[log.len() - limit] + WINDOW_MS;
                retry = retry.max(frees.saturating_sub(now).div_ceil(1000).max(1));
            }
        }
        if retry > 0 {
            return Err(retry);
        }
        for key in keys {
            let log = logs.entry(key.clone()).or_default();
            // Keep the log sorted even if clocks were read out of order.
            let at = log.back().map_or(now, |&b| b.max(now));
            log.push_back(at);
        }
        Ok(())
    }

    fn release(&self, keys: &[String; 3], at: u64) {
        let mut logs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            if let Some(log) = logs.get_mut(key) {
                // The entry was pushed at `at` or (clamped) just after it.
                if let Some(i) = log.iter().position(|&t| t >= at) {
                    log.remove(i);
                }
            }
        }
    }

    fn evict_idle(&self, now: u64) {
        let mut logs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        logs.retain(|_, log| log.back().is_some_and(|&t| t + WINDOW_MS > now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn one_address_gets_five_attempts_per_email_and_others_keep_theirs() {
        let t = LoginThrottle::memory();
        for _ in 0..PER_EMAIL_AND_IP {
            t.reserve("a@x", ip("10.0.0.1"), 1_000).await.unwrap();
        }
        let retry = t.reserve("a@x", ip("10.0.0.1"), 1_000).await.unwrap_err();
        assert_eq!(retry, 60);
        t.reserve("a@x", ip("10.0.0.2"), 1_000).await.expect("another address is not locked out");
        t.reserve("a@x", ip("10.0.0.1"), 61_000).await.expect("the window moved on");
    }

    #[tokio::test]
    async fn released_attempts_do_not_count() {
        let t = LoginThrottle::memory();
        for _ in 0..10 {
            let r = t.reserve("a@x", ip("10.0.0.1"), 5).await.unwrap();
            t.release(r).await;
        }
        t.reserve("a@x", ip("10.0.0.1"), 5).await.unwrap();
    }

    #[tokio::test]
    async fn the_email_limit_spans_addresses_and_the_ip_limit_spans_emails() {
        let t = LoginThrottle::memory();
        for i in 0..PER_EMAIL {
            t.reserve("a@x", ip(&format!("10.0.{}.{}", i / 200, i % 200)), 0).await.unwrap();
        }
        assert!(t.reserve("a@x", ip("10.9.9.9"), 0).await.is_err());
        for i in 0..PER_IP {
            t.reserve(&format!("u{i}@x"), ip("10.8.8.8"), 0).await.unwrap();
        }
        assert!(t.reserve("other@x", ip("10.8.8.8"), 0).await.is_err());
        t.evict_idle(60_000);
        t.reserve("a@x", ip("10.9.9.9"), 60_000).await.unwrap();
    }
}
