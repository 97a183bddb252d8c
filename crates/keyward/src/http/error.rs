//! One error type for every HTTP surface, rendered as RFC 9457
//! `application/problem+json` with a stable snake_case `code` and the
//! request's id. Storage and unexpected errors are logged with their cause
//! chain and answered as an opaque 500 (or 503 when the store is down).

use crate::store::StoreError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::Arc;

tokio::task_local! {
    /// The id of the request being served (set by the request-id middleware).
    pub static REQUEST_ID: Arc<str>;
    /// Where this server's docs live: `--public-url` without a trailing `/`,
    /// or empty for relative problem `type` URLs (set by the router).
    pub static DOCS_BASE: Arc<str>;
}

/// The id of the request being served, or `-` outside a request.
pub fn current_request_id() -> Arc<str> {
    REQUEST_ID.try_with(Arc::clone).unwrap_or_else(|_| Arc::from("-"))
}

/// One field's problem, in a 422.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// JSON path of the field, e.g. `name`, `segments[3].start_ms`, `cidrs[1]`.
    pub field: String,
    /// Stable snake_case code: `required`, `empty`, `too_long`, `invalid_type`, …
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), code: code.into(), message: message.into() }
    }
}

/// A 422 lists at most this many field errors.
pub const MAX_ERRORS: usize = 100;

/// The field errors of one body, capped at [`MAX_ERRORS`].
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn push(&mut self, field: impl Into<String>, code: &str, message: impl Into<String>) {
        if self.0.len() < MAX_ERRORS {
            self.0.push(FieldError::new(field, code, message));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    /// `Ok(v)` when nothing was pushed.
    pub fn finish<T>(self, v: T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(v)
        } else {
            Err(self.0)
        }
    }
}

/// The problem `code` of an error response, left in the response's
/// extensions so the usage log can record it.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

/// Every error keyward answers with.
///
/// A new variant also needs its line in [`super::error_docs::doc`] (the
/// compiler says so): `/docs/errors` lists every [`ApiErrorKind`].
#[derive(Debug, thiserror::Error, strum::EnumDiscriminants)]
#[strum_discriminants(name(ApiErrorKind), derive(strum::EnumIter))]
pub enum ApiError {
    /// 401: missing, malformed, bad-checksum or unknown API key.
    #[error("{0}")]
    InvalidApiKey(&'static str),
    /// 401: the key was revoked; the detail says when and how.
    #[error("{0}")]
    ApiKeyRevoked(String),
    /// 401: the key is past its `expires_at`; the detail says when.
    #[error("{0}")]
    ApiKeyExpired(String),
    /// 403: the key lacks the scope this operation needs; the detail names it.
    #[error("{0}")]
    InsufficientScope(String),
    /// 409: the key cannot be rolled (revoked, expired or already rolled).
    #[error("{0}")]
    KeyNotActive(String),
    /// 401: the client IP is outside the key's allowlist.
    #[error("this key is restricted to specific source IPs and {0} is not one of them")]
    IpNotAllowed(String),
    /// 403: the workspace's plan has no API access.
    #[error("API access needs a paid plan (starter, pro or enterprise)")]
    PlanRequired,
    /// 429: the key's per-minute limit is used up.
    #[error("rate limit of {limit} requests per {per} exceeded; retry after {retry_after} s")]
    RateLimited { limit: u32, per: &'static str, retry_after: u64 },
    /// 429: too many invalid keys from this client IP.
    #[error("too many requests with invalid API keys from this address; retry after {0} s")]
    TooManyFailedAuth(u64),
    /// 429: too many login attempts.
    #[error("too many login attempts; retry after {0} s")]
    TooManyLoginAttempts(u64),
    /// 401: no valid session (admin API).
    #[error("sign in first")]
    Unauthenticated,
    /// 401: a secret scanning report whose signature is missing, wrong or
    /// made with a key keyward does not know.
    #[error("{0}")]
    InvalidSignature(&'static str),
    /// 401: wrong email or password (one answer for both).
    #[error("incorrect email or password")]
    InvalidCredentials,
    /// 403: missing or wrong `X-CSRF-Token`.
    #[error("missing or invalid X-CSRF-Token header")]
    CsrfFailed,
    /// 403: the role does not allow this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404: no such resource (or not this tenant's).
    #[error("not found")]
    NotFound,
    /// 405.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 400: the body is not JSON.
    #[error("{0}")]
    InvalidJson(String),
    /// 400: a request keyward could not read otherwise (not the body).
    #[error("{0}")]
    BadRequest(&'static str),
    /// 413.
    #[error("request body larger than 1 MiB")]
    PayloadTooLarge,
    /// 415.
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    /// 422: field-level validation errors.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// 422: a limit such as 100 active keys per workspace.
    #[error("{0}")]
    LimitReached(&'static str),
    /// 422: the workspace already has 100 hooks.
    #[error("this workspace already has 100 webhooks; delete one before subscribing another")]
    HookLimitReached,
    /// 422: a webhook target URL names an address keyward does not send to.
    #[error("target_url points to an address that is not allowed (loopback, private, link-local, …)")]
    TargetNotAllowed(Vec<FieldError>),
    /// 503: webhooks need a master key that is not configured.
    #[error("webhooks are not configured on this server: the operator must set --webhooks-secret-key")]
    WebhooksUnavailable,
    /// 409: the request conflicts with the resource's current state (e.g. a
    /// unique value already taken).
    #[error("{0}")]
    Conflict(&'static str),
    /// 503: too many password checks in progress; retry after the seconds.
    #[error("too many sign-ins in progress; retry after {0} s")]
    Overloaded(u64),
    /// 503: the store does not answer; nothing was authenticated.
    #[error("service temporarily unavailable")]
    Unavailable,
    /// 500: logged, never detailed to the client.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            InvalidApiKey(_) | ApiKeyRevoked(_) | ApiKeyExpired(_) | IpNotAllowed(_) | Unauthenticated
            | InvalidCredentials | InvalidSignature(_) => StatusCode::UNAUTHORIZED,
            PlanRequired | CsrfFailed | Forbidden(_) | InsufficientScope(_) => StatusCode::FORBIDDEN,
            KeyNotActive(_) => StatusCode::CONFLICT,
            RateLimited { .. } | TooManyFailedAuth(_) | TooManyLoginAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            InvalidJson(_) | BadRequest(_) => StatusCode::BAD_REQUEST,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Validation(_) | LimitReached(_) | HookLimitReached | TargetNotAllowed(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Conflict(_) => StatusCode::CONFLICT,
            Unavailable | Overloaded(_) | WebhooksUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable snake_case code clients match on.
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            InvalidApiKey(_) => "invalid_api_key",
            ApiKeyRevoked(_) => "api_key_revoked",
            ApiKeyExpired(_) => "api_key_expired",
            InsufficientScope(_) => "insufficient_scope",
            KeyNotActive(_) => "key_not_active",
            IpNotAllowed(_) => "ip_not_allowed",
            PlanRequired => "plan_required",
            RateLimited { .. } => "rate_limited",
            TooManyFailedAuth(_) => "too_many_failed_auth",
            TooManyLoginAttempts(_) => "too_many_login_attempts",
            Unauthenticated => "unauthenticated",
            InvalidCredentials => "invalid_credentials",
            InvalidSignature(_) => "invalid_signature",
            CsrfFailed => "csrf_failed",
            Forbidden(_) => "forbidden",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            InvalidJson(_) => "invalid_json",
            BadRequest(_) => "bad_request",
            PayloadTooLarge => "payload_too_large",
            UnsupportedMediaType(_) => "unsupported_media_type",
            Validation(_) => "validation_failed",
            LimitReached(_) => "limit_reached",
            HookLimitReached => "hook_limit_reached",
            TargetNotAllowed(_) => "target_not_allowed",
            WebhooksUnavailable => "webhooks_unavailable",
            Conflict(_) => "conflict",
            Overloaded(_) => "login_busy",
            Unavailable => "service_unavailable",
            Internal(_) => "internal_error",
        }
    }

    /// The problem `type`: this server's `/docs/errors#<code>` (absolute
    /// under `--public-url`, else relative), except the 429 of a key's own
    /// limit, which has IANA's registered type (SPEC §4).
    pub fn problem_type(&self) -> String {
        match self {
            ApiError::RateLimited { .. } => "https://iana.org/assignments/http-problem-types#quota-exceeded".into(),
            other => {
                let code = other.code();
                DOCS_BASE
                    .try_with(|base| format!("{base}/docs/errors#{code}"))
                    .unwrap_or_else(|_| format!("/docs/errors#{code}"))
            }
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after, .. } => Some(*retry_after),
            ApiError::TooManyFailedAuth(s) | ApiError::TooManyLoginAttempts(s) | ApiError::Overloaded(s) => Some(*s),
            _ => None,
        }
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    code: &'a str,
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
}

impl ApiError {
    fn problem<'a>(&'a self, request_id: &'a str) -> Problem<'a> {
        let status = self.status();
        Problem {
            kind: self.problem_type(),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.to_string(),
            code: self.code(),
            request_id,
            errors: match self {
                ApiError::Validation(errs) | ApiError::TargetNotAllowed(errs) => Some(errs),
                _ => None,
            },
        }
    }

    /// The problem body this error is answered with, pretty-printed (the
    /// examples of `/docs/errors`).
    pub fn problem_json_pretty(&self, request_id: &str) -> String {
        serde_json::to_string_pretty(&self.problem(request_id)).unwrap_or_default()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(e) = &self {
            tracing::error!(request_id = %current_request_id(), error = ?e, "internal error");
        }
        let request_id = current_request_id();
        let body = self.problem(&request_id);
        let mut res = (status, serde_json::to_vec(&body).unwrap_or_default()).into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(s) = self.retry_after() {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if status == StatusCode::UNAUTHORIZED
            && matches!(
                self,
                ApiError::InvalidApiKey(_)
                    | ApiError::ApiKeyRevoked(_)
                    | ApiError::ApiKeyExpired(_)
                    | ApiError::IpNotAllowed(_)
            )
        {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"keyward\""));
        }
        res.extensions_mut().insert(ErrorCode(self.code()));
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::LimitReached(what) if what == crate::store::HOOK_LIMIT_MESSAGE => ApiError::HookLimitReached,
            StoreError::KeyNotActive(detail) => ApiError::KeyNotActive(detail),
            StoreError::LimitReached(what) => ApiError::LimitReached(what),
            StoreError::Conflict(_) => ApiError::Conflict("this conflicts with an existing resource"),
            e if e.is_unavailable() => {
                // The 503 carries no detail; the cause is logged here, once.
                tracing::warn!(request_id = %current_request_id(), error = ?e, "store unavailable");
                ApiError::Unavailable
            }
            other => ApiError::Internal(anyhow::Error::new(other)),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
