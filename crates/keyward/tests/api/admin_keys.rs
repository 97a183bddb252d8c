//! The key lifecycle through the admin API (SPEC §2, §3, §5) and `/v1/me`.
use crate::helpers::*;
use keyward_core::{Plan, Role};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn a_new_key_is_shown_once_then_only_masked() {
    let AppWithAdmin { app: _app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    let created = admin
        .post_secret(&format!("/api/workspaces/{ws}/api-keys"), json!({ "name": "  Zapier — onboarding study  " }))
        .await;
    let secret = created["key"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 46);
    assert!(secret.starts_with("ue_live_"));
    assert_eq!(created["name"], "Zapier — onboarding study");
    assert_eq!(created["masked"], format!("ue_live_••••••••{}", &secret[42..]));
    assert_eq!(created["status"], "active");
    assert_eq!(created["created_by"], json!({ "id": admin.user_id, "email": admin.email, "is_member": true }));

    let (s, list) = admin.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    assert_eq!(s, StatusCode::OK);
    let text = list.to_string();
    assert!(!text.contains(&secret) && !text.contains(&secret[8..40]), "the list must never hold the secret");
    let listed = &list["data"][0];
    assert!(listed.get("key").is_none());
    for field in [
        "id",
        "name",
        "masked",
        "last4",
        "status",
        "created_at",
        "created_by",
        "last_used_at",
        "last_used_ip",
        "revoked_at",
        "revoke_reason",
        "allowed_cidrs",
    ] {
        assert!(listed.get(field).is_some(), "missing {field}");
    }
}

#[tokio::test]
async fn keys_are_listed_newest_first() {
    let AppWithAdmin { app: _app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    let NewKey { id: a, .. } = admin.new_key(&ws, "first").await;
    let NewKey { id: b, .. } = admin.new_key(&ws, "second").await;
    let (_, list) = admin.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    let ids: Vec<_> = list["data"].as_array().unwrap().iter().map(|k| k["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, vec![b, a]);
}

#[tokio::test]
async fn me_answers_with_the_keys_workspace_key_and_limit() {
    let AppWithKey { app, workspace_id: ws, key: NewKey { id, secret }, .. } =
        TestApp::builder().plan(Plan::Starter).with_key().spawn().await;
    let res = app.v1(reqwest::Method::GET, "/v1/me", &secret).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["ratelimit-policy"], "\"starter\";q=60;w=60");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["workspace"], json!({ "id": ws, "name": "Acme Research", "plan": "starter" }));
    assert_eq!(v["key"]["id"], id.as_str());
    assert_eq!(v["key"]["name"], "integration");
    assert_eq!(v["key"]["masked"], format!("ue_live_••••••••{}", &secret[42..]));
    assert_eq!(v["rate_limit"], json!({ "requests_per_minute": 60 }));
}

#[tokio::test]
async fn invalid_keys_get_401_invalid_api_key_with_www_authenticate() {
    let AppWithKey { app, key: NewKey { secret, .. }, .. } = TestApp::builder().with_key().spawn().await;
    let mut tampered = secret.clone().into_bytes();
    tampered[20] = if tampered[20] == b'a' { b'b' } else { b'a' };
    let made_up = {
        let k = keyward_core::ApiKeySecret::generate();
        k.expose().to_string()
    };
    let cases = [
        None,
        Some("Bearer".to_string()),
        Some("Bearer not-a-key".to_string()),
        Some(format!("Bearer {}", String::from_utf8(tampered).unwrap())),
        Some(format!("Basic {secret}")),
        Some(format!("Bearer {made_up}")),
    ];
    for auth in cases {
        let mut rb = app.http.get(app.url("/v1/me"));
        if let Some(a) = &auth {
            rb = rb.header("authorization", a);
        }
        let res = rb.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert!(res.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["code"], "invalid_api_key");
        assert!(!v.to_string().contains(&secret[8..40]), "never echo a key");
    }
    // A key in the query string never authenticates.
    let (s, _) = body(app.http.get(app.url(&format!("/v1/me?api_key={secret}"))).send().await.unwrap()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revocation_is_immediate_and_says_when_and_how() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { id, secret } } =
        TestApp::builder().with_key().spawn().await;
    assert_eq!(app.v1_get("/v1/me", &secret).await.0, StatusCode::OK);
    let (s, _) = admin.delete(&format!("/api/workspaces/{ws}/api-keys/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = app.v1_get("/v1/me", &secret).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("api_key_revoked")));
    let detail = v["detail"].as_str().unwrap();
    assert!(detail.contains("manually") && detail.contains(&chrono_like_date()), "{detail}");
    // Revoking again is fine and changes nothing.
    let (s, _) = admin.delete(&format!("/api/workspaces/{ws}/api-keys/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, list) = admin.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    assert_eq!(list["data"][0]["status"], "revoked");
    assert_eq!(list["data"][0]["revoke_reason"], "manual");
    assert!(list["data"][0]["revoked_at"].is_string());
}

fn chrono_like_date() -> String {
    // The detail carries an RFC 3339 time; today's date is enough to check.
    keyward_core::api::Timestamp(keyward::store::now_ms()).to_rfc3339()[..10].to_string()
}

#[tokio::test]
async fn roles_below_admin_get_403_and_strangers_404() {
    let AppWithKey { app, workspace_id: ws, key: NewKey { id, .. }, .. } = TestApp::builder().with_key().spawn().await;
    let member = app.user(&ws, "member@example.com", Role::Member).await;
    let participant = app.user(&ws, "participant@example.com", Role::Participant).await;
    let Admin { workspace_id: other_ws, admin: stranger } = app.add_admin(Plan::Pro).await;
    let _ = other_ws;
    let keys = format!("/api/workspaces/{ws}/api-keys");
    let one = format!("{keys}/{id}");
    for s in [&member, &participant] {
        assert_eq!(s.get(&keys).await.1["code"], "forbidden");
        assert_eq!(s.post(&keys, json!({ "name": "x" })).await.0, StatusCode::FORBIDDEN);
        assert_eq!(s.delete(&one).await.0, StatusCode::FORBIDDEN);
        assert_eq!(s.get(&format!("/api/workspaces/{ws}/audit-log")).await.0, StatusCode::FORBIDDEN);
    }
    for (s, v) in [
        stranger.get(&keys).await,
        stranger.post(&keys, json!({ "name": "x" })).await,
        stranger.delete(&one).await,
        stranger.put(&format!("{one}/allowed-ips"), json!({ "cidrs": [] })).await,
        stranger.get(&format!("/api/workspaces/{ws}/audit-log")).await,
        stranger.get(&format!("/api/workspaces/{ws}/api-usage")).await,
    ] {
        assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    }
    // A superadmin may.
    let sa = app.user(&ws, "sa@example.com", Role::Superadmin).await;
    assert_eq!(sa.get(&keys).await.0, StatusCode::OK);
}

#[tokio::test]
async fn another_workspaces_key_id_is_404_and_stays_active() {
    let AppWithKey { app, key: NewKey { id: key_a, secret: secret_a }, .. } =
        TestApp::builder().with_key().spawn().await;
    let Admin { workspace_id: ws_b, admin: b } = app.add_admin(Plan::Pro).await;
    let (s, _) = b.delete(&format!("/api/workspaces/{ws_b}/api-keys/{key_a}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = b.put(&format!("/api/workspaces/{ws_b}/api-keys/{key_a}/allowed-ips"), json!({ "cidrs": [] })).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(app.v1_get("/v1/me", &secret_a).await.0, StatusCode::OK);
}

#[tokio::test]
async fn free_plans_cannot_generate_keys_and_existing_keys_are_suspended() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { id, secret } } =
        TestApp::builder().with_key().spawn().await;
    app.store.set_plan(&keyward_core::WorkspaceId::new(&*ws), Plan::Free).await.unwrap();
    let (s, v) = admin.post(&format!("/api/workspaces/{ws}/api-keys"), json!({ "name": "x" })).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("plan_required")));
    let (s, v) = app.v1_get("/v1/me", &secret).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("plan_required")));
    // Admins can still list (and revoke) them.
    assert_eq!(admin.get(&format!("/api/workspaces/{ws}/api-keys")).await.1["data"][0]["id"], id.as_str());
    // An upgrade brings them back at once.
    app.store.set_plan(&keyward_core::WorkspaceId::new(&*ws), Plan::Enterprise).await.unwrap();
    let (s, v) = app.v1_get("/v1/me", &secret).await;
    assert_eq!((s, v["rate_limit"]["requests_per_minute"].as_u64()), (StatusCode::OK, Some(1000)));
}

#[tokio::test]
async fn key_names_must_be_1_to_100_characters_after_trimming() {
    let AppWithAdmin { app: _app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    let path = format!("/api/workspaces/{ws}/api-keys");
    for bad in [json!({ "name": "   " }), json!({ "name": "x".repeat(101) }), json!({}), json!({ "name": 5 })] {
        let (s, v) = admin.post(&path, bad.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(v["errors"][0]["field"], "name", "{v}");
        assert!(!v.to_string().contains(&"x".repeat(101)), "no echo of long input");
    }
    let (s, v) = admin.post(&path, json!({ "name": "é".repeat(100) })).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _) = admin.post(&path, json!({ "name": "ok", "extra": 1 })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, list) = admin.get(&path).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "bad input created nothing");
}

#[tokio::test]
async fn at_most_100_active_keys_per_workspace() {
    let AppWithAdmin { app: _app, workspace_id: ws, admin } = TestApp::builder().with_admin().spawn().await;
    let mut first = None;
    for i in 0..100 {
        let NewKey { id, .. } = admin.new_key(&ws, &format!("k{i}")).await;
        first.get_or_insert(id);
    }
    let path = format!("/api/workspaces/{ws}/api-keys");
    let (s, v) = admin.post(&path, json!({ "name": "one too many" })).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("limit_reached")));
    admin.delete(&format!("{path}/{}", first.unwrap())).await;
    assert_eq!(admin.post(&path, json!({ "name": "fits again" })).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn a_key_survives_its_creators_removal_and_is_flagged() {
    let AppWithKey { app, workspace_id: ws, admin: creator, key: NewKey { id, secret } } =
        TestApp::builder().with_key().spawn().await;
    let other = app.user(&ws, "other-admin@example.com", Role::Admin).await;
    app.store
        .remove_member(&keyward_core::WorkspaceId::new(&*ws), &keyward_core::UserId::new(&*creator.user_id))
        .await
        .unwrap();
    assert_eq!(app.v1_get("/v1/me", &secret).await.0, StatusCode::OK);
    let (_, list) = other.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    assert_eq!(list["data"][0]["id"], id.as_str());
    assert_eq!(list["data"][0]["created_by"]["is_member"], false);
    assert_eq!(list["data"][0]["created_by"]["email"], creator.email.as_str());
}

#[tokio::test]
async fn last_used_time_and_ip_are_recorded_without_a_write_per_request() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { secret, .. } } =
        TestApp::builder().with_key().spawn().await;
    assert_eq!(app.v1_get("/v1/me", &secret).await.0, StatusCode::OK);
    let key = admin.first_key_with(&ws, "last_used_at").await;
    assert_eq!(key["last_used_ip"], "127.0.0.1");
}

#[tokio::test]
async fn the_audit_log_tells_the_story_newest_first_without_secrets() {
    let AppWithKey { app: _app, workspace_id: ws, admin, key: NewKey { id, secret } } =
        TestApp::builder().with_key().spawn().await;
    admin.put(&format!("/api/workspaces/{ws}/api-keys/{id}/allowed-ips"), json!({ "cidrs": ["10.0.0.0/8"] })).await;
    admin.delete(&format!("/api/workspaces/{ws}/api-keys/{id}")).await;
    let (s, log) = admin.get(&format!("/api/workspaces/{ws}/audit-log")).await;
    assert_eq!(s, StatusCode::OK);
    let actions: Vec<_> = log["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["key.revoked", "key.allowed_ips_changed", "key.created"]);
    assert_eq!(log["has_more"], false);
    let revoked = &log["data"][0];
    assert_eq!(revoked["actor"], admin.email.as_str());
    assert_eq!(revoked["key_id"], id.as_str());
    assert_eq!(revoked["details"]["reason"], "manual");
    assert!(!log.to_string().contains(&secret[8..40]));
    // Pagination.
    let (_, page) = admin.get(&format!("/api/workspaces/{ws}/audit-log?limit=2")).await;
    assert_eq!((page["data"].as_array().unwrap().len(), page["has_more"].as_bool()), (2, Some(true)));
    let last = page["data"][1]["id"].as_str().unwrap();
    let (_, rest) = admin.get(&format!("/api/workspaces/{ws}/audit-log?limit=2&starting_after={last}")).await;
    assert_eq!(rest["data"][0]["action"], "key.created");
    assert_eq!(rest["has_more"], false);
    // Bad paging parameters are 422s naming the parameter, never a 400.
    for bad in ["limit=abc", "limit=0", "limit=101", "lmit=5"] {
        let (s, v) = admin.get(&format!("/api/workspaces/{ws}/audit-log?{bad}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
        assert!(["limit", "lmit"].contains(&v["errors"][0]["field"].as_str().unwrap()), "{bad}: {v}");
    }
}

#[tokio::test]
async fn only_the_sha256_of_a_key_is_stored_anywhere_under_the_data_dir() {
    let AppWithKey { app, workspace_id: ws, admin, key: NewKey { secret, .. } } =
        TestApp::builder().with_key().spawn().await;
    for _ in 0..3 {
        app.v1_get("/v1/me", &secret).await;
    }
    admin.get(&format!("/api/workspaces/{ws}/api-usage")).await;
    let pg = app.db.clone();
    let (dir, _) = app.stop().await;
    let hash = keyward_core::key::parse(&secret).unwrap().hash();
    let random_part = &secret.as_bytes()[8..40];
    let mut found_hash = false;
    if let Some(db) = pg {
        // On PostgreSQL the store is the database, not files.
        let dump = db.dump_text().await;
        assert!(!dump.contains(&secret) && !dump.contains(&secret[8..40]), "secret found in the database");
        assert!(dump.contains(&hex::encode(hash.as_bytes())), "the SHA-256 of the key is stored");
        return;
    }
    for entry in walk(dir.path()) {
        // SQLite may still be removing its -wal/-shm files as the last
        // pooled connection closes (their pages are in the database file).
        let bytes = match std::fs::read(&entry) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            r => r.unwrap(),
        };
        assert!(!contains(&bytes, secret.as_bytes()), "secret found in {}", entry.display());
        assert!(!contains(&bytes, random_part), "random part found in {}", entry.display());
        found_hash |= contains(&bytes, hash.as_bytes()) || contains(&bytes, hex::encode(hash.as_bytes()).as_bytes());
    }
    assert!(found_hash, "the SHA-256 of the key is stored");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
