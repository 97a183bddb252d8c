//! The usage log and the API Usage statistics (SPEC §5 api-usage, §6):
//! exact counts, templates, `recent`, the key filter, access rules, nothing
//! lost across a graceful restart, retention and metrics.
use crate::helpers::*;
use keyward::usage::{retention, writer, UsageRecord};
use keyward_core::{Plan, Role};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

const UNKNOWN_STUDY: &str = "/v1/studies/std_01ARZ3NDEKTSV4RRFFQ69G5FAV";

async fn usage(admin: &Session, ws: &str, query: &str) -> Value {
    let (s, v) = admin.get(&format!("/api/workspaces/{ws}/api-usage{query}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// The report once `total` (over 7 days) reaches `n`.
async fn usage_when(admin: &Session, ws: &str, query: &str, n: u64) -> Value {
    eventually(10, || async {
        let v = usage(admin, ws, query).await;
        (v["last_7d"]["total"].as_u64() == Some(n)).then_some(v)
    })
    .await
}

#[tokio::test]
async fn a_mixed_burst_is_counted_exactly_by_status_code_and_endpoint_template() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { id: a_id, secret: a } } =
        TestApp::builder().with_key().spawn().await;
    let NewKey { id: b_id, secret: b } = admin.new_key(&ws, "second").await;
    app.store.set_rate_limit(&keyward_core::WorkspaceId::new(&*ws), Some(5)).await.unwrap();

    // Key a: 3 × 200, 2 × 404 (unknown study), then 2 × 429 (limit of 5).
    for path in ["/v1/me?expand=nothing", "/v1/me", "/v1/me", UNKNOWN_STUDY, UNKNOWN_STUDY] {
        let s = app.v1_get(path, &a).await.0;
        assert!(s == StatusCode::OK || s == StatusCode::NOT_FOUND, "{path}: {s}");
    }
    for _ in 0..2 {
        assert_eq!(app.v1_get("/v1/me", &a).await.0, StatusCode::TOO_MANY_REQUESTS);
    }
    // Key b: 2 × 200, revoked, 2 × 401 api_key_revoked (still recorded).
    for _ in 0..2 {
        assert_eq!(app.v1_get("/v1/me", &b).await.0, StatusCode::OK);
    }
    admin.delete(&format!("/api/workspaces/{ws}/api-keys/{b_id}")).await;
    for _ in 0..2 {
        assert_eq!(app.v1_get("/v1/me", &b).await.1["code"], "api_key_revoked");
    }
    // Unknown keys are not anyone's usage.
    let unknown = keyward_core::ApiKeySecret::generate();
    assert_eq!(app.v1_get("/v1/me", unknown.expose()).await.0, StatusCode::UNAUTHORIZED);

    let v = usage_when(&admin, &ws, "", 11).await;
    for window in ["last_24h", "last_7d"] {
        let t = &v[window];
        assert_eq!(t["total"], 11, "{window}");
        assert_eq!(t["errors"], 6, "{window}");
        assert_eq!(t["by_status"], json!({ "200": 5, "401": 2, "404": 2, "429": 2 }), "{window}");
        assert_eq!(t["by_code"], json!({ "api_key_revoked": 2, "not_found": 2, "rate_limited": 2 }), "{window}");
    }
    assert_eq!(
        v["top_endpoints"],
        json!([
            { "method": "GET", "route": "/v1/me", "count": 9, "errors": 4 },
            { "method": "GET", "route": "/v1/studies/{id}", "count": 2, "errors": 2 },
        ])
    );
    let series = v["series"].as_array().unwrap();
    assert_eq!(series.len(), 168);
    let sum = |f: &str| series.iter().map(|b| b[f].as_u64().unwrap()).sum::<u64>();
    assert_eq!((sum("total"), sum("errors")), (11, 6));
    assert_eq!(series.last().unwrap()["total"], 11, "the current hour is the last bucket");
    let starts: Vec<&str> = series.iter().map(|b| b["start"].as_str().unwrap()).collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "oldest first");
    assert!(starts.iter().all(|s| s.ends_with(":00:00.000Z")), "hour buckets: {}", starts[0]);

    let recent = v["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 11);
    let newest = &recent[0];
    assert_eq!(newest["key_id"], b_id.as_str());
    assert_eq!(newest["key_name"], "second");
    assert_eq!((newest["status"].as_u64(), newest["code"].as_str()), (Some(401), Some("api_key_revoked")));
    let first = &recent[10];
    assert_eq!(first["path"], "/v1/me", "no query string");
    assert_eq!((first["route"].as_str(), first["key_id"].as_str()), (Some("/v1/me"), Some(a_id.as_str())));
    assert_eq!((first["method"].as_str(), first["ip"].as_str()), (Some("GET"), Some("127.0.0.1")));
    assert_eq!(first["code"], Value::Null);
    assert!(first["latency_ms"].as_f64().unwrap() >= 0.0);
    let study = recent.iter().find(|r| r["status"] == 404).unwrap();
    assert_eq!((study["path"].as_str(), study["route"].as_str()), (Some(UNKNOWN_STUDY), Some("/v1/studies/{id}")));
    let text = v.to_string();
    assert!(!text.contains(&a) && !text.contains(&b), "no secret in the report");

    // The key filter.
    let only_a = usage(&admin, &ws, &format!("?key_id={a_id}")).await;
    assert_eq!(only_a["last_7d"]["total"], 7);
    assert_eq!(only_a["last_7d"]["by_status"], json!({ "200": 3, "404": 2, "429": 2 }));
    assert_eq!(only_a["recent"].as_array().unwrap().len(), 7);
    assert!(only_a["recent"].as_array().unwrap().iter().all(|r| r["key_id"] == a_id.as_str()));
    let only_b = usage(&admin, &ws, &format!("?key_id={b_id}")).await;
    assert_eq!(only_b["last_24h"]["by_status"], json!({ "200": 2, "401": 2 }));
    assert_eq!(only_b["top_endpoints"], json!([{ "method": "GET", "route": "/v1/me", "count": 4, "errors": 2 }]));
}

#[tokio::test]
async fn recent_holds_the_newest_20_newest_first() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { secret: key, .. } } =
        TestApp::builder().with_key().spawn().await;
    for i in 0..25 {
        app.v1_get(&format!("/v1/studies/std_01ARZ3NDEKTSV4RRFFQ69G5F{i:02}"), &key).await;
    }
    let v = usage_when(&admin, &ws, "", 25).await;
    let recent = v["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 20);
    let paths: Vec<String> = recent.iter().map(|r| r["path"].as_str().unwrap().to_string()).collect();
    let expected: Vec<String> =
        (5..25).rev().map(|i| format!("/v1/studies/std_01ARZ3NDEKTSV4RRFFQ69G5F{i:02}")).collect();
    assert_eq!(paths, expected);
    let ats: Vec<&str> = recent.iter().map(|r| r["at"].as_str().unwrap()).collect();
    assert!(ats.windows(2).all(|w| w[0] >= w[1]));
    assert!(recent.iter().all(|r| r["route"] == "/v1/studies/{id}"));
}

#[tokio::test]
async fn api_usage_is_for_admins_of_the_workspace_only() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { id: key_id, .. } } =
        TestApp::builder().with_key().spawn().await;
    let AdminWithKey { workspace_id: other_ws, admin: other_admin, key: NewKey { id: other_key, .. } } =
        app.add_admin_with_key(Plan::Pro).await;
    let path = format!("/api/workspaces/{ws}/api-usage");

    assert_eq!(app.http.get(app.url(&path)).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let member = app.user(&ws, "member@example.com", Role::Member).await;
    let (s, v) = member.get(&path).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    let (s, v) = other_admin.get(&path).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "foreign workspace");
    let (s, _) = other_admin.get(&format!("/api/workspaces/{ws}/notifications")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // key_id: another workspace's key, or no key at all, is 404.
    assert_eq!(admin.get(&format!("{path}?key_id={other_key}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(admin.get(&format!("{path}?key_id=key_nope")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        other_admin.get(&format!("/api/workspaces/{other_ws}/api-usage?key_id={other_key}")).await.0,
        StatusCode::OK
    );
    // Unknown parameters are refused, not ignored.
    let (s, v) = admin.get(&format!("{path}?key={key_id}")).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")));
    assert_eq!(v["errors"][0]["field"], "key");

    // An empty workspace: zeros, 168 empty buckets.
    let v = usage(&admin, &ws, "").await;
    assert_eq!(v["last_24h"], json!({ "total": 0, "errors": 0, "by_status": {}, "by_code": {} }));
    assert_eq!(v["series"].as_array().unwrap().len(), 168);
    assert_eq!((v["recent"].as_array().unwrap().len(), v["top_endpoints"].as_array().unwrap().len()), (0, 0));
}

#[tokio::test]
async fn every_answered_request_is_recorded_across_a_graceful_restart() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { secret: key, .. } } =
        TestApp::builder().plan(Plan::Enterprise).with_key().spawn().await;
    const N: usize = 400;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..N {
        let rb = app.v1(Method::GET, if i % 4 == 0 { UNKNOWN_STUDY } else { "/v1/me" }, &key);
        set.spawn(async move { rb.send().await.unwrap().status() });
    }
    let mut answered = 0;
    while let Some(s) = set.join_next().await {
        assert!(matches!(s.unwrap().as_u16(), 200 | 404 | 429));
        answered += 1;
    }
    assert_eq!(answered, N);
    let app = app.restart().await;
    let admin = Session { base: app.base.clone(), ..admin };
    // No waiting: the stop flushed everything before it returned.
    let v = usage(&admin, &ws, "").await;
    assert_eq!(v["last_24h"]["total"], N as u64);
    assert_eq!(
        v["last_24h"]["by_status"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum::<u64>(),
        N as u64
    );
}

#[tokio::test]
async fn retention_deletes_records_and_rollups_older_than_90_days_and_keeps_younger_ones() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { id: key_id, .. } } =
        TestApp::builder().with_key().spawn().await;
    const DAY: i64 = 86_400_000;
    let now = keyward::store::now_ms();
    let batch = vec![usage_record(&ws, &key_id, now - 91 * DAY), usage_record(&ws, &key_id, now - 89 * DAY)];
    writer::write_batch(&app.store, &batch).await.unwrap();
    let recent = usage(&admin, &ws, "").await["recent"].as_array().unwrap().len();
    assert_eq!(recent, 2);

    let d = retention::run_once(&app.store, 90, now, Duration::ZERO).await.unwrap();
    assert_eq!((d.records, d.rollups), (1, 2), "the -91 d record and its hour of rollups (per key, per workspace)");
    let v = usage(&admin, &ws, "").await;
    let recent = v["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0]["at"], json!(keyward_core::api::Timestamp(now - 89 * DAY)));
    let again = retention::run_once(&app.store, 90, now, Duration::ZERO).await.unwrap();
    assert_eq!((again.records, again.rollups), (0, 0), "the -89 d record and rollup stay");
    // Two days later they are 91 days old and go too.
    let later = retention::run_once(&app.store, 90, now + 2 * DAY, Duration::ZERO).await.unwrap();
    assert_eq!((later.records, later.rollups), (1, 2));
    assert_eq!(usage(&admin, &ws, "").await["recent"], json!([]));
}

#[tokio::test]
async fn rollups_are_exact_whoever_brings_them_up_to_date() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { id: key_id, .. } } =
        TestApp::builder().with_key().spawn().await;
    let now = keyward::store::now_ms();
    let batch: Vec<UsageRecord> = (0..5).map(|i| usage_record(&ws, &key_id, now + i)).collect();
    writer::write_batch(&app.store, &batch).await.unwrap();

    // Another process on the same store (or this one after a crash) rolls up
    // what the writer left, once.
    let other = keyward::store::Store::open(&app.store_location()).await.unwrap();
    let deferred = other.defers_rollups();
    let rows = if deferred { 2 } else { 0 };
    assert_eq!(other.flush_rollups().await.unwrap(), rows, "one row per key and one per workspace for 5 records");
    assert_eq!(other.flush_rollups().await.unwrap(), 0, "the watermark moved past them");
    assert_eq!(app.store.flush_rollups().await.unwrap(), 0, "nothing is rolled up twice");
    let (ws, key_id) = (keyward_core::WorkspaceId::new(ws.as_str()), keyward_core::KeyId::new(key_id.as_str()));
    let r = keyward::usage::stats::report(&other, &ws, Some(&key_id), now).await.unwrap();
    assert_eq!((r.last_24h.total, r.top_endpoints.len(), r.recent.len()), (5, 1, 5));
    let r = keyward::usage::stats::report(&app.store, &ws, None, now).await.unwrap();
    assert_eq!((r.last_24h.total, r.series.iter().map(|b| b.total).sum::<u64>()), (5, 5));

    // A report brings the rollups up to date before reading.
    let batch: Vec<UsageRecord> = (0..3).map(|i| usage_record(&ws, &key_id, now + 10 + i)).collect();
    writer::write_batch(&app.store, &batch).await.unwrap();
    let v = usage(&admin, &ws, &format!("?key_id={key_id}")).await;
    assert_eq!((v["last_24h"]["total"].as_u64(), v["recent"].as_array().unwrap().len()), (Some(8), 8), "{v}");
    writer::write_batch(&app.store, &batch).await.unwrap();
    assert_eq!(usage(&admin, &ws, "").await["last_7d"]["total"], 11);
}

#[tokio::test]
async fn rollups_catch_up_in_short_steps() {
    // SQLite only: PostgreSQL writes the rollups with each batch.
    let app = TestApp::builder().sqlite().spawn().await;
    assert!(app.store.defers_rollups());
    let AdminWithKey { workspace_id: ws, admin, key: NewKey { id: key_id, .. } } =
        app.add_admin_with_key(Plan::Pro).await;
    let now = keyward::store::now_ms();
    let batch: Vec<UsageRecord> = (0..25_000).map(|i| usage_record(&ws, &key_id, now - i)).collect();
    writer::write_batch(&app.store, &batch).await.unwrap();
    let mut steps = vec![];
    loop {
        let (_, caught_up) = app.store.flush_rollups_step().await.unwrap();
        steps.push(caught_up);
        if caught_up {
            break;
        }
    }
    assert_eq!(steps, [false, false, true], "10 000 records a step");
    assert_eq!(usage(&admin, &ws, "").await["last_7d"]["total"], 25_000);
}

#[tokio::test]
async fn a_keys_newest_requests_are_found_however_old_and_sparse() {
    // SQLite keeps no per-key index on the log: a key's newest requests are
    // read hour by hour where its rollup says it made requests.
    const HOUR: i64 = 3_600_000;
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { id: a, .. } } =
        TestApp::builder().with_key().spawn().await;
    let NewKey { id: busy, .. } = admin.new_key(&ws, "busy").await;
    let NewKey { id: idle, .. } = admin.new_key(&ws, "idle").await;
    let now = keyward::store::now_ms();
    // Key a: 12 requests three days ago, 6 five hours ago, 4 in the last minute.
    let mut times: Vec<i64> = (0..12)
        .map(|i| now - 72 * HOUR + i * 1000)
        .chain((0..6).map(|i| now - 5 * HOUR + i * 1000))
        .chain((0..4).map(|i| now - 60_000 + i * 1000))
        .collect();
    let mut batch: Vec<UsageRecord> = times.iter().map(|&t| usage_record(&ws, &a, t)).collect();
    // Another key busy every half hour of those three days.
    batch.extend((0..150).map(|i| usage_record(&ws, &busy, now - i * HOUR / 2 - 500)));
    writer::write_batch(&app.store, &batch).await.unwrap();

    times.sort_unstable_by(|x, y| y.cmp(x));
    let v = usage(&admin, &ws, &format!("?key_id={a}")).await;
    let recent = v["recent"].as_array().unwrap();
    let got: Vec<(&Value, &Value)> = recent.iter().map(|r| (&r["key_id"], &r["at"])).collect();
    let want: Vec<(Value, Value)> =
        times[..20].iter().map(|&t| (json!(a), json!(keyward_core::api::Timestamp(t)))).collect();
    assert_eq!(got, want.iter().map(|(k, t)| (k, t)).collect::<Vec<_>>(), "the 20 newest, newest first");
    assert_eq!(usage(&admin, &ws, &format!("?key_id={idle}")).await["recent"], json!([]));
    let all = usage(&admin, &ws, "").await;
    assert_eq!(all["recent"][0]["key_id"], json!(busy), "unfiltered: the newest of any key");
}

#[tokio::test]
async fn retention_works_in_bounded_batches() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { id: key_id, .. } } =
        TestApp::builder().with_key().spawn().await;
    let now = keyward::store::now_ms();
    let old = (now - 100 * 86_400_000) / 3_600_000 * 3_600_000;
    // 12 000 old records over 3 hours (more than two delete batches), one fresh.
    let mut batch: Vec<UsageRecord> =
        (0..12_000).map(|i| usage_record(&ws, &key_id, old + i64::from(i) * 900)).collect();
    batch.push(usage_record(&ws, &key_id, now));
    writer::write_batch(&app.store, &batch).await.unwrap();
    let d = retention::run_once(&app.store, 90, now, Duration::ZERO).await.unwrap();
    assert_eq!((d.records, d.rollups), (12_000, 6), "3 hours of rollups, per key and per workspace");
    let v = usage(&admin, &ws, "").await;
    assert_eq!((v["last_24h"]["total"].as_u64(), v["recent"].as_array().unwrap().len()), (Some(1), 1));
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let metrics_addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let app = TestApp::builder().config(|c| c.metrics_listen = Some(metrics_addr)).spawn().await;
    let AdminWithKey { key: NewKey { secret: key, .. }, .. } = app.add_admin_with_key(Plan::Pro).await;
    for _ in 0..3 {
        app.v1_get("/v1/me", &key).await;
    }
    let url = format!("http://{metrics_addr}/metrics");
    let text = eventually(10, || async {
        let text = app.http.get(&url).send().await.ok()?.text().await.ok()?;
        text.contains("keyward_usage_records_written_total 3\n").then_some(text)
    })
    .await;
    assert!(text.contains("keyward_usage_records_enqueued_total 3\n"), "{text}");
    assert!(text.contains("keyward_usage_records_dropped_total 0\n"));
    assert!(text.contains("keyward_usage_records_pending 0\n"));
    assert!(text.contains("keyward_usage_batch_duration_seconds_count "));
    assert!(text.contains("keyward_auto_revocations_total 0\n"));
    // Not on the public listener.
    assert_eq!(app.http.get(app.url("/metrics")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_unknown_usage_query_parameter_is_a_422_with_the_same_code_as_on_v1() {
    let app = TestApp::spawn().await;
    let Admin { workspace_id: ws, admin } = app.add_admin(Plan::Pro).await;
    let (s, v) = admin.get(&format!("/api/workspaces/{ws}/api-usage?kye_id=x")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "kye_id");
    assert_eq!(v["errors"][0]["code"], "unknown_parameter", "as /v1 names an unknown query parameter");
}
