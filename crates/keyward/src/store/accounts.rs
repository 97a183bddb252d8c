//! Workspaces, users and memberships.
use super::sql::AnyQuery;
use super::{corrupt, now_ms, stored, Result, Store, StoreError};
use keyward_core::ids::{UserId, WorkspaceId};
use keyward_core::{Plan, Role};
use sqlx::Row;

/// A workspace and its plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub plan: Plan,
    /// Support's per-key rpm override (replaces the plan's number).
    pub rpm_override: Option<u32>,
    pub created_at: i64,
}

/// A user. The password hash never leaves the store module except to verify.
#[derive(Clone)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub password_hash: String,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User").field("id", &self.id).field("email", &self.email).finish_non_exhaustive()
    }
}

/// A user's membership, with the workspace it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipView {
    pub workspace: Workspace,
    pub role: Role,
}

fn workspace_from_row(r: &sqlx::any::AnyRow) -> Result<Workspace> {
    let plan: String = r.try_get("plan")?;
    let rpm: Option<i64> = r.try_get("rpm_override")?;
    Ok(Workspace {
        id: WorkspaceId::new(r.try_get::<String, _>("id")?),
        name: r.try_get("name")?,
        plan: plan.parse().map_err(corrupt)?,
        rpm_override: rpm.map(|v| stored("rpm_override", v)).transpose()?,
        created_at: r.try_get("created_at")?,
    })
}

fn user_from_row(r: &sqlx::any::AnyRow) -> Result<User> {
    Ok(User {
        id: UserId::new(r.try_get::<String, _>("id")?),
        email: r.try_get("email")?,
        password_hash: r.try_get("password_hash")?,
    })
}

impl Store {
    pub async fn create_workspace(&self, name: &str, plan: Plan) -> Result<Workspace> {
        let ws = Workspace {
            id: WorkspaceId::generate(),
            name: name.to_string(),
            plan,
            rpm_override: None,
            created_at: now_ms(),
        };
        sqlx::query("INSERT INTO workspaces (id, name, plan, rpm_override, created_at) VALUES ($1, $2, $3, NULL, $4)")
            .bind(ws.id.as_str())
            .bind(&ws.name)
            .bind(plan.as_str())
            .bind(ws.created_at)
            .execute(self.pool())
            .await?;
        Ok(ws)
    }

    pub async fn workspace(&self, id: &WorkspaceId) -> Result<Workspace> {
        let row = sqlx::query("SELECT id, name, plan, rpm_override, created_at FROM workspaces WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        workspace_from_row(&row)
    }

    pub async fn count_workspaces(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM workspaces").fetch_one(self.pool()).await?.try_get("n")?)
    }

    pub async fn set_plan(&self, id: &WorkspaceId, plan: Plan) -> Result<()> {
        let q = sqlx::query("UPDATE workspaces SET plan = $1 WHERE id = $2");
        self.change(q.bind(plan.as_str()).bind(id.as_str())).await
    }

    /// Set (`Some`) or clear (`None`) the per-key rpm override.
    pub async fn set_rate_limit(&self, id: &WorkspaceId, rpm: Option<u32>) -> Result<()> {
        let q = sqlx::query("UPDATE workspaces SET rpm_override = $1 WHERE id = $2");
        self.change(q.bind(rpm.map(i64::from)).bind(id.as_str())).await
    }

    /// Run `q`, a mutation of auth-relevant state: NotFound when nothing
    /// matched, otherwise bump the change counter so caches reload.
    async fn change(&self, q: AnyQuery<'_>) -> Result<()> {
        if q.execute(self.pool()).await?.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.changes.bump();
        Ok(())
    }

    /// Create a user; `email` must already be normalised (lowercase).
    pub async fn create_user(&self, email: &str, password_hash: &str) -> Result<User> {
        let user = User { id: UserId::generate(), email: email.to_string(), password_hash: password_hash.to_string() };
        sqlx::query("INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(user.id.as_str())
            .bind(&user.email)
            .bind(&user.password_hash)
            .bind(now_ms())
            .execute(self.pool())
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict("email"),
                other => other,
            })?;
        Ok(user)
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT id, email, password_hash FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Add a member, or change the role of an existing one.
    pub async fn upsert_member(&self, workspace_id: &WorkspaceId, user_id: &UserId, role: Role) -> Result<()> {
        upsert_member_on(self.pool(), workspace_id, user_id, role).await?;
        self.changes.bump();
        Ok(())
    }

    pub async fn remove_member(&self, workspace_id: &WorkspaceId, user_id: &UserId) -> Result<()> {
        let q = sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2");
        self.change(q.bind(workspace_id.as_str()).bind(user_id.as_str())).await
    }

    /// The user's role in a workspace; `None` when not a member (→ 404).
    pub async fn membership(&self, workspace_id: &WorkspaceId, user_id: &UserId) -> Result<Option<MembershipView>> {
        let row = sqlx::query(
            "SELECT w.id, w.name, w.plan, w.rpm_override, w.created_at, m.role \
             FROM memberships m JOIN workspaces w ON w.id = m.workspace_id \
             WHERE m.workspace_id = $1 AND m.user_id = $2",
        )
        .bind(workspace_id.as_str())
        .bind(user_id.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            let role: String = r.try_get("role")?;
            Ok(MembershipView { workspace: workspace_from_row(&r)?, role: role.parse().map_err(corrupt)? })
        })
        .transpose()
    }

    /// Every workspace the user belongs to, oldest first.
    pub async fn memberships_of(&self, user_id: &UserId) -> Result<Vec<MembershipView>> {
        let rows = sqlx::query(
            "SELECT w.id, w.name, w.plan, w.rpm_override, w.created_at, m.role \
             FROM memberships m JOIN workspaces w ON w.id = m.workspace_id \
             WHERE m.user_id = $1 ORDER BY w.created_at, w.id",
        )
        .bind(user_id.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role")?;
                Ok(MembershipView { workspace: workspace_from_row(r)?, role: role.parse().map_err(corrupt)? })
            })
            .collect()
    }
}

/// Add a member or change their role, on `exec` (the pool or a transaction).
pub(super) async fn upsert_member_on<'e, E>(
    exec: E,
    workspace_id: &WorkspaceId,
    user_id: &UserId,
    role: Role,
) -> Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role",
    )
    .bind(workspace_id.as_str())
    .bind(user_id.as_str())
    .bind(role.as_str())
    .bind(now_ms())
    .execute(exec)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_rpm_override_that_fits_no_u32_reads_as_a_corrupt_row() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&super::super::StoreLocation::resolve(dir.path(), None).unwrap()).await.unwrap();
        let ws = store.create_workspace("W", Plan::Pro).await.unwrap();
        store.set_rate_limit(&ws.id, Some(7)).await.unwrap();
        assert_eq!(store.workspace(&ws.id).await.unwrap().rpm_override, Some(7));
        for bad in [-1_i64, 1 << 40] {
            sqlx::query("UPDATE workspaces SET rpm_override = $1 WHERE id = $2")
                .bind(bad)
                .bind(ws.id.as_str())
                .execute(store.pool())
                .await
                .unwrap();
            assert!(matches!(store.workspace(&ws.id).await, Err(StoreError::Corrupt(_))), "{bad}");
            assert!(matches!(store.workspace_summary(&ws.id).await, Err(StoreError::Corrupt(_))), "{bad}");
        }
        store.close().await;
    }
}
