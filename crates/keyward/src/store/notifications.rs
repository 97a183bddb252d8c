//! Notifications for a workspace's admins (the banner on the page): an
//! automatic revocation, a leaked key, a disabled hook; and each admin's
//! dismissals of them.
use super::sql::bind_some;
use super::{now_ms, Result, Store, StoreError};
use keyward_core::api::{Notification, Timestamp};
use keyward_core::ids;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A notification to create.
#[derive(Debug, Clone)]
pub struct NewNotification<'a> {
    pub workspace_id: &'a str,
    pub at_ms: i64,
    pub kind: &'a str,
    pub key_id: Option<&'a str>,
    pub message: &'a str,
}

fn notification_from_row(r: &AnyRow) -> Result<Notification> {
    Ok(Notification {
        id: r.try_get("id")?,
        at: Timestamp(r.try_get("at")?),
        kind: r.try_get("kind")?,
        key_id: r.try_get("key_id")?,
        message: r.try_get("message")?,
    })
}

impl Store {
    /// Store a notification for a workspace's admins; returns it.
    pub async fn insert_notification(&self, n: &NewNotification<'_>) -> Result<Notification> {
        let id = ids::new_id("ntf");
        sqlx::query(
            "INSERT INTO notifications (id, workspace_id, at, kind, key_id, message) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(n.workspace_id)
        .bind(n.at_ms)
        .bind(n.kind)
        .bind(n.key_id)
        .bind(n.message)
        .execute(self.pool())
        .await?;
        Ok(Notification {
            id,
            at: Timestamp(n.at_ms),
            kind: n.kind.to_string(),
            key_id: n.key_id.map(str::to_string),
            message: n.message.to_string(),
        })
    }

    /// A workspace's newest `limit` notifications, newest first.
    pub async fn notifications(&self, workspace_id: &str, limit: u32) -> Result<Vec<Notification>> {
        self.newest_notifications(workspace_id, None, limit).await
    }

    /// A workspace's newest `limit` notifications that `user_id` has not
    /// dismissed, newest first.
    pub async fn notifications_for_user(
        &self,
        workspace_id: &str,
        user_id: &str,
        limit: u32,
    ) -> Result<Vec<Notification>> {
        self.newest_notifications(workspace_id, Some(user_id), limit).await
    }

    async fn newest_notifications(
        &self,
        workspace_id: &str,
        undismissed_by: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Notification>> {
        let filter = if undismissed_by.is_some() {
            "AND NOT EXISTS (SELECT 1 FROM notification_dismissals d WHERE d.notification_id = n.id AND d.user_id = $3)"
        } else {
            ""
        };
        let sql = format!(
            "SELECT n.id, n.at, n.kind, n.key_id, n.message FROM notifications n WHERE n.workspace_id = $1 \
             {filter} ORDER BY n.id DESC LIMIT $2"
        );
        let q = sqlx::query(&sql).bind(workspace_id).bind(i64::from(limit));
        bind_some(q, undismissed_by).fetch_all(self.pool()).await?.iter().map(notification_from_row).collect()
    }

    /// Dismiss (`true`) or restore (`false`) a workspace's notification for
    /// one user; idempotent. `NotFound` when it is not this workspace's.
    pub async fn set_notification_dismissed(
        &self,
        workspace_id: &str,
        notification_id: &str,
        user_id: &str,
        dismissed: bool,
    ) -> Result<()> {
        let exists = sqlx::query("SELECT 1 AS one FROM notifications WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
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
            .bind(user_id)
            .bind(now_ms())
        } else {
            sqlx::query("DELETE FROM notification_dismissals WHERE notification_id = $1 AND user_id = $2")
                .bind(notification_id)
                .bind(user_id)
        };
        q.execute(self.pool()).await?;
        Ok(())
    }

    /// Delete notifications older than `before_ms` (retention, SPEC §6).
    pub async fn delete_notifications_before(&self, before_ms: i64) -> Result<u64> {
        self.delete_below("DELETE FROM notifications WHERE at < $1", before_ms).await
    }
}
