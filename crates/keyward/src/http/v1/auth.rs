//! The `/v1` authentication pipeline (SPEC §4), in order:
//! 1. missing/malformed/bad checksum → 401 `invalid_api_key` (no storage read);
//! 2. unknown hash → 401 `invalid_api_key`;
//! 3. revoked → 401 `api_key_revoked`;
//! 4. plan without API access → 403 `plan_required`;
//! 5. client IP outside the key's allowlist → 401 `ip_not_allowed`;
//! 6. over the key's rate limit → 429 `rate_limited`;
//! 7. the handler.
//!
//! Invalid keys (steps 1–2) count against the client IP's failed-auth
//! throttle. Every request whose key exists is recorded in the usage log,
//! whatever its outcome. Responses that passed steps 1–5 carry the
//! rate-limit headers.

use crate::app::AppState;
use crate::auth::VerifiedKey;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::session::client_ip;
use crate::store::now_ms;
use crate::usage::UsageRecord;
use axum::extract::{ConnectInfo, MatchedPath, OriginalUri, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use keyward_core::api::Timestamp;
use keyward_core::key::{self, KeyParseError};
use keyward_core::ratelimit::Decision;
use keyward_core::{HashedKey, RateLimitPolicy};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// What a `/v1` handler knows about its caller.
#[derive(Clone)]
pub struct ApiKeyContext {
    pub key: Arc<VerifiedKey>,
    pub policy: RateLimitPolicy,
}

impl ApiKeyContext {
    /// The workspace every query of this request is scoped to.
    pub fn workspace_id(&self) -> &str {
        &self.key.key.workspace_id[..]
    }
}

/// The bearer token of `Authorization: Bearer <token>` (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn parse_detail(e: KeyParseError) -> &'static str {
    match e {
        KeyParseError::Checksum => "the API key's checksum does not match: it was mistyped or made up",
        _ => "the API key is malformed: keys look like ue_live_ followed by 38 letters and digits",
    }
}

pub async fn pipeline(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let now = now_ms();
    let ip = client_ip(&state, peer, req.headers());

    // Steps 1–2: a well-formed key that exists.
    let verified = match bearer(req.headers()) {
        None => Err("send the key as Authorization: Bearer ue_live_…"),
        Some(token) => match key::parse(token) {
            Err(e) => Err(parse_detail(e)),
            Ok(()) => match state.keys.lookup(&HashedKey::of(token)).await {
                Err(e) => {
                    tracing::error!(error = ?e, "key lookup failed");
                    return ApiError::Unavailable.into_response();
                }
                Ok(None) => Err("unknown API key"),
                Ok(Some(k)) => Ok(k),
            },
        },
    };
    let vk = match verified {
        Ok(vk) => vk,
        Err(detail) => {
            return match state.limiter.failed_auth(ip, now as u64).await {
                Some(retry) => ApiError::TooManyFailedAuth(retry).into_response(),
                None => ApiError::InvalidApiKey(detail).into_response(),
            };
        }
    };

    let method = static_method(req.method().as_str());
    // The full path: inside the nested `/v1` router `req.uri()` lacks the prefix.
    let path = req.extensions().get::<OriginalUri>().map_or(req.uri().path(), |u| u.path()).to_owned();
    let route: Arc<str> = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| Arc::from(m.as_str()))
        .unwrap_or_else(|| Arc::from(path.as_str()));

    let res = match steps_3_to_5(&vk, ip) {
        Err(e) => e.into_response(),
        Ok(policy) => {
            // Step 6.
            let d = state.limiter.try_acquire(&vk.hash, policy.requests_per_minute, now as u64).await;
            state.last_used.touch(&vk.key.id, now, ip);
            let mut res = if d.allowed {
                req.extensions_mut().insert(ApiKeyContext { key: Arc::clone(&vk), policy });
                next.run(req).await
            } else {
                ApiError::RateLimited { limit: d.limit, retry_after: d.retry_after_secs.unwrap_or(1) }.into_response()
            };
            rate_limit_headers(res.headers_mut(), &policy, &d);
            res
        }
    };

    state
        .usage
        .record(UsageRecord {
            at_ms: now,
            workspace_id: Arc::clone(&vk.key.workspace_id),
            key_id: Arc::clone(&vk.key.id),
            method,
            route,
            path,
            status: res.status().as_u16(),
            code: res.extensions().get::<ErrorCode>().map(|c| c.0),
            latency_us: started.elapsed().as_micros() as u64,
            ip,
        })
        .await;
    res
}

/// Steps 3–5; the rate-limit policy in force when they pass.
fn steps_3_to_5(vk: &VerifiedKey, ip: std::net::IpAddr) -> Result<RateLimitPolicy, ApiError> {
    if let Some(at) = vk.key.revoked_at {
        let how = match vk.key.revoke_reason.as_deref() {
            Some("auto_error_rate") => "automatically, after a sustained high rate of 401/422 errors",
            _ => "manually by a workspace admin",
        };
        return Err(ApiError::ApiKeyRevoked(format!("this API key was revoked at {} ({how})", Timestamp(at))));
    }
    let policy = vk.policy.ok_or(ApiError::PlanRequired)?;
    if !vk.allows(ip) {
        return Err(ApiError::IpNotAllowed(ip.to_string()));
    }
    Ok(policy)
}

fn static_method(m: &str) -> &'static str {
    match m {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

/// `X-RateLimit-*` and the IETF draft `RateLimit-Policy` / `RateLimit` fields.
pub fn rate_limit_headers(h: &mut HeaderMap, policy: &RateLimitPolicy, d: &Decision) {
    h.insert("x-ratelimit-limit", HeaderValue::from(d.limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(d.remaining));
    h.insert("x-ratelimit-reset", HeaderValue::from(d.reset_secs));
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\";q={};w=60", policy.name, d.limit)) {
        h.insert("ratelimit-policy", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\";r={};t={}", policy.name, d.remaining, d.reset_secs)) {
        h.insert("ratelimit", v);
    }
}
