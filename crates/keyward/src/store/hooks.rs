//! Webhooks storage (SPEC §9): hooks, the outbox of events, and the
//! deliveries the worker claims with a lease.
//!
//! Events are written by [`enqueue_event`] inside the transaction of the
//! change they announce: nothing is announced that was not committed,
//! nothing committed goes unannounced. A workspace without hooks pays one
//! indexed `INSERT … SELECT` that inserts nothing; one with ten hooks pays
//! one event row. The worker then fans each event out to one pending
//! delivery per active hook that existed when it was written
//! ([`Store::fan_out_events`]).
//!
//! Claiming: a worker sets `lease_owner` (a fresh token per claim) and
//! `lease_until` on due rows in one statement (PostgreSQL: `FOR UPDATE SKIP
//! LOCKED`, so concurrent nodes take disjoint rows); it finishes a delivery
//! only while it still holds the lease. A node that dies mid-attempt leaves
//! a lease that expires, and another node attempts the row again.
use super::sql::{bind_some, lock_workspace, AnyQuery};
use super::studies::page;
use super::{now_ms, Backend, Page, Result, Store, StoreError};
use crate::webhooks::{EventType, DISABLE_AFTER_GIVEN_UP, MAX_HOOKS_PER_WORKSPACE};
use keyward_core::ids;
use keyward_core::ids::{KeyId, WorkspaceId};
use sqlx::Row;

/// The `LimitReached` sentence of the 101st hook (the API answers it as
/// `hook_limit_reached`).
pub const HOOK_LIMIT_MESSAGE: &str = "this workspace already has 100 webhooks; delete one before subscribing another";

/// A hook as the APIs show it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookRecord {
    pub id: String,
    pub workspace_id: String,
    /// The key that created it (`/v1` hooks); `None` for admins' key-event hooks.
    pub key_id: Option<String>,
    pub key_name: Option<String>,
    /// The admin who created a key-event hook (id, email).
    pub created_by: Option<(String, String)>,
    pub target_url: String,
    pub event: String,
    /// `active` or `disabled`.
    pub status: String,
    pub created_at: i64,
    pub last_attempt_at: Option<i64>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub failing_since: Option<i64>,
}

/// A hook to create. The id is chosen by the caller: the sealed secret is
/// bound to it.
#[derive(Debug, Clone)]
pub struct NewHook<'a> {
    pub id: &'a str,
    pub key_id: Option<&'a str>,
    pub created_by: Option<&'a str>,
    pub target_url: &'a str,
    pub event: EventType,
    pub secret_sealed: &'a str,
}

/// A delivery claimed by a worker, with what it needs to attempt it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub hook_id: String,
    pub event_id: String,
    pub workspace_id: String,
    /// Attempts made before this one.
    pub attempts: i64,
    pub lease_owner: String,
    pub target_url: String,
    pub secret_sealed: String,
    pub hook_active: bool,
    /// The creating key is still active (always true for key-event hooks).
    pub key_active: bool,
    pub plan: String,
    pub event_type: String,
    /// The event's `data`, as JSON text.
    pub payload: String,
    pub event_created_at: i64,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum DeliveryOutcome {
    /// A 2xx answer.
    Delivered { status: u16, duration_ms: i64 },
    /// Anything else; `retry_at` = when to try again, `None` = give up.
    Failed { status: Option<u16>, error: Option<String>, duration_ms: i64, retry_at: Option<i64> },
    /// 410 Gone: the hook is deleted.
    Gone { duration_ms: i64 },
    /// Not attempted (free plan, disabled hook, revoked key).
    Skipped { reason: &'static str },
}

const HOOK_COLUMNS: &str = "h.id, h.workspace_id, h.key_id, k.name AS key_name, h.created_by, \
     u.email AS created_by_email, h.target_url, h.event, h.status, h.created_at, h.last_attempt_at, \
     h.last_status_code, h.last_error, h.failing_since";
const HOOK_FROM: &str = "FROM hooks h LEFT JOIN api_keys k ON k.id = h.key_id LEFT JOIN users u ON u.id = h.created_by";

fn hook_from_row(r: &sqlx::any::AnyRow) -> Result<HookRecord> {
    let created_by: Option<String> = r.try_get("created_by")?;
    let email: Option<String> = r.try_get("created_by_email")?;
    Ok(HookRecord {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        key_id: r.try_get("key_id")?,
        key_name: r.try_get("key_name")?,
        created_by: created_by.map(|id| (id, email.unwrap_or_default())),
        target_url: r.try_get("target_url")?,
        event: r.try_get("event")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
        last_attempt_at: r.try_get("last_attempt_at")?,
        last_status_code: r.try_get("last_status_code")?,
        last_error: r.try_get("last_error")?,
        failing_since: r.try_get("failing_since")?,
    })
}

/// Write `event_type` with `data` (the resource as GET returns it; never a
/// secret) for `workspace_id`, inside the caller's transaction, when any
/// active hook listens to it. Returns whether it was written; then call
/// [`Store::wake_webhooks`] after the commit so the worker fans it out to
/// one delivery per hook and delivers at once (it also polls every second).
///
/// One row whatever the number of hooks: the per-hook delivery rows are the
/// worker's ([`Store::fan_out_events`]), off the request path.
pub(crate) async fn enqueue_event(
    conn: &mut sqlx::AnyConnection,
    workspace_id: &WorkspaceId,
    event_type: EventType,
    data: &serde_json::Value,
) -> Result<bool> {
    let n = sqlx::query(
        "INSERT INTO webhook_events (id, workspace_id, type, payload, created_at) \
         SELECT $1, $2, $3, $4, $5 WHERE EXISTS \
           (SELECT 1 FROM hooks WHERE workspace_id = $2 AND event = $3 AND status = 'active')",
    )
    .bind(ids::new_id(crate::webhooks::EVENT_PREFIX))
    .bind(workspace_id.as_str())
    .bind(event_type.as_str())
    .bind(data.to_string())
    .bind(now_ms())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Hand a rolled key's REST hooks to its successor (same transaction as
/// the roll), so their deliveries keep flowing after the old key expires.
pub(crate) async fn move_key_hooks(
    conn: &mut sqlx::AnyConnection,
    workspace_id: &WorkspaceId,
    from_key: &KeyId,
    to_key: &KeyId,
) -> Result<u64> {
    Ok(sqlx::query("UPDATE hooks SET key_id = $1 WHERE workspace_id = $2 AND key_id = $3")
        .bind(to_key.as_str())
        .bind(workspace_id.as_str())
        .bind(from_key.as_str())
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// Disable the hooks created by `key_id` (its revocation), inside the
/// caller's transaction.
pub(crate) async fn disable_key_hooks(
    conn: &mut sqlx::AnyConnection,
    workspace_id: &WorkspaceId,
    key_id: &KeyId,
) -> Result<u64> {
    let q = sqlx::query(
        "UPDATE hooks SET status = 'disabled', disabled_at = $1, disabled_reason = 'key_revoked' \
         WHERE workspace_id = $2 AND key_id = $3 AND status = 'active'",
    );
    super::sql::on_key(conn, q.bind(now_ms()), workspace_id, key_id).await
}

impl Store {
    /// Wake the delivery worker of this process (after a commit that enqueued events).
    pub fn wake_webhooks(&self) {
        self.webhooks_wake.notify_one();
    }

    /// The worker's wake-up signal.
    pub fn webhooks_wake(&self) -> &tokio::sync::Notify {
        &self.webhooks_wake
    }

    /// Create a hook; `LimitReached(HOOK_LIMIT_MESSAGE)` past [`MAX_HOOKS_PER_WORKSPACE`].
    pub async fn create_hook(&self, workspace_id: &WorkspaceId, new: &NewHook<'_>) -> Result<HookRecord> {
        let mut tx = self.pool().begin().await?;
        // Lock the workspace first, so two concurrent creations cannot both count 99.
        lock_workspace(&mut tx, workspace_id).await?;
        let n = sqlx::query(
            "INSERT INTO hooks (id, workspace_id, key_id, created_by, target_url, event, status, secret, created_at) \
             SELECT $1, $2, $3, $4, $5, $6, 'active', $7, $8 \
             WHERE (SELECT COUNT(*) FROM hooks WHERE workspace_id = $2) < $9",
        )
        .bind(new.id)
        .bind(workspace_id.as_str())
        .bind(new.key_id)
        .bind(new.created_by)
        .bind(new.target_url)
        .bind(new.event.as_str())
        .bind(new.secret_sealed)
        .bind(now_ms())
        .bind(MAX_HOOKS_PER_WORKSPACE)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::LimitReached(HOOK_LIMIT_MESSAGE));
        }
        tx.commit().await?;
        self.hook(workspace_id, new.id).await
    }

    /// One hook of a workspace; another workspace's is `NotFound`.
    pub async fn hook(&self, workspace_id: &WorkspaceId, hook_id: &str) -> Result<HookRecord> {
        let row = sqlx::query(&format!("SELECT {HOOK_COLUMNS} {HOOK_FROM} WHERE h.workspace_id = $1 AND h.id = $2"))
            .bind(workspace_id.as_str())
            .bind(hook_id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        hook_from_row(&row)
    }

    /// Every hook of a workspace (both kinds), newest first (at most 100 exist).
    pub async fn list_hooks(&self, workspace_id: &WorkspaceId) -> Result<Vec<HookRecord>> {
        let rows =
            sqlx::query(&format!("SELECT {HOOK_COLUMNS} {HOOK_FROM} WHERE h.workspace_id = $1 ORDER BY h.id DESC"))
                .bind(workspace_id.as_str())
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(hook_from_row).collect()
    }

    /// A page of the workspace's `/v1` hooks (those created with a key),
    /// newest first; `None` when `starting_after` is not one of them.
    pub async fn list_rest_hooks(
        &self,
        workspace_id: &WorkspaceId,
        limit: u32,
        starting_after: Option<&str>,
    ) -> Result<Option<Page<HookRecord>>> {
        if let Some(cursor) = starting_after {
            match self.hook(workspace_id, cursor).await {
                Ok(h) if h.key_id.is_some() => {}
                Ok(_) | Err(StoreError::NotFound) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        let base = format!("SELECT {HOOK_COLUMNS} {HOOK_FROM} WHERE h.workspace_id = $1 AND h.key_id IS NOT NULL");
        let (after, limit_at) = if starting_after.is_some() { (" AND h.id < $2", 3) } else { ("", 2) };
        let sql = format!("{base}{after} ORDER BY h.id DESC LIMIT ${limit_at}");
        let q = sqlx::query(&sql).bind(workspace_id.as_str());
        let rows = bind_some(q, starting_after).bind(i64::from(limit) + 1).fetch_all(self.pool()).await?;
        page(rows, limit, hook_from_row).map(Some)
    }

    /// Delete a hook (its pending deliveries go with it). `rest_only`: only
    /// a `/v1` hook (a key cannot delete an admin's key-event hook).
    pub async fn delete_hook(&self, workspace_id: &WorkspaceId, hook_id: &str, rest_only: bool) -> Result<()> {
        let sql = if rest_only {
            "DELETE FROM hooks WHERE workspace_id = $1 AND id = $2 AND key_id IS NOT NULL"
        } else {
            "DELETE FROM hooks WHERE workspace_id = $1 AND id = $2"
        };
        let n = sqlx::query(sql).bind(workspace_id.as_str()).bind(hook_id).execute(self.pool()).await?.rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Fan out up to `limit` events not fanned out yet: one pending delivery
    /// per active hook of the event's workspace and type that existed when
    /// the event was written. Returns how many events were fanned out.
    ///
    /// The first statement stamps the events (a write, so SQLite takes its
    /// writer lock at once; PostgreSQL's `FOR UPDATE SKIP LOCKED` hands
    /// concurrent nodes disjoint events), the second inserts their
    /// deliveries in the same transaction: a crash between the two loses
    /// nothing, and `ON CONFLICT DO NOTHING` makes a repeat harmless.
    pub async fn fan_out_events(&self, limit: i64) -> Result<u64> {
        let lock = if self.backend() == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        let ids: Vec<String> = sqlx::query_scalar(&format!(
            "UPDATE webhook_events SET fanned_out_at = $1 WHERE id IN \
               (SELECT id FROM webhook_events WHERE fanned_out_at IS NULL ORDER BY created_at LIMIT $2{lock}) \
             RETURNING id"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let list: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
        let insert = format!(
            "INSERT INTO webhook_deliveries (hook_id, event_id, workspace_id, state, attempts, next_attempt_at) \
             SELECT h.id, e.id, e.workspace_id, 'pending', 0, $1 FROM webhook_events e \
             JOIN hooks h ON h.workspace_id = e.workspace_id AND h.event = e.type \
                         AND h.status = 'active' AND h.created_at <= e.created_at \
             WHERE e.id IN ({}) ON CONFLICT DO NOTHING",
            list.join(", ")
        );
        // One statement per number of events: not kept in the connection's
        // statement cache, where up to `limit` variants would crowd out the
        // fixed statements the request path's writers reuse.
        let mut q = sqlx::query(&insert).persistent(false).bind(now);
        for id in &ids {
            q = q.bind(id);
        }
        q.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// Claim up to `limit` due deliveries for `lease_ms`.
    pub async fn claim_deliveries(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>> {
        let lock = if self.backend() == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let due = "state = 'pending' AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until < $3)";
        let n = sqlx::query(&format!(
            "UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2 \
             WHERE {due} AND (hook_id, event_id) IN \
               (SELECT hook_id, event_id FROM webhook_deliveries WHERE {due} \
                ORDER BY next_attempt_at LIMIT $4{lock})"
        ))
        .bind(owner)
        .bind(now + lease_ms)
        .bind(now)
        .bind(limit)
        .execute(self.pool())
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT d.hook_id, d.event_id, d.workspace_id, d.attempts, h.target_url, h.secret, h.status, \
                    CAST(CASE WHEN h.key_id IS NULL OR (k.revoked_at IS NULL \
                                                        AND (k.expires_at IS NULL OR k.expires_at > $2)) \
                         THEN 1 ELSE 0 END AS BIGINT) AS key_active, \
                    w.plan, e.type, e.payload, e.created_at \
             FROM webhook_deliveries d \
             JOIN hooks h ON h.id = d.hook_id \
             JOIN workspaces w ON w.id = h.workspace_id \
             JOIN webhook_events e ON e.id = d.event_id \
             LEFT JOIN api_keys k ON k.id = h.key_id \
             WHERE d.lease_owner = $1 AND d.state = 'pending' ORDER BY d.next_attempt_at",
        )
        .bind(owner)
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                let key_active: i64 = r.try_get("key_active")?;
                Ok(ClaimedDelivery {
                    hook_id: r.try_get("hook_id")?,
                    event_id: r.try_get("event_id")?,
                    workspace_id: r.try_get("workspace_id")?,
                    attempts: r.try_get("attempts")?,
                    lease_owner: owner.to_string(),
                    target_url: r.try_get("target_url")?,
                    secret_sealed: r.try_get("secret")?,
                    hook_active: status == "active",
                    key_active: key_active != 0,
                    plan: r.try_get("plan")?,
                    event_type: r.try_get("type")?,
                    payload: r.try_get("payload")?,
                    event_created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Record the outcomes of a batch of attempts in one transaction (one
    /// commit for the batch instead of one per delivery: the SQLite writer
    /// is shared with the request path). Each is recorded only if its lease
    /// is still held. Returns, per attempt, whether it made the hook
    /// `disabled` (its last [`DISABLE_AFTER_GIVEN_UP`] finished events were
    /// all given up).
    pub async fn finish_deliveries(&self, done: &[(ClaimedDelivery, DeliveryOutcome)]) -> Result<Vec<bool>> {
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        let mut disabled = Vec::with_capacity(done.len());
        for (d, outcome) in done {
            disabled.push(finish_one(&mut tx, d, outcome, now).await?);
        }
        tx.commit().await?;
        Ok(disabled)
    }

    /// Give up the claims `owners` still hold (a clean shutdown abandoned
    /// their attempts): the deliveries are due again at once, here after a
    /// restart or on another node, instead of after the lease expires.
    pub async fn release_deliveries(&self, owners: &[String]) -> Result<u64> {
        let mut n = 0;
        for owner in owners {
            n += sqlx::query(
                "UPDATE webhook_deliveries SET lease_owner = NULL, lease_until = NULL \
                 WHERE lease_owner = $1 AND state = 'pending'",
            )
            .bind(owner)
            .execute(self.pool())
            .await?
            .rows_affected();
        }
        Ok(n)
    }

    /// Deliveries waiting to be attempted, and disabled hooks (metrics).
    pub async fn webhook_gauges(&self) -> Result<(i64, i64)> {
        // An event not fanned out yet is at least one pending delivery.
        let pending: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending') \
                  + (SELECT COUNT(*) FROM webhook_events WHERE fanned_out_at IS NULL)",
        )
        .fetch_one(self.pool())
        .await?;
        let disabled: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM hooks WHERE status = 'disabled'").fetch_one(self.pool()).await?;
        Ok((pending, disabled))
    }

    /// Delete finished deliveries, their attempts and events older than `before_ms`.
    pub async fn delete_webhook_history_before(&self, before_ms: i64) -> Result<u64> {
        let mut n = sqlx::query(
            "DELETE FROM webhook_attempts WHERE at < $1 AND (hook_id, event_id) IN \
               (SELECT hook_id, event_id FROM webhook_deliveries WHERE state <> 'pending')",
        )
        .bind(before_ms)
        .execute(self.pool())
        .await?
        .rows_affected();
        n += sqlx::query("DELETE FROM webhook_deliveries WHERE state <> 'pending' AND next_attempt_at < $1")
            .bind(before_ms)
            .execute(self.pool())
            .await?
            .rows_affected();
        n += sqlx::query(
            "DELETE FROM webhook_events WHERE created_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)",
        )
        .bind(before_ms)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n)
    }
}

/// Run `q`, a statement on `d`'s delivery row ending in `WHERE hook_id = $n
/// AND event_id = $n+1 AND lease_owner = $n+2`, binding those three: it
/// changes the row only while this worker still holds the lease. Rows changed.
async fn while_leased<'q>(q: AnyQuery<'q>, d: &'q ClaimedDelivery, conn: &mut sqlx::AnyConnection) -> Result<u64> {
    let q = q.bind(&d.hook_id).bind(&d.event_id).bind(&d.lease_owner);
    Ok(q.execute(conn).await?.rows_affected())
}

/// One attempt's outcome, inside the caller's transaction.
async fn finish_one(
    tx: &mut sqlx::AnyConnection,
    d: &ClaimedDelivery,
    outcome: &DeliveryOutcome,
    now: i64,
) -> Result<bool> {
    if let DeliveryOutcome::Gone { .. } = outcome {
        // Only while we hold the lease: a stale worker must not delete.
        let q = sqlx::query(
            "UPDATE webhook_deliveries SET state = 'delivered' \
             WHERE hook_id = $1 AND event_id = $2 AND lease_owner = $3",
        );
        let held = while_leased(q, d, &mut *tx).await?;
        if held == 1 {
            sqlx::query("DELETE FROM webhook_attempts WHERE hook_id = $1").bind(&d.hook_id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM webhook_deliveries WHERE hook_id = $1").bind(&d.hook_id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM hooks WHERE id = $1").bind(&d.hook_id).execute(&mut *tx).await?;
        }
        return Ok(false);
    }
    let attempted = !matches!(outcome, DeliveryOutcome::Skipped { .. });
    let (state, next, status, error, duration): (&str, Option<i64>, Option<u16>, Option<String>, i64) = match outcome {
        DeliveryOutcome::Delivered { status, duration_ms } => ("delivered", None, Some(*status), None, *duration_ms),
        DeliveryOutcome::Failed { status, error, duration_ms, retry_at: Some(at) } => {
            ("pending", Some(*at), *status, error.clone(), *duration_ms)
        }
        DeliveryOutcome::Failed { status, error, duration_ms, retry_at: None } => {
            ("given_up", None, *status, error.clone(), *duration_ms)
        }
        DeliveryOutcome::Skipped { reason } => ("skipped", None, None, Some(reason.to_string()), 0),
        DeliveryOutcome::Gone { .. } => unreachable!("handled above"),
    };
    let status_i = status.map(i64::from);
    let q = sqlx::query(
        "UPDATE webhook_deliveries SET state = $1, next_attempt_at = COALESCE($2, next_attempt_at), \
                attempts = attempts + $3, lease_owner = NULL, lease_until = NULL, \
                last_attempt_at = $4, last_status_code = $5, last_error = $6, last_duration_ms = $7 \
         WHERE hook_id = $8 AND event_id = $9 AND lease_owner = $10",
    )
    .bind(state)
    .bind(next)
    .bind(i64::from(attempted))
    .bind(now)
    .bind(status_i)
    .bind(error.as_deref())
    .bind(duration);
    let n = while_leased(q, d, &mut *tx).await?;
    if n == 0 {
        // The lease expired and another worker took the delivery over.
        return Ok(false);
    }
    if !attempted {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO webhook_attempts (hook_id, event_id, attempt, at, status_code, error, duration_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&d.hook_id)
    .bind(&d.event_id)
    .bind(d.attempts + 1)
    .bind(now)
    .bind(status_i)
    .bind(error.as_deref())
    .bind(duration)
    .execute(&mut *tx)
    .await?;
    // A success clears `failing_since`; a failure starts it if unset.
    sqlx::query(
        "UPDATE hooks SET last_attempt_at = $1, last_status_code = $2, last_error = $3, \
                failing_since = CASE WHEN $4 = 1 THEN NULL ELSE COALESCE(failing_since, $1) END WHERE id = $5",
    )
    .bind(now)
    .bind(status_i)
    .bind(error.as_deref())
    .bind(i64::from(state == "delivered"))
    .bind(&d.hook_id)
    .execute(&mut *tx)
    .await?;
    let mut disabled = false;
    if state == "given_up" {
        let recent: Vec<String> = sqlx::query_scalar(
            "SELECT state FROM webhook_deliveries WHERE hook_id = $1 AND state IN ('delivered', 'given_up') \
             ORDER BY event_id DESC LIMIT $2",
        )
        .bind(&d.hook_id)
        .bind(DISABLE_AFTER_GIVEN_UP)
        .fetch_all(&mut *tx)
        .await?;
        if i64::try_from(recent.len()) == Ok(DISABLE_AFTER_GIVEN_UP) && recent.iter().all(|s| s == "given_up") {
            disabled = sqlx::query(
                "UPDATE hooks SET status = 'disabled', disabled_at = $1, disabled_reason = 'failing' \
                 WHERE id = $2 AND status = 'active'",
            )
            .bind(now)
            .bind(&d.hook_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
        }
    }
    Ok(disabled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewStudy, StoreLocation};
    use keyward_core::Plan;

    async fn count(store: &Store, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(store.pool()).await.unwrap()
    }

    fn hook<'a>(id: &'a str, event: EventType) -> NewHook<'a> {
        NewHook {
            id,
            key_id: None,
            created_by: None,
            target_url: "https://example.com/h",
            event,
            secret_sealed: "v1:x",
        }
    }

    /// The request path writes one event row whatever the number of hooks;
    /// the worker's fan-out writes the deliveries, once, and only to hooks
    /// that existed when the event was written.
    #[tokio::test]
    async fn a_study_writes_one_event_row_and_the_fan_out_one_delivery_per_hook_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreLocation::resolve(dir.path(), None).unwrap()).await.unwrap();
        let ws = store.create_workspace("W", Plan::Pro).await.unwrap();
        let study = |name: &str| NewStudy { name: name.into(), description: None };

        // No hook: nothing at all is written for the event.
        store.create_study(&ws.id, &study("quiet")).await.unwrap();
        assert_eq!(count(&store, "SELECT COUNT(*) FROM webhook_events").await, 0);

        let hook_ids: Vec<String> = (0..10).map(|_| ids::new_id("hook")).collect();
        for id in &hook_ids {
            store.create_hook(&ws.id, &hook(id, EventType::StudyCreated)).await.unwrap();
        }
        store.create_hook(&ws.id, &hook(&ids::new_id("hook"), EventType::TranscriptCreated)).await.unwrap();
        store.create_study(&ws.id, &study("announced")).await.unwrap();
        assert_eq!(count(&store, "SELECT COUNT(*) FROM webhook_events").await, 1);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM webhook_deliveries").await, 0);
        assert_eq!(store.webhook_gauges().await.unwrap().0, 1, "an event to fan out counts as pending");

        // A hook created after the event does not receive it (its clock a
        // second later than the event's, rather than sleeping for it).
        let late = ids::new_id("hook");
        store.create_hook(&ws.id, &hook(&late, EventType::StudyCreated)).await.unwrap();
        sqlx::query("UPDATE hooks SET created_at = created_at + 1000 WHERE id = $1")
            .bind(&late)
            .execute(store.pool())
            .await
            .unwrap();

        assert_eq!(store.fan_out_events(256).await.unwrap(), 1);
        assert_eq!(store.fan_out_events(256).await.unwrap(), 0, "an event is fanned out once");
        let got: Vec<String> = sqlx::query_scalar("SELECT hook_id FROM webhook_deliveries ORDER BY hook_id")
            .fetch_all(store.pool())
            .await
            .unwrap();
        let mut want = hook_ids.clone();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(store.webhook_gauges().await.unwrap().0, 10);
    }
}
