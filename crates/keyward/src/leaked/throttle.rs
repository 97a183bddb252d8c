//! The public leak report endpoint's throttle: at most
//! [`PUBLIC_REPORTS_PER_HOUR`] calls an hour per client (IPv4 address or
//! IPv6 /64, as the failed-auth throttle counts), an exact sliding log.
//! With Redis the log is Redis's (the rate limiter's script, with an hour
//! for its window), shared by every node; without Redis, or while it does
//! not answer, each node keeps its own.

use crate::ratelimit::RateLimiter;
use keyward_core::ratelimit::throttle_key;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

/// Calls per client and window.
pub const PUBLIC_REPORTS_PER_HOUR: u32 = 60;
/// The window: an hour.
pub const PUBLIC_REPORTS_WINDOW_MS: u64 = 3_600_000;
/// Name of the Redis log (`PREFIX lk:{client}`).
const REDIS_NAME: &str = "lk";
/// Past this many clients held, idle ones are dropped.
const SWEEP_ABOVE: usize = 10_000;

/// Sliding logs of calls per client.
#[derive(Debug)]
pub struct ReportThrottle {
    limit: u32,
    window_ms: u64,
    local: Mutex<HashMap<IpAddr, VecDeque<u64>>>,
}

impl Default for ReportThrottle {
    fn default() -> Self {
        ReportThrottle::new(PUBLIC_REPORTS_PER_HOUR, PUBLIC_REPORTS_WINDOW_MS)
    }
}

impl ReportThrottle {
    pub fn new(limit: u32, window_ms: u64) -> Self {
        ReportThrottle { limit, window_ms, local: Mutex::new(HashMap::new()) }
    }

    /// Count a call from `ip`: `Some(retry_after_secs)` when it is over the
    /// limit (answer 429; not counted), `None` when it may proceed.
    pub async fn check(&self, limiter: &RateLimiter, ip: IpAddr, now_ms: u64) -> Option<u64> {
        if let Some(redis) = limiter.redis() {
            if let Some(d) = redis.client_calls(REDIS_NAME, ip, self.limit, self.window_ms, now_ms).await {
                return d.retry_after_secs;
            }
        }
        self.check_local(ip, now_ms)
    }

    /// [`ReportThrottle::check`] on this node alone.
    pub fn check_local(&self, ip: IpAddr, now_ms: u64) -> Option<u64> {
        let mut map = self.local.lock().unwrap_or_else(|e| e.into_inner());
        let cutoff = now_ms.saturating_sub(self.window_ms);
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, log| log.back().is_some_and(|&t| t > cutoff));
        }
        let log = map.entry(throttle_key(ip)).or_default();
        while log.front().is_some_and(|&t| t <= cutoff) {
            log.pop_front();
        }
        if log.len() >= self.limit as usize {
            let oldest = log.front().copied().unwrap_or(now_ms);
            return Some((oldest + self.window_ms).saturating_sub(now_ms).div_ceil(1000).max(1));
        }
        log.push_back(now_ms.max(log.back().copied().unwrap_or(0)));
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;

    #[test]
    fn the_61st_call_in_an_hour_is_refused_until_the_first_leaves() {
        let t = ReportThrottle::default();
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        for i in 0..60 {
            assert_eq!(t.check_local(ip, T0 + i * 1000), None, "call {i}");
        }
        assert_eq!(t.check_local(ip, T0 + 60_000), Some(3540));
        assert_eq!(t.check_local(ip, T0 + PUBLIC_REPORTS_WINDOW_MS - 1), Some(1));
        assert_eq!(t.check_local(ip, T0 + PUBLIC_REPORTS_WINDOW_MS), None, "the first call left the window");
        assert!(t.check_local(ip, T0 + PUBLIC_REPORTS_WINDOW_MS).is_some());
        let other: IpAddr = "203.0.113.8".parse().unwrap();
        assert_eq!(t.check_local(other, T0 + 60_000), None, "each client has its own log");
    }

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let t = ReportThrottle::new(2, PUBLIC_REPORTS_WINDOW_MS);
        assert_eq!(t.check_local("2001:db8::1".parse().unwrap(), T0), None);
        assert_eq!(t.check_local("2001:db8::2".parse().unwrap(), T0), None);
        assert!(t.check_local("2001:db8::ffff".parse().unwrap(), T0).is_some());
    }
}
