//! The reads behind the API Usage statistics (SPEC §5 api-usage): sums of
//! the hourly rollups over a range of hours.
use crate::store::sql::{bind_some, to_u64};
use crate::store::{Result, Store};
use keyward_core::{KeyId, WorkspaceId};
use sqlx::Row;

/// Requests of one hour with one status and code (summed over keys and endpoints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourStatusCount {
    pub hour_start: i64,
    pub status: u16,
    /// `""` when there is none.
    pub code: String,
    pub requests: u64,
}

/// Requests of one endpoint over a range of hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointCount {
    pub method: String,
    pub route: String,
    pub requests: u64,
    /// Of which answered with status >= 400.
    pub errors: u64,
}

/// The rollup table to read and its key filter: per key when filtering by
/// key, the (much smaller) workspace-level one otherwise.
fn rollup(key_id: Option<&KeyId>, param: &str) -> (&'static str, String) {
    match key_id {
        Some(_) => ("usage_hourly", format!("AND key_id = {param}")),
        None => ("usage_hourly_ws", String::new()),
    }
}

impl Store {
    /// Rollups of hours `from_hour..=to_hour`, summed per (hour, status, code),
    /// optionally for one key only (the workspace-level rollup otherwise).
    pub async fn usage_by_hour_status(
        &self,
        workspace_id: &WorkspaceId,
        key_id: Option<&KeyId>,
        from_hour: i64,
        to_hour: i64,
    ) -> Result<Vec<HourStatusCount>> {
        let (table, filter) = rollup(key_id, "$4");
        let sql = format!(
            "SELECT hour_start, status, code, CAST(SUM(requests) AS BIGINT) AS n FROM {table} \
             WHERE workspace_id = $1 AND hour_start >= $2 AND hour_start <= $3 {filter} \
             GROUP BY hour_start, status, code"
        );
        let q = sqlx::query(&sql).bind(workspace_id.as_str()).bind(from_hour).bind(to_hour);
        let rows = bind_some(q, key_id.map(KeyId::as_str)).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(HourStatusCount {
                    hour_start: r.try_get("hour_start")?,
                    status: u16::try_from(r.try_get::<i64, _>("status")?).unwrap_or(0),
                    code: r.try_get("code")?,
                    requests: to_u64(r.try_get("n")?),
                })
            })
            .collect()
    }

    /// The busiest endpoints over hours `from_hour..=to_hour`, busiest first.
    pub async fn usage_top_endpoints(
        &self,
        workspace_id: &WorkspaceId,
        key_id: Option<&KeyId>,
        from_hour: i64,
        to_hour: i64,
        limit: u32,
    ) -> Result<Vec<EndpointCount>> {
        let (table, filter) = rollup(key_id, "$5");
        let sql = format!(
            "SELECT method, route, CAST(SUM(requests) AS BIGINT) AS n, \
                    CAST(SUM(CASE WHEN status >= 400 THEN requests ELSE 0 END) AS BIGINT) AS e \
             FROM {table} WHERE workspace_id = $1 AND hour_start >= $2 AND hour_start <= $3 {filter} \
             GROUP BY method, route ORDER BY n DESC, route, method LIMIT $4"
        );
        let q = sqlx::query(&sql).bind(workspace_id.as_str()).bind(from_hour).bind(to_hour).bind(i64::from(limit));
        let rows = bind_some(q, key_id.map(KeyId::as_str)).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(EndpointCount {
                    method: r.try_get("method")?,
                    route: r.try_get("route")?,
                    requests: to_u64(r.try_get("n")?),
                    errors: to_u64(r.try_get("e")?),
                })
            })
            .collect()
    }
}
