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
