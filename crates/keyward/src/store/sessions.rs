//! Server-side sessions for the admin page and API. Only the SHA-256 of the
//! cookie token is stored, so a copy of the database opens no session.
use super::{Result, Store};
use keyward_core::ids::UserId;
use sqlx::Row;

/// A live session and its user.
#[derive(Clone)]
pub struct SessionRecord {
    pub user_id: UserId,
    pub email: String,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord").field("user_id", &self.user_id).finish_non_exhaustive()
    }
}

fn session_from_row(r: &sqlx::any::AnyRow) -> Result<SessionRecord> {
    Ok(SessionRecord {
        user_id: UserId::new(r.try_get::<String, _>("user_id")?),
        email: r.try_get("email")?,
        csrf_token: r.try_get("csrf_token")?,
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
    })
}

impl Store {
    pub async fn create_session(&self, token_hash: &[u8; 32], user_id: &UserId, csrf: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(token_hash.to_vec())
        .bind(user_id.as_str())
        .bind(csrf)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn session(&self, token_hash: &[u8; 32]) -> Result<Option<SessionRecord>> {
        let row = sqlx::query(
            "SELECT s.user_id, u.email, s.csrf_token, s.created_at, s.last_seen_at \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
        )
        .bind(token_hash.to_vec())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    pub async fn touch_session(&self, token_hash: &[u8; 32], now: i64) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(token_hash.to_vec())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &[u8; 32]) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash.to_vec())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Drop sessions past their idle or absolute expiry.
    pub async fn delete_expired_sessions(&self, idle_before: i64, created_before: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
            .bind(idle_before)
            .bind(created_before)
            .execute(self.pool())
            .await?
            .rows_affected())
    }
}
