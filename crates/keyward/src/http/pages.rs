//! The web page: `/login`, `/settings/api-keys` and the embedded assets.
use crate::app::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
}
