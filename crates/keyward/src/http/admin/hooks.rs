//! `/api/workspaces/{ws}/hooks` (SPEC §9): admins subscribe the workspace
//! to key events, and see and delete every hook of the workspace (those
//! created by keys too). Session + CSRF, admin role; a workspace the user
//! is not a member of answers 404.
use super::access::{require_api_admin, WorkspaceAdmin};
use super::List;
use crate::http::error::ApiResult;
use crate::http::json::ApiJson;
use crate::http::session::AdminSession;
use crate::http::v1::hooks::{create_hook_response, parse_hook_input, HookObject};
use crate::state::AppState;
use crate::store::HookRecord;
use crate::webhooks::EventType;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use keyward_core::api::{HookAttempt, Timestamp};
use keyward_core::WorkspaceId;
use serde::Serialize;
use serde_json::{json, Value};

/// A hook as the admin API shows it: the `/v1` object and who made it.
#[derive(Debug, Serialize)]
pub struct AdminHook {
    #[serde(flatten)]
    pub hook: HookObject,
    /// The key that created it (`/v1`), or null for an admin's key-event hook.
    pub key: Option<Value>,
    /// The admin who created a key-event hook.
    pub created_by: Option<Value>,
    pub last_attempt: Option<HookAttempt>,
    pub failing_since: Option<Timestamp>,
}

impl From<HookRecord> for AdminHook {
    fn from(h: HookRecord) -> Self {
        AdminHook {
            hook: HookObject::from(&h),
            key: h.key_id.as_ref().map(|id| json!({ "id": id, "name": h.key_name })),
            created_by: h.created_by.as_ref().map(|(id, email)| json!({ "id": id, "email": email })),
            last_attempt: last_attempt(&h),
            failing_since: h.failing_since.map(Timestamp),
        }
    }
}

/// The last attempt to deliver to the hook, if any.
fn last_attempt(h: &HookRecord) -> Option<HookAttempt> {
    h.last_attempt_at.map(|at| HookAttempt {
        at: Timestamp(at),
        error: h.last_error.clone(),
        status_code: h.last_status_code,
    })
}

/// Every hook of the workspace, newest first.
pub async fn list_hooks(State(state): State<AppState>, admin: WorkspaceAdmin) -> ApiResult<Json<List<AdminHook>>> {
    Ok(Json(List { data: hooks_for(&state, &admin.path).await? }))
}

/// The page's view of the same list.
pub async fn hooks_for(state: &AppState, ws: &WorkspaceId) -> ApiResult<Vec<AdminHook>> {
    Ok(state.store.list_hooks(ws).await?.into_iter().map(AdminHook::from).collect())
}

/// Subscribe the workspace to a key event.
pub async fn create_hook(
    State(state): State<AppState>,
    session: AdminSession,
    Path(ws): Path<WorkspaceId>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    require_api_admin(&state, &session, &ws).await?;
    let (target, event) = parse_hook_input(&state, &body, |e: EventType| !e.is_resource_event())?;
    create_hook_response(&state, &ws, None, Some(&session.user_id), &target, event).await
}

/// Delete any hook of the workspace.
pub async fn delete_hook(
    State(state): State<AppState>,
    admin: WorkspaceAdmin<(WorkspaceId, String)>,
) -> ApiResult<StatusCode> {
    let (ws, id) = &admin.path;
    state.store.delete_hook(ws, id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The page's rows: target host only (a URL may carry a token in its path).
pub async fn hook_rows(state: &AppState, ws: &WorkspaceId) -> ApiResult<Vec<keyward_web::HookRow>> {
    Ok(state
        .store
        .list_hooks(ws)
        .await?
        .into_iter()
        .map(|h| keyward_web::HookRow {
            target_host: url::Url::parse(&h.target_url)
                .ok()
                .and_then(|u| {
                    u.host_str().map(|host| match u.port() {
                        Some(p) => format!("{host}:{p}"),
                        None => host.to_string(),
                    })
                })
                .unwrap_or_default(),
            last_attempt: last_attempt(&h),
            id: h.id,
            event: h.event,
            status: h.status,
            created_at: Timestamp(h.created_at),
            key_name: h.key_name,
            created_by_email: h.created_by.map(|(_, email)| email),
            failing_since: h.failing_since.map(Timestamp),
        })
        .collect())
}
