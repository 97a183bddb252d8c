//! What support looks up with the operator CLI (SPEC §8): workspaces with
//! their member and key counts, members, and membership changes that never
//! leave a workspace without an admin.
use super::sql::lock_workspace;
use super::{corrupt, Result, Store, StoreError};
use keyward_core::api::Timestamp;
use keyward_core::ids::{UserId, WorkspaceId};
use keyward_core::{Plan, Role};
use serde::Serialize;
use sqlx::Row;

/// A workspace with the counts support asks about first.
#[derive(Debug, Clone, Serialize)]
pub struct WorkspaceSummary {
    pub id: String,
    pub name: String,
    pub plan: Plan,
    /// Support's per-key rpm override, `null` when the plan's number applies.
    pub rpm_override: Option<u32>,
    /// The per-key rpm in force (override or plan; `null` on the free plan).
    pub requests_per_minute: Option<u32>,
    pub created_at: Timestamp,
    pub members: i64,
    pub active_keys: i64,
    pub revoked_keys: i64,
}

/// A member of a workspace.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub role: Role,
    pub since: Timestamp,
}

/// Refusal of a membership change that would leave no admin.
pub const LAST_ADMIN: &str = "last admin";

const SUMMARY_SQL: &str = "SELECT w.id, w.name, w.plan, w.rpm_override, w.created_at, \
     (SELECT COUNT(*) FROM memberships m WHERE m.workspace_id = w.id) AS members, \
     (SELECT COUNT(*) FROM api_keys k WHERE k.workspace_id = w.id AND k.revoked_at IS NULL) AS active_keys, \
     (SELECT COUNT(*) FROM api_keys k WHERE k.workspace_id = w.id AND k.revoked_at IS NOT NULL) AS revoked_keys \
     FROM workspaces w";

fn summary_from_row(r: &sqlx::any::AnyRow) -> Result<WorkspaceSummary> {
    let plan: Plan = r.try_get::<String, _>("plan")?.parse().map_err(corrupt)?;
    let rpm_override =
        r.try_get::<Option<i64>, _>("rpm_override")?.map(|v| super::stored("rpm_override", v)).transpose()?;
    Ok(WorkspaceSummary {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        plan,
        rpm_override,
        requests_per_minute: if plan.has_api_access() { rpm_override.or(plan.requests_per_minute()) } else { None },
        created_at: Timestamp(r.try_get("created_at")?),
        members: r.try_get("members")?,
        active_keys: r.try_get("active_keys")?,
        revoked_keys: r.try_get("revoked_keys")?,
    })
}

impl Store {
    /// Every workspace (on `plan` only, when given), oldest first.
    pub async fn list_workspaces(&self, plan: Option<Plan>) -> Result<Vec<WorkspaceSummary>> {
        let sql = format!("{SUMMARY_SQL} WHERE ($1 IS NULL OR w.plan = $1) ORDER BY w.created_at, w.id");
        let rows = sqlx::query(&sql).bind(plan.map(Plan::as_str)).fetch_all(self.pool()).await?;
        rows.iter().map(summary_from_row).collect()
    }

    /// One workspace with its counts.
    pub async fn workspace_summary(&self, id: &WorkspaceId) -> Result<WorkspaceSummary> {
        let sql = format!("{SUMMARY_SQL} WHERE w.id = $1");
        let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(self.pool()).await?.ok_or(StoreError::NotFound)?;
        summary_from_row(&row)
    }

    /// A workspace's members, admins first, then by email.
    pub async fn members(&self, workspace_id: &WorkspaceId) -> Result<Vec<Member>> {
        let rows = sqlx::query(
            "SELECT m.user_id, u.email, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.workspace_id = $1 ORDER BY u.email",
        )
        .bind(workspace_id.as_str())
        .fetch_all(self.pool())
        .await?;
        let mut members = rows
            .iter()
            .map(|r| {
                Ok(Member {
                    user_id: r.try_get("user_id")?,
                    email: r.try_get("email")?,
                    role: r.try_get::<String, _>("role")?.parse().map_err(corrupt)?,
                    since: Timestamp(r.try_get("created_at")?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        members.sort_by(|a, b| b.role.cmp(&a.role).then_with(|| a.email.cmp(&b.email)));
        Ok(members)
    }

    /// Add a member or change their role, unless that demotes the
    /// workspace's last admin (`Conflict(LAST_ADMIN)`, nothing changes).
    pub async fn set_member_role_keeping_an_admin(
        &self,
        workspace_id: &WorkspaceId,
        user_id: &UserId,
        role: Role,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        // Lock the workspace row (and SQLite's write lock) first, so two
        // concurrent changes cannot both see a second admin.
        if lock_workspace(&mut tx, workspace_id).await? == 0 {
            return Err(StoreError::NotFound);
        }
        let current: Option<String> =
            sqlx::query("SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                .bind(workspace_id.as_str())
                .bind(user_id.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("role"))
                .transpose()?;
        let was_admin =
            current.as_deref().map(str::parse::<Role>).transpose().map_err(corrupt)?.is_some_and(Role::can_manage_keys);
        if was_admin && !role.can_manage_keys() && admins(&mut tx, workspace_id).await? <= 1 {
            return Err(StoreError::Conflict(LAST_ADMIN));
        }
        super::accounts::upsert_member_on(&mut *tx, workspace_id, user_id, role).await?;
        tx.commit().await?;
        self.changes.bump();
        Ok(())
    }

    /// Remove a member, unless they are the workspace's last admin
    /// (`Conflict(LAST_ADMIN)`); `NotFound` when they are not a member.
    pub async fn remove_member_keeping_an_admin(&self, workspace_id: &WorkspaceId, user_id: &UserId) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        lock_workspace(&mut tx, workspace_id).await?;
        let role: Role = sqlx::query("SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2")
            .bind(workspace_id.as_str())
            .bind(user_id.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?
            .try_get::<String, _>("role")?
            .parse()
            .map_err(corrupt)?;
        if role.can_manage_keys() && admins(&mut tx, workspace_id).await? <= 1 {
            return Err(StoreError::Conflict(LAST_ADMIN));
        }
        sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2")
            .bind(workspace_id.as_str())
            .bind(user_id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.changes.bump();
        Ok(())
    }
}

async fn admins(tx: &mut sqlx::Transaction<'_, sqlx::Any>, workspace_id: &WorkspaceId) -> Result<i64> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM memberships WHERE workspace_id = $1 AND role IN ('admin', 'superadmin')")
        .bind(workspace_id.as_str())
        .fetch_one(&mut **tx)
        .await?
        .try_get("n")?)
}
