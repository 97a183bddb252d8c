//! Several nodes on one PostgreSQL and one Redis (SPEC §1, §4): a revocation
//! is refused on every node at the next request, a key's limit is one limit
//! across nodes, sessions and usage are shared, and Redis losing its data
//! resurrects nothing. Needs `KEYWARD_TEST_DATABASE_URL` and
//! `KEYWARD_TEST_REDIS_URL`: ignored by a plain `cargo test`, failing when run
//! with `--include-ignored` without them.
use crate::helpers::*;
use keyward::store::Backend;
use keyward_core::{ApiKeySecret, Plan};
use reqwest::StatusCode;
use serde_json::json;

/// Two nodes of one deployment on PostgreSQL and Redis.
async fn two_nodes() -> (TestApp, TestApp) {
    require_multinode_backends();
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_node(&a).await;
    assert_eq!((a.backend(), b.backend()), (Backend::Postgres, Backend::Postgres));
    assert!(a.redis_prefix().is_some() && a.redis_prefix() == b.redis_prefix());
    (a, b)
}

/// `session`, but talking to `node`.
fn on(node: &TestApp, session: &Session) -> Session {
    Session { base: node.base.clone(), http: node.http.clone(), ..session.clone() }
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis (KEYWARD_TEST_DATABASE_URL, KEYWARD_TEST_REDIS_URL)"]
async fn a_key_revoked_on_node_a_is_refused_on_node_b_at_the_next_request() {
    let (a, b) = two_nodes().await;
    let AdminWithKey { workspace_id: ws, admin, key: NewKey { id, secret: key } } =
        a.add_admin_with_key(Plan::Pro).await;
    // Both nodes have served the key (nothing may stay cached from this).
    for _ in 0..3 {
        assert_eq!(a.v1_get("/v1/me", &key).await.0, StatusCode::OK);
        assert_eq!(b.v1_get("/v1/me", &key).await.0, StatusCode::OK);
    }
    let (s, _) = admin.delete(&format!("/api/workspaces/{ws}/api-keys/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = b.v1_get("/v1/me", &key).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(v["code"], "api_key_revoked");
    assert_eq!(a.v1_get("/v1/me", &key).await.1["code"], "api_key_revoked");
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis (KEYWARD_TEST_DATABASE_URL, KEYWARD_TEST_REDIS_URL)"]
async fn a_cli_revocation_on_postgres_is_refused_by_both_running_nodes() {
    let (a, b) = two_nodes().await;
    let AdminWithKey { key: NewKey { id, secret: key }, .. } = a.add_admin_with_key(Plan::Starter).await;
    assert_eq!(a.v1_get("/v1/me", &key).await.0, StatusCode::OK);
    assert_eq!(b.v1_get("/v1/me", &key).await.0, StatusCode::OK);
    let (ok, out, err) = a.cli(&["key", "revoke", &id]);
    assert!(ok, "{out}{err}");
    for node in [&a, &b] {
        let (s, v) = node.v1_get("/v1/me", &key).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("api_key_revoked")), "{v}");
    }
    // The CLI's plan change reaches both nodes too.
    let AdminWithKey { key: NewKey { secret: key2, .. }, .. } = a.add_admin_with_key(Plan::Pro).await;
    let ws2 = b.v1_get("/v1/me", &key2).await.1["workspace"]["id"].as_str().unwrap().to_string();
    let (ok, out, err) = a.cli(&["workspace", "set-plan", &ws2, "free"]);
    assert!(ok, "{out}{err}");
    for node in [&a, &b] {
        assert_eq!(node.v1_get("/v1/me", &key2).await.1["code"], "plan_required");
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis (KEYWARD_TEST_DATABASE_URL, KEYWARD_TEST_REDIS_URL)"]
async fn a_starter_key_gets_exactly_60_of_80_requests_spread_over_two_nodes() {
    let (a, b) = two_nodes().await;
    let AdminWithKey { key: NewKey { secret: key, .. }, .. } = a.add_admin_with_key(Plan::Starter).await;
    let (mut ok, mut limited) = (0, 0);
    for i in 0..80 {
        let node = if i % 2 == 0 { &a } else { &b };
        let res = node.v1(reqwest::Method::GET, "/v1/me", &key).send().await.unwrap();
        let h = res.headers().clone();
        assert_eq!(h["x-ratelimit-limit"], "60");
        match res.status() {
            StatusCode::OK => {
                // One shared log: `remaining` counts down across both nodes.
                assert_eq!(h["x-ratelimit-remaining"].to_str().unwrap(), (59 - ok).to_string());
                ok += 1;
            }
            StatusCode::TOO_MANY_REQUESTS => {
                limited += 1;
                assert_eq!(h["x-ratelimit-remaining"], "0");
                let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
                assert!((1..=60).contains(&retry), "{retry}");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((ok, limited), (60, 20));
    let stats = (a.redis_stats().unwrap(), b.redis_stats().unwrap());
    assert_eq!((stats.0.fallback_decisions, stats.1.fallback_decisions), (0, 0), "{stats:?}");
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis (KEYWARD_TEST_DATABASE_URL, KEYWARD_TEST_REDIS_URL)"]
async fn the_failed_auth_throttle_counts_across_nodes() {
    let (a, b) = two_nodes().await;
    let AdminWithKey { key: NewKey { secret: good, .. }, .. } = a.add_admin_with_key(Plan::Pro).await;
    let unknown = ApiKeySecret::generate();
    for i in 0..30 {
        let node = if i % 2 == 0 { &a } else { &b };
        let (s, v) = node.v1_get("/v1/me", unknown.expose()).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_api_key")), "attempt {i}");
    }
    for node in [&a, &b] {
        let (s, v) = node.v1_get("/v1/me", unknown.expose()).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too_many_failed_auth")));
        // Valid keys from the same IP keep working.
        assert_eq!(node.v1_get("/v1/me", &good).await.0, StatusCode::OK);
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis (KEYWARD_TEST_DATABASE_URL, KEYWARD_TEST_REDIS_URL)"]
async fn a_session_started_on_node_a_works_on_node_b_and_ends_everywhere() {
    let (a, b) = two_nodes().await;
    let Admin { workspace_id: ws, admin: on_a } = a.add_admin(Plan::Pro).await; // logged in on node A
    let on_b = on(&b, &on_a);
    let (s, v) = on_b.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // A mutating call on B with the CSRF token issued by A.
    let NewKey { id, secret } = on_b.new_key(&ws, "made on b").await;
    let (s, v) = on_a.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"][0]["id"], id.as_str());
    assert_eq!(a.v1_get("/v1/me", &secret).await.0, StatusCode::OK);
    // Logging out on B ends the session on A.
    let (s, _) = on_b.delete("/api/session").await;
    assert!(s.is_success(), "{s}");
    let (s, _) = on_a.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis (KEYWARD_TEST_DATABASE_URL, KEYWARD_TEST_REDIS_URL)"]
async fn usage_recorded_by_both_nodes_is_visible_from_either() {
    let (a, b) = two_nodes().await;
    let AdminWithKey { workspace_id: ws, admin, key: NewKey { secret: key, .. } } =
        a.add_admin_with_key(Plan::Pro).await;
    for i in 0..10 {
        let node = if i % 2 == 0 { &a } else { &b };
        assert_eq!(node.v1_get("/v1/me", &key).await.0, StatusCode::OK);
    }
    assert_eq!(b.v1_get("/v1/studies/std_nope", &key).await.0, StatusCode::NOT_FOUND);
    for session in [admin.clone(), on(&b, &admin)] {
        eventually(15, || {
            let session = session.clone();
            let ws = ws.clone();
            async move {
                let (s, v) = session.get(&format!("/api/workspaces/{ws}/api-usage")).await;
                (s == StatusCode::OK && v["last_24h"]["total"] == json!(11) && v["last_24h"]["errors"] == json!(1))
                    .then_some(())
            }
        })
        .await;
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis (KEYWARD_TEST_DATABASE_URL, KEYWARD_TEST_REDIS_URL)"]
async fn losing_the_redis_data_resurrects_nothing_and_grants_at_most_a_fresh_window() {
    let (a, b) = two_nodes().await;
    let AdminWithKey { workspace_id: ws, admin, key: NewKey { id: revoked_id, secret: revoked } } =
        a.add_admin_with_key(Plan::Starter).await;
    let NewKey { secret: busy, .. } = admin.new_key(&ws, "busy").await;
    assert_eq!(admin.delete(&format!("/api/workspaces/{ws}/api-keys/{revoked_id}")).await.0, StatusCode::NO_CONTENT);
    let ok = burst(&a, &b, &busy, 70).await;
    assert_eq!(ok, 60);

    // Redis loses everything of this deployment (a FLUSHDB without
    // touching the other tests sharing the Redis DB).
    let url = redis_test_url().unwrap();
    assert!(redis_delete_prefix(&url, a.redis_prefix().unwrap()).await > 0);

    for node in [&a, &b] {
        assert_eq!(node.v1_get("/v1/me", &revoked).await.1["code"], "api_key_revoked");
    }
    // A fresh window, and no more than one.
    assert_eq!(burst(&a, &b, &busy, 80).await, 60);
}

/// `n` requests alternating between the nodes; how many got 200.
async fn burst(a: &TestApp, b: &TestApp, key: &str, n: usize) -> usize {
    let mut ok = 0;
    for i in 0..n {
        let node = if i % 2 == 0 { a } else { b };
        let (s, v) = node.v1_get("/v1/me", key).await;
        match s {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}: {v}"),
        }
    }
    ok
}
