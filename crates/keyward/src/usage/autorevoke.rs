//! Auto-revocation (SPEC §6): a key whose 401 `ip_not_allowed` and 422
//! answers reach both a minimum count and a minimum share of its requests
//! over a sliding window is revoked with reason `auto_error_rate`.
//!
//! What counts:
//! - numerator: 401 `ip_not_allowed` and every 422 answer;
//! - denominator: every recorded answer of the key except 429s and 5xx
//!   (SPEC: "which never count"). So 401 `api_key_revoked` and 403
//!   `plan_required` answers count as requests (they can only dilute the
//!   ratio, never accuse), but never as errors;
//! - requests refused before the key was known (invalid or unknown keys)
//!   never reach the usage log, so nobody can get someone else's key revoked.
//!
//! Where it is counted: after each committed batch, the writer counts the
//! window of keys that had a numerator answer in the batch, at most once a
//! second per key ([`DueChecks`]). The counts come from the store, not from
//! memory, so several nodes writing to one store see the same totals, and
//! a graceful restart loses nothing. They are per-key, 10-second buckets
//! (`usage_key_buckets`, see `store::UsageStrategy`): on PostgreSQL each
//! batch upserts its own in its transaction; on SQLite each node's writer
//! gathers them in memory ([`KeyBuckets`]) and adds them to the store every
//! few seconds and before it counts (so a crash loses the last few
//! seconds, and another node's answers of the last few seconds may not be
//! added yet). The window then starts at the beginning of the bucket
//! holding its first second.
//!
//! The window is the last `window_secs` whole seconds, the current one
//! included.
use super::UsageRecord;
use crate::store::{key_bucket, KeyBucketCount, Revoker, Store, UsageStrategy};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// Thresholds of auto-revocation (from `--auto-revoke-*`, see `config.rs`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoRevokePolicy {
    pub window_secs: u64,
    pub min_errors: u64,
    pub min_ratio: f64,
}

impl AutoRevokePolicy {
    /// The first second of the window ending at `now_ms` (inclusive).
    pub fn window_start_sec(&self, now_ms: i64) -> i64 {
        now_ms.div_euclid(1000) - i64::try_from(self.window_secs).unwrap_or(i64::MAX) + 1
    }

    /// Whether `errors` out of `requests` reach both thresholds.
    pub fn trips(&self, errors: u64, requests: u64) -> bool {
        requests > 0 && errors >= self.min_errors && errors as f64 >= self.min_ratio * requests as f64
    }
}

/// How one answer counts: (in the denominator, in the numerator).
pub fn classify(status: u16, code: Option<&str>) -> (bool, bool) {
    if status == 429 || status >= 500 {
        return (false, false);
    }
    let error = status == 422 || (status == 401 && code == Some("ip_not_allowed"));
    (true, error)
}

/// Whether a record is a numerator answer (so its key must be checked).
pub fn is_error(r: &UsageRecord) -> bool {
    classify(r.status, r.code).1
}

/// Least time between two window counts of one key.
pub const CHECK_GAP: std::time::Duration = std::time::Duration::from_secs(1);

/// Which keys are due for a window count in the store.
///
/// A key with numerator answers in a committed batch is counted at once
/// unless it was counted less than [`CHECK_GAP`] ago; then the count is put
/// off, not skipped (the writer wakes up for it, records or not). So every
/// numerator answer is followed by a count within about a second, whichever
/// node recorded the others, and a hammered key costs one count a second,
/// not one a batch.
#[derive(Debug, Default)]
pub struct DueChecks {
    keys: HashMap<(Arc<str>, Arc<str>), KeyCheck>,
}

#[derive(Debug, Default)]
struct KeyCheck {
    /// Numerator answers recorded since the last count.
    dirty: bool,
    last_ms: Option<i64>,
}

impl DueChecks {
    /// Note the keys with numerator answers in a committed batch.
    pub fn note(&mut self, batch: &[UsageRecord]) {
        for r in batch.iter().filter(|r| is_error(r)) {
            self.keys.entry((Arc::clone(&r.workspace_id), Arc::clone(&r.key_id))).or_default().dirty = true;
        }
    }

    /// The keys to count now (in key order); they are marked counted.
    pub fn take_due(&mut self, now_ms: i64) -> Vec<(Arc<str>, Arc<str>)> {
        let gap = i64::try_from(CHECK_GAP.as_millis()).unwrap_or(i64::MAX);
        let mut due: Vec<_> = self
            .keys
            .iter_mut()
            .filter(|(_, k)| k.dirty && k.last_ms.is_none_or(|last| now_ms - last >= gap))
            .map(|(id, k)| {
                k.dirty = false;
                k.last_ms = Some(now_ms);
                id.clone()
            })
            .collect();
        due.sort();
        due
    }

    /// Make every count that was put off due now (at shutdown).
    pub fn hurry(&mut self) {
        for k in self.keys.values_mut().filter(|k| k.dirty) {
            k.last_ms = None;
        }
    }

    /// Whether a count was put off.
    pub fn waiting(&self) -> bool {
        self.keys.values().any(|k| k.dirty)
    }

    /// Forget keys counted more than a window ago with nothing since.
    pub fn sweep(&mut self, policy: &AutoRevokePolicy, now_ms: i64) {
        let start = policy.window_start_sec(now_ms) * 1000;
        self.keys.retain(|_, k| k.dirty || k.last_ms.is_some_and(|last| last >= start));
    }

    /// Keys followed.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Counted answers per key and bucket, gathered from committed batches
/// until the writer adds them to the store (where its
/// [`UsageStrategy::gathers_key_buckets`]; elsewhere it stays empty). One entry per key and bucket; the map
/// points at each key's newest entry (a key belongs to one workspace), so
/// a record costs one lookup that borrows its key id. Compact on purpose:
/// with 100k keys in use it holds one entry for nearly every key.
#[derive(Debug, Default)]
pub struct KeyBuckets {
    newest: HashMap<Arc<str>, usize>,
    entries: Vec<BucketEntry>,
    /// The store keeps no buckets: [`KeyBuckets::add`] does nothing.
    off: bool,
}

#[derive(Debug)]
struct BucketEntry {
    bucket: i64,
    workspace_id: Arc<str>,
    key_id: Arc<str>,
    requests: u32,
    errors: u32,
}

impl KeyBuckets {
    /// Buckets for a store that keeps the usage log this way.
    pub fn new(strategy: UsageStrategy) -> Self {
        KeyBuckets { off: !strategy.gathers_key_buckets(), ..KeyBuckets::default() }
    }

    /// Count a committed batch's answers (429s and 5xx never count).
    pub fn add(&mut self, batch: &[UsageRecord]) {
        if self.off {
            return;
        }
        for r in batch {
            let (counted, error) = classify(r.status, r.code);
            if !counted {
                continue;
            }
            let bucket = key_bucket(r.at_ms);
            let entry = match self.newest.get(&*r.key_id) {
                Some(&i) if self.entries[i].bucket == bucket => &mut self.entries[i],
                _ => {
                    // A new key or bucket (an older bucket, from a record
                    // that came late, gets an entry of its own; `rows` adds
                    // such entries up).
                    self.newest.insert(Arc::clone(&r.key_id), self.entries.len());
                    self.entries.push(BucketEntry {
                        bucket,
                        workspace_id: Arc::clone(&r.workspace_id),
                        key_id: Arc::clone(&r.key_id),
                        requests: 0,
                        errors: 0,
                    });
                    self.entries.last_mut().expect("just pushed")
                }
            };
            entry.requests = entry.requests.saturating_add(1);
            entry.errors = entry.errors.saturating_add(u32::from(error));
        }
    }

    /// The rows to add, one per key and bucket, sorted by (bucket,
    /// workspace, key): the order of the table's primary key, so new
    /// buckets are written page after page.
    pub fn rows(&self) -> Vec<KeyBucketCount<'_>> {
        let mut rows: Vec<KeyBucketCount<'_>> = self
            .entries
            .iter()
            .map(|e| KeyBucketCount {
                bucket: e.bucket,
                workspace_id: &e.workspace_id,
                key_id: &e.key_id,
                requests: u64::from(e.requests),
                errors: u64::from(e.errors),
            })
            .collect();
        rows.sort_unstable_by(|a, b| (a.bucket, a.workspace_id, a.key_id).cmp(&(b.bucket, b.workspace_id, b.key_id)));
        rows.dedup_by(|later, kept| {
            let same = (later.bucket, later.key_id) == (kept.bucket, kept.key_id);
            if same {
                kept.requests += later.requests;
                kept.errors += later.errors;
            }
            same
        });
        rows
    }

    /// Forget what was added, and the memory it took.
    pub fn clear(&mut self) {
        *self = KeyBuckets { off: self.off, ..KeyBuckets::default() };
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A key that was just revoked automatically.
#[derive(Debug, Clone)]
pub struct Revoked {
    pub workspace_id: String,
    pub key_id: String,
    pub errors: u64,
    pub requests: u64,
    pub window_secs: u64,
    pub ratio: f64,
    /// The errors by problem code (`validation_failed`, `ip_not_allowed`),
    /// most frequent first: what the notice says happened.
    pub by_code: Vec<(String, u64)>,
}

/// Check one key's window and revoke it when it trips the thresholds.
/// `Ok(None)`: below the thresholds, or already revoked (by another node,
/// an admin, or an earlier batch).
pub async fn check_key(
    store: &Store,
    policy: &AutoRevokePolicy,
    workspace_id: &str,
    key_id: &str,
    now_ms: i64,
) -> crate::store::Result<Option<Revoked>> {
    let since_ms = policy.window_start_sec(now_ms) * 1000;
    let (ws, key) = (keyward_core::WorkspaceId::new(workspace_id), keyward_core::KeyId::new(key_id));
    let (errors, requests) = store.usage_key_window(&ws, &key, since_ms, now_ms).await?;
    if !policy.trips(errors, requests) {
        return Ok(None);
    }
    let ratio = (errors as f64 / requests as f64 * 1000.0).round() / 1000.0;
    let by_code = store.usage_key_error_codes(&ws, &key, since_ms).await?;
    let codes: serde_json::Map<String, serde_json::Value> =
        by_code.iter().map(|(c, n)| (c.clone(), json!(n))).collect();
    let details = json!({
        "errors": errors, "requests": requests, "window_secs": policy.window_secs, "ratio": ratio, "by_code": codes,
    });
    if !store.revoke_key(&ws, &key, Revoker::System, keyward_core::RevokeReason::AutoErrorRate, details).await? {
        return Ok(None);
    }
    Ok(Some(Revoked {
        workspace_id: workspace_id.to_string(),
        key_id: key_id.to_string(),
        errors,
        requests,
        window_secs: policy.window_secs,
        ratio,
        by_code,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerator_is_ip_not_allowed_and_422_and_429_5xx_never_count() {
        assert_eq!(classify(401, Some("ip_not_allowed")), (true, true));
        assert_eq!(classify(422, Some("validation_failed")), (true, true));
        assert_eq!(classify(401, Some("api_key_revoked")), (true, false));
        assert_eq!(classify(403, Some("plan_required")), (true, false));
        assert_eq!(classify(404, Some("not_found")), (true, false));
        assert_eq!(classify(200, None), (true, false));
        assert_eq!(classify(429, Some("rate_limited")), (false, false));
        assert_eq!(classify(500, Some("internal_error")), (false, false));
        assert_eq!(classify(503, Some("service_unavailable")), (false, false));
    }

    #[test]
    fn trips_needs_both_the_count_and_the_share() {
        let p = AutoRevokePolicy { window_secs: 300, min_errors: 100, min_ratio: 0.5 };
        assert!(p.trips(100, 200));
        assert!(!p.trips(99, 100), "count below the minimum");
        assert!(!p.trips(100, 201), "share below the minimum");
        assert!(p.trips(150, 150));
        assert!(!p.trips(0, 0));
    }

    fn err(at_ms: i64, key: &str) -> UsageRecord {
        crate::usage::test_record(at_ms, key, "/v1/studies", 422, Some("validation_failed"))
    }

    #[test]
    fn key_buckets_count_what_classify_counts_per_key_and_10_seconds_in_key_order() {
        let t = 1_700_000_000_000; // a multiple of 10 s
        let mut ok = crate::usage::test_record(t + 9_999, "key_b", "/v1/me", 200, None);
        let limited = crate::usage::test_record(t, "key_b", "/v1/me", 429, Some("rate_limited"));
        let mut b = KeyBuckets::default();
        b.add(&[err(t, "key_b"), ok.clone(), limited, err(t + 10_000, "key_b"), err(t + 5, "key_a")]);
        ok.at_ms = t + 1;
        b.add(&[ok]); // late: key_b's newest bucket is already the second one

        let rows: Vec<_> = b.rows().iter().map(|r| (r.bucket, r.key_id.to_string(), r.requests, r.errors)).collect();
        let s = t / 1000;
        assert_eq!(
            rows,
            [(s, "key_a".to_string(), 1, 1), (s, "key_b".to_string(), 3, 1), (s + 10, "key_b".to_string(), 1, 1),],
            "the 429 is left out; t + 9.999 s is still the first bucket; the late record is added up"
        );
        assert!(b.rows().iter().all(|r| r.workspace_id == "ws_1"));
        b.clear();
        assert!(b.is_empty() && b.rows().is_empty());
    }

    fn due(c: &mut DueChecks, now_ms: i64) -> Vec<String> {
        c.take_due(now_ms).into_iter().map(|(_, k)| k.to_string()).collect()
    }

    #[test]
    fn a_key_is_counted_at_most_once_a_second_and_never_skipped() {
        let p = AutoRevokePolicy { window_secs: 10, min_errors: 3, min_ratio: 0.5 };
        let mut c = DueChecks::default();
        let t = 1_000_000_000;
        c.note(&[err(t, "key_a")]);
        assert_eq!(due(&mut c, t), ["key_a"], "counted at once");
        assert!(!c.waiting());
        c.note(&[err(t + 10, "key_a"), err(t + 10, "key_b")]);
        assert_eq!(due(&mut c, t + 10), ["key_b"], "key_a was counted 10 ms ago");
        assert!(c.waiting(), "key_a is put off");
        assert!(due(&mut c, t + 500).is_empty());
        assert_eq!(due(&mut c, t + 1000), ["key_a"], "a second later, without a new record");
        c.note(&[err(t + 1010, "key_a")]);
        c.hurry();
        assert_eq!(due(&mut c, t + 1010), ["key_a"], "at shutdown nothing waits");
        assert!(!c.waiting());
        let mut ok = err(t, "key_c");
        ok.status = 200;
        ok.code = None;
        c.note(&[ok]);
        assert!(due(&mut c, t + 5000).is_empty(), "only numerator answers call for a count");
        c.sweep(&p, t + 9_500);
        assert_eq!(c.len(), 2, "key_a and key_b were counted within the window");
        c.sweep(&p, t + 12_000);
        assert!(c.is_empty());
    }

    #[test]
    fn the_window_ends_with_the_current_second() {
        let p = AutoRevokePolicy { window_secs: 300, min_errors: 1, min_ratio: 0.0 };
        assert_eq!(p.window_start_sec(1_000_999), 1000 - 299);
    }
}
