//! Who may manage a workspace through the admin API.

use crate::http::error::{ApiError, ApiResult};
use crate::http::session::AdminSession;
use crate::state::AppState;
use crate::store::MembershipView;
use keyward_core::WorkspaceId;

/// The caller's membership, if they may manage this workspace's keys:
/// 404 for non-members (existence not revealed), 403 below admin.
pub async fn require_admin(state: &AppState, session: &AdminSession, ws: &WorkspaceId) -> ApiResult<MembershipView> {
    let m = state.store.membership(ws, &session.user_id).await?.ok_or(ApiError::NotFound)?;
    if !m.role.can_manage_keys() {
        return Err(ApiError::Forbidden("only admins and superadmins can manage API keys"));
    }
    Ok(m)
}
