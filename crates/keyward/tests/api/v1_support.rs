//! Shortcuts for the `/v1` resource tests: a workspace with a key, studies
//! and transcripts made through the API or straight in the store.
#![allow(dead_code)]

use crate::helpers::*;
use keyward::store::{NewStudy, NewTranscript, Segment};
use keyward_core::Plan;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A workspace and one key of it.
pub struct Tenant {
    pub ws: String,
    pub key: String,
}

/// A workspace on `plan` with an active key.
pub async fn tenant(app: &TestApp, plan: Plan) -> Tenant {
    let AdminWithKey { workspace_id: ws, key: NewKey { secret: key, .. }, .. } = app.add_admin_with_key(plan).await;
    Tenant { ws, key }
}

/// `POST` a JSON body to `/v1…` with `key`.
pub async fn post(app: &TestApp, path: &str, key: &str, v: Value) -> (StatusCode, Value) {
    app.v1_post(path, key, v).await
}

/// Create a study through the API; its JSON.
pub async fn create_study(app: &TestApp, key: &str, name: &str) -> Value {
    let (s, v) = post(app, "/v1/studies", key, json!({ "name": name })).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

/// Assert that `GET location` (a `Location` header) with `key` answers 200
/// with exactly the object `created`.
pub async fn assert_fetched_as(app: &TestApp, location: &str, key: &str, created: &Value) {
    let (s, fetched) = app.v1_get(location, key).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(&fetched, created);
}

/// A valid transcript body.
pub fn transcript_body(participant: &str) -> Value {
    json!({
        "participant": { "name": participant, "email": "p@example.com" },
        "language": "en",
        "segments": [
            { "speaker": "Moderator", "start_ms": 0, "end_ms": 1500, "text": "Hello!" },
            { "speaker": participant, "start_ms": 1500, "end_ms": 4000, "text": "Hi, nice to meet you." },
        ],
    })
}

/// Create a transcript through the API; its JSON.
pub async fn create_transcript(app: &TestApp, key: &str, study_id: &str, participant: &str) -> Value {
    let (s, v) = post(app, &format!("/v1/studies/{study_id}/transcripts"), key, transcript_body(participant)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

/// `n` studies straight in the store (no rate limit in the way); ids oldest first.
pub async fn seed_studies(app: &TestApp, ws: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let s = app
            .store
            .create_study(
                &keyward_core::WorkspaceId::new(ws),
                &NewStudy { name: format!("Study {i}"), description: None },
            )
            .await
            .unwrap();
        ids.push(s.id);
    }
    ids
}

/// `n` transcripts of `study` straight in the store; ids oldest first.
pub async fn seed_transcripts(app: &TestApp, ws: &str, study: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let t = NewTranscript {
            participant_name: format!("Participant {i}"),
            participant_email: None,
            language: "en".into(),
            segments: vec![Segment { speaker: "A".into(), start_ms: 0, end_ms: 1, text: "t".into() }],
        };
        ids.push(app.store.create_transcript(&keyward_core::WorkspaceId::new(ws), study, &t).await.unwrap().id);
    }
    ids
}

/// The ids of a list answer's `data`.
pub fn ids(v: &Value) -> Vec<String> {
    v["data"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap().to_string()).collect()
}

/// Assert a problem+json answer with `status` and `code`.
pub fn assert_problem(status: StatusCode, v: &Value, want_status: StatusCode, code: &str) {
    assert_eq!(status, want_status, "{v}");
    assert_eq!(v["status"], want_status.as_u16(), "{v}");
    assert_eq!(v["code"], code, "{v}");
    assert!(v["request_id"].is_string(), "{v}");
}

/// Assert a 422 `validation_failed` whose errors are exactly the
/// `(field, code)` pairs of `want`, in any order; `what` names the case.
pub fn assert_field_errors(status: StatusCode, v: &Value, want: &[(&str, &str)], what: &str) {
    assert_problem(status, v, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let mut got = field_errors(v);
    got.sort();
    let mut want: Vec<(String, String)> = want.iter().map(|(f, c)| (f.to_string(), c.to_string())).collect();
    want.sort();
    assert_eq!(got, want, "{what}: {v}");
}

/// The `(field, code)` pairs of a 422.
pub fn field_errors(v: &Value) -> Vec<(String, String)> {
    v["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {v}"))
        .iter()
        .map(|e| (e["field"].as_str().unwrap().to_string(), e["code"].as_str().unwrap().to_string()))
        .collect()
}
