//! HTTP: the router and the middleware every response passes through.
//!
//! - `/v1/...`: the public API, authenticated by API key ([`v1`]);
//! - `/api/...`: the admin API, authenticated by session + CSRF ([`admin`], [`session`]);
//! - `/login`, `/settings/api-keys`, `/assets/...`: the web page ([`pages`]);
//! - `/docs/...`: the developer docs ([`docs`]);
//! - `/healthz`, `/readyz`.

pub mod admin;
pub mod docs;
pub mod error;
pub mod error_docs;
pub mod extract;
pub mod json;
pub mod pages;
pub mod session;
pub mod v1;

use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use error::{ApiError, REQUEST_ID};
use std::sync::Arc;

/// Largest request body accepted (413 beyond).
pub const BODY_LIMIT: usize = 1024 * 1024;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application.
pub fn router(state: AppState) -> Router {
    let docs_base: Arc<str> = Arc::from(state.settings.base_url());
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(session::router())
        .merge(admin::router())
        .merge(pages::router())
        .merge(docs::router())
        .merge(v1::router(state.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(problem_for_bare_errors))
        .layer(middleware::from_fn(request_id))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let base = Arc::clone(&docs_base);
            error::DOCS_BASE.scope(base, next.run(req))
        }))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.store.ping().await {
        "ready".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
    }
}

async fn not_found(State(state): State<AppState>, req: Request) -> Response {
    v1::unmatched::answer(&state, req, ApiError::NotFound).await
}

async fn method_not_allowed(State(state): State<AppState>, req: Request) -> Response {
    v1::unmatched::answer(&state, req, ApiError::MethodNotAllowed).await
}

/// Give every request an id: in `X-Request-Id` on the response, in the
/// tracing span, and in problem bodies (through a task-local).
async fn request_id(req: Request, next: Next) -> Response {
    let id: Arc<str> = Arc::from(ulid::Ulid::new().to_string());
    // Debug level: free at the default `info`, full context with RUST_LOG=debug.
    let span = tracing::debug_span!("request", id = %id, method = %req.method(), path = %req.uri().path());
    let start = std::time::Instant::now();
    let mut res = REQUEST_ID.scope(Arc::clone(&id), tracing::Instrument::instrument(next.run(req), span.clone())).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID.clone(), v);
    }
    // Only method, path (never the query, never headers), status and time.
    span.in_scope(|| {
        tracing::debug!(
            status = res.status().as_u16(),
            micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX),
            "served"
        )
    });
    res
}

/// Errors produced outside our handlers (axum's own 404/405/413 with empty
/// or plain-text bodies) become problem+json too, keeping their headers
/// (e.g. `Allow` on 405).
async fn problem_for_bare_errors(req: Request, next: Next) -> Response {
    let is_head = req.method() == Method::HEAD;
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || is_head {
        return res;
    }
    let already = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes().starts_with(b"application/problem+json") || v.as_bytes().starts_with(b"text/html")
    });
    if already {
        return res;
    }
    let err = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType("unsupported content type"),
        StatusCode::BAD_REQUEST => ApiError::BadRequest("the request could not be read"),
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::Validation(vec![]),
        _ => return res,
    };
    let (parts, _) = res.into_parts();
    let mut out = err.into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// A 201 whose body holds a secret shown only this once (a new key or a
/// hook's signing secret): `Cache-Control: no-store`, so no cache keeps it.
pub fn created_with_secret(body: impl serde::Serialize) -> Response {
    let mut res = (StatusCode::CREATED, axum::Json(body)).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Headers for HTML responses: a strict CSP and friends.
pub fn html_security_headers(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(keyward_web::CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}
