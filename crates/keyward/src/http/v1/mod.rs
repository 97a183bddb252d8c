//! The public REST API under `/v1` (SPEC §4). Every route sits behind the
//! authentication pipeline in [`auth`]; handlers receive the verified key as
//! an [`ApiKeyContext`] and scope every query by its workspace.

pub mod auth;

use crate::app::AppState;
pub use auth::ApiKeyContext;
use axum::routing::get;
use axum::{Extension, Json, Router};
use keyward_core::api::Timestamp;
use keyward_core::key;
use serde::Serialize;

/// The `/v1` router (to be nested at `/v1`).
pub fn router(state: AppState) -> Router<AppState> {
    Router::new().route("/me", get(me)).route_layer(axum::middleware::from_fn_with_state(state, auth::pipeline))
}

#[derive(Serialize)]
pub struct MeWorkspace {
    pub id: String,
    pub name: String,
    pub plan: keyward_core::Plan,
}

#[derive(Serialize)]
pub struct MeKey {
    pub id: String,
    pub name: String,
    pub masked: String,
    pub created_at: Timestamp,
}

#[derive(Serialize)]
pub struct MeRateLimit {
    pub requests_per_minute: u32,
}

#[derive(Serialize)]
pub struct Me {
    pub workspace: MeWorkspace,
    pub key: MeKey,
    pub rate_limit: MeRateLimit,
}

/// `GET /v1/me`: the key's workspace, the key and its limit (Zapier's
/// connection test and label).
pub async fn me(Extension(ctx): Extension<ApiKeyContext>) -> Json<Me> {
    let k = &ctx.key.key;
    Json(Me {
        workspace: MeWorkspace { id: k.workspace_id.clone(), name: k.workspace_name.clone(), plan: k.plan },
        key: MeKey {
            id: k.id.clone(),
            name: k.name.clone(),
            masked: key::mask(&k.last4),
            created_at: Timestamp(k.created_at),
        },
        rate_limit: MeRateLimit { requests_per_minute: ctx.policy.requests_per_minute },
    })
}
