//! Webhooks (SPEC §9) against a real local receiver: signatures checked by
//! an independent HMAC-SHA256, bodies compared with the resource's GET,
//! retries, 410, revocation, isolation, limits, bad targets, restarts after
//! SIGKILL, and two PostgreSQL nodes delivering each event exactly once.
use crate::helpers::{body, eventually, Admin, AdminWithKey, AppWithKey, NewKey, TestApp};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keyward_core::Plan;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const MASTER_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[path = "../common/webhook_receiver.rs"]
mod webhook_receiver;
use webhook_receiver::{verify, Received, Receiver};

impl Receiver {
    /// Wait until `n` POSTs arrived at `path`.
    async fn wait_for(&self, path: &str, n: usize, secs: u64) -> Vec<Received> {
        eventually(secs, || async {
            let got: Vec<_> = self.got().into_iter().filter(|r| r.path == path).collect();
            (got.len() >= n).then_some(got)
        })
        .await
    }
}

fn open(c: &mut keyward::config::ServeArgs) {
    c.webhooks_allow_private = true;
    c.webhooks_allow_http = true;
    c.webhooks_retry_schedule = "1s,1s".parse().unwrap();
    c.webhooks_secret_key = Some(MASTER_KEY.into());
}

async fn hooks_app() -> TestApp {
    TestApp::builder().config(open).spawn().await
}

async fn subscribe(app: &TestApp, key: &str, target: &str, event: &str) -> Value {
    let res = app
        .v1(Method::POST, "/v1/hooks", key)
        .json(&json!({ "target_url": target, "event": event }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let (s, v) = body(res).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

async fn admin_hooks(admin: &crate::helpers::Session, ws: &str) -> Vec<Value> {
    let (s, v) = admin.get(&format!("/api/workspaces/{ws}/hooks")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["data"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_post_with_the_resource_as_get_returns_it_arrives_within_a_second() {
    let AppWithKey { app, key: NewKey { secret: key, .. }, .. } =
        TestApp::builder().config(open).with_key().spawn().await;
    let rx = Receiver::start().await;
    let study_hook = subscribe(&app, &key, &rx.url("/studies"), "study.created").await;
    let trn_hook = subscribe(&app, &key, &rx.url("/transcripts"), "transcript.created").await;
    let secret = study_hook["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_") && STANDARD.decode(&secret[6..]).unwrap().len() >= 24, "{secret}");
    assert!(study_hook["id"].as_str().unwrap().starts_with("hook_"));
    assert_eq!(study_hook["status"], "active");
    assert_eq!(study_hook["event"], "study.created");
    assert_eq!(study_hook["target_url"], rx.url("/studies"));
    assert!(study_hook["created_at"].is_string());

    let started = std::time::Instant::now();
    let (s, study) = app.v1_post("/v1/studies", &key, json!({ "name": "Checkout" })).await;
    assert_eq!(s, StatusCode::CREATED);
    let got = rx.wait_for("/studies", 1, 5).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(1), "took {:?}", started.elapsed());
    verify(secret, &got[0]);
    let event = got[0].json();
    assert!(event["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(event["id"], got[0].id);
    assert_eq!(event["type"], "study.created");
    assert!(event["created_at"].is_string());
    let (_, fetched) = app.v1_get(&format!("/v1/studies/{}", study["id"].as_str().unwrap()), &key).await;
    assert_eq!(event["data"], fetched);

    let sid = study["id"].as_str().unwrap();
    let t = json!({ "participant": { "name": "Zoë" }, "segments": [{ "speaker": "A", "start_ms": 0, "end_ms": 5, "text": "hi" }] });
    let (s, trn) = app.v1_post(&format!("/v1/studies/{sid}/transcripts"), &key, t).await;
    assert_eq!(s, StatusCode::CREATED, "{trn}");
    let got = rx.wait_for("/transcripts", 1, 5).await;
    verify(trn_hook["secret"].as_str().unwrap(), &got[0]);
    let (_, fetched) = app.v1_get(&format!("/v1/transcripts/{}", trn["id"].as_str().unwrap()), &key).await;
    assert_eq!(got[0].json()["data"], fetched);
    assert_eq!(got[0].json()["type"], "transcript.created");

    // Listed without secrets, in the usual list shape.
    let (s, list) = app.v1_get("/v1/hooks", &key).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["has_more"], false);
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains("whsec_"));
    assert_eq!(list["data"][0]["id"], trn_hook["id"]);
    // Unsubscribing stops deliveries and answers 204; twice is 404.
    let path = format!("/v1/hooks/{}", study_hook["id"].as_str().unwrap());
    assert_eq!(app.v1(Method::DELETE, &path, &key).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(app.v1(Method::DELETE, &path, &key).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_started_with_webhooks_deliver_false_writes_events_that_a_delivering_node_sends_once() {
    let api = TestApp::builder()
        .config(|c| {
            open(c);
            c.webhooks_deliver = false;
        })
        .spawn()
        .await;
    let rx = Receiver::start().await;
    let AdminWithKey { key: NewKey { secret: key, .. }, .. } = api.add_admin_with_key(Plan::Pro).await;
    let hook = subscribe(&api, &key, &rx.url("/elsewhere"), "study.created").await;
    let (s, _) = api.v1_post("/v1/studies", &key, json!({ "name": "Kept" })).await;
    assert_eq!(s, StatusCode::CREATED);
    // The event waits in the store: this node has no worker to fan it out.
    assert_eq!(api.store.webhook_gauges().await.unwrap().0, 1);

    let worker = TestApp::builder().node_of(&api).config(|c| c.webhooks_deliver = true).spawn().await;
    let got = rx.wait_for("/elsewhere", 1, 5).await;
    verify(hook["secret"].as_str().unwrap(), &got[0]);
    eventually(5, || async { (worker.store.webhook_gauges().await.unwrap().0 == 0).then_some(()) }).await;
    assert_eq!(rx.got().len(), 1, "delivered once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_with_the_same_webhook_id_and_shown_to_admins_and_410_deletes_the_hook() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { secret: key, .. } } =
        TestApp::builder().config(open).with_key().spawn().await;
    let rx = Receiver::start().await;
    let hook = subscribe(&app, &key, &rx.url("/flaky"), "study.created").await;
    rx.answer(&[500, 503]);
    app.v1(Method::POST, "/v1/studies", &key).json(&json!({ "name": "A" })).send().await.unwrap();
    let got = rx.wait_for("/flaky", 3, 10).await;
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.id == got[0].id && r.body == got[0].body), "{got:?}");
    for r in &got {
        verify(hook["secret"].as_str().unwrap(), r);
    }
    // The last (third) attempt succeeded: the hook is healthy again.
    let listed = eventually(5, || async {
        let l = admin_hooks(&admin, &ws).await;
        (l[0]["last_attempt"]["status_code"] == 200).then_some(l)
    })
    .await;
    assert_eq!(listed[0]["failing_since"], Value::Null);
    assert_eq!(listed[0]["key"]["name"], "integration");

    // A receiver that keeps failing: the page shows the status and since when.
    rx.answer(&[500, 500, 500]);
    app.v1(Method::POST, "/v1/studies", &key).json(&json!({ "name": "B" })).send().await.unwrap();
    let listed = eventually(10, || async {
        let l = admin_hooks(&admin, &ws).await;
        (l[0]["last_attempt"]["status_code"] == 500 && l[0]["failing_since"].is_string()).then_some(l)
    })
    .await;
    assert_eq!(listed[0]["status"], "active");

    // 410 Gone deletes the hook at once.
    let gone = subscribe(&app, &key, &rx.url("/gone"), "study.created").await;
    rx.answer(&[]);
    let rx_gone = Receiver::start().await;
    let gone2 = subscribe(&app, &key, &rx_gone.url("/gone"), "study.created").await;
    rx_gone.answer(&[410]);
    app.v1(Method::POST, "/v1/studies", &key).json(&json!({ "name": "C" })).send().await.unwrap();
    rx_gone.wait_for("/gone", 1, 5).await;
    eventually(5, || async {
        let l = admin_hooks(&admin, &ws).await;
        (!l.iter().any(|h| h["id"] == gone2["id"])).then_some(())
    })
    .await;
    assert!(admin_hooks(&admin, &ws).await.iter().any(|h| h["id"] == gone["id"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_whose_last_five_events_were_given_up_is_disabled_and_admins_are_told() {
    let app = TestApp::builder()
        .config(|c| {
            open(c);
            c.webhooks_retry_schedule = "".parse().unwrap();
        })
        .spawn()
        .await;
    let rx = Receiver::start().await;
    let AdminWithKey { workspace_id: ws, admin, key: NewKey { secret: key, .. } } =
        app.add_admin_with_key(Plan::Pro).await;
    subscribe(&app, &key, &rx.url("/down"), "study.created").await;
    rx.answer(&[500; 5]);
    for i in 0..5 {
        app.v1(Method::POST, "/v1/studies", &key).json(&json!({ "name": format!("S{i}") })).send().await.unwrap();
    }
    rx.wait_for("/down", 5, 10).await;
    let l = eventually(5, || async {
        let l = admin_hooks(&admin, &ws).await;
        (l[0]["status"] == "disabled").then_some(l)
    })
    .await;
    assert_eq!(l[0]["last_attempt"]["status_code"], 500);
    // The banner follows the commit that disabled the hook.
    let notes = eventually(5, || async {
        let (_, notes) = admin.get(&format!("/api/workspaces/{ws}/notifications")).await;
        notes.to_string().contains("hook.disabled").then_some(notes)
    })
    .await;
    assert!(notes.to_string().contains("could not be delivered"), "{notes}");
    let (_, list) = app.v1_get("/v1/hooks", &key).await;
    assert_eq!(list["data"][0]["status"], "disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_the_creating_key_disables_its_hooks_and_nothing_more_reaches_them() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { id: kid, secret: key } } =
        TestApp::builder().config(open).with_key().spawn().await;
    let rx = Receiver::start().await;
    let NewKey { secret: key2, .. } = admin.new_key(&ws, "second").await;
    let doomed = subscribe(&app, &key, &rx.url("/doomed"), "study.created").await;
    subscribe(&app, &key2, &rx.url("/alive"), "study.created").await;
    assert_eq!(admin.delete(&format!("/api/workspaces/{ws}/api-keys/{kid}")).await.0, StatusCode::NO_CONTENT);
    let l = admin_hooks(&admin, &ws).await;
    let d = l.iter().find(|h| h["id"] == doomed["id"]).unwrap();
    assert_eq!(d["status"], "disabled");
    app.v1(Method::POST, "/v1/studies", &key2).json(&json!({ "name": "after" })).send().await.unwrap();
    rx.wait_for("/alive", 1, 5).await;
    assert!(rx.got().iter().all(|r| r.path != "/doomed"));
}

#[tokio::test]
async fn another_workspaces_hooks_answer_404_everywhere() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { secret: key, .. } } =
        TestApp::builder().config(open).with_key().spawn().await;
    let AdminWithKey { workspace_id: ws2, admin: admin2, key: NewKey { secret: key2, .. } } =
        app.add_admin_with_key(Plan::Pro).await;
    let hook = subscribe(&app, &key, "http://127.0.0.1:9/x", "study.created").await;
    let id = hook["id"].as_str().unwrap();
    assert_eq!(
        app.v1(Method::DELETE, &format!("/v1/hooks/{id}"), &key2).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(admin2.delete(&format!("/api/workspaces/{ws2}/hooks/{id}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(admin2.get(&format!("/api/workspaces/{ws}/hooks")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(admin2.delete(&format!("/api/workspaces/{ws}/hooks/{id}")).await.0, StatusCode::NOT_FOUND);
    let (_, list2) = app.v1_get("/v1/hooks", &key2).await;
    assert_eq!(list2["data"], json!([]));
    assert!(admin_hooks(&admin2, &ws2).await.is_empty());
    // Only the workspace's admin deletes it.
    assert_eq!(admin.delete(&format!("/api/workspaces/{ws}/hooks/{id}")).await.0, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn the_101st_hook_is_refused_with_hook_limit_reached() {
    let app = hooks_app().await;
    let AdminWithKey { workspace_id: ws, admin, key: NewKey { secret: key, .. } } =
        app.add_admin_with_key(Plan::Enterprise).await;
    for i in 0..99 {
        subscribe(&app, &key, &format!("https://hooks.example.com/{i}"), "study.created").await;
    }
    let (s, _) = admin
        .post(
            &format!("/api/workspaces/{ws}/hooks"),
            json!({ "target_url": "https://hooks.example.com/admin", "event": "key.created" }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = app
        .v1_post("/v1/hooks", &key, json!({ "target_url": "https://hooks.example.com/x", "event": "study.created" }))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["code"], "hook_limit_reached");
    assert_eq!(admin_hooks(&admin, &ws).await.len(), 100);
}

#[tokio::test]
async fn bad_target_urls_and_events_are_each_refused_per_field_and_nothing_is_stored() {
    // Defaults: https only, private addresses refused.
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { secret: key, .. } } =
        TestApp::builder().config(|c| c.webhooks_secret_key = Some(MASTER_KEY.into())).with_key().spawn().await;
    let long = format!("https://hooks.example.com/{}", "a".repeat(2048));
    let study = |target: Value| json!({ "target_url": target, "event": "study.created" });
    let to_example = |event: &str| json!({ "target_url": "https://hooks.example.com/x", "event": event });
    let mut cases: Vec<(Value, &str, &str, &str)> = vec![
        (study(json!("http://hooks.example.com/x")), "target_url", "https_required", "validation_failed"),
        (study(json!("not a url")), "target_url", "invalid_url", "validation_failed"),
        (study(json!("/relative")), "target_url", "invalid_url", "validation_failed"),
        (study(json!("https://u:p@hooks.example.com/")), "target_url", "user_info_not_allowed", "validation_failed"),
        (study(json!(long)), "target_url", "too_long", "validation_failed"),
        (study(json!(5)), "target_url", "invalid_type", "validation_failed"),
        (json!({ "event": "study.created" }), "target_url", "required", "validation_failed"),
        (to_example("study.deleted"), "event", "invalid_event", "validation_failed"),
        (to_example("key.created"), "event", "invalid_event", "validation_failed"),
        (json!({ "target_url": "https://hooks.example.com/x" }), "event", "required", "validation_failed"),
        (
            json!({ "target_url": "https://hooks.example.com/x", "event": "study.created", "extra": 1 }),
            "extra",
            "unknown_field",
            "validation_failed",
        ),
    ];
    // Loopback, private, link-local and CGNAT targets, however spelled.
    for target in [
        "https://127.0.0.1/x",
        "https://2130706433/x",
        "https://0x7f.1/x",
        "https://[::1]/x",
        "https://[::ffff:10.0.0.1]/x",
        "https://169.254.169.254/latest",
        "https://100.64.0.1/",
        "https://192.168.0.10/",
    ] {
        cases.push((study(json!(target)), "target_url", "target_not_allowed", "target_not_allowed"));
    }
    for (input, field, code, top) in cases {
        let (s, v) = app.v1_post("/v1/hooks", &key, input.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{input}: {v}");
        assert_eq!(v["code"], top, "{input}: {v}");
        let errs = v["errors"].as_array().unwrap();
        assert!(errs.iter().any(|e| e["field"] == field && e["code"] == code), "{input}: {v}");
    }
    // Admins' key-event hooks: the same checks, and no /v1 events.
    let (s, v) = admin
        .post(
            &format!("/api/workspaces/{ws}/hooks"),
            json!({ "target_url": "https://10.1.2.3/", "event": "key.created" }),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("target_not_allowed")));
    let (s, v) = admin
        .post(
            &format!("/api/workspaces/{ws}/hooks"),
            json!({ "target_url": "https://hooks.example.com/", "event": "study.created" }),
        )
        .await;
    assert_eq!((s, v["errors"][0]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_event")));
    let (s, _) = body(
        app.v1(Method::POST, "/v1/hooks", &key)
            .body("{")
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, list) = app.v1_get("/v1/hooks", &key).await;
    assert_eq!(list["data"], json!([]));
    assert!(admin_hooks(&admin, &ws).await.is_empty());
    // CSRF is required.
    let res = admin
        .http
        .post(app.url(&format!("/api/workspaces/{ws}/hooks")))
        .header("cookie", &admin.cookie)
        .json(&json!({ "target_url": "https://hooks.example.com/", "event": "key.created" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_key_event_hook_receives_the_key_object_without_the_secret() {
    let app = hooks_app().await;
    let rx = Receiver::start().await;
    let Admin { workspace_id: ws, admin } = app.add_admin(Plan::Pro).await;
    let (s, created) = admin
        .post(&format!("/api/workspaces/{ws}/hooks"), json!({ "target_url": rx.url("/keys"), "event": "key.created" }))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    let (s, revoked_hook) = admin
        .post(
            &format!("/api/workspaces/{ws}/hooks"),
            json!({ "target_url": rx.url("/revoked"), "event": "key.revoked" }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let NewKey { id: kid, secret } = admin.new_key(&ws, "zapier").await;
    let got = rx.wait_for("/keys", 1, 5).await;
    verify(created["secret"].as_str().unwrap(), &got[0]);
    assert!(!got[0].body.contains(&secret), "the key's secret was sent");
    let ev = got[0].json();
    assert_eq!(ev["type"], "key.created");
    let (_, keys) = admin.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    let listed = keys["data"].as_array().unwrap().iter().find(|k| k["id"] == kid.as_str()).unwrap().clone();
    assert_eq!(ev["data"], listed);
    assert_eq!(ev["data"].get("key"), None);

    assert_eq!(admin.delete(&format!("/api/workspaces/{ws}/api-keys/{kid}")).await.0, StatusCode::NO_CONTENT);
    let got = rx.wait_for("/revoked", 1, 5).await;
    verify(revoked_hook["secret"].as_str().unwrap(), &got[0]);
    assert_eq!(got[0].json()["data"]["status"], "revoked");
    assert_eq!(got[0].json()["data"]["revoke_reason"], "manual");
    // Key-event hooks have no key, are listed for admins, and not under /v1.
    let l = admin_hooks(&admin, &ws).await;
    assert_eq!(l.len(), 2);
    assert!(l.iter().all(|h| h["key"].is_null() && h["created_by"]["email"] == admin.email.as_str()));
    assert!(l.iter().all(|h| h["status"] == "active"), "revoking a key does not disable admin hooks");

    // The page lists them under the keys: host, event, who, last attempt; no secret, no path.
    let html = admin.page(&ws).await;
    let section = &html[html.find("id=\"hooks-section\"").expect("a Webhooks section")..];
    assert!(section.contains(&rx.addr.to_string()) && section.contains("key.revoked") && section.contains("HTTP 200"));
    assert!(section.contains(&admin.email) && section.contains("delete-hook"));
    assert!(!html.contains("whsec_") && !html.contains("/revoked\""));
    assert!(html.contains("id=\"create-hook-form\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_free_plan_nothing_is_delivered() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { id: kid, .. } } =
        TestApp::builder().config(open).with_key().spawn().await;
    let rx = Receiver::start().await;
    let (s, _) = admin
        .post(&format!("/api/workspaces/{ws}/hooks"), json!({ "target_url": rx.url("/free"), "event": "key.revoked" }))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    app.store.set_plan(&keyward_core::WorkspaceId::new(&*ws), Plan::Free).await.unwrap();
    assert_eq!(admin.delete(&format!("/api/workspaces/{ws}/api-keys/{kid}")).await.0, StatusCode::NO_CONTENT);
    // The event was skipped (no delivery pending), and nothing arrived.
    eventually(5, || async { (app.store.webhook_gauges().await.unwrap().0 == 0).then_some(()) }).await;
    assert!(rx.got().is_empty());
    assert_eq!(admin_hooks(&admin, &ws).await[0]["last_attempt"], Value::Null);
}

/// The real binary on `config`'s store, with hooks opened to local receivers.
fn start_binary(config: &keyward::config::ServeArgs) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut cmd = crate::helpers::keyward_cmd();
    cmd.arg("serve").arg("--data-dir").arg(&config.store.data_dir);
    if let Some(url) = &config.store.database_url {
        cmd.arg("--database-url").arg(url);
    }
    let mut child = cmd
        .args(["--listen", "127.0.0.1:0", "--webhooks-allow-private", "--webhooks-allow-http"])
        .args(["--webhooks-retry-schedule", "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s"])
        .env("KEYWARD_WEBHOOKS_SECRET_KEY", MASTER_KEY)
        .env_remove("KEYWARD_DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let base = loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "server exited early");
        if let Some(rest) = line.strip_prefix("keyward listening on ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (child, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_pending_when_the_process_is_killed_is_delivered_after_restart() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { secret: key, .. } } =
        TestApp::builder().config(open).with_key().spawn().await;
    // A port with nothing listening yet: every attempt fails to connect.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let hook = subscribe(&app, &key, &format!("http://127.0.0.1:{port}/later"), "study.created").await;
    let (_dir, config) = app.stop().await;

    let (mut child, base) = start_binary(&config);
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{base}/v1/studies"))
        .bearer_auth(&key)
        .json(&json!({ "name": "survivor" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let study: Value = res.json().await.unwrap();
    // Wait until an attempt failed (the event is in the store), then SIGKILL.
    let store = keyward::store::Store::open(&config.store.location().unwrap()).await.unwrap();
    eventually(10, || async {
        let l = store.list_hooks(&keyward_core::WorkspaceId::new(ws.as_str())).await.unwrap();
        l[0].last_attempt_at.is_some().then_some(())
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();

    let rx = Receiver::start_on(tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap()).await;
    let (mut child, base) = start_binary(&config);
    let got = rx.wait_for("/later", 1, 10).await;
    verify(hook["secret"].as_str().unwrap(), &got[0]);
    let fetched: Value = http
        .get(format!("{base}/v1/studies/{}", study["id"].as_str().unwrap()))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got[0].json()["data"], fetched);
    child.kill().unwrap();
    child.wait().unwrap();
    drop(admin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL and Redis (KEYWARD_TEST_DATABASE_URL, KEYWARD_TEST_REDIS_URL)"]
async fn two_postgres_nodes_deliver_each_event_exactly_once() {
    crate::helpers::require_multinode_backends();
    let a = hooks_app().await;
    let b = TestApp::spawn_node(&a).await;
    let rx = Receiver::start().await;
    let AdminWithKey { key: NewKey { secret: key, .. }, .. } = a.add_admin_with_key(Plan::Enterprise).await;
    subscribe(&a, &key, &rx.url("/once"), "study.created").await;
    let n = 40;
    for i in 0..n {
        let node = if i % 2 == 0 { &a } else { &b };
        let res =
            node.v1(Method::POST, "/v1/studies", &key).json(&json!({ "name": format!("S{i}") })).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    rx.wait_for("/once", n, 15).await;
    // Every delivery has been recorded: every POST that will ever be made was made.
    eventually(10, || async { (a.store.webhook_gauges().await.unwrap().0 == 0).then_some(()) }).await;
    let got = rx.got();
    let mut ids: Vec<_> = got.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "distinct events");
    assert_eq!(got.len(), n, "each event exactly once");
}

fn assert_secret_absent(haystack: &[u8], secret: &str) {
    let raw = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let text = String::from_utf8_lossy(haystack);
    assert!(!text.contains(secret) && !text.contains(&secret[6..]), "the secret is in the dump");
    assert!(!text.contains(&hex::encode(&raw)), "the secret's bytes are in the dump (hex)");
    assert!(!haystack.windows(raw.len()).any(|w| w == raw.as_slice()), "the secret's bytes are in the dump");
}

#[tokio::test]
async fn a_database_dump_reveals_no_hook_secret_and_postgres_needs_the_master_key() {
    let AppWithKey { app, key: NewKey { secret: key, .. }, .. } = TestApp::builder().with_key().spawn().await; // no --webhooks-secret-key
    let input = json!({ "target_url": "https://hooks.example.com/x", "event": "study.created" });
    let (s, v) = app.v1_post("/v1/hooks", &key, input.clone()).await;
    match app.backend() {
        keyward::store::Backend::Postgres => {
            assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
            assert_eq!(v["code"], "webhooks_unavailable");
            let (_, list) = app.v1_get("/v1/hooks", &key).await;
            assert_eq!(list["data"], json!([]));
            let keyed = TestApp::builder()
                .node_of(&app)
                .config(|c| c.webhooks_secret_key = Some(MASTER_KEY.into()))
                .spawn()
                .await;
            let created = subscribe(&keyed, &key, "https://hooks.example.com/x", "study.created").await;
            let dump = app.db.as_ref().unwrap().dump_text().await;
            assert!(dump.contains(created["id"].as_str().unwrap()));
            assert_secret_absent(dump.as_bytes(), created["secret"].as_str().unwrap());
        }
        keyward::store::Backend::Sqlite => {
            assert_eq!(s, StatusCode::CREATED, "{v}");
            let key_file = app.data_dir().join("webhooks.key");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
            }
            let mut dump = Vec::new();
            for entry in std::fs::read_dir(app.data_dir()).unwrap() {
                let path = entry.unwrap().path();
                if path != key_file {
                    dump.extend(std::fs::read(&path).unwrap_or_default());
                }
            }
            assert!(String::from_utf8_lossy(&dump).contains(v["id"].as_str().unwrap()));
            assert_secret_absent(&dump, v["secret"].as_str().unwrap());
        }
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_hook_operations() {
    let app = TestApp::spawn().await;
    let doc = app.openapi_doc().await;
    let schemas = &doc["components"]["schemas"];
    let create = &schemas["CreateHook"];
    assert_eq!(create["properties"]["event"]["enum"], json!(["study.created", "transcript.created"]), "{create}");
    assert_eq!(create["properties"]["target_url"]["maxLength"], 2048);
    let mut required: Vec<_> = create["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    required.sort();
    assert_eq!(required, ["event", "target_url"]);
    assert!(
        schemas["CreatedHook"]["properties"].get("secret").is_some()
            || schemas["CreatedHook"].to_string().contains("secret")
    );
    assert!(schemas["Hook"]["properties"].get("secret").is_none());
    assert!(doc["paths"]["/v1/hooks"]["post"]["responses"]["201"].is_object());
    assert!(doc["paths"]["/v1/hooks/{id}"]["delete"]["responses"]["204"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_a_key_moves_its_hooks_to_the_successor_and_announces_key_rolled() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { id: kid, secret: key } } =
        TestApp::builder().config(open).with_key().spawn().await;
    let rx = Receiver::start().await;
    let (s, rolled_hook) = admin
        .post(&format!("/api/workspaces/{ws}/hooks"), json!({ "target_url": rx.url("/rolled"), "event": "key.rolled" }))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rolled_hook}");
    let zap = subscribe(&app, &key, &rx.url("/studies"), "study.created").await;

    // Roll with no grace: the old key stops at once, its Zap hook does not.
    let (s, successor) =
        admin.post(&format!("/api/workspaces/{ws}/api-keys/{kid}/roll"), json!({ "grace_period_secs": 0 })).await;
    assert_eq!(s, StatusCode::CREATED, "{successor}");
    let got = rx.wait_for("/rolled", 1, 5).await;
    verify(rolled_hook["secret"].as_str().unwrap(), &got[0]);
    let ev = got[0].json();
    assert_eq!((ev["type"].as_str(), ev["data"]["id"].as_str()), (Some("key.rolled"), Some(kid.as_str())));
    assert_eq!(ev["data"]["rolled_to"], successor["id"]);
    assert!(!got[0].body.contains(successor["key"].as_str().unwrap()), "the successor's secret was sent");

    let hooks = admin_hooks(&admin, &ws).await;
    let moved = hooks.iter().find(|h| h["id"] == zap["id"]).expect("the Zap's hook is still there");
    assert_eq!((moved["status"].as_str(), &moved["key"]["id"]), (Some("active"), &successor["id"]));

    // Old key refused; the successor's workspace keeps receiving the Zap's events.
    assert_eq!(app.v1_get("/v1/me", &key).await.0, StatusCode::UNAUTHORIZED);
    let new_key = successor["key"].as_str().unwrap();
    let res =
        app.v1(Method::POST, "/v1/studies", new_key).json(&json!({ "name": "after the roll" })).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let got = rx.wait_for("/studies", 1, 5).await;
    verify(zap["secret"].as_str().unwrap(), &got[0]);
    assert_eq!(got[0].json()["data"]["name"], "after the roll");
}
