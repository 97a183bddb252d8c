//! The one owner of the SQLite/PostgreSQL difference in the usage log
//! (SPEC §6). Everything else calls [`UsageStrategy`]'s methods; nothing
//! else asks which backend it runs on.
use super::counts::KeyWindow;
use super::rollups::{aggregate, UsageIncrements};
use crate::store::{Backend, Result, Store};
use crate::usage::UsageRecord;
use keyward_core::api::RecentRequest;

/// How a backend keeps the usage log's derived tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageStrategy {
    /// SQLite: one writer at a time, pages are what costs. The hourly
    /// rollups are brought up to date in bulk from the records past a
    /// watermark ([`Store::flush_rollups`]) instead of with each batch:
    /// with many keys and workspaces the per-batch upserts dirtied a
    /// different B-tree page for nearly every record. SQLite hands out
    /// record ids in commit order (each new id the largest plus one), so
    /// "every record up to id W is rolled up" is exact whichever process
    /// wrote them, and a crash loses nothing. The log has no per-key index
    /// (each record's entry dirtied another page: a 4 KiB WAL frame per
    /// record, the largest cost of the `/v1` path); auto-revocation counts
    /// come from per-key 10-second buckets the writers add every few
    /// seconds, and a key's newest requests are read hour by hour where its
    /// rollup says it made requests.
    Deferred,
    /// PostgreSQL: ids come from a sequence and commit out of order on
    /// several nodes, so no watermark is exact: the rollups are upserted
    /// with each batch, and the `(workspace_id, key_id, at)` index serves
    /// auto-revocation counts and a key's newest requests.
    WithBatch,
}

impl UsageStrategy {
    pub fn of(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => UsageStrategy::Deferred,
            Backend::Postgres => UsageStrategy::WithBatch,
        }
    }

    /// The rollup increments written in a batch's own transaction.
    pub fn batch_increments(self, batch: &[UsageRecord]) -> UsageIncrements<'_> {
        match self {
            UsageStrategy::Deferred => UsageIncrements::default(),
            UsageStrategy::WithBatch => aggregate(batch),
        }
    }

    /// Whether the writers gather per-key auto-revocation buckets
    /// (`autorevoke::KeyBuckets`) and add them to the store.
    pub fn gathers_key_buckets(self) -> bool {
        self == UsageStrategy::Deferred
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

    /// A key's auto-revocation counts `(errors, requests)`.
    pub(super) async fn key_window(self, store: &Store, w: KeyWindow<'_>) -> Result<(u64, u64)> {
        match self {
            UsageStrategy::Deferred => store.key_window_from_buckets(w).await,
            UsageStrategy::WithBatch => store.key_window_from_records(w).await,
        }
    }

    /// Forget per-key buckets before `bucket`; how many went.
    pub(super) async fn forget_key_buckets(self, store: &Store, bucket: i64) -> Result<u64> {
        match self {
            UsageStrategy::Deferred => store.delete_key_buckets(bucket).await,
            UsageStrategy::WithBatch => Ok(0),
        }
    }

    /// A key's newest `limit` records, newest first.
    pub(super) async fn recent_of_key(
        self,
        store: &Store,
        workspace_id: &str,
        key_id: &str,
        limit: u32,
    ) -> Result<Vec<RecentRequest>> {
        match self {
            UsageStrategy::Deferred => store.usage_recent_of_key_by_hour(workspace_id, key_id, limit).await,
            UsageStrategy::WithBatch => {
                store.usage_recent_between(workspace_id, Some(key_id), (i64::MIN, i64::MAX), limit).await
            }
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

    /// Whether auto-revocation counts come from per-key buckets (SQLite;
    /// see [`UsageStrategy::Deferred`]). For tests and benchmarks.
    pub fn counts_key_buckets(&self) -> bool {
        self.usage_strategy().gathers_key_buckets()
    }
}
