//! `/v1` requests that match no route (404) or not its method (405) are
//! recorded in the usage log with route `unmatched` when they carry a key
//! that exists (SPEC §6): they are what someone debugging an integration
//! looks for. The answer itself does not change.
use super::auth::{bearer, unmatched_route, usage_record, ApiKeyContext, Use};
use crate::http::error::ApiError;
use crate::http::extract::client_ip;
use crate::state::AppState;
use crate::store::now_ms;
use crate::usage::static_method;
use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use keyward_core::key;
use std::net::SocketAddr;

/// Answer `err`, recording it first when `req` is a `/v1` request with a
/// known key that the authentication pipeline did not already record. An
/// invalid key costs nothing here (no failed-auth count: the 404/405 says
/// nothing about the key).
pub async fn answer(state: &AppState, req: Request, err: ApiError) -> Response {
    let started = std::time::Instant::now();
    let res = err.into_response();
    let path = req.uri().path();
    if !(path == "/v1" || path.starts_with("/v1/")) || req.extensions().get::<ApiKeyContext>().is_some() {
        return res;
    }
    let Some(token) = bearer(req.headers()) else { return res };
    let Ok(parsed) = key::parse(token) else { return res };
    let vk = match state.keys.lookup(&parsed.hash()).await {
        Ok(Some(vk)) => vk,
        Ok(None) => return res,
        Err(e) => {
            tracing::warn!(error = ?e, "key lookup for an unmatched /v1 request failed");
            return res;
        }
    };
    let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() else { return res };
    let ip = client_ip(state, peer, req.headers());
    let method = static_method(req.method().as_str());
    let u = Use { method, route: unmatched_route(), path: path.to_owned(), started, now: now_ms(), ip };
    state.usage.record(usage_record(&vk, u, &res)).await;
    res
}
