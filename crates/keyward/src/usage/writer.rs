//! The batch writer: drains the bounded channel in batches of up to
//! [`BATCH_MAX`] records, writes each batch (raw records and hourly rollups)
//! in one transaction, then checks the keys that
//! had 401 `ip_not_allowed` / 422 answers in it for auto-revocation. Where
//! the store's [`crate::store::UsageStrategy`] says so (SQLite), the hourly rollups are
//! brought up to date every [`ROLLUP_EVERY`] instead, and the answers
//! counted for auto-revocation are gathered per key and 10-second bucket
//! and added to the store at the same pace and before every count.
//!
//! Lossless: the request path waits for room in the channel instead of
//! dropping; a batch that fails is retried with backoff, and after every
//! attempt failed it goes to the [`Spill`] file (fsync'd before the batch
//! counts as handled). While the spill file holds records, later batches go
//! there too (order is kept) and a replay is tried every
//! [`Writer::replay_every`]; once the store answers the file is written back
//! in order and emptied. Only records that do not fit in the spill file's
//! bound (or a writer without one) are dropped, counted in the
//! `keyward_usage_records_dropped_total` metric and logged with their count.
//! When every sender is gone (graceful shutdown) the channel is drained to
//! the last record before [`run_writer`] returns.
//!
//! Batches form by themselves: `recv_many` takes whatever is waiting, so one
//! record is written at once when traffic is light, and thousands at a time
//! when the writer falls behind.
use super::autorevoke::{self, AutoRevokePolicy};
use super::metrics::UsageMetrics;
use super::notify::{Notifier, Retry};
use super::spill::Spill;
use super::UsageRecord;
use crate::store::{now_ms, Store};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// Most records written in one transaction.
pub const BATCH_MAX: usize = 5000;
/// How long the writer lets records gather after a partial batch.
pub const LINGER: std::time::Duration = std::time::Duration::from_millis(10);

/// Everything the writer needs; holds no sender, so it never keeps the
/// channel open.
pub struct Writer {
    pub store: Store,
    pub metrics: Arc<UsageMetrics>,
    pub policy: AutoRevokePolicy,
    pub notifier: Arc<Notifier>,
    /// Attempts per batch and the first backoff (doubling).
    pub retry: Retry,
    /// Where batches go while the store cannot take them (none: dropped).
    pub spill: Option<Spill>,
    /// How often a replay of the spill file is tried while it holds records.
    pub replay_every: std::time::Duration,
}

/// The default [`Writer::replay_every`].
pub const REPLAY_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// How often deferred rollups are brought up to date, and gathered
/// auto-revocation buckets added (see [`crate::store::UsageStrategy::Deferred`]).
pub const ROLLUP_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Run until every sender is gone and the channel is empty.
pub async fn run_writer(mut writer: Writer, mut rx: mpsc::Receiver<UsageRecord>) -> anyhow::Result<()> {
    let mut buf = Vec::with_capacity(BATCH_MAX);
    let mut checks = autorevoke::DueChecks::default();
    let mut buckets = autorevoke::KeyBuckets::new(writer.store.usage_strategy());
    let mut last_flush = Instant::now();
    let mut last_buckets = Instant::now();
    let mut catching_up = false;
    let mut last_replay: Option<Instant> = None;
    loop {
        // Rollups behind: take what is waiting, if anything, and go on.
        // Counts put off (see `DueChecks`): wake up for them even when no
        // record comes.
        let wait = if catching_up {
            Some(std::time::Duration::ZERO)
        } else if checks.waiting() {
            Some(autorevoke::CHECK_GAP)
        } else if writer.behind() {
            Some(writer.replay_every)
        } else {
            None
        };
        let received = match wait {
            Some(d) => match tokio::time::timeout(d, rx.recv_many(&mut buf, BATCH_MAX)).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(_) => 0,
            },
            None => match rx.recv_many(&mut buf, BATCH_MAX).await {
                0 => break,
                n => n,
            },
        };
        if writer.behind() && last_replay.is_none_or(|t| t.elapsed() >= writer.replay_every) {
            last_replay = Some(Instant::now());
            writer.replay(&mut checks, &mut buckets).await;
        }
        if received > 0 {
            writer.handle(&buf, &mut checks, &mut buckets).await;
        }
        writer.check_auto_revocation(&mut checks, &mut buckets).await;
        let full = buf.len() == BATCH_MAX;
        buf.clear();
        if catching_up || last_flush.elapsed() >= ROLLUP_EVERY {
            // One short step at a time, between batches.
            catching_up = match writer.store.flush_rollups_step().await {
                Ok((_, caught_up)) => !caught_up,
                Err(e) => {
                    tracing::warn!(error = ?e, "updating the usage rollups failed; will retry");
                    false
                }
            };
            if !catching_up {
                checks.sweep(&writer.policy, now_ms());
                last_flush = Instant::now();
            }
        }
        // On a clock of their own: rollups that never catch up (a writer
        // saturated for long) must not hold the buckets back.
        if last_buckets.elapsed() >= ROLLUP_EVERY {
            writer.add_key_buckets(&mut buckets).await;
            writer.forget_old_key_buckets(now_ms()).await;
            last_buckets = Instant::now();
        }
        if received > 0 && !full {
            // Let records gather instead of waking this task once per
            // request: while it sleeps, senders only push (no wake-up, no
            // context switch on the request path). Costs ≤ LINGER of delay.
            tokio::time::sleep(LINGER).await;
        }
    }
    // Shutdown: one last try to bring the spill file back; what the store
    // cannot take stays on disk for the next start.
    if writer.behind() {
        writer.replay(&mut checks, &mut buckets).await;
    }
    checks.hurry();
    writer.check_auto_revocation(&mut checks, &mut buckets).await;
    writer.add_key_buckets(&mut buckets).await;
    writer.flush_rollups().await;
    tracing::debug!("usage writer drained the channel");
    Ok(())
}

impl Writer {
    /// Bring the rollups up to date (SQLite); on failure the next flush
    /// covers the same records.
    async fn flush_rollups(&self) {
        if let Err(e) = self.store.flush_rollups().await {
            tracing::warn!(error = ?e, "updating the usage rollups failed; will retry");
        }
    }

    /// Add the answers counted since the last call to the store's per-key
    /// buckets (SQLite); on failure they wait for the next call.
    async fn add_key_buckets(&self, buckets: &mut autorevoke::KeyBuckets) {
        if buckets.is_empty() {
            return;
        }
        match self.store.add_usage_key_buckets(&buckets.rows()).await {
            Ok(()) => buckets.clear(),
            Err(e) => tracing::warn!(error = ?e, "adding auto-revocation counts failed; will retry"),
        }
    }

    /// Drop per-key buckets that no window reaches any more (a minute kept
    /// for clocks that differ between nodes).
    async fn forget_old_key_buckets(&self, now_ms: i64) {
        let before = crate::store::key_bucket((self.policy.window_start_sec(now_ms) - 60) * 1000);
        if let Err(e) = self.store.delete_usage_key_buckets_before(before).await {
            tracing::warn!(error = ?e, "deleting old auto-revocation counts failed; will retry");
        }
    }

    /// The spill file holds records the store does not have yet.
    pub fn behind(&self) -> bool {
        self.spill.as_ref().is_some_and(|s| !s.is_empty())
    }

    /// Write the spill file back to the store, in order, one chunk at a
    /// time (one attempt each); stop at the first failure.
    async fn replay(&mut self, checks: &mut autorevoke::DueChecks, buckets: &mut autorevoke::KeyBuckets) {
        let Some(spill) = self.spill.as_mut() else { return };
        let before = spill.records();
        while !spill.is_empty() {
            let (chunk, end) = match spill.next_chunk(BATCH_MAX) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "could not read the usage spill file; will retry");
                    return;
                }
            };
            let started = Instant::now();
            if let Err(e) = write_batch(&self.store, &chunk).await {
                // A store that answers yet refuses the chunk twice would
                // hold the usage log back forever: that chunk is dropped.
                if !self.store.ping().await {
                    tracing::debug!(error = ?e, "the store still refuses usage records; they stay in the spill file");
                    return;
                }
                if let Err(e) = write_batch(&self.store, &chunk).await {
                    self.metrics.dropped.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    tracing::error!(
                        error = ?e,
                        dropped = chunk.len(),
                        "the store answers but refuses these spilled usage records; they were dropped"
                    );
                    if let Err(e) = spill.replayed(end, chunk.len()) {
                        tracing::error!(error = %e, "could not note the usage spill file's replay position");
                    }
                    continue;
                }
            }
            if let Err(e) = spill.replayed(end, chunk.len()) {
                tracing::error!(error = %e, "could not note the usage spill file's replay position");
            }
            self.metrics.observe_batch(started.elapsed());
            self.metrics.written.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            self.metrics.batches.fetch_add(1, Ordering::Relaxed);
            checks.note(&chunk);
            buckets.add(&chunk);
        }
        tracing::info!(records = before, "usage records from the spill file written to the store; usage is up to date");
    }

    /// Put a batch the store did not take into the spill file; what does
    /// not fit (or no spill file) is dropped and counted.
    fn spill_or_drop(&mut self, batch: &[UsageRecord], error: &dyn std::fmt::Debug) {
        let kept = match self.spill.as_mut() {
            Some(spill) => {
                let was_empty = spill.is_empty();
                let kept = spill.append(batch);
                if was_empty && kept > 0 {
                    tracing::warn!(
                        error = ?error,
                        records = kept,
                        "the store refuses usage records; spilling them to the local spill file until it answers"
                    );
                }
                kept
            }
            None => 0,
        };
        let dropped = batch.len() - kept;
        if dropped > 0 {
            self.metrics.dropped.fetch_add(dropped as u64, Ordering::Relaxed);
            tracing::error!(
                error = ?error,
                dropped,
                "usage records could be neither written nor spilled (spill file full or unavailable); they were dropped"
            );
        }
    }

    async fn handle(
        &mut self,
        batch: &[UsageRecord],
        checks: &mut autorevoke::DueChecks,
        buckets: &mut autorevoke::KeyBuckets,
    ) {
        if self.behind() {
            // Older records wait in the spill file: these go after them.
            self.spill_or_drop(batch, &"older usage records are still waiting in the spill file");
            return;
        }
        let started = Instant::now();
        let mut backoff = self.retry.first_backoff;
        let mut attempt = 1;
        loop {
            match write_batch(&self.store, batch).await {
                Ok(()) => break,
                Err(e) if attempt < self.retry.attempts => {
                    tracing::warn!(error = ?e, attempt, records = batch.len(), "usage batch failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                Err(e) => {
                    self.spill_or_drop(batch, &e);
                    return;
                }
            }
        }
        self.metrics.observe_batch(started.elapsed());
        self.metrics.written.fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.metrics.batches.fetch_add(1, Ordering::Relaxed);
        checks.note(batch);
        buckets.add(batch);
    }

    /// Count the window of the keys whose numerator answers are due for it
    /// (see [`autorevoke::DueChecks`]) and revoke those that trip.
    async fn check_auto_revocation(&self, checks: &mut autorevoke::DueChecks, buckets: &mut autorevoke::KeyBuckets) {
        let due = checks.take_due(now_ms());
        if due.is_empty() {
            return;
        }
        // This node's answers first, so the counts see them.
        self.add_key_buckets(buckets).await;
        for (ws, key) in due {
            let (ws, key) = (&*ws, &*key);
            let now = now_ms();
            match autorevoke::check_key(&self.store, &self.policy, ws, key, now).await {
                Ok(None) => {}
                Ok(Some(revoked)) => {
                    self.metrics.auto_revocations.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        key_id = key,
                        errors = revoked.errors,
                        requests = revoked.requests,
                        window_secs = revoked.window_secs,
                        "API key revoked automatically for a high 401/422 rate"
                    );
                    self.notifier.auto_revoked(&revoked, now).await;
                }
                Err(e) => tracing::error!(error = ?e, key_id = key, "auto-revocation check failed"),
            }
        }
    }
}

/// Write one batch (records and, unless the store defers them, rollups) in
/// one transaction. Public for the benchmarks and tests; the server goes
/// through [`run_writer`].
pub async fn write_batch(store: &Store, batch: &[UsageRecord]) -> crate::store::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    store.write_usage_batch(batch, &store.usage_strategy().batch_increments(batch)).await
}

/// What the writer stores for one batch, at once: [`write_batch`], then
/// the batch's per-key auto-revocation buckets where the store keeps them
/// (which the writer gathers over a few seconds instead). For tests and
/// benchmarks.
pub async fn write_batch_with_counts(store: &Store, batch: &[UsageRecord]) -> crate::store::Result<()> {
    write_batch(store, batch).await?;
    let mut buckets = autorevoke::KeyBuckets::new(store.usage_strategy());
    buckets.add(batch);
    if !buckets.is_empty() {
        store.add_usage_key_buckets(&buckets.rows()).await?;
    }
    Ok(())
}
