//! Rate limits, IP allowlists, trusted proxies and the failed-auth throttle
//! (SPEC §4, §5), over real sockets from different 127.0.0.x addresses.
use crate::helpers::*;
use keyward_core::Plan;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::net::IpAddr;

/// A client whose connections come from `ip` (any 127.0.0.0/8 address is local).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder().local_address(ip.parse::<IpAddr>().unwrap()).build().unwrap()
}

async fn me_from(app: &TestApp, client: &reqwest::Client, key: &str, xff: Option<&str>) -> (StatusCode, Value) {
    let mut rb = client.get(app.url("/v1/me")).bearer_auth(key);
    if let Some(x) = xff {
        rb = rb.header("x-forwarded-for", x);
    }
    body(rb.send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starter_key_gets_exactly_60_of_70_with_honest_headers() {
    let AppWithKey { app, key: NewKey { secret: key, .. }, .. } =
        TestApp::builder().plan(Plan::Starter).with_key().spawn().await;
    let mut ok = 0;
    let mut limited = 0;
    for i in 0..70 {
        let res = app.v1(Method::GET, "/v1/me", &key).send().await.unwrap();
        let h = res.headers().clone();
        assert_eq!(h["x-ratelimit-limit"], "60");
        assert_eq!(h["ratelimit-policy"], "\"starter\";q=60;w=60");
        match res.status() {
            StatusCode::OK => {
                ok += 1;
                assert_eq!(h["x-ratelimit-remaining"].to_str().unwrap(), (59 - i).to_string());
                assert_eq!(
                    h["ratelimit"].to_str().unwrap(),
                    format!("\"starter\";r={};t={}", 59 - i, h["x-ratelimit-reset"].to_str().unwrap())
                );
                let reset: u64 = h["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
                assert!((1..=60).contains(&reset));
            }
            StatusCode::TOO_MANY_REQUESTS => {
                limited += 1;
                assert_eq!(h["x-ratelimit-remaining"], "0");
                let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
                assert!((1..=60).contains(&retry), "{retry}");
                assert_eq!(h["content-type"], "application/problem+json");
                let v: Value = res.json().await.unwrap();
                assert_eq!(v["code"], "rate_limited");
                assert_eq!(v["type"], "https://iana.org/assignments/http-problem-types#quota-exceeded");
                assert_eq!(v["status"], 429);
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((ok, limited), (60, 10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_per_key() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { secret: a, .. } } =
        TestApp::builder().plan(Plan::Starter).with_key().spawn().await;
    let NewKey { secret: b, .. } = admin.new_key(&ws, "second").await;
    for _ in 0..60 {
        app.v1_get("/v1/me", &a).await;
    }
    assert_eq!(app.v1_get("/v1/me", &a).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.v1_get("/v1/me", &b).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_overrides_and_plan_changes_apply_on_the_next_request() {
    let AppWithKey { app, workspace_id: ws, key: NewKey { secret: key, .. }, .. } =
        TestApp::builder().with_key().spawn().await;
    app.store.set_rate_limit(&keyward_core::WorkspaceId::new(&*ws), Some(3)).await.unwrap();
    let statuses: Vec<u16> = {
        let mut v = vec![];
        for _ in 0..4 {
            v.push(app.v1_get("/v1/me", &key).await.0.as_u16());
        }
        v
    };
    assert_eq!(statuses, vec![200, 200, 200, 429]);
    let res = app.v1(Method::GET, "/v1/me", &key).send().await.unwrap();
    assert_eq!(res.headers()["ratelimit-policy"], "\"custom\";q=3;w=60");
    // Back to the plan's 300: the 3 successes so far leave 297.
    app.store.set_rate_limit(&keyward_core::WorkspaceId::new(&*ws), None).await.unwrap();
    let res = app.v1(Method::GET, "/v1/me", &key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-ratelimit-remaining"], "296");
    assert_eq!(res.headers()["ratelimit-policy"], "\"pro\";q=300;w=60");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlists_take_cidrs_and_addresses_and_name_every_bad_entry() {
    let AppWithKey { app: _app, workspace_id: ws, admin, key: NewKey { id, .. } } =
        TestApp::builder().with_key().spawn().await;
    let path = format!("/api/workspaces/{ws}/api-keys/{id}/allowed-ips");
    let (s, v) =
        admin.put(&path, json!({ "cidrs": ["10.0.0.1/8", "192.168.1.0/24", "nonsense", "2001:db8::/129"] })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<_> = v["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["cidrs[0]", "cidrs[2]", "cidrs[3]"]);
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("10.0.0.1/8"));
    let (_, list) = admin.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    assert_eq!(list["data"][0]["allowed_cidrs"], json!([]), "nothing changed");

    let (s, v) =
        admin.put(&path, json!({ "cidrs": ["203.0.113.7", "2001:db8::/32", "::ffff:198.51.100.0/120"] })).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut got: Vec<String> =
        v["allowed_cidrs"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    got.sort();
    assert_eq!(got, vec!["198.51.100.0/24", "2001:db8::/32", "203.0.113.7/32"]);
    // Empty list = any source.
    let (s, v) = admin.put(&path, json!({ "cidrs": [] })).await;
    assert_eq!((s, v["allowed_cidrs"].clone()), (StatusCode::OK, json!([])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_key_works_only_from_its_range() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { id, secret: key } } =
        TestApp::builder().with_key().spawn().await;
    admin.put(&format!("/api/workspaces/{ws}/api-keys/{id}/allowed-ips"), json!({ "cidrs": ["127.0.0.2/32"] })).await;
    let (s, _) = me_from(&app, &client_from("127.0.0.2"), &key, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = me_from(&app, &client_from("127.0.0.3"), &key, None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("ip_not_allowed")));
    // X-Forwarded-For from an untrusted peer is ignored.
    let (s, _) = me_from(&app, &client_from("127.0.0.3"), &key, Some("127.0.0.2")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_trusted_proxy_the_right_most_untrusted_address_is_the_client() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { id, secret: key } } = TestApp::builder()
        .config(|c| c.trusted_proxies = vec!["127.0.0.10/32".parse().unwrap()])
        .with_key()
        .spawn()
        .await;
    admin.put(&format!("/api/workspaces/{ws}/api-keys/{id}/allowed-ips"), json!({ "cidrs": ["203.0.113.0/24"] })).await;
    let proxy = client_from("127.0.0.10");
    // The office, through the proxy.
    assert_eq!(me_from(&app, &proxy, &key, Some("203.0.113.9")).await.0, StatusCode::OK);
    // A spoofed left-most entry does not help: the proxy appended the real client.
    let (s, v) = me_from(&app, &proxy, &key, Some("203.0.113.9, 198.51.100.7")).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("ip_not_allowed")));
    assert!(v["detail"].as_str().unwrap().contains("198.51.100.7"));
    // The same header from an untrusted peer is not believed.
    let (s, _) = me_from(&app, &client_from("127.0.0.11"), &key, Some("203.0.113.9")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The key's last-used IP is the real client's.
    let k = admin.first_key_with(&ws, "last_used_ip").await;
    assert_eq!(k["last_used_ip"], "203.0.113.9");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_guessing_is_throttled_per_ip_while_real_keys_keep_working() {
    let AppWithKey { app, key: NewKey { secret: key, .. }, .. } = TestApp::builder().with_key().spawn().await;
    let guesser = client_from("127.0.0.20");
    let fake = keyward_core::ApiKeySecret::generate().expose().to_string();
    for i in 0..30 {
        let (s, v) = me_from(&app, &guesser, if i % 2 == 0 { &fake } else { "ue_live_garbage" }, None).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_api_key")), "attempt {i}");
    }
    let res = guesser.get(app.url("/v1/me")).bearer_auth(&fake).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "too_many_failed_auth");
    // A real key from the same address still works; other addresses are unaffected.
    assert_eq!(me_from(&app, &guesser, &key, None).await.0, StatusCode::OK);
    assert_eq!(me_from(&app, &client_from("127.0.0.21"), &fake, None).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlist_changes_from_the_cli_apply_on_the_next_request() {
    let AppWithKey { app, key: NewKey { id, secret: key }, .. } = TestApp::builder().with_key().spawn().await;
    let (ok, out, err) = admin_cli(&app.data_dir(), &["key", "allow-ips", &id, "10.0.0.0/8", "192.0.2.1", "--json"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["allowed_cidrs"], json!(["10.0.0.0/8", "192.0.2.1/32"]));
    assert_eq!(app.v1_get("/v1/me", &key).await.1["code"], "ip_not_allowed");
    assert!(admin_cli(&app.data_dir(), &["key", "allow-ips", &id]).0, "no CIDR clears");
    assert_eq!(app.v1_get("/v1/me", &key).await.0, StatusCode::OK);
}
