//! The hourly rollups (per key, and per workspace) that answer the API
//! Usage statistics in O(buckets): the increments of a batch, their upserts,
//! and the catch-up from the records past a watermark
//! ([`super::UsageStrategy::Deferred`]).
use super::counts::KeyBucketCount;
use super::HOUR_MS;
use crate::store::sql::to_i64;
use crate::store::{Result, Store};
use crate::usage::UsageRecord;
use sqlx::AnyConnection;
use std::collections::BTreeMap;

/// One increment of an hourly rollup row (aggregated over a batch). Fields
/// in the order of the table's primary key: the derived order is the one
/// concurrent writers lock rows in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HourlyCount<'a> {
    pub workspace_id: &'a str,
    /// Unix ms, a multiple of one hour (UTC).
    pub hour_start: i64,
    pub key_id: &'a str,
    pub method: &'a str,
    pub route: &'a str,
    pub status: u16,
    /// The problem code, `""` when there is none.
    pub code: &'a str,
    pub requests: u64,
}

/// Everything a batch adds besides its raw records (see
/// [`super::UsageStrategy::batch_increments`]); the workspace-level
/// rollup's increments are `hourly` summed over keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageIncrements<'a> {
    pub hourly: Vec<HourlyCount<'a>>,
    /// Sorted by (bucket, workspace, key).
    pub key_buckets: Vec<KeyBucketCount<'a>>,
}

/// The rollup increments of a batch, sorted by primary key (so concurrent
/// writers on PostgreSQL lock rows in the same order and cannot deadlock).
pub fn aggregate(batch: &[UsageRecord]) -> UsageIncrements<'_> {
    let mut hourly: BTreeMap<HourlyCount<'_>, u64> = BTreeMap::new();
    for r in batch {
        let cell = HourlyCount {
            workspace_id: &r.workspace_id,
            hour_start: r.at_ms - r.at_ms.rem_euclid(HOUR_MS),
            key_id: &r.key_id,
            method: r.method,
            route: &r.route,
            status: r.status,
            code: r.code.unwrap_or(""),
            requests: 0,
        };
        *hourly.entry(cell).or_default() += 1;
    }
    let hourly = hourly.into_iter().map(|(cell, requests)| HourlyCount { requests, ..cell }).collect();
    UsageIncrements { hourly, key_buckets: Vec::new() }
}

/// A workspace-level rollup cell: (workspace, hour, method, route, status, code).
type WorkspaceCell<'a> = (&'a str, i64, &'a str, &'a str, u16, &'a str);

/// The workspace-level increments of `hourly` (summed over keys), sorted.
fn workspace_rows<'a>(hourly: &[HourlyCount<'a>]) -> Vec<(WorkspaceCell<'a>, u64)> {
    let mut rows: BTreeMap<WorkspaceCell<'a>, u64> = BTreeMap::new();
    for h in hourly {
        *rows.entry((h.workspace_id, h.hour_start, h.method, h.route, h.status, h.code)).or_default() += h.requests;
    }
    rows.into_iter().collect()
}

const HOURLY_HEAD: &str = "usage_hourly (workspace_id, hour_start, key_id, method, route, status, code, requests)";
const HOURLY_TAIL: &str = "ON CONFLICT (workspace_id, hour_start, key_id, method, route, status, code) \
     DO UPDATE SET requests = usage_hourly.requests + excluded.requests";
const HOURLY_WS_HEAD: &str = "usage_hourly_ws (workspace_id, hour_start, method, route, status, code, requests)";
const HOURLY_WS_TAIL: &str = "ON CONFLICT (workspace_id, hour_start, method, route, status, code) \
     DO UPDATE SET requests = usage_hourly_ws.requests + excluded.requests";

/// Records rolled up per transaction by [`Store::flush_rollups_step`].
pub const ROLLUP_STEP: i64 = 10_000;

/// The rollups of the records in an id range, in the buckets of
/// [`aggregate`]: grouped by numbers first, then named.
const ROLLUP_KEY_SQL: &str =
    "INSERT INTO usage_hourly (workspace_id, hour_start, key_id, method, route, status, code, requests) \
     SELECT w.name, g.h, k.name, e.method, e.route, g.status, COALESCE(c.code, ''), g.n FROM \
     (SELECT ws, at - (at % 3600000) AS h, key, endpoint, status, code, COUNT(*) AS n FROM usage_log \
      WHERE id > $1 AND id <= $2 GROUP BY ws, at - (at % 3600000), key, endpoint, status, code) g \
     JOIN usage_names w ON w.n = g.ws JOIN usage_names k ON k.n = g.key \
     JOIN usage_endpoints e ON e.n = g.endpoint LEFT JOIN usage_codes c ON c.n = g.code WHERE true \
     ON CONFLICT (workspace_id, hour_start, key_id, method, route, status, code) \
     DO UPDATE SET requests = usage_hourly.requests + excluded.requests";
const ROLLUP_WS_SQL: &str =
    "INSERT INTO usage_hourly_ws (workspace_id, hour_start, method, route, status, code, requests) \
     SELECT w.name, g.h, e.method, e.route, g.status, COALESCE(c.code, ''), g.n FROM \
     (SELECT ws, at - (at % 3600000) AS h, endpoint, status, code, COUNT(*) AS n FROM usage_log \
      WHERE id > $1 AND id <= $2 GROUP BY ws, at - (at % 3600000), endpoint, status, code) g \
     JOIN usage_names w ON w.n = g.ws JOIN usage_endpoints e ON e.n = g.endpoint \
     LEFT JOIN usage_codes c ON c.n = g.code WHERE true \
     ON CONFLICT (workspace_id, hour_start, method, route, status, code) \
     DO UPDATE SET requests = usage_hourly_ws.requests + excluded.requests";

impl Store {
    /// Upsert a batch's rollup increments on `conn` (inside its transaction).
    pub(super) async fn add_rollups(&self, conn: &mut AnyConnection, inc: &UsageIncrements<'_>) -> Result<()> {
        self.insert_rows(conn, HOURLY_HEAD, 8, HOURLY_TAIL, &inc.hourly, |q, h| {
            q.bind(h.workspace_id)
                .bind(h.hour_start)
                .bind(h.key_id)
                .bind(h.method)
                .bind(h.route)
                .bind(i64::from(h.status))
                .bind(h.code)
                .bind(to_i64(h.requests))
        })
        .await?;
        let ws = workspace_rows(&inc.hourly);
        self.insert_rows(
            conn,
            HOURLY_WS_HEAD,
            7,
            HOURLY_WS_TAIL,
            &ws,
            |q, ((ws, hour, method, route, status, code), n)| {
                q.bind(*ws).bind(*hour).bind(*method).bind(*route).bind(i64::from(*status)).bind(*code).bind(to_i64(*n))
            },
        )
        .await?;
        self.insert_key_buckets(conn, &inc.key_buckets).await
    }

    /// Bring both rollups up to date with the log (a no-op where they are
    /// written with each batch), in steps of [`ROLLUP_STEP`] records.
    /// Returns how many rollup rows were written.
    pub async fn flush_rollups(&self) -> Result<u64> {
        let mut n = 0;
        loop {
            let (rows, caught_up) = self.flush_rollups_step().await?;
            n += rows;
            if caught_up {
                return Ok(n);
            }
        }
    }

    /// Roll up at most [`ROLLUP_STEP`] records past the watermark and move
    /// it past them, in one transaction: a short one, so the batch writer
    /// never waits long for the write lock. Returns the rollup rows written
    /// and whether the rollups are now up to date.
    pub async fn flush_rollups_step(&self) -> Result<(u64, bool)> {
        self.usage_strategy().flush_rollups_step(self).await
    }

    /// [`Store::flush_rollups_step`] on a store whose rollups lag the log.
    pub(super) async fn roll_up_past_watermark(&self) -> Result<(u64, bool)> {
        let mut tx = self.pool().begin().await?;
        // Write first: a transaction that read before writing could not take
        // the write lock once another connection had written (SQLite, WAL).
        let mark: i64 = sqlx::query_scalar(
            "UPDATE usage_rollup_state SET rolled_through = rolled_through WHERE id = 1 RETURNING rolled_through",
        )
        .fetch_one(&mut *tx)
        .await?;
        let max: i64 = sqlx::query_scalar("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM usage_log")
            .fetch_one(&mut *tx)
            .await?;
        if max == mark {
            return Ok((0, true));
        }
        // Ids restart at 1 only when retention emptied the table; then every
        // record there came after the last flush.
        let from = if max < mark { 0 } else { mark };
        let to = max.min(from.saturating_add(ROLLUP_STEP));
        let mut n = 0;
        for sql in [ROLLUP_KEY_SQL, ROLLUP_WS_SQL] {
            n += sqlx::query(sql).bind(from).bind(to).execute(&mut *tx).await?.rows_affected();
        }
        sqlx::query("UPDATE usage_rollup_state SET rolled_through = $1 WHERE id = 1")
            .bind(to)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((n, to == max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::test_record as rec;

    #[test]
    fn aggregate_sums_per_hour_key_endpoint_and_status_in_primary_key_order() {
        let h = 1_700_002_800_000; // a multiple of one hour
        let batch = vec![
            rec(h + 10, "key_a", "/v1/me", 200, None),
            rec(h + 20, "key_a", "/v1/me", 200, None),
            rec(h + 1_030, "key_a", "/v1/me", 401, Some("ip_not_allowed")),
            rec(h + 1_040, "key_a", "/v1/me", 429, Some("rate_limited")),
            rec(h + HOUR_MS, "key_a", "/v1/me", 200, None),
            rec(h + 50, "key_b", "/v1/studies/{id}", 404, Some("not_found")),
        ];
        let UsageIncrements { hourly, .. } = aggregate(&batch);
        let hourly_ws = workspace_rows(&hourly);
        let count = |hour: i64, key: &str, status: u16| {
            hourly.iter().find(|c| c.hour_start == hour && c.key_id == key && c.status == status).map(|c| c.requests)
        };
        assert_eq!(count(h, "key_a", 200), Some(2));
        assert_eq!(count(h, "key_a", 401), Some(1));
        assert_eq!(count(h, "key_a", 429), Some(1));
        assert_eq!(count(h + HOUR_MS, "key_a", 200), Some(1));
        assert_eq!(count(h, "key_b", 404), Some(1));
        assert_eq!(hourly.iter().map(|c| c.requests).sum::<u64>(), 6);
        assert!(hourly.windows(2).all(|w| w[0] < w[1]), "sorted");
        let ws_count =
            |hour: i64, status: u16| hourly_ws.iter().find(|(c, _)| c.1 == hour && c.4 == status).map(|(_, n)| *n);
        assert_eq!((ws_count(h, 200), ws_count(h, 404), ws_count(h + HOUR_MS, 200)), (Some(2), Some(1), Some(1)));
        assert_eq!(hourly_ws.iter().map(|(_, n)| n).sum::<u64>(), 6);
        assert!(hourly_ws.windows(2).all(|w| w[0] < w[1]), "sorted");
    }
}
