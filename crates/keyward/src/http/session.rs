//! Sessions for the admin page and API (SPEC §5): login, logout, the
//! `AdminSession` extractor with CSRF enforcement, and login throttling.
//!
//! Tokens are 256 random bits, stored only as SHA-256. Idle expiry
//! [`SESSION_IDLE_MS`] (12 h), absolute expiry [`SESSION_ABSOLUTE_MS`] (7 days).

use super::error::{ApiError, ApiResult};
use super::extract::client_ip;
use super::json::ApiJson;
use crate::state::{AppState, SESSION_ABSOLUTE_MS, SESSION_IDLE_MS};
use crate::store::now_ms;
use axum::extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use keyward_core::api::WorkspaceMembership;
use keyward_core::UserId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use subtle::ConstantTimeEq;

/// Name of the session cookie.
pub const COOKIE: &str = "keyward_session";

pub fn router() -> Router<AppState> {
    Router::new().route("/api/session", post(login).delete(logout).get(current))
}

/// A signed-in user, from the session cookie.
#[derive(Clone)]
pub struct AdminSession {
    pub user_id: UserId,
    pub email: String,
    pub csrf_token: String,
    token_hash: [u8; 32],
}

impl std::fmt::Debug for AdminSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminSession").field("user_id", &self.user_id).finish_non_exhaustive()
    }
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The session of a request, if it carries a live one (pages use this to
/// redirect to /login instead of answering 401).
pub async fn load(state: &AppState, headers: &HeaderMap) -> ApiResult<Option<AdminSession>> {
    let Some(token) = cookie_token(headers) else { return Ok(None) };
    let hash = token_hash(token);
    let Some(s) = state.store.session(&hash).await? else { return Ok(None) };
    let now = now_ms();
    if now - s.last_seen_at > SESSION_IDLE_MS || now - s.created_at > SESSION_ABSOLUTE_MS {
        state.store.delete_session(&hash).await?;
        return Ok(None);
    }
    if now - s.last_seen_at > 60_000 {
        state.store.touch_session(&hash, now).await?;
    }
    Ok(Some(AdminSession { user_id: s.user_id, email: s.email, csrf_token: s.csrf_token, token_hash: hash }))
}

impl FromRequestParts<AppState> for AdminSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let session = load(state, &parts.headers).await?.ok_or(ApiError::Unauthenticated)?;
        let mutating = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if mutating {
            let sent = parts.headers.get("x-csrf-token").map(|v| v.as_bytes()).unwrap_or_default();
            if !bool::from(sent.ct_eq(session.csrf_token.as_bytes())) {
                return Err(ApiError::CsrfFailed);
            }
        }
        Ok(session)
    }
}

/// `Option<AdminSession>`: the live session if the request carries one
/// ([`load`]), for the pages, which send a signed-out browser to /login
/// instead of answering 401. No CSRF check: pages are only read.
impl OptionalFromRequestParts<AppState> for AdminSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        load(state, &parts.headers).await
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
}

#[derive(Serialize)]
struct UserView {
    id: String,
    email: String,
}

#[derive(Serialize)]
struct SessionView {
    user: UserView,
    workspaces: Vec<WorkspaceMembership>,
    csrf_token: String,
}

/// The user's workspaces, as the session answer and the page show them.
pub async fn workspaces_of(state: &AppState, user_id: &UserId) -> ApiResult<Vec<WorkspaceMembership>> {
    Ok(state
        .store
        .memberships_of(user_id)
        .await?
        .into_iter()
        .map(|m| WorkspaceMembership {
            id: m.workspace.id.into_string(),
            name: m.workspace.name,
            role: m.role,
            plan: m.workspace.plan,
        })
        .collect())
}

async fn session_view(state: &AppState, user_id: &UserId, email: &str, csrf: String) -> ApiResult<SessionView> {
    let workspaces = workspaces_of(state, user_id).await?;
    Ok(SessionView { user: UserView { id: user_id.to_string(), email: email.into() }, workspaces, csrf_token: csrf })
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<Response> {
    let ip = client_ip(&state, peer, &headers);
    let email = body.email.trim().to_lowercase();
    let now = crate::store::unsigned_ms(now_ms());
    // The attempt is counted before the check runs, so concurrent attempts
    // cannot all pass the throttle before the first failure is recorded.
    let reservation = state.logins.reserve(&email, ip, now).await.map_err(ApiError::TooManyLoginAttempts)?;
    let user = match state.store.user_by_email(&email).await {
        Ok(u) => u,
        Err(e) => {
            state.logins.release(reservation).await;
            return Err(e.into());
        }
    };
    // Verify against a dummy hash for unknown emails: same work, same time.
    let phc =
        user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| crate::password::dummy_hash().to_string());
    let ok = match state.hash_gate.verify(body.password, phc).await {
        Ok(ok) => ok,
        Err(crate::password::Busy) => {
            state.usage.metrics().logins_refused_busy.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            state.logins.release(reservation).await;
            return Err(ApiError::Overloaded(1));
        }
    };
    let user = match user {
        Some(u) if ok => {
            state.logins.release(reservation).await;
            u
        }
        // The reservation stays: a failed attempt.
        _ => return Err(ApiError::InvalidCredentials),
    };
    let token = random_hex();
    let csrf = random_hex();
    state.store.create_session(&token_hash(&token), &user.id, &csrf, now_ms()).await?;
    let view = session_view(&state, &user.id, &user.email, csrf).await?;
    let mut cookie =
        format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}", SESSION_ABSOLUTE_MS / 1000);
    if state.settings.https() {
        cookie.push_str("; Secure");
    }
    let mut res = Json(view).into_response();
    let h = res.headers_mut();
    h.insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(|e| ApiError::Internal(e.into()))?);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

async fn logout(State(state): State<AppState>, session: AdminSession) -> ApiResult<Response> {
    state.store.delete_session(&session.token_hash).await?;
    let mut cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    if state.settings.https() {
        cookie.push_str("; Secure");
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(|e| ApiError::Internal(e.into()))?);
    Ok(res)
}

/// `GET /api/session`: who am I (the page's script uses it).
async fn current(State(state): State<AppState>, session: AdminSession) -> ApiResult<Response> {
    let view = session_view(&state, &session.user_id, &session.email, session.csrf_token.clone()).await?;
    let mut res = Json(view).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

fn random_hex() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}
