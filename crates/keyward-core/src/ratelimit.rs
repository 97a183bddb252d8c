//! Rate-limit arithmetic (SPEC §4): an exact sliding log per key, a sharded
//! concurrent map of logs, and the failed-auth throttle built on it.
//!
//! # Why a sliding log
//!
//! The contract for a limit of N per 60 s is: a burst of more than N gets
//! exactly N through; *no* 60-second interval ever holds more than N
//! successes; a client sending N a minute, evenly spaced, is never refused;
//! refused requests do not count. The usual cheap algorithms break it:
//!
//! * a token bucket / GCRA with burst N lets a burst of N through and then
//!   refills, so the first minute admits about 2N;
//! * a fixed window admits N at 0:59.9 and N more at 1:00.0;
//! * a sliding-window *counter* (weighted previous window) is approximate.
//!
//! So each key keeps the timestamps (ms) of its successes inside the window.
//! A request at `now` passes iff fewer than N recorded successes have
//! `t > now - 60_000`, and only passing requests are recorded. With evenly
//! spaced requests every `60_000 / N` ms, the success N places back is exactly
//! 60 000 ms old, so it has just left the window and the request passes.
//!
//! Memory is what exactness costs: one entry per success in the last minute
//! (2 bytes: `u16` millisecond offsets from a per-log base; the 60 s window fits), pruned on every
//! call, and the buffer shrinks again after a burst. A plan change applies at
//! once because the limit is an argument, not state; if the limit shrinks the
//! log simply holds more than N entries until they expire.
//!
//! Time is a caller-supplied `now_ms` (any monotonic-ish millisecond clock),
//! so everything here is deterministic and tested on a fake clock. If calls
//! arrive slightly out of order (two threads read the clock, then race for a
//! shard lock), `now` is clamped to the newest entry, which only ever makes
//! the limiter stricter by those few ms, never looser.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The window every limit in keyward is expressed over.
pub const WINDOW_MS: u64 = 60_000;

/// The outcome of a rate-limit check, with everything the response headers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    /// successes still available in the window after this request
    pub remaining: u32,
    /// seconds (rounded up) until `remaining` next grows; 0 when no success is in the window (full)
    pub reset_secs: u64,
    /// for refused requests: seconds (rounded up, >= 1) after which a request will succeed
    pub retry_after_secs: Option<u64>,
}

/// The successes of one key inside the window, oldest first.
///
/// Stored as `u16` millisecond offsets from `base` (2 bytes per success in
/// the window: 100k busy keys hold millions of them). `base` moves forward
/// whenever the log empties, and onto the oldest entry when an offset would
/// not fit: every entry is inside the window, and the window (60 000 ms) is
/// shorter than `u16::MAX` ms, so after that rebase every offset fits again.
#[derive(Debug, Default, Clone)]
pub struct SlidingLog {
    base: u64,
    log: VecDeque<u16>,
}

const _: () = assert!(WINDOW_MS < u16::MAX as u64, "offsets within the window must fit in a u16");

/// Buffers at or below this capacity are never shrunk.
const MIN_SHRINK_CAPACITY: usize = 32;

impl SlidingLog {
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    fn abs(&self, offset: u16) -> u64 {
        self.base.saturating_add(u64::from(offset))
    }

    /// Drop entries that have left the window and return the effective `now`
    /// (never earlier than the newest entry, so the log stays sorted).
    fn advance(&mut self, now_ms: u64) -> u64 {
        let now = match self.log.back() {
            Some(&b) => now_ms.max(self.abs(b)),
            None => now_ms,
        };
        while let Some(&front) = self.log.front() {
            if self.abs(front).saturating_add(WINDOW_MS) <= now {
                self.log.pop_front();
            } else {
                break;
            }
        }
        if self.log.is_empty() {
            self.base = now;
        }
        let cap = self.log.capacity();
        if cap > MIN_SHRINK_CAPACITY && self.log.len() < cap / 4 {
            self.log.shrink_to((self.log.len() * 2).max(MIN_SHRINK_CAPACITY));
        }
        now
    }

    /// Append a success at `now` (already the effective now from `advance`).
    fn push(&mut self, now: u64) {
        let offset = match u16::try_from(now - self.base) {
            Ok(o) => o,
            Err(_) => {
                // Rebase onto the oldest entry; every entry is within the
                // window of `now`, so all offsets become small again.
                let shift = self.log.front().copied().unwrap_or(0);
                for o in self.log.iter_mut() {
                    *o -= shift;
                }
                self.base += u64::from(shift);
                u16::try_from(now - self.base).unwrap_or(u16::MAX)
            }
        };
        self.log.push_back(offset);
    }

    /// Seconds, rounded up, until the number of successes still available
    /// grows; 0 when the log is empty (or the limit is 0: it never grows).
    fn secs_until_growth(&self, limit: u32, now: u64) -> u64 {
        let count = self.log.len();
        // `remaining = limit - count` grows once `count` drops to `limit - 1`,
        // i.e. when entry `count - limit` (or the oldest, if count <= limit)
        // leaves the window.
        let k = count.saturating_sub(limit as usize);
        if limit == 0 || k >= count {
            return 0;
        }
        let expires = self.abs(self.log[k]).saturating_add(WINDOW_MS);
        (expires - now).div_ceil(1000)
    }

    fn decide(&self, limit: u32, now: u64, allowed: bool) -> Decision {
        let remaining = u32::try_from(self.log.len()).map_or(0, |n| limit.saturating_sub(n));
        let reset_secs = self.secs_until_growth(limit, now);
        let retry_after_secs = if allowed {
            None
        } else if limit == 0 {
            // Nothing will ever pass; the nominal window is the honest-ish answer.
            Some(WINDOW_MS / 1000)
        } else {
            Some(reset_secs.max(1))
        };
        Decision { allowed, limit, remaining, reset_secs, retry_after_secs }
    }

    /// Check a request at `now_ms` against `limit` and record it if it passes.
    pub fn try_acquire(&mut self, limit: u32, now_ms: u64) -> Decision {
        let now = self.advance(now_ms);
        let allowed = self.log.len() < limit as usize;
        if allowed {
            self.push(now);
        }
        self.decide(limit, now, allowed)
    }

    /// What `try_acquire` would say about a request now, recording nothing;
    /// `remaining` is what is available before such a request.
    pub fn peek(&mut self, limit: u32, now_ms: u64) -> Decision {
        let now = self.advance(now_ms);
        let allowed = self.log.len() < limit as usize;
        self.decide(limit, now, allowed)
    }

    /// Record an event unconditionally (used for counting failures).
    pub fn record(&mut self, now_ms: u64) {
        let now = self.advance(now_ms);
        self.push(now);
    }

    /// No entry is inside the window at `now_ms`: the log can be dropped.
    pub fn is_idle(&self, now_ms: u64) -> bool {
        self.log.back().is_none_or(|&b| self.abs(b).saturating_add(WINDOW_MS) <= now_ms)
    }
}

const SHARDS: usize = 64;
/// A shard is swept for idle logs when it reaches this many entries, or twice
/// the live count found by its previous sweep, whichever is larger; that keeps
/// sweeps amortised O(1) per insert and memory within ~2x the live keys.
const SWEEP_FLOOR: usize = 1024;

struct Shard<K, S> {
    map: HashMap<K, SlidingLog, S>,
    sweep_at: usize,
}

impl<K: Hash + Eq, S: BuildHasher> Shard<K, S> {
    fn sweep(&mut self, now_ms: u64) -> usize {
        let before = self.map.len();
        self.map.retain(|_, log| !log.is_idle(now_ms));
        let len = self.map.len();
        self.sweep_at = (len * 2).max(SWEEP_FLOOR);
        if len < self.map.capacity() / 4 {
            self.map.shrink_to(len * 2);
        }
        before - len
    }
}

/// Concurrent map key -> [`SlidingLog`], in 64 independently locked shards so
/// threads rarely contend. Idle logs (nothing in the window) are dropped when
/// a shard outgrows twice its live count (at least 1024) and by [`KeyedLimiter::evict_idle`],
/// which the server should call periodically. Peeks and refusals of unknown
/// keys insert nothing.
///
/// The hasher defaults to std's `RandomState` (SipHash-1-3, randomly keyed):
/// the failed-auth throttle keys on client IPs, which an attacker with an IPv6
/// block chooses freely, so a fixed-seed fast hash would invite collision
/// floods. One hash per call is ~10-20 ns, small next to the lock; the bench
/// `ratelimit/try_acquire_hit` measures the whole path.
pub struct KeyedLimiter<K, S = RandomState> {
    hasher: S,
    shards: Box<[Mutex<Shard<K, S>>]>,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    pub fn new() -> Self {
        Self::with_hasher(RandomState::new())
    }
}

impl<K: Hash + Eq + Clone> Default for KeyedLimiter<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, S> std::fmt::Debug for KeyedLimiter<K, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedLimiter").finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Clone, S: BuildHasher + Clone> KeyedLimiter<K, S> {
    /// A limiter whose shards and maps use `hasher` (every map gets a clone,
    /// so a key hashes the same for shard choice and inside its shard).
    pub fn with_hasher(hasher: S) -> Self {
        let shards = (0..SHARDS)
            .map(|_| Mutex::new(Shard { map: HashMap::with_hasher(hasher.clone()), sweep_at: SWEEP_FLOOR }))
            .collect();
        Self { hasher, shards }
    }

    fn shard(&self, key: &K) -> MutexGuard<'_, Shard<K, S>> {
        // Bits 32..38: hashbrown uses the low bits for the bucket index and
        // the top 7 for its tag byte, so these stay independent of both.
        let i = (self.hasher.hash_one(key) >> 32) as usize % SHARDS;
        // A panic while holding a shard cannot leave a log inconsistent in a
        // way that matters more than losing rate limiting, so ignore poison.
        self.shards[i].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Run `f` on the key's log; a missing key gets a fresh log that is kept
    /// only if `f` recorded something.
    fn with_log<R>(&self, key: &K, now_ms: u64, f: impl FnOnce(&mut SlidingLog) -> R) -> R {
        let mut shard = self.shard(key);
        if let Some(log) = shard.map.get_mut(key) {
            return f(log);
        }
        let mut log = SlidingLog::new();
        let r = f(&mut log);
        if !log.log.is_empty() {
            if shard.map.len() >= shard.sweep_at {
                shard.sweep(now_ms);
            }
            shard.map.insert(key.clone(), log);
        }
        r
    }

    /// [`SlidingLog::try_acquire`] for `key`.
    pub fn try_acquire(&self, key: &K, limit: u32, now_ms: u64) -> Decision {
        self.with_log(key, now_ms, |log| log.try_acquire(limit, now_ms))
    }

    /// [`SlidingLog::peek`] for `key`.
    pub fn peek(&self, key: &K, limit: u32, now_ms: u64) -> Decision {
        self.with_log(key, now_ms, |log| log.peek(limit, now_ms))
    }

    /// [`SlidingLog::record`] for `key`.
    pub fn record(&self, key: &K, now_ms: u64) {
        self.with_log(key, now_ms, |log| log.record(now_ms))
    }

    /// Drop every log with nothing in the window; returns how many went.
    pub fn evict_idle(&self, now_ms: u64) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).sweep(now_ms)).sum()
    }

    /// Number of keys currently held (idle ones included until evicted).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).map.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Invalid-key attempts allowed per client per window before 429.
pub const FAILED_AUTH_LIMIT: u32 = 30;

/// Failed-auth throttle (SPEC §4): every 401 `invalid_api_key` counts against
/// the client; once it has [`FAILED_AUTH_LIMIT`] failures in the last 60 s its
/// further invalid attempts get 429 `too_many_failed_auth` (which do not
/// count) until the oldest failure leaves the window. Valid keys are never
/// checked against it.
///
/// The client is its IPv4 address (IPv4-mapped IPv6 folded to IPv4) or its
/// IPv6 **/64**: a single host or LAN is routinely given a whole /64, so
/// counting per IPv6 address would let anyone step around the throttle (and
/// grow this map) by rotating the low 64 bits. Set [`IPV6_PREFIX`] to 128 for
/// strict per-address counting.
#[derive(Debug, Default)]
pub struct FailedAuthThrottle {
    limiter: KeyedLimiter<IpAddr>,
}

/// IPv6 clients are grouped by this prefix length for the failed-auth throttle.
pub const IPV6_PREFIX: u8 = 64;

/// The client a failed attempt from `ip` counts against: the IPv4 address
/// (IPv4-mapped IPv6 folded to IPv4) or the IPv6 address masked to
/// [`IPV6_PREFIX`]. Shared limiters (Redis) key on it too.
pub fn throttle_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(IPV6_PREFIX)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
        v4 => v4,
    }
}

impl FailedAuthThrottle {
    pub fn new() -> Self {
        Self::default()
    }

    /// `Some(retry_after_secs)` when this IP is currently over the limit (an
    /// invalid attempt now must get 429).
    pub fn blocked(&self, ip: IpAddr, now_ms: u64) -> Option<u64> {
        self.limiter.peek(&throttle_key(ip), FAILED_AUTH_LIMIT, now_ms).retry_after_secs
    }

    /// Count one 401 `invalid_api_key`.
    pub fn record_failure(&self, ip: IpAddr, now_ms: u64) {
        self.limiter.record(&throttle_key(ip), now_ms)
    }

    /// `blocked` and `record_failure` under one lock: `Some(retry_after_secs)`
    /// means answer 429 (nothing recorded); `None` means the failure was
    /// counted, answer 401. Prefer this over the pair, which lets concurrent
    /// requests from one IP slip a few failures past the limit.
    pub fn check_and_record(&self, ip: IpAddr, now_ms: u64) -> Option<u64> {
        self.limiter.try_acquire(&throttle_key(ip), FAILED_AUTH_LIMIT, now_ms).retry_after_secs
    }

    /// Drop idle clients; call periodically.
    pub fn evict_idle(&self, now_ms: u64) -> usize {
        self.limiter.evict_idle(now_ms)
    }

    /// Number of clients held.
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: u64 = 1_700_000_000_000;

    #[test]
    fn burst_gets_exactly_n() {
        for n in [1u32, 5, 60, 300, 1000] {
            let mut log = SlidingLog::new();
            let ok = (0..n + 10).filter(|_| log.try_acquire(n, T0).allowed).count();
            assert_eq!(ok, n as usize);
            // still refused 1 ms before the first success leaves the window
            assert!(!log.try_acquire(n, T0 + WINDOW_MS - 1).allowed);
            // the whole burst leaves together
            let mut ok = 0;
            for _ in 0..n + 10 {
                ok += usize::from(log.try_acquire(n, T0 + WINDOW_MS).allowed);
            }
            assert_eq!(ok, n as usize);
        }
    }

    #[test]
    fn burst_decisions_count_down() {
        let mut log = SlidingLog::new();
        for i in 1..=5u32 {
            let d = log.try_acquire(5, T0);
            assert!(d.allowed);
            assert_eq!(d.remaining, 5 - i);
            assert_eq!(d.limit, 5);
            assert_eq!(d.reset_secs, 60);
            assert_eq!(d.retry_after_secs, None);
        }
        let d = log.try_acquire(5, T0 + 500);
        assert_eq!(
            d,
            Decision {
                allowed: false,
                limit: 5,
                remaining: 0,
                reset_secs: 60, // 59.5 s rounded up
                retry_after_secs: Some(60),
            }
        );
    }

    #[test]
    fn evenly_spaced_clients_are_never_limited() {
        for n in [60u32, 300, 1000] {
            let step = WINDOW_MS / u64::from(n);
            let mut log = SlidingLog::new();
            for i in 0..(u64::from(n) * 5) {
                let d = log.try_acquire(n, T0 + i * step);
                assert!(d.allowed, "n={n} request {i} refused: {d:?}");
            }
            // ...and that is the limit: one more squeezed in between is refused.
            let last = T0 + (u64::from(n) * 5 - 1) * step;
            assert!(!log.try_acquire(n, last + 1).allowed);
        }
    }

    #[test]
    fn uneven_spacing_rounding_never_limits() {
        // N = 7: the client sends at floor(i * 60000 / 7).
        let mut log = SlidingLog::new();
        for i in 0..100u64 {
            assert!(log.try_acquire(7, T0 + i * WINDOW_MS / 7).allowed);
        }
    }

    #[test]
    fn retry_after_is_honest() {
        let mut log = SlidingLog::new();
        // successes at T0, T0+1234, T0+2000
        for t in [0, 1234, 2000] {
            assert!(log.try_acquire(3, T0 + t).allowed);
        }
        let now = T0 + 10_500;
        let d = log.try_acquire(3, now);
        assert!(!d.allowed);
        // the oldest leaves at T0 + 60000: 49.5 s -> 50
        assert_eq!(d.retry_after_secs, Some(50));
        assert_eq!(d.reset_secs, 50);
        let ra = d.retry_after_secs.unwrap();
        // Guaranteed: a whole second earlier still fails, and so does the last
        // millisecond before the exact expiry...
        assert!(!log.peek(3, now + (ra - 1) * 1000).allowed);
        assert!(!log.peek(3, T0 + WINDOW_MS - 1).allowed);
        // ...and at the advertised time it succeeds.
        assert!(log.try_acquire(3, now + ra * 1000).allowed);
    }

    #[test]
    fn retry_after_at_least_one_second() {
        let mut log = SlidingLog::new();
        assert!(log.try_acquire(1, T0).allowed);
        let d = log.try_acquire(1, T0 + WINDOW_MS - 1);
        assert_eq!(d.retry_after_secs, Some(1));
        assert!(log.try_acquire(1, T0 + WINDOW_MS).allowed);
    }

    #[test]
    fn reset_semantics() {
        let mut log = SlidingLog::new();
        // empty: full, reset 0
        let d = log.peek(10, T0);
        assert_eq!((d.allowed, d.remaining, d.reset_secs), (true, 10, 0));
        assert!(log.try_acquire(10, T0).allowed);
        assert!(log.try_acquire(10, T0 + 30_000).allowed);
        // remaining next grows when T0's success leaves: 60 - 45.2 = 14.8 -> 15
        let d = log.peek(10, T0 + 45_200);
        assert_eq!((d.remaining, d.reset_secs), (8, 15));
        // after it left, the next is T0+30000's
        let d = log.peek(10, T0 + 60_000);
        assert_eq!((d.remaining, d.reset_secs), (9, 30));
        // all gone: full again
        let d = log.peek(10, T0 + 90_000);
        assert_eq!((d.remaining, d.reset_secs), (10, 0));
    }

    #[test]
    fn refused_requests_do_not_count() {
        let mut log = SlidingLog::new();
        assert!(log.try_acquire(2, T0).allowed);
        assert!(log.try_acquire(2, T0 + 1000).allowed);
        for t in (2000..60_000).step_by(100) {
            assert!(!log.try_acquire(2, T0 + t).allowed);
        }
        // the hammering did not extend anything
        assert!(log.try_acquire(2, T0 + 60_000).allowed);
        assert!(!log.try_acquire(2, T0 + 60_000).allowed);
        assert!(log.try_acquire(2, T0 + 61_000).allowed);
    }

    #[test]
    fn limit_change_applies_at_once() {
        let mut log = SlidingLog::new();
        for _ in 0..60 {
            assert!(log.try_acquire(60, T0).allowed);
        }
        assert!(!log.try_acquire(60, T0 + 1).allowed);
        // upgrade: 240 more at once
        let ok = (0..300).filter(|_| log.try_acquire(300, T0 + 2).allowed).count();
        assert_eq!(ok, 240);
        // downgrade to 60 with 300 in the window: refused, remaining 0, and
        // remaining grows only once 241 have left (all at T0+2 -> at T0+60002).
        let d = log.try_acquire(60, T0 + 3);
        assert_eq!((d.allowed, d.remaining), (false, 0));
        assert_eq!(d.retry_after_secs, Some(60));
        assert!(!log.peek(60, T0 + WINDOW_MS + 1).allowed);
        assert!(log.peek(60, T0 + WINDOW_MS + 2).allowed);
    }

    #[test]
    fn limit_zero_refuses_everything() {
        let mut log = SlidingLog::new();
        let d = log.try_acquire(0, T0);
        assert!(!d.allowed);
        assert_eq!(d.retry_after_secs, Some(60));
        assert_eq!(d.remaining, 0);
    }

    #[test]
    fn out_of_order_now_is_clamped() {
        let mut log = SlidingLog::new();
        assert!(log.try_acquire(2, T0 + 100).allowed);
        assert!(log.try_acquire(2, T0 + 90).allowed); // recorded as T0+100
        assert!(!log.try_acquire(2, T0 + WINDOW_MS + 99).allowed);
        assert!(log.try_acquire(2, T0 + WINDOW_MS + 100).allowed);
    }

    #[test]
    fn idle_and_long_gaps() {
        let mut log = SlidingLog::new();
        assert!(log.is_idle(0));
        log.record(T0);
        assert!(!log.is_idle(T0 + WINDOW_MS - 1));
        assert!(log.is_idle(T0 + WINDOW_MS));
        // busy for 60 days without a gap: offsets rebase
        let mut t = T0;
        let day = 86_400_000;
        for _ in 0..60 {
            t += day / 2;
            log.record(t - 30_000);
            log.record(t);
            assert_eq!(log.peek(10, t).remaining, 8);
        }
    }

    #[test]
    fn a_log_never_empty_for_minutes_rebases_its_u16_offsets() {
        let mut log = SlidingLog::new();
        let mut last = None;
        // One request a second for 200 s: the log never empties, so its
        // offsets pass u16::MAX after ~65 s and must be rebased (twice+).
        for i in 0..200u64 {
            let d = log.try_acquire(100, T0 + i * 1000);
            assert!(d.allowed);
            last = Some(d);
        }
        let d = last.unwrap();
        assert_eq!(d.remaining, 40, "exactly the last 60 s are in the window");
        assert_eq!(d.reset_secs, 1, "the oldest entry leaves the window in a second");
        assert!(log.base > T0 + 60_000, "the base moved with the window");
    }

    #[test]
    fn buffer_shrinks_after_burst() {
        let mut log = SlidingLog::new();
        for _ in 0..1000 {
            log.try_acquire(1000, T0);
        }
        assert!(log.log.capacity() >= 1000);
        for i in 0..10 {
            log.try_acquire(1000, T0 + WINDOW_MS + i);
        }
        assert!(log.log.capacity() < 100, "{}", log.log.capacity());
    }

    #[test]
    fn keyed_limiter_separates_keys_and_skips_misses() {
        let l = KeyedLimiter::<u64>::new();
        assert!(l.try_acquire(&1, 1, T0).allowed);
        assert!(!l.try_acquire(&1, 1, T0).allowed);
        assert!(l.try_acquire(&2, 1, T0).allowed);
        assert_eq!(l.len(), 2);
        assert!(l.peek(&3, 1, T0).allowed);
        assert!(!l.try_acquire(&4, 0, T0).allowed);
        assert_eq!(l.len(), 2, "peeks and refusals of unknown keys insert nothing");
        assert_eq!(l.evict_idle(T0 + WINDOW_MS - 1), 0);
        assert_eq!(l.evict_idle(T0 + WINDOW_MS), 2);
        assert!(l.is_empty());
    }

    #[test]
    fn keyed_limiter_memory_stays_bounded() {
        let l = KeyedLimiter::<[u8; 32]>::new();
        let key = |round: u64, i: u64| {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&round.to_le_bytes());
            k[8..16].copy_from_slice(&i.to_le_bytes());
            k
        };
        const KEYS: u64 = 100_000;
        let mut max_len = 0;
        for round in 0..5 {
            // each round 100k new keys, the previous round's now idle
            let now = T0 + round * (WINDOW_MS + 1000);
            for i in 0..KEYS {
                assert!(l.try_acquire(&key(round, i), 10, now + i / 1000).allowed);
            }
            max_len = max_len.max(l.len());
        }
        // live keys are 100k; growth-triggered sweeps keep it under ~2x
        assert!(max_len <= 2 * usize::try_from(KEYS).unwrap(), "len reached {max_len}");
        let held = l.len();
        assert_eq!(l.evict_idle(T0 + 10 * WINDOW_MS), held);
        assert_eq!(l.len(), 0);
    }

    #[test]
    fn keyed_limiter_is_shared_across_threads() {
        let l = KeyedLimiter::<u32>::new();
        let ok = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for i in 0..500 {
                        if l.try_acquire(&7, 1000, T0 + i).allowed {
                            ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(ok.into_inner(), 1000);
    }

    #[test]
    fn failed_auth_throttle() {
        let th = FailedAuthThrottle::new();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        for i in 0..FAILED_AUTH_LIMIT {
            assert_eq!(th.blocked(ip, T0 + u64::from(i)), None);
            th.record_failure(ip, T0 + u64::from(i));
        }
        // the 31st invalid attempt gets 429 until the first failure leaves
        assert_eq!(th.blocked(ip, T0 + 100), Some(60));
        // mapped form is the same client; another IP is not affected
        let mapped: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        assert_eq!(th.blocked(mapped, T0 + 200), Some(60));
        assert_eq!(th.blocked("203.0.113.10".parse().unwrap(), T0 + 200), None);
        assert_eq!(th.len(), 1);
        assert_eq!(th.blocked(ip, T0 + WINDOW_MS - 1), Some(1));
        assert_eq!(th.blocked(ip, T0 + WINDOW_MS), None);
    }

    #[test]
    fn failed_auth_groups_ipv6_by_64() {
        let th = FailedAuthThrottle::new();
        for i in 0..FAILED_AUTH_LIMIT {
            let ip: IpAddr = format!("2001:db8:1:2::{:x}", i + 1).parse().unwrap();
            assert_eq!(th.check_and_record(ip, T0), None);
        }
        let same64: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        assert_eq!(th.check_and_record(same64, T0 + 1), Some(60));
        assert_eq!(th.blocked("2001:db8:1:3::1".parse().unwrap(), T0), None);
        // 429s did not count
        assert_eq!(th.check_and_record(same64, T0 + WINDOW_MS), None);
    }

    /// The obvious model: every success ever, counted by filter.
    #[derive(Default)]
    struct Reference {
        successes: Vec<u64>,
    }

    impl Reference {
        fn count_at(&self, t: u64) -> usize {
            self.successes.iter().filter(|&&s| s + WINDOW_MS > t).count()
        }
        fn remaining_at(&self, limit: u32, t: u64) -> u32 {
            u32::try_from(self.count_at(t)).map_or(0, |n| limit.saturating_sub(n))
        }
        /// Smallest d > 0 (ms) after which remaining exceeds its value now.
        fn ms_until_growth(&self, limit: u32, now: u64) -> Option<u64> {
            let r = self.remaining_at(limit, now);
            self.successes
                .iter()
                .map(|&s| s + WINDOW_MS)
                .filter(|&e| e > now)
                .find(|&e| self.remaining_at(limit, e) > r)
                .map(|e| e - now)
        }
        fn ms_until_allowed(&self, limit: u32, now: u64) -> Option<u64> {
            self.successes
                .iter()
                .map(|&s| s + WINDOW_MS)
                .filter(|&e| e > now)
                .find(|&e| self.count_at(e) < limit as usize)
                .map(|e| e - now)
        }
    }

    fn step() -> impl Strategy<Value = u64> {
        prop_oneof![
            8 => 0u64..50,
            4 => 0u64..5_000,
            1 => Just(WINDOW_MS),
            1 => 50_000u64..70_000,
            // Runs of small steps keep entries alive past 65.5 s: u16 rebasing.
            1 => 4_000_000_000u64..5_000_000_000,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn matches_reference_model(
            start in 0u64..10_000_000_000_000,
            ops in prop::collection::vec((step(), 0u32..12, 0u8..10), 1..400),
        ) {
            let mut log = SlidingLog::new();
            let mut model = Reference::default();
            let mut now = start;
            for (dt, limit, kind) in ops {
                now += dt;
                let before = model.count_at(now);
                let d = match kind {
                    0 => { log.record(now); model.successes.push(now); continue; }
                    1 => log.peek(limit, now),
                    _ => log.try_acquire(limit, now),
                };
                let allowed = before < limit as usize;
                prop_assert_eq!(d.allowed, allowed);
                prop_assert_eq!(d.limit, limit);
                if allowed && kind != 1 {
                    model.successes.push(now);
                }
                prop_assert_eq!(d.remaining, model.remaining_at(limit, now));
                let growth = model.ms_until_growth(limit, now).map_or(0, |ms| ms.div_ceil(1000));
                prop_assert_eq!(d.reset_secs, growth);
                if allowed {
                    prop_assert_eq!(d.retry_after_secs, None);
                } else if limit > 0 {
                    let ms = model.ms_until_allowed(limit, now).unwrap();
                    prop_assert_eq!(d.retry_after_secs, Some(ms.div_ceil(1000)));
                    let ra = d.retry_after_secs.unwrap();
                    prop_assert!(ra >= 1);
                    // honest: at now + ra s, a request would pass
                    prop_assert!(model.count_at(now + ra * 1000) < limit as usize);
                }
                prop_assert_eq!(log.is_idle(now), model.count_at(now) == 0);
            }
        }

        #[test]
        fn no_interval_exceeds_the_limit(
            limit in 1u32..40,
            steps in prop::collection::vec(step(), 1..600),
        ) {
            let mut log = SlidingLog::new();
            let mut now = T0;
            let mut ok = Vec::new();
            for dt in steps {
                now += dt;
                if log.try_acquire(limit, now).allowed {
                    ok.push(now);
                }
            }
            // any limit+1 consecutive successes span at least a full window
            let n = limit as usize;
            for w in ok.windows(n + 1) {
                prop_assert!(w[n] - w[0] >= WINDOW_MS, "{:?}", w);
            }
        }
    }
}
