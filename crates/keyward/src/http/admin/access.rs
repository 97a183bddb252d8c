//! Who may manage a workspace through the admin API.

use crate::http::error::{ApiError, ApiResult};
use crate::http::session::AdminSession;
use crate::state::AppState;
use crate::store::MembershipView;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use keyward_core::WorkspaceId;
use serde::de::DeserializeOwned;

/// The caller's membership, if they may manage this workspace's keys:
/// 404 for non-members (existence not revealed), 403 below admin.
pub async fn require_admin(state: &AppState, session: &AdminSession, ws: &WorkspaceId) -> ApiResult<MembershipView> {
    let m = state.store.membership(ws, &session.user_id).await?.ok_or(ApiError::NotFound)?;
    if !m.role.can_manage_keys() {
        return Err(ApiError::Forbidden("only admins and superadmins can manage API keys"));
    }
    Ok(m)
}

/// [`require_admin`], on a paid plan: what creating a key or a hook needs
/// (403 `plan_required` on the free plan).
pub async fn require_api_admin(state: &AppState, session: &AdminSession, ws: &WorkspaceId) -> ApiResult<()> {
    let m = require_admin(state, session, ws).await?;
    if !m.workspace.plan.has_api_access() {
        return Err(ApiError::PlanRequired);
    }
    Ok(())
}

/// A route path that starts with `{ws}`: the workspace alone, or with the
/// id of something in it.
pub trait WorkspacePath {
    fn workspace(&self) -> &WorkspaceId;
}

impl WorkspacePath for WorkspaceId {
    fn workspace(&self) -> &WorkspaceId {
        self
    }
}

impl<T> WorkspacePath for (WorkspaceId, T) {
    fn workspace(&self) -> &WorkspaceId {
        &self.0
    }
}

/// An admin of the route's workspace: the session (and its CSRF check),
/// then the path `P`, then [`require_admin`]. For handlers that read
/// nothing else from the request, so the checks keep the order of
/// `AdminSession, Path<P>` extractors followed by `require_admin` in the
/// handler (a handler that also reads a body or a query keeps those).
pub struct WorkspaceAdmin<P = WorkspaceId> {
    pub session: AdminSession,
    pub membership: MembershipView,
    pub path: P,
}

impl<P: WorkspacePath + DeserializeOwned + Send> FromRequestParts<AppState> for WorkspaceAdmin<P> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = AdminSession::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let Path(path) = Path::<P>::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let membership = require_admin(state, &session, path.workspace()).await.map_err(IntoResponse::into_response)?;
        Ok(WorkspaceAdmin { session, membership, path })
    }
}
