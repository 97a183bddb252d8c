//! Per-admin dismissal of notifications, and the counts by code an
//! auto-revocation notice explains itself with.
use super::{now_ms, Result, Store, StoreError};
use keyward_core::api::Notification;
use keyward_core::ids::{KeyId, UserId, WorkspaceId};
use sqlx::Row;

impl Store {
    /// A workspace's newest `limit` notifications that `user_id` has not
    /// dismissed, newest first.
    pub async fn notifications_for_user(
        &self,
        workspace_id: &WorkspaceId,
        user_id: &UserId,
        limit: u32,
    ) -> Result<Vec<Notification>> {
        sqlx::query(
            "SELECT n.id, n.at, n.kind, n.key_id, n.message FROM notifications n WHERE n.workspace_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM notification_dismissals d WHERE d.notification_id = n.id AND d.user_id = $2) \
             ORDER BY n.id DESC LIMIT $3",
        )
        .bind(workspace_id.as_str())
        .bind(user_id.as_str())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(Notification {
                id: r.try_get("id")?,
                at: keyward_core::api::Timestamp(r.try_get("at")?),
                kind: r.try_get("kind")?,
                key_id: r.try_get("key_id")?,
                message: r.try_get("message")?,
            })
        })
        .collect()
    }

    /// Dismiss (`true`) or restore (`false`) a workspace's notification for
    /// one user; idempotent. `NotFound` when it is not this workspace's.
    pub async fn set_notification_dismissed(
        &self,
        workspace_id: &WorkspaceId,
        notification_id: &str,
        user_id: &UserId,
        dismissed: bool,
    ) -> Result<()> {
        let exists = sqlx::query("SELECT 1 AS one FROM notifications WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id.as_str())
            .bind(notification_id)
            .fetch_optional(self.pool())
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let q = if dismissed {
            sqlx::query(
                "INSERT INTO notification_dismissals (notification_id, user_id, at) VALUES ($1, $2, $3) \
                 ON CONFLICT (notification_id, user_id) DO NOTHING",
            )
            .bind(notification_id)
            .bind(user_id.as_str())
            .bind(now_ms())
        } else {
            sqlx::query("DELETE FROM notification_dismissals WHERE notification_id = $1 AND user_id = $2")
                .bind(notification_id)
                .bind(user_id.as_str())
        };
        q.execute(self.pool()).await?;
        Ok(())
    }

    /// A key's auto-revocation errors (401 `ip_not_allowed` and 422) since
    /// `since_ms`, by problem code, most frequent first.
    pub async fn usage_key_error_codes(
        &self,
        workspace_id: &WorkspaceId,
        key_id: &KeyId,
        since_ms: i64,
    ) -> Result<Vec<(String, u64)>> {
        let rows = sqlx::query(
            "SELECT status, code, CAST(COUNT(*) AS BIGINT) AS n FROM usage_records \
             WHERE workspace_id = $1 AND key_id = $2 AND at >= $3 \
             AND (status = 422 OR (status = 401 AND code = 'ip_not_allowed')) GROUP BY status, code",
        )
        .bind(workspace_id.as_str())
        .bind(key_id.as_str())
        .bind(since_ms)
        .fetch_all(self.pool())
        .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                let status: i64 = r.try_get("status")?;
                let code: Option<String> = r.try_get("code")?;
                let n: i64 = r.try_get("n")?;
                Ok((code.unwrap_or_else(|| status.to_string()), super::stored::<u64>("n", n)?))
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(out)
    }
}
