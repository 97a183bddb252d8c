//! List pagination (SPEC §4 "Lists"): newest first, `limit` 1–100 (default
//! 20), `starting_after` cursors, `has_more`, and 422 for bad parameters.
use crate::helpers::*;
use crate::v1_support::*;
use reqwest::StatusCode;

fn newest_first(mut ids: Vec<String>) -> Vec<String> {
    ids.reverse();
    ids
}

#[tokio::test]
async fn limit_one_walks_every_item_once_in_order() {
    let AppWithKey { app, workspace_id: ws, key, .. } = TestApp::builder().with_key().spawn().await;
    let want = newest_first(seed_studies(&app, &ws, 5).await);
    let mut seen = Vec::new();
    let mut path = "/v1/studies?limit=1".to_string();
    loop {
        let (s, page) = app.v1_get(&path, &key.secret).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        let got = ids(&page);
        assert_eq!(got.len(), 1);
        seen.extend(got.clone());
        if page["has_more"] == false {
            break;
        }
        path = format!("/v1/studies?limit=1&starting_after={}", got[0]);
    }
    assert_eq!(seen, want);
}

#[tokio::test]
async fn the_default_page_is_twenty() {
    let AppWithKey { app, workspace_id: ws, key, .. } = TestApp::builder().with_key().spawn().await;
    let want = newest_first(seed_studies(&app, &ws, 21).await);
    let (_, page) = app.v1_get("/v1/studies", &key.secret).await;
    assert_eq!(ids(&page), want[..20]);
    assert_eq!(page["has_more"], true);
}

#[tokio::test]
async fn limit_one_hundred_then_the_rest() {
    let AppWithKey { app, workspace_id: ws, key, .. } = TestApp::builder().with_key().spawn().await;
    let want = newest_first(seed_studies(&app, &ws, 101).await);
    let (s, first) = app.v1_get("/v1/studies?limit=100", &key.secret).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ids(&first), want[..100]);
    assert_eq!(first["has_more"], true);
    let (_, second) = app.v1_get(&format!("/v1/studies?limit=100&starting_after={}", want[99]), &key.secret).await;
    assert_eq!(ids(&second), want[100..]);
    assert_eq!(second["has_more"], false);
}

#[tokio::test]
async fn an_exact_multiple_of_the_page_size_ends_with_has_more_false() {
    let AppWithKey { app, workspace_id: ws, key, .. } = TestApp::builder().with_key().spawn().await;
    let study = seed_studies(&app, &ws, 1).await.remove(0);
    let want = newest_first(seed_transcripts(&app, &ws, &study, 10).await);
    for base in ["/v1/transcripts".to_string(), format!("/v1/studies/{study}/transcripts")] {
        let (_, p1) = app.v1_get(&format!("{base}?limit=5"), &key.secret).await;
        assert_eq!(ids(&p1), want[..5]);
        assert_eq!(p1["has_more"], true);
        let (_, p2) = app.v1_get(&format!("{base}?limit=5&starting_after={}", want[4]), &key.secret).await;
        assert_eq!(ids(&p2), want[5..]);
        assert_eq!(p2["has_more"], false, "{base}: the last full page says there is no more");
        let (s, p3) = app.v1_get(&format!("{base}?limit=5&starting_after={}", want[9]), &key.secret).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(ids(&p3), Vec::<String>::new());
        assert_eq!(p3["has_more"], false);
    }
}

#[tokio::test]
async fn out_of_range_or_malformed_limits_are_422_naming_limit() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    for (q, code) in [
        ("limit=0", "out_of_range"),
        ("limit=101", "out_of_range"),
        ("limit=-1", "out_of_range"),
        ("limit=abc", "invalid_type"),
        ("limit=", "invalid_type"),
        ("limit=2.5", "invalid_type"),
    ] {
        for path in ["/v1/studies", "/v1/transcripts"] {
            let (s, v) = app.v1_get(&format!("{path}?{q}"), &key.secret).await;
            assert_field_errors(s, &v, &[("limit", code)], &format!("{path}?{q}"));
        }
    }
}

#[tokio::test]
async fn unknown_cursors_are_422_naming_starting_after() {
    let AppWithKey { app, workspace_id: ws, key, .. } = TestApp::builder().with_key().spawn().await;
    let studies = seed_studies(&app, &ws, 2).await;
    let in_one = seed_transcripts(&app, &ws, &studies[0], 1).await.remove(0);
    let made_up_study = keyward_core::ids::new_id("std");
    let made_up_transcript = keyward_core::ids::new_id("trn");
    for path in [
        format!("/v1/studies?starting_after={made_up_study}"),
        "/v1/studies?starting_after=nope".to_string(),
        "/v1/studies?starting_after=".to_string(),
        format!("/v1/studies?starting_after={in_one}"),
        format!("/v1/transcripts?starting_after={made_up_transcript}"),
        format!("/v1/transcripts?starting_after={}", studies[0]),
        // A transcript of another study is not in this study's list.
        format!("/v1/studies/{}/transcripts?starting_after={in_one}", studies[1]),
    ] {
        let (s, v) = app.v1_get(&path, &key.secret).await;
        assert_field_errors(s, &v, &[("starting_after", "unknown_cursor")], &path);
    }
}

#[tokio::test]
async fn unknown_or_repeated_query_parameters_are_422() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let (s, v) = app.v1_get("/v1/studies?limt=5", &key.secret).await;
    assert_field_errors(s, &v, &[("limt", "unknown_parameter")], "limt");
    let (s, v) = app.v1_get("/v1/transcripts?limit=5&limit=6", &key.secret).await;
    assert_field_errors(s, &v, &[("limit", "duplicate_parameter")], "limit");
    let (s, v) = app.v1_get("/v1/studies?limit=0&foo=1", &key.secret).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_errors(&v).len(), 2, "all problems at once: {v}");
}

#[tokio::test]
async fn a_list_of_an_unknown_study_is_404() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let made_up = keyward_core::ids::new_id("std");
    let (s, v) = app.v1_get(&format!("/v1/studies/{made_up}/transcripts"), &key.secret).await;
    assert_problem(s, &v, StatusCode::NOT_FOUND, "not_found");
}
