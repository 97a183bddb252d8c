//! The `/v1` authentication pipeline (SPEC §4), in order:
//! 1. missing/malformed/bad checksum → 401 `invalid_api_key` (no storage read);
//! 2. unknown hash → 401 `invalid_api_key`;
//! 3. revoked → 401 `api_key_revoked`; expired → 401 `api_key_expired`
//!    (a comparison with the key's `expires_at`, cached with the key on
//!    SQLite: no storage read, and exact to the millisecond on every node);
//! 4. plan without API access → 403 `plan_required`;
//! 5. client IP outside the key's allowlist → 401 `ip_not_allowed`;
//! 6. over the key's rate limit → 429 `rate_limited`;
//! 7. the handler, after the scope check: a key without the scope the
//!    operation needs (from [`super::operations`]) → 403 `insufficient_scope`.
//!
//! Invalid keys (steps 1–2) count against the client IP's failed-auth
//! throttle. Every request whose key exists is recorded in the usage log,
//! whatever its outcome. Responses that passed steps 1–5 carry the
//! rate-limit headers.

use crate::http::error::{ApiError, ErrorCode};
use crate::http::extract::client_ip;
use crate::keycache::VerifiedKey;
use crate::state::AppState;
use crate::store::now_ms;
use crate::usage::{static_method, UsageRecord};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use keyward_core::api::Timestamp;
use keyward_core::key::{self, KeyParseError};
use keyward_core::ratelimit::Decision;
use keyward_core::{RateLimitPolicy, WorkspaceId};
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Instant;

/// What a `/v1` handler knows about its caller.
#[derive(Clone)]
pub struct ApiKeyContext {
    pub key: Arc<VerifiedKey>,
    pub policy: RateLimitPolicy,
}

impl ApiKeyContext {
    /// The workspace every query of this request is scoped to.
    pub fn workspace_id(&self) -> WorkspaceId {
        WorkspaceId::new(&*self.key.key.workspace_id)
    }
}

/// The bearer token of `Authorization: Bearer <token>` (scheme case-insensitive).
/// Two `Authorization` headers count as none (401 `invalid_api_key`): a
/// proxy that keeps the last one would see another caller than keyward.
/// A pure function of the headers (public for the fuzz targets in `fuzz/`).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let v = all.next()?.to_str().ok()?;
    if all.next().is_some() {
        return None;
    }
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
            Ok(parsed) => {
                let hash = parsed.hash();
                match state.keys.lookup(&hash).await {
                    Err(e) => {
                        tracing::error!(error = ?e, "key lookup failed");
                        return ApiError::Unavailable.into_response();
                    }
                    Ok(None) => Err("unknown API key"),
                    Ok(Some(k)) => Ok((k, hash)),
                }
            }
        },
    };
    let (vk, hash) = match verified {
        Ok(found) => found,
        Err(detail) => {
            return match state.limiter.failed_auth(ip, crate::store::unsigned_ms(now)).await {
                Some(retry) => ApiError::TooManyFailedAuth(retry).into_response(),
                None => ApiError::InvalidApiKey(detail).into_response(),
            };
        }
    };

    let method = static_method(req.method().as_str());
    let path = req.uri().path().to_owned();
    let matched = req.extensions().get::<MatchedPath>().map(|m| routes::intern(m.as_str()));
    let route: Arc<str> = match &matched {
        Some(m) => Arc::clone(&m.template),
        None => Arc::from(path.as_str()),
    };

    let res = match steps_3_to_5(&vk, ip, now) {
        Err(e) => e.into_response(),
        Ok(policy) => {
            // Step 6.
            let d = state.limiter.try_acquire(&hash, policy.requests_per_minute, crate::store::unsigned_ms(now)).await;
            if vk.take_touch(now) {
                state.last_used.touch(&vk.key.id, now, ip);
            }
            let missing = matched.and_then(|m| missing_scope(&m, req.method(), &vk));
            let mut res = if let (true, Some(scope)) = (d.allowed, missing) {
                ApiError::InsufficientScope(format!(
                    "this API key lacks the {scope} scope, which {} {} needs",
                    method, route
                ))
                .into_response()
            } else if d.allowed {
                req.extensions_mut().insert(ApiKeyContext { key: Arc::clone(&vk), policy });
                next.run(req).await
            } else {
                ApiError::RateLimited { limit: d.limit, per: "minute", retry_after: d.retry_after_secs.unwrap_or(1) }
                    .into_response()
            };
            rate_limit_headers(res.headers_mut(), &policy, &d);
            res
        }
    };

    // A method the route does not take: the request matched no operation.
    let route = if res.status() == axum::http::StatusCode::METHOD_NOT_ALLOWED { unmatched_route() } else { route };
    state.usage.record(usage_record(&vk, Use { method, route, path, started, now, ip }, &res)).await;
    res
}

/// A request made with a key that exists, as the usage log records it.
pub(crate) struct Use {
    pub method: &'static str,
    pub route: Arc<str>,
    pub path: String,
    pub started: Instant,
    pub now: i64,
    pub ip: std::net::IpAddr,
}

/// The usage log's record (SPEC §6) of `u`, answered `res`.
pub(crate) fn usage_record(vk: &VerifiedKey, u: Use, res: &Response) -> UsageRecord {
    UsageRecord {
        at_ms: u.now,
        workspace_id: Arc::clone(&vk.key.workspace_id),
        key_id: Arc::clone(&vk.key.id),
        method: u.method,
        route: u.route,
        path: u.path,
        status: res.status().as_u16(),
        code: res.extensions().get::<ErrorCode>().map(|c| c.0),
        latency_us: u64::try_from(u.started.elapsed().as_micros()).unwrap_or(u64::MAX),
        ip: u.ip,
    }
}

/// The route name of `/v1` requests that match no route or not its method
/// ([`super::unmatched`]).
pub const UNMATCHED: &str = "unmatched";

/// The shared `unmatched` route name.
pub fn unmatched_route() -> Arc<str> {
    static R: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from(UNMATCHED));
    Arc::clone(&R)
}

/// Steps 3–5; the rate-limit policy in force when they pass.
fn steps_3_to_5(vk: &VerifiedKey, ip: std::net::IpAddr, now: i64) -> Result<RateLimitPolicy, ApiError> {
    if let Some(at) = vk.key.revoked_at {
        let how = vk.key.revoke_reason.unwrap_or(keyward_core::RevokeReason::Manual).explanation();
        return Err(ApiError::ApiKeyRevoked(format!("this API key was revoked at {} ({how})", Timestamp(at))));
    }
    if expired(vk, now) {
        return Err(ApiError::ApiKeyExpired(format!(
            "this API key expired at {}; an admin can generate a new one (or roll a key before it expires)",
            Timestamp(vk.key.expires_at)
        )));
    }
    let policy = vk.policy.ok_or(ApiError::PlanRequired)?;
    if !vk.allows(ip) {
        return Err(ApiError::IpNotAllowed(ip.to_string()));
    }
    Ok(policy)
}

/// Step 3's expiry test: whether the key is expired at `now` (Unix ms), a
/// comparison with the cached key's `expires_at` (no storage read). Pure;
/// public for the request-path benchmark.
#[inline]
pub fn expired(vk: &VerifiedKey, now: i64) -> bool {
    now >= vk.key.expires_at
}

/// Step 7's scope test: the scope `method` on the matched `route` needs and
/// the key lacks (`None`: the key may call it). Pure; public for the
/// request-path benchmark.
#[inline]
pub fn missing_scope(
    route: &routes::Route,
    method: &axum::http::Method,
    vk: &VerifiedKey,
) -> Option<keyward_core::Scope> {
    route.scope_for(method).filter(|s| !vk.key.scopes.contains(*s))
}

/// `X-RateLimit-*` and the IETF draft `RateLimit-Policy` / `RateLimit` fields.
pub fn rate_limit_headers(h: &mut HeaderMap, policy: &RateLimitPolicy, d: &Decision) {
    static LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
    static REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
    static RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
    static POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
    static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
    h.reserve(5);
    h.insert(LIMIT.clone(), number(u64::from(d.limit)));
    h.insert(REMAINING.clone(), number(u64::from(d.remaining)));
    h.insert(RESET.clone(), number(d.reset_secs));
    // Built by hand: `format!` here was a visible share of the request path.
    let mut buf = [0u8; 96];
    let mut w = HeaderBuf { buf: &mut buf, len: 0 };
    w.quoted(policy.name).put(b";q=").num(u64::from(d.limit)).put(b";w=60");
    if let Some(v) = w.value() {
        h.insert(POLICY.clone(), v);
    }
    let mut w = HeaderBuf { buf: &mut buf, len: 0 };
    w.quoted(policy.name).put(b";r=").num(u64::from(d.remaining)).put(b";t=").num(d.reset_secs);
    if let Some(v) = w.value() {
        h.insert(RATELIMIT.clone(), v);
    }
}

/// A number as a header value. 0..=1000 (every plan's limit, the remaining
/// count under it, the reset seconds) come from a table made once, whose
/// values are static: cloning one allocates nothing and touches no shared
/// counter.
fn number(n: u64) -> HeaderValue {
    const SMALL: usize = 1001;
    static TABLE: LazyLock<Vec<HeaderValue>> =
        LazyLock::new(|| (0..SMALL).map(|i| HeaderValue::from_static(String::leak(i.to_string()))).collect());
    match usize::try_from(n).ok().and_then(|i| TABLE.get(i)) {
        Some(v) => v.clone(),
        None => HeaderValue::from(n),
    }
}

/// A fixed buffer a header value is assembled in; bytes past its end are
/// dropped and the value then refused (never the case for these fields).
struct HeaderBuf<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl HeaderBuf<'_> {
    fn put(&mut self, bytes: &[u8]) -> &mut Self {
        let end = self.len + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            dst.copy_from_slice(bytes);
        }
        self.len = end;
        self
    }

    fn quoted(&mut self, s: &str) -> &mut Self {
        self.put(b"\"").put(s.as_bytes()).put(b"\"")
    }

    fn num(&mut self, mut n: u64) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.put(&digits[i..])
    }

    fn value(&self) -> Option<HeaderValue> {
        HeaderValue::from_bytes(self.buf.get(..self.len)?).ok()
    }
}

/// Matched route templates, shared: a usage record names its route with a
/// clone of one `Arc<str>` per template instead of a new string per request,
/// and the same lookup gives the scopes its operations need (from
/// [`super::operations`], resolved once per template).
/// Only templates of routes that exist are interned (a bounded set).
/// Public for the request-path benchmark.
pub mod routes {
    use axum::http::Method;
    use keyward_core::Scope;
    use std::collections::HashMap;
    use std::sync::{Arc, LazyLock, RwLock};

    /// A route template and the scope each of its methods needs.
    pub struct Route {
        pub template: Arc<str>,
        scopes: Box<[(Method, Scope)]>,
    }

    impl Route {
        /// The scope `method` needs here; `None` when any key may (or the
        /// method is not an operation of this route: the router answers 405).
        pub fn scope_for(&self, method: &Method) -> Option<Scope> {
            let method = if method == Method::HEAD { &Method::GET } else { method };
            self.scopes.iter().find(|(m, _)| m == method).map(|(_, s)| *s)
        }
    }

    static ROUTES: LazyLock<RwLock<HashMap<Arc<str>, Arc<Route>>>> = LazyLock::new(Default::default);

    pub fn intern(template: &str) -> Arc<Route> {
        if let Some(r) = ROUTES.read().unwrap_or_else(|e| e.into_inner()).get(template) {
            return Arc::clone(r);
        }
        let mut map = ROUTES.write().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = map.get(template) {
            return Arc::clone(r);
        }
        let scopes = super::super::operation_scopes()
            .iter()
            .filter(|op| op.path == template)
            .filter_map(|op| Some((op.method.clone(), op.scope?)))
            .collect();
        let r = Arc::new(Route { template: Arc::from(template), scopes });
        map.insert(Arc::clone(&r.template), Arc::clone(&r));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, limit: u32, remaining: u32, reset_secs: u64) -> HeaderMap {
        let policy = RateLimitPolicy { name, requests_per_minute: limit };
        let d = Decision { allowed: true, limit, remaining, reset_secs, retry_after_secs: None };
        let mut h = HeaderMap::new();
        rate_limit_headers(&mut h, &policy, &d);
        h
    }

    #[test]
    fn rate_limit_headers_carry_the_spec_fields() {
        let h = headers("pro", 300, 299, 60);
        assert_eq!(h["x-ratelimit-limit"], "300");
        assert_eq!(h["x-ratelimit-remaining"], "299");
        assert_eq!(h["x-ratelimit-reset"], "60");
        assert_eq!(h["ratelimit-policy"], "\"pro\";q=300;w=60");
        assert_eq!(h["ratelimit"], "\"pro\";r=299;t=60");
    }

    #[test]
    fn rate_limit_headers_write_zero_and_the_largest_numbers() {
        let h = headers("custom", u32::MAX, 0, 0);
        assert_eq!(h["ratelimit-policy"], "\"custom\";q=4294967295;w=60");
        assert_eq!(h["ratelimit"], "\"custom\";r=0;t=0");
        let h = headers("enterprise", 1, 1, u64::MAX);
        assert_eq!(h["ratelimit"], "\"enterprise\";r=1;t=18446744073709551615");
    }

    #[test]
    fn numbers_from_the_table_and_beyond_it_read_the_same() {
        for n in [0, 1, 59, 60, 999, 1000, 1001, 65_536, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(number(n), n.to_string().as_str(), "{n}");
        }
    }

    #[test]
    fn route_templates_are_shared() {
        let a = routes::intern("/v1/studies/{id}");
        let b = routes::intern("/v1/studies/{id}");
        assert!(Arc::ptr_eq(&a.template, &b.template));
        assert_eq!(&*routes::intern("/v1/me").template, "/v1/me");
    }

    #[test]
    fn interned_routes_know_each_methods_scope() {
        use axum::http::Method;
        use keyward_core::Scope;
        let studies = routes::intern("/v1/studies");
        assert_eq!(studies.scope_for(&Method::GET), Some(Scope::StudiesRead));
        assert_eq!(studies.scope_for(&Method::HEAD), Some(Scope::StudiesRead));
        assert_eq!(studies.scope_for(&Method::POST), Some(Scope::StudiesWrite));
        assert_eq!(studies.scope_for(&Method::DELETE), None, "not an operation: the router answers 405");
        assert_eq!(routes::intern("/v1/me").scope_for(&Method::GET), None);
    }
}
