//! `GET /v1/openapi.json` (SPEC §4): served without auth, OpenAPI 3.1, and
//! exactly the routes the router serves.
use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The `/v1` surface of SPEC §4, §9 and §11.
const SPEC_OPERATIONS: [(&str, &str); 14] = [
    ("GET", "/v1/me"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/v1/studies"),
    ("POST", "/v1/studies"),
    ("GET", "/v1/studies/{id}"),
    ("GET", "/v1/studies/{id}/transcripts"),
    ("POST", "/v1/studies/{id}/transcripts"),
    ("GET", "/v1/transcripts"),
    ("GET", "/v1/transcripts/{id}"),
    ("GET", "/v1/hooks"),
    ("POST", "/v1/hooks"),
    ("DELETE", "/v1/hooks/{id}"),
    ("POST", "/v1/secret-scanning/github"),
    ("POST", "/v1/leaked-keys"),
];

/// Operations that need no API key (SPEC §4, §11).
const PUBLIC_PATHS: [&str; 3] = ["/v1/openapi.json", "/v1/secret-scanning/github", "/v1/leaked-keys"];

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
        .collect()
}

#[tokio::test]
async fn the_document_is_served_without_auth_and_is_openapi_3_1() {
    let app = TestApp::spawn().await;
    let doc = app.openapi_doc().await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"],
        json!({
            "type": "http", "scheme": "bearer", "bearerFormat": "ue_live_…",
            "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
        })
    );
    // A bad key does not matter either: the document needs none.
    let res = app.v1(Method::GET, "/v1/openapi.json", "ue_live_nope").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_document_lists_exactly_the_spec_operations() {
    let app = TestApp::spawn().await;
    let doc = app.openapi_doc().await;
    let want: BTreeSet<_> = SPEC_OPERATIONS.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(operations(&doc), want);
}

/// Every documented operation is routed (it reaches the auth pipeline or
/// its handler, never the router's 404/405), and on every documented path
/// every undocumented method is a 405: router and document agree.
#[tokio::test]
async fn every_documented_route_is_served_and_nothing_else_on_those_paths() {
    let AppWithKey { app, key, .. } = TestApp::builder().with_key().spawn().await;
    let doc = app.openapi_doc().await;
    let documented = operations(&doc);
    let paths: BTreeSet<String> = documented.iter().map(|(_, p)| p.clone()).collect();
    let made_up = keyward_core::ids::new_id("std");
    for path in &paths {
        let concrete = path.replace("{id}", &made_up);
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let res = app.v1(m, &concrete, &key.secret).json(&json!({})).send().await.unwrap();
            let status = res.status();
            if documented.contains(&(method.to_string(), path.clone())) {
                assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is documented but not routed");
                if status == StatusCode::NOT_FOUND {
                    // A handler's 404 passed authentication: the route exists.
                    assert!(
                        res.headers().contains_key("x-ratelimit-limit"),
                        "{method} {path} fell through to the router's 404"
                    );
                }
            } else {
                assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is routed but not documented");
            }
        }
    }
    // Paths that are not documented are not routed either.
    for path in ["/v1/hooks/x/y", "/v1/studies/x/y", "/v1/workspaces", "/v1/keys"] {
        assert_eq!(app.v1_get(path, &key.secret).await.0, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn every_operation_documents_its_security_errors_and_headers() {
    let app = TestApp::spawn().await;
    let doc = app.openapi_doc().await;
    for (method, path) in operations(&doc) {
        let op = &doc["paths"][&path][method.to_lowercase()];
        let responses = op["responses"].as_object().unwrap();
        assert!(op["operationId"].is_string());
        if PUBLIC_PATHS.contains(&path.as_str()) {
            assert_eq!(op["security"], json!([]), "{method} {path}");
            for (status, r) in responses {
                assert_eq!(r["headers"]["X-Request-Id"]["required"], true, "{method} {path} {status}");
            }
            continue;
        }
        // The operation's scope (SPEC §12), from the operation table.
        let scopes: Vec<&str> = keyward::http::v1::operation_scopes()
            .iter()
            .find(|o| o.path == path && o.method.as_str() == method)
            .and_then(|o| o.scope)
            .map(|s| s.as_str())
            .into_iter()
            .collect();
        assert_eq!(op["security"], json!([{ "bearerAuth": scopes }]), "{method} {path}");
        let mut want = vec!["401", "403", "429"];
        if path.contains("{id}") {
            want.push("404");
        }
        if method == "POST" {
            want.extend(["400", "413", "415", "422"]);
        }
        if op["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["in"] == "query")) {
            want.push("422");
        }
        for status in want {
            let r = &responses[status];
            assert!(
                r["content"]["application/problem+json"]["schema"]["$ref"].is_string(),
                "{method} {path} lacks a problem+json {status}"
            );
        }
        for (status, r) in responses {
            assert_eq!(r["headers"]["X-Request-Id"]["required"], true, "{method} {path} {status}");
            // A 403 `insufficient_scope` carries the limit, `plan_required` not.
            let limited = !matches!(status.as_str(), "401" | "503");
            for h in
                ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit"]
            {
                assert_eq!(r["headers"].get(h).is_some(), limited, "{method} {path} {status} {h}");
                if status == "403" {
                    assert_ne!(r["headers"][h]["required"], true, "{method} {path} {status} {h}");
                }
            }
        }
        assert_eq!(responses["429"]["headers"]["Retry-After"]["required"], true);
    }
    for schema in [
        "Problem",
        "ValidationProblem",
        "FieldError",
        "Study",
        "Transcript",
        "StudyList",
        "TranscriptList",
        "Me",
        "CreateStudy",
        "CreateTranscript",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "missing schema {schema}");
    }
}

#[tokio::test]
async fn the_documented_list_parameters_match_the_server() {
    let app = TestApp::spawn().await;
    let doc = app.openapi_doc().await;
    let params = doc["paths"]["/v1/transcripts"]["get"]["parameters"].as_array().unwrap();
    let limit = params.iter().find(|p| p["name"] == "limit").unwrap();
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], 100);
    assert_eq!(limit["schema"]["default"], 20);
    assert!(params.iter().any(|p| p["name"] == "starting_after"));
    let body = &doc["components"]["schemas"]["CreateTranscript"];
    assert_eq!(body["additionalProperties"], false);
    assert_eq!(body["properties"]["segments"]["maxItems"], 10_000);
}
