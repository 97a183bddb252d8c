//! The developer docs under `/docs` (SPEC §13): every page served as HTML
//! without external assets, headings with anchors, the errors page
//! covering every problem code, the reference covering every operation of
//! `/v1/openapi.json`, problem `type` URLs pointing at these docs, and the
//! code samples of the Markdown run against a real keyward with demo data.
use crate::helpers::*;
use base64::Engine;
use hmac::{Hmac, Mac};
use keyward_web::docs::DOC_PAGES;
use reqwest::StatusCode;
use serde_json::json;
use std::io::Read;
use std::process::{Command, Stdio};
use strum::IntoEnumIterator;

async fn page(app: &TestApp, path: &str) -> String {
    let res = app.http.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    let h = res.headers();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
    assert!(h.contains_key("x-request-id"), "{path} without X-Request-Id");
    assert!(h["content-security-policy"].to_str().unwrap().contains("default-src 'none'"), "{path}");
    res.text().await.unwrap()
}

/// Every `src="…"` and `href="…"` value of `html`.
fn urls(html: &str) -> Vec<String> {
    let re = regex::Regex::new(r#"(?:src|href)\s*=\s*"([^"]*)""#).unwrap();
    re.captures_iter(html).map(|c| c[1].to_string()).collect()
}

#[tokio::test]
async fn every_docs_page_is_html_with_only_local_assets_and_links() {
    let app = TestApp::spawn().await;
    for (path, title) in DOC_PAGES {
        let html = page(&app, path).await;
        assert!(html.contains(&format!("<title>{title}")), "{path}: title");
        assert!(!html.contains("<script>"), "{path}: inline script");
        assert!(!html.contains("style=\""), "{path}: inline style");
        for u in urls(&html) {
            assert!(
                (u.starts_with('/') && !u.starts_with("//")) || u.starts_with('#'),
                "{path} links or loads {u:?}, not on this server"
            );
        }
        // Every page of the sidebar is linked from every page.
        for (other, _) in DOC_PAGES {
            assert!(html.contains(&format!("href=\"{other}\"")), "{path} does not link {other}");
        }
    }
}

#[tokio::test]
async fn every_docs_heading_has_an_id_and_a_link_to_itself() {
    let app = TestApp::spawn().await;
    let heading = regex::Regex::new(r#"<h([1-6])([^>]*)>"#).unwrap();
    let id = regex::Regex::new(r#"\bid="([^"]+)""#).unwrap();
    for (path, _) in DOC_PAGES {
        let html = page(&app, path).await;
        let mut n = 0;
        for c in heading.captures_iter(&html) {
            let Some(i) = id.captures(&c[2]) else { panic!("{path}: a heading without id: {}", &c[0]) };
            if &c[1] != "1" {
                assert!(html.contains(&format!("href=\"#{}\"", &i[1])), "{path}: no link to #{}", &i[1]);
            }
            n += 1;
        }
        assert!(n >= 2, "{path} has {n} headings");
    }
}

#[tokio::test]
async fn every_link_between_docs_pages_reaches_an_existing_page_and_section() {
    let app = TestApp::spawn().await;
    let mut pages = std::collections::HashMap::new();
    for (path, _) in DOC_PAGES {
        pages.insert(path.to_string(), page(&app, path).await);
    }
    for (path, html) in &pages {
        for u in urls(html) {
            let (target, fragment) = match u.split_once('#') {
                Some((t, f)) => (if t.is_empty() { path.as_str() } else { t }, Some(f)),
                None => (u.as_str(), None),
            };
            if !target.starts_with("/docs") {
                if !target.starts_with("/assets/") {
                    let res = app.http.get(app.url(target)).send().await.unwrap();
                    assert!(
                        res.status().is_success() || res.status().is_redirection(),
                        "{path} links {u}: {}",
                        res.status()
                    );
                }
                continue;
            }
            let Some(target_html) = pages.get(target) else { panic!("{path} links {u}, not a docs page") };
            if let Some(f) = fragment {
                assert!(target_html.contains(&format!("id=\"{f}\"")), "{path} links {u}: no such section");
            }
        }
    }
}

#[tokio::test]
async fn docs_pages_that_do_not_exist_are_404_problems() {
    let app = TestApp::spawn().await;
    let res = app.http.get(app.url("/docs/nope")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers().contains_key("x-request-id"));
    let (s, v) = body(res).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["code"], "not_found");
}

#[tokio::test]
async fn the_errors_page_has_a_section_for_every_code_the_error_type_can_produce() {
    let app = TestApp::spawn().await;
    let html = page(&app, "/docs/errors").await;
    let kinds: Vec<_> = keyward::http::error::ApiErrorKind::iter().collect();
    assert!(kinds.len() >= 20);
    for kind in kinds {
        let doc = keyward::http::error_docs::doc(kind);
        let code = doc.example.code();
        assert!(html.contains(&format!("id=\"{code}\"")), "no section #{code}");
        assert!(html.contains(&format!("href=\"#{code}\"")), "{code} is not in the table");
        let status = doc.example.status().as_u16().to_string();
        assert!(html.contains(&status), "{code}: status {status}");
    }
    // SPEC codes of features being built are documented until they exist.
    for code in
        ["api_key_expired", "insufficient_scope", "hook_limit_reached", "target_not_allowed", "invalid_signature"]
    {
        assert!(html.contains(&format!("id=\"{code}\"")), "no section #{code}");
    }
}

#[tokio::test]
async fn problem_types_link_to_this_servers_errors_page() {
    let app = TestApp::spawn().await;
    let (s, v) = app.v1_get("/v1/me", "ue_live_nope").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["type"], "/docs/errors#invalid_api_key");
    let html = page(&app, "/docs/errors").await;
    assert!(html.contains("id=\"invalid_api_key\""));

    let app = TestApp::builder().config(|c| c.public_url = Some("https://keys.example.com/".into())).spawn().await;
    let (_, v) = app.v1_get("/v1/me", "ue_live_nope").await;
    assert_eq!(v["type"], "https://keys.example.com/docs/errors#invalid_api_key");
    let (s, v) = body(app.http.get(app.url("/api/workspaces/ws_x/api-keys")).send().await.unwrap()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["type"], "https://keys.example.com/docs/errors#unauthenticated");
}

#[tokio::test]
async fn the_reference_has_every_operation_of_the_served_openapi_document() {
    let app = TestApp::spawn().await;
    let doc = app.openapi_doc().await;
    let html = page(&app, "/docs/reference").await;
    let mut n = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(html.contains(&format!("id=\"{id}\"")), "{} {path} ({id}) is not in the reference", method);
            assert!(html.contains(&format!("href=\"#{id}\"")), "{id} is not in the operations table");
            for status in op["responses"].as_object().unwrap().keys() {
                let shown = html.contains(&format!("<td>{status}</td>"))
                    || html.contains(&format!("<strong>{status}</strong>"));
                assert!(shown, "{id}: response {status}");
            }
            n += 1;
        }
    }
    assert!(n >= 9);
    // Schemas and examples are rendered, not just headings.
    assert!(html.contains("segments[].start_ms"), "nested fields of CreateTranscript");
    assert!(html.contains("std_01JD8X4V6Q2W3E4R5T6Y7Z8A9B"), "an example id");
    assert!(html.contains("href=\"/docs/errors#validation_failed\""), "errors link to /docs/errors");
}

#[tokio::test]
async fn the_settings_page_links_the_docs_and_shows_the_api_base_url() {
    let AppWithAdmin { app, admin, .. } = TestApp::builder()
        .config(|c| c.public_url = Some("https://keys.example.com".into()))
        .with_admin()
        .spawn()
        .await;
    let res = app.http.get(app.url("/settings/api-keys")).header("cookie", &admin.cookie).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains(">https://keys.example.com/v1</code>"), "the base URL");
    for (href, text) in
        [("/docs", "API Overview"), ("/docs/quickstart", "Quickstart"), ("/docs/rate-limits", "rate limits doc")]
    {
        assert!(html.contains(&format!("href=\"{href}\">{text}</a>")), "link {text}");
    }
}

// ---------------------------------------------------------------------------
// The samples: extracted from the Markdown the pages are rendered from.

/// The code of the fenced block ```` ```LANG title=NAME ```` on page `slug`.
fn sample(slug: &str, name: &str) -> String {
    let (_, md) = keyward::http::docs::sources().iter().find(|(s, _)| *s == slug).expect("a docs page");
    let re = regex::Regex::new(r"(?ms)^```[a-z]+ title=(\S+)\n(.*?)^```").unwrap();
    let found = re.captures_iter(md).find(|c| &c[1] == name).map(|c| c[2].to_string());
    found.unwrap_or_else(|| panic!("no sample titled {name} on /docs/{slug}"))
}

/// keyward with the demo workspace, and a key created as the quickstart
/// says (by the admin).
struct Demo {
    app: TestApp,
    /// The key's secret.
    key: String,
    /// The demo's transcript ids, newest first.
    ids: Vec<String>,
}

async fn demo_with_key() -> Demo {
    let app = TestApp::spawn().await;
    let keyward::demo::DemoOutcome::Created { email, password, workspace_id } =
        keyward::demo::ensure(&app.store).await.unwrap()
    else {
        panic!("a fresh store gets the demo");
    };
    let admin = app.login(&email, &password).await;
    let NewKey { secret: key, .. } = admin.new_key(&workspace_id, "Quickstart").await;
    let (s, v) = app.v1_get("/v1/transcripts?limit=100", &key).await;
    assert_eq!(s, StatusCode::OK);
    let ids: Vec<String> =
        v["data"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect();
    assert!(ids.len() >= 3, "the demo has transcripts");
    Demo { app, key, ids }
}

/// Runs `program file` (the sample written to a temp file) with the
/// quickstart's environment; its stdout, after asserting it succeeded.
fn run_sample(program: &str, file_name: &str, code: &str, app: &TestApp, key: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(file_name);
    std::fs::write(&file, code).unwrap();
    let out = Command::new(program)
        .arg(&file)
        .env("KEYWARD_URL", &app.base)
        .env("KEYWARD_API_KEY", key)
        .output()
        .unwrap_or_else(|e| panic!("{program} could not start: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{file_name} failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn assert_in_order(out: &str, ids: &[String]) {
    let mut from = 0;
    for id in ids {
        let at = out[from..].find(id.as_str()).unwrap_or_else(|| panic!("{id} missing or out of order in:\n{out}"));
        from += at + id.len();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_curl_quickstart_prints_the_workspace_and_the_newest_transcripts() {
    let Demo { app, key, ids } = demo_with_key().await;
    let out = run_sample("bash", "quickstart.sh", &sample("quickstart", "quickstart.sh"), &app, &key);
    assert!(out.contains("\"name\":\"Demo\""), "{out}");
    assert_in_order(&out, &ids[..3]);
}

/// The quickstart sample `file`, run with `program`, prints the workspace,
/// then every transcript, newest first.
async fn assert_the_quickstart_prints_every_transcript(program: &str, file: &str) {
    let Demo { app, key, ids } = demo_with_key().await;
    let out = run_sample(program, file, &sample("quickstart", file), &app, &key);
    assert!(out.starts_with("Workspace: Demo (pro plan, 300 requests/minute)\n"), "{out}");
    assert_in_order(&out, &ids);
    assert_eq!(out.lines().count(), 1 + ids.len(), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_node_quickstart_prints_the_workspace_and_every_transcript() {
    assert_the_quickstart_prints_every_transcript("node", "quickstart.mjs").await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs python3 with requests"]
async fn the_python_quickstart_prints_the_workspace_and_every_transcript() {
    assert_the_quickstart_prints_every_transcript("python3", "quickstart.py").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_quickstart_samples_default_to_the_production_url_and_read_the_key_from_the_environment() {
    for name in ["quickstart.sh", "quickstart.py", "quickstart.mjs"] {
        let code = sample("quickstart", name);
        assert!(code.contains("https://api.userevaluation.com"), "{name}");
        assert!(code.contains("KEYWARD_URL") && code.contains("KEYWARD_API_KEY"), "{name}");
        assert!(!code.contains("ue_live_"), "{name} holds a key");
    }
}

/// A Standard Webhooks signature made here, independently of the server.
fn sign(secret: &str, id: &str, ts: i64, body: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    format!("v1,{}", b64.encode(mac.finalize().into_bytes()))
}

/// Starts the receiver sample, sends it one genuine and several forged
/// deliveries, and checks it accepts exactly the genuine one.
async fn receiver_accepts_only_genuine_deliveries(program: &str, file_name: &str) {
    let code = sample("webhooks", file_name);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(file_name);
    std::fs::write(&file, code).unwrap();
    let secret = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 24]>()));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(program)
        .arg(&file)
        .env("WEBHOOK_SECRET", &secret)
        .env("PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} could not start: {e}"));
    let url = format!("http://127.0.0.1:{port}/hooks/keyward");
    let http = reqwest::Client::new();
    eventually(20, || async { tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok() }).await;

    let id = "evt_01JDA9V7QK3M2X8Y6Z5W4T3R2P";
    let body = serde_json::to_vec(&json!({
        "id": id, "type": "transcript.created", "created_at": "2025-11-26T22:19:55.123Z",
        "data": { "id": "trn_01JDA9V7QK3M2X8Y6Z5W4T3R2Q", "participant": { "name": "Zoë Müller" } },
    }))
    .unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let post = |body: Vec<u8>, ts: i64, sig: String| {
        http.post(&url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(body)
            .send()
    };
    let genuine = post(body.clone(), now, sign(&secret, id, now, &body)).await.unwrap();
    let mut tampered = body.clone();
    let at = tampered.windows(4).position(|w| w == b"Zo\xc3\xab").unwrap();
    tampered[at] = b'X';
    let forged = post(tampered, now, sign(&secret, id, now, &body)).await.unwrap();
    let other_secret = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode([7u8; 24]));
    let wrong_key = post(body.clone(), now, sign(&other_secret, id, now, &body)).await.unwrap();
    let stale = post(body.clone(), now - 3600, sign(&secret, id, now - 3600, &body)).await.unwrap();
    let several = post(body.clone(), now, format!("v1,bm9wZQ== {}", sign(&secret, id, now, &body))).await.unwrap();
    let statuses = [genuine.status(), forged.status(), wrong_key.status(), stale.status(), several.status()];

    let _ = child.kill();
    let _ = child.wait();
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(
        statuses.map(|s| s.as_u16()),
        [204, 400, 400, 400, 204],
        "genuine, tampered body, wrong secret, stale timestamp, several signatures\n{out}\n{err}"
    );
    assert_eq!(
        out.matches(&format!("verified transcript.created {id}: trn_01JDA9V7QK3M2X8Y6Z5W4T3R2Q")).count(),
        2,
        "{out}"
    );
    assert_eq!(out.matches("rejected").count(), 3, "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_webhook_receiver_accepts_a_signed_delivery_and_rejects_forgeries() {
    receiver_accepts_only_genuine_deliveries("python3", "webhook_receiver.py").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_node_webhook_receiver_accepts_a_signed_delivery_and_rejects_forgeries() {
    receiver_accepts_only_genuine_deliveries("node", "webhook_receiver.mjs").await;
}
