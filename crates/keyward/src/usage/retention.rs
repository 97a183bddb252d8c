//! Retention (SPEC §6): raw records, hourly rollups and notifications older
//! than `--usage-retention-days` are deleted by a background job, in small
//! statements (at most [`DELETE_BATCH`] raw records, or one hour of one
//! workspace's rollups, each) with short pauses between them, so neither the
//! batch writer nor readers ever wait long for a lock.
use super::metrics::UsageMetrics;
use crate::store::{now_ms, Store, MIGRATE_STEP};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Most raw records deleted by one statement.
pub const DELETE_BATCH: u32 = 5000;

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// What one pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deleted {
    pub records: u64,
    /// Of which in whole daily partitions dropped (PostgreSQL).
    pub partitions: u64,
    pub rollups: u64,
    pub notifications: u64,
}

/// One retention pass as of `now_ms`: delete raw records older than
/// `retention_days` days, rollup hours that ended before that point, and
/// notifications as old. `pause` is slept between statements.
pub async fn run_once(store: &Store, retention_days: u32, now_ms: i64, pause: Duration) -> anyhow::Result<Deleted> {
    let cutoff = now_ms - i64::from(retention_days) * DAY_MS;
    // An hour bucket goes once all of it is older than the cutoff.
    let last_hour = cutoff - cutoff.rem_euclid(HOUR_MS) - HOUR_MS;
    let mut out = Deleted::default();
    // Rollups lagging the log (SQLite) catch up first, so the hours they
    // add go with the rest.
    store.flush_rollups().await?;
    let (partitions, records) = store.drop_usage_partitions_before(cutoff).await?;
    out.partitions = u64::from(partitions);
    out.records += records;
    for ws in store.usage_workspace_ids().await? {
        loop {
            let n = store.delete_usage_records_before(&ws, cutoff, DELETE_BATCH).await?;
            out.records += n;
            if n < u64::from(DELETE_BATCH) {
                break;
            }
            tokio::time::sleep(pause).await;
        }
        loop {
            let n = store.delete_oldest_usage_hour(&ws, last_hour).await?;
            out.rollups += n;
            if n == 0 {
                break;
            }
            tokio::time::sleep(pause).await;
        }
    }
    out.notifications = store.delete_notifications_before(cutoff).await?;
    Ok(out)
}

/// Move records of the format before issue 25 into the compact log, one
/// short transaction of [`MIGRATE_STEP`] records at a time with `pause`
/// between them (the writer and readers wait for one batch at most).
/// Returns how many moved.
pub async fn migrate_old_records(store: &Store, pause: Duration) -> anyhow::Result<u64> {
    let mut moved = 0;
    while store.usage_migration_pending() {
        moved += store.migrate_usage_step(MIGRATE_STEP).await?;
        tokio::time::sleep(pause).await;
    }
    Ok(moved)
}

/// The background job: moves old-format records, then a full pass at start
/// and hourly. Runs until aborted.
pub async fn run_loop(store: Store, retention_days: u32, metrics: Arc<UsageMetrics>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // Partitions for the whole retention period (old records moved in
        // below land in them) and two days ahead.
        let now = now_ms();
        let from = now - i64::from(retention_days) * DAY_MS;
        if let Err(e) = store.ensure_usage_partitions(from, now + 2 * DAY_MS).await {
            tracing::warn!(error = ?e, "creating usage log partitions failed; will retry");
        }
        match migrate_old_records(&store, Duration::from_millis(20)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(records = n, "usage records moved to the compact format"),
            Err(e) => tracing::warn!(error = ?e, "moving usage records to the compact format failed; will retry"),
        }
        match run_once(&store, retention_days, now_ms(), Duration::from_millis(20)).await {
            Ok(d) => {
                metrics.retention_deleted.fetch_add(d.records + d.rollups, Ordering::Relaxed);
                if d != Deleted::default() {
                    tracing::info!(records = d.records, rollups = d.rollups, "usage retention pass");
                }
            }
            Err(e) => tracing::warn!(error = ?e, "usage retention pass failed"),
        }
    }
}
