//! The key lifecycle in the admin API (SPEC §12): expiry and scopes at
//! creation, and `POST /api/workspaces/{ws}/api-keys/{id}/roll`.
use super::access::require_api_admin;
use crate::http::created_with_secret;
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::json::{is_json, parse_json};
use crate::http::session::AdminSession;
use crate::state::AppState;
use crate::store::{KeyTerms, Revoker, MAX_GRACE_SECS};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use keyward_core::api::CreatedKey;
use keyward_core::{ApiKeySecret, Scopes};
use keyward_core::{KeyId, WorkspaceId};
use serde::Deserialize;

/// Longest expiry at creation, in days.
pub const MAX_EXPIRES_IN_DAYS: i64 = 365;
/// A roll's grace period when the request names none (24 h).
pub const DEFAULT_GRACE_SECS: i64 = 86_400;
const DAY_MS: i64 = 86_400_000;

/// The lifecycle terms of `POST …/api-keys`, or the field errors (pushed
/// to `errors`) that refuse it.
pub fn key_terms(expires_in_days: Option<i64>, scopes: Option<&[String]>, errors: &mut Vec<FieldError>) -> KeyTerms {
    let mut terms = KeyTerms::default();
    match expires_in_days {
        Some(d @ 1..=MAX_EXPIRES_IN_DAYS) => terms.expires_in_ms = Some(d * DAY_MS),
        Some(_) => errors.push(FieldError::new(
            "expires_in_days",
            "out_of_range",
            format!("must be a whole number of days from 1 to {MAX_EXPIRES_IN_DAYS} (leave it out: never expires)"),
        )),
        None => {}
    }
    if let Some(list) = scopes {
        match Scopes::parse_list(list) {
            Ok(s) => terms.scopes = Some(s),
            Err(e) => errors.push(FieldError::new("scopes", e.code(), format!("scopes {e}"))),
        }
    }
    terms
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RollKey {
    #[serde(default)]
    grace_period_secs: Option<i64>,
}

/// `POST /api/workspaces/{ws}/api-keys/{id}/roll {grace_period_secs?}` →
/// 201 with the successor and its secret (once, `Cache-Control: no-store`).
/// An empty body takes the defaults. A revoked, expired or already rolled
/// key is a 409 `key_not_active`; the free plan, 403 `plan_required`.
pub async fn roll_key(
    State(state): State<AppState>,
    session: AdminSession,
    Path((ws, id)): Path<(WorkspaceId, KeyId)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    // A roll generates a key: like generating one, it needs a paid plan.
    require_api_admin(&state, &session, &ws).await?;
    let body: RollKey = if body.iter().all(u8::is_ascii_whitespace) {
        RollKey::default()
    } else if !is_json(&headers) {
        return Err(ApiError::UnsupportedMediaType("send the body as Content-Type: application/json"));
    } else {
        parse_json(&body)?
    };
    let grace = body.grace_period_secs.unwrap_or(DEFAULT_GRACE_SECS);
    if !(0..=MAX_GRACE_SECS).contains(&grace) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "grace_period_secs",
            "out_of_range",
            format!("must be a whole number of seconds from 0 to {MAX_GRACE_SECS} (7 days)"),
        )]));
    }
    let secret = ApiKeySecret::generate();
    let by = Revoker::User { id: &session.user_id, email: &session.email };
    let rolled = state.store.roll_key(&ws, &id, grace, &secret.hash(), secret.last4(), by).await?;
    Ok(created_with_secret(CreatedKey { object: rolled.new, key: secret.expose().to_string() }))
}
