//! Studies and transcripts: the product data behind `/v1`. Every method takes
//! the workspace id and every statement filters by it, so one workspace can
//! never read, list or write into another's data.
//!
//! Lists are newest first by id (prefix + ULID, strictly increasing per
//! process) and paginate with a cursor: the id of the last item of the
//! previous page. A cursor that is not an item of the very list asked for is
//! reported as `None`, which `/v1` answers with 422.
use super::{corrupt, now_ms, Result, Store, StoreError};
use keyward_core::ids;
use keyward_core::ids::WorkspaceId;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// Id prefix of studies.
pub const STUDY_PREFIX: &str = "std";
/// Id prefix of transcripts.
pub const TRANSCRIPT_PREFIX: &str = "trn";

/// A study as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Study {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A validated new study.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStudy {
    pub name: String,
    pub description: Option<String>,
}

/// One utterance of a transcript; also the element of the stored JSON array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub speaker: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

/// A transcript as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    pub id: String,
    pub study_id: String,
    pub participant_name: String,
    pub participant_email: Option<String>,
    /// BCP 47 tag.
    pub language: String,
    pub segments: Vec<Segment>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A validated new transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTranscript {
    pub participant_name: String,
    pub participant_email: Option<String>,
    pub language: String,
    pub segments: Vec<Segment>,
}

/// One page of a list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Whether items older than the last one of `data` exist.
    pub has_more: bool,
}

const STUDY_COLUMNS: &str = "id, name, description, created_at";
const TRANSCRIPT_COLUMNS: &str = "id, study_id, participant_name, participant_email, language, segments, created_at";

fn study_from_row(r: &sqlx::any::AnyRow) -> Result<Study> {
    Ok(Study {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        created_at: r.try_get("created_at")?,
    })
}

fn transcript_from_row(r: &sqlx::any::AnyRow) -> Result<Transcript> {
    let id: String = r.try_get("id")?;
    let segments: String = r.try_get("segments")?;
    let segments = serde_json::from_str(&segments).map_err(|e| corrupt(format!("segments of {id}: {e}")))?;
    Ok(Transcript {
        id,
        study_id: r.try_get("study_id")?,
        participant_name: r.try_get("participant_name")?,
        participant_email: r.try_get("participant_email")?,
        language: r.try_get("language")?,
        segments,
        created_at: r.try_get("created_at")?,
    })
}

/// Fetch `limit + 1` rows to learn `has_more` without a second query.
pub(super) fn page<T>(
    rows: Vec<sqlx::any::AnyRow>,
    limit: u32,
    f: fn(&sqlx::any::AnyRow) -> Result<T>,
) -> Result<Page<T>> {
    let has_more = rows.len() > limit as usize;
    let data = rows.iter().take(limit as usize).map(f).collect::<Result<Vec<_>>>()?;
    Ok(Page { data, has_more })
}

impl Store {
    /// Create a study in `workspace_id`.
    pub async fn create_study(&self, workspace_id: &WorkspaceId, new: &NewStudy) -> Result<Study> {
        let study = Study {
            id: ids::new_id(STUDY_PREFIX),
            name: new.name.clone(),
            description: new.description.clone(),
            created_at: now_ms(),
        };
        // The study and its `study.created` event commit together.
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO studies (id, workspace_id, name, description, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&study.id)
        .bind(workspace_id.as_str())
        .bind(&study.name)
        .bind(&study.description)
        .bind(study.created_at)
        .execute(&mut *tx)
        .await?;
        let data = serde_json::to_value(crate::http::v1::studies::StudyObject::from(study.clone())).map_err(corrupt)?;
        let wake = super::enqueue_event(&mut tx, workspace_id, crate::webhooks::EventType::StudyCreated, &data).await?;
        tx.commit().await?;
        if wake {
            self.wake_webhooks();
        }
        Ok(study)
    }

    /// One study of `workspace_id`; another workspace's (or a made-up) id is `NotFound`.
    pub async fn study(&self, workspace_id: &WorkspaceId, study_id: &str) -> Result<Study> {
        study_from_row(&fetch_one(self, "studies", STUDY_COLUMNS, STUDY_PREFIX, workspace_id, study_id).await?)
    }

    /// A page of `workspace_id`'s studies, newest first, after the study
    /// `starting_after`. `None` when that cursor is not one of these studies.
    pub async fn list_studies(
        &self,
        workspace_id: &WorkspaceId,
        limit: u32,
        starting_after: Option<&str>,
    ) -> Result<Option<Page<Study>>> {
        if let Some(cursor) = starting_after {
            if self.study(workspace_id, cursor).await.map(Some).or_else(not_found_as_none)?.is_none() {
                return Ok(None);
            }
        }
        let mut filters = vec![("workspace_id =", workspace_id.as_str())];
        filters.extend(starting_after.map(|c| ("id <", c)));
        let rows = fetch_page(self, "studies", STUDY_COLUMNS, &filters, limit).await?;
        page(rows, limit, study_from_row).map(Some)
    }

    /// Create a transcript in a study of `workspace_id`; `NotFound` when the
    /// study is not this workspace's. The existence check and the insert are
    /// one statement, so there is no window between them.
    pub async fn create_transcript(
        &self,
        workspace_id: &WorkspaceId,
        study_id: &str,
        new: &NewTranscript,
    ) -> Result<Transcript> {
        if !ids::has_prefix(study_id, STUDY_PREFIX) {
            return Err(StoreError::NotFound);
        }
        let t = Transcript {
            id: ids::new_id(TRANSCRIPT_PREFIX),
            study_id: study_id.to_string(),
            participant_name: new.participant_name.clone(),
            participant_email: new.participant_email.clone(),
            language: new.language.clone(),
            segments: new.segments.clone(),
            created_at: now_ms(),
        };
        let segments = serde_json::to_string(&t.segments).map_err(corrupt)?;
        // The transcript and its `transcript.created` event commit together.
        let mut tx = self.pool().begin().await?;
        let n = sqlx::query(
            "INSERT INTO transcripts \
               (id, workspace_id, study_id, participant_name, participant_email, language, segments, created_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
             WHERE EXISTS (SELECT 1 FROM studies WHERE workspace_id = $2 AND id = $3)",
        )
        .bind(&t.id)
        .bind(workspace_id.as_str())
        .bind(&t.study_id)
        .bind(&t.participant_name)
        .bind(&t.participant_email)
        .bind(&t.language)
        .bind(segments)
        .bind(t.created_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let data =
            serde_json::to_value(crate::http::v1::transcripts::TranscriptObject::from(t.clone())).map_err(corrupt)?;
        let wake =
            super::enqueue_event(&mut tx, workspace_id, crate::webhooks::EventType::TranscriptCreated, &data).await?;
        tx.commit().await?;
        if wake {
            self.wake_webhooks();
        }
        Ok(t)
    }

    /// One transcript of `workspace_id`; another workspace's (or a made-up) id is `NotFound`.
    pub async fn transcript(&self, workspace_id: &WorkspaceId, transcript_id: &str) -> Result<Transcript> {
        let row = fetch_one(self, "transcripts", TRANSCRIPT_COLUMNS, TRANSCRIPT_PREFIX, workspace_id, transcript_id);
        transcript_from_row(&row.await?)
    }

    /// A page of transcripts of `workspace_id`, newest first: all of them, or
    /// those of one study (`NotFound` when that study is not this
    /// workspace's). `None` when `starting_after` is not one of the listed
    /// transcripts.
    pub async fn list_transcripts(
        &self,
        workspace_id: &WorkspaceId,
        study_id: Option<&str>,
        limit: u32,
        starting_after: Option<&str>,
    ) -> Result<Option<Page<Transcript>>> {
        if let Some(study_id) = study_id {
            self.study(workspace_id, study_id).await?;
        }
        if let Some(cursor) = starting_after {
            match self.transcript(workspace_id, cursor).await {
                Ok(t) if study_id.is_none_or(|s| s == t.study_id) => {}
                Ok(_) | Err(StoreError::NotFound) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        let mut filters = vec![("workspace_id =", workspace_id.as_str())];
        filters.extend(study_id.map(|s| ("study_id =", s)));
        filters.extend(starting_after.map(|c| ("id <", c)));
        let rows = fetch_page(self, "transcripts", TRANSCRIPT_COLUMNS, &filters, limit).await?;
        page(rows, limit, transcript_from_row).map(Some)
    }
}

/// The row `id` of `workspace_id` in `table`; `NotFound` when it is another
/// workspace's, or when `id` lacks the table's prefix (then nothing is asked).
async fn fetch_one(
    store: &Store,
    table: &str,
    columns: &str,
    prefix: &str,
    workspace_id: &WorkspaceId,
    id: &str,
) -> Result<sqlx::any::AnyRow> {
    if !ids::has_prefix(id, prefix) {
        return Err(StoreError::NotFound);
    }
    sqlx::query(&format!("SELECT {columns} FROM {table} WHERE workspace_id = $1 AND id = $2"))
        .bind(workspace_id.as_str())
        .bind(id)
        .fetch_optional(store.pool())
        .await?
        .ok_or(StoreError::NotFound)
}

/// `SELECT columns FROM table WHERE f1 $1 AND f2 $2 … ORDER BY id DESC LIMIT limit+1`:
/// one statement per combination of filters (rather than `$n IS NULL OR …`,
/// which PostgreSQL cannot type and which hides the index from the planner).
async fn fetch_page(
    store: &Store,
    table: &str,
    columns: &str,
    filters: &[(&str, &str)],
    limit: u32,
) -> Result<Vec<sqlx::any::AnyRow>> {
    let mut sql = format!("SELECT {columns} FROM {table} WHERE ");
    for (i, (cond, _)) in filters.iter().enumerate() {
        if i > 0 {
            sql.push_str(" AND ");
        }
        sql.push_str(&format!("{cond} ${}", i + 1));
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", filters.len() + 1));
    let mut q = sqlx::query(&sql);
    for (_, value) in filters {
        q = q.bind(*value);
    }
    Ok(q.bind(i64::from(limit) + 1).fetch_all(store.pool()).await?)
}

fn not_found_as_none<T>(e: StoreError) -> Result<Option<T>> {
    match e {
        StoreError::NotFound => Ok(None),
        other => Err(other),
    }
}
