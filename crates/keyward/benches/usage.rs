//! The usage log on SQLite (SPEC §6):
//! - `usage/write_batch_5000`: one batch transaction of the writer (on
//!   SQLite 5 000 raw records; the rollups catch up separately);
//! - `usage/rollup_step_10000`: one catch-up step of the rollups (10 000
//!   records rolled up into both hourly rollups, one transaction);
//! - `usage/pipeline`: records/s end to end, `Recorder::record` → bounded
//!   channel → batch writer → committed (printed, not a criterion bench);
//! - `usage/report_10m*`: the api-usage report (all keys, and one key) over
//!   a workspace with 10 million records in the 90-day window; p50/p95/p99
//!   of 200 runs are printed, then criterion measures it too.
//!
//! `cargo bench -p keyward --bench usage`
//!
//! The 10 M store is loaded once through the writer's own batch path and
//! kept in `target/usage-bench/` for the next run (delete it to reload).
//! `USAGE_BENCH_RECORDS` changes the size (e.g. 1000000 for a quick run).
// Test fixtures and measurements: small counts and durations, times after
// 1970; the casts cannot lose them, and `TryFrom` would only add noise.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use keyward::config::{ServeArgs, StoreArgs};
use keyward::store::Store;
use keyward::usage::autorevoke::AutoRevokePolicy;
use keyward::usage::notify::{Notifier, Retry};
use keyward::usage::{stats, writer, Recorder, UsageRecord, Writer};
use keyward_core::{ApiKeySecret, Plan, Role};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const DAY_MS: i64 = 86_400_000;
const KEYS: usize = 20;

/// The (method, route) pairs the records are spread over: the `/v1`
/// operation table without webhook management, i.e. `/v1/me` and the seven
/// study and transcript operations, in the table's order.
fn endpoints() -> Vec<(&'static str, Arc<str>)> {
    keyward::http::v1::operation_scopes()
        .iter()
        .filter(|op| !op.path.starts_with("/v1/hooks"))
        .map(|op| (op.method.as_str(), Arc::from(op.path.as_str())))
        .collect()
}

/// A small deterministic generator (no dependency on a seedable RNG).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A realistic answer mix: mostly 2xx, some 404/422/429/401, rare 5xx.
fn outcome(rng: &mut Rng) -> (u16, Option<&'static str>) {
    match rng.below(1000) {
        0..=799 => (200, None),
        800..=849 => (201, None),
        850..=899 => (404, Some("not_found")),
        900..=929 => (422, Some("validation_failed")),
        930..=979 => (429, Some("rate_limited")),
        980..=994 => (401, Some("ip_not_allowed")),
        _ => (500, Some("internal_error")),
    }
}

struct Gen {
    rng: Rng,
    ws: Arc<str>,
    keys: Vec<Arc<str>>,
    endpoints: Vec<(&'static str, Arc<str>)>,
}

impl Gen {
    fn new(ws: &str, keys: &[String]) -> Gen {
        Gen {
            rng: Rng(0x9E37_79B9_7F4A_7C15),
            ws: Arc::from(ws),
            keys: keys.iter().map(|k| Arc::from(k.as_str())).collect(),
            endpoints: endpoints(),
        }
    }

    fn record(&mut self, at_ms: i64) -> UsageRecord {
        // Skewed: a few keys and endpoints carry most of the traffic.
        let key = (self.rng.below(KEYS as u64) * self.rng.below(KEYS as u64) / KEYS as u64) as usize;
        let n = self.endpoints.len() as u64;
        let e = (self.rng.below(n) * self.rng.below(n) / n) as usize;
        let (status, code) = outcome(&mut self.rng);
        let (method, route) = &self.endpoints[e];
        UsageRecord {
            at_ms,
            workspace_id: Arc::clone(&self.ws),
            key_id: Arc::clone(&self.keys[key]),
            method,
            route: Arc::clone(route),
            path: route.replace("{id}", "std_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            status,
            code,
            latency_us: 200 + self.rng.below(20_000),
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, (key / 256) as u8, (key % 256) as u8)),
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

async fn open(dir: &Path) -> Store {
    let args = StoreArgs { data_dir: dir.to_path_buf(), database_url: None };
    Store::open(&args.location().unwrap()).await.unwrap()
}

/// A workspace with `KEYS` keys: (workspace id, key ids).
async fn workspace(store: &Store) -> (String, Vec<String>) {
    let ws = store.create_workspace("Bench", Plan::Enterprise).await.unwrap();
    let user = store.create_user(&format!("bench-{}@example.com", ws.id.to_lowercase()), "x").await.unwrap();
    store.upsert_member(&ws.id, &user.id, Role::Admin).await.unwrap();
    let mut keys = vec![];
    for i in 0..KEYS {
        let s = ApiKeySecret::generate();
        let k = store
            .create_key(
                &ws.id,
                &format!("key {i}"),
                &s.hash(),
                s.last4(),
                (&user.id, &user.email),
                keyward::store::KeyTerms::default(),
            )
            .await;
        keys.push(k.unwrap().id);
    }
    (ws.id.into_string(), keys)
}

fn write_batch(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let (store, mut gen) = rt.block_on(async {
        let store = open(dir.path()).await;
        let (ws, keys) = workspace(&store).await;
        (store, Gen::new(&ws, &keys))
    });
    let mut now = keyward::store::now_ms() - DAY_MS;
    let mut group = c.benchmark_group("usage");
    group.throughput(Throughput::Elements(5000));
    group.sample_size(30);
    group.bench_function("write_batch_5000", |b| {
        b.iter_batched(
            || {
                (0..5000)
                    .map(|_| {
                        now += 3;
                        gen.record(now)
                    })
                    .collect::<Vec<_>>()
            },
            |batch| rt.block_on(writer::write_batch(&store, &batch)).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    group.throughput(Throughput::Elements(keyward::store::ROLLUP_STEP as u64));
    group.bench_function("rollup_step_10000", |b| {
        b.iter_batched(
            || {
                rt.block_on(async {
                    store.flush_rollups().await.unwrap();
                    let batch: Vec<_> = (0..keyward::store::ROLLUP_STEP)
                        .map(|_| {
                            now += 3;
                            gen.record(now)
                        })
                        .collect();
                    writer::write_batch(&store, &batch).await.unwrap();
                })
            },
            |()| assert!(rt.block_on(store.flush_rollups_step()).unwrap().1),
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// End to end: `Recorder::record` from 4 tasks → channel → writer, until
/// every record is committed.
fn pipeline(_c: &mut Criterion) {
    const N: usize = 300_000;
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let store = open(dir.path()).await;
        let (ws, keys) = workspace(&store).await;
        let (recorder, rx) = Recorder::new(65_536);
        let metrics = Arc::clone(recorder.metrics());
        let notifier = Arc::new(Notifier::new(store.clone(), None, Retry::default(), Arc::clone(&metrics)).unwrap());
        let config = ServeArgs::defaults_for(StoreArgs { data_dir: dir.path().to_path_buf(), database_url: None });
        let w = Writer {
            store: store.clone(),
            metrics: Arc::clone(&metrics),
            policy: AutoRevokePolicy::from(&config),
            notifier,
            retry: Retry { attempts: 3, first_backoff: Duration::from_millis(50) },
            spill: None,
            replay_every: keyward::usage::writer::REPLAY_EVERY,
        };
        let mut all = Gen::new(&ws, &keys);
        let now = keyward::store::now_ms();
        let records: Vec<UsageRecord> = (0..N).map(|i| all.record(now + i as i64 / 50)).collect();
        let started = Instant::now();
        let writer = tokio::spawn(keyward::usage::run_writer(w, rx));
        let mut producers = vec![];
        for chunk in records.chunks(N / 4) {
            let (r, chunk) = (recorder.clone(), chunk.to_vec());
            producers.push(tokio::spawn(async move {
                for rec in chunk {
                    r.record(rec).await;
                }
            }));
        }
        drop(recorder);
        for p in producers {
            p.await.unwrap();
        }
        writer.await.unwrap().unwrap();
        let took = started.elapsed();
        let written = metrics.written.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(written, N as u64);
        println!(
            "usage/pipeline: {N} records recorded and committed in {:.2} s = {:.0} records/s ({} batches, {} dropped)",
            took.as_secs_f64(),
            N as f64 / took.as_secs_f64(),
            metrics.batches.load(std::sync::atomic::Ordering::Relaxed),
            metrics.dropped.load(std::sync::atomic::Ordering::Relaxed),
        );
    });
}

/// The 10 M store: loaded once (through `writer::write_batch`, 5 000 per
/// transaction, chronological), reused afterwards. Returns (store, ws, a key).
async fn big_store(dir: &Path, n: u64) -> (Store, String, String) {
    let marker = dir.join("loaded");
    let store = open(dir).await;
    if let Ok(s) = std::fs::read_to_string(&marker) {
        let mut parts = s.split_whitespace();
        if let (Some(count), Some(ws), Some(key)) = (parts.next(), parts.next(), parts.next()) {
            if count == n.to_string() {
                return (store, ws.to_string(), key.to_string());
            }
        }
    }
    let (ws, keys) = workspace(&store).await;
    let mut gen = Gen::new(&ws, &keys);
    // The whole window: 90 days up to now (the last 7 days included).
    let end = keyward::store::now_ms();
    let start = end - 90 * DAY_MS + 60_000;
    let step = (end - start) as f64 / n as f64;
    let started = Instant::now();
    let mut batch = Vec::with_capacity(5000);
    for i in 0..n {
        batch.push(gen.record(start + (i as f64 * step) as i64));
        if batch.len() == 5000 || i + 1 == n {
            writer::write_batch(&store, &batch).await.unwrap();
            batch.clear();
        }
        if (i + 1) % 1_000_000 == 0 {
            let s = started.elapsed().as_secs_f64();
            println!("usage/load: {} M records in {s:.0} s ({:.0}/s)", (i + 1) / 1_000_000, (i + 1) as f64 / s);
        }
    }
    let t = Instant::now();
    store.flush_rollups().await.unwrap();
    println!("usage/load: rollups caught up in {:.1} s", t.elapsed().as_secs_f64());
    // What the server's maintenance loop does every second: the reads below
    // then find the pages in the database, not in a 2 GB WAL.
    store.checkpoint().await.unwrap();
    std::fs::write(&marker, format!("{n} {ws} {}", keys[0])).unwrap();
    (store, ws, keys[0].clone())
}

fn percentiles(label: &str, mut v: Vec<Duration>) {
    v.sort();
    let at = |p: f64| v[((v.len() as f64 * p).ceil() as usize).saturating_sub(1).min(v.len() - 1)];
    println!(
        "{label}: {} runs, p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        v.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.95).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        v[v.len() - 1].as_secs_f64() * 1e3
    );
}

fn report_10m(c: &mut Criterion) {
    let n: u64 = std::env::var("USAGE_BENCH_RECORDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000_000);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/usage-bench").join(n.to_string());
    std::fs::create_dir_all(&dir).unwrap();
    let rt = runtime();
    let (store, ws, key) = rt.block_on(big_store(&dir, n));
    let (ws, key) = (keyward_core::WorkspaceId::new(ws), keyward_core::KeyId::new(key));
    for (label, key) in [("usage/report_10m (all keys)", None), ("usage/report_10m (one key)", Some(&key))] {
        let runs: Vec<Duration> = (0..200)
            .map(|_| {
                let t = Instant::now();
                let r = rt.block_on(stats::report(&store, &ws, key, keyward::store::now_ms())).unwrap();
                assert!(r.last_7d.total > 0 && r.recent.len() == 20);
                t.elapsed()
            })
            .collect();
        percentiles(label, runs);
    }
    let mut group = c.benchmark_group("usage");
    group.sample_size(30);
    group.bench_function("report_10m", |b| {
        b.iter(|| rt.block_on(stats::report(&store, &ws, None, keyward::store::now_ms())).unwrap())
    });
    group.bench_function("report_10m_one_key", |b| {
        b.iter(|| rt.block_on(stats::report(&store, &ws, Some(&key), keyward::store::now_ms())).unwrap())
    });
    group.finish();
}

criterion_group!(benches, write_batch, pipeline, report_10m);
criterion_main!(benches);
