//! What auto-revocation counts (SPEC §6): a key's answers in the window,
//! classified by `usage::autorevoke::classify`, the rule's one definition.
//! No SQL here repeats the rule: the per-key buckets are classified in Rust
//! before they are written, and the by-code read of the records groups by
//! (status, code) and classifies the groups.
use super::legacy::LEGACY_ANSWERS_SQL;
use crate::store::sql::{to_i64, to_u64};
use crate::store::{Result, Store};
use crate::usage::autorevoke::classify;
use crate::usage::UsageRecord;
use keyward_core::{KeyId, WorkspaceId};
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

/// Counted answers of one key in one bucket (see [`super::UsageStrategy::Deferred`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBucketCount<'a> {
    /// Unix seconds, a multiple of [`KEY_BUCKET_SECS`].
    pub bucket: i64,
    pub workspace_id: &'a str,
    pub key_id: &'a str,
    pub requests: u64,
    pub errors: u64,
}

/// Seconds per auto-revocation bucket.
pub const KEY_BUCKET_SECS: i64 = 10;

/// The bucket (unix seconds, a multiple of [`KEY_BUCKET_SECS`]) holding `at_ms`.
pub fn key_bucket(at_ms: i64) -> i64 {
    let sec = at_ms.div_euclid(1000);
    sec - sec.rem_euclid(KEY_BUCKET_SECS)
}

const KEY_BUCKETS_HEAD: &str = "usage_key_buckets (bucket, workspace_id, key_id, requests, errors)";
const KEY_BUCKETS_TAIL: &str = "ON CONFLICT (bucket, workspace_id, key_id) DO UPDATE SET \
     requests = usage_key_buckets.requests + excluded.requests, errors = usage_key_buckets.errors + excluded.errors";

/// The counted answers of a batch per key and bucket, sorted by (bucket,
/// workspace, key) (the writers' in-memory equivalent is
/// `autorevoke::KeyBuckets`).
pub(super) fn key_bucket_rows(batch: &[UsageRecord]) -> Vec<KeyBucketCount<'_>> {
    let mut rows: BTreeMap<(i64, &str, &str), (u64, u64)> = BTreeMap::new();
    for r in batch {
        let (counted, error) = classify(r.status, r.code);
        if counted {
            let row = rows.entry((key_bucket(r.at_ms), &r.workspace_id, &r.key_id)).or_default();
            *row = (row.0 + 1, row.1 + u64::from(error));
        }
    }
    rows.into_iter()
        .map(|((bucket, workspace_id, key_id), (requests, errors))| KeyBucketCount {
            bucket,
            workspace_id,
            key_id,
            requests,
            errors,
        })
        .collect()
}

/// A key's answers since some time, grouped by (status, code).
const ANSWERS_SQL: &str = "SELECT CAST(l.status AS BIGINT) AS status, c.code, CAST(COUNT(*) AS BIGINT) AS n \
     FROM usage_log l LEFT JOIN usage_codes c ON c.n = l.code \
     WHERE l.ws = (SELECT n FROM usage_names WHERE name = $1) AND l.key = (SELECT n FROM usage_names WHERE name = $2) \
     AND l.at >= $3 GROUP BY l.status, c.code";

impl Store {
    /// Add counted answers to the per-key buckets, in one transaction;
    /// `rows` sorted by (bucket, workspace, key).
    pub async fn add_usage_key_buckets(&self, rows: &[KeyBucketCount<'_>]) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        self.insert_key_buckets(&mut tx, rows).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn insert_key_buckets(&self, conn: &mut AnyConnection, rows: &[KeyBucketCount<'_>]) -> Result<()> {
        self.insert_rows(conn, KEY_BUCKETS_HEAD, 5, KEY_BUCKETS_TAIL, rows, |q, r| {
            q.bind(r.bucket).bind(r.workspace_id).bind(r.key_id).bind(to_i64(r.requests)).bind(to_i64(r.errors))
        })
        .await
    }

    /// Forget per-key buckets that start before `bucket` (unix seconds).
    pub async fn delete_usage_key_buckets_before(&self, bucket: i64) -> Result<u64> {
        self.delete_below("DELETE FROM usage_key_buckets WHERE bucket < $1", bucket).await
    }

    /// A key's auto-revocation counts since `since_ms` (up to `now_ms`):
    /// `(errors, requests)` as `usage::autorevoke::classify` defines them.
    ///
    /// The key's buckets from the one holding `since_ms` on (up to a minute
    /// past `now_ms`, for clocks a little ahead), one primary-key lookup
    /// each; so the window reaches back up to [`KEY_BUCKET_SECS`] - 1
    /// seconds further.
    pub async fn usage_key_window(
        &self,
        workspace_id: &WorkspaceId,
        key_id: &KeyId,
        since_ms: i64,
        now_ms: i64,
    ) -> Result<(u64, u64)> {
        let row = sqlx::query(
            "WITH RECURSIVE b(bucket) AS (SELECT $3 UNION ALL SELECT bucket + $5 FROM b WHERE bucket + $5 <= $4) \
             SELECT CAST(COALESCE(SUM(k.errors), 0) AS BIGINT) AS e, CAST(COALESCE(SUM(k.requests), 0) AS BIGINT) AS n \
             FROM b JOIN usage_key_buckets k ON k.bucket = b.bucket AND k.workspace_id = $1 AND k.key_id = $2",
        )
        .bind(workspace_id.as_str())
        .bind(key_id.as_str())
        .bind(key_bucket(since_ms))
        .bind(key_bucket(now_ms.saturating_add(60_000)))
        .bind(KEY_BUCKET_SECS)
        .fetch_one(self.pool())
        .await?;
        Ok((to_u64(row.try_get("e")?), to_u64(row.try_get("n")?)))
    }

    /// A key's answers since `since_ms` by (status, code).
    async fn key_answers(&self, workspace_id: &str, key_id: &str, since_ms: i64) -> Result<Vec<AnswerCount>> {
        let mut out = self.answers_of(ANSWERS_SQL, workspace_id, key_id, since_ms).await?;
        if self.usage_dict().legacy_left() {
            out.extend(self.answers_of(LEGACY_ANSWERS_SQL, workspace_id, key_id, since_ms).await?);
        }
        Ok(out)
    }

    async fn answers_of(&self, sql: &str, workspace_id: &str, key_id: &str, since: i64) -> Result<Vec<AnswerCount>> {
        sqlx::query(sql)
            .bind(workspace_id)
            .bind(key_id)
            .bind(since)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                let status = u16::try_from(r.try_get::<i64, _>("status")?).unwrap_or(0);
                Ok((status, r.try_get("code")?, to_u64(r.try_get("n")?)))
            })
            .collect()
    }

    /// A key's auto-revocation errors since `since_ms`, by problem code
    /// (the status when there is none), most frequent first.
    pub async fn usage_key_error_codes(
        &self,
        workspace_id: &WorkspaceId,
        key_id: &KeyId,
        since_ms: i64,
    ) -> Result<Vec<(String, u64)>> {
        let mut out: Vec<(String, u64)> = self
            .key_answers(workspace_id, key_id, since_ms)
            .await?
            .into_iter()
            .filter(|(status, code, _)| classify(*status, code.as_deref()).1)
            .map(|(status, code, n)| (code.unwrap_or_else(|| status.to_string()), n))
            .fold(std::collections::BTreeMap::new(), |mut m, (code, n)| {
                *m.entry(code).or_insert(0) += n;
                m
            })
            .into_iter()
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(out)
    }
}

/// `(status, code, answers)`.
type AnswerCount = (u16, Option<String>, u64);
