//! The raw usage records: one row per `/v1` request made with a key that
//! exists, written in batches in their compact form (issue 25: see
//! `migrations/sqlite/0013`, [`super::codec`]), read back newest first
//! (`recent`) exactly as they came in.
use super::codec::{decode_ip, decode_path, encode_ip, encode_path};
use super::dict::Wanted;
use super::rollups::UsageIncrements;
use super::HOUR_MS;
use crate::store::sql::{bind_some, to_i64, to_u64, AnyQuery};
use crate::store::{corrupt, now_ms, Result, Store};
use crate::usage::UsageRecord;
use keyward_core::api::{RecentRequest, Timestamp};
use keyward_core::{KeyId, WorkspaceId};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A record's dictionary numbers: workspace, key, endpoint, code.
pub(super) type Ids = [i64; 4];

/// One row of `usage_log`, in [`LOG_COLUMNS`] order.
pub(super) fn bind_log_row<'q>(q: AnyQuery<'q>, (ids, r): &'q (Ids, RecordRef<'_>)) -> AnyQuery<'q> {
    let [ws, key, endpoint, code] = *ids;
    q.bind(ws)
        .bind(r.at_ms)
        .bind(key)
        .bind(endpoint)
        .bind(r.status)
        .bind(code)
        .bind(r.latency_us)
        .bind(r.ip.as_slice())
        .bind(r.path.as_slice())
}

pub(super) const LOG_COLUMNS: &str = "ws, at, key, endpoint, status, code, latency_us, ip, path";

/// The workspace's number, looked up in the statement (`$1`).
pub(super) const WS_N: &str = "(SELECT n FROM usage_names WHERE name = $1)";

const RECENT_SQL: &str = "SELECT l.id, l.at, e.method, e.route, l.path, CAST(l.status AS BIGINT) AS status, c.code, \
     CAST(l.latency_us AS BIGINT) AS latency_us, kn.name AS key_id, COALESCE(k.name, '') AS key_name, l.ip \
     FROM usage_log l JOIN usage_endpoints e ON e.n = l.endpoint JOIN usage_names kn ON kn.n = l.key \
     LEFT JOIN usage_codes c ON c.n = l.code LEFT JOIN api_keys k ON k.id = kn.name \
     WHERE l.ws = (SELECT n FROM usage_names WHERE name = $1) AND l.at >= $2 AND l.at < $3";

impl Store {
    /// The dictionary numbers of what `records` name, looked up (and
    /// created) as needed.
    pub(super) async fn log_rows<'a>(&self, records: Vec<RecordRef<'a>>) -> Result<Vec<(Ids, RecordRef<'a>)>> {
        let mut wanted = Wanted::default();
        for r in &records {
            wanted.names.extend([r.workspace_id, r.key_id]);
            wanted.endpoints.push((r.method, r.route));
            wanted.codes.extend(r.code);
        }
        wanted.endpoints.sort_unstable();
        wanted.endpoints.dedup();
        wanted.codes.sort_unstable();
        wanted.codes.dedup();
        self.intern(wanted).await?;
        let dict = self.usage_dict();
        let missing = || corrupt("a usage dictionary entry just written is missing");
        records
            .into_iter()
            .map(|r| {
                let ids = [
                    dict.name(r.workspace_id).ok_or_else(missing)?,
                    dict.name(r.key_id).ok_or_else(missing)?,
                    dict.endpoint(r.method, r.route).ok_or_else(missing)?,
                    dict.code(r.code).ok_or_else(missing)?,
                ];
                Ok((ids, r))
            })
            .collect()
    }

    /// Write a batch of records and the rollup increments computed from it,
    /// in one transaction: all or nothing, so a failed attempt can be retried
    /// as a whole.
    pub async fn write_usage_batch(&self, records: &[UsageRecord], inc: &UsageIncrements<'_>) -> Result<()> {
        let rows = self.log_rows(records.iter().map(RecordRef::from).collect()).await?;
        let mut tx = self.pool().begin().await?;
        let head = format!("usage_log ({LOG_COLUMNS})");
        self.insert_rows(&mut tx, &head, 9, "", &rows, bind_log_row).await?;
        self.add_rollups(&mut tx, inc).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest `limit` records of a workspace, or of one of its keys,
    /// newest first.
    ///
    /// Read by hour ranges without a per-key index or an unbounded scan: the
    /// current and the previous hour (which may hold records not rolled up
    /// yet), then the older hours the rollup names (per key, or the
    /// workspace-level rollup for all keys) until their counts hold `limit`
    /// requests ([`recent_ranges`]), each range along `(ws, at)`. The cost
    /// is bounded by the workspace's traffic in those hours, not by its
    /// whole log: an idle key costs the rollup lookup and a read of the
    /// workspace's last two hours. On PostgreSQL each range also names one
    /// or two daily partitions, and the statement is planned over those
    /// alone: an unbounded `ORDER BY at DESC LIMIT 20` names all ~93 (164 ms
    /// over 20 000 records in a debug run; docs/benchmarks.md §8). Callers
    /// bring the rollups up to date first (`usage::stats::report` does).
    pub async fn usage_recent(
        &self,
        workspace_id: &WorkspaceId,
        key_id: Option<&KeyId>,
        limit: u32,
    ) -> Result<Vec<RecentRequest>> {
        let (workspace_id, key_id) = (workspace_id.as_str(), key_id.map(KeyId::as_str));
        let now = now_ms();
        let current = now - now.rem_euclid(HOUR_MS);
        let (table, filter) = match key_id {
            Some(_) => ("usage_hourly", "AND key_id = $4"),
            None => ("usage_hourly_ws", ""),
        };
        let sql = format!(
            "SELECT hour_start, CAST(SUM(requests) AS BIGINT) AS n FROM {table} \
             WHERE workspace_id = $1 AND hour_start < $2 {filter} \
             GROUP BY hour_start ORDER BY hour_start DESC LIMIT $3"
        );
        let q = sqlx::query(&sql).bind(workspace_id).bind(current - HOUR_MS).bind(i64::from(limit));
        let rows = bind_some(q, key_id).fetch_all(self.pool()).await?;
        let mut hours = Vec::with_capacity(rows.len());
        for r in &rows {
            hours.push((r.try_get::<i64, _>("hour_start")?, to_u64(r.try_get("n")?)));
        }
        let ranges = recent_ranges(current, &hours, limit);
        let mut out: Vec<RecentRequest> = Vec::new();
        for (from, until) in ranges {
            let left = limit.saturating_sub(u32::try_from(out.len()).unwrap_or(u32::MAX));
            if left == 0 {
                break;
            }
            out.extend(
                self.usage_recent_between(&RecentSlice { workspace_id, key_id, from, until, limit: left }).await?,
            );
        }
        Ok(out)
    }

    /// The newest `slice.limit` records of the slice, newest first (while
    /// old-format records remain, of both formats).
    async fn usage_recent_between(&self, slice: &RecentSlice<'_>) -> Result<Vec<RecentRequest>> {
        let filter =
            if slice.key_id.is_some() { "AND l.key = (SELECT n FROM usage_names WHERE name = $5)" } else { "" };
        let sql = format!("{RECENT_SQL} {filter} ORDER BY l.at DESC, l.id DESC LIMIT $4");
        let rows = slice.rows(self, &sql).await?;
        let mut out = rows.iter().map(recent_from_row).collect::<Result<Vec<_>>>()?;
        if self.usage_dict().legacy_left() {
            out.extend(self.legacy_recent(slice).await?);
            out.sort_by_key(|(id, r)| std::cmp::Reverse((r.at.0, *id)));
            out.truncate(usize::try_from(slice.limit).unwrap_or(usize::MAX));
        }
        Ok(out.into_iter().map(|(_, r)| r).collect())
    }
}

/// The time ranges `recent` reads, newest first: the last two hours (and
/// any record stamped later: not rolled up yet), then the older hours of
/// `hours` (newest first, with their request counts from the rollup) until
/// they hold `limit` requests, adjacent hours as one range, so a busy key
/// costs one or two statements and a quiet one no more than `limit`.
fn recent_ranges(current_hour: i64, hours: &[(i64, u64)], limit: u32) -> Vec<(i64, i64)> {
    let mut ranges = vec![(current_hour - HOUR_MS, i64::MAX)];
    let mut counted = 0u64;
    for &(hour, n) in hours {
        if counted >= u64::from(limit) {
            break;
        }
        counted += n;
        match ranges.last_mut() {
            Some(last) if last.0 == hour + HOUR_MS => last.0 = hour,
            _ => ranges.push((hour, hour + HOUR_MS)),
        }
    }
    ranges
}

/// What one `recent` statement reads: a workspace's (or one key's) records
/// with `from <= at < until`, at most `limit` of them.
pub(super) struct RecentSlice<'a> {
    pub workspace_id: &'a str,
    pub key_id: Option<&'a str>,
    pub from: i64,
    pub until: i64,
    pub limit: u32,
}

impl RecentSlice<'_> {
    /// The rows of a `recent` query `sql`: `$1` the workspace, `$2 <= at < $3`,
    /// `$4` the limit, `$5` the key when there is one.
    pub(super) async fn rows(&self, store: &Store, sql: &str) -> Result<Vec<AnyRow>> {
        let q = sqlx::query(sql).bind(self.workspace_id).bind(self.from).bind(self.until).bind(i64::from(self.limit));
        Ok(bind_some(q, self.key_id).fetch_all(store.pool()).await?)
    }
}

/// A record of `recent` and its id (the tie-break between equal times).
pub(super) type RecentWithId = (i64, RecentRequest);

fn recent_from_row(r: &AnyRow) -> Result<RecentWithId> {
    let route: String = r.try_get("route")?;
    let path: Vec<u8> = r.try_get("path")?;
    let ip: Vec<u8> = r.try_get("ip")?;
    recent_request(r, decode_path(&route, &path).ok_or_else(|| corrupt("usage record path"))?, decode_ip(&ip))
}

/// A row of `recent` (either format), its path and IP already as text.
pub(super) fn recent_request(r: &AnyRow, path: String, ip: String) -> Result<RecentWithId> {
    let latency_us: i64 = r.try_get("latency_us")?;
    let request = RecentRequest {
        at: Timestamp(r.try_get("at")?),
        method: r.try_get("method")?,
        path,
        route: r.try_get("route")?,
        status: u16::try_from(r.try_get::<i64, _>("status")?).map_err(corrupt)?,
        code: r.try_get("code")?,
        latency_ms: latency_us as f64 / 1000.0,
        key_id: r.try_get("key_id")?,
        key_name: r.try_get("key_name")?,
        ip,
    };
    Ok((r.try_get("id")?, request))
}

/// A record to write, new ([`UsageRecord`]) or moved from the old format,
/// its IP and path already in their compact form ([`super::codec`]).
#[derive(Debug, Clone)]
pub(super) struct RecordRef<'a> {
    pub workspace_id: &'a str,
    pub key_id: &'a str,
    pub at_ms: i64,
    pub method: &'a str,
    pub route: &'a str,
    pub status: i64,
    pub code: Option<&'a str>,
    pub latency_us: i64,
    pub ip: Vec<u8>,
    pub path: Vec<u8>,
}

impl<'a> From<&'a UsageRecord> for RecordRef<'a> {
    fn from(r: &'a UsageRecord) -> Self {
        RecordRef {
            workspace_id: &r.workspace_id,
            key_id: &r.key_id,
            at_ms: r.at_ms,
            method: r.method,
            route: &r.route,
            status: i64::from(r.status),
            code: r.code,
            latency_us: to_i64(r.latency_us),
            ip: encode_ip(&r.ip),
            path: encode_path(&r.route, &r.path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_reads_the_last_two_hours_then_older_hours_until_they_hold_enough() {
        let now = 100 * HOUR_MS;
        let h = |n: i64| now - n * HOUR_MS;
        // Hours 2 and 3 are adjacent to the last two (one range); hour 5
        // brings the count to 20; hour 9 is not needed.
        let hours = [(h(2), 5), (h(3), 5), (h(5), 10), (h(9), 7)];
        assert_eq!(recent_ranges(now, &hours, 20), [(h(3), i64::MAX), (h(5), h(4))]);
        assert_eq!(recent_ranges(now, &hours, 100), [(h(3), i64::MAX), (h(5), h(4)), (h(9), h(8))]);
        assert_eq!(recent_ranges(now, &[], 20), [(h(1), i64::MAX)]);
    }
}
