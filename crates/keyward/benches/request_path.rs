//! The cost of each step of the authenticated request path, and of a whole
//! `/v1/me` served in-process (no sockets), on a cache hit.
//!
//! `cargo bench -p keyward --bench request_path`
//! (one group: `cargo bench -p keyward --bench request_path -- expiry_scope`)
// Test fixtures and measurements: small counts and durations, times after
// 1970; the casts cannot lose them, and `TryFrom` would only add noise.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::Request;
use criterion::{criterion_group, criterion_main, Criterion};
use keyward::config::{ServeArgs, StoreArgs};
use keyward::state::AppState;
use keyward::store::Store;
use keyward_core::key;
use std::hint::black_box;
use std::net::SocketAddr;
use tower::ServiceExt;

struct Fixture {
    _dir: tempfile::TempDir,
    state: AppState,
    secret: String,
    rt: tokio::runtime::Runtime,
}

fn fixture() -> Fixture {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (state, secret) = rt.block_on(async {
        let config = ServeArgs::defaults_for(StoreArgs { data_dir: dir.path().to_path_buf(), database_url: None });
        let store = Store::open(&config.store.location().unwrap()).await.unwrap();
        let user = store.create_user("bench@example.com", "x").await.unwrap();
        let (_, mut secrets) = keyward::demo::load_test_workspace(&store, &user, "bench", 1).await.unwrap();
        let secret = secrets.pop().unwrap();
        let (state, bg) = AppState::new(store, config).await.unwrap();
        // Drain usage records as the writer would, without storage.
        tokio::spawn(bg.discard_usage());
        (state, secret.expose().to_string())
    });
    Fixture { _dir: dir, state, secret, rt }
}

fn steps(c: &mut Criterion) {
    let f = fixture();
    let hash = key::parse(&f.secret).unwrap().hash();
    // Warm the cache.
    f.rt.block_on(f.state.keys.lookup(&hash)).unwrap().unwrap();

    c.bench_function("step/parse_and_checksum", |b| b.iter(|| key::parse(black_box(&f.secret))));
    let parsed = key::parse(&f.secret).unwrap();
    c.bench_function("step/sha256", |b| b.iter(|| black_box(parsed).hash()));
    c.bench_function("step/key_lookup_cache_hit", |b| {
        b.to_async(&f.rt).iter(|| async { f.state.keys.lookup(black_box(&hash)).await.unwrap() })
    });
    let vk = f.rt.block_on(f.state.keys.lookup(&hash)).unwrap().unwrap();
    let ip = "203.0.113.9".parse().unwrap();
    c.bench_function("step/ip_check", |b| b.iter(|| vk.allows(black_box(ip))));
    let mut now = keyward::store::now_ms() as u64;
    c.bench_function("step/rate_limit_check", |b| {
        b.to_async(&f.rt).iter(|| {
            now += 1;
            let s = &f.state;
            async move { s.limiter.try_acquire(&hash, 10_000_000, now).await }
        })
    });
    c.bench_function("step/usage_enqueue", |b| {
        b.to_async(&f.rt).iter(|| async {
            f.state
                .usage
                .record(keyward::usage::UsageRecord {
                    at_ms: 0,
                    workspace_id: vk.key.workspace_id.clone(),
                    key_id: vk.key.id.clone(),
                    method: "GET",
                    route: "/v1/me".into(),
                    path: "/v1/me".into(),
                    status: 200,
                    code: None,
                    latency_us: 10,
                    ip,
                })
                .await
        })
    });
}

/// Issue 23: the expiry check (step 3) and the scope check (step 7) on a
/// cached key, as the `/v1` pipeline runs them: the comparison with the
/// key's `expires_at`, then the matched route's lookup (interned template)
/// and the scope its method needs against the key's scope set.
fn expiry_and_scope(c: &mut Criterion) {
    use axum::http::Method;
    use keyward::http::v1::auth::{expired, missing_scope, routes};
    let f = fixture();
    let hash = key::parse(&f.secret).unwrap().hash();
    let vk = f.rt.block_on(f.state.keys.lookup(&hash)).unwrap().unwrap();
    let now = keyward::store::now_ms();
    let post = Method::POST;
    // The route is interned per request in the pipeline (it also names the
    // usage record's route), so both forms are measured.
    let route = routes::intern("/v1/studies/{id}/transcripts");
    assert!(!expired(&vk, now));
    assert_eq!(missing_scope(&route, &post, &vk), None, "an all-scopes key passes");
    let mut g = c.benchmark_group("expiry_scope");
    g.bench_function("expiry_only", |b| b.iter(|| expired(black_box(&vk), black_box(now))));
    g.bench_function("scope_only_interned_route", |b| {
        b.iter(|| missing_scope(black_box(&route), black_box(&post), black_box(&vk)))
    });
    g.bench_function("expiry_and_scope_interned_route", |b| {
        b.iter(|| {
            let vk = black_box(&vk);
            (expired(vk, black_box(now)), missing_scope(black_box(&route), black_box(&post), vk))
        })
    });
    g.bench_function("expiry_and_scope_with_route_lookup", |b| {
        b.iter(|| {
            let vk = black_box(&vk);
            let r = routes::intern(black_box("/v1/studies/{id}/transcripts"));
            (expired(vk, black_box(now)), missing_scope(&r, black_box(&post), vk))
        })
    });
    g.finish();
}

fn whole_request(c: &mut Criterion) {
    let f = fixture();
    let app =
        keyward::http::router(f.state.clone()).layer(MockConnectInfo(SocketAddr::from(([203, 0, 113, 9], 40000))));
    let auth = format!("Bearer {}", f.secret);
    let mut g = c.benchmark_group("request");
    g.bench_function("healthz", |b| {
        b.to_async(&f.rt).iter(|| {
            let app = app.clone();
            async move { app.oneshot(Request::get("/healthz").body(Body::empty()).unwrap()).await.unwrap() }
        })
    });
    g.bench_function("v1_me_authenticated", |b| {
        b.to_async(&f.rt).iter(|| {
            let app = app.clone();
            let auth = auth.clone();
            async move {
                let res = app
                    .oneshot(Request::get("/v1/me").header("authorization", auth).body(Body::empty()).unwrap())
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                res
            }
        })
    });
    g.finish();
}

criterion_group!(benches, steps, expiry_and_scope, whole_request);
criterion_main!(benches);
