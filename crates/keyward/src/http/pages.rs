//! The web page (SPEC §7): `/login`, `/settings/api-keys` and the embedded
//! assets. Server-rendered: the first response already holds the keys table
//! and the usage figures; `app.js` only enhances it through the admin API.

use super::error::{ApiError, ApiResult};
use super::html_security_headers;
use super::session::{self, AdminSession};
use crate::state::AppState;
use crate::store::now_ms;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use keyward_core::api::UsageReport;
use keyward_core::{KeyId, WorkspaceId};
use keyward_web::{ApiKeysPage, LoginPage, PageState};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to(keyward_web::API_KEYS_PATH) }))
        .route("/login", get(login_page))
        .route("/settings/api-keys", get(api_keys_page))
        .route("/settings/api-keys/rows/{id}", get(key_row))
        .route("/settings/api-keys/audit-rows", get(audit_rows))
        .route("/assets/{*path}", get(asset))
}

fn html(body: String) -> Response {
    let mut res = Html(body).into_response();
    html_security_headers(&mut res);
    res
}

/// An HTML fragment for `app.js`: never cached (it shows one moment's state).
fn fragment(body: String) -> Response {
    let mut res = html(body);
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

async fn login_page(Query(q): Query<LoginQuery>, session: Option<AdminSession>) -> ApiResult<Response> {
    if session.is_some() {
        return Ok(Redirect::to(keyward_web::API_KEYS_PATH).into_response());
    }
    Ok(html(keyward_web::render_login(&LoginPage { error: None, email: None, next: q.next.as_deref() })))
}

/// The query of the page and of its fragments: the workspace (the first
/// of the user's when the page is not given one), the usage filter of the
/// page, and the cursor of the audit rows. Each reads what it needs.
#[derive(Deserialize)]
struct PageQuery {
    workspace: Option<WorkspaceId>,
    key_id: Option<String>,
    starting_after: Option<String>,
}

async fn api_keys_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
    session: Option<AdminSession>,
) -> ApiResult<Response> {
    let Some(session) = session else {
        return Ok(Redirect::to("/login?next=/settings/api-keys").into_response());
    };
    // `--public-url`, else the address the browser used.
    let base = match state.settings.base_url() {
        b if !b.is_empty() => b,
        _ => match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
            Some(host) => format!("http://{host}"),
            None => String::new(),
        },
    };
    render_page(&state, &session, q, &format!("{base}/v1")).await
}

async fn render_page(
    state: &AppState,
    session: &AdminSession,
    q: PageQuery,
    api_base_url: &str,
) -> ApiResult<Response> {
    let workspaces = session::workspaces_of(state, &session.user_id).await?;
    let current = match q.workspace.as_deref() {
        Some(id) => workspaces.iter().find(|w| w.id == id).ok_or(ApiError::NotFound)?,
        None => match workspaces.first() {
            Some(w) => w,
            None => {
                return Ok(html(keyward_web::render_login(&LoginPage {
                    error: Some("Your account does not belong to any workspace yet. Ask an admin to add you."),
                    email: Some(&session.email),
                    next: None,
                })))
            }
        },
    };
    let now = now_ms();
    let keys;
    let usage: UsageReport;
    let notifications;
    let mut hooks = Vec::new();
    let mut leaks = Vec::new();
    let key_filter = q.key_id.as_deref().filter(|k| !k.is_empty());
    let page_state = if !current.role.can_manage_keys() {
        PageState::NotAdmin
    } else {
        let ws = WorkspaceId::new(current.id.as_str());
        keys = state.store.list_keys(&ws).await?;
        let filter = key_filter.filter(|k| keys.iter().any(|key| key.id == *k));
        usage = super::admin::usage::usage_report(state, &ws, filter.map(KeyId::new).as_ref()).await?;
        notifications = super::admin::usage::notifications_for(state, &ws, &session.user_id).await?;
        hooks = super::admin::hooks::hook_rows(state, &ws).await?;
        if keys.iter().any(|k| k.revoke_reason == Some(keyward_core::RevokeReason::Leaked)) {
            leaks = state.store.leak_reports(&ws).await?;
        }
        if current.plan.has_api_access() {
            PageState::Ready { keys: &keys, usage: &usage, notifications: &notifications, key_filter: filter }
        } else {
            PageState::PlanRequired { keys: &keys, usage: &usage, notifications: &notifications, key_filter: filter }
        }
    };
    // The audit log's first page, for admins (the card pages on with app.js).
    let audit = if current.role.can_manage_keys() {
        Some(state.store.audit_log(&WorkspaceId::new(current.id.as_str()), keyward_web::AUDIT_PAGE_SIZE, None).await?)
    } else {
        None
    };
    Ok(html(keyward_web::render_api_keys(&ApiKeysPage {
        user_email: &session.email,
        csrf_token: &session.csrf_token,
        workspaces: &workspaces,
        current,
        now_ms: now,
        api_base_url,
        state: page_state,
        hooks: &hooks,
        leaks: &leaks,
        audit: audit.as_ref().map(|a| keyward_web::AuditView { entries: &a.data, has_more: a.has_more }),
    })))
}

/// `GET /settings/api-keys/rows/{id}?workspace=WS`: one row of the keys
/// table as the page renders it (an HTML fragment), for `app.js` to put in
/// place after it creates, rotates, revokes or restricts a key, so the row's
/// markup is written once (keyward-web's `key_row`). Read-only, so the
/// session cookie suffices (no CSRF token); admins only, another
/// workspace's key is 404 like on the admin API.
async fn key_row(
    State(state): State<AppState>,
    session: AdminSession,
    Path(id): Path<KeyId>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Response> {
    // No workspace: no such row (like another workspace's key).
    let ws = q.workspace.ok_or(ApiError::NotFound)?;
    let m = super::admin::access::require_admin(&state, &session, &ws).await?;
    let key = state.store.key(&ws, &id).await?;
    let leaks = if key.revoke_reason == Some(keyward_core::RevokeReason::Leaked) {
        state.store.leak_reports(&ws).await?
    } else {
        Vec::new()
    };
    Ok(fragment(keyward_web::render_key_row(&key, m.workspace.plan.has_api_access(), now_ms(), &leaks)))
}

/// `GET /settings/api-keys/audit-rows?workspace=WS[&starting_after=ID]`: the
/// next page of the audit log as the card's rows (`<tbody data-has-more>`),
/// for the card's "Show older" button; the same rules as
/// `GET /api/workspaces/{ws}/audit-log` (admins only, an unknown cursor 422).
async fn audit_rows(
    State(state): State<AppState>,
    session: AdminSession,
    Query(q): Query<PageQuery>,
) -> ApiResult<Response> {
    let ws = q.workspace.ok_or(ApiError::NotFound)?;
    super::admin::access::require_admin(&state, &session, &ws).await?;
    if let Some(cursor) = q.starting_after.as_deref() {
        if !state.store.audit_entry_exists(&ws, cursor).await? {
            return Err(super::extract::unknown_cursor());
        }
    }
    let page = state.store.audit_log(&ws, keyward_web::AUDIT_PAGE_SIZE, q.starting_after.as_deref()).await?;
    let keys = state.store.list_keys(&ws).await?;
    Ok(fragment(keyward_web::render_audit_rows(&page.data, page.has_more, &keys, now_ms())))
}

async fn asset(Path(path): Path<String>) -> Response {
    match keyward_web::asset(&path) {
        Some((content_type, bytes)) => {
            let mut res = (StatusCode::OK, bytes).into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
            h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            res
        }
        None => ApiError::NotFound.into_response(),
    }
}
