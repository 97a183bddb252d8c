//! The cost of each step of the authenticated request path, and of a whole
//! `/v1/me` served in-process (no sockets), on a cache hit.
//!
//! `cargo bench -p keyward --bench request_path`
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::Request;
use criterion::{criterion_group, criterion_main, Criterion};
use keyward::app::AppState;
use keyward::config::{ServeArgs, StoreArgs};
use keyward::store::Store;
use keyward_core::{key, ApiKeySecret, HashedKey, Plan, Role};
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
        let ws = store.create_workspace("Bench", Plan::Enterprise).await.unwrap();
        store.set_rate_limit(&ws.id, Some(keyward_core::plan::MAX_RPM_OVERRIDE)).await.unwrap();
        let user = store.create_user("bench@example.com", "x").await.unwrap();
        store.upsert_member(&ws.id, &user.id, Role::Admin).await.unwrap();
        let secret = ApiKeySecret::generate();
        store.create_key(&ws.id, "bench", &secret.hash(), secret.last4(), (&user.id, &user.email)).await.unwrap();
        let (state, bg) = AppState::new(store, config).await.unwrap();
        // Drain usage records as the writer would, without storage.
        tokio::spawn(bg.discard_usage());
        (state, secret.expose().to_string())
    });
    Fixture { _dir: dir, state, secret, rt }
}

fn steps(c: &mut Criterion) {
    let f = fixture();
    let hash = HashedKey::of(&f.secret);
    // Warm the cache.
    f.rt.block_on(f.state.keys.lookup(&hash)).unwrap().unwrap();

    c.bench_function("step/parse_and_checksum", |b| b.iter(|| key::parse(black_box(&f.secret))));
    c.bench_function("step/sha256", |b| b.iter(|| HashedKey::of(black_box(&f.secret))));
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

criterion_group!(benches, steps, whole_request);
criterion_main!(benches);
