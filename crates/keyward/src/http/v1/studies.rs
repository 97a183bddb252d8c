//! `/v1/studies`: list, create, fetch. Every query is scoped by the key's workspace.

use super::{created, input, ApiKeyContext};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{unknown_cursor, ListParams, ResourceId};
use crate::http::json::ApiJson;
use crate::state::AppState;
use crate::store::Study;
use axum::extract::State;
use axum::response::Response;
use axum::{Extension, Json};
use keyward_core::api::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

/// A study: a piece of research that transcripts belong to.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Study)]
pub struct StudyObject {
    /// `std_` + ULID.
    #[schema(pattern = "^std_[0-9A-HJKMNP-TV-Z]{26}$", example = "std_01JD8X4V6Q2W3E4R5T6Y7Z8A9B")]
    pub id: String,
    #[schema(example = "Checkout usability, round 2")]
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<Study> for StudyObject {
    fn from(s: Study) -> Self {
        StudyObject { id: s.id, name: s.name, description: s.description, created_at: Timestamp(s.created_at) }
    }
}

/// A page of studies, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct StudyList {
    pub data: Vec<StudyObject>,
    /// Whether older studies follow: ask again with `starting_after` = the last id of `data`.
    pub has_more: bool,
}

/// The workspace's studies, newest first.
#[utoipa::path(
    get,
    path = "/v1/studies",
    tag = "studies",
    operation_id = "listStudies",
    params(super::openapi::StudyListParams),
    responses((status = 200, description = "A page of studies, newest first.", body = StudyList)),
)]
pub async fn list_studies(
    State(state): State<AppState>,
    Extension(ctx): Extension<ApiKeyContext>,
    params: ListParams,
) -> ApiResult<Json<StudyList>> {
    let page = state
        .store
        .list_studies(&ctx.workspace_id(), params.limit, params.starting_after.as_deref())
        .await?
        .ok_or_else(unknown_cursor)?;
    Ok(Json(StudyList { data: page.data.into_iter().map(Into::into).collect(), has_more: page.has_more }))
}

/// Create a study.
#[utoipa::path(
    post,
    path = "/v1/studies",
    tag = "studies",
    operation_id = "createStudy",
    request_body(content = super::openapi::CreateStudy, content_type = "application/json"),
    responses((
        status = 201,
        description = "The new study.",
        body = StudyObject,
        headers(("Location" = String, description = "The new study's URL path.")),
    )),
)]
pub async fn create_study(
    State(state): State<AppState>,
    Extension(ctx): Extension<ApiKeyContext>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Response> {
    let new = input::new_study(&body).map_err(ApiError::Validation)?;
    let study = state.store.create_study(&ctx.workspace_id(), &new).await?;
    Ok(created(format!("/v1/studies/{}", study.id), StudyObject::from(study)))
}

/// One study.
#[utoipa::path(
    get,
    path = "/v1/studies/{id}",
    tag = "studies",
    operation_id = "getStudy",
    params(super::openapi::StudyIdParam),
    responses((status = 200, description = "The study.", body = StudyObject)),
)]
pub async fn get_study(
    State(state): State<AppState>,
    Extension(ctx): Extension<ApiKeyContext>,
    ResourceId(id): ResourceId,
) -> ApiResult<Json<StudyObject>> {
    Ok(Json(state.store.study(&ctx.workspace_id(), &id).await?.into()))
}
