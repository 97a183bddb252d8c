//! `/v1/studies/{id}/transcripts` and `/v1/transcripts`: list, create, fetch.
//! Every query is scoped by the key's workspace.

use super::openapi::{CreateTranscript, StudyIdParam, TranscriptIdParam, TranscriptListParams};
use super::{created, input, page_of, Scoped};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ListParams, ResourceId};
use crate::http::json::ApiJson;
use crate::store::{Segment, Transcript};
use axum::response::Response;
use axum::Json;
use keyward_core::api::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

/// Who was interviewed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Participant {
    #[schema(example = "Zoë Müller")]
    pub name: String,
    #[schema(example = "zoe@example.com")]
    pub email: Option<String>,
}

/// One utterance.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Segment)]
pub struct SegmentObject {
    #[schema(example = "Moderator")]
    pub speaker: String,
    /// Milliseconds from the start of the recording.
    #[schema(minimum = 0, maximum = 604_800_000)]
    pub start_ms: u64,
    /// Milliseconds from the start of the recording; never less than `start_ms`.
    #[schema(minimum = 0, maximum = 604_800_000)]
    pub end_ms: u64,
    #[schema(example = "What did you expect to happen?")]
    pub text: String,
}

impl From<Segment> for SegmentObject {
    fn from(s: Segment) -> Self {
        SegmentObject { speaker: s.speaker, start_ms: s.start_ms, end_ms: s.end_ms, text: s.text }
    }
}

/// A transcript of one session of a study.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Transcript)]
pub struct TranscriptObject {
    /// `trn_` + ULID.
    #[schema(pattern = "^trn_[0-9A-HJKMNP-TV-Z]{26}$", example = "trn_01JD8X4V6Q2W3E4R5T6Y7Z8A9B")]
    pub id: String,
    #[schema(pattern = "^std_[0-9A-HJKMNP-TV-Z]{26}$", example = "std_01JD8X4V6Q2W3E4R5T6Y7Z8A9B")]
    pub study_id: String,
    pub participant: Participant,
    /// BCP 47 language tag.
    #[schema(example = "en")]
    pub language: String,
    pub segments: Vec<SegmentObject>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<Transcript> for TranscriptObject {
    fn from(t: Transcript) -> Self {
        TranscriptObject {
            id: t.id,
            study_id: t.study_id,
            participant: Participant { name: t.participant_name, email: t.participant_email },
            language: t.language,
            segments: t.segments.into_iter().map(Into::into).collect(),
            created_at: Timestamp(t.created_at),
        }
    }
}

/// A page of transcripts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TranscriptList {
    pub data: Vec<TranscriptObject>,
    /// Whether older transcripts follow: ask again with `starting_after` = the last id of `data`.
    pub has_more: bool,
}

async fn list(s: &Scoped, study_id: Option<&str>, params: ListParams) -> ApiResult<Json<TranscriptList>> {
    let page = s.state.store.list_transcripts(&s.ws, study_id, params.limit, params.starting_after.as_deref()).await?;
    let (data, has_more) = page_of(page, TranscriptObject::from)?;
    Ok(Json(TranscriptList { data, has_more }))
}

/// The transcripts of one study, newest first.
#[utoipa::path(get, path = "/v1/studies/{id}/transcripts", tag = "transcripts", operation_id = "listStudyTranscripts",
    params(StudyIdParam, TranscriptListParams),
    responses((status = 200, description = "A page of the study's transcripts, newest first.", body = TranscriptList)),
)]
pub async fn list_study_transcripts(
    s: Scoped,
    ResourceId(study_id): ResourceId,
    params: ListParams,
) -> ApiResult<Json<TranscriptList>> {
    list(&s, Some(&study_id), params).await
}

/// Add a transcript to a study.
#[utoipa::path(post, path = "/v1/studies/{id}/transcripts", tag = "transcripts", operation_id = "createTranscript",
    params(StudyIdParam),
    request_body(content = CreateTranscript, content_type = "application/json"),
    responses((
        status = 201,
        description = "The new transcript.",
        body = TranscriptObject,
        headers(("Location" = String, description = "The new transcript's URL path.")),
    )),
)]
pub async fn create_transcript(
    s: Scoped,
    ResourceId(study_id): ResourceId,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Response> {
    // An unknown study is 404 before the body is judged: whether a study
    // exists is the first thing a client needs to know.
    s.state.store.study(&s.ws, &study_id).await?;
    let new = input::new_transcript(&body).map_err(ApiError::Validation)?;
    let t = s.state.store.create_transcript(&s.ws, &study_id, &new).await?;
    Ok(created(format!("/v1/transcripts/{}", t.id), TranscriptObject::from(t)))
}

/// Every transcript of the workspace, newest first (Zapier's polling trigger).
#[utoipa::path(get, path = "/v1/transcripts", tag = "transcripts", operation_id = "listTranscripts",
    params(TranscriptListParams),
    responses((
        status = 200,
        description = "A page of the workspace's transcripts, newest first.",
        body = TranscriptList,
    )),
)]
pub async fn list_transcripts(s: Scoped, params: ListParams) -> ApiResult<Json<TranscriptList>> {
    list(&s, None, params).await
}

/// One transcript.
#[utoipa::path(get, path = "/v1/transcripts/{id}", tag = "transcripts", operation_id = "getTranscript",
    params(TranscriptIdParam),
    responses((status = 200, description = "The transcript.", body = TranscriptObject)),
)]
pub async fn get_transcript(s: Scoped, ResourceId(id): ResourceId) -> ApiResult<Json<TranscriptObject>> {
    Ok(Json(s.state.store.transcript(&s.ws, &id).await?.into()))
}
