//! The key cache and last-used tracking behind `/v1` authentication.
//!
//! Revocation is immediate (SPEC §4) without a storage read per request:
//! verified keys are cached by hash, stamped with the store's change counter
//! (see [`crate::changes`]); any change to keys, plans, overrides, allowlists
//! or memberships, by this process or by the CLI, moves the counter, and the
//! next lookup drops the whole cache and reloads from storage. Unknown hashes
//! are never cached (the failed-auth throttle protects storage instead).
//! On PostgreSQL several nodes share the state and no node can see another's
//! counter for free, so nothing is cached: each request reads its key (one
//! indexed lookup), which makes a revocation on node A visible on node B at
//! once and cannot be undone by losing Redis.

use crate::store::{AuthKey, Store, StoreError};
use keyward_core::allowlist::Allowlist;
use keyward_core::{HashedKey, RateLimitPolicy};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// A key that exists, with what the pipeline needs precomputed.
#[derive(Debug)]
pub struct VerifiedKey {
    pub key: AuthKey,
    /// `None` when a stored CIDR does not parse (edited by hand): fail
    /// closed, the key then allows no source at all.
    pub allowlist: Option<Allowlist>,
    /// `None` when the plan has no API access.
    pub policy: Option<RateLimitPolicy>,
    /// Unix seconds of the last use reported to [`LastUsed`] through this
    /// entry (0: none), see [`VerifiedKey::take_touch`].
    touched_s: AtomicU32,
}

impl VerifiedKey {
    fn new(mut key: AuthKey) -> Self {
        let allowlist = Allowlist::parse(&key.allowed_cidrs).ok();
        // The parsed form is what requests use; 100k cached keys should not
        // also keep the strings.
        key.allowed_cidrs = Box::default();
        let policy = RateLimitPolicy::for_workspace(key.plan, key.rpm_override);
        VerifiedKey { key, allowlist, policy, touched_s: AtomicU32::new(0) }
    }

    /// Whether this use of the key goes to [`LastUsed::touch`]: the first
    /// through this cache entry, then at most one every
    /// [`LAST_USED_TOUCH_EVERY_S`] seconds. An atomic on the entry the
    /// request holds anyway, instead of the global map's lock and hash on
    /// every request. Two requests racing may both report; that is harmless.
    pub fn take_touch(&self, now_ms: i64) -> bool {
        let now = u32::try_from(now_ms.div_euclid(1000)).unwrap_or(u32::MAX).max(1);
        let last = self.touched_s.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < LAST_USED_TOUCH_EVERY_S {
            return false;
        }
        self.touched_s.store(now, Ordering::Relaxed);
        true
    }

    /// Step 5: whether `ip` may use this key.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allowlist.as_ref().is_some_and(|a| a.allows(ip))
    }
}

/// Cache of verified keys by hash, invalidated by the change counter.
pub struct KeyCache {
    store: Store,
    enabled: bool,
    generation: AtomicU64,
    map: RwLock<Cached>,
}

#[derive(Default)]
struct Cached {
    keys: HashMap<HashedKey, Arc<VerifiedKey>>,
    /// Workspace id → name, shared by every cached key of the workspace
    /// (100k keys should not hold 100k copies of a few workspaces' strings).
    workspaces: HashMap<Arc<str>, Arc<str>>,
}

impl Cached {
    fn clear(&mut self) {
        self.keys.clear();
        self.workspaces.clear();
    }

    /// Point `key`'s workspace strings at the shared copies.
    fn intern_workspace(&mut self, key: &mut AuthKey) {
        match self.workspaces.get_key_value(&*key.workspace_id) {
            Some((id, name)) if **name == *key.workspace_name => {
                key.workspace_id = Arc::clone(id);
                key.workspace_name = Arc::clone(name);
            }
            _ => {
                self.workspaces.insert(Arc::clone(&key.workspace_id), Arc::clone(&key.workspace_name));
            }
        }
    }
}

impl KeyCache {
    pub fn new(store: Store, enabled: bool) -> Self {
        let generation = AtomicU64::new(store.changes().get());
        KeyCache { store, enabled, generation, map: RwLock::new(Cached::default()) }
    }

    /// The key with this hash, if it exists (active or revoked).
    pub async fn lookup(&self, hash: &HashedKey) -> Result<Option<Arc<VerifiedKey>>, StoreError> {
        if !self.enabled {
            return Ok(self.store.auth_key(hash).await?.map(|k| Arc::new(VerifiedKey::new(k))));
        }
        let current = self.store.changes().get();
        if self.generation.load(Ordering::Acquire) != current {
            let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
            if self.generation.load(Ordering::Acquire) != current {
                map.clear();
                self.generation.store(current, Ordering::Release);
            }
        }
        if let Some(k) = self.map.read().unwrap_or_else(|e| e.into_inner()).keys.get(hash) {
            return Ok(Some(Arc::clone(k)));
        }
        let Some(mut loaded) = self.store.auth_key(hash).await? else {
            return Ok(None);
        };
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        // Cache only if nothing changed since `current` was read: a change
        // committed during our read would otherwise be masked.
        if self.generation.load(Ordering::Acquire) == current && self.store.changes().get() == current {
            map.intern_workspace(&mut loaded);
            let verified = Arc::new(VerifiedKey::new(loaded));
            map.keys.insert(*hash, Arc::clone(&verified));
            return Ok(Some(verified));
        }
        Ok(Some(Arc::new(VerifiedKey::new(loaded))))
    }
}

/// `last_used_at` / `last_used_ip`, coalesced in memory and written by a
/// background task, so a request never waits on a storage write for them.
/// A key's first use is written at the next flush (seconds); after that at
/// most once every [`LAST_USED_WRITE_EVERY_MS`] per key, from uses reported
/// at most once every 10 s per cached key ([`VerifiedKey::take_touch`]):
/// the stored time lags at most 60 s (SPEC), and 100k busy keys cost at
/// most ~2.3k small updates a second, never one per request.
#[derive(Default)]
pub struct LastUsed {
    keys: Mutex<HashMap<Arc<str>, LastUse>>,
}

#[derive(Clone, Copy)]
struct LastUse {
    at: i64,
    ip: IpAddr,
    /// When this key was last written (0: never by this process).
    written_at: i64,
    dirty: bool,
}

/// How far the stored last use may lag behind the key's real last use (SPEC).
pub const LAST_USED_MAX_LAG_MS: i64 = 60_000;
/// Minimum time between two uses of one cached key reported to
/// [`LastUsed`] ([`VerifiedKey::take_touch`]).
pub const LAST_USED_TOUCH_EVERY_S: u32 = 10;
/// How often the server calls [`LastUsed::flush`].
pub const LAST_USED_FLUSH_EVERY_S: u64 = 5;
/// Minimum time between two writes of one key's last use: what the lag
/// bound leaves after a use waiting to be reported, a write waiting for
/// the next flush, and a second for the flush itself (44 s).
// Small constants (10 and 5): the casts neither wrap nor truncate, and
// `From` is not callable in a const.
#[allow(clippy::cast_possible_wrap, clippy::cast_lossless)]
pub const LAST_USED_WRITE_EVERY_MS: i64 =
    LAST_USED_MAX_LAG_MS - LAST_USED_TOUCH_EVERY_S as i64 * 1000 - LAST_USED_FLUSH_EVERY_S as i64 * 1000 - 1000;
/// At most this many keys are written per flush (oldest first), so the
/// writes of 100k keys that fall due together spread over several flushes
/// instead of competing with the usage writer in one burst.
pub const LAST_USED_MAX_PER_FLUSH: usize = 10_000;

impl LastUsed {
    pub fn touch(&self, key_id: &Arc<str>, at_ms: i64, ip: IpAddr) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        match keys.get_mut(key_id) {
            Some(v) => {
                v.at = at_ms.max(v.at);
                v.ip = ip;
                v.dirty = true;
            }
            None => {
                keys.insert(Arc::clone(key_id), LastUse { at: at_ms, ip, written_at: 0, dirty: true });
            }
        }
    }

    /// Write what is due (`all`: everything dirty, at shutdown), and forget
    /// keys idle for longer than the write interval.
    pub async fn flush(&self, store: &Store, now_ms: i64, all: bool) -> Result<(), StoreError> {
        store.record_last_used(&self.take_due(now_ms, all)).await
    }

    /// What `flush` writes now: (key id, last use, ip), marked as written.
    fn take_due(&self, now_ms: i64, all: bool) -> Vec<(String, i64, String)> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.retain(|_, v| v.dirty || now_ms - v.written_at < LAST_USED_WRITE_EVERY_MS);
        let mut due: Vec<(&Arc<str>, &mut LastUse)> = keys
            .iter_mut()
            .filter(|(_, v)| v.dirty && (all || v.written_at == 0 || now_ms - v.written_at >= LAST_USED_WRITE_EVERY_MS))
            .collect();
        if !all && due.len() > LAST_USED_MAX_PER_FLUSH {
            due.select_nth_unstable_by_key(LAST_USED_MAX_PER_FLUSH, |(_, v)| v.written_at);
            due.truncate(LAST_USED_MAX_PER_FLUSH);
        }
        due.into_iter()
            .map(|(k, v)| {
                v.dirty = false;
                v.written_at = now_ms;
                (k.to_string(), v.at, v.ip.to_string())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_entry_fits_a_256_byte_allocation() {
        // 100k cached keys: one size class up costs ~6 MB of resident memory.
        assert!(std::mem::size_of::<VerifiedKey>() + 2 * std::mem::size_of::<usize>() <= 256);
    }

    fn verified_key() -> VerifiedKey {
        VerifiedKey::new(AuthKey {
            id: Arc::from("key_1"),
            name: "k".into(),
            last4: "abcd".into(),
            created_at: 0,
            workspace_id: Arc::from("ws_1"),
            workspace_name: Arc::from("W"),
            plan: keyward_core::Plan::Pro,
            rpm_override: None,
            revoked_at: None,
            revoke_reason: None,
            allowed_cidrs: Box::default(),
            expires_at: i64::MAX,
            scopes: keyward_core::Scopes::ALL,
        })
    }

    #[test]
    fn a_cached_key_reports_its_first_use_then_one_every_10_seconds() {
        let vk = verified_key();
        assert!(vk.take_touch(1_000_500));
        assert!(!vk.take_touch(1_000_900));
        assert!(!vk.take_touch(1_009_999), "9 s later");
        assert!(vk.take_touch(1_010_000), "10 s later");
        assert!(!vk.take_touch(1_010_001));
    }

    #[test]
    fn the_stored_last_use_never_lags_more_than_60_seconds() {
        // A key used every 250 ms for five minutes, through the cache
        // entry's report throttle and the flushes the server makes; the
        // stored time is read before each request. Every phase of the first
        // use against the flush clock, and of a renewed cache entry (after
        // any change, `KeyCache` builds new entries) against the writes.
        // A second of the bound is left for the flush's own write.
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let flush_every = i64::try_from(LAST_USED_FLUSH_EVERY_S).unwrap() * 1000;
        for phase in (0..10_000).step_by(250) {
            for renewal in (0..10_000).step_by(250) {
                let (mut vk, lu) = (verified_key(), LastUsed::default());
                let start = 1_700_000_000_000 + phase;
                let renew_at = start + 100_000 + renewal;
                let mut stored: Option<i64> = None;
                let mut next_flush = start - start % flush_every + flush_every;
                let mut now = start;
                while now < start + 300_000 {
                    while next_flush <= now {
                        if let Some((_, at, _)) = lu.take_due(next_flush, false).pop() {
                            stored = Some(at);
                        }
                        next_flush += flush_every;
                    }
                    let lag = now - stored.unwrap_or(start);
                    assert!(lag <= LAST_USED_MAX_LAG_MS - 1000, "{lag} ms behind at {now}, first use at {start}");
                    if now == renew_at {
                        vk = verified_key();
                    }
                    if vk.take_touch(now) {
                        lu.touch(&vk.key.id, now, ip);
                    }
                    now += 250;
                }
            }
        }
    }

    #[test]
    fn first_use_is_written_at_once_then_at_most_every_44_seconds() {
        let lu = LastUsed::default();
        let key: Arc<str> = Arc::from("key_a");
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        lu.touch(&key, 1_000, ip);
        assert_eq!(lu.take_due(1_000, false), vec![("key_a".to_string(), 1_000, "203.0.113.9".to_string())]);
        lu.touch(&key, 2_000, ip);
        assert!(lu.take_due(30_000, false).is_empty(), "written less than 44 s ago");
        assert_eq!(lu.take_due(61_000, false).len(), 1);
        lu.touch(&key, 62_000, ip);
        assert_eq!(lu.take_due(62_000, true).len(), 1, "shutdown writes everything dirty");
        assert!(lu.take_due(62_000, true).is_empty(), "nothing dirty is left");
    }

    #[test]
    fn a_flush_writes_a_bounded_number_of_keys_oldest_first() {
        let lu = LastUsed::default();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        for i in 0..(LAST_USED_MAX_PER_FLUSH + 5) {
            lu.touch(&Arc::from(format!("key_{i}")), 1, ip);
        }
        assert_eq!(lu.take_due(10, false).len(), LAST_USED_MAX_PER_FLUSH);
        assert_eq!(lu.take_due(10, false).len(), 5);
    }
}
