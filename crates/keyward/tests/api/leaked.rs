//! Leaked keys revoke themselves (SPEC §11): GitHub's secret scanning
//! partner endpoint (signed reports, a local key server standing in for
//! GitHub's key set) and the public leak report endpoint.
use crate::helpers::*;
use base64::Engine;
use keyward_core::secret_scanning::hex_sha256;
use keyward_core::{ApiKeySecret, Plan};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const GITHUB: &str = "/v1/secret-scanning/github";
const PUBLIC: &str = "/v1/leaked-keys";
const LEAK_URL: &str = "https://github.com/octocat/hello-world/blob/1a2b3c4d/config.py";

/// GitHub's key set on 127.0.0.1: the published keys, a fetch counter and a
/// switch that makes it answer 500.
struct KeyServer {
    url: String,
    fetches: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
    keys: Arc<Mutex<Vec<(String, SigningKey)>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl KeyServer {
    async fn start() -> KeyServer {
        let fetches = Arc::new(AtomicUsize::new(0));
        let failing = Arc::new(AtomicBool::new(false));
        let keys: Arc<Mutex<Vec<(String, SigningKey)>>> = Arc::new(Mutex::new(vec![]));
        let (f, x, k) = (Arc::clone(&fetches), Arc::clone(&failing), Arc::clone(&keys));
        let app = axum::Router::new().route(
            "/meta/public_keys/secret_scanning",
            axum::routing::get(move || {
                let (f, x, k) = (Arc::clone(&f), Arc::clone(&x), Arc::clone(&k));
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    if x.load(Ordering::SeqCst) {
                        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down".to_string());
                    }
                    let keys = k.lock().unwrap();
                    let published: Vec<Value> = keys
                        .iter()
                        .enumerate()
                        .map(|(i, (id, sk))| {
                            let pem = sk.verifying_key().to_public_key_pem(p256::pkcs8::LineEnding::LF).unwrap();
                            json!({ "key_identifier": id, "key": pem, "is_current": i + 1 == keys.len() })
                        })
                        .collect();
                    (axum::http::StatusCode::OK, json!({ "public_keys": published }).to_string())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/meta/public_keys/secret_scanning", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        KeyServer { url, fetches, failing, keys, _task: task }
    }

    /// Publish a new key; returns it.
    fn publish(&self, id: &str) -> SigningKey {
        let sk = SigningKey::random(&mut rand::rngs::OsRng);
        self.keys.lock().unwrap().push((id.to_string(), sk.clone()));
        sk
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn fail(&self, on: bool) {
        self.failing.store(on, Ordering::SeqCst);
    }
}

/// keyward using `server` for GitHub's keys.
/// keyward using `server` for GitHub's keys, with a pro workspace, its admin and a key.
async fn app_with(server: &KeyServer) -> AppWithKey {
    let url = server.url.clone();
    TestApp::builder().config(move |c| c.github_secret_scanning_keys_url = url).with_key().spawn().await
}

fn sign(key: &SigningKey, body: &[u8]) -> String {
    let sig: Signature = key.sign(body);
    base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes())
}

/// POST `body` to the GitHub endpoint with the given headers.
async fn post_report(app: &TestApp, body: &[u8], id: Option<&str>, signature: Option<&str>) -> reqwest::Response {
    let mut rb = app.http.post(app.url(GITHUB)).header("content-type", "application/json").body(body.to_vec());
    if let Some(id) = id {
        rb = rb.header("Github-Public-Key-Identifier", id);
    }
    if let Some(sig) = signature {
        rb = rb.header("Github-Public-Key-Signature", sig);
    }
    rb.send().await.unwrap()
}

/// A signed report of `matches`: (status, body).
async fn report(app: &TestApp, id: &str, key: &SigningKey, matches: &Value) -> (StatusCode, Value) {
    let body = serde_json::to_vec(matches).unwrap();
    let res = post_report(app, &body, Some(id), Some(&sign(key, &body))).await;
    assert!(res.headers().contains_key("x-request-id"));
    crate::helpers::body(res).await
}

fn found(token: &str) -> Value {
    json!({ "token": token, "type": "user_evaluation_api_key", "url": LEAK_URL, "source": "commit" })
}

fn assert_problem(status: StatusCode, v: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{v}");
    assert_eq!(v["code"], code, "{v}");
    assert_eq!(v["status"], want.as_u16(), "{v}");
    assert!(v["request_id"].is_string(), "{v}");
}

async fn me(app: &TestApp, key: &str) -> (StatusCode, Value) {
    app.v1_get("/v1/me", key).await
}

async fn audit(admin: &Session, ws: &str, action: &str) -> Vec<Value> {
    let (_, v) = admin.get(&format!("/api/workspaces/{ws}/audit-log")).await;
    v["data"].as_array().unwrap().iter().filter(|e| e["action"] == action).cloned().collect()
}

async fn key_object(admin: &Session, ws: &str, id: &str) -> Value {
    let (_, v) = admin.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    v["data"].as_array().unwrap().iter().find(|k| k["id"] == id).cloned().unwrap()
}

async fn notifications(admin: &Session, ws: &str) -> Vec<Value> {
    let (_, v) = admin.get(&format!("/api/workspaces/{ws}/notifications")).await;
    v["data"].as_array().unwrap().clone()
}

/// A well-formed key (checksum and all) that is nobody's.
fn stranger() -> String {
    ApiKeySecret::generate().expose().to_string()
}

#[tokio::test]
async fn a_key_github_found_is_revoked_and_refused_on_the_next_request() {
    let server = KeyServer::start().await;
    let signing = server.publish("k1");
    let (hook_url, mut hooks) = webhook_target().await;
    let url = server.url.clone();
    let app = TestApp::builder()
        .config(move |c| {
            c.github_secret_scanning_keys_url = url;
            c.notify_webhook_url = Some(hook_url);
        })
        .spawn()
        .await;
    let AdminWithKey { workspace_id: ws, admin, key: NewKey { id, secret } } = app.add_admin_with_key(Plan::Pro).await;
    assert_eq!(me(&app, &secret).await.0, StatusCode::OK);

    let (s, v) = report(&app, "k1", &signing, &json!([found(&secret)])).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v,
        json!([{ "token_hash": hex_sha256(secret.as_bytes()), "token_type": "user_evaluation_api_key", "label": "true_positive" }])
    );

    // Refused at once, and the detail says why.
    let (s, v) = me(&app, &secret).await;
    assert_problem(s, &v, StatusCode::UNAUTHORIZED, "api_key_revoked");
    assert!(v["detail"].as_str().unwrap().contains("because it was found leaked"), "{v}");

    let k = key_object(&admin, &ws, &id).await;
    assert_eq!(k["status"], "revoked");
    assert_eq!(k["revoke_reason"], "leaked");
    let events = audit(&admin, &ws, "key.leaked").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor"], "system");
    assert_eq!(events[0]["key_id"], id);
    let d = &events[0]["details"];
    assert_eq!(
        (d["reporter"].as_str(), d["source"].as_str(), d["url"].as_str()),
        (Some("github"), Some("commit"), Some(LEAK_URL))
    );
    assert_eq!(d["reason"], "leaked");
    let everything = format!("{events:?} {:?}", notifications(&admin, &ws).await);
    assert!(!everything.contains(&secret[8..]), "a secret reached the audit log or a notification");

    // The banner, the notify webhook, and the page: Leaked, and where.
    let notes = notifications(&admin, &ws).await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["kind"], "key.leaked");
    assert_eq!(notes[0]["key_id"], id);
    let delivered = tokio::time::timeout(Duration::from_secs(10), hooks.recv()).await.unwrap().unwrap();
    assert_eq!(delivered["type"], "key.leaked");
    assert_eq!(delivered["key_id"], id);
    assert_eq!(delivered["reporter"], "github");
    assert_eq!(delivered["url"], LEAK_URL);
    assert!(!delivered.to_string().contains(&secret[8..]));
    let page = admin.page(&ws).await;
    assert!(page.contains(">Leaked<"), "no Leaked badge");
    assert!(page.contains(LEAK_URL), "the page does not say where the key was found");
    assert!(page.contains("was found leaked and revoked"), "no banner");
    assert!(!page.contains(&secret[8..]));
}

#[tokio::test]
async fn feedback_labels_every_match_in_order() {
    let server = KeyServer::start().await;
    let signing = server.publish("k1");
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { secret: active, .. } } = app_with(&server).await;
    let NewKey { id: old_id, secret: old } = admin.new_key(&ws, "old").await;
    admin.delete(&format!("/api/workspaces/{ws}/api-keys/{old_id}")).await;
    let AdminWithKey { workspace_id: other_ws, key: NewKey { secret: elsewhere, .. }, .. } =
        app.add_admin_with_key(Plan::Starter).await;
    let nobody = stranger();
    let tokens = [active.as_str(), nobody.as_str(), "some_token", old.as_str(), elsewhere.as_str()];
    let matches: Vec<Value> = tokens.iter().map(|t| found(t)).collect();
    let (s, v) = report(&app, "k1", &signing, &Value::Array(matches)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let got: Vec<(String, String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["token_hash"].as_str().unwrap().into(),
                f["token_type"].as_str().unwrap().into(),
                f["label"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = tokens
        .iter()
        .zip(["true_positive", "false_positive", "false_positive", "true_positive", "true_positive"])
        .map(|(t, l)| (hex_sha256(t.as_bytes()), "user_evaluation_api_key".into(), l.into()))
        .collect();
    assert_eq!(got, want);
    // Each workspace's key was revoked in its own workspace; the old one stays
    // revoked by hand.
    assert_eq!(me(&app, &active).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &elsewhere).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(key_object(&admin, &ws, &old_id).await["revoke_reason"], "manual");
    assert_eq!(audit(&admin, &ws, "key.leaked").await.len(), 1);
    let other_admin = app.user(&other_ws, "second-admin@example.com", keyward_core::Role::Admin).await;
    assert_eq!(audit(&other_admin, &other_ws, "key.leaked").await.len(), 1);
}

#[tokio::test]
async fn a_replayed_report_changes_nothing_more() {
    let server = KeyServer::start().await;
    let signing = server.publish("k1");
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { id, secret } } = app_with(&server).await;
    let matches = json!([found(&secret), found(&secret)]);
    let first = report(&app, "k1", &signing, &matches).await;
    assert_eq!(first.0, StatusCode::OK);
    let revoked_at = key_object(&admin, &ws, &id).await["revoked_at"].clone();
    let again = report(&app, "k1", &signing, &matches).await;
    assert_eq!(again, first, "a replay answers the same");
    assert_eq!(key_object(&admin, &ws, &id).await["revoked_at"], revoked_at);
    assert_eq!(audit(&admin, &ws, "key.leaked").await.len(), 1, "one audit event, even for a key reported twice");
    assert_eq!(notifications(&admin, &ws).await.len(), 1);
}

#[tokio::test]
async fn bad_signatures_and_unknown_identifiers_are_401_and_change_nothing() {
    let server = KeyServer::start().await;
    let signing = server.publish("k1");
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { secret, .. } } = app_with(&server).await;
    let body = serde_json::to_vec(&json!([found(&secret)])).unwrap();
    let good = sign(&signing, &body);
    let mut changed = body.clone();
    let last = changed.len() - 2;
    changed[last] = b' ';
    let impostor = SigningKey::random(&mut rand::rngs::OsRng);
    // (what, body, identifier, signature)
    type Case<'a> = (&'a str, Vec<u8>, Option<&'a str>, Option<String>);
    let cases: Vec<Case> = vec![
        ("no headers", body.clone(), None, None),
        ("no signature", body.clone(), Some("k1"), None),
        ("no identifier", body.clone(), None, Some(good.clone())),
        ("not base64", body.clone(), Some("k1"), Some("%%%".into())),
        ("not DER", body.clone(), Some("k1"), Some("AAAA".into())),
        ("one byte of the body changed", changed, Some("k1"), Some(good.clone())),
        ("another key's signature", body.clone(), Some("k1"), Some(sign(&impostor, &body))),
        ("unknown identifier", body.clone(), Some("k2"), Some(good.clone())),
    ];
    for (what, b, id, sig) in cases {
        let res = post_report(&app, &b, id, sig.as_deref()).await;
        assert!(res.headers().contains_key("x-request-id"));
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/problem+json"));
        let (s, v) = crate::helpers::body(res).await;
        assert_problem(s, &v, StatusCode::UNAUTHORIZED, "invalid_signature");
        assert!(!v.to_string().contains(&secret[8..]), "{what}: the error echoes the token");
    }
    assert_eq!(me(&app, &secret).await.0, StatusCode::OK, "nothing was revoked");
    assert!(audit(&admin, &ws, "key.leaked").await.is_empty());
    // The genuine one still works afterwards.
    assert_eq!(post_report(&app, &body, Some("k1"), Some(&good)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn malformed_reports_are_400_or_422_and_revoke_nothing() {
    let server = KeyServer::start().await;
    let signing = server.publish("k1");
    let AppWithKey { app, key: NewKey { secret, .. }, .. } = app_with(&server).await;
    let signed = |b: Vec<u8>| {
        let sig = sign(&signing, &b);
        (b, sig)
    };
    let many: Vec<Value> = (0..1001).map(|_| found(&secret)).collect();
    let cases: Vec<(Vec<u8>, StatusCode, &str)> = vec![
        (format!("[{{\"token\": \"{secret}\"").into_bytes(), StatusCode::BAD_REQUEST, "invalid_json"),
        (serde_json::to_vec(&found(&secret)).unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (
            serde_json::to_vec(&json!([{ "token": secret, "type": 7, "url": LEAK_URL, "source": "commit" }])).unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            serde_json::to_vec(&json!([found(&secret), { "token": ["x"], "type": "t" }])).unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (serde_json::to_vec(&many).unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
    ];
    for (b, status, code) in cases {
        let (b, sig) = signed(b);
        let (s, v) = crate::helpers::body(post_report(&app, &b, Some("k1"), Some(&sig)).await).await;
        assert_problem(s, &v, status, code);
        assert!(!v.to_string().contains(&secret[8..]), "the error echoes the token: {v}");
    }
    assert_eq!(me(&app, &secret).await.0, StatusCode::OK, "nothing was revoked");
}

#[tokio::test]
async fn githubs_key_set_is_cached_and_refetched_only_for_an_unknown_identifier() {
    let server = KeyServer::start().await;
    let k1 = server.publish("k1");
    let AppWithKey { app, .. } = app_with(&server).await;
    assert_eq!(server.fetches(), 0, "nothing is fetched before the first report");
    for _ in 0..3 {
        assert_eq!(report(&app, "k1", &k1, &json!([found("some_token")])).await.0, StatusCode::OK);
    }
    assert_eq!(server.fetches(), 1, "one fetch serves every report for an hour");
    // GitHub rotates its key: the new identifier makes keyward fetch again.
    let k2 = server.publish("k2");
    assert_eq!(report(&app, "k2", &k2, &json!([])).await.0, StatusCode::OK);
    assert_eq!(server.fetches(), 2);
    // Within the minute, made-up identifiers fetch nothing more.
    let (s, v) = report(&app, "k3", &k2, &json!([])).await;
    assert_problem(s, &v, StatusCode::UNAUTHORIZED, "invalid_signature");
    for id in ["k4", "k5", "k6"] {
        assert_eq!(report(&app, id, &k2, &json!([])).await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(server.fetches(), 2, "refetched at most once a minute for unknown identifiers");
    assert_eq!(report(&app, "k1", &k1, &json!([])).await.0, StatusCode::OK);
    assert_eq!(report(&app, "k2", &k2, &json!([])).await.0, StatusCode::OK);
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn a_failed_fetch_keeps_the_cached_key_set() {
    let server = KeyServer::start().await;
    let k1 = server.publish("k1");
    let AppWithKey { app, key: NewKey { secret, .. }, .. } = app_with(&server).await;
    assert_eq!(report(&app, "k1", &k1, &json!([found("some_token")])).await.0, StatusCode::OK);
    server.fail(true);
    // An unknown identifier makes keyward try again; the fetch fails.
    assert_eq!(report(&app, "k9", &k1, &json!([])).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(server.fetches(), 2);
    // The set fetched before still verifies, and the report still revokes.
    let (s, v) = report(&app, "k1", &k1, &json!([found(&secret)])).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v[0]["label"], "true_positive");
    assert_eq!(me(&app, &secret).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn without_any_key_set_reports_are_503_and_change_nothing() {
    let server = KeyServer::start().await;
    let k1 = server.publish("k1");
    server.fail(true);
    let AppWithKey { app, key: NewKey { secret, .. }, .. } = app_with(&server).await;
    let (s, v) = report(&app, "k1", &k1, &json!([found(&secret)])).await;
    assert_problem(s, &v, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    assert_eq!(me(&app, &secret).await.0, StatusCode::OK);
    // A key set URL nobody answers at: the same.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let app2 = TestApp::builder()
        .config(move |c| c.github_secret_scanning_keys_url = format!("http://{closed}/keys"))
        .spawn()
        .await;
    let (s, v) = report(&app2, "k1", &k1, &json!([])).await;
    assert_problem(s, &v, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    // Once GitHub's keys answer again, GitHub's retry goes through.
    server.fail(false);
    let (s, v) = report(&app, "k1", &k1, &json!([found(&secret)])).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(me(&app, &secret).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_report_of_1000_matches_is_answered_well_inside_githubs_timeout() {
    let server = KeyServer::start().await;
    let k1 = server.publish("k1");
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { secret: first, .. } } = app_with(&server).await;
    let mut ours = vec![first];
    for i in 0..9 {
        ours.push(admin.new_key(&ws, &format!("key {i}")).await.secret);
    }
    let mut matches: Vec<Value> =
        (0..990).map(|i| found(&if i % 2 == 0 { stranger() } else { format!("tok_{i}") })).collect();
    for (i, k) in ours.iter().enumerate() {
        matches.insert(i * 97, found(k));
    }
    assert_eq!(matches.len(), 1000);
    let started = Instant::now();
    let (s, v) = report(&app, "k1", &k1, &Value::Array(matches)).await;
    let took = started.elapsed();
    assert_eq!(s, StatusCode::OK);
    assert!(took < Duration::from_secs(5), "1000 matches took {took:?}");
    let labels = v.as_array().unwrap();
    assert_eq!(labels.len(), 1000);
    assert_eq!(labels.iter().filter(|f| f["label"] == "true_positive").count(), 10);
    for (i, _) in ours.iter().enumerate() {
        assert_eq!(labels[i * 97]["label"], "true_positive");
    }
    for k in &ours {
        assert_eq!(me(&app, k).await.0, StatusCode::UNAUTHORIZED);
    }
}

async fn public_report(app: &TestApp, v: &Value) -> reqwest::Response {
    app.http.post(app.url(PUBLIC)).json(v).send().await.unwrap()
}

#[tokio::test]
async fn public_reports_get_the_same_answer_whatever_the_keys_and_revoke_ours() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { id, secret } } =
        TestApp::builder().with_key().spawn().await;
    let mut answers = Vec::new();
    for keys in [json!([stranger()]), json!(["not a key at all"]), json!([secret])] {
        let res = public_report(&app, &json!({ "keys": keys })).await;
        assert!(res.headers().contains_key("x-request-id"));
        let mut headers: Vec<(String, String)> = res
            .headers()
            .iter()
            .filter(|(n, _)| !matches!(n.as_str(), "x-request-id" | "date"))
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        headers.sort();
        answers.push((res.status(), headers, res.text().await.unwrap()));
    }
    assert_eq!(answers[0].0, StatusCode::ACCEPTED);
    assert_eq!(answers[0].2, r#"{"received":1}"#);
    assert!(answers.iter().all(|a| *a == answers[0]), "the answers differ: {answers:?}");
    // Ours is revoked (off the request path, so shortly after).
    eventually(10, || async { (me(&app, &secret).await.0 == StatusCode::UNAUTHORIZED).then_some(()) }).await;
    let (_, v) = me(&app, &secret).await;
    assert_eq!(v["code"], "api_key_revoked");
    assert!(v["detail"].as_str().unwrap().contains("because it was found leaked"));
    let k = key_object(&admin, &ws, &id).await;
    assert_eq!(k["revoke_reason"], "leaked");
    let events = eventually(10, || async {
        let e = audit(&admin, &ws, "key.leaked").await;
        (!e.is_empty()).then_some(e)
    })
    .await;
    assert_eq!(events[0]["details"]["reporter"], "public");
    assert_eq!(events[0]["key_id"], id);
    assert!(!events[0].to_string().contains(&secret[8..]));
    eventually(10, || async { (notifications(&admin, &ws).await.len() == 1).then_some(()) }).await;
    // Reported again: still the same answer, nothing more happens.
    let res = public_report(&app, &json!({ "keys": [secret, secret] })).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(res.text().await.unwrap(), r#"{"received":2}"#);
    let res = public_report(&app, &json!({ "keys": [] })).await;
    assert_eq!(res.text().await.unwrap(), r#"{"received":0}"#);
    assert_eq!(audit(&admin, &ws, "key.leaked").await.len(), 1);
}

#[tokio::test]
async fn the_public_endpoint_takes_60_calls_an_hour_per_address() {
    let app = TestApp::spawn().await;
    for i in 0..60 {
        let res = public_report(&app, &json!({ "keys": [stranger()] })).await;
        assert_eq!(res.status(), StatusCode::ACCEPTED, "call {}", i + 1);
    }
    let res = public_report(&app, &json!({ "keys": [stranger()] })).await;
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3500..=3600).contains(&retry), "Retry-After {retry}");
    let (s, v) = crate::helpers::body(res).await;
    assert_problem(s, &v, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // Keys keep working: the throttle is this endpoint's alone.
    let AdminWithKey { key: NewKey { secret, .. }, .. } = app.add_admin_with_key(Plan::Pro).await;
    assert_eq!(me(&app, &secret).await.0, StatusCode::OK);
}

/// Two nodes of one deployment on PostgreSQL and Redis.
struct Nodes {
    a: TestApp,
    b: TestApp,
}

async fn two_nodes(server: &KeyServer) -> Nodes {
    require_multinode_backends();
    let a = app_with(server).await.app;
    let b = TestApp::spawn_node(&a).await;
    assert!(a.redis_prefix().is_some() && a.redis_prefix() == b.redis_prefix());
    Nodes { a, b }
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis (KEYWARD_TEST_DATABASE_URL, KEYWARD_TEST_REDIS_URL)"]
async fn the_public_throttle_is_one_throttle_across_nodes() {
    let server = KeyServer::start().await;
    let Nodes { a, b } = two_nodes(&server).await;
    for i in 0..60 {
        let node = if i % 2 == 0 { &a } else { &b };
        assert_eq!(public_report(node, &json!({ "keys": [] })).await.status(), StatusCode::ACCEPTED, "call {}", i + 1);
    }
    for node in [&a, &b] {
        let (s, v) = crate::helpers::body(public_report(node, &json!({ "keys": [] })).await).await;
        assert_problem(s, &v, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis (KEYWARD_TEST_DATABASE_URL, KEYWARD_TEST_REDIS_URL)"]
async fn a_key_reported_to_node_a_is_refused_by_node_b_at_the_next_request() {
    let server = KeyServer::start().await;
    let k1 = server.publish("k1");
    let Nodes { a, b } = two_nodes(&server).await;
    let AdminWithKey { key: NewKey { secret: github_found, .. }, .. } = a.add_admin_with_key(Plan::Pro).await;
    let AdminWithKey { key: NewKey { secret: someone_found, .. }, .. } = a.add_admin_with_key(Plan::Pro).await;
    assert_eq!(me(&b, &github_found).await.0, StatusCode::OK);
    assert_eq!(report(&a, "k1", &k1, &json!([found(&github_found)])).await.0, StatusCode::OK);
    let (s, v) = me(&b, &github_found).await;
    assert_problem(s, &v, StatusCode::UNAUTHORIZED, "api_key_revoked");
    assert_eq!(public_report(&a, &json!({ "keys": [someone_found] })).await.status(), StatusCode::ACCEPTED);
    eventually(10, || async { (me(&b, &someone_found).await.0 == StatusCode::UNAUTHORIZED).then_some(()) }).await;
}

#[tokio::test]
async fn public_reports_of_the_wrong_shape_are_refused_and_revoke_nothing() {
    let AppWithKey { app, key: NewKey { secret, .. }, .. } = TestApp::builder().with_key().spawn().await;
    let too_many: Vec<String> = (0..1001).map(|_| secret.clone()).collect();
    for (body, status, code) in [
        (json!([secret]), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (json!({ "keys": secret }), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (json!({ "keys": [secret, 5] }), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (json!({ "keys": [secret], "note": "x" }), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (json!({ "keys": too_many }), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
    ] {
        let (s, v) = crate::helpers::body(public_report(&app, &body).await).await;
        assert_problem(s, &v, status, code);
        assert!(!v.to_string().contains(&secret[8..]), "{v}");
    }
    let res = app
        .http
        .post(app.url(PUBLIC))
        .header("content-type", "application/json")
        .body(format!("{{\"keys\": [\"{secret}\""))
        .send()
        .await
        .unwrap();
    let (s, v) = crate::helpers::body(res).await;
    assert_problem(s, &v, StatusCode::BAD_REQUEST, "invalid_json");
    let res = app.http.post(app.url(PUBLIC)).body(format!("{{\"keys\": [\"{secret}\"]}}")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Refused bodies never reach the revocation (it runs after them).
    assert_eq!(me(&app, &secret).await.0, StatusCode::OK);
}

/// A webhook receiver on 127.0.0.1: its URL and the bodies POSTed to it.
async fn webhook_target() -> (String, mpsc::UnboundedReceiver<Value>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(v);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, rx)
}

#[test]
fn the_cli_prints_what_to_register_with_github() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = admin_cli(dir.path(), &["secret-scanning", "pattern"]);
    assert!(ok, "{err}");
    assert!(out.contains("user_evaluation_api_key"), "{out}");
    assert!(out.contains("ue_live_[0-9A-Za-z]{38}"), "{out}");
    assert!(out.contains("/v1/secret-scanning/github"), "{out}");
    let (ok, out, err) = admin_cli(dir.path(), &["secret-scanning", "pattern", "--json"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        v,
        json!({
            "token_type": "user_evaluation_api_key",
            "regex": "ue_live_[0-9A-Za-z]{38}",
            "endpoint_path": "/v1/secret-scanning/github",
        })
    );
    // The pattern matches every key keyward generates, and nothing is created.
    let re = regex::Regex::new(&format!("^{}$", v["regex"].as_str().unwrap())).unwrap();
    for _ in 0..100 {
        assert!(re.is_match(ApiKeySecret::generate().expose()));
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "printing the pattern created a store");
}
