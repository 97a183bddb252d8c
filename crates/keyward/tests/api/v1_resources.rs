//! Studies and transcripts through `/v1` (SPEC §4 "Resources"): every route's
//! happy path, the shapes of the objects, order and Unicode round-trips.
use crate::helpers::*;
use crate::v1_support::*;
use keyward_core::Plan;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn a_created_study_is_201_with_location_and_can_be_fetched() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let res = app
        .v1(Method::POST, "/v1/studies", &key.secret)
        .json(&json!({ "name": "  Checkout test  ", "description": "Round 2.\nFive sessions." }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    assert_eq!(res.headers()["x-ratelimit-limit"], "300");
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let study: Value = res.json().await.unwrap();
    let id = study["id"].as_str().unwrap();
    assert!(id.starts_with("std_") && id.len() == 30, "{id}");
    assert_eq!(location, format!("/v1/studies/{id}"));
    assert_eq!(study["name"], "Checkout test", "names are stored trimmed");
    assert_eq!(study["description"], "Round 2.\nFive sessions.");
    assert!(study["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(study.as_object().unwrap().len(), 4, "{study}");

    assert_fetched_as(&app, &location, &key.secret, &study).await;
}

#[tokio::test]
async fn a_study_without_description_has_null_description() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    for body in [
        json!({ "name": "A" }),
        json!({ "name": "B", "description": null }),
        json!({ "name": "C", "description": " " }),
    ] {
        let (s, v) = post(&app, "/v1/studies", &key.secret, body).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["description"], Value::Null);
    }
}

#[tokio::test]
async fn studies_are_listed_newest_first() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let a = create_study(&app, &key.secret, "first").await;
    let b = create_study(&app, &key.secret, "second").await;
    let c = create_study(&app, &key.secret, "third").await;
    let (s, list) = app.v1_get("/v1/studies", &key.secret).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["has_more"], false);
    assert_eq!(list["data"], json!([c, b, a]));
}

#[tokio::test]
async fn an_empty_workspace_lists_nothing() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    for path in ["/v1/studies", "/v1/transcripts"] {
        let (s, v) = app.v1_get(path, &key.secret).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v, json!({ "data": [], "has_more": false }));
    }
}

#[tokio::test]
async fn a_created_transcript_is_201_with_location_and_can_be_fetched() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let study = create_study(&app, &key.secret, "Interviews").await;
    let sid = study["id"].as_str().unwrap();
    let res = app
        .v1(Method::POST, &format!("/v1/studies/{sid}/transcripts"), &key.secret)
        .json(&transcript_body("Ada"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let tr: Value = res.json().await.unwrap();
    let id = tr["id"].as_str().unwrap();
    assert!(id.starts_with("trn_"), "{id}");
    assert_eq!(location, format!("/v1/transcripts/{id}"));
    assert_eq!(tr["study_id"], sid);
    assert_eq!(tr["participant"], json!({ "name": "Ada", "email": "p@example.com" }));
    assert_eq!(tr["language"], "en");
    assert_eq!(tr["segments"], transcript_body("Ada")["segments"]);
    let mut keys: Vec<_> = tr.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["created_at", "id", "language", "participant", "segments", "study_id"]);

    assert_fetched_as(&app, &location, &key.secret, &tr).await;
}

#[tokio::test]
async fn a_transcript_without_language_is_english_and_without_email_has_null_email() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let study = create_study(&app, &key.secret, "S").await;
    let body = json!({
        "participant": { "name": "P" },
        "segments": [{ "speaker": "P", "start_ms": 5, "end_ms": 5, "text": "same start and end is fine" }],
    });
    let (s, v) =
        post(&app, &format!("/v1/studies/{}/transcripts", study["id"].as_str().unwrap()), &key.secret, body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["language"], "en");
    assert_eq!(v["participant"]["email"], Value::Null);
}

#[tokio::test]
async fn transcripts_are_listed_per_study_and_for_the_whole_workspace_newest_first() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let s1 = create_study(&app, &key.secret, "one").await["id"].as_str().unwrap().to_string();
    let s2 = create_study(&app, &key.secret, "two").await["id"].as_str().unwrap().to_string();
    let a = create_transcript(&app, &key.secret, &s1, "A").await;
    let b = create_transcript(&app, &key.secret, &s2, "B").await;
    let c = create_transcript(&app, &key.secret, &s1, "C").await;

    let (s, one) = app.v1_get(&format!("/v1/studies/{s1}/transcripts"), &key.secret).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(one, json!({ "data": [c, a], "has_more": false }));
    let (_, two) = app.v1_get(&format!("/v1/studies/{s2}/transcripts"), &key.secret).await;
    assert_eq!(two["data"], json!([b]));
    let (s, all) = app.v1_get("/v1/transcripts", &key.secret).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all, json!({ "data": [c, b, a], "has_more": false }));
}

#[tokio::test]
async fn unicode_text_round_trips_exactly() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let name = "Zoë Müller — 用户研究 🧪";
    let study = create_study(&app, &key.secret, name).await;
    assert_eq!(study["name"], name);
    let texts = [
        "Emoji: 👩🏽‍💻🚀 and a flag 🇨🇭",
        "RTL: שלום עולם, مرحبا بالعالم",
        "Combining: e\u{301} vs é, Z\u{308}oe, n\u{303}",
        "Zero-width joiner and BOM-like \u{200d}\u{feff} stay",
        "Line one\nLine two\ttabbed",
    ];
    let body = json!({
        "participant": { "name": "Zoë Müller", "email": "zoë@exämple.de" },
        "language": "de-CH",
        "segments": texts.iter().enumerate().map(|(i, text)| json!({
            "speaker": if i % 2 == 0 { "Modératrice" } else { "Zoë Müller" },
            "start_ms": i * 1000, "end_ms": i * 1000 + 900, "text": text,
        })).collect::<Vec<_>>(),
    });
    let sid = study["id"].as_str().unwrap();
    let (s, created) = post(&app, &format!("/v1/studies/{sid}/transcripts"), &key.secret, body.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let (_, fetched) = app.v1_get(&format!("/v1/transcripts/{}", created["id"].as_str().unwrap()), &key.secret).await;
    assert_eq!(fetched["participant"], body["participant"]);
    assert_eq!(fetched["segments"], body["segments"]);
    assert_eq!(fetched["language"], "de-CH");
}

#[tokio::test]
async fn the_largest_allowed_values_are_accepted() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let (s, study) =
        post(&app, "/v1/studies", &key.secret, json!({ "name": "n".repeat(200), "description": "d".repeat(5000) }))
            .await;
    assert_eq!(s, StatusCode::CREATED, "{study}");
    let seg =
        json!({ "speaker": "s".repeat(200), "start_ms": 0, "end_ms": 604_800_000u64, "text": "t".repeat(10_000) });
    let body = json!({
        "participant": { "name": "p".repeat(200), "email": format!("{}@example.com", "a".repeat(242)) },
        "language": "zh-Hant-TW",
        "segments": [seg],
    });
    let (s, v) =
        post(&app, &format!("/v1/studies/{}/transcripts", study["id"].as_str().unwrap()), &key.secret, body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

#[tokio::test]
async fn ten_thousand_segments_are_accepted() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let study = create_study(&app, &key.secret, "long").await;
    let segments: Vec<Value> =
        (0..10_000u64).map(|i| json!({ "speaker": "S", "start_ms": i, "end_ms": i + 1, "text": "ok" })).collect();
    let body = json!({ "participant": { "name": "P" }, "segments": segments });
    let (s, v) =
        post(&app, &format!("/v1/studies/{}/transcripts", study["id"].as_str().unwrap()), &key.secret, body).await;
    assert_eq!(s, StatusCode::CREATED, "{}", v["detail"]);
    assert_eq!(v["segments"].as_array().unwrap().len(), 10_000);
}

#[tokio::test]
async fn handler_answers_carry_rate_limit_headers() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    for (method, path) in
        [(Method::GET, "/v1/studies"), (Method::GET, "/v1/studies/std_nope"), (Method::POST, "/v1/studies")]
    {
        let res = app.v1(method.clone(), path, &key.secret).json(&json!({})).send().await.unwrap();
        assert!(res.status().is_success() || res.status().is_client_error());
        for h in [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
            "ratelimit-policy",
            "ratelimit",
            "x-request-id",
        ] {
            assert!(res.headers().contains_key(h), "{method} {path} lacks {h}");
        }
    }
}

#[tokio::test]
async fn the_demo_workspace_has_sample_studies_and_transcripts() {
    let app = TestApp::spawn().await;
    let ws = app.store.create_workspace("Demo", Plan::Pro).await.unwrap().id;
    keyward::demo::seed_sample_data(&app.store, &ws).await.unwrap();
    let email = "demo-admin@example.com";
    let admin = app.user(&ws, email, keyward_core::Role::Admin).await;
    let NewKey { secret: key, .. } = admin.new_key(&ws, "demo").await;

    let (s, studies) = app.v1_get("/v1/studies", &key).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(studies["data"].as_array().unwrap().len(), 3);
    let (_, transcripts) = app.v1_get("/v1/transcripts?limit=100", &key).await;
    let all = transcripts["data"].as_array().unwrap();
    assert!(all.len() >= 6, "{}", all.len());
    let text = transcripts.to_string();
    assert!(text.contains("Zoë Müller"));
    assert!(all.iter().any(|t| t["language"] != "en"));
    assert!(all.iter().all(|t| t["segments"].as_array().unwrap().len() >= 3));
    let speakers: std::collections::HashSet<_> =
        all[0]["segments"].as_array().unwrap().iter().map(|s| s["speaker"].as_str().unwrap()).collect();
    assert!(speakers.len() >= 2, "transcripts have several speakers");
}
