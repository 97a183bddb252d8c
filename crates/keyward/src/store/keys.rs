//! API keys: creation (hash only), listing, revocation, allowlists, and the
//! by-hash lookup that authenticates `/v1`.
use super::audit::{insert_audit, AuditEvent};
use super::sql::{lock_workspace, on_key, AnyQuery};
use super::{corrupt, now_ms, Result, Store, StoreError};
use crate::webhooks::EventType;
use keyward_core::api::{CreatedBy, KeyObject, KeyStatus, Timestamp};
use keyward_core::ids::{KeyId, WorkspaceId};
use keyward_core::{key, HashedKey, Plan, RevokeReason, Scopes};
use serde_json::json;
use sqlx::Row;
use std::sync::Arc;

/// At most this many active keys per workspace.
pub const MAX_ACTIVE_KEYS: i64 = 100;

/// What `/v1` authentication needs to know about a key and its workspace,
/// loaded in one indexed read by hash. Boxed strings, not `String`s: the
/// key cache holds one of these per key (100k and more), and the smaller
/// struct keeps a cache entry in a smaller allocation size class.
#[derive(Debug, Clone)]
pub struct AuthKey {
    /// Shared cheaply with the usage log and the last-used tracker.
    pub id: Arc<str>,
    pub name: Box<str>,
    pub last4: Box<str>,
    pub created_at: i64,
    pub workspace_id: Arc<str>,
    pub workspace_name: Arc<str>,
    pub plan: Plan,
    pub rpm_override: Option<u32>,
    pub revoked_at: Option<i64>,
    pub revoke_reason: Option<RevokeReason>,
    /// Canonical CIDR strings; empty = any source.
    pub allowed_cidrs: Box<[String]>,
    /// Unix ms from which the key answers 401 `api_key_expired`;
    /// `i64::MAX` when it never expires (a plain `i64` keeps the cache entry
    /// in its allocation size class, and the check is one comparison).
    pub expires_at: i64,
    /// What the key may do (a stored list that does not parse: nothing).
    pub scopes: Scopes,
}

impl AuthKey {
    /// When the key expires, if it does.
    pub fn expiry(&self) -> Option<i64> {
        (self.expires_at != i64::MAX).then_some(self.expires_at)
    }
}

/// Lifecycle terms of a new key (SPEC §12).
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyTerms {
    /// How long after its creation the key expires (ms); `None`: never.
    pub expires_in_ms: Option<i64>,
    /// `None`: full access (every scope, including any added later).
    pub scopes: Option<Scopes>,
}

/// Who revokes, for `revoked_by` and the audit log.
#[derive(Debug, Clone, Copy)]
pub enum Revoker<'a> {
    /// A signed-in admin (id, email).
    User { id: &'a str, email: &'a str },
    /// The operator CLI.
    Support,
    /// keyward itself (auto-revocation, leak reports).
    System,
}

impl Revoker<'_> {
    pub(super) fn id(&self) -> &str {
        match self {
            Revoker::User { id, .. } => id,
            Revoker::Support => "support",
            Revoker::System => "system",
        }
    }

    pub(super) fn actor(&self) -> &str {
        match self {
            Revoker::User { email, .. } => email,
            Revoker::Support => "support",
            Revoker::System => "system",
        }
    }
}

const KEY_COLUMNS: &str = "k.id, k.workspace_id, k.name, k.last4, k.created_at, k.created_by, \
     u.email AS created_by_email, \
     (SELECT COUNT(*) FROM memberships m WHERE m.workspace_id = k.workspace_id AND m.user_id = k.created_by) AS is_member, \
     k.last_used_at, k.last_used_ip, k.revoked_at, k.revoke_reason, k.allowed_cidrs, \
     k.expires_at, k.scopes, k.rolled_to";

/// Which keys count against [`MAX_ACTIVE_KEYS`] (`$now` is the given
/// placeholder): not revoked, not expired, not on their way out after a roll.
pub(super) fn counts_as_active(now: &str) -> String {
    format!("revoked_at IS NULL AND rolled_to IS NULL AND (expires_at IS NULL OR expires_at > {now})")
}

/// Run `insert`, an INSERT of one key guarded by the count of
/// [`counts_as_active`] keys, and record the new key's `key.created` event;
/// `LimitReached(full)` when it inserted nothing: the workspace already has
/// [`MAX_ACTIVE_KEYS`] active keys.
pub(super) async fn insert_key_under_limit(
    tx: &mut sqlx::AnyConnection,
    insert: AnyQuery<'_>,
    full: &'static str,
    created: &AuditEvent<'_>,
) -> Result<()> {
    if insert.execute(&mut *tx).await?.rows_affected() == 0 {
        return Err(StoreError::LimitReached(full));
    }
    insert_audit(&mut *tx, created).await
}

/// A stored scope list: NULL is full access; one that does not parse
/// (edited by hand) grants nothing.
pub(super) fn stored_scopes(s: Option<&str>) -> Scopes {
    match s {
        None => Scopes::ALL,
        Some(s) => Scopes::from_stored(s).unwrap_or(Scopes::NONE),
    }
}

fn split_cidrs(s: &str) -> Vec<String> {
    s.split(',').filter(|c| !c.is_empty()).map(str::to_string).collect()
}

/// A stored `revoke_reason`; an unknown one is a corrupt row.
fn reason_from_row(r: &sqlx::any::AnyRow) -> Result<Option<RevokeReason>> {
    r.try_get::<Option<String>, _>("revoke_reason")?.map(|s| s.parse().map_err(corrupt)).transpose()
}

pub(super) fn key_from_row(r: &sqlx::any::AnyRow) -> Result<KeyObject> {
    let last4: String = r.try_get("last4")?;
    let revoked_at: Option<i64> = r.try_get("revoked_at")?;
    let expires_at: Option<i64> = r.try_get("expires_at")?;
    let scopes: Option<String> = r.try_get("scopes")?;
    let is_member: i64 = r.try_get("is_member")?;
    let cidrs: String = r.try_get("allowed_cidrs")?;
    Ok(KeyObject {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        masked: key::mask(&last4),
        last4,
        status: match (revoked_at, expires_at) {
            (Some(_), _) => KeyStatus::Revoked,
            (None, Some(e)) if e <= now_ms() => KeyStatus::Expired,
            _ => KeyStatus::Active,
        },
        created_at: Timestamp(r.try_get("created_at")?),
        created_by: CreatedBy {
            id: r.try_get("created_by")?,
            email: r.try_get("created_by_email")?,
            is_member: is_member > 0,
        },
        last_used_at: r.try_get::<Option<i64>, _>("last_used_at")?.map(Timestamp),
        last_used_ip: r.try_get("last_used_ip")?,
        revoked_at: revoked_at.map(Timestamp),
        revoke_reason: reason_from_row(r)?,
        allowed_cidrs: split_cidrs(&cidrs),
        expires_at: expires_at.map(Timestamp),
        scopes: stored_scopes(scopes.as_deref()),
        rolled_to: r.try_get("rolled_to")?,
        requests_24h: 0,
    })
}

impl Store {
    /// Store a new key (its hash only) and its `key.created` audit event in
    /// one transaction. Fails with `LimitReached` past [`MAX_ACTIVE_KEYS`].
    /// `KeyTerms::default()`: full access, never expires.
    pub async fn create_key(
        &self,
        workspace_id: &WorkspaceId,
        name: &str,
        hash: &HashedKey,
        last4: &str,
        created_by: (&str, &str),
        terms: KeyTerms,
    ) -> Result<KeyObject> {
        let id = KeyId::generate();
        let now = now_ms();
        let expires_at = terms.expires_in_ms.map(|ms| now.saturating_add(ms));
        let mut tx = self.pool().begin().await?;
        // Write first (SQLite takes the write lock at once; PostgreSQL locks
        // the workspace row, which READ COMMITTED needs so that two nodes
        // creating keys at once cannot both count 99) and check the limit in
        // the same statement, so two concurrent creations cannot both slip under it.
        lock_workspace(&mut tx, workspace_id).await?;
        let sql = format!(
            "INSERT INTO api_keys (id, workspace_id, name, last4, key_hash, created_at, created_by, allowed_cidrs, \
                                   expires_at, scopes) \
             SELECT $1, $2, $3, $4, $5, $6, $7, '', $9, $10 \
             WHERE (SELECT COUNT(*) FROM api_keys WHERE workspace_id = $2 AND {}) < $8",
            counts_as_active("$6")
        );
        let insert = sqlx::query(&sql)
            .bind(id.as_str())
            .bind(workspace_id.as_str())
            .bind(name)
            .bind(last4)
            .bind(hash.as_bytes().to_vec())
            .bind(now)
            .bind(created_by.0)
            .bind(MAX_ACTIVE_KEYS)
            .bind(expires_at)
            .bind(terms.scopes.map(Scopes::to_stored));
        let created = AuditEvent {
            workspace_id,
            action: "key.created",
            actor: created_by.1,
            key_id: Some(&id),
            details: json!({
                "name": name,
                "last4": last4,
                "expires_at": expires_at.map(Timestamp),
                "scopes": terms.scopes.unwrap_or(Scopes::ALL),
            }),
        };
        let full = "this workspace already has 100 active keys; revoke one before generating another";
        insert_key_under_limit(&mut tx, insert, full, &created).await?;
        let object = key_on(&mut tx, workspace_id, &id).await?;
        let data = serde_json::to_value(&object).map_err(corrupt)?;
        let wake = super::enqueue_event(&mut tx, workspace_id, EventType::KeyCreated, &data).await?;
        tx.commit().await?;
        self.changes.bump();
        if wake {
            self.wake_webhooks();
        }
        Ok(object)
    }

    /// All keys of a workspace, newest first.
    pub async fn list_keys(&self, workspace_id: &WorkspaceId) -> Result<Vec<KeyObject>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k JOIN users u ON u.id = k.created_by \
             WHERE k.workspace_id = $1 ORDER BY k.id DESC"
        );
        let rows = sqlx::query(&sql).bind(workspace_id.as_str()).fetch_all(self.pool()).await?;
        let mut keys = rows.iter().map(key_from_row).collect::<Result<Vec<_>>>()?;
        self.fill_requests_24h(workspace_id, None, &mut keys).await?;
        Ok(keys)
    }

    /// One key of a workspace; another workspace's key is `NotFound`. Ids
    /// are typed, so the arguments cannot be swapped:
    ///
    /// ```compile_fail
    /// # use keyward_core::{KeyId, WorkspaceId};
    /// async fn f(store: &keyward::store::Store, ws: &WorkspaceId, key: &KeyId) {
    ///     let _ = store.key(key, ws).await;
    /// }
    /// ```
    /// ```
    /// # use keyward_core::{KeyId, WorkspaceId};
    /// async fn f(store: &keyward::store::Store, ws: &WorkspaceId, key: &KeyId) {
    ///     let _ = store.key(ws, key).await;
    /// }
    /// ```
    pub async fn key(&self, workspace_id: &WorkspaceId, key_id: &KeyId) -> Result<KeyObject> {
        let mut conn = self.pool().acquire().await?;
        let mut keys = [key_on(&mut conn, workspace_id, key_id).await?];
        drop(conn);
        self.fill_requests_24h(workspace_id, Some(key_id), &mut keys).await?;
        let [key] = keys;
        Ok(key)
    }

    /// The workspace a key belongs to (for the operator CLI, which works
    /// across workspaces by key id).
    pub async fn key_workspace(&self, key_id: &KeyId) -> Result<WorkspaceId> {
        Ok(sqlx::query("SELECT workspace_id FROM api_keys WHERE id = $1")
            .bind(key_id.as_str())
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound)?
            .try_get::<String, _>("workspace_id")
            .map(WorkspaceId::new)?)
    }

    /// Revoke a key. Returns `true` when this call revoked it, `false` when it
    /// already was (nothing changes then). The audit event (its action
    /// follows from `reason`: [`RevokeReason::audit_action`]) is written in
    /// the same transaction, and the change counter is bumped before
    /// returning so the next request anywhere on this store sees the
    /// revocation.
    pub async fn revoke_key(
        &self,
        workspace_id: &WorkspaceId,
        key_id: &KeyId,
        by: Revoker<'_>,
        reason: RevokeReason,
        details: serde_json::Value,
    ) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        let q = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1, revoked_by = $2, revoke_reason = $3 \
             WHERE workspace_id = $4 AND id = $5 AND revoked_at IS NULL",
        );
        let n = on_key(&mut tx, q.bind(now_ms()).bind(by.id()).bind(reason.as_str()), workspace_id, key_id).await?;
        if n == 0 {
            drop(tx);
            // Already revoked (fine) or not this workspace's key (404).
            self.key(workspace_id, key_id).await?;
            return Ok(false);
        }
        let action = reason.audit_action();
        let mut details = details;
        if let Some(obj) = details.as_object_mut() {
            obj.insert("reason".into(), json!(reason));
            obj.insert("revoked_by".into(), json!(by.actor()));
        }
        insert_audit(&mut *tx, &AuditEvent { workspace_id, action, actor: by.actor(), key_id: Some(key_id), details })
            .await?;
        // Its REST hooks stop (whatever the reason), and the key events go
        // out, all in this transaction.
        super::hooks::disable_key_hooks(&mut tx, workspace_id, key_id).await?;
        let data = serde_json::to_value(key_on(&mut tx, workspace_id, key_id).await?).map_err(corrupt)?;
        let mut wake = super::enqueue_event(&mut tx, workspace_id, EventType::KeyRevoked, &data).await?;
        if reason == RevokeReason::Leaked {
            wake |= super::enqueue_event(&mut tx, workspace_id, EventType::KeyLeaked, &data).await?;
        }
        tx.commit().await?;
        self.changes.bump();
        if wake {
            self.wake_webhooks();
        }
        Ok(true)
    }

    /// Replace a key's allowlist (canonical CIDRs) and audit the change.
    pub async fn set_allowed_cidrs(
        &self,
        workspace_id: &WorkspaceId,
        key_id: &KeyId,
        cidrs: &[String],
        actor: &str,
    ) -> Result<KeyObject> {
        let before = self.key(workspace_id, key_id).await?;
        let mut tx = self.pool().begin().await?;
        let q = sqlx::query("UPDATE api_keys SET allowed_cidrs = $1 WHERE workspace_id = $2 AND id = $3");
        let n = on_key(&mut tx, q.bind(cidrs.join(",")), workspace_id, key_id).await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        insert_audit(
            &mut *tx,
            &AuditEvent {
                workspace_id,
                action: "key.allowed_ips_changed",
                actor,
                key_id: Some(key_id),
                details: json!({ "before": before.allowed_cidrs, "after": cidrs }),
            },
        )
        .await?;
        tx.commit().await?;
        self.changes.bump();
        self.key(workspace_id, key_id).await
    }

    /// The `/v1` lookup: one indexed read by hash, with the workspace's plan.
    pub async fn auth_key(&self, hash: &HashedKey) -> Result<Option<AuthKey>> {
        let row = sqlx::query(
            "SELECT k.id, k.name, k.last4, k.created_at, k.revoked_at, k.revoke_reason, k.allowed_cidrs, \
                    k.expires_at, k.scopes, w.id AS workspace_id, w.name AS workspace_name, w.plan, w.rpm_override \
             FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id WHERE k.key_hash = $1",
        )
        .bind(hash.as_bytes().to_vec())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            let plan: String = r.try_get("plan")?;
            let cidrs: String = r.try_get("allowed_cidrs")?;
            Ok(AuthKey {
                id: Arc::from(r.try_get::<String, _>("id")?),
                name: r.try_get::<String, _>("name")?.into_boxed_str(),
                last4: r.try_get::<String, _>("last4")?.into_boxed_str(),
                created_at: r.try_get("created_at")?,
                workspace_id: Arc::from(r.try_get::<String, _>("workspace_id")?),
                workspace_name: Arc::from(r.try_get::<String, _>("workspace_name")?),
                plan: plan.parse().map_err(corrupt)?,
                rpm_override: r
                    .try_get::<Option<i64>, _>("rpm_override")?
                    .map(|v| super::stored("rpm_override", v))
                    .transpose()?,
                revoked_at: r.try_get("revoked_at")?,
                revoke_reason: reason_from_row(&r)?,
                allowed_cidrs: split_cidrs(&cidrs).into_boxed_slice(),
                expires_at: r.try_get::<Option<i64>, _>("expires_at")?.unwrap_or(i64::MAX),
                scopes: stored_scopes(r.try_get::<Option<String>, _>("scopes")?.as_deref()),
            })
        })
        .transpose()
    }

    /// Write coalesced `last_used_at` / `last_used_ip` values; never moves
    /// them backwards (several nodes may flush out of order).
    pub async fn record_last_used(&self, entries: &[(String, i64, String)]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        // One multi-row UPDATE per chunk (a few fixed sizes, so each is
        // prepared once): 100k busy keys are ~1.7k rows a second, and one
        // statement per row cost a round trip to SQLite's worker thread each.
        // Each statement is its own short transaction: the usage writer
        // shares SQLite's single write lock.
        for (a, b) in super::sql::chunks(entries.len()) {
            let mut sql =
                String::from("UPDATE api_keys SET last_used_at = v.column2, last_used_ip = v.column3 FROM (VALUES ");
            super::sql::push_rows(&mut sql, self.backend(), 3, b - a);
            sql.push_str(
                ") AS v WHERE api_keys.id = v.column1 \
                 AND (api_keys.last_used_at IS NULL OR api_keys.last_used_at < v.column2)",
            );
            let mut q = sqlx::query(&sql);
            for (key_id, at, ip) in &entries[a..b] {
                q = q.bind(key_id.as_str()).bind(*at).bind(ip.as_str());
            }
            q.execute(self.pool()).await?;
        }
        Ok(())
    }
}

/// One key of a workspace, read on `conn` (inside a transaction).
pub(super) async fn key_on(
    conn: &mut sqlx::AnyConnection,
    workspace_id: &WorkspaceId,
    key_id: &KeyId,
) -> Result<KeyObject> {
    let sql = format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k JOIN users u ON u.id = k.created_by \
         WHERE k.workspace_id = $1 AND k.id = $2"
    );
    let row = sqlx::query(&sql)
        .bind(workspace_id.as_str())
        .bind(key_id.as_str())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    key_from_row(&row)
}
