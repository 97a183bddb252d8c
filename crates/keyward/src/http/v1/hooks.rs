//! `/v1/hooks`: REST-hook subscriptions (SPEC §9) for Zapier and scripts.
//! Also the validation and creation shared with the admins' key-event
//! hooks (`/api/workspaces/{ws}/hooks`).

use super::openapi::{HookIdParam, HookListParams};
use super::{page_of, Scoped};
use crate::http::created_with_secret;
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::{ListParams, ResourceId};
use crate::http::json::ApiJson;
use crate::outbound::{check_url, Policy, UrlError};
use crate::state::AppState;
use crate::store::{HookRecord, NewHook, StoreError};
use crate::webhooks::{secret, EventType, HOOK_PREFIX, MAX_TARGET_URL_CHARS};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Json;
use keyward_core::api::Timestamp;
use keyward_core::ids;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A REST-hook subscription (never its secret).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Hook)]
pub struct HookObject {
    /// `hook_` + ULID.
    #[schema(pattern = "^hook_[0-9A-HJKMNP-TV-Z]{26}$", example = "hook_01JD8X4V6Q2W3E4R5T6Y7Z8A9B")]
    pub id: String,
    #[schema(example = "https://hooks.zapier.com/hooks/standard/123/abc")]
    pub target_url: String,
    #[schema(example = "transcript.created")]
    pub event: String,
    /// `active`, or `disabled` (its key was revoked, or its last 5 events were given up).
    #[schema(example = "active")]
    pub status: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<&HookRecord> for HookObject {
    fn from(h: &HookRecord) -> Self {
        HookObject {
            id: h.id.clone(),
            target_url: h.target_url.clone(),
            event: h.event.clone(),
            status: h.status.clone(),
            created_at: Timestamp(h.created_at),
        }
    }
}

/// A new hook: the object plus its signing secret, shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedHook {
    #[serde(flatten)]
    pub hook: HookObject,
    /// `whsec_` + base64 of 24 random bytes. Verify each delivery's
    /// `webhook-signature` with it (Standard Webhooks). Shown only once.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// The body of `POST /v1/hooks`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CreateHook {
    /// Absolute `https://` URL, at most 2048 characters, no user-info, not
    /// a loopback/private/link-local address.
    #[schema(max_length = 2048, example = "https://hooks.zapier.com/hooks/standard/123/abc")]
    target_url: String,
    #[schema(inline)]
    event: RestEvent,
}

#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum RestEvent {
    #[schema(rename = "study.created")]
    StudyCreated,
    #[schema(rename = "transcript.created")]
    TranscriptCreated,
}

/// A page of hooks, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookList {
    pub data: Vec<HookObject>,
    pub has_more: bool,
}

/// Validate `{target_url, event}`: every problem at once, per field.
pub(crate) fn parse_hook_input(
    state: &AppState,
    body: &Value,
    allowed: fn(EventType) -> bool,
) -> ApiResult<(String, EventType)> {
    parse_hook_body(body, state.webhooks.client.policy(), allowed)
}

/// [`parse_hook_input`] without the app state: the body of `POST /v1/hooks`
/// (or the admin's hooks) checked against the outbound URL `policy`, with
/// `allowed` the events this endpoint takes. A pure function, public for the
/// fuzz targets in `fuzz/`.
pub fn parse_hook_body(body: &Value, policy: Policy, allowed: fn(EventType) -> bool) -> ApiResult<(String, EventType)> {
    let mut errs = Vec::new();
    let Some(obj) = body.as_object() else {
        return Err(ApiError::Validation(vec![FieldError::new("", "invalid_type", "expected a JSON object")]));
    };
    for k in obj.keys().filter(|k| !matches!(k.as_str(), "target_url" | "event")) {
        let shown: String = k.chars().take(64).collect();
        errs.push(FieldError::new(shown, "unknown_field", "is not a field of a hook"));
    }
    let target = match obj.get("target_url") {
        None | Some(Value::Null) => {
            errs.push(FieldError::new("target_url", "required", "is required"));
            None
        }
        Some(Value::String(s)) if s.is_empty() => {
            errs.push(FieldError::new("target_url", "empty", "must not be empty"));
            None
        }
        Some(Value::String(s)) if s.chars().count() > MAX_TARGET_URL_CHARS => {
            errs.push(FieldError::new(
                "target_url",
                "too_long",
                format!("must be at most {MAX_TARGET_URL_CHARS} characters"),
            ));
            None
        }
        Some(Value::String(s)) if s.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            errs.push(FieldError::new("target_url", "invalid_url", "must not contain spaces or control characters"));
            None
        }
        Some(Value::String(s)) => match check_url(s, policy) {
            Ok(_) => Some(s.clone()),
            Err(e) => {
                let msg = match e {
                    UrlError::NotHttps if policy.allow_http => "must be an http:// or https:// URL".to_string(),
                    ref e => e.to_string(),
                };
                errs.push(FieldError::new("target_url", e.code(), msg));
                None
            }
        },
        Some(_) => {
            errs.push(FieldError::new("target_url", "invalid_type", "expected a string"));
            None
        }
    };
    let names =
        || EventType::ALL.into_iter().filter(|e| allowed(*e)).map(|e| e.as_str()).collect::<Vec<_>>().join(", ");
    let event = match obj.get("event") {
        None | Some(Value::Null) => {
            errs.push(FieldError::new("event", "required", "is required"));
            None
        }
        Some(Value::String(s)) => match s.parse::<EventType>() {
            Ok(e) if allowed(e) => Some(e),
            _ => {
                errs.push(FieldError::new("event", "invalid_event", format!("must be one of {}", names())));
                None
            }
        },
        Some(_) => {
            errs.push(FieldError::new("event", "invalid_type", "expected a string"));
            None
        }
    };
    match (target, event) {
        (Some(t), Some(e)) if errs.is_empty() => Ok((t, e)),
        _ if errs.iter().any(|e| e.code == "target_not_allowed") => Err(ApiError::TargetNotAllowed(errs)),
        _ => Err(ApiError::Validation(errs)),
    }
}

/// Create a hook with a fresh secret and answer 201 (`Cache-Control: no-store`).
pub(crate) async fn create_hook_response(
    state: &AppState,
    workspace_id: &keyward_core::WorkspaceId,
    key_id: Option<&str>,
    created_by: Option<&str>,
    target_url: &str,
    event: EventType,
) -> ApiResult<Response> {
    let master = state.webhooks.master.as_ref().ok_or(ApiError::WebhooksUnavailable)?;
    let id = ids::new_id(HOOK_PREFIX);
    let (shown, raw) = secret::generate();
    let sealed = master.seal(&id, &raw);
    let new = NewHook { id: &id, key_id, created_by, target_url, event, secret_sealed: &sealed };
    let hook = state.store.create_hook(workspace_id, &new).await?;
    let mut res = created_with_secret(CreatedHook { hook: HookObject::from(&hook), secret: shown });
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/hooks/{id}")) {
        if key_id.is_some() {
            res.headers_mut().insert(header::LOCATION, v);
        }
    }
    Ok(res)
}

/// Subscribe a URL to an event of this workspace.
#[utoipa::path(post, path = "/v1/hooks", tag = "hooks", operation_id = "createHook",
    request_body(content = CreateHook, content_type = "application/json"),
    responses(
        (
            status = 201,
            description = "The new hook, with its signing secret (shown only here).",
            body = CreatedHook,
            headers(("Cache-Control" = String, description = "`no-store`: the secret must not be cached.")),
        ),
        (status = 422, description = "Invalid fields (`target_not_allowed` for a refused address), or \
                                      `hook_limit_reached` at 100 hooks.", content_type = "application/problem+json"),
    ),
)]
pub async fn create_hook(s: Scoped, ApiJson(body): ApiJson<Value>) -> ApiResult<Response> {
    let (target, event) = parse_hook_input(&s.state, &body, EventType::is_resource_event)?;
    create_hook_response(&s.state, &s.ws, Some(&s.ctx.key.key.id), None, &target, event).await
}

/// The workspace's REST hooks, newest first.
#[utoipa::path(get, path = "/v1/hooks", tag = "hooks", operation_id = "listHooks",
    params(HookListParams),
    responses((status = 200, description = "A page of hooks, newest first (no secrets).", body = HookList)),
)]
pub async fn list_hooks(s: Scoped, params: ListParams) -> ApiResult<Json<HookList>> {
    let page = s.state.store.list_rest_hooks(&s.ws, params.limit, params.starting_after.as_deref()).await?;
    let (data, has_more) = page_of(page, |h| HookObject::from(&h))?;
    Ok(Json(HookList { data, has_more }))
}

/// Unsubscribe: delete a hook (its pending deliveries go with it).
#[utoipa::path(delete, path = "/v1/hooks/{id}", tag = "hooks", operation_id = "deleteHook",
    params(HookIdParam),
    responses((status = 204, description = "Deleted.")),
)]
pub async fn delete_hook(s: Scoped, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    match s.state.store.delete_hook(&s.ws, &id, true).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(StoreError::NotFound) => Err(ApiError::NotFound),
        Err(e) => Err(e.into()),
    }
}
