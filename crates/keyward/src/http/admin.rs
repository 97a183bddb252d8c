//! The admin API under `/api/workspaces/{ws}/...` (SPEC §5): keys, allowlists,
//! usage and the audit log. Session + CSRF only: an API key can never manage
//! keys. A workspace the user is not a member of answers 404; a member below
//! admin gets 403 `forbidden`.

use super::error::{ApiError, ApiResult, FieldError};
use super::json::ApiJson;
use super::session::AdminSession;
use super::v1::extract::ListParams;
use crate::app::AppState;
use crate::store::{MembershipView, Revoker};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use keyward_core::allowlist::Allowlist;
use keyward_core::api::{AuditEntry, KeyObject};
use keyward_core::validate::KeyName;
use keyward_core::{ApiKeySecret, RevokeReason};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/workspaces/{ws}/api-keys", get(list_keys).post(create_key))
        .route("/api/workspaces/{ws}/api-keys/{id}", delete(revoke_key))
        .route("/api/workspaces/{ws}/api-keys/{id}/allowed-ips", put(set_allowed_ips))
        .route("/api/workspaces/{ws}/api-keys/{id}/roll", post(super::admin_lifecycle::roll_key))
        .route("/api/workspaces/{ws}/audit-log", get(audit_log))
        .route("/api/workspaces/{ws}/api-usage", get(super::admin_usage::api_usage))
        .route("/api/workspaces/{ws}/notifications", get(super::admin_usage::notifications))
        .route("/api/workspaces/{ws}/hooks", get(super::admin_hooks::list_hooks).post(super::admin_hooks::create_hook))
        .route("/api/workspaces/{ws}/hooks/{id}", delete(super::admin_hooks::delete_hook))
}

/// The caller's membership, if they may manage this workspace's keys:
/// 404 for non-members (existence not revealed), 403 below admin.
pub async fn require_admin(state: &AppState, session: &AdminSession, ws: &str) -> ApiResult<MembershipView> {
    let m = state.store.membership(ws, &session.user_id).await?.ok_or(ApiError::NotFound)?;
    if !m.role.can_manage_keys() {
        return Err(ApiError::Forbidden("only admins and superadmins can manage API keys"));
    }
    Ok(m)
}

#[derive(Serialize)]
struct List<T> {
    data: Vec<T>,
}

async fn list_keys(
    State(state): State<AppState>,
    session: AdminSession,
    Path(ws): Path<String>,
) -> ApiResult<Json<List<KeyObject>>> {
    require_admin(&state, &session, &ws).await?;
    Ok(Json(List { data: state.store.list_keys(&ws).await? }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    name: String,
    /// 1–365; absent or null: never expires.
    #[serde(default)]
    expires_in_days: Option<i64>,
    /// Absent or null: full access.
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

async fn create_key(
    State(state): State<AppState>,
    session: AdminSession,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<CreateKey>,
) -> ApiResult<Response> {
    let m = require_admin(&state, &session, &ws).await?;
    if !m.workspace.plan.has_api_access() {
        return Err(ApiError::PlanRequired);
    }
    let mut errors = Vec::new();
    let name = KeyName::parse(&body.name)
        .map_err(|e| errors.push(FieldError::new("name", e.code(), format!("name {e}"))))
        .ok();
    let terms = super::admin_lifecycle::key_terms(body.expires_in_days, body.scopes.as_deref(), &mut errors);
    let (Some(name), true) = (name, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let secret = ApiKeySecret::generate();
    let object = state
        .store
        .create_key_with(&ws, name.as_str(), &secret.hash(), secret.last4(), (&session.user_id, &session.email), terms)
        .await?;
    let body = keyward_core::api::CreatedKey { object, key: secret.expose().to_string() };
    let mut res = (StatusCode::CREATED, Json(body)).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

async fn revoke_key(
    State(state): State<AppState>,
    session: AdminSession,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    require_admin(&state, &session, &ws).await?;
    state
        .store
        .revoke_key(
            &ws,
            &id,
            Revoker::User { id: &session.user_id, email: &session.email },
            RevokeReason::Manual,
            json!({}),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowedIps {
    cidrs: Vec<String>,
}

/// Parse an allowlist, or the 422 that names every bad entry.
pub fn parse_allowlist(cidrs: &[String]) -> ApiResult<Allowlist> {
    Allowlist::parse(cidrs).map_err(|errs| {
        ApiError::Validation(
            errs.into_iter()
                .map(|e| {
                    let entry: String = e.entry.chars().take(64).collect();
                    FieldError::new(format!("cidrs[{}]", e.index), "invalid_cidr", format!("{entry:?}: {}", e.reason))
                })
                .collect(),
        )
    })
}

async fn set_allowed_ips(
    State(state): State<AppState>,
    session: AdminSession,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<AllowedIps>,
) -> ApiResult<Json<KeyObject>> {
    require_admin(&state, &session, &ws).await?;
    let list = parse_allowlist(&body.cidrs)?;
    Ok(Json(state.store.set_allowed_cidrs(&ws, &id, &list.to_strings(), &session.email).await?))
}

#[derive(Serialize)]
struct AuditPageView {
    data: Vec<AuditEntry>,
    has_more: bool,
}

async fn audit_log(
    State(state): State<AppState>,
    session: AdminSession,
    Path(ws): Path<String>,
    q: ListParams,
) -> ApiResult<Json<AuditPageView>> {
    require_admin(&state, &session, &ws).await?;
    if let Some(cursor) = q.starting_after.as_deref() {
        if !state.store.audit_entry_exists(&ws, cursor).await? {
            return Err(super::v1::extract::unknown_cursor());
        }
    }
    let page = state.store.audit_log(&ws, q.limit, q.starting_after.as_deref()).await?;
    Ok(Json(AuditPageView { data: page.data, has_more: page.has_more }))
}
