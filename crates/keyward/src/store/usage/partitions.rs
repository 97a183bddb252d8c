//! PostgreSQL's daily partitions of `usage_log` (issue 25): created ahead by
//! the maintenance job, dropped whole by retention (no row-by-row DELETE,
//! no vacuum debt). Records outside every daily partition (a clock far
//! off, a day whose partition could not be created) go to
//! `usage_log_default`, which retention trims row by row.
//!
//! The DDL cannot take parameters: partition names and bounds are formatted
//! from whole days computed here, never from input.
use crate::store::{Result, Store, StoreError};
use sqlx::Row;

const DAY_MS: i64 = 86_400_000;

/// `usage_log_pYYYYMMDD` for the UTC day starting at `day_ms`.
fn partition_name(day_ms: i64) -> Option<String> {
    let d = time::OffsetDateTime::from_unix_timestamp(day_ms.div_euclid(1000)).ok()?.date();
    Some(format!("usage_log_p{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day()))
}

/// The start (unix ms) of the day a partition name stands for.
fn partition_day(name: &str) -> Option<i64> {
    let ymd = name.strip_prefix("usage_log_p")?;
    let (y, m, d) = (ymd.get(..4)?.parse().ok()?, ymd.get(4..6)?.parse::<u8>().ok()?, ymd.get(6..8)?.parse().ok()?);
    let date = time::Date::from_calendar_date(y, time::Month::try_from(m).ok()?, d).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp() * 1000)
}

/// Serialises partition DDL between nodes: `CREATE TABLE IF NOT EXISTS …
/// PARTITION OF` alone can still fail when two sessions race.
const LOCK_SQL: &str = "SELECT pg_advisory_xact_lock(2025027)";

impl Store {
    /// Take the partition DDL lock in `tx`; whether `name` exists then.
    async fn lock_partitions_and_find(&self, tx: &mut sqlx::AnyConnection, name: &str) -> Result<bool> {
        sqlx::query(LOCK_SQL).execute(&mut *tx).await?;
        Ok(sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(name).fetch_one(&mut *tx).await?)
    }

    /// The daily partitions that exist, by name.
    async fn usage_partitions(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT c.relname::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'usage_log'::regclass",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get("name")?))
            .filter(|n| !matches!(n, Ok(n) if n == "usage_log_default"))
            .collect()
    }

    /// Create the missing daily partitions for the days from `from_ms` to
    /// `to_ms` (PostgreSQL; none on SQLite); returns how many were created.
    /// Several nodes may run this at once. A day whose records already sit
    /// in the default partition is skipped (they stay there).
    pub async fn ensure_usage_partitions(&self, from_ms: i64, to_ms: i64) -> Result<u32> {
        if !self.usage_strategy().partitions_by_day() {
            return Ok(0);
        }
        let existing = self.usage_partitions().await?;
        let mut created = 0;
        let mut day = from_ms - from_ms.rem_euclid(DAY_MS);
        while day <= to_ms {
            let name = partition_name(day).ok_or_else(|| StoreError::Corrupt(format!("day {day}")))?;
            if !existing.contains(&name) {
                let mut tx = self.pool().begin().await?;
                sqlx::query(LOCK_SQL).execute(&mut *tx).await?;
                // Another node may have created it while this one waited.
                let exists: bool =
                    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(&name).fetch_one(&mut *tx).await?;
                if exists {
                    day += DAY_MS;
                    continue;
                }
                let sql = format!(
                    "CREATE TABLE IF NOT EXISTS {name} PARTITION OF usage_log FOR VALUES FROM ({day}) TO ({})",
                    day + DAY_MS
                );
                match sqlx::query(&sql).execute(&mut *tx).await {
                    Ok(_) => {
                        tx.commit().await?;
                        created += 1;
                    }
                    // 23514: rows of that day are in the default partition.
                    Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some("23514") => {}
                    Err(e) => return Err(e.into()),
                }
            }
            day += DAY_MS;
        }
        Ok(created)
    }

    /// Drop the daily partitions whose day ended at or before `before_ms`
    /// (PostgreSQL; none on SQLite); returns (partitions, records) dropped.
    pub async fn drop_usage_partitions_before(&self, before_ms: i64) -> Result<(u32, u64)> {
        if !self.usage_strategy().partitions_by_day() {
            return Ok((0, 0));
        }
        let (mut partitions, mut records) = (0, 0);
        for name in self.usage_partitions().await? {
            if partition_day(&name).is_none_or(|day| day + DAY_MS > before_ms) {
                continue;
            }
            let mut tx = self.pool().begin().await?;
            if !self.lock_partitions_and_find(&mut tx, &name).await? {
                continue; // another node's retention dropped it meanwhile
            }
            // Counted for the retention metric (an index-only scan, no write).
            let n: i64 =
                sqlx::query_scalar(&format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {name}")).fetch_one(&mut *tx).await?;
            sqlx::query(&format!("DROP TABLE IF EXISTS {name}")).execute(&mut *tx).await?;
            tx.commit().await?;
            partitions += 1;
            records += u64::try_from(n).unwrap_or(0);
        }
        Ok((partitions, records))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_are_utc_days_and_read_back() {
        let day = 1_764_633_600_000; // 2025-12-02T00:00Z
        assert_eq!(partition_name(day).as_deref(), Some("usage_log_p20251202"));
        assert_eq!(partition_name(day + DAY_MS - 1).as_deref(), Some("usage_log_p20251202"));
        assert_eq!(partition_day("usage_log_p20251202"), Some(day));
        assert_eq!(partition_day("usage_log_default"), None);
    }
}
