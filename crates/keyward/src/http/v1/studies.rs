//! `/v1/studies`: list, create, fetch. Every query is scoped by the key's workspace.

use super::openapi::{CreateStudy, StudyIdParam, StudyListParams};
use super::{created, input, page_of, Scoped};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ListParams, ResourceId};
use crate::http::json::ApiJson;
use crate::store::Study;
use axum::response::Response;
use axum::Json;
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
#[utoipa::path(get, path = "/v1/studies", tag = "studies", operation_id = "listStudies",
    params(StudyListParams),
    responses((status = 200, description = "A page of studies, newest first.", body = StudyList)),
)]
pub async fn list_studies(s: Scoped, params: ListParams) -> ApiResult<Json<StudyList>> {
    let page = s.state.store.list_studies(&s.ws, params.limit, params.starting_after.as_deref()).await?;
    let (data, has_more) = page_of(page, StudyObject::from)?;
    Ok(Json(StudyList { data, has_more }))
}

/// Create a study.
#[utoipa::path(post, path = "/v1/studies", tag = "studies", operation_id = "createStudy",
    request_body(content = CreateStudy, content_type = "application/json"),
    responses((
        status = 201,
        description = "The new study.",
        body = StudyObject,
        headers(("Location" = String, description = "The new study's URL path.")),
    )),
)]
pub async fn create_study(s: Scoped, ApiJson(body): ApiJson<serde_json::Value>) -> ApiResult<Response> {
    let new = input::new_study(&body).map_err(ApiError::Validation)?;
    let study = s.state.store.create_study(&s.ws, &new).await?;
    Ok(created(format!("/v1/studies/{}", study.id), StudyObject::from(study)))
}

/// One study.
#[utoipa::path(get, path = "/v1/studies/{id}", tag = "studies", operation_id = "getStudy",
    params(StudyIdParam),
    responses((status = 200, description = "The study.", body = StudyObject)),
)]
pub async fn get_study(s: Scoped, ResourceId(id): ResourceId) -> ApiResult<Json<StudyObject>> {
    Ok(Json(s.state.store.study(&s.ws, &id).await?.into()))
}
