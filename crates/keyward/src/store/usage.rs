//! The usage log's SQL (SPEC §6): batch inserts of raw records with their
//! hourly rollups in one transaction, the auto-revocation window count, the reads
//! behind the API Usage statistics, retention deletes, and notifications.
//!
//! Multi-row `INSERT ... VALUES` statements come in a few fixed sizes
//! ([`CHUNK_SIZES`]) so each backend prepares each statement once and keeps
//! it in its statement cache, and every statement stays far below SQLite's
//! 32 766 bound parameters. Their placeholders are the one place where the
//! dialects differ here: SQLite gets anonymous `?` because looking up a
//! numbered parameter by name is linear in SQLite, which made binding
//! 10 000 `$n` parameters quadratic (8 000 records/s instead of 100 000+).
use super::{Backend, Result, Store};
use crate::usage::UsageRecord;
use keyward_core::api::{Notification, RecentRequest, Timestamp};
use keyward_core::ids;
use sqlx::{AnyConnection, Row};

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Rows per multi-row INSERT: a batch is cut greedily into these sizes, so
/// at most this many distinct statements exist per table.
const CHUNK_SIZES: [usize; 6] = [1000, 250, 50, 10, 3, 1];

/// One increment of an hourly rollup row (aggregated over a batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlyCount<'a> {
    pub workspace_id: &'a str,
    pub key_id: &'a str,
    /// Unix ms, a multiple of one hour (UTC).
    pub hour_start: i64,
    pub method: &'a str,
    pub route: &'a str,
    pub status: u16,
    /// The problem code, `""` when there is none.
    pub code: &'a str,
    pub requests: u64,
}

/// One increment of a workspace-level hourly rollup row (summed over keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceHourlyCount<'a> {
    pub workspace_id: &'a str,
    pub hour_start: i64,
    pub method: &'a str,
    pub route: &'a str,
    pub status: u16,
    pub code: &'a str,
    pub requests: u64,
}

/// Everything a batch adds besides its raw records (see `usage::writer::aggregate`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageIncrements<'a> {
    pub hourly: Vec<HourlyCount<'a>>,
    pub hourly_ws: Vec<WorkspaceHourlyCount<'a>>,
}

/// Counted answers of one key in one bucket (see [`Store::counts_key_buckets`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBucketCount<'a> {
    /// Unix seconds, a multiple of [`KEY_BUCKET_SECS`].
    pub bucket: i64,
    pub workspace_id: &'a str,
    pub key_id: &'a str,
    pub requests: u64,
    pub errors: u64,
}

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

/// A notification to create.
#[derive(Debug, Clone)]
pub struct NewNotification<'a> {
    pub workspace_id: &'a str,
    pub at_ms: i64,
    pub kind: &'a str,
    pub key_id: Option<&'a str>,
    pub message: &'a str,
}

/// `INSERT INTO {head} VALUES ($1, ...), (...) {tail}` for `rows` rows of
/// `cols` columns (`?` instead of `$n` on SQLite).
fn values_sql(backend: Backend, head: &str, cols: usize, rows: usize, tail: &str) -> String {
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * cols * 7);
    sql.push_str("INSERT INTO ");
    sql.push_str(head);
    sql.push_str(" VALUES ");
    push_rows(&mut sql, backend, cols, rows);
    sql.push(' ');
    sql.push_str(tail);
    sql
}

/// `(?,?),(?,?)` for `rows` rows of `cols` placeholders (`$1`, `$2`, ...
/// on PostgreSQL).
pub(super) fn push_rows(sql: &mut String, backend: Backend, cols: usize, rows: usize) {
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..cols {
            if c > 0 {
                sql.push(',');
            }
            n += 1;
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
            }
        }
        sql.push(')');
    }
}

/// Cut `len` items into chunks of the sizes in [`CHUNK_SIZES`], in order.
pub(super) fn chunks(len: usize) -> impl Iterator<Item = (usize, usize)> {
    let mut start = 0;
    std::iter::from_fn(move || {
        let left = len - start;
        let size = *CHUNK_SIZES.iter().find(|&&s| s <= left)?;
        let range = (start, start + size);
        start += size;
        Some(range)
    })
}

const RECORD_HEAD: &str = "usage_records (workspace_id, key_id, at, method, route, path, status, code, latency_us, ip)";
const HOURLY_HEAD: &str = "usage_hourly (workspace_id, hour_start, key_id, method, route, status, code, requests)";
const HOURLY_TAIL: &str = "ON CONFLICT (workspace_id, hour_start, key_id, method, route, status, code) \
     DO UPDATE SET requests = usage_hourly.requests + excluded.requests";
const HOURLY_WS_HEAD: &str = "usage_hourly_ws (workspace_id, hour_start, method, route, status, code, requests)";
const HOURLY_WS_TAIL: &str = "ON CONFLICT (workspace_id, hour_start, method, route, status, code) \
     DO UPDATE SET requests = usage_hourly_ws.requests + excluded.requests";

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The rollup table to read and its key filter: per key when filtering by
/// key, the (much smaller) workspace-level one otherwise.
fn rollup(key_id: Option<&str>, param: &str) -> (&'static str, String) {
    match key_id {
        Some(_) => ("usage_hourly", format!("AND key_id = {param}")),
        None => ("usage_hourly_ws", String::new()),
    }
}

/// Records rolled up per transaction by [`Store::flush_rollups_step`].
pub const ROLLUP_STEP: i64 = 10_000;

/// The rollups of the records in an id range (see
/// [`Store::defers_rollups`]), in the buckets `writer::aggregate` uses.
const ROLLUP_KEY_SQL: &str =
    "INSERT INTO usage_hourly (workspace_id, hour_start, key_id, method, route, status, code, requests) \
     SELECT workspace_id, at - (at % 3600000), key_id, method, route, status, COALESCE(code, ''), COUNT(*) \
     FROM usage_records WHERE id > $1 AND id <= $2 \
     GROUP BY workspace_id, at - (at % 3600000), key_id, method, route, status, COALESCE(code, '') \
     ON CONFLICT (workspace_id, hour_start, key_id, method, route, status, code) \
     DO UPDATE SET requests = usage_hourly.requests + excluded.requests";
const ROLLUP_WS_SQL: &str =
    "INSERT INTO usage_hourly_ws (workspace_id, hour_start, method, route, status, code, requests) \
     SELECT workspace_id, at - (at % 3600000), method, route, status, COALESCE(code, ''), COUNT(*) \
     FROM usage_records WHERE id > $1 AND id <= $2 \
     GROUP BY workspace_id, at - (at % 3600000), method, route, status, COALESCE(code, '') \
     ON CONFLICT (workspace_id, hour_start, method, route, status, code) \
     DO UPDATE SET requests = usage_hourly_ws.requests + excluded.requests";

const KEY_BUCKETS_HEAD: &str = "usage_key_buckets (bucket, workspace_id, key_id, requests, errors)";
const KEY_BUCKETS_TAIL: &str = "ON CONFLICT (bucket, workspace_id, key_id) DO UPDATE SET \
     requests = usage_key_buckets.requests + excluded.requests, errors = usage_key_buckets.errors + excluded.errors";

/// Seconds per auto-revocation bucket on SQLite (see [`Store::counts_key_buckets`]).
pub const KEY_BUCKET_SECS: i64 = 10;

/// The bucket (unix seconds, a multiple of [`KEY_BUCKET_SECS`]) holding `at_ms`.
pub fn key_bucket(at_ms: i64) -> i64 {
    let sec = at_ms.div_euclid(1000);
    sec - sec.rem_euclid(KEY_BUCKET_SECS)
}

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
        self.insert_rows(&mut tx, HOURLY_HEAD, 8, HOURLY_TAIL, &inc.hourly, |q, h| {
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
        self.insert_rows(&mut tx, HOURLY_WS_HEAD, 7, HOURLY_WS_TAIL, &inc.hourly_ws, |q, h| {
            q.bind(h.workspace_id)
                .bind(h.hour_start)
                .bind(h.method)
                .bind(h.route)
                .bind(i64::from(h.status))
                .bind(h.code)
                .bind(to_i64(h.requests))
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `rows` as multi-row `INSERT INTO {head} VALUES ... {tail}`
    /// statements in the sizes of [`CHUNK_SIZES`], `bind` binding the `cols`
    /// values of one row.
    async fn insert_rows<T: Sync>(
        &self,
        conn: &mut AnyConnection,
        head: &str,
        cols: usize,
        tail: &str,
        rows: &[T],
        bind: impl for<'q> Fn(AnyQuery<'q>, &'q T) -> AnyQuery<'q>,
    ) -> Result<()> {
        for (a, b) in chunks(rows.len()) {
            let sql = values_sql(self.backend(), head, cols, b - a, tail);
            let q = rows[a..b].iter().fold(sqlx::query(&sql), &bind);
            q.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Whether the hourly rollups are written in bulk by
    /// [`Store::flush_rollups`] rather than with each batch.
    ///
    /// SQLite: with many keys and workspaces, upserting the rollups with
    /// every batch dirtied a different B-tree page for nearly every record.
    /// Instead the writer every few seconds (and a report and retention,
    /// before they read) rolls up the records past a watermark. SQLite hands
    /// out record ids in commit order (one writer at a time, each new id the
    /// largest plus one), so "every record up to id W is in the rollups" is
    /// exact whichever process wrote them, and a crash loses nothing: the
    /// next flush picks up where the last one stopped. PostgreSQL (ids from a
    /// sequence, committed out of order by several nodes) upserts the
    /// rollups with each batch.
    pub fn defers_rollups(&self) -> bool {
        self.backend() == Backend::Sqlite
    }

    /// Bring both rollups up to date with the log (SQLite; a no-op on
    /// PostgreSQL), in steps of [`ROLLUP_STEP`] records. Returns how many
    /// rollup rows were written.
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
        if !self.defers_rollups() {
            return Ok((0, true));
        }
        let mut tx = self.pool().begin().await?;
        // Write first: a transaction that read before writing could not take
        // the write lock once another connection had written (SQLite, WAL).
        let mark: i64 = sqlx::query_scalar(
            "UPDATE usage_rollup_state SET rolled_through = rolled_through WHERE id = 1 RETURNING rolled_through",
        )
        .fetch_one(&mut *tx)
        .await?;
        let max: i64 = sqlx::query_scalar("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM usage_records")
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

    /// Whether a key's auto-revocation counts come from per-key buckets
    /// ([`Store::add_usage_key_buckets`]) rather than from its records.
    ///
    /// SQLite keeps no `(workspace_id, key_id, at)` index on the usage log:
    /// with many keys in use, every record's entry dirtied a different
    /// B-tree page (a 4 KiB WAL frame per record, the largest cost of the
    /// `/v1` path). The usage writers add counted answers per key and
    /// 10-second bucket instead, in time order. PostgreSQL keeps the index.
    pub fn counts_key_buckets(&self) -> bool {
        self.backend() == Backend::Sqlite
    }

    /// Add counted answers to the per-key buckets (SQLite), in one
    /// transaction; `rows` sorted by (bucket, workspace, key).
    pub async fn add_usage_key_buckets(&self, rows: &[KeyBucketCount<'_>]) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        self.insert_rows(&mut tx, KEY_BUCKETS_HEAD, 5, KEY_BUCKETS_TAIL, rows, |q, r| {
            q.bind(r.bucket).bind(r.workspace_id).bind(r.key_id).bind(to_i64(r.requests)).bind(to_i64(r.errors))
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forget per-key buckets that start before `bucket` (unix seconds).
    pub async fn delete_usage_key_buckets_before(&self, bucket: i64) -> Result<u64> {
        if !self.counts_key_buckets() {
            return Ok(0);
        }
        Ok(sqlx::query("DELETE FROM usage_key_buckets WHERE bucket < $1")
            .bind(bucket)
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    /// A key's auto-revocation counts since `since_ms` (up to `now_ms`):
    /// `(errors, requests)` as `usage::autorevoke::classify` defines them
    /// (errors: 422 and 401 `ip_not_allowed`; requests: all but 429 and 5xx).
    ///
    /// PostgreSQL: a range of the `(workspace_id, key_id, at)` index, at most
    /// the key's requests in the window. SQLite: the key's buckets from the
    /// one holding `since_ms` on (up to a minute past `now_ms`, for clocks
    /// a little ahead), one primary-key lookup each; so the window reaches
    /// back up to [`KEY_BUCKET_SECS`] - 1 seconds further.
    pub async fn usage_key_window(
        &self,
        workspace_id: &str,
        key_id: &str,
        since_ms: i64,
        now_ms: i64,
    ) -> Result<(u64, u64)> {
        let row = if self.counts_key_buckets() {
            sqlx::query(
                "WITH RECURSIVE b(bucket) AS (SELECT $3 UNION ALL SELECT bucket + $5 FROM b WHERE bucket + $5 <= $4) \
                 SELECT CAST(COALESCE(SUM(k.errors), 0) AS BIGINT) AS e, CAST(COALESCE(SUM(k.requests), 0) AS BIGINT) AS n \
                 FROM b JOIN usage_key_buckets k ON k.bucket = b.bucket AND k.workspace_id = $1 AND k.key_id = $2",
            )
            .bind(workspace_id)
            .bind(key_id)
            .bind(key_bucket(since_ms))
            .bind(key_bucket(now_ms.saturating_add(60_000)))
            .bind(KEY_BUCKET_SECS)
            .fetch_one(self.pool())
            .await?
        } else {
            sqlx::query(
                "SELECT CAST(COALESCE(SUM(CASE WHEN status = 422 OR (status = 401 AND code = 'ip_not_allowed') \
                 THEN 1 ELSE 0 END), 0) AS BIGINT) AS e, CAST(COUNT(*) AS BIGINT) AS n \
                 FROM usage_records WHERE workspace_id = $1 AND key_id = $2 AND at >= $3 AND status <> 429 AND status < 500",
            )
            .bind(workspace_id)
            .bind(key_id)
            .bind(since_ms)
            .fetch_one(self.pool())
            .await?
        };
        Ok((to_u64(row.try_get("e")?), to_u64(row.try_get("n")?)))
    }

    /// Rollups of hours `from_hour..=to_hour`, summed per (hour, status, code),
    /// optionally for one key only (the workspace-level rollup otherwise).
    pub async fn usage_by_hour_status(
        &self,
        workspace_id: &str,
        key_id: Option<&str>,
        from_hour: i64,
        to_hour: i64,
    ) -> Result<Vec<HourStatusCount>> {
        let (table, filter) = rollup(key_id, "$4");
        let sql = format!(
            "SELECT hour_start, status, code, CAST(SUM(requests) AS BIGINT) AS n FROM {table} \
             WHERE workspace_id = $1 AND hour_start >= $2 AND hour_start <= $3 {filter} \
             GROUP BY hour_start, status, code"
        );
        let mut q = sqlx::query(&sql).bind(workspace_id).bind(from_hour).bind(to_hour);
        if let Some(k) = key_id {
            q = q.bind(k);
        }
        q.fetch_all(self.pool())
            .await?
            .iter()
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
        workspace_id: &str,
        key_id: Option<&str>,
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
        let mut q = sqlx::query(&sql).bind(workspace_id).bind(from_hour).bind(to_hour).bind(i64::from(limit));
        if let Some(k) = key_id {
            q = q.bind(k);
        }
        q.fetch_all(self.pool())
            .await?
            .iter()
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

    /// The newest `limit` raw records (newest first), read backwards along
    /// the `(workspace_id, at)` index, or `(workspace_id, key_id, at)` for
    /// one key on PostgreSQL; for one key on SQLite (no per-key index, see
    /// [`Store::counts_key_buckets`]) hour by hour, in the hours its per-key
    /// rollup names.
    pub async fn usage_recent(
        &self,
        workspace_id: &str,
        key_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RecentRequest>> {
        match key_id {
            Some(key_id) if self.counts_key_buckets() => {
                self.usage_recent_of_key_by_hour(workspace_id, key_id, limit).await
            }
            _ => self.usage_recent_between(workspace_id, key_id, (i64::MIN, i64::MAX), limit).await,
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
    async fn usage_recent_of_key_by_hour(
        &self,
        workspace_id: &str,
        key_id: &str,
        limit: u32,
    ) -> Result<Vec<RecentRequest>> {
        const HOUR: i64 = 3_600_000;
        let now = super::now_ms();
        let current = now - now.rem_euclid(HOUR);
        let hours: Vec<i64> = sqlx::query_scalar(
            "SELECT hour_start FROM usage_hourly WHERE workspace_id = $1 AND key_id = $2 AND hour_start < $3 \
             GROUP BY hour_start ORDER BY hour_start DESC LIMIT $4",
        )
        .bind(workspace_id)
        .bind(key_id)
        .bind(current - HOUR)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        // Disjoint ranges, newest first: the last two hours (and any record
        // stamped later), then each older hour with requests of the key.
        let ranges = std::iter::once((current - HOUR, i64::MAX)).chain(hours.into_iter().map(|h| (h, h + HOUR)));
        let mut out: Vec<RecentRequest> = Vec::new();
        for range in ranges {
            let left = u32::try_from(out.len()).map_or(0, |n| limit.saturating_sub(n));
            if left == 0 {
                break;
            }
            out.extend(self.usage_recent_between(workspace_id, Some(key_id), range, left).await?);
        }
        Ok(out)
    }

    /// The newest `limit` records with `from <= at < until`, newest first.
    async fn usage_recent_between(
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
        let mut q = sqlx::query(&sql).bind(workspace_id).bind(from).bind(until).bind(i64::from(limit));
        if let Some(k) = key_id {
            q = q.bind(k);
        }
        q.fetch_all(self.pool())
            .await?
            .iter()
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

    /// Delete notifications older than `before_ms`.
    pub async fn delete_notifications_before(&self, before_ms: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM notifications WHERE at < $1")
            .bind(before_ms)
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    /// Store a notification for a workspace's admins; returns it.
    pub async fn insert_notification(&self, n: &NewNotification<'_>) -> Result<Notification> {
        let id = ids::new_id("ntf");
        sqlx::query(
            "INSERT INTO notifications (id, workspace_id, at, kind, key_id, message) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(n.workspace_id)
        .bind(n.at_ms)
        .bind(n.kind)
        .bind(n.key_id)
        .bind(n.message)
        .execute(self.pool())
        .await?;
        Ok(Notification {
            id,
            at: Timestamp(n.at_ms),
            kind: n.kind.to_string(),
            key_id: n.key_id.map(str::to_string),
            message: n.message.to_string(),
        })
    }

    /// A workspace's newest `limit` notifications, newest first.
    pub async fn notifications(&self, workspace_id: &str, limit: u32) -> Result<Vec<Notification>> {
        sqlx::query(
            "SELECT id, at, kind, key_id, message FROM notifications WHERE workspace_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(workspace_id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(Notification {
                id: r.try_get("id")?,
                at: Timestamp(r.try_get("at")?),
                kind: r.try_get("kind")?,
                key_id: r.try_get("key_id")?,
                message: r.try_get("message")?,
            })
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_item_in_few_statement_shapes() {
        for len in [0, 1, 2, 9, 10, 11, 999, 1000, 1001, 2345, 5000] {
            let parts: Vec<_> = chunks(len).collect();
            assert_eq!(parts.iter().map(|(a, b)| b - a).sum::<usize>(), len);
            assert!(parts.windows(2).all(|w| w[0].1 == w[1].0));
            assert!(parts.iter().all(|(a, b)| CHUNK_SIZES.contains(&(b - a))));
        }
    }

    #[test]
    fn values_sql_numbers_placeholders_row_by_row() {
        assert_eq!(
            values_sql(Backend::Postgres, "t (a, b)", 2, 2, "X"),
            "INSERT INTO t (a, b) VALUES ($1,$2),($3,$4) X"
        );
        assert_eq!(values_sql(Backend::Sqlite, "t (a)", 1, 3, ""), "INSERT INTO t (a) VALUES (?),(?),(?) ");
    }
}
