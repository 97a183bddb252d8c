//! The one owner of the SQLite/PostgreSQL difference in the usage log
//! (SPEC §6). Everything else calls [`UsageStrategy`]'s methods; nothing
//! else asks which backend it runs on.
use super::counts::key_bucket_rows;
use super::rollups::{aggregate, UsageIncrements};
use crate::store::{Backend, Result, Store};
use crate::usage::UsageRecord;

/// How a backend keeps the usage log's derived tables. On both, the log
/// has one index, `(ws, at)`: auto-revocation counts come from per-key
/// 10-second buckets (`usage_key_buckets`), and a key's newest requests are
/// read hour by hour where its rollup says it made requests. A per-key
/// index would cost a page write per record on SQLite (keys interleave: a
/// 4 KiB WAL frame per record, the largest cost of the `/v1` path) and 47
/// of 124 bytes a record on PostgreSQL (half-full pages from splits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageStrategy {
    /// SQLite: one writer at a time, pages are what costs. The hourly
    /// rollups are brought up to date in bulk from the records past a
    /// watermark ([`Store::flush_rollups`]) instead of with each batch:
    /// with many keys and workspaces the per-batch upserts dirtied a
    /// different B-tree page for nearly every record. SQLite hands out
    /// record ids in commit order (each new id the largest plus one), so
    /// "every record up to id W is rolled up" is exact whichever process
    /// wrote them, and a crash loses nothing. The key buckets are gathered
    /// by each writer and added every few seconds, and before it counts.
    Deferred,
    /// PostgreSQL: ids come from a sequence and commit out of order on
    /// several nodes, so no watermark is exact: the rollups and the key
    /// buckets are upserted with each batch, in its transaction (so every
    /// node's count sees every committed answer).
    WithBatch,
}

impl UsageStrategy {
    pub fn of(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => UsageStrategy::Deferred,
            Backend::Postgres => UsageStrategy::WithBatch,
        }
    }

    /// The rollup and key bucket increments written in a batch's own
    /// transaction.
    pub fn batch_increments(self, batch: &[UsageRecord]) -> UsageIncrements<'_> {
        match self {
            UsageStrategy::Deferred => UsageIncrements::default(),
            UsageStrategy::WithBatch => UsageIncrements { key_buckets: key_bucket_rows(batch), ..aggregate(batch) },
        }
    }

    /// Whether the writers gather per-key auto-revocation buckets
    /// (`autorevoke::KeyBuckets`) and add them to the store themselves.
    pub fn gathers_key_buckets(self) -> bool {
        self == UsageStrategy::Deferred
    }

    /// What makes a transaction the only one moving old records (SQLite
    /// has one writer at a time anyway).
    pub(super) fn exclusive_sql(self) -> Option<&'static str> {
        match self {
            UsageStrategy::Deferred => None,
            UsageStrategy::WithBatch => Some("SELECT pg_advisory_xact_lock(2025025)"),
        }
    }

    /// Whether `usage_log` is partitioned by day (retention drops whole
    /// partitions; see `partitions`).
    pub fn partitions_by_day(self) -> bool {
        self == UsageStrategy::WithBatch
    }

    /// Whether the rollups lag the log until [`Store::flush_rollups`].
    pub fn defers_rollups(self) -> bool {
        self == UsageStrategy::Deferred
    }

    /// One catch-up step of the rollups: `(rows written, caught up)`.
    pub(super) async fn flush_rollups_step(self, store: &Store) -> Result<(u64, bool)> {
        match self {
            UsageStrategy::Deferred => store.roll_up_past_watermark().await,
            UsageStrategy::WithBatch => Ok((0, true)),
        }
    }
}

impl Store {
    /// Which way this store keeps the usage log's derived tables.
    pub fn usage_strategy(&self) -> UsageStrategy {
        UsageStrategy::of(self.backend())
    }

    /// Whether the hourly rollups lag the log until [`Store::flush_rollups`]
    /// (SQLite; see [`UsageStrategy::Deferred`]). For tests and benchmarks.
    pub fn defers_rollups(&self) -> bool {
        self.usage_strategy().defers_rollups()
    }

    /// Whether the writers gather the per-key buckets themselves (SQLite;
    /// see [`UsageStrategy::Deferred`]). For tests and benchmarks.
    pub fn counts_key_buckets(&self) -> bool {
        self.usage_strategy().gathers_key_buckets()
    }
}
