//! `GET /api/workspaces/{ws}/api-usage[?key_id=]` (SPEC §5) and
//! `GET /api/workspaces/{ws}/notifications`. Admins and superadmins only; a
//! workspace the caller is not a member of is 404, and so is a `key_id` that
//! is not one of this workspace's keys. Window definitions: [`crate::usage::stats`].
use super::access::require_admin;
use super::List;
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::session::AdminSession;
use crate::state::AppState;
use crate::store::now_ms;
use axum::extract::{Path, Query, State};
use axum::Json;
use keyward_core::api::{Notification, UsageReport};
use keyward_core::{KeyId, UserId, WorkspaceId};
use std::collections::HashMap;

/// Newest notifications returned.
const NOTIFICATIONS: u32 = 50;

/// Every query parameter must be known: a typo should fail loudly (422),
/// not silently return the unfiltered report.
fn reject_unknown(q: &HashMap<String, String>, known: &[&str]) -> ApiResult<()> {
    let mut unknown: Vec<FieldError> = q
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| {
            let name: String = k.chars().take(64).collect();
            FieldError::new(name, "unknown_parameter", "is not a known query parameter")
        })
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort_by(|a, b| a.field.cmp(&b.field));
    Err(ApiError::Validation(unknown))
}

pub async fn api_usage(
    State(state): State<AppState>,
    session: AdminSession,
    Path(ws): Path<WorkspaceId>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<UsageReport>> {
    require_admin(&state, &session, &ws).await?;
    reject_unknown(&q, &["key_id"])?;
    let key_id = q.get("key_id").map(|s| s.trim()).filter(|s| !s.is_empty()).map(KeyId::new);
    if let Some(k) = &key_id {
        // Another workspace's key (or no key at all): 404, never its numbers.
        state.store.key(&ws, k).await?;
    }
    Ok(Json(usage_report(&state, &ws, key_id.as_ref()).await?))
}

/// The usage report the page renders (the same as the API's). The caller
/// has checked the role and that `key_id` is one of the workspace's keys.
pub async fn usage_report(state: &AppState, ws: &WorkspaceId, key_id: Option<&KeyId>) -> ApiResult<UsageReport> {
    let mut report = crate::usage::stats::report(&state.store, ws, key_id, now_ms()).await?;
    report.usage_behind = crate::usage::spill::behind(state.usage.metrics());
    Ok(report)
}

/// Notifications the page shows as banners, newest first.
/// Those `user_id` dismissed are left out.
pub async fn notifications_for(state: &AppState, ws: &WorkspaceId, user_id: &UserId) -> ApiResult<Vec<Notification>> {
    Ok(state.store.notifications_for_user(ws, user_id, NOTIFICATIONS).await?)
}

/// `GET /api/workspaces/{ws}/notifications`: messages for the admins
/// (e.g. a key was auto-revoked), newest first, the 50 newest.
pub async fn notifications(
    State(state): State<AppState>,
    session: AdminSession,
    Path(ws): Path<WorkspaceId>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<List<Notification>>> {
    require_admin(&state, &session, &ws).await?;
    reject_unknown(&q, &[])?;
    Ok(Json(List { data: notifications_for(&state, &ws, &session.user_id).await? }))
}
