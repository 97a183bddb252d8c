//! The public REST API under `/v1` (SPEC §4). Every route but
//! `/v1/openapi.json` sits behind the authentication pipeline in [`auth`];
//! handlers receive the verified key as an [`ApiKeyContext`] and scope every
//! query by its workspace.
//!
//! Routes are registered only through `utoipa-axum`'s [`OpenApiRouter`],
//! which adds each handler's `#[utoipa::path]` to the document as it adds
//! the handler to the router: the served routes and the OpenAPI document
//! come from the same list: [`operations`], which also names the scope
//! each operation needs, written into the document's `security` and
//! checked by the pipeline.

pub mod auth;
pub mod hooks;
pub mod input;
pub mod leaked;
pub mod openapi;
pub mod studies;
pub mod transcripts;
pub mod unmatched;

use crate::http::error::ApiResult;
use crate::http::extract::unknown_cursor;
use crate::state::AppState;
use crate::store::Page;
pub use auth::ApiKeyContext;
use axum::extract::rejection::ExtensionRejection;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use keyward_core::api::Timestamp;
use keyward_core::{key, Scope, Scopes, WorkspaceId};
use serde::Serialize;
use std::sync::LazyLock;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

/// THE operation table: every authenticated `/v1` operation, one handler
/// per row, with the scope a key needs for it (`None`: any key, only
/// `GET /v1/me`). The router, the OpenAPI document (each operation's
/// `security: [{bearerAuth: [scope]}]`) and the pipeline's scope check
/// are all built from it, so a route cannot be served without a row here,
/// and the tests walk it (a key without the row's scope is refused, one
/// with only that scope is let through).
fn operations() -> Vec<(Option<Scope>, UtoipaMethodRouter<AppState>)> {
    use Scope::*;
    vec![
        (None, routes!(me)),
        (Some(StudiesRead), routes!(studies::list_studies)),
        (Some(StudiesWrite), routes!(studies::create_study)),
        (Some(StudiesRead), routes!(studies::get_study)),
        (Some(TranscriptsRead), routes!(transcripts::list_study_transcripts)),
        (Some(TranscriptsWrite), routes!(transcripts::create_transcript)),
        (Some(TranscriptsRead), routes!(transcripts::list_transcripts)),
        (Some(TranscriptsRead), routes!(transcripts::get_transcript)),
        // There is no webhooks:read: listing a workspace's subscriptions is
        // part of managing them (Zapier lists, subscribes and unsubscribes).
        (Some(WebhooksWrite), routes!(hooks::list_hooks)),
        (Some(WebhooksWrite), routes!(hooks::create_hook)),
        (Some(WebhooksWrite), routes!(hooks::delete_hook)),
    ]
}

/// One row of [`operations`], as data.
#[derive(Debug, Clone)]
pub struct OperationScope {
    pub method: axum::http::Method,
    /// The route template, e.g. `/v1/studies/{id}`.
    pub path: String,
    pub operation_id: String,
    pub scope: Option<Scope>,
}

/// The operation table as data (for the pipeline's lookup and for tests).
pub fn operation_scopes() -> &'static [OperationScope] {
    static TABLE: LazyLock<Vec<OperationScope>> = LazyLock::new(|| {
        operations()
            .into_iter()
            .flat_map(|(scope, (_, paths, _))| {
                paths.paths.into_iter().flat_map(move |(path, item)| {
                    operations_of(item).into_iter().map(move |(method, op)| OperationScope {
                        method,
                        path: path.clone(),
                        operation_id: op.operation_id.unwrap_or_default(),
                        scope,
                    })
                })
            })
            .collect()
    });
    &TABLE
}

fn operations_of(item: utoipa::openapi::PathItem) -> Vec<(axum::http::Method, utoipa::openapi::path::Operation)> {
    use axum::http::Method;
    [(Method::GET, item.get), (Method::POST, item.post), (Method::PUT, item.put), (Method::DELETE, item.delete)]
        .into_iter()
        .chain([(Method::PATCH, item.patch)])
        .filter_map(|(m, op)| Some((m, op?)))
        .collect()
}

/// Routes that need an API key: [`operations`], each operation's security
/// requirement naming its scope.
fn authenticated_routes() -> OpenApiRouter<AppState> {
    operations().into_iter().fold(OpenApiRouter::new(), |router, (scope, (schemas, mut paths, method_router))| {
        let scopes: Vec<&str> = scope.map(Scope::as_str).into_iter().collect();
        for item in paths.paths.values_mut() {
            for op in
                [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                op.security = Some(vec![SecurityRequirement::new("bearerAuth", scopes.clone())]);
            }
        }
        router.routes((schemas, paths, method_router))
    })
}

/// Routes anyone may call.
fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(leaked::github_report))
        .routes(routes!(leaked::public_report))
}

/// The `/v1` routes, with their full paths: merged into the application
/// rather than nested, which would strip and restore the prefix on every
/// request.
pub fn router(state: AppState) -> Router<AppState> {
    let (authenticated, _) = authenticated_routes().split_for_parts();
    let (public, _) = public_routes().split_for_parts();
    authenticated.route_layer(axum::middleware::from_fn_with_state(state, auth::pipeline)).merge(public)
}

/// The OpenAPI document of `/v1`, as served.
pub fn openapi() -> serde_json::Value {
    let (_, doc) = OpenApiRouter::with_openapi(openapi::base())
        .merge(authenticated_routes())
        .merge(public_routes())
        .split_for_parts();
    openapi::finish(doc)
}

static OPENAPI_JSON: LazyLock<Vec<u8>> =
    LazyLock::new(|| serde_json::to_vec_pretty(&openapi()).expect("the document serialises"));

/// This document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    operation_id = "getOpenApi",
    responses((
        status = 200,
        description = "The OpenAPI 3.1 document of /v1.",
        body = Object,
        content_type = "application/json",
    )),
)]
pub async fn openapi_json() -> Response {
    let mut res = OPENAPI_JSON.as_slice().into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    res
}

/// What an authenticated `/v1` handler starts from: the app state and the
/// verified key ([`ApiKeyContext`], left by [`auth::pipeline`]), with `ws`
/// the workspace every query of the request is scoped to.
pub struct Scoped {
    pub state: AppState,
    pub ctx: ApiKeyContext,
    pub ws: WorkspaceId,
}

impl FromRequestParts<AppState> for Scoped {
    type Rejection = ExtensionRejection;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Extension(ctx) = Extension::<ApiKeyContext>::from_request_parts(parts, state).await?;
        Ok(Scoped { state: state.clone(), ws: ctx.workspace_id(), ctx })
    }
}

/// A list's objects (`object` of each item of the store's page) and whether
/// more follow; 422 `unknown_cursor` when the store found no such
/// `starting_after` in the list.
pub(crate) fn page_of<R, T>(page: Option<Page<R>>, object: impl FnMut(R) -> T) -> ApiResult<(Vec<T>, bool)> {
    let page = page.ok_or_else(unknown_cursor)?;
    Ok((page.data.into_iter().map(object).collect(), page.has_more))
}

/// A 201 with `Location` and the created object.
pub(crate) fn created(location: String, body: impl Serialize) -> Response {
    let mut res = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

#[derive(Serialize, ToSchema)]
pub struct MeWorkspace<'a> {
    #[schema(example = "ws_01JD8X4V6Q2W3E4R5T6Y7Z8A9B")]
    pub id: &'a str,
    pub name: &'a str,
    #[schema(value_type = String, example = "pro")]
    pub plan: keyward_core::Plan,
}

#[derive(Serialize, ToSchema)]
pub struct MeKey<'a> {
    #[schema(example = "key_01JD8X4V6Q2W3E4R5T6Y7Z8A9B")]
    pub id: &'a str,
    pub name: &'a str,
    /// `ue_live_••••••••` + the last four characters.
    pub masked: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When the key stops working (absent: never).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    /// The scopes in force: all five for a full-access key.
    #[schema(value_type = Vec<String>, example = json!(["studies:read", "transcripts:read"]))]
    pub scopes: Scopes,
}

#[derive(Serialize, ToSchema)]
pub struct MeRateLimit {
    pub requests_per_minute: u32,
}

// Borrowed from the cached key: the handler allocates only the masked key
// and the body.
/// The key's workspace, the key and its limit.
#[derive(Serialize, ToSchema)]
pub struct Me<'a> {
    pub workspace: MeWorkspace<'a>,
    pub key: MeKey<'a>,
    pub rate_limit: MeRateLimit,
}

/// `GET /v1/me`: the key's workspace, the key and its limit (Zapier's
/// connection test and label).
#[utoipa::path(
    get,
    path = "/v1/me",
    tag = "account",
    operation_id = "getMe",
    responses((status = 200, description = "The key's workspace, the key and its rate limit.", body = Me<'_>)),
)]
pub async fn me(Extension(ctx): Extension<ApiKeyContext>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let k = &ctx.key.key;
    Json(Me {
        workspace: MeWorkspace { id: &k.workspace_id, name: &k.workspace_name, plan: k.plan },
        key: MeKey {
            id: &k.id,
            name: &k.name,
            masked: key::mask(&k.last4),
            created_at: Timestamp(k.created_at),
            expires_at: k.expiry().map(Timestamp),
            scopes: k.scopes,
        },
        rate_limit: MeRateLimit { requests_per_minute: ctx.policy.requests_per_minute },
    })
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_builds_and_describes_every_operation() {
        let doc = openapi();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut ops: Vec<String> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(p, item)| item.as_object().unwrap().keys().map(move |m| format!("{} {p}", m.to_uppercase())))
            .collect();
        ops.sort();
        assert_eq!(
            ops,
            [
                "DELETE /v1/hooks/{id}",
                "GET /v1/hooks",
                "GET /v1/me",
                "GET /v1/openapi.json",
                "GET /v1/studies",
                "GET /v1/studies/{id}",
                "GET /v1/studies/{id}/transcripts",
                "GET /v1/transcripts",
                "GET /v1/transcripts/{id}",
                "POST /v1/hooks",
                "POST /v1/leaked-keys",
                "POST /v1/secret-scanning/github",
                "POST /v1/studies",
                "POST /v1/studies/{id}/transcripts",
            ]
        );
        let create = &doc["paths"]["/v1/studies/{id}/transcripts"]["post"];
        for status in ["201", "400", "401", "403", "404", "413", "415", "422", "429"] {
            assert!(create["responses"][status].is_object(), "createTranscript lacks {status}");
        }
        assert_eq!(doc["paths"]["/v1/openapi.json"]["get"]["security"], serde_json::json!([]));
        let github = &doc["paths"]["/v1/secret-scanning/github"]["post"];
        let public = &doc["paths"]["/v1/leaked-keys"]["post"];
        for op in [github, public] {
            assert_eq!(op["security"], serde_json::json!([]));
        }
        for status in ["200", "400", "401", "413", "422", "503"] {
            assert!(github["responses"][status].is_object(), "the GitHub endpoint lacks {status}");
        }
        for status in ["202", "400", "413", "415", "422", "429"] {
            assert!(public["responses"][status].is_object(), "the public report endpoint lacks {status}");
        }
        assert_eq!(public["responses"]["429"]["headers"]["Retry-After"]["required"], true);
        assert_eq!(github["requestBody"]["content"]["application/json"]["schema"]["maxItems"], 1000);
        assert_eq!(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
    }

    #[test]
    fn every_operation_but_me_needs_a_scope_named_in_its_security() {
        let doc = openapi();
        let table = operation_scopes();
        let mut documented = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if openapi::PUBLIC_OPERATIONS.contains(&op["operationId"].as_str().unwrap()) {
                    // No key, so no scope.
                    assert_eq!(op["security"], serde_json::json!([]), "{method} {path}");
                    continue;
                }
                documented += 1;
                let row = table
                    .iter()
                    .find(|r| r.path == *path && r.method.as_str().eq_ignore_ascii_case(method))
                    .unwrap_or_else(|| panic!("{method} {path} is served but not in the operation table"));
                let want: Vec<&str> = row.scope.map(Scope::as_str).into_iter().collect();
                assert_eq!(op["security"], serde_json::json!([{ "bearerAuth": want }]), "{method} {path}");
                assert_eq!(row.scope.is_none(), row.operation_id == "getMe", "only getMe may need no scope");
            }
        }
        assert_eq!(documented, table.len());
    }

    #[test]
    fn request_body_schemas_survive_utoipa_unchanged() {
        let doc = openapi();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["CreateStudy"], input::create_study_schema());
        assert_eq!(schemas["CreateTranscript"], input::create_transcript_schema());
    }
}
