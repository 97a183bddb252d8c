//! Retention's deletes (SPEC §6): old raw records and rollup hours, in
//! small statements (see `usage::retention`).
use super::records::WS_N;
use crate::store::{Result, Store};
use keyward_core::WorkspaceId;
use sqlx::Row;

impl Store {
    /// Every workspace id (retention works through them one by one, along
    /// the per-workspace indexes).
    pub async fn usage_workspace_ids(&self) -> Result<Vec<WorkspaceId>> {
        sqlx::query("SELECT id FROM workspaces ORDER BY id")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok(WorkspaceId::new(r.try_get::<String, _>("id")?)))
            .collect()
    }

    /// Delete at most `limit` of a workspace's raw records older than
    /// `before_ms` (oldest first); returns how many went.
    ///
    /// Along `(ws, at)` up to the time of the `limit`-th oldest (so ties
    /// there go too); no index on the id is needed.
    pub async fn delete_usage_records_before(
        &self,
        workspace_id: &WorkspaceId,
        before_ms: i64,
        limit: u32,
    ) -> Result<u64> {
        let workspace_id = workspace_id.as_str();
        let sql = format!(
            "DELETE FROM usage_log WHERE ws = {WS_N} AND at < $2 AND at <= COALESCE(\
             (SELECT at FROM usage_log WHERE ws = {WS_N} AND at < $2 ORDER BY at LIMIT 1 OFFSET $3), $2)"
        );
        let mut n = sqlx::query(&sql)
            .bind(workspace_id)
            .bind(before_ms)
            .bind(i64::from(limit.max(1) - 1))
            .execute(self.pool())
            .await?
            .rows_affected();
        if self.usage_dict().legacy_left() {
            n += self.legacy_delete_before(workspace_id, before_ms, limit).await?;
        }
        Ok(n)
    }

    /// Delete a workspace's oldest hour of rollups (per key and per
    /// workspace) if that hour starts at or before `last_hour`; returns how
    /// many rows went (0: nothing that old). One hour of one workspace per
    /// statement keeps each delete short.
    pub async fn delete_oldest_usage_hour(&self, workspace_id: &WorkspaceId, last_hour: i64) -> Result<u64> {
        let workspace_id = workspace_id.as_str();
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
