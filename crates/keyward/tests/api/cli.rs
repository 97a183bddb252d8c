//! The operator CLI (SPEC §8), its error paths, and the binary's lifecycle.
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;

fn json_of(out: &str) -> Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// A temp dir with a new, empty keyward store (admin commands never create
/// one: only `serve` does, as here through the library).
async fn init_store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let loc = keyward::store::StoreLocation::resolve(dir.path(), None).unwrap();
    keyward::store::Store::open(&loc).await.unwrap().close().await;
    dir
}

/// `keyward admin --data-dir D user create --email EMAIL --password-stdin
/// EXTRA...` with `password` written to its stdin: how it ended.
fn create_user_with_password_on_stdin(
    d: &std::path::Path,
    email: &str,
    extra: &[&str],
    password: &[u8],
) -> std::process::Output {
    let mut child = keyward_cmd()
        .args(["admin", "--data-dir"])
        .arg(d)
        .args(["user", "create", "--email", email, "--password-stdin"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(password).unwrap();
    child.wait_with_output().unwrap()
}

/// Everything the CLI can change, as one comparable value.
async fn snapshot(app_dir: &std::path::Path) -> String {
    let loc = keyward::store::StoreLocation::resolve(app_dir, None).unwrap();
    let store = keyward::store::Store::open(&loc).await.unwrap();
    let mut s = format!("workspaces={}\n", store.count_workspaces().await.unwrap());
    for email in ["ada@example.com", "bob@example.com", "new@example.com"] {
        if let Some(u) = store.user_by_email(email).await.unwrap() {
            s.push_str(&format!("user {email} {}\n", u.id));
            for m in store.memberships_of(&u.id).await.unwrap() {
                s.push_str(&format!(
                    "  {} {:?} {:?} {:?}\n",
                    m.workspace.id, m.workspace.plan, m.workspace.rpm_override, m.role
                ));
                s.push_str(&format!("  keys {:?}\n", store.list_keys(&m.workspace.id).await.unwrap()));
            }
        }
    }
    store.close().await;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_user_and_member_flows_work_with_json() {
    let dir = init_store().await;
    let d = dir.path();
    let (ok, out, err) = admin_cli(d, &["workspace", "create", "--name", "Acme", "--plan", "Starter", "--json"]);
    assert!(ok, "{err}");
    let ws = json_of(&out)["id"].as_str().unwrap().to_string();
    assert!(ws.starts_with("ws_"));

    let (ok, out, _) = admin_cli(d, &["user", "create", "--email", "Ada@Example.com", "--json"]);
    assert!(ok);
    let v = json_of(&out);
    assert_eq!(v["email"], "ada@example.com");
    let password = v["password"].as_str().unwrap().to_string();
    assert!(password.len() >= 12);

    let (ok, out, _) = admin_cli(d, &["user", "create", "--email", "bob@example.com"]);
    assert!(ok);
    assert!(out.lines().any(|l| l.starts_with("password: ")), "{out}");

    let out = create_user_with_password_on_stdin(d, "new@example.com", &["--json"], b"a long enough password\n");
    assert!(out.status.success());
    assert!(json_of(&String::from_utf8_lossy(&out.stdout)).get("password").is_none(), "no password echoed");

    let (ok, out, _) =
        admin_cli(d, &["member", "add", "--workspace", &ws, "--email", "ada@example.com", "--role", "admin", "--json"]);
    assert!(ok);
    assert_eq!(json_of(&out)["role"], "admin");
    assert!(admin_cli(d, &["workspace", "set-plan", &ws, "pro"]).0);
    assert!(admin_cli(d, &["workspace", "set-rate-limit", &ws, "5000"]).0);

    // The new admin can sign in with the generated password and sees the plan.
    let app = TestApp::builder().config(|c| c.store.data_dir = d.to_path_buf()).spawn().await;
    let s = app.login("ada@example.com", &password).await;
    let (_, me) = s.get("/api/session").await;
    assert_eq!(me["workspaces"][0]["plan"], "pro");
    let NewKey { secret, .. } = s.new_key(&ws, "cli test").await;
    let (_, v) = app.v1_get("/v1/me", &secret).await;
    assert_eq!(v["rate_limit"]["requests_per_minute"], 5000);
    let res = app.v1(reqwest::Method::GET, "/v1/me", &secret).send().await.unwrap();
    assert_eq!(res.headers()["ratelimit-policy"], "\"custom\";q=5000;w=60");

    // --clear returns to the plan's number, on the running server's next request.
    let (ok, _, err) = admin_cli(d, &["workspace", "set-rate-limit", &ws, "--clear"]);
    assert!(ok, "{err}");
    let (_, v) = app.v1_get("/v1/me", &secret).await;
    assert_eq!(v["rate_limit"]["requests_per_minute"], 300);

    // Ada is the only admin: support makes Bob one before removing her.
    assert!(admin_cli(d, &["member", "add", "--workspace", &ws, "--email", "bob@example.com", "--role", "ADMIN"]).0);
    let (ok, out, err) =
        admin_cli(d, &["member", "remove", "--workspace", &ws, "--email", "ada@example.com", "--json"]);
    assert!(ok, "{out} {err}");
    assert_eq!(s.get(&format!("/api/workspaces/{ws}/api-keys")).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cli_error_exits_non_zero_with_one_line_and_changes_nothing() {
    let dir = init_store().await;
    let d = dir.path();
    let (_, out, _) = admin_cli(d, &["workspace", "create", "--name", "Acme", "--plan", "pro", "--json"]);
    let ws = json_of(&out)["id"].as_str().unwrap().to_string();
    let out = create_user_with_password_on_stdin(d, "ada@example.com", &[], b"long enough password");
    assert!(out.status.success());
    assert!(admin_cli(d, &["member", "add", "--workspace", &ws, "--email", "ada@example.com", "--role", "admin"]).0);
    let before = snapshot(d).await;

    let cases: Vec<Vec<&str>> = vec![
        vec!["workspace", "create", "--name", "X", "--plan", "gold"],
        vec!["workspace", "create", "--name", "   ", "--plan", "pro"],
        vec!["workspace", "set-plan", &ws, "platinum"],
        vec!["workspace", "set-plan", "ws_nope", "pro"],
        vec!["workspace", "set-rate-limit", "ws_nope", "100"],
        vec!["workspace", "set-rate-limit", &ws, "0"],
        vec!["workspace", "set-rate-limit", &ws, "-5"],
        vec!["workspace", "set-rate-limit", &ws, "99999999999"],
        vec!["workspace", "list", "--plan", "gold"],
        vec!["workspace", "show", "ws_nope"],
        vec!["user", "show", "nobody@example.com"],
        vec!["member", "list", "--workspace", "ws_nope"],
        vec!["member", "remove", "--workspace", &ws, "--email", "ada@example.com"],
        vec!["member", "add", "--workspace", &ws, "--email", "ada@example.com", "--role", "member"],
        vec!["key", "show", "key_nope"],
        vec!["key", "revoke", "ue_live_not-a-key"],
        vec!["key", "revoke", "whatever"],
        vec!["user", "create", "--email", "ADA@example.com"],
        vec!["user", "create", "--email", "not-an-email"],
        vec!["member", "add", "--workspace", &ws, "--email", "ada@example.com", "--role", "owner"],
        vec!["member", "add", "--workspace", "ws_nope", "--email", "ada@example.com", "--role", "admin"],
        vec!["member", "add", "--workspace", &ws, "--email", "nobody@example.com", "--role", "admin"],
        vec!["member", "remove", "--workspace", &ws, "--email", "nobody@example.com"],
        vec!["key", "list", "--workspace", "ws_nope"],
        vec!["key", "revoke", "key_nope"],
        vec!["key", "allow-ips", "key_nope", "10.0.0.0/8"],
        vec!["key", "allow-ips", "key_nope", "10.0.0.1/8"],
    ];
    for args in &cases {
        let (ok, _out, err) = admin_cli(d, args);
        assert!(!ok, "{args:?} should fail");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: one clear line, got {err:?}");
        // With --json the error is JSON on stderr, and stdout stays empty.
        let mut with_json = args.clone();
        with_json.push("--json");
        let (ok, out, err) = admin_cli(d, &with_json);
        assert!(!ok && out.trim().is_empty(), "{with_json:?}: {out}");
        let v = json_of(&err);
        assert!(v["error"]["code"].as_str().is_some_and(|c| !c.is_empty()), "{with_json:?}: {err}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{with_json:?}: {err}");
    }
    // Every bad rpm gets the same message; plans are listed when one is unknown.
    let rpm_errors: Vec<String> = ["0", "-5", "99999999999", "ten"]
        .iter()
        .map(|r| admin_cli(d, &["workspace", "set-rate-limit", &ws, r]).2.replace(&format!("{r:?}"), "R"))
        .collect();
    assert!(rpm_errors.iter().all(|e| e == &rpm_errors[0] && e.contains("from 1 to 10000000")), "{rpm_errors:?}");
    let (_, _, err) = admin_cli(d, &["workspace", "set-plan", &ws, "Gold"]);
    assert!(err.contains("free, starter, pro, enterprise"), "{err}");
    let (_, _, err) = admin_cli(d, &["member", "remove", "--workspace", &ws, "--email", "ada@example.com", "--json"]);
    assert_eq!(json_of(&err)["error"]["code"], "refused", "{err}");
    assert!(err.contains("last admin"), "{err}");
    // A too-short password from stdin.
    let out = create_user_with_password_on_stdin(d, "new@example.com", &[], b"short\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 8"));

    assert_eq!(snapshot(d).await, before, "failed commands changed nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_with_the_cli_while_the_server_runs_refuses_the_next_request() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { id, secret } } =
        TestApp::builder().with_key().spawn().await;
    assert_eq!(app.v1_get("/v1/me", &secret).await.0, StatusCode::OK);
    let (ok, out, _) = admin_cli(&app.data_dir(), &["key", "list", "--workspace", &ws, "--json"]);
    assert!(ok);
    let listed = json_of(&out);
    assert_eq!(listed["data"][0]["id"], id.as_str());
    assert!(!out.contains(&secret[8..40]));

    let (ok, out, err) = admin_cli(&app.data_dir(), &["key", "revoke", &id]);
    assert!(ok, "{err}");
    assert!(out.contains(&id));
    let (s, v) = app.v1_get("/v1/me", &secret).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("api_key_revoked")));
    let (_, log) = admin.get(&format!("/api/workspaces/{ws}/audit-log")).await;
    assert_eq!(log["data"][0]["actor"], "support");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_changes_from_the_cli_apply_on_the_next_request() {
    let AppWithKey { app, workspace_id: ws, key: NewKey { secret, .. }, .. } =
        TestApp::builder().with_key().spawn().await;
    assert_eq!(app.v1_get("/v1/me", &secret).await.0, StatusCode::OK);
    assert!(admin_cli(&app.data_dir(), &["workspace", "set-plan", &ws, "free"]).0);
    assert_eq!(app.v1_get("/v1/me", &secret).await.1["code"], "plan_required");
    assert!(admin_cli(&app.data_dir(), &["workspace", "set-plan", &ws, "starter"]).0);
    assert_eq!(app.v1_get("/v1/me", &secret).await.1["rate_limit"]["requests_per_minute"], 60);
}

/// Start the real binary; returns the child, what it printed up to the
/// listening line, its base URL, and its stderr.
pub(crate) fn start_binary(
    dir: &std::path::Path,
    extra: &[&str],
) -> (std::process::Child, String, String, BufReader<std::process::ChildStderr>) {
    start_binary_with_env(dir, extra, &[])
}

/// [`start_binary`] with extra environment variables (and without a
/// `MIMALLOC_ALLOW_THP` of the caller's, unless given here).
fn start_binary_with_env(
    dir: &std::path::Path,
    extra: &[&str],
    envs: &[(&str, &str)],
) -> (std::process::Child, String, String, BufReader<std::process::ChildStderr>) {
    let mut child = keyward_cmd()
        .env_remove("MIMALLOC_ALLOW_THP")
        .env("RUST_LOG", "info")
        .envs(envs.iter().copied())
        .arg("serve")
        .arg("--data-dir")
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    let base = loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "server exited early: {printed}");
        printed.push_str(&line);
        if let Some(rest) = line.strip_prefix("keyward listening on ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = stdout.read_to_string(&mut sink);
    });
    let stderr = BufReader::new(child.stderr.take().unwrap());
    (child, printed, base, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_prints_credentials_that_sign_in_and_says_so_when_it_exists() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, printed, base, _err) = start_binary(dir.path(), &["--demo"]);
    let email = printed.lines().find_map(|l| l.strip_prefix("email: ")).unwrap().to_string();
    let password = printed.lines().find_map(|l| l.strip_prefix("password: ")).unwrap().to_string();
    let res = reqwest::Client::new()
        .post(format!("{base}/api/session"))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["workspaces"][0]["name"], "Demo");
    assert_eq!(v["workspaces"][0]["plan"], "pro");
    assert_eq!(v["workspaces"][0]["role"], "admin");
    terminate(&mut child);
    assert!(child.wait().unwrap().success());

    let (mut child, printed, _base, _err) = start_binary(dir.path(), &["--demo"]);
    assert!(printed.contains("already exists"), "{printed}");
    assert!(printed.contains(&format!("email: {email}")));
    assert!(!printed.contains("password:"), "{printed}");
    terminate(&mut child);
    assert!(child.wait().unwrap().success());
}

/// `THP_enabled` of a process, from `/proc/<pid>/status`.
#[cfg(target_os = "linux")]
fn thp_enabled(pid: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find_map(|l| l.strip_prefix("THP_enabled:"));
    line.expect("the kernel reports THP_enabled").trim().to_string()
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_without_transparent_huge_pages_unless_mimalloc_is_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, ..) = start_binary(dir.path(), &[]);
    assert_eq!(thp_enabled(&child.id().to_string()), "0");
    terminate(&mut child);
    assert!(child.wait().unwrap().success());

    // MIMALLOC_ALLOW_THP set: the process keeps what it inherited.
    let own = thp_enabled("self");
    let (mut child, ..) = start_binary_with_env(dir.path(), &[], &[("MIMALLOC_ALLOW_THP", "1")]);
    assert_eq!(thp_enabled(&child.id().to_string()), own);
    terminate(&mut child);
    assert!(child.wait().unwrap().success());
}

fn terminate(child: &mut std::process::Child) {
    let ok = std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(ok.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests_then_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _printed, base, mut stderr) = start_binary(dir.path(), &[]);
    let addr = base.trim_start_matches("http://").to_string();
    // A request whose body is still arriving is in flight.
    let body = br#"{"email":"nobody@example.com","password":"whatever-password"}"#;
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        conn,
        "POST /api/session HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    conn.write_all(&body[..10]).unwrap();
    conn.flush().unwrap();
    // Give the server the request's head before the signal: wait until it
    // answers a second request (the first connection is then surely read).
    let probe = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(probe.status(), StatusCode::OK);
    terminate(&mut child);
    // Wait (with a deadline) until the server says it is draining.
    let mut line = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !line.contains("shutdown signal received") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "server exited before draining");
        assert!(std::time::Instant::now() < deadline);
    }
    // The in-flight request still completes.
    conn.write_all(&body[10..]).unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_never_create_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("typo");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for d in [&missing, &empty] {
        for args in [
            vec!["workspace", "list"],
            vec!["workspace", "create", "--name", "X", "--plan", "pro"],
            vec!["key", "revoke", "key_x"],
        ] {
            let (ok, _, err) = admin_cli(d, &args);
            assert!(!ok, "{args:?}");
            assert!(err.contains(&format!("no keyward store at {}", d.join("keyward.db").display())), "{err}");
            let (ok, _, err) = admin_cli(d, &[args.as_slice(), &["--json"]].concat());
            assert!(!ok);
            assert_eq!(json_of(&err)["error"]["code"], "no_store", "{err}");
        }
    }
    assert!(!missing.exists(), "no data dir was created");
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "nothing was created in an empty dir");
}

/// PostgreSQL: a database without keyward's tables is no store either, and
/// the CLI does not run the migrations that would make one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL (KEYWARD_TEST_DATABASE_URL)"]
async fn admin_commands_never_create_a_store_on_postgres() {
    {
        use sqlx::{Connection, Row};
        let db = TestDb::create(&require_pg()).await;
        let out = keyward_cmd()
            .args(["admin", "--database-url", &db.url, "workspace", "list", "--json"])
            .env_remove("KEYWARD_DATABASE_URL")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(json_of(&err)["error"]["code"], "no_store", "{err}");
        assert!(json_of(&err)["error"]["message"].as_str().unwrap().starts_with("no keyward store at postgres://"));
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'")
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "no table was created");
        let _ = conn.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_goes_from_a_customers_email_to_their_keys_and_revokes_a_pasted_secret() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { id: key_id, secret } } =
        TestApp::builder().with_key().spawn().await;
    let NewKey { id: other_id, .. } = admin.new_key(&ws, "second key").await;
    assert_eq!(app.v1_get("/v1/me", &secret).await.0, StatusCode::OK);
    let email = admin.email.clone();

    // user show EMAIL → workspaces and roles (email in any case).
    let (ok, out, err) = app.cli(&["user", "show", &email.to_uppercase(), "--json"]);
    assert!(ok, "{err}");
    let v = json_of(&out);
    assert_eq!(v["email"], email.as_str());
    assert_eq!(
        v["workspaces"],
        serde_json::json!([{ "id": ws, "name": "Acme Research", "plan": "pro", "role": "admin" }])
    );
    let (ok, out, _) = app.cli(&["user", "show", &email]);
    assert!(ok && out.contains(&ws) && out.contains("admin"), "{out}");

    // workspace list / show, member list.
    let (ok, out, _) = app.cli(&["workspace", "list", "--plan", "PRO", "--json"]);
    assert!(ok);
    let listed = json_of(&out)["data"].as_array().unwrap().clone();
    let row = listed.iter().find(|w| w["id"] == ws.as_str()).expect("the workspace is listed");
    assert_eq!(
        (row["plan"].as_str(), row["active_keys"].as_i64(), row["members"].as_i64()),
        (Some("pro"), Some(2), Some(1))
    );
    let (_, out, _) = app.cli(&["workspace", "list", "--plan", "free", "--json"]);
    assert!(json_of(&out)["data"].as_array().unwrap().iter().all(|w| w["id"] != ws.as_str()));
    let (ok, out, _) = app.cli(&["workspace", "list"]);
    assert!(ok && out.lines().next().unwrap().starts_with("ID"), "{out}");
    app.cli(&["workspace", "set-rate-limit", &ws, "500"]);
    let (ok, out, _) = app.cli(&["workspace", "show", &ws, "--json"]);
    assert!(ok);
    let v = json_of(&out);
    assert_eq!(
        (v["plan"].as_str(), v["rpm_override"].as_u64(), v["requests_per_minute"].as_u64()),
        (Some("pro"), Some(500), Some(500))
    );
    assert_eq!((v["active_keys"].as_i64(), v["revoked_keys"].as_i64()), (Some(2), Some(0)));
    assert_eq!(v["members"][0]["email"], email.as_str());
    assert_eq!(v["members"][0]["role"], "admin");
    let (ok, out, _) = app.cli(&["workspace", "show", &ws]);
    assert!(ok && out.contains("500/min (custom)") && out.contains(&email), "{out}");
    let (ok, out, _) = app.cli(&["member", "list", "--workspace", &ws, "--json"]);
    assert!(ok);
    assert_eq!(json_of(&out)["data"][0]["role"], "admin");

    // key list has a header and the last use; key show one key.
    let (_, out, _) = app.cli(&["key", "list", "--workspace", &ws]);
    let header = out.lines().next().unwrap();
    assert!(header.starts_with("ID") && header.contains("LAST USED") && header.contains("STATUS"), "{out}");
    assert_eq!(out.lines().count(), 3, "{out}");
    let second = out.lines().find(|l| l.contains(&other_id)).unwrap();
    assert!(second.contains("never") && second.contains("active") && second.contains("second key"), "{out}");
    let (ok, out, _) = app.cli(&["key", "show", &key_id, "--json"]);
    assert!(ok);
    let v = json_of(&out);
    assert_eq!((v["id"].as_str(), v["workspace"]["id"].as_str()), (Some(key_id.as_str()), Some(ws.as_str())));
    assert_eq!(v["status"], "active");
    assert!(!out.contains(&secret[8..40]), "never the secret");

    // A pasted secret revokes its key, and is never echoed.
    let (ok, out, err) = app.cli(&["key", "revoke", &secret]);
    assert!(ok, "{err}");
    assert!(out.contains(&key_id) && !out.contains(&secret) && !err.contains(&secret), "{out}");
    let (s, v) = app.v1_get("/v1/me", &secret).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("api_key_revoked")));
    let (_, v) = admin.get(&format!("/api/workspaces/{ws}/api-keys/{other_id}")).await;
    assert_ne!(v["status"], "revoked", "only the pasted key");
    let (_, log) = admin.get(&format!("/api/workspaces/{ws}/audit-log")).await;
    assert_eq!(
        (log["data"][0]["action"].as_str(), log["data"][0]["actor"].as_str()),
        (Some("key.revoked"), Some("support"))
    );
    assert!(!log.to_string().contains(&secret[8..]), "the secret is not stored");
    // A valid secret of no key: not found, not echoed.
    let unknown = keyward_core::ApiKeySecret::generate();
    let (ok, out, err) = app.cli(&["key", "revoke", unknown.expose(), "--json"]);
    assert!(!ok && !err.contains(unknown.expose()) && !out.contains(unknown.expose()));
    assert_eq!(json_of(&err)["error"]["code"], "not_found");

    // A revoked key's allowlist is no longer changed (as on the page).
    let (ok, _, err) = app.cli(&["key", "allow-ips", &key_id, "10.0.0.0/8", "--json"]);
    assert!(!ok);
    assert_eq!(json_of(&err)["error"]["code"], "refused", "{err}");
    let v = json_of(&app.cli(&["key", "show", &key_id, "--json"]).1);
    assert_eq!(v["allowed_cidrs"], serde_json::json!([]));
    assert!(app.cli(&["key", "allow-ips", &other_id, "10.0.0.0/8"]).0, "an active key's still is");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_admin_of_a_workspace_is_neither_removed_nor_demoted() {
    let AppWithAdmin { app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    let email = admin.email.clone();
    for args in [
        vec!["member", "remove", "--workspace", ws.as_str(), "--email", email.as_str()],
        vec!["member", "add", "--workspace", ws.as_str(), "--email", email.as_str(), "--role", "member"],
    ] {
        let (ok, _, err) = app.cli(&args);
        assert!(!ok, "{args:?}");
        assert!(err.contains("last admin"), "{err}");
    }
    assert_eq!(admin.get(&format!("/api/workspaces/{ws}/api-keys")).await.0, StatusCode::OK, "still admin");
    // A superadmin counts as an admin; then the first may go.
    let _second = app.user(&ws, "second@example.com", keyward_core::Role::Superadmin).await;
    assert!(app.cli(&["member", "add", "--workspace", &ws, "--email", &email, "--role", "member"]).0);
    let (ok, _, err) = app.cli(&["member", "remove", "--workspace", &ws, "--email", "second@example.com"]);
    assert!(!ok && err.contains("last admin"), "{err}");
    assert!(app.cli(&["member", "remove", "--workspace", &ws, "--email", &email]).0, "a member may go");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_a_busy_address_exits_non_zero_naming_it_and_creates_nothing() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo-data");
    let out = keyward_cmd()
        .args(["serve", "--demo", "--listen", &addr, "--data-dir"])
        .arg(&data)
        .env_remove("KEYWARD_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&addr) && stderr.contains("--listen"), "{stderr}");
    assert!(!stdout.contains("password"), "no demo password for a store nobody can reach: {stdout}");
    assert!(!data.exists(), "no data dir was created");
    drop(busy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_log_is_at_debug_and_never_holds_a_secret_or_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _printed, base, stderr) =
        start_binary_with_env(dir.path(), &[], &[("RUST_LOG", "info,keyward::http=debug")]);
    let secret = keyward_core::ApiKeySecret::generate();
    let res = reqwest::Client::new()
        .get(format!("{base}/v1/me?token=hunter2"))
        .bearer_auth(secret.expose())
        .header("Cookie", "kw_session=cookie-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    terminate(&mut child);
    assert!(child.wait().unwrap().success());
    let mut log = String::new();
    let mut stderr = stderr;
    stderr.read_to_string(&mut log).unwrap();
    let log = strip_ansi(&log);
    let served = log.lines().find(|l| l.contains("served") && l.contains("/v1/me")).unwrap_or_else(|| panic!("{log}"));
    assert!(served.contains("status=401"), "{served}");
    for leak in [secret.expose(), "hunter2", "cookie-secret", "Bearer"] {
        assert!(!log.contains(leak), "{leak} in the log: {log}");
    }
}

/// The text of a log without its terminal colour codes.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
