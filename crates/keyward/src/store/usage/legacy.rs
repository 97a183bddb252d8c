//! Records in the format before issue 25 (`usage_records`: ids, method,
//! route, path, code and IP as text): moved into `usage_log` by the
//! maintenance job in batches, newest first and with their ids
//! ([`Store::migrate_usage_step`]), so the server never waits on more than
//! one batch. Until the last one moved, reads add what is left there: it
//! is older than everything in `usage_log`.
use super::codec::{encode_ip, encode_path};
use super::records::{bind_log_row, recent_request, RecentSlice, RecentWithId, RecordRef, LOG_COLUMNS};
use crate::store::{Result, Store};
use sqlx::Row;

/// Old records moved per transaction.
pub const MIGRATE_STEP: u32 = 5000;

/// A key's old answers by (status, code), as `counts::ANSWERS_SQL`.
pub(super) const LEGACY_ANSWERS_SQL: &str = "SELECT status, code, CAST(COUNT(*) AS BIGINT) AS n FROM usage_records \
     WHERE workspace_id = $1 AND key_id = $2 AND at >= $3 GROUP BY status, code";

const OLD_RECENT_COLUMNS: &str = "r.id, r.at, r.method, r.path, r.route, r.status, r.code, r.latency_us, r.key_id, \
     COALESCE(k.name, '') AS key_name, r.ip";

/// An old record, as read.
struct OldRow {
    id: i64,
    workspace_id: String,
    key_id: String,
    at: i64,
    method: String,
    route: String,
    path: String,
    status: i64,
    code: Option<String>,
    latency_us: i64,
    ip: String,
}

impl OldRow {
    fn record(&self) -> RecordRef<'_> {
        RecordRef {
            workspace_id: &self.workspace_id,
            key_id: &self.key_id,
            at_ms: self.at,
            method: &self.method,
            route: &self.route,
            status: self.status,
            code: self.code.as_deref(),
            latency_us: self.latency_us,
            // Written from an `IpAddr`, so it parses; kept as text otherwise.
            ip: self.ip.parse().map(|ip| encode_ip(&ip)).unwrap_or_else(|_| self.ip.clone().into_bytes()),
            path: encode_path(&self.route, &self.path),
        }
    }
}

impl Store {
    /// Whether old-format records may remain (this process has not seen
    /// the old table empty yet).
    pub fn usage_migration_pending(&self) -> bool {
        self.usage_dict().legacy_left()
    }

    /// Move the newest `limit` old-format records into `usage_log`, in one
    /// transaction, with their ids (so `recent`'s order and the rollup
    /// watermark, which already covers them, stay as they were). Returns
    /// how many moved; 0 also when another process moved them first.
    pub async fn migrate_usage_step(&self, limit: u32) -> Result<u64> {
        let old: Vec<OldRow> = sqlx::query(
            "SELECT id, workspace_id, key_id, at, method, route, path, status, code, latency_us, ip \
             FROM usage_records ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(OldRow {
                id: r.try_get("id")?,
                workspace_id: r.try_get("workspace_id")?,
                key_id: r.try_get("key_id")?,
                at: r.try_get("at")?,
                method: r.try_get("method")?,
                route: r.try_get("route")?,
                path: r.try_get("path")?,
                status: r.try_get("status")?,
                code: r.try_get("code")?,
                latency_us: r.try_get("latency_us")?,
                ip: r.try_get("ip")?,
            })
        })
        .collect::<Result<_>>()?;
        let (Some(newest), Some(oldest)) = (old.first().map(|r| r.id), old.last().map(|r| r.id)) else {
            self.usage_dict().legacy_gone();
            return Ok(0);
        };
        // The dictionaries first, outside the transaction (see `dict`).
        let rows = self.log_rows(old.iter().map(OldRow::record).collect()).await?;
        let rows: Vec<(i64, _)> = old.iter().map(|r| r.id).zip(rows).collect();
        let mut tx = self.pool().begin().await?;
        if let Some(sql) = self.usage_strategy().exclusive_sql() {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        // The placeholder that kept new ids above the old ones (SQLite,
        // migration 0013) gives way to the record it stood for. A write
        // first: on SQLite it takes the write lock before anything is read.
        sqlx::query("DELETE FROM usage_log WHERE ws = 0").execute(&mut *tx).await?;
        let (n, top): (i64, i64) = sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM usage_records WHERE id >= $1",
        )
        .bind(oldest)
        .fetch_one(&mut *tx)
        .await?;
        if (n, top) != (i64::try_from(rows.len()).unwrap_or(i64::MAX), newest) {
            return Ok(0); // moved (or deleted) meanwhile: rolled back, read again next time
        }
        let head = format!("usage_log (id, {LOG_COLUMNS})");
        self.insert_rows(&mut tx, &head, 10, "", &rows, |q, (id, row)| bind_log_row(q.bind(*id), row)).await?;
        sqlx::query("DELETE FROM usage_records WHERE id >= $1").bind(oldest).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows.len() as u64)
    }

    /// [`Store::usage_recent_between`] over the old records.
    pub(super) async fn legacy_recent(&self, slice: &RecentSlice<'_>) -> Result<Vec<RecentWithId>> {
        let filter = if slice.key_id.is_some() { "AND r.key_id = $5" } else { "" };
        let sql = format!(
            "SELECT {OLD_RECENT_COLUMNS} FROM usage_records r LEFT JOIN api_keys k ON k.id = r.key_id \
             WHERE r.workspace_id = $1 AND r.at >= $2 AND r.at < $3 {filter} ORDER BY r.at DESC, r.id DESC LIMIT $4"
        );
        let rows = slice.rows(self, &sql).await?;
        rows.iter().map(|r| recent_request(r, r.try_get("path")?, r.try_get("ip")?)).collect()
    }

    /// Delete at most `limit` of a workspace's old records before `before_ms`.
    pub(super) async fn legacy_delete_before(&self, workspace_id: &str, before_ms: i64, limit: u32) -> Result<u64> {
        Ok(sqlx::query(
            "DELETE FROM usage_records WHERE id IN \
             (SELECT id FROM usage_records WHERE workspace_id = $1 AND at < $2 ORDER BY at LIMIT $3)",
        )
        .bind(workspace_id)
        .bind(before_ms)
        .bind(i64::from(limit))
        .execute(self.pool())
        .await?
        .rows_affected())
    }
}
