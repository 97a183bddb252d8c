//! The audit log: who did what to which key, and when. Never a secret.
use super::studies::page;
use super::{now_ms, Page, Result, Store};
use keyward_core::api::{AuditEntry, Timestamp};
use keyward_core::ids;
use keyward_core::ids::WorkspaceId;
use sqlx::Row;

/// An event to append.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub workspace_id: &'a str,
    pub action: &'a str,
    /// A user's email, `support` or `system`.
    pub actor: &'a str,
    pub key_id: Option<&'a str>,
    pub details: serde_json::Value,
}

/// A page of the audit log.
pub type AuditPage = Page<AuditEntry>;

fn audit_entry_from_row(r: &sqlx::any::AnyRow) -> Result<AuditEntry> {
    let details: String = r.try_get("details")?;
    Ok(AuditEntry {
        id: r.try_get("id")?,
        at: Timestamp(r.try_get("at")?),
        action: r.try_get("action")?,
        actor: r.try_get("actor")?,
        key_id: r.try_get("key_id")?,
        details: super::stored_json("details", &details)?,
    })
}

pub(crate) async fn insert_audit<'e, E>(exec: E, ev: &AuditEvent<'_>) -> Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO audit_log (id, workspace_id, at, action, actor, key_id, details) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(ids::new_id("aud"))
    .bind(ev.workspace_id)
    .bind(now_ms())
    .bind(ev.action)
    .bind(ev.actor)
    .bind(ev.key_id)
    .bind(ev.details.to_string())
    .execute(exec)
    .await?;
    Ok(())
}

impl Store {
    /// Newest first; `before` is the id of the last entry of the previous page.
    /// Whether `id` is an entry of this workspace's audit log (a cursor check).
    pub async fn audit_entry_exists(&self, workspace_id: &WorkspaceId, id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM audit_log WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id.as_str())
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some())
    }

    pub async fn audit_log(&self, workspace_id: &WorkspaceId, limit: u32, before: Option<&str>) -> Result<AuditPage> {
        let rows = sqlx::query(
            "SELECT id, at, action, actor, key_id, details FROM audit_log \
             WHERE workspace_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
        )
        .bind(workspace_id.as_str())
        .bind(before)
        .bind(i64::from(limit) + 1)
        .fetch_all(self.pool())
        .await?;
        page(rows, limit, audit_entry_from_row)
    }
}
