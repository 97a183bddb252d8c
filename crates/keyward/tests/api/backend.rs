//! The storage and limiter backends themselves: the suite runs where the
//! environment says, the Redis limiter keeps the exact sliding-log contract
//! of `keyward_core::ratelimit`, and a dead or lost PostgreSQL or Redis is
//! handled as documented in docs/several-nodes.md.
use crate::helpers::*;
use keyward::ratelimit::redis::RedisLimiter;
use keyward::store::Backend;
use keyward_core::ratelimit::FAILED_AUTH_LIMIT;
use keyward_core::{HashedKey, Plan};
use reqwest::{Method, StatusCode};
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[tokio::test]
async fn the_suite_runs_on_the_backend_the_environment_selects() {
    let app = TestApp::spawn().await;
    let expected = if pg_admin_url().is_some() { Backend::Postgres } else { Backend::Sqlite };
    assert_eq!(app.backend(), expected);
    assert_eq!(app.redis_stats().is_some(), redis_test_url().is_some());
    // A round trip through every layer on this backend.
    let AdminWithKey { key: NewKey { secret: key, .. }, .. } = app.add_admin_with_key(Plan::Pro).await;
    assert_eq!(app.v1_get("/v1/me", &key).await.0, StatusCode::OK);
    assert_eq!(app.http.get(app.url("/readyz")).send().await.unwrap().status(), StatusCode::OK);
    let app = app.restart().await;
    assert_eq!(app.v1_get("/v1/me", &key).await.0, StatusCode::OK);
}

#[tokio::test]
#[ignore = "needs Redis (KEYWARD_TEST_REDIS_URL)"]
async fn the_redis_limiter_keeps_the_sliding_log_contract() {
    let url = require_redis();
    let prefix = format!("kwtest:{}:", ulid::Ulid::new());
    let limiter = RedisLimiter::connect(&url, &prefix, 1.0).await.unwrap();
    let key = HashedKey::from_slice(&[1; 32]).unwrap();
    let now = 0; // ignored by Redis, which uses its own clock
    for i in 1..=5u32 {
        let d = limiter.try_acquire(&key, 5, now).await;
        assert!(d.allowed);
        assert_eq!((d.limit, d.remaining, d.reset_secs, d.retry_after_secs), (5, 5 - i, 60, None));
    }
    let d = limiter.try_acquire(&key, 5, now).await;
    assert!(!d.allowed);
    assert_eq!(d.remaining, 0);
    assert!(matches!(d.reset_secs, 59 | 60), "{d:?}");
    assert_eq!(d.retry_after_secs, Some(d.reset_secs));
    // Refusals did not count; an upgrade applies at once.
    let d = limiter.try_acquire(&key, 7, now).await;
    assert!(d.allowed);
    assert_eq!(d.remaining, 1);
    assert!(limiter.try_acquire(&key, 7, now).await.allowed);
    assert!(!limiter.try_acquire(&key, 7, now).await.allowed);
    // A limit of 0 refuses with the nominal window.
    let d = limiter.try_acquire(&HashedKey::from_slice(&[2; 32]).unwrap(), 0, now).await;
    assert_eq!((d.allowed, d.retry_after_secs), (false, Some(60)));

    // Namespaced key with a TTL no longer than the window.
    let redis_key = format!("{prefix}rl:{}", hex::encode(key.as_bytes()));
    let n: usize = redis_query(&url, redis::cmd("ZCARD").arg(&redis_key)).await;
    assert_eq!(n, 7);
    let ttl: i64 = redis_query(&url, redis::cmd("PTTL").arg(&redis_key)).await;
    assert!((1..=60_000).contains(&ttl), "{ttl}");

    // The failed-auth throttle: 30 per client, IPv6 per /64, 429s uncounted.
    for i in 0..FAILED_AUTH_LIMIT {
        let ip: IpAddr = format!("2001:db8:1:2::{:x}", i + 1).parse().unwrap();
        assert_eq!(limiter.failed_auth(ip, now).await, None, "attempt {i}");
    }
    let same64: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
    assert!(matches!(limiter.failed_auth(same64, now).await, Some(59 | 60)));
    assert_eq!(limiter.failed_auth("2001:db8:1:3::1".parse().unwrap(), now).await, None);
    let fa: usize = redis_query(&url, redis::cmd("ZCARD").arg(format!("{prefix}fa:2001:db8:1:2::"))).await;
    assert_eq!(fa, FAILED_AUTH_LIMIT as usize);

    assert_eq!(limiter.stats().fallback_decisions, 0);
    redis_delete_prefix(&url, &prefix).await;
}

#[tokio::test]
async fn an_unreachable_redis_at_start_still_serves_with_local_limits() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let AppWithKey { app, key: NewKey { secret: key, .. }, .. } = TestApp::builder()
        .config(|c| c.redis_url = Some(format!("redis://127.0.0.1:{port}/0")))
        .plan(Plan::Starter)
        .with_key()
        .spawn()
        .await;
    let started = Instant::now();
    let (ok, limited) = count(&app, &key, 70).await;
    assert_eq!((ok, limited), (60, 10), "the full limit on this node while Redis is away");
    assert!(started.elapsed() < Duration::from_secs(10), "a dead Redis must not stall requests");
    let stats = app.redis_stats().unwrap();
    assert!(!stats.up);
    assert!(stats.fallback_decisions >= 70, "{stats:?}");
}

#[tokio::test]
async fn the_redis_fallback_share_splits_a_limit_between_nodes() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = TestApp::builder()
        .config(|c| {
            c.redis_url = Some(format!("redis://127.0.0.1:{port}/0"));
            c.redis_fallback_share = 0.5;
        })
        .spawn()
        .await;
    let AdminWithKey { key: NewKey { secret: key, .. }, .. } = app.add_admin_with_key(Plan::Starter).await;
    let res = app.v1(Method::GET, "/v1/me", &key).send().await.unwrap();
    assert_eq!(res.headers()["x-ratelimit-limit"], "30");
    assert_eq!(count(&app, &key, 39).await, (29, 10));
}

#[tokio::test]
#[ignore = "needs Redis (KEYWARD_TEST_REDIS_URL)"]
async fn a_redis_outage_falls_back_to_local_limits_and_returns_to_redis() {
    let url = require_redis();
    let proxy = redis_proxy().await;
    let AppWithKey { app, key: NewKey { secret: key, .. }, .. } =
        TestApp::builder().redis_via(&proxy).plan(Plan::Starter).with_key().spawn().await;
    let redis_key = format!(
        "{}rl:{}",
        app.redis_prefix().unwrap(),
        hex::encode(keyward_core::key::parse(&key).unwrap().hash().as_bytes())
    );
    assert_eq!(count(&app, &key, 10).await, (10, 0));
    assert_eq!(redis_query::<usize>(&url, redis::cmd("ZCARD").arg(&redis_key)).await, 10);
    assert!(app.redis_stats().unwrap().up);

    proxy.cut();
    let started = Instant::now();
    // The local fallback knows nothing of the 10 counted in Redis: a fresh
    // window at the full per-node limit, and every request is served.
    assert_eq!(count(&app, &key, 70).await, (60, 10));
    assert!(started.elapsed() < Duration::from_secs(10), "a dead Redis must not stall requests");
    let stats = app.redis_stats().unwrap();
    assert!(!stats.up && stats.errors >= 1 && stats.fallback_decisions >= 70, "{stats:?}");

    proxy.restore();
    // Back on Redis (probed once a second), whose log still holds the 10.
    eventually(10, || async {
        let _ = app.v1_get("/v1/me", &key).await;
        app.redis_stats().unwrap().up.then_some(())
    })
    .await;
    let in_redis: usize = redis_query(&url, redis::cmd("ZCARD").arg(&redis_key)).await;
    assert!(in_redis > 10, "{in_redis}");
    let res = app.v1(Method::GET, "/v1/me", &key).send().await.unwrap();
    let remaining: u32 = res.headers()["x-ratelimit-remaining"].to_str().unwrap().parse().unwrap();
    assert_eq!(remaining as usize, 60 - in_redis - 1);
}

#[tokio::test]
#[ignore = "needs PostgreSQL (KEYWARD_TEST_DATABASE_URL)"]
async fn a_postgres_outage_answers_503_fails_readyz_and_recovers_without_a_restart() {
    let admin_url = require_pg();
    let db = TestDb::create(&admin_url).await;
    let proxy = TcpProxy::start(db.server_addr().await).await;
    let via_proxy = db.url_via(proxy.addr);
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { secret: key, .. } } = TestApp::builder()
        .database(db.clone())
        .config(|c| c.store.database_url = Some(via_proxy))
        .with_key()
        .spawn()
        .await;
    let unknown = keyward_core::ApiKeySecret::generate();
    assert_eq!(app.v1_get("/v1/me", &key).await.0, StatusCode::OK);
    let readyz = || async { app.http.get(app.url("/readyz")).send().await.unwrap().status() };
    assert_eq!(readyz().await, StatusCode::OK);

    proxy.cut();
    for secret in [key.as_str(), unknown.expose()] {
        let started = Instant::now();
        let (s, v) = app.v1_get("/v1/me", secret).await;
        // Nothing it could not verify is authenticated, or refused as unknown.
        assert_eq!((s, v["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("service_unavailable")), "{v}");
        assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    }
    assert_eq!(readyz().await, StatusCode::SERVICE_UNAVAILABLE);
    let (s, _) = admin.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);

    proxy.restore();
    eventually(10, || async { (app.v1_get("/v1/me", &key).await.0 == StatusCode::OK).then_some(()) }).await;
    assert_eq!(readyz().await, StatusCode::OK);
    assert_eq!(admin.get(&format!("/api/workspaces/{ws}/api-keys")).await.0, StatusCode::OK);
}

/// `n` sequential `/v1/me` requests: (200s, 429s); anything else fails.
async fn count(app: &TestApp, key: &str, n: usize) -> (usize, usize) {
    let (mut ok, mut limited) = (0, 0);
    for _ in 0..n {
        let (s, v) = app.v1_get("/v1/me", key).await;
        match s {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            other => panic!("unexpected {other}: {v}"),
        }
    }
    (ok, limited)
}

#[tokio::test]
async fn last_used_is_written_in_bulk_and_never_moves_backwards() {
    let AppWithAdmin { app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(admin.new_key(&ws, &format!("k{i}")).await.id);
    }
    // 12 rows: chunks of 10, 1 and 1 (three statement sizes).
    let first: Vec<(String, i64, String)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), 1_700_000_000_000 + i as i64, format!("10.0.0.{i}")))
        .collect();
    app.store.record_last_used(&first).await.unwrap();
    // A late flush from another node: older for key 0 (ignored), newer for key 1.
    let late = vec![
        (ids[0].clone(), 1_600_000_000_000, "192.0.2.1".to_string()),
        (ids[1].clone(), 1_800_000_000_000, "192.0.2.2".to_string()),
    ];
    app.store.record_last_used(&late).await.unwrap();
    let keys = app.store.list_keys(&keyward_core::WorkspaceId::new(&*ws)).await.unwrap();
    let find = |id: &str| keys.iter().find(|k| k.id == id).unwrap();
    assert_eq!(find(&ids[0]).last_used_ip.as_deref(), Some("10.0.0.0"), "never backwards");
    assert_eq!(find(&ids[0]).last_used_at.map(|t| t.0), Some(1_700_000_000_000));
    assert_eq!(find(&ids[1]).last_used_ip.as_deref(), Some("192.0.2.2"));
    assert_eq!(find(&ids[1]).last_used_at.map(|t| t.0), Some(1_800_000_000_000));
    for (i, id) in ids.iter().enumerate().skip(2) {
        assert_eq!(find(id).last_used_ip.as_deref(), Some(format!("10.0.0.{i}").as_str()));
    }
}

#[tokio::test]
async fn the_auto_revocation_window_counts_what_classify_counts() {
    use keyward::usage::{autorevoke, writer, UsageRecord};
    let AppWithAdmin { app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    let NewKey { id: key, .. } = admin.new_key(&ws, "window").await;
    let NewKey { id: other, .. } = admin.new_key(&ws, "other").await;
    let since = 1_700_000_000_000;
    let rec = |key: &str, at_ms: i64, status: u16, code: Option<&'static str>| UsageRecord {
        status,
        code,
        ..usage_record(&ws, key, at_ms)
    };
    let answers: [(u16, Option<&'static str>); 8] = [
        (200, None),
        (422, Some("validation_failed")),
        (401, Some("ip_not_allowed")),
        (401, Some("api_key_revoked")),
        (403, Some("plan_required")),
        (404, Some("not_found")),
        (429, Some("rate_limited")),
        (503, Some("service_unavailable")),
    ];
    let mut batch: Vec<UsageRecord> = answers.iter().map(|&(s, c)| rec(&key, since, s, c)).collect();
    batch.push(rec(&key, since - 1, 422, Some("validation_failed"))); // before the window
    batch.push(rec(&other, since, 422, Some("validation_failed"))); // another key
    writer::write_batch_with_counts(&app.store, &batch).await.unwrap();

    let expected = answers.iter().fold((0, 0), |(e, n), &(s, c)| {
        let (counts, error) = autorevoke::classify(s, c);
        (e + u64::from(error), n + u64::from(counts))
    });
    assert_eq!(expected, (2, 6));
    let (ws, key, other) = (
        keyward_core::WorkspaceId::new(ws.as_str()),
        keyward_core::KeyId::new(key.as_str()),
        keyward_core::KeyId::new(other.as_str()),
    );
    assert_eq!(app.store.usage_key_window(&ws, &key, since, since).await.unwrap(), expected);
    assert_eq!(app.store.usage_key_window(&ws, &key, since - 1, since).await.unwrap(), (3, 7));
    assert_eq!(app.store.usage_key_window(&ws, &other, since, since).await.unwrap(), (1, 1));
    let elsewhere = keyward_core::WorkspaceId::new("ws_elsewhere");
    assert_eq!(app.store.usage_key_window(&elsewhere, &key, since, since).await.unwrap(), (0, 0));
}

#[tokio::test]
async fn old_auto_revocation_buckets_are_forgotten_and_recent_ones_kept() {
    use keyward::usage::{writer, UsageRecord};
    // SQLite only: PostgreSQL counts from the records and keeps no buckets.
    let app = TestApp::builder().sqlite().spawn().await;
    assert!(app.store.counts_key_buckets());
    let Admin { workspace_id: ws, admin } = app.add_admin(Plan::Pro).await;
    let NewKey { id: key, .. } = admin.new_key(&ws, "buckets").await;
    let t = 1_700_000_000_000; // a multiple of 10 s
    let rec =
        |at_ms: i64| UsageRecord { status: 422, code: Some("validation_failed"), ..usage_record(&ws, &key, at_ms) };
    writer::write_batch_with_counts(&app.store, &[rec(t - 10_001), rec(t - 1), rec(t), rec(t + 5_000)]).await.unwrap();
    let (ws, key) = (keyward_core::WorkspaceId::new(ws.as_str()), keyward_core::KeyId::new(key.as_str()));
    let window = |since: i64| app.store.usage_key_window(&ws, &key, since, t + 5_000);
    assert_eq!(window(t - 20_000).await.unwrap(), (4, 4));
    assert_eq!(app.store.delete_usage_key_buckets_before((t - 10_000) / 1000).await.unwrap(), 1);
    assert_eq!(window(t - 20_000).await.unwrap(), (3, 3), "the bucket before t - 10 s went");
    assert_eq!(window(t).await.unwrap(), (2, 2), "t and t + 5 s share a bucket");
}
