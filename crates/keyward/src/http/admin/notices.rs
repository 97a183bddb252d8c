//! Per-admin dismissal of notifications (the page's banners):
//!
//! - `POST   /api/workspaces/{ws}/notifications/{id}/dismissal` → 204: hide it for me;
//! - `DELETE /api/workspaces/{ws}/notifications/{id}/dismissal` → 204: show it to me again.
//!
//! Both are idempotent, need the session's CSRF token, and answer 404 for
//! another workspace's notification. Other admins keep seeing it until they
//! dismiss it themselves; `GET .../notifications` and the page leave out the
//! caller's dismissed ones.
use super::access::require_admin;
use crate::http::error::ApiResult;
use crate::http::session::AdminSession;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use keyward_core::WorkspaceId;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/workspaces/{ws}/notifications/{id}/dismissal", post(dismiss).delete(restore))
}

async fn dismiss(
    State(state): State<AppState>,
    session: AdminSession,
    Path((ws, id)): Path<(WorkspaceId, String)>,
) -> ApiResult<StatusCode> {
    require_admin(&state, &session, &ws).await?;
    state.store.set_notification_dismissed(&ws, &id, &session.user_id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn restore(
    State(state): State<AppState>,
    session: AdminSession,
    Path((ws, id)): Path<(WorkspaceId, String)>,
) -> ApiResult<StatusCode> {
    require_admin(&state, &session, &ws).await?;
    state.store.set_notification_dismissed(&ws, &id, &session.user_id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
