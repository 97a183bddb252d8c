//! Retention's deletes (SPEC §6): old raw records and rollup hours, in
//! small statements (see `usage::retention`).
use crate::store::{Result, Store};
use sqlx::Row;

impl Store {
    /// Every workspace id (retention works through them one by one, along
    /// the per-workspace indexes).
    pub async fn usage_workspace_ids(&self) -> Result<Vec<String>> {
        sqlx::query("SELECT id FROM workspaces ORDER BY id")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok(r.try_get("id")?))
            .collect()
    }

    /// Delete at most `limit` of a workspace's raw records older than
    /// `before_ms` (oldest first); returns how many went.
    pub async fn delete_usage_records_before(&self, workspace_id: &str, before_ms: i64, limit: u32) -> Result<u64> {
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

    /// Delete a workspace's oldest hour of rollups (per key and per
    /// workspace) if that hour starts at or before `last_hour`; returns how
    /// many rows went (0: nothing that old). One hour of one workspace per
    /// statement keeps each delete short.
    pub async fn delete_oldest_usage_hour(&self, workspace_id: &str, last_hour: i64) -> Result<u64> {
        let mut n = 0;
        for table in ["usage_hourly", "usage_hourly_ws"] {
            let sql = format!(
                "DELETE FROM {table} WHERE workspace_id = $1 AND hour_start <= $2 AND hour_start = \
                 (SELECT MIN(hour_start) FROM {table} WHERE workspace_id = $1)"
            );
            n += sqlx::query(&sql).bind(workspace_id).bind(last_hour).execute(self.pool()).await?.rows_affected();
        }
        Ok(n)
    }
}
