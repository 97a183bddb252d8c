//! Per-admin dismissal of notifications (the page's banners):
//!
//! - `POST   /api/workspaces/{ws}/notifications/{id}/dismissal` → 204: hide it for me;
//! - `DELETE /api/workspaces/{ws}/notifications/{id}/dismissal` → 204: show it to me again.
//!
//! Both are idempotent, need the session's CSRF token, and answer 404 for
//! another workspace's notification. Other admins keep seeing it until they
//! dismiss it themselves; `GET .../notifications` and the page leave out the
//! caller's dismissed ones.
use super::access::WorkspaceAdmin;
use crate::http::error::ApiResult;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::routing::post;
use axum::Router;
use keyward_core::WorkspaceId;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/workspaces/{ws}/notifications/{id}/dismissal", post(dismissal).delete(dismissal))
}

/// One handler for both methods: they differ only in the flag they set.
async fn dismissal(
    method: Method,
    State(state): State<AppState>,
    admin: WorkspaceAdmin<(WorkspaceId, String)>,
) -> ApiResult<StatusCode> {
    let (ws, id) = &admin.path;
    let dismissed = method == Method::POST;
    state.store.set_notification_dismissed(ws, id, &admin.session.user_id, dismissed).await?;
    Ok(StatusCode::NO_CONTENT)
}
