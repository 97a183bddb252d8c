//! The page's fragments, rendered by the server for app.js to swap in (the
//! page's markup, written once): `GET /settings/api-keys/rows/{id}` (one row
//! of the keys table) and `GET /settings/api-keys/audit-rows` (older audit
//! log entries).
use crate::helpers::*;
use keyward_core::{Plan, Role};
use reqwest::{Method, StatusCode};

/// The `<tr class="key-row" data-key-id="ID" …>…</tr>` of `id` in `html`.
fn row_of<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!("<tr class=\"key-row\" data-key-id=\"{id}\"")).expect("the key's row");
    let len = html[start..].find("</tr>").expect("the row's end") + "</tr>".len();
    &html[start..start + len]
}

async fn fetch_row(admin: &Session, ws: &str, id: &str) -> (StatusCode, Option<String>, String) {
    let res = admin.request(Method::GET, &format!("/settings/api-keys/rows/{id}?workspace={ws}")).send().await.unwrap();
    let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
    (res.status(), ct, res.text().await.unwrap())
}

#[tokio::test]
async fn a_keys_row_is_the_markup_of_the_page_and_follows_revocation() {
    let AppWithKey { app: _app, workspace_id: ws, admin, key } = TestApp::builder().with_key().spawn().await;
    let (s, ct, row) = fetch_row(&admin, &ws, &key.id).await;
    assert_eq!(s, StatusCode::OK, "{row}");
    assert_eq!(ct.as_deref(), Some("text/html; charset=utf-8"));
    assert_eq!(row, row_of(&admin.page(&ws).await, &key.id), "the fragment is the page's row");
    assert!(row.contains("data-status=\"active\"") && row.contains("revoke-key"), "{row}");
    assert!(!row.contains(&key.secret[8..]), "never the secret");

    let (s, _) = admin.delete(&format!("/api/workspaces/{ws}/api-keys/{}", key.id)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, _, row) = fetch_row(&admin, &ws, &key.id).await;
    assert!(row.contains("data-status=\"revoked\"") && !row.contains("revoke-key"), "{row}");
}

#[tokio::test]
async fn a_row_needs_an_admin_session_of_the_keys_workspace() {
    let AppWithKey { app, workspace_id: ws, key, .. } = TestApp::builder().with_key().spawn().await;
    let path = format!("/settings/api-keys/rows/{}?workspace={ws}", key.id);
    let (s, v) = body(app.http.get(app.url(&path)).send().await.unwrap()).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")), "{v}");

    let member = app.user(&ws, "member@example.com", Role::Member).await;
    let (s, v) = member.get(&path).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{v}");

    // Another workspace's admin: 404 whether they name their workspace or the key's.
    let Admin { workspace_id: other_ws, admin: stranger } = app.add_admin(Plan::Pro).await;
    for ws in [other_ws.as_str(), ws.as_str()] {
        let (s, _, text) = fetch_row(&stranger, ws, &key.id).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{text}");
        assert!(!text.contains(&key.id), "{text}");
    }
    let (s, v) = stranger.get(&format!("/settings/api-keys/rows/{}", key.id)).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "no workspace: {v}");
}

#[tokio::test]
async fn on_the_free_plan_a_row_says_suspended_and_offers_no_rotation() {
    let AppWithKey { app, workspace_id: ws, admin, key } = TestApp::builder().with_key().spawn().await;
    let (_, _, ready) = fetch_row(&admin, &ws, &key.id).await;
    assert!(ready.contains("rotate-key") && !ready.contains("Suspended"), "{ready}");
    app.store.set_plan(&ws, Plan::Free).await.unwrap();
    let (_, _, row) = fetch_row(&admin, &ws, &key.id).await;
    assert!(row.contains("Suspended") && !row.contains("rotate-key"), "{row}");
    assert_eq!(row, row_of(&admin.page(&ws).await, &key.id));
}

/// The `data-audit-id`s of the rows in `html`, in order.
fn audit_ids(html: &str) -> Vec<String> {
    html.split("data-audit-id=\"").skip(1).map(|s| s[..s.find('"').unwrap()].to_string()).collect()
}

#[tokio::test]
async fn older_audit_rows_are_the_admin_apis_next_page_rendered() {
    let AppWithKey { app, workspace_id: ws, admin, key } = TestApp::builder().with_key().spawn().await;
    let ips = format!("/api/workspaces/{ws}/api-keys/{}/allowed-ips", key.id);
    for i in 0..44 {
        let (s, v) = admin.put(&ips, serde_json::json!({ "cidrs": [format!("10.0.0.{i}/32")] })).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    // 45 entries: the page shows 20, then 20 more, then the last 5.
    let (_, log) = admin.get(&format!("/api/workspaces/{ws}/audit-log?limit=100")).await;
    let all: Vec<String> =
        log["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(all.len(), 45);
    assert_eq!(audit_ids(&admin.page(&ws).await), all[..20]);
    let rows = |after: &str| {
        let admin = admin.clone();
        let path = format!("/settings/api-keys/audit-rows?workspace={ws}&starting_after={after}");
        async move {
            let res = admin.request(Method::GET, &path).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
            res.text().await.unwrap()
        }
    };
    let second = rows(&all[19]).await;
    assert!(second.starts_with("<tbody data-has-more=\"true\">"), "{second}");
    assert_eq!(audit_ids(&second), all[20..40]);
    assert!(second.contains("Changed the allowed IPs") && second.contains("integration"), "{second}");
    let last = rows(&all[39]).await;
    assert!(last.starts_with("<tbody data-has-more=\"false\">"), "{last}");
    assert_eq!(audit_ids(&last), all[40..]);

    // The admin API's rules: an unknown cursor is 422, members 403, strangers 404.
    let path = format!("/settings/api-keys/audit-rows?workspace={ws}&starting_after=aud_nope");
    let (s, v) = admin.get(&path).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")), "{v}");
    assert_eq!(v["errors"][0]["code"], "unknown_cursor", "{v}");
    let member = app.user(&ws, "member@example.com", Role::Member).await;
    assert_eq!(member.get(&path).await.0, StatusCode::FORBIDDEN);
    let Admin { admin: stranger, .. } = app.add_admin(Plan::Pro).await;
    assert_eq!(stranger.get(&path).await.0, StatusCode::NOT_FOUND);
}
