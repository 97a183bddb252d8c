//! SPEC §6: unknown `/v1` routes and 405s made with a key that exists are
//! recorded with route `unmatched`; the answers themselves do not change.
use crate::helpers::*;
use keyward_core::Plan;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn unknown_routes_and_wrong_methods_with_a_valid_key_are_recorded_as_unmatched() {
    let app = TestApp::spawn().await;
    let AdminWithKey { workspace_id: ws, admin, key: NewKey { id: key_id, secret } } =
        app.add_admin_with_key(Plan::Pro).await;
    assert_eq!(app.v1_get("/v1/me", &secret).await.0, StatusCode::OK);
    let (s, v) = app.v1_get("/v1/nope?token=x", &secret).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (s, v) = body(app.v1(Method::DELETE, "/v1/me", &secret).send().await.unwrap()).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")));
    // Not recorded: an unknown key, no key, and paths outside /v1.
    let unknown = keyward_core::ApiKeySecret::generate();
    assert_eq!(app.v1_get("/v1/nope", unknown.expose()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(reqwest::get(app.url("/v1/nope")).await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(app.v1_get("/elsewhere", &secret).await.0, StatusCode::NOT_FOUND);

    let v: Value = eventually(10, || async {
        let (_, v) = admin.get(&format!("/api/workspaces/{ws}/api-usage")).await;
        (v["last_24h"]["total"].as_u64() == Some(3)).then_some(v)
    })
    .await;
    assert_eq!(v["last_24h"]["by_status"], json!({ "200": 1, "404": 1, "405": 1 }));
    let mut recent: Vec<(String, String, String, u64)> = v["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["key_id"], key_id.as_str(), "{r}");
            (
                r["method"].as_str().unwrap().to_string(),
                r["route"].as_str().unwrap().to_string(),
                r["path"].as_str().unwrap().to_string(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect();
    recent.sort();
    assert_eq!(
        recent,
        [
            ("DELETE".into(), "unmatched".into(), "/v1/me".into(), 405),
            ("GET".into(), "/v1/me".into(), "/v1/me".into(), 200),
            ("GET".into(), "unmatched".into(), "/v1/nope".into(), 404),
        ]
    );
}
