//! Sessions: login, CSRF, logout, restart, throttling (SPEC §5).
use crate::helpers::*;
use keyward_core::{Plan, Role};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// `POST /api/session` with `email` and `password`.
async fn post_login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.http.post(app.url("/api/session")).json(&json!({ "email": email, "password": password })).send().await.unwrap()
}

fn without_request_id(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("request_id");
    v
}

#[tokio::test]
async fn login_returns_user_workspaces_and_csrf_and_sets_a_httponly_lax_cookie() {
    let app = TestApp::spawn().await;
    let ws = app.workspace(Plan::Pro).await;
    app.user(&ws, "ada@example.com", Role::Admin).await;
    let res = post_login(&app, "ADA@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"), "{cookie}");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["user"]["email"], "ada@example.com");
    assert_eq!(v["workspaces"], json!([{ "id": ws, "name": "Acme Research", "role": "admin", "plan": "pro" }]));
    assert_eq!(v["csrf_token"].as_str().unwrap().len(), 64);
}

#[tokio::test]
async fn cookie_is_secure_when_the_public_url_is_https() {
    let app = TestApp::builder().config(|c| c.public_url = Some("https://keys.example.com".into())).spawn().await;
    let ws = app.workspace(Plan::Pro).await;
    app.user(&ws, "ada@example.com", Role::Admin).await;
    let res = post_login(&app, "ada@example.com", PASSWORD).await;
    assert!(res.headers()["set-cookie"].to_str().unwrap().contains("Secure"));
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_401() {
    let app = TestApp::spawn().await;
    let ws = app.workspace(Plan::Pro).await;
    app.user(&ws, "ada@example.com", Role::Admin).await;
    let try_login = |email: &'static str, pw: &'static str| {
        let app = &app;
        async move { body(post_login(app, email, pw).await).await }
    };
    let (s1, b1) = try_login("ada@example.com", "wrong password").await;
    let (s2, b2) = try_login("nobody@example.com", "wrong password").await;
    assert_eq!((s1, s2), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
    assert_eq!(without_request_id(b1.clone()), without_request_id(b2));
    assert_eq!(b1["code"], "invalid_credentials");
}

#[tokio::test]
async fn login_accepts_only_json() {
    let app = TestApp::spawn().await;
    let res = app.http.post(app.url("/api/session")).body("email=a&password=b").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn failed_logins_are_throttled_per_email() {
    let app = TestApp::spawn().await;
    let ws = app.workspace(Plan::Pro).await;
    app.user(&ws, "ada@example.com", Role::Admin).await;
    let mut statuses = vec![];
    for _ in 0..7 {
        let res = post_login(&app, "ada@example.com", "not the password").await;
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, vec![401, 401, 401, 401, 401, 429, 429]);
    // Even the right password is refused while throttled, with Retry-After.
    let res = post_login(&app, "ada@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn mutating_admin_calls_need_the_sessions_csrf_token() {
    let AppWithAdmin { app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    let path = format!("/api/workspaces/{ws}/api-keys");
    for token in [None, Some("wrong"), Some("")] {
        let mut rb = app.http.post(app.url(&path)).header("cookie", &admin.cookie).json(&json!({ "name": "x" }));
        if let Some(t) = token {
            rb = rb.header("x-csrf-token", t);
        }
        let (s, v) = body(rb.send().await.unwrap()).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("csrf_failed")));
    }
    let (s, v) = admin.get(&path).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"], json!([]), "nothing was created");
}

#[tokio::test]
async fn admin_api_without_a_session_is_401() {
    let AppWithKey { app, workspace_id: ws, key: NewKey { secret: key, .. }, .. } =
        TestApp::builder().with_key().spawn().await;
    let (s, v) = body(app.http.get(app.url(&format!("/api/workspaces/{ws}/api-keys"))).send().await.unwrap()).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));
    // An API key never opens the admin API: key management is session-only.
    let res = app.http.get(app.url(&format!("/api/workspaces/{ws}/api-keys"))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    let AppWithAdmin { app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    let app = app.restart().await;
    let admin = Session { base: app.base.clone(), ..admin };
    let (s, _) = admin.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let AppWithAdmin { app: _app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    let (s, _) = admin.delete("/api/session").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = admin.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = body(admin.request(Method::GET, "/api/session").send().await.unwrap()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_response_has_a_request_id_and_problems_carry_it() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz", "/v1/me", "/nope"] {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
        assert!(!id.is_empty());
        if res.status().is_client_error() {
            let v: Value = res.json().await.unwrap();
            assert_eq!(v["request_id"], id.as_str());
        }
    }
}

#[tokio::test]
async fn html_pages_carry_a_strict_csp_and_security_headers() {
    let app = TestApp::spawn().await;
    let res = app.http.get(app.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("http"), "no external sources: {csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h.contains_key("referrer-policy"));
    assert!(h.contains_key("x-request-id"));
    // Without a session the page sends you to the login.
    let res = app.http.get(app.url("/settings/api-keys")).send().await.unwrap();
    assert!(res.status().is_redirection());
    assert!(res.headers()["location"].to_str().unwrap().starts_with("/login"));
}
