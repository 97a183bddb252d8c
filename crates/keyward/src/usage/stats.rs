//! The API Usage statistics (SPEC §5 `GET /api/workspaces/{ws}/api-usage`).
//!
//! Windows are whole UTC hour buckets ending with the current (partial) hour:
//! - `series`: 168 buckets, the current hour and the 167 before it, oldest
//!   first, empty hours included;
//! - `last_7d`: the sum of those same 168 buckets, so the chart adds up to it;
//! - `last_24h`: the last 24 of them (the current partial hour plus the 23
//!   full hours before it: between 23 and 24 hours of history);
//! - `top_endpoints`: the same 168 buckets, top 10 by requests.
//!
//! `by_status` holds every status seen (2xx included), so its values add up
//! to `total`; `by_code` holds every problem code seen (answers without a
//! code, i.e. successes, are not in it). Totals come from the hourly rollups
//! (work proportional to the buckets, not to the requests); `recent` reads
//! the newest 20 raw records along an index.
use crate::store::{HourStatusCount, Store};
use keyward_core::api::{SeriesBucket, Timestamp, TopEndpoint, UsageReport, UsageTotals};
use keyward_core::{KeyId, WorkspaceId};

const HOUR_MS: i64 = 3_600_000;
/// Hour buckets in `series` (7 days).
pub const SERIES_HOURS: i64 = 168;
/// Hour buckets in `last_24h`.
pub const DAY_HOURS: i64 = 24;
/// Rows in `recent`.
pub const RECENT: u32 = 20;
/// Rows in `top_endpoints`.
pub const TOP_ENDPOINTS: u32 = 10;

/// The report of a workspace (optionally one of its keys) as of `now_ms`.
/// The caller checks that `key_id` belongs to `workspace_id`.
pub async fn report(
    store: &Store,
    workspace_id: &WorkspaceId,
    key_id: Option<&KeyId>,
    now_ms: i64,
) -> crate::store::Result<UsageReport> {
    // On SQLite the rollups lag the log by up to a few seconds: catch up first.
    store.flush_rollups().await?;
    let current = now_ms - now_ms.rem_euclid(HOUR_MS);
    let first = current - (SERIES_HOURS - 1) * HOUR_MS;
    let (rows, top, recent) = tokio::try_join!(
        store.usage_by_hour_status(workspace_id, key_id, first, current),
        store.usage_top_endpoints(workspace_id, key_id, first, current, TOP_ENDPOINTS),
        store.usage_recent(workspace_id, key_id, RECENT),
    )?;
    let mut report = fold(&rows, current);
    report.top_endpoints = top
        .into_iter()
        .map(|e| TopEndpoint { method: e.method, route: e.route, count: e.requests, errors: e.errors })
        .collect();
    report.recent = recent;
    Ok(report)
}

/// Totals and series from rollup rows of the 168 hours ending with `current`.
pub fn fold(rows: &[HourStatusCount], current: i64) -> UsageReport {
    let first = current - (SERIES_HOURS - 1) * HOUR_MS;
    let day_first = current - (DAY_HOURS - 1) * HOUR_MS;
    let mut series: Vec<SeriesBucket> = (0..SERIES_HOURS)
        .map(|i| SeriesBucket { start: Timestamp(first + i * HOUR_MS), total: 0, errors: 0 })
        .collect();
    let mut day = UsageTotals::default();
    let mut week = UsageTotals::default();
    for r in rows {
        if r.hour_start < first || r.hour_start > current {
            continue;
        }
        let error = r.status >= 400;
        let Some(bucket) = usize::try_from((r.hour_start - first) / HOUR_MS).ok().and_then(|i| series.get_mut(i))
        else {
            continue;
        };
        bucket.total += r.requests;
        bucket.errors += if error { r.requests } else { 0 };
        add(&mut week, r, error);
        if r.hour_start >= day_first {
            add(&mut day, r, error);
        }
    }
    UsageReport { last_24h: day, last_7d: week, top_endpoints: vec![], recent: vec![], series, usage_behind: None }
}

fn add(t: &mut UsageTotals, r: &HourStatusCount, error: bool) {
    t.total += r.requests;
    if error {
        t.errors += r.requests;
    }
    *t.by_status.entry(r.status.to_string()).or_default() += r.requests;
    if !r.code.is_empty() {
        *t.by_code.entry(r.code.clone()).or_default() += r.requests;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(hour_start: i64, status: u16, code: &str, requests: u64) -> HourStatusCount {
        HourStatusCount { hour_start, status, code: code.into(), requests }
    }

    #[test]
    fn fold_fills_168_buckets_and_splits_the_24h_window_on_bucket_edges() {
        let current = 1_700_002_800_000;
        let rows = vec![
            row(current, 200, "", 5),
            row(current, 429, "rate_limited", 2),
            row(current - 23 * HOUR_MS, 404, "not_found", 1), // oldest bucket of the 24h window
            row(current - 24 * HOUR_MS, 200, "", 7),          // in the 7 days only
            row(current - 167 * HOUR_MS, 401, "ip_not_allowed", 3),
            row(current - 168 * HOUR_MS, 200, "", 100), // too old: ignored
        ];
        let r = fold(&rows, current);
        assert_eq!(r.series.len(), 168);
        assert_eq!(r.series[0].start, Timestamp(current - 167 * HOUR_MS));
        assert_eq!(r.series[167].start, Timestamp(current));
        assert_eq!((r.series[167].total, r.series[167].errors), (7, 2));
        assert_eq!((r.series[0].total, r.series[0].errors), (3, 3));
        assert_eq!(r.series.iter().map(|b| b.total).sum::<u64>(), r.last_7d.total);
        assert_eq!((r.last_24h.total, r.last_24h.errors), (8, 3));
        assert_eq!((r.last_7d.total, r.last_7d.errors), (18, 6));
        assert_eq!(r.last_24h.by_status.get("200"), Some(&5));
        assert_eq!(r.last_7d.by_status.values().sum::<u64>(), r.last_7d.total);
        assert_eq!(r.last_7d.by_code.get("ip_not_allowed"), Some(&3));
        assert!(!r.last_7d.by_code.contains_key(""));
    }
}
