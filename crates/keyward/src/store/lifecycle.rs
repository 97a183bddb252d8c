//! The key lifecycle (SPEC §12): rolling a key to a successor, each key's
//! requests of the last 24 hours, and the once-per-key announcement of keys
//! about to expire.
use super::audit::{insert_audit, AuditEvent};
use super::keys::{counts_as_active, insert_key_under_limit, key_on, Revoker, MAX_ACTIVE_KEYS};
use super::sql::{lock_workspace, on_key};
use super::{corrupt, now_ms, Result, Store, StoreError};
use crate::webhooks::EventType;
use keyward_core::api::{KeyObject, Timestamp};
use keyward_core::ids::{KeyId, WorkspaceId};
use keyward_core::validate::KeyName;
use keyward_core::{ids, key, HashedKey};
use serde_json::json;
use sqlx::Row;
use std::collections::HashMap;

const HOUR_MS: i64 = 3_600_000;
/// Hour buckets in `requests_24h`: the current one and the 23 before it,
/// the window `api-usage` calls `last_24h`.
const DAY_HOURS: i64 = 24;
/// Longest grace period of a roll (7 days).
pub const MAX_GRACE_SECS: i64 = 604_800;
/// How far ahead [`Store::announce_expiring_keys`] looks (7 days).
pub const EXPIRING_WITHIN_MS: i64 = 7 * 24 * HOUR_MS;

/// A roll's outcome: the old key (now expiring after the grace period and
/// naming its successor) and the successor.
#[derive(Debug, Clone)]
pub struct RolledKey {
    pub old: KeyObject,
    pub new: KeyObject,
}

/// A key that [`Store::announce_expiring_keys`] announced.
#[derive(Debug, Clone)]
pub struct ExpiringKey {
    pub workspace_id: String,
    pub key_id: String,
    pub name: String,
    pub expires_at: i64,
}

/// The successor's name: the old one (without an earlier roll's suffix)
/// plus ` (rolled YYYY-MM-DD)`, cut to fit the 100-character limit.
pub fn rolled_name(old: &str, now_ms: i64) -> String {
    let base = match old.rfind(" (rolled ") {
        Some(i) if old.len() - i == " (rolled YYYY-MM-DD)".len() && old.ends_with(')') => &old[..i],
        _ => old,
    };
    let date = Timestamp(now_ms).to_string();
    let suffix = format!(" (rolled {})", date.get(..10).unwrap_or(&date));
    let keep = KeyName::MAX_CHARS - suffix.chars().count();
    let base: String = base.chars().take(keep).collect();
    format!("{}{suffix}", base.trim_end())
}

impl Store {
    /// Set each key's `requests_24h` from the per-key hourly rollups (work
    /// proportional to the workspace's rollup rows of 24 hours, never a
    /// scan of the records); `key_id` narrows the read to one key.
    pub(super) async fn fill_requests_24h(
        &self,
        workspace_id: &WorkspaceId,
        key_id: Option<&str>,
        keys: &mut [KeyObject],
    ) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        // On SQLite the rollups lag the log by a few seconds: catch up first.
        self.flush_rollups().await?;
        let now = now_ms();
        let first = now - now.rem_euclid(HOUR_MS) - (DAY_HOURS - 1) * HOUR_MS;
        let filter = if key_id.is_some() { "AND key_id = $3" } else { "" };
        let sql = format!(
            "SELECT key_id, CAST(SUM(requests) AS BIGINT) AS n FROM usage_hourly \
             WHERE workspace_id = $1 AND hour_start >= $2 {filter} GROUP BY key_id"
        );
        let mut q = sqlx::query(&sql).bind(workspace_id.as_str()).bind(first);
        if let Some(k) = key_id {
            q = q.bind(k);
        }
        let counts: HashMap<String, i64> = q
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("key_id")?, r.try_get("n")?)))
            .collect::<Result<_>>()?;
        for k in keys {
            k.requests_24h = counts.get(&k.id).map_or(Ok(0), |n| super::stored("requests_24h", *n))?;
        }
        Ok(())
    }

    /// Roll a key (SPEC §12), all in one transaction: store the successor
    /// (`hash`/`last4` of its new secret) with the old key's scopes,
    /// allowlist and expiry (the remaining lifetime, never extended), set
    /// the old key to expire at `min(now + grace, its expiry)` and name its
    /// successor in `rolled_to`, and audit `key.created` + `key.rolled`.
    /// The successor's creator is the admin who rolled (`by`); a roll by
    /// support or keyward keeps the old key's creator.
    ///
    /// A revoked, expired or already rolled key is `KeyNotActive`; another
    /// workspace's key is `NotFound`.
    pub async fn roll_key(
        &self,
        workspace_id: &WorkspaceId,
        key_id: &KeyId,
        grace_secs: i64,
        hash: &HashedKey,
        last4: &str,
        by: Revoker<'_>,
    ) -> Result<RolledKey> {
        let actor = by.actor();
        let creator = match by {
            Revoker::User { id, .. } => Some(id),
            Revoker::Support | Revoker::System => None,
        };
        let now = now_ms();
        let new_id = KeyId::generate();
        let mut tx = self.pool().begin().await?;
        // Lock first, as `create_key` does: SQLite takes the write lock,
        // PostgreSQL the workspace row, so two rolls (or a roll and a
        // revocation on another node) cannot both pass the checks below.
        lock_workspace(&mut tx, workspace_id).await?;
        let old = sqlx::query(
            "SELECT name, revoked_at, expires_at, rolled_to, scopes, allowed_cidrs, created_by FROM api_keys \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace_id.as_str())
        .bind(key_id.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let name: String = old.try_get("name")?;
        let expires_at: Option<i64> = old.try_get("expires_at")?;
        if let Some(at) = old.try_get::<Option<i64>, _>("revoked_at")? {
            return Err(StoreError::KeyNotActive(format!(
                "this key was revoked at {}; a revoked key cannot be rolled: generate a new one",
                Timestamp(at)
            )));
        }
        if let Some(at) = expires_at.filter(|at| *at <= now) {
            return Err(StoreError::KeyNotActive(format!(
                "this key expired at {}; an expired key cannot be rolled: generate a new one",
                Timestamp(at)
            )));
        }
        if let Some(to) = old.try_get::<Option<String>, _>("rolled_to")? {
            return Err(StoreError::KeyNotActive(format!("this key was already rolled to {to}; roll {to} instead")));
        }
        let old_expires = (now + grace_secs.clamp(0, MAX_GRACE_SECS) * 1000).min(expires_at.unwrap_or(i64::MAX));
        let q = sqlx::query("UPDATE api_keys SET expires_at = $1, rolled_to = $2 WHERE workspace_id = $3 AND id = $4");
        on_key(&mut tx, q.bind(old_expires).bind(new_id.as_str()), workspace_id, key_id).await?;
        // The old key no longer counts against the limit (it is on its
        // way out), so a workspace at the limit can still roll.
        let new_name = rolled_name(&name, now);
        let sql = format!(
            "INSERT INTO api_keys (id, workspace_id, name, last4, key_hash, created_at, created_by, allowed_cidrs, \
                                   expires_at, scopes) \
             SELECT $1, $2, $3, $4, $5, $6, COALESCE($9, created_by), allowed_cidrs, $10, scopes FROM api_keys \
             WHERE workspace_id = $2 AND id = $7 \
             AND (SELECT COUNT(*) FROM api_keys WHERE workspace_id = $2 AND {}) < $8",
            counts_as_active("$6")
        );
        let insert = sqlx::query(&sql)
            .bind(new_id.as_str())
            .bind(workspace_id.as_str())
            .bind(&new_name)
            .bind(last4)
            .bind(hash.as_bytes().to_vec())
            .bind(now)
            .bind(key_id.as_str())
            .bind(MAX_ACTIVE_KEYS)
            .bind(creator)
            .bind(expires_at);
        let created = AuditEvent {
            workspace_id,
            action: "key.created",
            actor,
            key_id: Some(&new_id),
            details: json!({ "name": new_name, "last4": last4, "rolled_from": key_id }),
        };
        let full = "this workspace already has 100 active keys; revoke one before rolling another";
        insert_key_under_limit(&mut tx, insert, full, &created).await?;
        insert_audit(
            &mut *tx,
            &AuditEvent {
                workspace_id,
                action: "key.rolled",
                actor,
                key_id: Some(key_id),
                details: json!({
                    "rolled_to": new_id,
                    "grace_period_secs": grace_secs,
                    "old_expires_at": Timestamp(old_expires),
                    "successor_expires_at": expires_at.map(Timestamp),
                }),
            },
        )
        .await?;
        // The old key's REST hooks move to the successor, so Zaps keep
        // receiving after the grace period; the events go out with the roll.
        super::hooks::move_key_hooks(&mut tx, workspace_id, key_id, &new_id).await?;
        let old_object = key_on(&mut tx, workspace_id, key_id).await?;
        let new_object = key_on(&mut tx, workspace_id, &new_id).await?;
        let new_data = serde_json::to_value(&new_object).map_err(corrupt)?;
        let old_data = serde_json::to_value(&old_object).map_err(corrupt)?;
        let mut wake = super::enqueue_event(&mut tx, workspace_id, EventType::KeyCreated, &new_data).await?;
        wake |= super::enqueue_event(&mut tx, workspace_id, EventType::KeyRolled, &old_data).await?;
        tx.commit().await?;
        self.changes.bump();
        if wake {
            self.wake_webhooks();
        }
        Ok(RolledKey { old: old_object, new: new_object })
    }

    /// Claim every key, in every workspace, that expires within
    /// [`EXPIRING_WITHIN_MS`] of `now` and was not announced yet (active,
    /// not rolled: a rolled key's expiry is the admin's own doing), mark it
    /// announced and leave a `key.expiring` notification (the page's
    /// banner) for its workspace, in one transaction: each key is announced
    /// once, also with several nodes checking at once.
    pub async fn announce_expiring_keys(&self, now: i64) -> Result<Vec<ExpiringKey>> {
        let mut tx = self.pool().begin().await?;
        let rows = sqlx::query(
            "UPDATE api_keys SET expiry_announced_at = $1 \
             WHERE expiry_announced_at IS NULL AND revoked_at IS NULL AND rolled_to IS NULL \
             AND expires_at IS NOT NULL AND expires_at > $1 AND expires_at <= $2 \
             RETURNING id, workspace_id, name, last4, expires_at",
        )
        .bind(now)
        .bind(now + EXPIRING_WITHIN_MS)
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut wake = false;
        for r in rows {
            let k = ExpiringKey {
                workspace_id: r.try_get("workspace_id")?,
                key_id: r.try_get("id")?,
                name: r.try_get("name")?,
                expires_at: r.try_get("expires_at")?,
            };
            let last4: String = r.try_get("last4")?;
            let message = format!(
                "The API key “{}” ({}) expires at {}. Roll it (Rotate) before then to keep integrations working.",
                k.name,
                key::mask(&last4),
                Timestamp(k.expires_at)
            );
            sqlx::query(
                "INSERT INTO notifications (id, workspace_id, at, kind, key_id, message) \
                 VALUES ($1, $2, $3, 'key.expiring', $4, $5)",
            )
            .bind(ids::new_id("ntf"))
            .bind(&k.workspace_id)
            .bind(now)
            .bind(&k.key_id)
            .bind(&message)
            .execute(&mut *tx)
            .await?;
            let ws = WorkspaceId::new(k.workspace_id.as_str());
            let data =
                serde_json::to_value(key_on(&mut tx, &ws, &KeyId::new(k.key_id.as_str())).await?).map_err(corrupt)?;
            wake |= super::enqueue_event(&mut tx, &ws, EventType::KeyExpiring, &data).await?;
            out.push(k);
        }
        tx.commit().await?;
        if wake {
            self.wake_webhooks();
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rolled_name_carries_the_date_once_and_fits_100_characters() {
        let now = 1_764_633_600_000; // 2025-12-02
        assert_eq!(rolled_name("Zapier", now), "Zapier (rolled 2025-12-02)");
        assert_eq!(rolled_name("Zapier (rolled 2025-11-01)", now), "Zapier (rolled 2025-12-02)");
        let long = rolled_name(&"é".repeat(100), now);
        assert_eq!(long.chars().count(), 100);
        assert!(long.ends_with(" (rolled 2025-12-02)"));
        assert!(KeyName::parse(&long).is_ok());
    }
}
