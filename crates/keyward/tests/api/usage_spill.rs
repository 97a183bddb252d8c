//! The usage writer spills what the store refuses to a local file and
//! replays it in order once the store answers (issue 19 item 6).
use crate::helpers::*;
use keyward::store::{Store, StoreLocation};
use keyward::usage::autorevoke::AutoRevokePolicy;
use keyward::usage::notify::{Notifier, Retry};
use keyward::usage::spill::Spill;
use keyward::usage::{run_writer, Recorder, UsageRecord, Writer};
use keyward_core::Plan;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `at` of every usage record of `ws`, in insertion order.
async fn stored_ats(db_url: &str, ws: &str) -> Vec<i64> {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::PgConnection::connect(db_url).await.unwrap();
    sqlx::query("SELECT l.at FROM usage_log l JOIN usage_names w ON w.n = l.ws WHERE w.name = $1 ORDER BY l.id")
        .bind(ws)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<i64, _>(0))
        .collect()
}

#[tokio::test]
#[ignore = "needs PostgreSQL (KEYWARD_TEST_DATABASE_URL)"]
async fn a_postgres_outage_longer_than_the_old_drop_point_loses_no_usage_record_and_replays_in_order() {
    let admin_url = require_pg();
    let db = TestDb::create(&admin_url).await;
    let app = TestApp::spawn_on(Some(db.clone()), |_| {}).await;
    let (ws, _admin, key_id, _) = app.with_key(Plan::Pro).await;

    // A writer of its own, over a proxy that the test cuts.
    let proxy = TcpProxy::start(db.server_addr().await).await;
    let spill_dir = tempfile::tempdir().unwrap();
    let store = Store::open_existing(&StoreLocation::resolve(&app.data_dir(), Some(&db.url_via(proxy.addr))).unwrap())
        .await
        .unwrap();
    let (recorder, rx) = Recorder::new(1024);
    let metrics = Arc::clone(recorder.metrics());
    let writer = Writer {
        store: store.clone(),
        metrics: Arc::clone(&metrics),
        policy: AutoRevokePolicy::from_config(&app.config),
        notifier: Arc::new(Notifier::new(store.clone(), None, Retry::default(), Arc::clone(&metrics)).unwrap()),
        retry: Retry { attempts: 5, first_backoff: Duration::from_millis(100) },
        spill: Some(Spill::open(spill_dir.path(), 64 << 20, Arc::clone(&metrics)).unwrap()),
        replay_every: Duration::from_millis(200),
    };
    let writer = tokio::spawn(run_writer(writer, rx));
    let t0 = keyward::store::now_ms();
    let mut at = t0;
    let send = |at: &mut i64, n: usize| -> Vec<UsageRecord> {
        (0..n)
            .map(|_| {
                *at += 1;
                usage_record(&ws, &key_id, *at)
            })
            .collect()
    };
    for r in send(&mut at, 50) {
        recorder.record(r).await;
    }
    eventually(10, || async { (metrics.written.load(Ordering::Relaxed) == 50).then_some(()) }).await;

    // An outage longer than the old drop point (~9.5 s), under steady load.
    proxy.cut();
    let outage = Instant::now();
    while outage.elapsed() < Duration::from_secs(12) {
        for r in send(&mut at, 20) {
            recorder.record(r).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = (at - t0) as u64;
    eventually(20, || async { (metrics.spilled_records.load(Ordering::Relaxed) > 0).then_some(()) }).await;
    assert_eq!(metrics.dropped.load(Ordering::Relaxed), 0);
    let behind = keyward::usage::spill::behind(&metrics).expect("usage is behind");
    assert_eq!(behind.since.as_millis(), t0 + 51, "the oldest record not written yet");
    assert!(metrics.render().contains("keyward_usage_spilled_records "), "{}", metrics.render());

    proxy.restore();
    eventually(30, || async {
        (metrics.written.load(Ordering::Relaxed) == sent && metrics.spilled_records.load(Ordering::Relaxed) == 0)
            .then_some(())
    })
    .await;
    assert_eq!(metrics.dropped.load(Ordering::Relaxed), 0);
    assert_eq!(metrics.spill_bytes.load(Ordering::Relaxed), 0);
    assert!(keyward::usage::spill::behind(&metrics).is_none());
    assert_eq!(std::fs::metadata(spill_dir.path().join(keyward::usage::spill::FILE_NAME)).unwrap().len(), 0);
    let ats = stored_ats(&db.url, &ws).await;
    assert_eq!(ats, (t0 + 1..=at).collect::<Vec<_>>(), "every record, once, in order");

    // Shutdown while the store is down: everything ends up in the spill file.
    proxy.cut();
    let last = send(&mut at, 30);
    for r in last.clone() {
        recorder.record(r).await;
    }
    drop(recorder);
    writer.await.unwrap().unwrap();
    assert_eq!(metrics.dropped.load(Ordering::Relaxed), 0);
    let left = Spill::open(spill_dir.path(), 64 << 20, Arc::default()).unwrap();
    assert_eq!(left.records(), 30);
    let (back, _) = left.next_chunk(100).unwrap();
    assert_eq!(back.iter().map(|r| r.at_ms).collect::<Vec<_>>(), last.iter().map(|r| r.at_ms).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_restart_with_records_in_the_spill_file_replays_them_and_the_report_counts_them() {
    let spill_dir = tempfile::tempdir().unwrap();
    let path = spill_dir.path().to_path_buf();
    let app = TestApp::spawn_with(|c| c.usage_spill_dir = Some(path)).await;
    let (ws, admin, key_id, _) = app.with_key(Plan::Pro).await;
    let now = keyward::store::now_ms();
    // What a node that stopped during an outage leaves behind.
    let mut left = Spill::open(spill_dir.path(), 1 << 20, Arc::default()).unwrap();
    let records: Vec<UsageRecord> = (0..7).map(|i| usage_record(&ws, &key_id, now - 1000 + i)).collect();
    assert_eq!(left.append(&records), 7);
    drop(left);

    let app = app.restart().await;
    let admin = Session { base: app.base.clone(), ..admin };
    let report = eventually(30, || async {
        let (_, v) = admin.get(&format!("/api/workspaces/{ws}/api-usage")).await;
        (v["last_24h"]["total"] == 7).then_some(v)
    })
    .await;
    assert!(report.get("usage_behind").is_none(), "{report}");
    assert_eq!(report["recent"].as_array().unwrap().len(), 7);
    eventually(10, || async { (app.metrics.spilled_records.load(Ordering::Relaxed) == 0).then_some(()) }).await;
    assert_eq!(std::fs::metadata(spill_dir.path().join(keyward::usage::spill::FILE_NAME)).unwrap().len(), 0);
}

/// SIGKILL the real binary under light load: after a restart, at most the
/// records of the last batch in flight (the last tens of milliseconds of
/// answered requests) are missing from the usage log (the README's bound).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_light_load_loses_at_most_the_last_batch_of_usage_records() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, printed, base, _err) = crate::cli::start_binary(dir.path(), &["--demo"]);
    let email = printed.lines().find_map(|l| l.strip_prefix("email: ")).unwrap().to_string();
    let password = printed.lines().find_map(|l| l.strip_prefix("password: ")).unwrap().to_string();
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{base}/api/session"))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
    let v: serde_json::Value = res.json().await.unwrap();
    let ws = v["workspaces"][0]["id"].as_str().unwrap().to_string();
    let admin = Session {
        http: http.clone(),
        base: base.clone(),
        cookie,
        csrf: v["csrf_token"].as_str().unwrap().to_string(),
        user_id: v["user"]["id"].as_str().unwrap().to_string(),
        email,
    };
    let (key_id, secret) = admin.create_key(&ws, "sigkill").await;

    // Light load: two clients, for about a second; note when each answer came.
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..2 {
        let (http, url, secret) = (http.clone(), format!("{base}/v1/me"), secret.clone());
        clients.push(tokio::spawn(async move {
            let mut answered = Vec::new();
            while started.elapsed() < Duration::from_millis(1000) {
                let res = http.get(&url).bearer_auth(&secret).send().await.unwrap();
                // 429s past the plan's limit are recorded too.
                let s = res.status();
                assert!(s == reqwest::StatusCode::OK || s == reqwest::StatusCode::TOO_MANY_REQUESTS, "{s}");
                answered.push(Instant::now());
            }
            answered
        }));
    }
    let mut answered = Vec::new();
    for c in clients {
        answered.extend(c.await.unwrap());
    }
    let killed_at = Instant::now();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let last_tenth = answered.iter().filter(|t| killed_at.duration_since(**t) <= Duration::from_millis(200)).count();

    let (mut child, _printed, base, _err) = crate::cli::start_binary(dir.path(), &[]);
    let admin = Session { base, ..admin };
    let (s, report) = admin.get(&format!("/api/workspaces/{ws}/api-usage?key_id={key_id}")).await;
    assert_eq!(s, reqwest::StatusCode::OK, "{report}");
    let recorded = report["last_24h"]["total"].as_u64().unwrap() as usize;
    let missing = answered.len().saturating_sub(recorded);
    assert!(recorded <= answered.len(), "{recorded} recorded, {} answered", answered.len());
    assert!(
        missing <= last_tenth.max(1),
        "{missing} of {} answered requests missing; {last_tenth} were answered in the last 200 ms",
        answered.len()
    );
    let ok = std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(ok.success());
    assert!(child.wait().unwrap().success());
}
