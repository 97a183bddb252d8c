//! The admin API under `/api/workspaces/{ws}/...` (SPEC §5): keys, allowlists,
//! key lifecycle, usage, notifications, webhooks and the audit log. Session +
//! CSRF only: an API key can never manage keys. A workspace the user is not a
//! member of answers 404; a member below admin gets 403 `forbidden`
//! ([`access::require_admin`]).

pub mod access;
pub mod hooks;
pub mod keys;
pub mod lifecycle;
pub mod notices;
pub mod usage;

use crate::state::AppState;
use axum::routing::{delete, get, post};
use axum::Router;
use serde::Serialize;

/// The admin API's answer for a whole list: `{"data": [...]}`.
#[derive(Serialize)]
pub struct List<T> {
    pub data: Vec<T>,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(keys::router())
        .route("/api/workspaces/{ws}/api-keys/{id}/roll", post(lifecycle::roll_key))
        .route("/api/workspaces/{ws}/api-usage", get(usage::api_usage))
        .route("/api/workspaces/{ws}/notifications", get(usage::notifications))
        .route("/api/workspaces/{ws}/hooks", get(hooks::list_hooks).post(hooks::create_hook))
        .route("/api/workspaces/{ws}/hooks/{id}", delete(hooks::delete_hook))
        .merge(notices::router())
}
