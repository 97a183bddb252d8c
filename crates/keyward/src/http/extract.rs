//! What `/v1` and the admin API read from a request alike, with rejections
//! that are problem+json: list parameters (422 with per-parameter errors,
//! never axum's plain-text 400), resource ids in the path (404 when
//! unreadable, like any id that does not exist), and the client's address.

use crate::http::error::{ApiError, Errors, FieldError};
use crate::state::AppState;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use std::net::{IpAddr, SocketAddr};

/// Items per page when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 20;
/// Largest `limit`.
pub const MAX_LIMIT: u32 = 100;

/// `?limit=&starting_after=` of a list. Unknown or repeated parameters are
/// errors: a typo such as `?limt=5` should not silently give 20 items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    pub limit: u32,
    pub starting_after: Option<String>,
}

impl ListParams {
    /// Parse decoded query pairs; every problem is reported at once.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, Vec<FieldError>> {
        let mut errs = Errors::default();
        let mut limit = None;
        let mut starting_after = None;
        for (i, (name, value)) in pairs.iter().enumerate() {
            let seen_before = pairs[..i].iter().any(|(n, _)| n == name);
            match name.as_str() {
                "limit" | "starting_after" if seen_before => {
                    errs.push(name.as_str(), "duplicate_parameter", "may be given only once")
                }
                "limit" => match value.parse::<u32>() {
                    Ok(n) if (1..=MAX_LIMIT).contains(&n) => limit = Some(n),
                    Ok(_) => errs.push("limit", "out_of_range", format!("must be between 1 and {MAX_LIMIT}")),
                    // A whole number, just too large or negative.
                    Err(_) if is_integer(value) => {
                        errs.push("limit", "out_of_range", format!("must be between 1 and {MAX_LIMIT}"))
                    }
                    Err(_) => errs.push("limit", "invalid_type", "expected an integer"),
                },
                "starting_after" => starting_after = Some(value.clone()),
                other => {
                    let shown = if other.chars().count() <= 64 && !other.chars().any(char::is_control) {
                        other
                    } else {
                        "(unknown)"
                    };
                    errs.push(shown, "unknown_parameter", "is not a known query parameter")
                }
            }
        }
        errs.finish(ListParams { limit: limit.unwrap_or(DEFAULT_LIMIT), starting_after })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri).map_err(|_| {
            ApiError::Validation(vec![FieldError::new("query", "invalid_query", "the query string could not be read")])
        })?;
        ListParams::parse(&pairs).map_err(ApiError::Validation)
    }
}

fn is_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The `{id}` of a resource path. An id that cannot even be decoded is as
/// unknown as any other: 404.
#[derive(Debug, Clone)]
pub struct ResourceId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ResourceId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state).await.map_err(|_| ApiError::NotFound)?;
        Ok(ResourceId(id))
    }
}

/// The cursor a list answered 422 to.
pub fn unknown_cursor() -> ApiError {
    ApiError::Validation(vec![FieldError::new(
        "starting_after",
        "unknown_cursor",
        "is not the id of an item of this list",
    )])
}

/// The client's address (SPEC §4): the peer, or, behind a trusted proxy,
/// the first untrusted address of `X-Forwarded-For`. Rate limits,
/// allowlists, the login throttle and the usage log all use it.
pub fn client_ip(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    use keyward_core::client_ip as ci;
    let trusted = &state.settings.trusted_proxies;
    let peer = keyward_core::allowlist::canonical_ip(peer.ip());
    // The common case (no proxy in front) costs no allocation.
    if trusted.is_empty() || !ci::is_trusted(peer, trusted) {
        return peer;
    }
    let xff: Vec<&str> = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
    ci::client_ip(peer, &xff, trusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &[(&str, &str)]) -> Result<ListParams, Vec<(String, String)>> {
        let pairs: Vec<(String, String)> = q.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        ListParams::parse(&pairs).map_err(|e| e.into_iter().map(|e| (e.field, e.code)).collect())
    }

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(parse(&[]).unwrap(), ListParams { limit: 20, starting_after: None });
        assert_eq!(parse(&[("limit", "1")]).unwrap().limit, 1);
        assert_eq!(parse(&[("limit", "100")]).unwrap().limit, 100);
        assert_eq!(parse(&[("starting_after", "std_x")]).unwrap().starting_after.as_deref(), Some("std_x"));
        for bad in ["0", "101", "-1", "99999999999999999999"] {
            assert_eq!(parse(&[("limit", bad)]).unwrap_err(), [("limit".into(), "out_of_range".into())], "{bad}");
        }
        for bad in ["", "-", "ten", "1.5", "1e2", " 5"] {
            assert_eq!(parse(&[("limit", bad)]).unwrap_err(), [("limit".into(), "invalid_type".into())], "{bad:?}");
        }
    }

    #[test]
    fn unknown_and_repeated_parameters_are_errors() {
        assert_eq!(parse(&[("limt", "5")]).unwrap_err(), [("limt".into(), "unknown_parameter".into())]);
        assert_eq!(
            parse(&[("limit", "5"), ("limit", "6")]).unwrap_err(),
            [("limit".into(), "duplicate_parameter".into())]
        );
        assert_eq!(parse(&[("limit", "0"), ("x", "")]).unwrap_err().len(), 2);
    }
}
