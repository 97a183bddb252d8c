//! The key lifecycle (SPEC §12): expiry, scopes, rolls, requests per key,
//! the `key.expiring` announcement and the CLI's `key roll`.
use crate::helpers::*;
use keyward::http::v1::operation_scopes;
use keyward_core::api::Timestamp;
use keyward_core::{Plan, Scope};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn ts(v: &Value) -> i64 {
    Timestamp::parse_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"))).unwrap().as_millis()
}

/// Create a key with extra fields; returns the 201 body.
async fn create(admin: &Session, ws: &str, body: Value) -> Value {
    let (s, v) = admin.post(&format!("/api/workspaces/{ws}/api-keys"), body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

async fn key_object(admin: &Session, ws: &str, id: &str) -> Value {
    let (s, list) = admin.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    assert_eq!(s, StatusCode::OK);
    list["data"].as_array().unwrap().iter().find(|k| k["id"] == id).cloned().unwrap()
}

async fn roll(admin: &Session, ws: &str, id: &str, body: Value) -> (StatusCode, Value) {
    admin.post(&format!("/api/workspaces/{ws}/api-keys/{id}/roll"), body).await
}

#[tokio::test]
async fn keys_take_an_expiry_in_days_and_a_set_of_scopes() {
    let AppWithAdmin { app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    let before = now_ms();
    let k = create(
        &admin,
        &ws,
        json!({ "name": "ci", "expires_in_days": 30, "scopes": ["transcripts:read", "studies:read"] }),
    )
    .await;
    let expires = ts(&k["expires_at"]);
    assert_eq!(expires - ts(&k["created_at"]), 30 * DAY_MS, "{k}");
    assert!(expires >= before + 30 * DAY_MS);
    assert_eq!(k["scopes"], json!(["studies:read", "transcripts:read"]));
    assert_eq!(
        (k["status"].as_str(), k["rolled_to"].is_null(), k["requests_24h"].as_u64()),
        (Some("active"), true, Some(0))
    );

    let full = create(&admin, &ws, json!({ "name": "full" })).await;
    assert!(full["expires_at"].is_null());
    assert_eq!(
        full["scopes"],
        json!(["studies:read", "studies:write", "transcripts:read", "transcripts:write", "webhooks:write"])
    );
    let nulls = create(&admin, &ws, json!({ "name": "nulls", "expires_in_days": null, "scopes": null })).await;
    assert!(nulls["expires_at"].is_null());
    assert_eq!(nulls["scopes"].as_array().unwrap().len(), 5);

    // /v1/me shows the key's scopes and expiry.
    let (s, me) = app.v1_get("/v1/me", k["key"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["key"]["scopes"], json!(["studies:read", "transcripts:read"]));
    assert_eq!(ts(&me["key"]["expires_at"]), expires);
    let listed = key_object(&admin, &ws, k["id"].as_str().unwrap()).await;
    for field in ["expires_at", "scopes", "rolled_to"] {
        assert_eq!(listed[field], k[field], "{field}");
    }
}

#[tokio::test]
async fn bad_expiry_scopes_or_grace_are_422_naming_the_field_and_change_nothing() {
    let AppWithAdmin { app: _app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    let url = format!("/api/workspaces/{ws}/api-keys");
    let bad = [
        (json!({ "name": "x", "expires_in_days": 0 }), "expires_in_days"),
        (json!({ "name": "x", "expires_in_days": 366 }), "expires_in_days"),
        (json!({ "name": "x", "expires_in_days": -5 }), "expires_in_days"),
        (json!({ "name": "x", "expires_in_days": 7.5 }), "expires_in_days"),
        (json!({ "name": "x", "expires_in_days": "7" }), "expires_in_days"),
        (json!({ "name": "x", "scopes": [] }), "scopes"),
        (json!({ "name": "x", "scopes": ["studies:read", "admin"] }), "scopes"),
        (json!({ "name": "x", "scopes": ["studies:read", "studies:read"] }), "scopes"),
        (json!({ "name": "x", "scopes": "studies:read" }), "scopes"),
        (json!({ "name": "x", "scopes": ["Studies:Read"] }), "scopes"),
    ];
    for (body, field) in bad {
        let (s, v) = admin.post(&url, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {v}");
        assert_eq!(v["errors"][0]["field"], field, "{body} → {v}");
    }
    let (_, list) = admin.get(&url).await;
    assert_eq!(list["data"], json!([]), "a refused creation stores nothing");

    let k = create(&admin, &ws, json!({ "name": "keep" })).await;
    let id = k["id"].as_str().unwrap();
    let before = key_object(&admin, &ws, id).await;
    for body in [
        json!({ "grace_period_secs": -1 }),
        json!({ "grace_period_secs": 604_801 }),
        json!({ "grace_period_secs": "60" }),
        json!({ "grace": 60 }),
    ] {
        let (s, v) = roll(&admin, &ws, id, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {v}");
        let field = v["errors"][0]["field"].as_str().unwrap();
        assert!(field == "grace_period_secs" || field == "grace", "{v}");
        assert_ne!(v["errors"][0]["code"], "", "{v}");
    }
    let (_, list) = admin.get(&url).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "a refused roll creates no successor");
    assert_eq!(key_object(&admin, &ws, id).await, before, "a refused roll changes nothing");
}

#[tokio::test]
async fn a_rolled_key_works_through_its_grace_and_is_refused_from_the_instant_it_ends() {
    let AppWithAdmin { app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    let old = create(&admin, &ws, json!({ "name": "Zapier", "expires_in_days": 90, "scopes": ["studies:read"] })).await;
    let old_id = old["id"].as_str().unwrap();
    let old_secret = old["key"].as_str().unwrap();
    let (s, _) = admin
        .put(&format!("/api/workspaces/{ws}/api-keys/{old_id}/allowed-ips"), json!({ "cidrs": ["127.0.0.1", "::1"] }))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.v1_get("/v1/studies", old_secret).await.0, StatusCode::OK);

    let rolled_at = now_ms();
    let new = admin
        .post_secret(&format!("/api/workspaces/{ws}/api-keys/{old_id}/roll"), json!({ "grace_period_secs": 2 }))
        .await;
    let new_secret = new["key"].as_str().unwrap();
    assert_ne!(new["id"], old["id"]);
    let today = &Timestamp(rolled_at).to_string()[..10];
    assert_eq!(new["name"], format!("Zapier (rolled {today})"));
    assert_eq!(new["scopes"], json!(["studies:read"]));
    assert_eq!(new["allowed_cidrs"], json!(["127.0.0.1/32", "::1/128"]));
    assert_eq!(new["expires_at"], old["expires_at"], "the successor keeps the remaining lifetime");

    let old_now = key_object(&admin, &ws, old_id).await;
    assert_eq!(old_now["rolled_to"], new["id"]);
    let grace_end = ts(&old_now["expires_at"]);
    assert!(grace_end >= rolled_at + 2000 && grace_end <= now_ms() + 2000, "{old_now}");
    assert_eq!(old_now["status"], "active");

    // The old key answers until the end of its grace, and 401 from that instant.
    let refused = eventually(10, || async {
        let sent = now_ms();
        let (s, v) = app.v1_get("/v1/studies", old_secret).await;
        let answered = now_ms();
        match s {
            StatusCode::OK => {
                assert!(sent < grace_end, "answered 200 to a request sent {} ms after the grace", sent - grace_end);
                None
            }
            StatusCode::UNAUTHORIZED => {
                assert!(answered >= grace_end, "refused {} ms before the grace ended", grace_end - answered);
                Some(v)
            }
            other => panic!("{other}: {v}"),
        }
    })
    .await;
    assert_eq!(refused["code"], "api_key_expired");
    assert!(refused["detail"].as_str().unwrap().contains(&Timestamp(grace_end).to_string()), "{refused}");
    let (s, _) = app.v1_get("/v1/studies", new_secret).await;
    assert_eq!(s, StatusCode::OK, "the successor works");
    assert_eq!(key_object(&admin, &ws, old_id).await["status"], "expired");

    // Refused requests of the expired key are still in its usage.
    eventually(10, || async {
        let (_, u) = admin.get(&format!("/api/workspaces/{ws}/api-usage?key_id={old_id}")).await;
        (u["last_24h"]["by_code"]["api_key_expired"].as_u64() >= Some(1)).then_some(())
    })
    .await;

    // The audit log has the roll.
    let (_, audit) = admin.get(&format!("/api/workspaces/{ws}/audit-log")).await;
    let rolled = audit["data"].as_array().unwrap().iter().find(|e| e["action"] == "key.rolled").unwrap().clone();
    assert_eq!(rolled["key_id"], old["id"]);
    assert_eq!(rolled["details"]["rolled_to"], new["id"]);
    assert_eq!(rolled["actor"], admin.email.as_str());
}

#[tokio::test]
async fn a_roll_never_extends_a_keys_lifetime() {
    let AppWithAdmin { app: _app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    let old = create(&admin, &ws, json!({ "name": "short", "expires_in_days": 1 })).await;
    let id = old["id"].as_str().unwrap();
    let (s, new) = roll(&admin, &ws, id, json!({ "grace_period_secs": 604_800 })).await;
    assert_eq!(s, StatusCode::CREATED, "{new}");
    assert_eq!(new["expires_at"], old["expires_at"]);
    assert_eq!(key_object(&admin, &ws, id).await["expires_at"], old["expires_at"], "grace beyond the expiry is cut");

    // An empty body takes the default grace of 24 hours.
    let never = create(&admin, &ws, json!({ "name": "never" })).await;
    let res = admin
        .request(Method::POST, &format!("/api/workspaces/{ws}/api-keys/{}/roll", never["id"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let succ: Value = res.json().await.unwrap();
    assert!(succ["expires_at"].is_null());
    let old_exp = ts(&key_object(&admin, &ws, never["id"].as_str().unwrap()).await["expires_at"]);
    assert!((old_exp - (now_ms() + DAY_MS)).abs() < 60_000);
}

#[tokio::test]
async fn revoked_expired_rolled_or_foreign_keys_cannot_be_rolled() {
    let AppWithAdmin { app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    let a = create(&admin, &ws, json!({ "name": "a" })).await;
    let a_id = a["id"].as_str().unwrap();
    // Grace 0: the old key is refused from the roll on.
    let (s, _) = roll(&admin, &ws, a_id, json!({ "grace_period_secs": 0 })).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = app.v1_get("/v1/me", a["key"].as_str().unwrap()).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("api_key_expired")));
    let (s, v) = roll(&admin, &ws, a_id, json!({})).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::CONFLICT, Some("key_not_active")), "{v}");
    assert!(v["detail"].as_str().unwrap().contains("expired"), "{v}");

    let b = create(&admin, &ws, json!({ "name": "b" })).await;
    let b_id = b["id"].as_str().unwrap();
    assert_eq!(roll(&admin, &ws, b_id, json!({ "grace_period_secs": 3600 })).await.0, StatusCode::CREATED);
    let (s, v) = roll(&admin, &ws, b_id, json!({})).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::CONFLICT, Some("key_not_active")), "already rolled: {v}");

    let c = create(&admin, &ws, json!({ "name": "c" })).await;
    let c_id = c["id"].as_str().unwrap();
    assert_eq!(admin.delete(&format!("/api/workspaces/{ws}/api-keys/{c_id}")).await.0, StatusCode::NO_CONTENT);
    let (s, v) = roll(&admin, &ws, c_id, json!({})).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::CONFLICT, Some("key_not_active")), "{v}");
    assert!(v["detail"].as_str().unwrap().contains("revoked"), "{v}");

    let Admin { workspace_id: other_ws, admin: other } = app.add_admin(Plan::Pro).await;
    let (s, _) = roll(&other, &other_ws, c_id, json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another workspace's key");
    let (s, _) = roll(&admin, &ws, "key_nope", json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let no_csrf = admin
        .http
        .post(format!("{}/api/workspaces/{ws}/api-keys/{c_id}/roll", admin.base))
        .header("cookie", &admin.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    let (_, list) = admin.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 5, "a, b, c and the two successors");

    // On the free plan keys are suspended, and none can be rolled into existence.
    let d = create(&admin, &ws, json!({ "name": "d" })).await;
    app.store.set_plan(&keyward_core::WorkspaceId::new(&*ws), Plan::Free).await.unwrap();
    let (s, v) = roll(&admin, &ws, d["id"].as_str().unwrap(), json!({})).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("plan_required")), "{v}");
}

/// A path of the operation table with its `{id}` filled in.
fn concrete(path: &str) -> String {
    path.replace("{id}", "std_01JD8X4V6Q2W3E4R5T6Y7Z8A9B")
}

#[tokio::test]
async fn every_operation_in_the_table_refuses_a_key_without_its_scope_and_serves_one_with_it() {
    let AppWithAdmin { app, workspace_id: ws, admin } =
        TestApp::builder().plan(Plan::Enterprise).with_admin().spawn().await;
    let table = operation_scopes();
    assert!(table.len() >= 8, "the table lists the operations");
    for op in table {
        let Some(scope) = op.scope else {
            // Only /v1/me: any key, even one with a single unrelated scope.
            let k = create(&admin, &ws, json!({ "name": "one", "scopes": ["webhooks:write"] })).await;
            let res = app.v1(op.method.clone(), &concrete(&op.path), k["key"].as_str().unwrap()).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{} {}", op.method, op.path);
            continue;
        };
        let others: Vec<&str> = Scope::ALL.iter().filter(|s| **s != scope).map(|s| s.as_str()).collect();
        let without = create(&admin, &ws, json!({ "name": "without", "scopes": others })).await;
        let with = create(&admin, &ws, json!({ "name": "with", "scopes": [scope.as_str()] })).await;
        let send = |secret: &str| {
            let rb = app.v1(op.method.clone(), &concrete(&op.path), secret);
            if op.method == Method::POST {
                rb.json(&json!({}))
            } else {
                rb
            }
        };
        let (s, v) = body(send(without["key"].as_str().unwrap()).send().await.unwrap()).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("insufficient_scope")),
            "{} {}: {v}",
            op.method,
            op.path
        );
        assert!(v["detail"].as_str().unwrap().contains(scope.as_str()), "{v}");
        let res = send(with["key"].as_str().unwrap()).send().await.unwrap();
        assert!(res.headers().contains_key("x-ratelimit-limit"));
        let (s, v) = body(res).await;
        assert!(s != StatusCode::FORBIDDEN && s.as_u16() < 500, "{} {} with {scope}: {s} {v}", op.method, op.path);
        for k in [without, with] {
            admin.delete(&format!("/api/workspaces/{ws}/api-keys/{}", k["id"].as_str().unwrap())).await;
        }
    }
    // A read-only key is refused a POST with a clear message.
    let ro = create(&admin, &ws, json!({ "name": "ro", "scopes": ["studies:read", "transcripts:read"] })).await;
    let (s, v) = app.v1_post("/v1/studies", ro["key"].as_str().unwrap(), json!({ "name": "x" })).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("insufficient_scope")), "{v}");
    assert_eq!(v["detail"], "this API key lacks the studies:write scope, which POST /v1/studies needs");
}

#[tokio::test]
async fn the_openapi_document_names_each_operations_scope() {
    let app = TestApp::spawn().await;
    let doc = app.openapi_doc().await;
    for op in operation_scopes() {
        let o = &doc["paths"][&op.path][op.method.as_str().to_lowercase()];
        let want: Vec<&str> = op.scope.map(Scope::as_str).into_iter().collect();
        assert_eq!(o["security"], json!([{ "bearerAuth": want }]), "{} {}", op.method, op.path);
        assert_eq!(o["operationId"], op.operation_id.as_str());
    }
    assert_eq!(doc["paths"]["/v1/studies"]["post"]["security"], json!([{ "bearerAuth": ["studies:write"] }]));
    assert!(doc["paths"]["/v1/studies"]["post"]["responses"]["403"]["description"]
        .as_str()
        .unwrap()
        .contains("insufficient_scope"));
}

#[tokio::test]
async fn requests_24h_counts_each_keys_requests_from_the_rollups() {
    let AppWithAdmin { app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    let NewKey { id: busy, secret: busy_secret } = admin.new_key(&ws, "busy").await;
    let NewKey { id: idle, .. } = admin.new_key(&ws, "idle").await;
    let NewKey { id: quiet, secret: quiet_secret } = admin.new_key(&ws, "quiet").await;
    for _ in 0..3 {
        app.v1_get("/v1/me", &busy_secret).await;
    }
    app.v1_get("/v1/studies/nope", &quiet_secret).await;
    let counts = eventually(10, || async {
        let (_, list) = admin.get(&format!("/api/workspaces/{ws}/api-keys")).await;
        let n = |id: &str| {
            list["data"].as_array().unwrap().iter().find(|k| k["id"] == id).unwrap()["requests_24h"].as_u64()
        };
        let c = (n(&busy), n(&idle), n(&quiet));
        (c == (Some(3), Some(0), Some(1))).then_some(c)
    })
    .await;
    assert_eq!(counts, (Some(3), Some(0), Some(1)));
    let (_, usage) = admin.get(&format!("/api/workspaces/{ws}/api-usage?key_id={busy}")).await;
    assert_eq!(usage["last_24h"]["total"], 3, "the same window as api-usage");
}

#[tokio::test]
async fn keys_expiring_within_7_days_are_announced_once() {
    let AppWithAdmin { app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    let soon = create(&admin, &ws, json!({ "name": "soon", "expires_in_days": 3 })).await;
    create(&admin, &ws, json!({ "name": "later", "expires_in_days": 30 })).await;
    create(&admin, &ws, json!({ "name": "never" })).await;
    let rolled = create(&admin, &ws, json!({ "name": "rolled", "expires_in_days": 2 })).await;
    let (s, successor) = roll(&admin, &ws, rolled["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(s, StatusCode::CREATED);

    // The server's own check ran at start; this is the hourly one.
    keyward::lifecycle::check_expiring(&app.store, now_ms()).await;
    let expiring = || async {
        let (_, n) = admin.get(&format!("/api/workspaces/{ws}/notifications")).await;
        let mut ids: Vec<String> = n["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["kind"] == "key.expiring")
            .map(|x| x["key_id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let mut want = vec![soon["id"].as_str().unwrap().to_string(), successor["id"].as_str().unwrap().to_string()];
    want.sort();
    assert_eq!(expiring().await, want, "the 3-day key and the 2-day key's successor; not the rolled key in its grace");
    let again = keyward::lifecycle::check_expiring(&app.store, now_ms()).await;
    assert!(again.iter().all(|k| k.workspace_id != ws), "once per key");
    assert_eq!(expiring().await, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_rolls_a_key_from_the_cli_and_lists_the_lifecycle_fields() {
    let AppWithAdmin { app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    let old =
        create(&admin, &ws, json!({ "name": "cron", "scopes": ["transcripts:read"], "expires_in_days": 10 })).await;
    let old_id = old["id"].as_str().unwrap();
    let (ok, out, err) = app.cli(&["key", "roll", old_id, "--grace-secs", "0", "--json"]);
    assert!(ok, "{out} {err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let secret = v["key"].as_str().unwrap();
    assert_eq!(v["scopes"], json!(["transcripts:read"]));
    assert_eq!(v["expires_at"], old["expires_at"]);
    assert_eq!(app.v1_get("/v1/transcripts", secret).await.0, StatusCode::OK, "the new secret works at once");
    assert_eq!(app.v1_get("/v1/me", old["key"].as_str().unwrap()).await.1["code"], "api_key_expired");

    let (ok, text, _) = app.cli(&["key", "list", "--workspace", &ws]);
    assert!(ok);
    assert!(text.contains("ROLLED TO") && text.contains("REQ 24H") && text.contains("EXPIRES"), "{text}");
    let old_line = text.lines().find(|l| l.starts_with(old_id)).unwrap();
    assert!(old_line.contains(v["id"].as_str().unwrap()) && old_line.contains("expired"), "{text}");
    assert!(old_line.contains("transcripts:read"), "{text}");
    assert!(!text.contains(secret), "the list never shows a secret");
    let (ok, json_out, _) = app.cli(&["key", "list", "--workspace", &ws, "--json"]);
    assert!(ok);
    let list: Value = serde_json::from_str(&json_out).unwrap();
    let listed_old = list["data"].as_array().unwrap().iter().find(|k| k["id"] == old_id).unwrap().clone();
    assert_eq!((listed_old["status"].as_str(), listed_old["rolled_to"].clone()), (Some("expired"), v["id"].clone()));

    let (ok, _, err) = app.cli(&["key", "roll", old_id]);
    assert!(!ok && err.contains("expired"), "{err}");
    let (ok, _, err) = app.cli(&["key", "roll", v["id"].as_str().unwrap(), "--grace-secs", "604801"]);
    assert!(!ok && err.contains("grace"), "{err}");
}

#[tokio::test]
async fn a_rolled_key_is_refused_on_every_node_from_the_same_instant() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_node(&a).await;
    let AdminWithKey { workspace_id: ws, admin, key: NewKey { id, secret } } = a.add_admin_with_key(Plan::Pro).await;
    // Both nodes have served (on SQLite: cached) the key before the roll.
    for node in [&a, &b] {
        assert_eq!(node.v1_get("/v1/me", &secret).await.0, StatusCode::OK);
    }
    let (s, _) = roll(&admin, &ws, &id, json!({ "grace_period_secs": 1 })).await;
    assert_eq!(s, StatusCode::CREATED);
    let grace_end = ts(&key_object(&admin, &ws, &id).await["expires_at"]);
    for node in [&a, &b] {
        eventually(10, || async {
            let sent = now_ms();
            let (s, v) = node.v1_get("/v1/me", &secret).await;
            match s {
                StatusCode::OK => {
                    assert!(sent < grace_end, "200 for a request sent {} ms after the grace", sent - grace_end);
                    None
                }
                _ => {
                    assert_eq!(v["code"], "api_key_expired", "{v}");
                    assert!(now_ms() >= grace_end);
                    Some(())
                }
            }
        })
        .await;
    }
}
