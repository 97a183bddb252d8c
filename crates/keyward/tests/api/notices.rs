//! Dismissing notifications per admin:
//! `POST`/`DELETE /api/workspaces/{ws}/notifications/{id}/dismissal`.
use crate::helpers::*;
use keyward::store::NewNotification;
use keyward_core::{Plan, Role};
use reqwest::{Method, StatusCode};

async fn ids(s: &Session, ws: &str) -> Vec<String> {
    let (st, v) = s.get(&format!("/api/workspaces/{ws}/notifications")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["data"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn an_admin_dismisses_a_banner_for_themselves_only_and_can_restore_it() {
    let AppWithAdmin { app, workspace_id: ws, admin: ada } = TestApp::builder().with_admin().spawn().await;
    let bob = app.user(&ws, "bob@example.com", Role::Superadmin).await;
    let note = NewNotification {
        workspace_id: &ws,
        at_ms: keyward::store::now_ms(),
        kind: "key.auto_revoked",
        key_id: None,
        message: "m",
    };
    let id = app.store.insert_notification(&note).await.unwrap().id;
    let url = format!("/api/workspaces/{ws}/notifications/{id}/dismissal");
    assert_eq!(ids(&ada, &ws).await, std::slice::from_ref(&id));

    // CSRF is required.
    let res = ada.http.post(app.url(&url)).header("cookie", &ada.cookie).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(ids(&ada, &ws).await, std::slice::from_ref(&id));

    for _ in 0..2 {
        let res = ada.request(Method::POST, &url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "idempotent");
    }
    assert!(ids(&ada, &ws).await.is_empty(), "gone for Ada");
    assert_eq!(ids(&bob, &ws).await, std::slice::from_ref(&id), "Bob still sees it");
    let html = ada.request(Method::GET, "/settings/api-keys").send().await.unwrap().text().await.unwrap();
    assert!(!html.contains(&id), "the page leaves it out for Ada");
    let html = bob.request(Method::GET, "/settings/api-keys").send().await.unwrap().text().await.unwrap();
    assert!(html.contains(&format!("data-notification-id=\"{id}\"")) && html.contains("dismiss-notification"));

    assert_eq!(ada.delete(&url).await.0, StatusCode::NO_CONTENT);
    assert_eq!(ids(&ada, &ws).await, std::slice::from_ref(&id), "restored");

    // Another workspace's notification, or an unknown one: 404; a member: 403.
    let Admin { workspace_id: other_ws, admin: eve } = app.add_admin(Plan::Pro).await;
    assert_eq!(eve.request(Method::POST, &url).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let foreign = format!("/api/workspaces/{other_ws}/notifications/{id}/dismissal");
    assert_eq!(eve.request(Method::POST, &foreign).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let unknown = format!("/api/workspaces/{ws}/notifications/ntf_nope/dismissal");
    assert_eq!(ada.request(Method::POST, &unknown).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let carl = app.user(&ws, "carl@example.com", Role::Member).await;
    assert_eq!(carl.request(Method::POST, &url).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(ids(&bob, &ws).await, [id]);
}
