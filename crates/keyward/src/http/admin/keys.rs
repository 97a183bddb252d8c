//! `/api/workspaces/{ws}/api-keys` (SPEC §5): list, create and revoke keys,
//! set their allowlists; and the workspace's audit log.

use super::access::{require_admin, require_api_admin, WorkspaceAdmin};
use super::List;
use crate::http::created_with_secret;
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::ListParams;
use crate::http::json::ApiJson;
use crate::http::session::AdminSession;
use crate::state::AppState;
use crate::store::Revoker;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use keyward_core::allowlist::Allowlist;
use keyward_core::api::{AuditEntry, KeyObject};
use keyward_core::validate::KeyName;
use keyward_core::{ApiKeySecret, RevokeReason};
use keyward_core::{KeyId, WorkspaceId};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/workspaces/{ws}/api-keys", get(list_keys).post(create_key))
        .route("/api/workspaces/{ws}/api-keys/{id}", delete(revoke_key))
        .route("/api/workspaces/{ws}/api-keys/{id}/allowed-ips", put(set_allowed_ips))
        .route("/api/workspaces/{ws}/audit-log", get(audit_log))
}

async fn list_keys(State(state): State<AppState>, admin: WorkspaceAdmin) -> ApiResult<Json<List<KeyObject>>> {
    Ok(Json(List { data: state.store.list_keys(&admin.path).await? }))
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
    Path(ws): Path<WorkspaceId>,
    ApiJson(body): ApiJson<CreateKey>,
) -> ApiResult<Response> {
    require_api_admin(&state, &session, &ws).await?;
    let mut errors = Vec::new();
    let name = KeyName::parse(&body.name)
        .map_err(|e| errors.push(FieldError::new("name", e.code(), format!("name {e}"))))
        .ok();
    let terms = super::lifecycle::key_terms(body.expires_in_days, body.scopes.as_deref(), &mut errors);
    let (Some(name), true) = (name, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let secret = ApiKeySecret::generate();
    let object = state
        .store
        .create_key(&ws, name.as_str(), &secret.hash(), secret.last4(), (&session.user_id, &session.email), terms)
        .await?;
    Ok(created_with_secret(keyward_core::api::CreatedKey { object, key: secret.expose().to_string() }))
}

async fn revoke_key(
    State(state): State<AppState>,
    admin: WorkspaceAdmin<(WorkspaceId, KeyId)>,
) -> ApiResult<StatusCode> {
    let ((ws, id), session) = (&admin.path, &admin.session);
    state
        .store
        .revoke_key(
            ws,
            id,
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
    Path((ws, id)): Path<(WorkspaceId, KeyId)>,
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
    Path(ws): Path<WorkspaceId>,
    q: ListParams,
) -> ApiResult<Json<AuditPageView>> {
    require_admin(&state, &session, &ws).await?;
    if let Some(cursor) = q.starting_after.as_deref() {
        if !state.store.audit_entry_exists(&ws, cursor).await? {
            return Err(crate::http::extract::unknown_cursor());
        }
    }
    let page = state.store.audit_log(&ws, q.limit, q.starting_after.as_deref()).await?;
    Ok(Json(AuditPageView { data: page.data, has_more: page.has_more }))
}
