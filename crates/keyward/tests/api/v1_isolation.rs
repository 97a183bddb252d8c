//! Workspace isolation (SPEC §4): a key sees only its own workspace's data;
//! another workspace's id is a 404, never a 403, never the data.
use crate::helpers::*;
use crate::v1_support::*;
use keyward_core::Plan;
use reqwest::{Method, StatusCode};

/// Two workspaces, each with a study and a transcript of it.
struct Two {
    a: Tenant,
    b: Tenant,
    a_study: String,
    a_transcript: String,
    b_study: String,
    b_transcript: String,
}

async fn two(app: &TestApp) -> Two {
    let a = tenant(app, Plan::Pro).await;
    let b = tenant(app, Plan::Pro).await;
    let a_study = create_study(app, &a.key, "A's secret study").await["id"].as_str().unwrap().to_string();
    let a_transcript = create_transcript(app, &a.key, &a_study, "Alice").await["id"].as_str().unwrap().to_string();
    let b_study = create_study(app, &b.key, "B's study").await["id"].as_str().unwrap().to_string();
    let b_transcript = create_transcript(app, &b.key, &b_study, "Bob").await["id"].as_str().unwrap().to_string();
    Two { a, b, a_study, a_transcript, b_study, b_transcript }
}

#[tokio::test]
async fn another_workspaces_ids_are_404_on_every_route_and_method() {
    let app = TestApp::spawn().await;
    let w = two(&app).await;
    let cases = [
        (Method::GET, format!("/v1/studies/{}", w.a_study)),
        (Method::GET, format!("/v1/studies/{}/transcripts", w.a_study)),
        (Method::POST, format!("/v1/studies/{}/transcripts", w.a_study)),
        (Method::GET, format!("/v1/transcripts/{}", w.a_transcript)),
    ];
    for (method, path) in cases {
        let mut rb = app.v1(method.clone(), &path, &w.b.key);
        if method == Method::POST {
            rb = rb.json(&transcript_body("Mallory"));
        }
        let (s, v) = body(rb.send().await.unwrap()).await;
        assert_problem(s, &v, StatusCode::NOT_FOUND, "not_found");
        assert!(!v.to_string().contains("secret"), "{method} {path} leaked: {v}");
    }
}

#[tokio::test]
async fn a_key_cannot_add_a_transcript_to_another_workspaces_study() {
    let app = TestApp::spawn().await;
    let w = two(&app).await;
    let (s, _) =
        post(&app, &format!("/v1/studies/{}/transcripts", w.a_study), &w.b.key, transcript_body("Mallory")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Nothing was written into A's study.
    let (_, list) = app.v1_get(&format!("/v1/studies/{}/transcripts", w.a_study), &w.a.key).await;
    assert_eq!(ids(&list), [w.a_transcript.as_str()]);
    let (_, all) = app.v1_get("/v1/transcripts", &w.a.key).await;
    assert_eq!(ids(&all), [w.a_transcript.as_str()]);
}

#[tokio::test]
async fn lists_never_show_another_workspaces_data() {
    let app = TestApp::spawn().await;
    let w = two(&app).await;
    let (_, a_studies) = app.v1_get("/v1/studies", &w.a.key).await;
    assert_eq!(ids(&a_studies), [w.a_study.as_str()]);
    let (_, b_studies) = app.v1_get("/v1/studies", &w.b.key).await;
    assert_eq!(ids(&b_studies), [w.b_study.as_str()]);
    let (_, a_all) = app.v1_get("/v1/transcripts", &w.a.key).await;
    assert_eq!(ids(&a_all), [w.a_transcript.as_str()]);
    let (_, b_all) = app.v1_get("/v1/transcripts?limit=100", &w.b.key).await;
    assert_eq!(ids(&b_all), [w.b_transcript.as_str()]);
    assert!(!b_all.to_string().contains("Alice"));
}

#[tokio::test]
async fn a_cursor_from_another_workspace_is_an_unknown_cursor() {
    let app = TestApp::spawn().await;
    let w = two(&app).await;
    for path in [
        format!("/v1/studies?starting_after={}", w.a_study),
        format!("/v1/transcripts?starting_after={}", w.a_transcript),
        format!("/v1/studies/{}/transcripts?starting_after={}", w.b_study, w.a_transcript),
    ] {
        let (s, v) = app.v1_get(&path, &w.b.key).await;
        assert_field_errors(s, &v, &[("starting_after", "unknown_cursor")], &path);
    }
}

#[tokio::test]
async fn the_own_workspaces_ids_still_work_for_each_key() {
    let app = TestApp::spawn().await;
    let w = two(&app).await;
    for (key, study, transcript) in [(&w.a.key, &w.a_study, &w.a_transcript), (&w.b.key, &w.b_study, &w.b_transcript)] {
        assert_eq!(app.v1_get(&format!("/v1/studies/{study}"), key).await.0, StatusCode::OK);
        assert_eq!(app.v1_get(&format!("/v1/transcripts/{transcript}"), key).await.0, StatusCode::OK);
    }
    assert_ne!(w.a.ws, w.b.ws);
}
