//! The raw usage records: one row per `/v1` request made with a key that
//! exists, written in batches, read back newest first (`recent`).
use super::rollups::UsageIncrements;
use super::HOUR_MS;
use crate::store::sql::{bind_some, to_i64};
use crate::store::{now_ms, Result, Store};
use crate::usage::UsageRecord;
use keyward_core::api::{RecentRequest, Timestamp};
use sqlx::Row;

const RECORD_HEAD: &str = "usage_records (workspace_id, key_id, at, method, route, path, status, code, latency_us, ip)";

const RECENT_COLUMNS: &str = "r.at, r.method, r.path, r.route, r.status, r.code, r.latency_us, r.key_id, \
     COALESCE(k.name, '') AS key_name, r.ip";

impl Store {
    /// Write a batch of records and the rollup increments computed from it,
    /// in one transaction: all or nothing, so a failed attempt can be retried
    /// as a whole.
    pub async fn write_usage_batch(&self, records: &[UsageRecord], inc: &UsageIncrements<'_>) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        self.insert_rows(&mut tx, RECORD_HEAD, 10, "", records, |q, r| {
            q.bind(&*r.workspace_id)
                .bind(&*r.key_id)
                .bind(r.at_ms)
                .bind(r.method)
                .bind(&*r.route)
                .bind(r.path.as_str())
                .bind(i64::from(r.status))
                .bind(r.code)
                .bind(to_i64(r.latency_us))
                .bind(r.ip.to_string())
        })
        .await?;
        self.add_rollups(&mut tx, inc).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest `limit` raw records (newest first), read backwards along
    /// the `(workspace_id, at)` index; for one key as
    /// [`super::UsageStrategy`] says.
    pub async fn usage_recent(
        &self,
        workspace_id: &str,
        key_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RecentRequest>> {
        match key_id {
            Some(key_id) => self.usage_strategy().recent_of_key(self, workspace_id, key_id, limit).await,
            None => self.usage_recent_between(workspace_id, None, (i64::MIN, i64::MAX), limit).await,
        }
    }

    /// A key's newest records without a per-key index: only the hours its
    /// per-key rollup names (newest first, and always the current and the
    /// previous hour, which may hold records not rolled up yet) are read,
    /// each along `(workspace_id, at)` until enough are found. The cost is
    /// bounded by the workspace's traffic in those hours, not by its whole
    /// log: an idle key costs the rollup lookup and a read of the
    /// workspace's last two hours. Callers bring the rollups up to date
    /// first (`usage::stats::report` does).
    pub(super) async fn usage_recent_of_key_by_hour(
        &self,
        workspace_id: &str,
        key_id: &str,
        limit: u32,
    ) -> Result<Vec<RecentRequest>> {
        let now = now_ms();
        let current = now - now.rem_euclid(HOUR_MS);
        let hours: Vec<i64> = sqlx::query_scalar(
            "SELECT hour_start FROM usage_hourly WHERE workspace_id = $1 AND key_id = $2 AND hour_start < $3 \
             GROUP BY hour_start ORDER BY hour_start DESC LIMIT $4",
        )
        .bind(workspace_id)
        .bind(key_id)
        .bind(current - HOUR_MS)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        // Disjoint ranges, newest first: the last two hours (and any record
        // stamped later), then each older hour with requests of the key.
        let ranges = std::iter::once((current - HOUR_MS, i64::MAX)).chain(hours.into_iter().map(|h| (h, h + HOUR_MS)));
        let mut out: Vec<RecentRequest> = Vec::new();
        for range in ranges {
            let left = limit.saturating_sub(u32::try_from(out.len()).unwrap_or(u32::MAX));
            if left == 0 {
                break;
            }
            out.extend(self.usage_recent_between(workspace_id, Some(key_id), range, left).await?);
        }
        Ok(out)
    }

    /// The newest `limit` records with `from <= at < until`, newest first.
    pub(super) async fn usage_recent_between(
        &self,
        workspace_id: &str,
        key_id: Option<&str>,
        (from, until): (i64, i64),
        limit: u32,
    ) -> Result<Vec<RecentRequest>> {
        let filter = if key_id.is_some() { "AND r.key_id = $5" } else { "" };
        let sql = format!(
            "SELECT {RECENT_COLUMNS} FROM usage_records r LEFT JOIN api_keys k ON k.id = r.key_id \
             WHERE r.workspace_id = $1 AND r.at >= $2 AND r.at < $3 {filter} ORDER BY r.at DESC, r.id DESC LIMIT $4"
        );
        let q = sqlx::query(&sql).bind(workspace_id).bind(from).bind(until).bind(i64::from(limit));
        let rows = bind_some(q, key_id).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                let latency_us: i64 = r.try_get("latency_us")?;
                Ok(RecentRequest {
                    at: Timestamp(r.try_get("at")?),
                    method: r.try_get("method")?,
                    path: r.try_get("path")?,
                    route: r.try_get("route")?,
                    status: u16::try_from(r.try_get::<i64, _>("status")?).unwrap_or(0),
                    code: r.try_get("code")?,
                    latency_ms: latency_us as f64 / 1000.0,
                    key_id: r.try_get("key_id")?,
                    key_name: r.try_get("key_name")?,
                    ip: r.try_get("ip")?,
                })
            })
            .collect()
    }
}
