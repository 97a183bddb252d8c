//! Leak reports (SPEC §11): finding reported keys by hash, many at once,
//! and where the workspace's leaked keys were found (their `key.leaked`
//! audit events). Revocation itself is [`Store::revoke_key`].
use super::{corrupt, Result, Store};
use keyward_core::api::{LeakReport, Timestamp};
use keyward_core::ids::{KeyId, WorkspaceId};
use keyward_core::{HashedKey, RevokeReason};
use sqlx::Row;
use std::collections::HashMap;

/// Hashes looked up per statement.
const LOOKUP_CHUNK: usize = 200;

/// A reported key that is one of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedKey {
    pub workspace_id: WorkspaceId,
    pub key_id: KeyId,
    pub name: String,
    pub revoked: bool,
}

impl Store {
    /// The keys among `hashes` (duplicates allowed), by hash: one indexed
    /// statement per [`LOOKUP_CHUNK`] hashes, whatever their workspaces
    /// (a leak report is not scoped to a workspace; each key found is then
    /// revoked in its own).
    pub async fn keys_by_hashes(&self, hashes: &[HashedKey]) -> Result<HashMap<HashedKey, ReportedKey>> {
        let mut unique: Vec<&HashedKey> = hashes.iter().collect();
        unique.sort_unstable_by_key(|h| h.as_bytes());
        unique.dedup();
        let mut found = HashMap::new();
        for chunk in unique.chunks(LOOKUP_CHUNK) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT key_hash, workspace_id, id, name, revoked_at FROM api_keys WHERE key_hash IN ({})",
                placeholders.join(",")
            );
            // Its length varies with the report: not cached (see `fan_out_events`).
            let mut q = sqlx::query(&sql).persistent(false);
            for h in chunk {
                q = q.bind(h.as_bytes().to_vec());
            }
            for r in q.fetch_all(self.pool()).await? {
                let hash: Vec<u8> = r.try_get("key_hash")?;
                let hash = HashedKey::from_slice(&hash).ok_or_else(|| corrupt("a key_hash is not 32 bytes"))?;
                found.insert(
                    hash,
                    ReportedKey {
                        workspace_id: WorkspaceId::new(r.try_get::<String, _>("workspace_id")?),
                        key_id: KeyId::new(r.try_get::<String, _>("id")?),
                        name: r.try_get("name")?,
                        revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
                    },
                );
            }
        }
        Ok(found)
    }

    /// Where this workspace's leaked keys were found: the newest
    /// `key.leaked` event of each key, newest first.
    pub async fn leak_reports(&self, workspace_id: &WorkspaceId) -> Result<Vec<LeakReport>> {
        let rows = sqlx::query(
            "SELECT key_id, at, details FROM audit_log \
             WHERE workspace_id = $1 AND action = $2 AND key_id IS NOT NULL ORDER BY id DESC",
        )
        .bind(workspace_id.as_str())
        .bind(RevokeReason::Leaked.audit_action())
        .fetch_all(self.pool())
        .await?;
        let mut out: Vec<LeakReport> = Vec::new();
        for r in rows {
            let key_id: String = r.try_get("key_id")?;
            if out.iter().any(|l| l.key_id == key_id) {
                continue;
            }
            let details = super::stored_json("details", &r.try_get::<String, _>("details")?)?;
            let text = |name: &str| details.get(name).and_then(|v| v.as_str()).map(str::to_string);
            out.push(LeakReport {
                key_id,
                at: Timestamp(r.try_get("at")?),
                reporter: text("reporter").unwrap_or_default(),
                source: text("source"),
                url: text("url"),
            });
        }
        Ok(out)
    }
}
