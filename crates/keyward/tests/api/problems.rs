//! The shape of problem+json answers (RFC 9457, SPEC §4): one snapshot per
//! kind of problem, so a renamed member, a changed `type` URI or a lost
//! `errors` entry shows up as a diff. The values that change per run
//! (`request_id`, ids in details) are redacted first.
use crate::helpers::*;
use keyward_core::Plan;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// `v` with `request_id` and every generated id (`std_…`, `key_…`, …) inside
/// strings replaced by placeholders.
fn redact(v: &Value) -> Value {
    let ids = regex::Regex::new(r"\b(ws|key|std|trn|hook|usr)_[0-9A-Za-z]{16,}").unwrap();
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| match k.as_str() {
                    "request_id" if x.is_string() => (k.clone(), json!("[request_id]")),
                    _ => (k.clone(), redact(x)),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redact).collect()),
        Value::String(s) => Value::String(ids.replace_all(s, "${1}_[id]").into_owned()),
        other => other.clone(),
    }
}

/// The answer's status and body, after asserting it is problem+json whose
/// `status` member agrees with the HTTP status.
async fn problem(res: reqwest::Response) -> (StatusCode, Value) {
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let (s, v) = body(res).await;
    assert_eq!(v["status"], s.as_u16(), "{v}");
    (s, redact(&v))
}

#[tokio::test]
async fn v1_problem_bodies_keep_their_shape() {
    let AppWithKey { app, workspace_id: ws, key, .. } = TestApp::builder().plan(Plan::Starter).with_key().spawn().await;
    let v1 = |m: Method, path: &str| app.v1(m, path, &key.secret);
    let json_post =
        |path: &str, raw: &'static str| v1(Method::POST, path).header("content-type", "application/json").body(raw);

    let (_, v) =
        problem(json_post("/v1/studies", r#"{"name": "", "description": 1, "x": 1}"#).send().await.unwrap()).await;
    insta::assert_json_snapshot!("v1_422_validation_failed", v);
    let (_, v) = problem(json_post("/v1/studies", "{\"name\": ").send().await.unwrap()).await;
    insta::assert_json_snapshot!("v1_400_invalid_json", v);
    let (_, v) = problem(v1(Method::POST, "/v1/studies").body("{}").send().await.unwrap()).await;
    insta::assert_json_snapshot!("v1_415_unsupported_media_type", v);
    let (_, v) =
        problem(v1(Method::GET, &format!("/v1/studies/{}", keyward_core::ids::new_id("std"))).send().await.unwrap())
            .await;
    insta::assert_json_snapshot!("v1_404_not_found", v);
    let (_, v) = problem(v1(Method::DELETE, "/v1/studies").send().await.unwrap()).await;
    insta::assert_json_snapshot!("v1_405_method_not_allowed", v);
    let (_, v) = problem(app.http.get(app.url("/v1/me")).bearer_auth("ue_live_nope").send().await.unwrap()).await;
    insta::assert_json_snapshot!("v1_401_invalid_api_key", v);
    let (_, v) = problem(v1(Method::GET, "/v1/studies?limit=0&limt=1").send().await.unwrap()).await;
    insta::assert_json_snapshot!("v1_422_query_parameters", v);

    // The 429 of a burst (60 a minute on Starter), then 403 on the Free plan.
    let mut last = None;
    for _ in 0..61 {
        last = Some(v1(Method::GET, "/v1/studies").send().await.unwrap());
    }
    let (s, mut v) = problem(last.unwrap()).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    // Seconds until the window frees a slot (1–60) are not part of the shape.
    let detail = v["detail"].as_str().unwrap().to_string();
    let secs = regex::Regex::new(r"retry after (\d+) s").unwrap();
    let n: u64 = secs.captures(&detail).expect("the wait in the detail")[1].parse().unwrap();
    assert!((1..=60).contains(&n), "{detail}");
    v["detail"] = json!(secs.replace(&detail, "retry after [secs] s"));
    insta::assert_json_snapshot!("v1_429_rate_limited", v);
    app.store.set_plan(&ws, Plan::Free).await.unwrap();
    let (_, v) = problem(app.http.get(app.url("/v1/studies")).bearer_auth(&key.secret).send().await.unwrap()).await;
    insta::assert_json_snapshot!("v1_403_plan_required", v);
}

#[tokio::test]
async fn admin_api_problem_bodies_keep_their_shape() {
    let AppWithKey { app, workspace_id: ws, admin, key } = TestApp::builder().with_key().spawn().await;
    let keys = format!("/api/workspaces/{ws}/api-keys");
    let res =
        admin.request(Method::POST, &keys).json(&json!({ "name": " ", "scopes": ["nope"] })).send().await.unwrap();
    let (_, v) = problem(res).await;
    insta::assert_json_snapshot!("admin_422_validation_failed", v);
    let res = admin
        .request(Method::PUT, &format!("{keys}/{}/allowed-ips", key.id))
        .json(&json!({ "cidrs": ["10.0.0.1/8", "nope"] }))
        .send()
        .await
        .unwrap();
    let (_, v) = problem(res).await;
    insta::assert_json_snapshot!("admin_422_allowed_ips", v);
    let res = app
        .http
        .post(app.url(&keys))
        .header("cookie", &admin.cookie)
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .unwrap();
    let (_, v) = problem(res).await;
    insta::assert_json_snapshot!("admin_403_csrf_failed", v);
    let (_, v) = problem(app.http.get(app.url(&keys)).send().await.unwrap()).await;
    insta::assert_json_snapshot!("admin_401_unauthenticated", v);
    let res =
        admin.request(Method::DELETE, &format!("{keys}/{}", keyward_core::ids::new_id("key"))).send().await.unwrap();
    let (_, v) = problem(res).await;
    insta::assert_json_snapshot!("admin_404_not_found", v);
}
