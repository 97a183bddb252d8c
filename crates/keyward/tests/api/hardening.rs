//! Availability and throttling under abuse (issue 19): login floods, the
//! login throttle under concurrency, targeted lockout, slow clients and
//! connection floods.
use crate::helpers::*;
use keyward_core::{Plan, Role};
use reqwest::StatusCode;
use serde_json::json;
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn trust_localhost(c: &mut keyward::config::ServeArgs) {
    c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
}

/// POST /api/session as the client `xff` (through the trusted local proxy).
async fn login_as(app: &TestApp, email: &str, password: &str, xff: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/session"))
        .header("x-forwarded-for", xff)
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

/// The real binary, serving on the test backend: (child, base URL).
fn start_binary(dir: &std::path::Path, db_url: Option<&str>, extra: &[&str]) -> (std::process::Child, String) {
    let mut cmd = keyward_cmd();
    cmd.env_remove("KEYWARD_DATABASE_URL").env_remove("KEYWARD_REDIS_URL").arg("serve").arg("--data-dir").arg(dir);
    if let Some(url) = db_url {
        cmd.arg("--database-url").arg(url);
    }
    if let Some(url) = redis_test_url() {
        cmd.arg("--redis-url").arg(url).arg("--redis-prefix").arg(format!("kwtest:{}:", ulid::Ulid::new()));
    }
    let mut child = cmd
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let base = loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "server exited early");
        if let Some(rest) = line.strip_prefix("keyward listening on ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = stdout.read_to_string(&mut sink);
    });
    (child, base)
}

/// Peak resident memory of a process (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status");
    kb * 1024
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_keeps_memory_flat_and_answers_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let db = match pg_admin_url() {
        Some(admin) => Some(TestDb::create(&admin).await),
        None => None,
    };
    let (mut child, base) =
        start_binary(dir.path(), db.as_ref().map(|d| d.url.as_str()), &["--trusted-proxy", "127.0.0.1"]);
    let http = reqwest::Client::new();
    // 150 at once, each from its own address and for its own email: no
    // throttle applies, only the bound on concurrent password checks.
    let tasks: Vec<_> = (0..150)
        .map(|i| {
            let (http, base) = (http.clone(), base.clone());
            tokio::spawn(async move {
                let res = http
                    .post(format!("{base}/api/session"))
                    .header("x-forwarded-for", format!("198.18.{}.{}", i / 200, i % 200 + 1))
                    .json(&json!({ "email": format!("nobody{i}@example.com"), "password": "wrong" }))
                    .send()
                    .await
                    .unwrap();
                let retry = res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
                let ctype = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
                (res.status(), retry, ctype)
            })
        })
        .collect();
    let mut counts = std::collections::BTreeMap::new();
    for t in tasks {
        let (status, retry, ctype) = t.await.unwrap();
        *counts.entry(status.as_u16()).or_insert(0) += 1;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(retry.is_some_and(|r| r.parse::<u64>().unwrap() >= 1), "503 without Retry-After");
            assert_eq!(ctype.as_deref(), Some("application/problem+json"));
        }
    }
    let rss = peak_rss(child.id());
    let _ = std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let _ = child.wait();
    assert!(!counts.contains_key(&500), "{counts:?}");
    assert!(counts.get(&503).copied().unwrap_or(0) > 0, "some answers are 503: {counts:?}");
    assert!(counts.get(&401).copied().unwrap_or(0) > 0, "some checks ran: {counts:?}");
    assert_eq!(counts.values().sum::<i32>(), 150);
    assert!(rss < 400 * 1024 * 1024, "peak RSS {} MB under a login flood ({counts:?})", rss / (1024 * 1024));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_passwords_for_one_email_get_at_most_five_checks() {
    let app = TestApp::spawn().await;
    let ws = app.workspace(Plan::Pro).await;
    app.user(&ws, "ada@example.com", Role::Admin).await;
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let (http, url) = (app.http.clone(), app.url("/api/session"));
            tokio::spawn(async move {
                let res = http
                    .post(url)
                    .json(&json!({ "email": "ada@example.com", "password": "not the password" }))
                    .send()
                    .await
                    .unwrap();
                (res.status(), res.headers().get("retry-after").is_some())
            })
        })
        .collect();
    let (mut checked, mut throttled) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            (StatusCode::UNAUTHORIZED, _) => checked += 1,
            (StatusCode::TOO_MANY_REQUESTS, retry) => {
                assert!(retry, "429 without Retry-After");
                throttled += 1;
            }
            (s, _) => panic!("unexpected {s}"),
        }
    }
    assert!((1..=5).contains(&checked), "{checked} password checks ran (limit 5)");
    assert_eq!(checked + throttled, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attackers_wrong_passwords_do_not_lock_the_owner_out_from_another_address() {
    let app = TestApp::builder().config(trust_localhost).spawn().await;
    let ws = app.workspace(Plan::Pro).await;
    app.user(&ws, "ada@example.com", Role::Admin).await;
    let mut statuses = vec![];
    for _ in 0..7 {
        statuses.push(login_as(&app, "ada@example.com", "guess", "203.0.113.7").await.status().as_u16());
    }
    assert_eq!(statuses, vec![401, 401, 401, 401, 401, 429, 429]);
    // The attacker's address stays throttled even with the right password…
    let res = login_as(&app, "ada@example.com", PASSWORD, "203.0.113.7").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // …while the owner, elsewhere, signs in.
    let res = login_as(&app, "ada@example.com", PASSWORD, "198.51.100.2").await;
    assert_eq!(res.status(), StatusCode::OK);
    // And a wrong guess by the owner is a plain 401, not a lockout.
    let res = login_as(&app, "ada@example.com", "typo", "198.51.100.2").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_trying_many_emails_is_throttled_after_twenty() {
    let app = TestApp::builder().config(trust_localhost).spawn().await;
    let mut statuses = vec![];
    for i in 0..21 {
        statuses.push(login_as(&app, &format!("u{i}@example.com"), "guess", "203.0.113.9").await.status().as_u16());
    }
    assert!(statuses[..20].iter().all(|&s| s == 401), "{statuses:?}");
    assert_eq!(statuses[20], 429);
    let res = login_as(&app, "u0@example.com", "guess", "203.0.113.10").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "another address is not affected");
}

// ---------------------------------------------------------------------------
// Slow clients and connection floods.

/// Read until the server closes the connection (or `secs` pass): what it sent.
async fn read_until_closed(sock: &mut tokio::net::TcpStream, secs: u64) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(secs), async {
        let mut buf = [0u8; 1024];
        loop {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| got)
}

/// A connection from `local` (any 127.x.y.z: the loopback net is all ours).
async fn connect_from(local: &str, to: std::net::SocketAddr) -> tokio::net::TcpStream {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(format!("{local}:0").parse().unwrap()).unwrap();
    sock.connect(to).await.unwrap()
}

/// Waits (at most 10 s) until the server holds exactly `n` client connections.
async fn until_open_connections(app: &TestApp, n: u64) {
    eventually(10, || async { (app.open_connections() == n).then_some(()) }).await;
}

/// One connection to `app` from each address of `from`, once the server has
/// accepted them all (so that the next one meets the caps).
async fn held_connections(app: &TestApp, from: &[impl AsRef<str>]) -> Vec<tokio::net::TcpStream> {
    let mut held = vec![];
    for local in from {
        held.push(connect_from(local.as_ref(), app.addr).await);
    }
    until_open_connections(app, from.len() as u64).await;
    held
}

async fn healthz_from(local: &str, to: std::net::SocketAddr) -> String {
    let mut sock = connect_from(local, to).await;
    sock.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let got = read_until_closed(&mut sock, 10).await.expect("an answer");
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_is_closed_after_the_header_timeout() {
    let app = TestApp::builder().config(|c| c.header_read_timeout_secs = 1).spawn().await;
    let mut sock = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    sock.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = Instant::now();
    assert!(read_until_closed(&mut sock, 20).await.is_some(), "still open after 20 s");
    assert!(started.elapsed() >= Duration::from_millis(900), "closed before the timeout");
    // An idle keep-alive connection goes the same way.
    let mut sock = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    sock.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let got = read_until_closed(&mut sock, 20).await.expect("idle connection still open after 20 s");
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    // The server still serves.
    assert!(healthz_from("127.0.0.1", app.addr).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_per_ip_cap_are_refused_while_another_ip_is_served() {
    let app = TestApp::builder().config(|c| c.max_connections_per_ip = 3).spawn().await;
    let mut held = held_connections(&app, &["127.0.0.1"; 3]).await;
    let mut extra = connect_from("127.0.0.1", app.addr).await;
    let got = read_until_closed(&mut extra, 10).await.expect("the connection over the cap is closed");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.to_ascii_lowercase().contains("retry-after: 1"), "{text}");
    assert!(healthz_from("127.0.0.2", app.addr).await.starts_with("HTTP/1.1 200"), "another address is served");
    // A slot freed is a slot again.
    drop(held.pop());
    until_open_connections(&app, 2).await;
    assert!(healthz_from("127.0.0.1", app.addr).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_connection_cap_refuses_the_newest_and_keeps_accepting() {
    let app = TestApp::builder().config(|c| c.max_connections = 4).spawn().await;
    let from: Vec<String> = (1..=4).map(|i| format!("127.0.1.{i}")).collect();
    let mut held = held_connections(&app, &from).await;
    for _ in 0..3 {
        let mut extra = connect_from("127.0.2.1", app.addr).await;
        let got = read_until_closed(&mut extra, 10).await.expect("refused at once");
        assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 503"));
    }
    assert!(app.connections_refused() >= 3);
    held.clear();
    until_open_connections(&app, 0).await;
    assert!(healthz_from("127.0.2.1", app.addr).await.starts_with("HTTP/1.1 200"));
}

// ---------------------------------------------------------------------------
// Input details.

#[tokio::test]
async fn an_unknown_field_is_named_once_and_a_duplicate_key_is_refused() {
    let AppWithAdmin { app: _app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    let (s, v) = admin.post(&format!("/api/workspaces/{ws}/api-keys"), json!({ "name": "a", "zz": 1 })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "zz", "{v}");
    assert_eq!(v["errors"][0]["code"], "unknown_field");
    let res = admin
        .request(reqwest::Method::POST, &format!("/api/workspaces/{ws}/api-keys"))
        .header("content-type", "application/json")
        .body(r#"{"name":"harmless","name":"other"}"#)
        .send()
        .await
        .unwrap();
    let (s, v) = body(res).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(
        (v["errors"][0]["field"].as_str(), v["errors"][0]["code"].as_str()),
        (Some("name"), Some("duplicate_key"))
    );
    let (_, keys) = admin.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    assert!(!keys.to_string().contains("harmless"), "nothing was created: {keys}");
}

#[tokio::test]
async fn two_authorization_headers_are_refused() {
    let AppWithKey { app, key: NewKey { secret, .. }, .. } = TestApp::builder().with_key().spawn().await;
    let res = app
        .http
        .get(app.url("/v1/me"))
        .header("authorization", format!("Bearer {secret}"))
        .header("authorization", "Bearer ue_live_somebodyelse")
        .send()
        .await
        .unwrap();
    let (s, v) = body(res).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["code"], "invalid_api_key");
    assert_eq!(app.v1_get("/v1/me", &secret).await.0, StatusCode::OK, "one header still works");
}

#[tokio::test]
async fn key_names_with_bidi_overrides_or_zero_width_characters_are_refused() {
    let AppWithAdmin { app: _app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    for name in ["prod\u{202E}yek", "prod\u{200B}", "\u{FEFF}prod", "a\u{2066}b"] {
        let (s, v) = admin.post(&format!("/api/workspaces/{ws}/api-keys"), json!({ "name": name })).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}: {v}");
        assert_eq!(v["errors"][0]["field"], "name");
        assert_eq!(v["errors"][0]["code"], "invalid_characters");
    }
}

#[tokio::test]
async fn the_audit_log_refuses_an_unknown_cursor() {
    let AppWithAdmin { app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    admin.new_key(&ws, "one").await;
    let (s, page) = admin.get(&format!("/api/workspaces/{ws}/audit-log?limit=1")).await;
    assert_eq!(s, StatusCode::OK);
    let id = page["data"][0]["id"].as_str().unwrap().to_string();
    let (s, _) = admin.get(&format!("/api/workspaces/{ws}/audit-log?starting_after={id}")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = admin.get(&format!("/api/workspaces/{ws}/audit-log?starting_after=nope")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["code"], "unknown_cursor");
    // Another workspace's entry is unknown here too.
    let Admin { workspace_id: ws2, admin: admin2 } = app.add_admin(Plan::Pro).await;
    let (s, _) = admin2.get(&format!("/api/workspaces/{ws2}/audit-log?starting_after={id}")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_dir_and_database_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("new").join("data");
    let loc = keyward::store::StoreLocation::resolve(&dir, None).unwrap();
    let store = keyward::store::Store::open(&loc).await.unwrap();
    store.close().await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("keyward.db")), 0o600);
}

// ---------------------------------------------------------------------------
// Redis blips.

/// A node with a key, on Redis reached through a proxy the test can cut:
/// (proxy, node, the key's secret).
async fn on_cuttable_redis() -> (TcpProxy, TestApp, String) {
    let proxy = redis_proxy().await;
    let AppWithKey { app, key: NewKey { secret: key, .. }, .. } =
        TestApp::builder().redis_via(&proxy).with_key().spawn().await;
    (proxy, app, key)
}

/// 200s among `n` sequential `GET /v1/me`.
async fn successes(app: &TestApp, key: &str, n: usize) -> usize {
    let mut ok = 0;
    for _ in 0..n {
        let (s, _) = app.v1_get("/v1/me", key).await;
        assert!(s == StatusCode::OK || s == StatusCode::TOO_MANY_REQUESTS, "{s}");
        ok += usize::from(s == StatusCode::OK);
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis (KEYWARD_TEST_REDIS_URL)"]
async fn after_a_one_second_redis_blip_a_300_per_minute_key_gets_exactly_300() {
    let (proxy, app, key) = on_cuttable_redis().await;
    assert_eq!(successes(&app, &key, 1).await, 1);
    assert!(app.redis_stats().unwrap().up);

    // The interruption itself lasts a second (nothing is waited for here).
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.restore();
    // Redis answers again: the node is (or goes at once) back on the shared log.
    eventually(10, || async { app.redis_stats().unwrap().up.then_some(()) }).await;
    let before = app.redis_stats().unwrap();
    let got = successes(&app, &key, 399).await;
    let after = app.redis_stats().unwrap();
    assert_eq!(got, 299, "exactly 300 in the minute ({before:?} → {after:?})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis (KEYWARD_TEST_REDIS_URL)"]
async fn a_known_dead_redis_costs_requests_nothing_and_is_left_as_soon_as_it_answers() {
    let (proxy, app, key) = on_cuttable_redis().await;
    proxy.cut();
    // Noticed without any request (the watcher PINGs).
    eventually(10, || async { (!app.redis_stats().unwrap().up).then_some(()) }).await;
    let before = app.redis_stats().unwrap();
    let started = Instant::now();
    assert_eq!(successes(&app, &key, 50).await, 50);
    let after = app.redis_stats().unwrap();
    assert!(after.fallback_decisions >= before.fallback_decisions + 50, "{after:?}");
    let pings = (started.elapsed().as_millis() / 200 + 2) as u64 * 2;
    assert!(after.errors - before.errors <= pings, "requests did not call Redis: {before:?} → {after:?}");
    proxy.restore();
    eventually(10, || async { app.redis_stats().unwrap().up.then_some(()) }).await;
    let res = app.v1(reqwest::Method::GET, "/v1/me", &key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let stats = app.redis_stats().unwrap();
    assert_eq!(stats.fallback_decisions, after.fallback_decisions, "decided on Redis again");
}
