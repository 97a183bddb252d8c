//! Auto-revocation (SPEC §6): a key whose 401 `ip_not_allowed` / 422 answers
//! reach the minimum count and share over the window is revoked with reason
//! `auto_error_rate`, audited, announced (banner + webhook); 429s never count.
use crate::helpers::*;
use keyward_core::Plan;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder().local_address(ip.parse::<IpAddr>().unwrap()).build().unwrap()
}

async fn me_from(app: &TestApp, client: &reqwest::Client, key: &str) -> (StatusCode, Value) {
    body(client.get(app.url("/v1/me")).bearer_auth(key).send().await.unwrap()).await
}

async fn allow_only(admin: &Session, ws: &str, id: &str, cidr: &str) {
    let (s, v) =
        admin.put(&format!("/api/workspaces/{ws}/api-keys/{id}/allowed-ips"), json!({ "cidrs": [cidr] })).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

async fn key_object(admin: &Session, ws: &str, id: &str) -> Value {
    let (_, v) = admin.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    v["data"].as_array().unwrap().iter().find(|k| k["id"] == id).cloned().unwrap()
}

async fn revoked(admin: &Session, ws: &str, id: &str) -> Value {
    eventually(10, || async {
        let k = key_object(admin, ws, id).await;
        (k["status"] == "revoked").then_some(k)
    })
    .await
}

async fn auto_revocations(admin: &Session, ws: &str) -> Vec<Value> {
    let (_, v) = admin.get(&format!("/api/workspaces/{ws}/audit-log")).await;
    v["data"].as_array().unwrap().iter().filter(|e| e["action"] == "key.auto_revoked").cloned().collect()
}

/// Wait until the usage log holds `n` requests (so every earlier batch,
/// and the auto-revocation check after it, is done).
async fn written(admin: &Session, ws: &str, n: u64) {
    eventually(10, || async {
        let (_, v) = admin.get(&format!("/api/workspaces/{ws}/api-usage")).await;
        (v["last_24h"]["total"].as_u64() == Some(n)).then_some(())
    })
    .await
}

/// A webhook receiver on 127.0.0.1: its URL and the bodies POSTed to it.
/// The first `fail_first` attempts are answered 503.
async fn webhook_target(fail_first: usize) -> (String, mpsc::UnboundedReceiver<(u16, Value)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let calls = Arc::new(AtomicUsize::new(0));
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let (tx, calls) = (tx.clone(), Arc::clone(&calls));
            async move {
                let status = if calls.fetch_add(1, Ordering::SeqCst) < fail_first { 503 } else { 200 };
                let _ = tx.send((status, v));
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}/hook"), rx)
}

#[tokio::test]
async fn a_flood_of_ip_violations_revokes_the_key_audits_and_notifies() {
    let (hook, mut hook_rx) = webhook_target(1).await;
    let app = TestApp::spawn_with(|c| {
        c.auto_revoke_min_errors = 5;
        c.notify_webhook_url = Some(hook);
    })
    .await;
    let (ws, admin, id, key) = app.with_key(Plan::Pro).await;
    allow_only(&admin, &ws, &id, "10.0.0.0/8").await;
    for _ in 0..5 {
        assert_eq!(app.v1_get("/v1/me", &key).await.1["code"], "ip_not_allowed");
    }

    let k = revoked(&admin, &ws, &id).await;
    assert_eq!(k["revoke_reason"], "auto_error_rate");
    let (s, v) = app.v1_get("/v1/me", &key).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("api_key_revoked")));
    assert!(v["detail"].as_str().unwrap().contains("automatically"), "{v}");

    let events = auto_revocations(&admin, &ws).await;
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!((e["actor"].as_str(), e["key_id"].as_str()), (Some("system"), Some(id.as_str())));
    let d = &e["details"];
    assert_eq!((d["errors"].as_u64(), d["requests"].as_u64()), (Some(5), Some(5)), "{d}");
    assert_eq!((d["window_secs"].as_u64(), d["ratio"].as_f64()), (Some(300), Some(1.0)));
    assert_eq!(d["reason"], "auto_error_rate");
    assert_eq!(d["by_code"], json!({ "ip_not_allowed": 5 }), "counts by code");

    // The notice is stored right after the revocation: wait for it.
    let n = eventually(10, || async {
        let (s, n) = admin.get(&format!("/api/workspaces/{ws}/notifications")).await;
        assert_eq!(s, StatusCode::OK);
        n["data"].as_array().unwrap().first().cloned()
    })
    .await;
    let n = &n;
    assert_eq!((n["kind"].as_str(), n["key_id"].as_str()), (Some("key.auto_revoked"), Some(id.as_str())));
    assert!(n["message"].as_str().unwrap().contains("integration"), "names the key: {n}");

    // The webhook: refused once (503), then delivered again after a backoff.
    let mut attempts = vec![];
    for _ in 0..2 {
        let got = tokio::time::timeout(Duration::from_secs(10), hook_rx.recv()).await.expect("webhook POST");
        attempts.push(got.unwrap());
    }
    assert_eq!((attempts[0].0, attempts[1].0), (503, 200));
    assert_eq!(attempts[0].1, attempts[1].1, "the same notice");
    let notice = &attempts[1].1;
    assert_eq!(notice["type"], "key.auto_revoked");
    assert_eq!((notice["workspace_id"].as_str(), notice["key_id"].as_str()), (Some(ws.as_str()), Some(id.as_str())));
    assert_eq!((notice["errors"].as_u64(), notice["requests"].as_u64()), (Some(5), Some(5)));
    assert_eq!(notice["notification_id"], n["id"]);
    assert!(!notice.to_string().contains(&key), "never the secret");
}

#[tokio::test]
async fn a_flood_of_422s_revokes_the_key() {
    let app = TestApp::spawn_with(|c| c.auto_revoke_min_errors = 5).await;
    let (ws, admin, id, key) = app.with_key(Plan::Pro).await;
    for _ in 0..5 {
        let res = app.http.post(app.url("/v1/studies")).bearer_auth(&key).json(&json!({})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    revoked(&admin, &ws, &id).await;
    let (s, v) = app.v1_get("/v1/me", &key).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("api_key_revoked")));
    let d = &auto_revocations(&admin, &ws).await[0]["details"];
    assert_eq!((d["errors"].as_u64(), d["requests"].as_u64()), (Some(5), Some(5)));
    assert_eq!(d["by_code"], json!({ "validation_failed": 5 }), "counts by code");
    // The notice says what happened (422s, not IPs or a leak) and what to do.
    let m = eventually(10, || async {
        let (_, n) = admin.get(&format!("/api/workspaces/{ws}/notifications")).await;
        n["data"][0]["message"].as_str().map(str::to_string)
    })
    .await;
    assert!(m.contains("5 \u{00d7} 422 validation_failed") && m.contains("Fix the requests"), "{m}");
    assert!(!m.contains("allowlist") && !m.contains("leak"), "{m}");
}

#[tokio::test]
async fn rate_limited_answers_are_left_out_of_the_denominator() {
    let app = TestApp::spawn_with(|c| c.auto_revoke_min_errors = 3).await;
    let (ws, admin, id, key) = app.with_key(Plan::Pro).await;
    app.store.set_rate_limit(&ws, Some(1)).await.unwrap();
    allow_only(&admin, &ws, &id, "127.0.0.2/32").await;
    let (allowed, outside) = (client_from("127.0.0.2"), client_from("127.0.0.1"));
    assert_eq!(me_from(&app, &allowed, &key).await.0, StatusCode::OK);
    for _ in 0..10 {
        assert_eq!(me_from(&app, &allowed, &key).await.0, StatusCode::TOO_MANY_REQUESTS);
    }
    written(&admin, &ws, 11).await;
    assert_eq!(key_object(&admin, &ws, &id).await["status"], "active");
    // 3 errors of 4 counted requests (75 %); with the 429s it would be 3 of 14.
    for _ in 0..3 {
        assert_eq!(me_from(&app, &outside, &key).await.1["code"], "ip_not_allowed");
    }
    revoked(&admin, &ws, &id).await;
    let d = &auto_revocations(&admin, &ws).await[0]["details"];
    assert_eq!((d["errors"].as_u64(), d["requests"].as_u64(), d["ratio"].as_f64()), (Some(3), Some(4), Some(0.75)));
}

#[tokio::test]
async fn a_flood_of_429s_never_revokes() {
    let app = TestApp::spawn_with(|c| {
        c.auto_revoke_min_errors = 1;
        c.auto_revoke_min_ratio = 0.01;
    })
    .await;
    let (ws, admin, id, key) = app.with_key(Plan::Pro).await;
    app.store.set_rate_limit(&ws, Some(2)).await.unwrap();
    for _ in 0..30 {
        app.v1_get("/v1/me", &key).await;
    }
    written(&admin, &ws, 30).await;
    assert_eq!(app.v1_get("/v1/me", &key).await.1["code"], "rate_limited");
    written(&admin, &ws, 31).await;
    assert_eq!(key_object(&admin, &ws, &id).await["status"], "active");
    assert!(auto_revocations(&admin, &ws).await.is_empty());
}

#[tokio::test]
async fn an_error_share_below_the_threshold_never_revokes() {
    let app = TestApp::spawn_with(|c| c.auto_revoke_min_errors = 3).await;
    let (ws, admin, id, key) = app.with_key(Plan::Pro).await;
    allow_only(&admin, &ws, &id, "127.0.0.2/32").await;
    let (allowed, outside) = (client_from("127.0.0.2"), client_from("127.0.0.1"));
    for _ in 0..10 {
        assert_eq!(me_from(&app, &allowed, &key).await.0, StatusCode::OK);
    }
    // 5 errors of 15 (33 % < 50 %): over the count, under the share.
    for _ in 0..5 {
        assert_eq!(me_from(&app, &outside, &key).await.1["code"], "ip_not_allowed");
    }
    written(&admin, &ws, 15).await;
    // The writer is serial: once a later record is written, every check
    // after the earlier batches has run.
    assert_eq!(me_from(&app, &allowed, &key).await.0, StatusCode::OK);
    written(&admin, &ws, 16).await;
    assert_eq!(key_object(&admin, &ws, &id).await["status"], "active");
    assert!(auto_revocations(&admin, &ws).await.is_empty());
    let (_, n) = admin.get(&format!("/api/workspaces/{ws}/notifications")).await;
    assert_eq!(n, json!({ "data": [] }));
}

#[tokio::test]
async fn errors_seen_by_two_nodes_add_up() {
    let a = TestApp::spawn_with(|c| c.auto_revoke_min_errors = 6).await;
    let b = TestApp::spawn_node(&a).await;
    let (ws, admin, id, key) = a.with_key(Plan::Pro).await;
    allow_only(&admin, &ws, &id, "10.0.0.0/8").await;
    // Three on each node: neither node alone reaches 6.
    for _ in 0..3 {
        assert_eq!(a.v1_get("/v1/me", &key).await.1["code"], "ip_not_allowed");
        assert_eq!(b.v1_get("/v1/me", &key).await.1["code"], "ip_not_allowed");
    }
    revoked(&admin, &ws, &id).await;
    for node in [&a, &b] {
        assert_eq!(node.v1_get("/v1/me", &key).await.1["code"], "api_key_revoked");
    }
    let events = auto_revocations(&admin, &ws).await;
    assert_eq!(events.len(), 1, "one revocation, one audit event");
    assert_eq!(events[0]["details"]["errors"], 6);
}

#[tokio::test]
async fn the_sqlite_0006_backfill_counts_what_classify_counts() {
    // `autorevoke::classify` is the rule's one definition; the only other
    // place that writes it is migration 0006's backfill, which is frozen
    // (sqlx refuses an applied migration whose text changed). Run that
    // backfill on the table it was written for and compare, answer by answer.
    use sqlx::Connection;
    let codes =
        [None, Some("ip_not_allowed"), Some("validation_failed"), Some("api_key_revoked"), Some("rate_limited")];
    let answers: Vec<(u16, Option<&str>)> = [200, 201, 400, 401, 403, 404, 413, 422, 429, 500, 503, 599]
        .into_iter()
        .flat_map(|status| codes.iter().map(move |&code| (status, code)))
        .collect();
    let mut db = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
    sqlx::raw_sql(include_str!("../../migrations/sqlite/0003_usage.sql")).execute(&mut db).await.unwrap();
    let now = keyward::store::now_ms();
    for (i, (status, code)) in answers.iter().enumerate() {
        sqlx::query(
            "INSERT INTO usage_records (workspace_id, key_id, at, method, route, path, status, code, latency_us, ip) \
             VALUES ('ws_1', ?, ?, 'GET', '/v1/me', '/v1/me', ?, ?, 1, '127.0.0.1')",
        )
        .bind(format!("key_{i}"))
        .bind(now)
        .bind(i64::from(*status))
        .bind(*code)
        .execute(&mut db)
        .await
        .unwrap();
    }
    sqlx::raw_sql(include_str!("../../migrations/sqlite/0006_key_buckets.sql")).execute(&mut db).await.unwrap();
    for (i, &(status, code)) in answers.iter().enumerate() {
        let row: Option<(i64, i64)> = sqlx::query_as("SELECT requests, errors FROM usage_key_buckets WHERE key_id = ?")
            .bind(format!("key_{i}"))
            .fetch_optional(&mut db)
            .await
            .unwrap();
        let (counted, error) = keyward::usage::autorevoke::classify(status, code);
        assert_eq!(row.unwrap_or((0, 0)), (i64::from(counted), i64::from(error)), "{status} {code:?}");
    }
}
