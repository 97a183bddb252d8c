//! Errors of `/v1` (SPEC §4): 422 with per-field errors, 400 `invalid_json`,
//! 413, 415, 404 and 405 as problem+json, and the pipeline's 401/403/429 on
//! the resource routes.
use crate::helpers::*;
use crate::v1_support::*;
use keyward_core::Plan;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Assert `res` is a problem+json answer with `status` and `code`.
async fn assert_problem_answer(res: reqwest::Response, status: StatusCode, code: &str) {
    assert_eq!(res.headers()["content-type"], "application/problem+json", "{}", res.url());
    let (s, v) = body(res).await;
    assert_problem(s, &v, status, code);
}

/// `POST path` with a JSON content type and `raw` as the body.
async fn post_raw(app: &TestApp, path: &str, key: &str, raw: impl Into<reqwest::Body>) -> reqwest::Response {
    app.v1(Method::POST, path, key).header("content-type", "application/json").body(raw).send().await.unwrap()
}

async fn study_id(app: &TestApp, key: &str) -> String {
    create_study(app, key, "S").await["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn study_validation_errors_are_422_with_every_field_named() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (json!({}), vec![("name", "required")]),
        (json!({ "name": "" }), vec![("name", "empty")]),
        (json!({ "name": "   " }), vec![("name", "invalid_characters")]),
        (json!({ "name": "x".repeat(201) }), vec![("name", "too_long")]),
        (json!({ "name": 42 }), vec![("name", "invalid_type")]),
        (json!({ "name": null }), vec![("name", "invalid_type")]),
        (json!({ "name": "ok", "description": "d".repeat(5001) }), vec![("description", "too_long")]),
        (json!({ "name": "ok", "description": ["no"] }), vec![("description", "invalid_type")]),
        (json!({ "name": "ok", "owner": "me" }), vec![("owner", "unknown_field")]),
        (
            json!({ "name": "", "description": 1, "x": 1 }),
            vec![("name", "empty"), ("description", "invalid_type"), ("x", "unknown_field")],
        ),
        (json!([1, 2]), vec![("", "invalid_type")]),
        (json!("a string"), vec![("", "invalid_type")]),
    ];
    for (body, want) in cases {
        let (s, v) = post(&app, "/v1/studies", &key.secret, body.clone()).await;
        assert_field_errors(s, &v, &want, &format!("body {body}"));
    }
}

#[tokio::test]
async fn transcript_validation_errors_name_json_paths() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let sid = study_id(&app, &key.secret).await;
    let path = format!("/v1/studies/{sid}/transcripts");
    let seg = |s: Value, e: Value| json!({ "speaker": "A", "start_ms": s, "end_ms": e, "text": "t" });
    let with_segments = |segments: Value| json!({ "participant": { "name": "P" }, "segments": segments });
    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (json!({}), vec![("participant", "required"), ("segments", "required")]),
        (json!({ "participant": {}, "segments": [] }), vec![("participant.name", "required"), ("segments", "empty")]),
        (
            json!({ "participant": "P", "segments": "x" }),
            vec![("participant", "invalid_type"), ("segments", "invalid_type")],
        ),
        (
            json!({ "participant": { "name": "P", "email": "nope", "phone": "1" }, "segments": [seg(json!(0), json!(1))] }),
            vec![("participant.email", "invalid_format"), ("participant.phone", "unknown_field")],
        ),
        (
            json!({ "participant": { "name": "P", "email": format!("{}@example.com", "a".repeat(243)) }, "segments": [seg(json!(0), json!(1))] }),
            vec![("participant.email", "too_long")],
        ),
        (
            json!({ "participant": { "name": "P" }, "language": "English", "segments": [seg(json!(0), json!(1))] }),
            vec![("language", "invalid_format")],
        ),
        (
            json!({ "participant": { "name": "P" }, "language": "en-abcdefghi", "segments": [seg(json!(0), json!(1))] }),
            vec![("language", "invalid_format")],
        ),
        (
            json!({ "participant": { "name": "P" }, "language": null, "segments": [seg(json!(0), json!(1))] }),
            vec![("language", "invalid_type")],
        ),
        (
            with_segments(json!([
                seg(json!(0), json!(1)),
                seg(json!(0), json!(1)),
                seg(json!(0), json!(1)),
                seg(json!(9), json!(3))
            ])),
            vec![("segments[3].end_ms", "before_start")],
        ),
        (with_segments(json!([seg(json!(-1), json!(1))])), vec![("segments[0].start_ms", "out_of_range")]),
        (with_segments(json!([seg(json!(0), json!(604_800_001u64))])), vec![("segments[0].end_ms", "out_of_range")]),
        (with_segments(json!([seg(json!(0), json!(1e300))])), vec![("segments[0].end_ms", "out_of_range")]),
        (
            with_segments(json!([seg(json!("0"), json!(1.5))])),
            vec![("segments[0].start_ms", "invalid_type"), ("segments[0].end_ms", "invalid_type")],
        ),
        (
            with_segments(json!([{ "speaker": "", "text": "", "start_ms": 0, "end_ms": 0, "mood": "happy" }])),
            vec![
                ("segments[0].speaker", "empty"),
                ("segments[0].text", "empty"),
                ("segments[0].mood", "unknown_field"),
            ],
        ),
        (
            with_segments(json!([{ "speaker": "A", "start_ms": 0, "end_ms": 0 }])),
            vec![("segments[0].text", "required")],
        ),
        (
            with_segments(json!([{ "speaker": "A", "start_ms": 0, "end_ms": 0, "text": "x".repeat(10_001) }])),
            vec![("segments[0].text", "too_long")],
        ),
        (
            with_segments(json!([{ "speaker": "A\u{0}", "start_ms": 0, "end_ms": 0, "text": "t" }])),
            vec![("segments[0].speaker", "invalid_characters")],
        ),
        (with_segments(json!(["not an object"])), vec![("segments[0]", "invalid_type")]),
    ];
    for (body, want) in cases {
        let (s, v) = post(&app, &path, &key.secret, body.clone()).await;
        assert_field_errors(s, &v, &want, &format!("body {body}"));
    }
}

#[tokio::test]
async fn too_many_segments_are_422() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let sid = study_id(&app, &key.secret).await;
    let segments: Vec<Value> =
        (0..10_001).map(|_| json!({ "speaker": "A", "start_ms": 0, "end_ms": 0, "text": "t" })).collect();
    let (s, v) = post(
        &app,
        &format!("/v1/studies/{sid}/transcripts"),
        &key.secret,
        json!({ "participant": { "name": "P" }, "segments": segments }),
    )
    .await;
    assert_field_errors(s, &v, &[("segments", "too_many")], "10 001 segments");
}

#[tokio::test]
async fn error_messages_never_echo_long_input() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let long = "SECRETSECRET".repeat(100);
    let (s, v) =
        post(&app, "/v1/studies", &key.secret, json!({ "name": long, "description": 5, long.clone(): 1 })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!v.to_string().contains("SECRETSECRET"), "{v}");
}

#[tokio::test]
async fn malformed_json_is_400_invalid_json() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let sid = study_id(&app, &key.secret).await;
    for path in ["/v1/studies".to_string(), format!("/v1/studies/{sid}/transcripts")] {
        for raw in ["{\"name\": ", "not json", "", "{\"name\":\"a\"} trailing"] {
            let res = post_raw(&app, &path, &key.secret, raw).await;
            assert_problem_answer(res, StatusCode::BAD_REQUEST, "invalid_json").await;
        }
    }
}

#[tokio::test]
async fn a_wrong_content_type_is_415() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    for ct in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let mut rb = app.v1(Method::POST, "/v1/studies", &key.secret).body(r#"{"name":"a"}"#);
        if let Some(ct) = ct {
            rb = rb.header("content-type", ct);
        }
        let (s, v) = body(rb.send().await.unwrap()).await;
        assert_problem(s, &v, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    }
    let res = app
        .v1(Method::POST, "/v1/studies", &key.secret)
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"name":"a"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "charset parameter is fine");
}

#[tokio::test]
async fn a_body_over_one_mib_is_413() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let sid = study_id(&app, &key.secret).await;
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(1_153_434)); // 1.1 MiB
    for path in ["/v1/studies".to_string(), format!("/v1/studies/{sid}/transcripts")] {
        let res = post_raw(&app, &path, &key.secret, big.clone()).await;
        assert_problem_answer(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    }
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let study = keyward_core::ids::new_id("std");
    let transcript = keyward_core::ids::new_id("trn");
    for path in [
        format!("/v1/studies/{study}"),
        format!("/v1/studies/{study}/transcripts"),
        format!("/v1/transcripts/{transcript}"),
        format!("/v1/studies/{transcript}"),
        format!("/v1/transcripts/{study}"),
        "/v1/studies/nope".to_string(),
        "/v1/studies/%FF%FE".to_string(),
        "/v1/transcripts/'%20OR%201=1".to_string(),
    ] {
        let (s, v) = app.v1_get(&path, &key.secret).await;
        assert_problem(s, &v, StatusCode::NOT_FOUND, "not_found");
    }
    let (s, v) = post(&app, &format!("/v1/studies/{study}/transcripts"), &key.secret, transcript_body("P")).await;
    assert_problem(s, &v, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn unknown_v1_routes_are_404_problem_json() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    for path in ["/v1/nope", "/v1/studies/a/b/c", "/v1/hooks/a/b", "/v1"] {
        let res = app.v1(Method::GET, path, &key.secret).send().await.unwrap();
        assert_problem_answer(res, StatusCode::NOT_FOUND, "not_found").await;
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let sid = study_id(&app, &key.secret).await;
    let cases = [
        (Method::DELETE, "/v1/studies".to_string(), vec!["GET", "POST"]),
        (Method::PUT, format!("/v1/studies/{sid}"), vec!["GET"]),
        (Method::PATCH, format!("/v1/studies/{sid}/transcripts"), vec!["GET", "POST"]),
        (Method::POST, "/v1/transcripts".to_string(), vec!["GET"]),
        (Method::DELETE, "/v1/transcripts/trn_x".to_string(), vec!["GET"]),
        (Method::POST, "/v1/me".to_string(), vec!["GET"]),
        (Method::POST, "/v1/openapi.json".to_string(), vec!["GET"]),
    ];
    for (method, path, allowed) in cases {
        let res = app.v1(method.clone(), &path, &key.secret).send().await.unwrap();
        let allow = res.headers().get("allow").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        for m in allowed {
            assert!(allow.contains(m), "{method} {path}: Allow {allow:?} lacks {m}");
        }
        assert_problem_answer(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    }
}

#[tokio::test]
async fn resource_routes_need_a_valid_key() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let sid = study_id(&app, &key.secret).await;
    for (method, path) in [
        (Method::GET, "/v1/studies".to_string()),
        (Method::POST, "/v1/studies".to_string()),
        (Method::GET, format!("/v1/studies/{sid}")),
        (Method::GET, format!("/v1/studies/{sid}/transcripts")),
        (Method::POST, format!("/v1/studies/{sid}/transcripts")),
        (Method::GET, "/v1/transcripts".to_string()),
        (Method::GET, "/v1/transcripts/trn_x".to_string()),
    ] {
        let res = app.http.request(method.clone(), app.url(&path)).json(&json!({ "name": "x" })).send().await.unwrap();
        assert!(res.headers().contains_key("www-authenticate"));
        let (s, v) = body(res).await;
        assert_problem(s, &v, StatusCode::UNAUTHORIZED, "invalid_api_key");
    }
}

#[tokio::test]
async fn a_free_workspace_gets_403_plan_required_on_resource_routes() {
    let AppWithKey { app, workspace_id: ws, key, .. } = TestApp::builder().with_key().spawn().await;
    let sid = study_id(&app, &key.secret).await;
    app.store.set_plan(&ws, Plan::Free).await.unwrap();
    for path in ["/v1/studies".to_string(), format!("/v1/studies/{sid}"), "/v1/transcripts".to_string()] {
        let (s, v) = app.v1_get(&path, &key.secret).await;
        assert_problem(s, &v, StatusCode::FORBIDDEN, "plan_required");
    }
}

#[tokio::test]
async fn a_burst_past_the_limit_gets_429_with_retry_after() {
    let AppWithKey { app, key, .. } = TestApp::builder().plan(Plan::Starter).with_key().spawn().await;
    let mut last = None;
    for _ in 0..61 {
        last = Some(app.v1(Method::GET, "/v1/studies", &key.secret).send().await.unwrap());
    }
    let res = last.unwrap();
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(res.headers()["x-ratelimit-remaining"], "0");
    let (s, v) = body(res).await;
    assert_problem(s, &v, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
}
