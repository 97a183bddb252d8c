//! The usage log at 90-day scale (issue 25, docs/benchmarks.md §8).
//!
//! A store holding 91 days of a synthetic workload (1 000 workspaces of 100
//! keys, `admin bench-seed`), written through the usage writer's own batch
//! path (`writer::write_batch`, 5 000 records a batch, the rollups caught up
//! every 200 000 records as the writer's catch-up steps do), then:
//! - the writer's records/s (batches alone, and with the rollups);
//! - one retention pass (`retention::run_once`, 90 days) that drops the
//!   oldest of the 91 days, timed; the store then holds 90 days;
//! - bytes per record: the store's size (SQLite: database + WAL after a
//!   `wal_checkpoint(TRUNCATE)`; PostgreSQL: `pg_database_size`, and the `usage%`
//!   tables alone) divided by the records it holds, and the same net of the
//!   store as it was before the first record (keys, workspaces, audit log);
//! - p50/p95/p99 of the API Usage report (`usage::stats::report`, what
//!   `GET /api/workspaces/{ws}/api-usage` runs) and of `recent` alone, over
//!   the busiest workspace, for all keys and for one key (its busiest and
//!   its quietest);
//! - the resident memory of `keyward serve` on that store once each of the
//!   100 000 keys made one `/v1/me` request (adds 100 000 records, at the
//!   time of the run, after everything else was measured).
//!
//! ```sh
//! cargo bench -p keyward --bench scale                       # SQLite, 50M records
//! KEYWARD_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   SCALE_BACKENDS=postgres cargo bench -p keyward --bench scale   # PostgreSQL, 10M
//! ```
//!
//! `SCALE_RECORDS` (50000000) and `SCALE_PG_RECORDS` (10000000) set the
//! records of the 90 days, `SCALE_KEYS` (100000) the keys (for quick runs); `SCALE_BACKENDS` is `sqlite`, `postgres` or
//! both (`sqlite,postgres`; the default is sqlite, plus postgres when
//! `KEYWARD_TEST_DATABASE_URL` is set); `SCALE_RSS=0` skips the server.
//! The SQLite store is kept in `target/scale-bench/sqlite-<records>/` and
//! reused while its `complete.json` names the same migrations and
//! generator (delete the folder to regenerate; 50M records take ~13 GB in
//! the format of 2026-12-02). The PostgreSQL one is the database
//! `keyward_scale`, dropped at the end unless `SCALE_KEEP_PG=1`.
// Synthetic fixtures: counts and indexes far below every cast's limit.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap, clippy::cast_lossless)]

use keyward::config::StoreArgs;
use keyward::store::Store;
use keyward::usage::{retention, stats, writer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod workload;

use workload::Workload;

const DAY_MS: i64 = 86_400_000;
/// Bump when the workload (workload.rs) changes: a kept store is then regenerated.
const GENERATOR: u32 = 2;
/// Keys per workspace (`store::MAX_ACTIVE_KEYS`, as `admin bench-seed` makes them).
const KEYS_PER_WORKSPACE: usize = 100;
/// Days written; the retention pass drops the oldest one, 90 stay.
const DAYS: i64 = 91;
const BATCH: usize = writer::BATCH_MAX;
/// Records between two rollup catch-ups and WAL checkpoints (the writer
/// catches up every 10 s, the server checkpoints every second; at the
/// writer's full speed that is ~100 000 records).
const ROLLUP_EVERY: u64 = 100_000;
/// Runs per latency figure.
const RUNS: usize = 200;
const PG_DB: &str = "keyward_scale";

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Where one backend's store is.
struct Target {
    backend: Backend,
    records: u64,
    /// 100 000 (`SCALE_KEYS`), in workspaces of 100.
    keys: usize,
    /// Marker, keys.txt and (SQLite) the store.
    dir: PathBuf,
    /// PostgreSQL: (admin URL, store URL).
    pg: Option<(String, String)>,
}

impl Target {
    fn store_args(&self) -> Vec<String> {
        match &self.pg {
            Some((_, url)) => vec!["--database-url".into(), url.clone()],
            None => vec!["--data-dir".into(), self.dir.display().to_string()],
        }
    }

    async fn open(&self) -> Store {
        let args = StoreArgs { data_dir: self.dir.clone(), database_url: self.pg.as_ref().map(|(_, url)| url.clone()) };
        Store::open(&args.location().unwrap()).await.unwrap()
    }

    /// The migrations this build applies and the generator: a kept store
    /// made by another format is not reused.
    fn fingerprint(&self) -> String {
        let sub = if self.backend == Backend::Sqlite { "sqlite" } else { "postgres" };
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(sub);
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        format!("generator {GENERATOR}; {} records; {} keys; {}", self.records, self.keys, names.join(","))
    }

    /// Bytes the store takes now: (whole store, usage tables where known).
    async fn bytes(&self) -> (u64, Option<u64>) {
        match &self.pg {
            None => {
                // The store's connections may still be closing: a
                // checkpoint of our own that empties the WAL, then the files.
                use sqlx::Connection;
                let db = self.dir.join("keyward.db");
                let mut c =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rw", db.display())).await.unwrap();
                sqlx::query("PRAGMA busy_timeout = 60000").execute(&mut c).await.unwrap();
                for _ in 0..600 {
                    let (busy, _, _): (i64, i64, i64) =
                        sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut c).await.unwrap();
                    if busy == 0 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                c.close().await.unwrap();
                let file =
                    |ext: &str| std::fs::metadata(self.dir.join(format!("keyward.{ext}"))).map_or(0, |m| m.len());
                (file("db") + file("db-wal"), None)
            }
            Some((_, url)) => {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect(url).await.unwrap();
                let db: i64 =
                    sqlx::query_scalar("SELECT pg_database_size(current_database())").fetch_one(&mut c).await.unwrap();
                // Tables (partitions included, a partitioned parent counts 0)
                // with their indexes and TOAST.
                let usage: i64 = sqlx::query_scalar(
                    "SELECT CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS BIGINT) FROM pg_class c \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname LIKE 'usage%'",
                )
                .fetch_one(&mut c)
                .await
                .unwrap();
                let _ = c.close().await;
                (db as u64, Some(usage as u64))
            }
        }
    }

    /// PostgreSQL: what autovacuum does over 90 days (dead row versions of
    /// the rollup upserts marked free, statistics for the planner) and had
    /// no time for while the log was written in minutes.
    async fn vacuum(&self) {
        if let Some((_, url)) = &self.pg {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query("VACUUM (ANALYZE)").execute(&mut c).await.unwrap();
            let _ = c.close().await;
        }
    }

    /// Bytes per usage table (indexes included; PostgreSQL's daily
    /// partitions summed as `usage_log`, SQLite's pages in use from
    /// `dbstat`, so free pages count nowhere).
    async fn table_bytes(&self) -> Value {
        use sqlx::Connection;
        let rows: Vec<(String, i64)> = match &self.pg {
            Some((_, url)) => {
                let mut c = sqlx::PgConnection::connect(url).await.unwrap();
                let rows = sqlx::query_as(
                    "SELECT CASE WHEN c.relname LIKE 'usage_log%' THEN 'usage_log' ELSE c.relname END AS t, \
                     CAST(SUM(pg_total_relation_size(c.oid)) AS BIGINT) FROM pg_class c \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname LIKE 'usage%' GROUP BY 1 ORDER BY 2 DESC",
                )
                .fetch_all(&mut c)
                .await
                .unwrap();
                let _ = c.close().await;
                rows
            }
            None => {
                let db = self.dir.join("keyward.db");
                let mut c =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", db.display())).await.unwrap();
                let rows = sqlx::query_as(
                    "SELECT m.tbl_name, CAST(SUM(d.pgsize) AS INTEGER) FROM dbstat d JOIN sqlite_schema m ON m.name = d.name \
                     WHERE m.tbl_name LIKE 'usage%' GROUP BY m.tbl_name ORDER BY 2 DESC",
                )
                .fetch_all(&mut c)
                .await
                .unwrap_or_default();
                let _ = c.close().await;
                rows
            }
        };
        Value::Object(rows.into_iter().map(|(t, b)| (t, json!(b))).collect())
    }

    /// Throw away whatever store is there (files or database).
    async fn reset(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        std::fs::create_dir_all(&self.dir).unwrap();
        if let Some((admin, _)) = &self.pg {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(admin).await.expect("KEYWARD_TEST_DATABASE_URL connects");
            sqlx::query(&format!("DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")).execute(&mut c).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {PG_DB}")).execute(&mut c).await.unwrap();
            let _ = c.close().await;
        }
    }

    async fn drop_pg(&self) {
        if let Some((admin, _)) = &self.pg {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(admin).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")).execute(&mut c).await.unwrap();
            let _ = c.close().await;
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_keyward")
}

/// Every workspace with its keys, both in id (= creation) order.
async fn workspaces(store: &Store) -> Vec<(String, Vec<String>)> {
    let mut out = vec![];
    for ws in store.usage_workspace_ids().await.unwrap() {
        let mut keys: Vec<String> = store.list_keys(&ws).await.unwrap().into_iter().map(|k| k.id).collect();
        keys.sort();
        out.push((ws.into_string(), keys));
    }
    out
}

fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

/// Seed the keys, write the 91 days, run the retention pass: the figures
/// that only a fresh store gives, kept in the marker.
async fn generate(t: &Target) -> Value {
    t.reset().await;
    // `admin` only works on a store `serve` (here: `Store::open`) made.
    t.open().await.close().await;
    let seeded = Command::new(bin())
        .arg("admin")
        .args(t.store_args())
        .args(["bench-seed", "--keys", &t.keys.to_string(), "--out"])
        .arg(t.dir.join("keys.txt"))
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(seeded.success(), "admin bench-seed failed");
    let store = t.open().await;
    let all = workspaces(&store).await;
    assert_eq!(all.len(), t.keys.div_ceil(KEYS_PER_WORKSPACE));
    assert_eq!(all.iter().map(|w| w.1.len()).sum::<usize>(), t.keys);
    store.close().await;
    let base = t.bytes().await;
    let store = t.open().await;

    let mut gen = Workload::new(&all);
    let end = keyward::store::now_ms();
    let start = end - DAYS * DAY_MS;
    // A server's maintenance job makes the daily partitions of the whole
    // retention period (and two days ahead) before it writes a record; the
    // 91 days written here would otherwise all land in the default one.
    store.ensure_usage_partitions(start, end + 2 * DAY_MS).await.unwrap();
    let total = t.records * DAYS as u64 / 90;
    let step = (end - start) as f64 / total as f64;
    let (mut in_batches, mut in_rollups) = (Duration::ZERO, Duration::ZERO);
    let started = Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    for i in 0..total {
        batch.push(gen.record(start + (i as f64 * step) as i64));
        if batch.len() == BATCH || i + 1 == total {
            let t0 = Instant::now();
            writer::write_batch(&store, &batch).await.unwrap();
            in_batches += t0.elapsed();
            batch.clear();
        }
        if (i + 1) % ROLLUP_EVERY == 0 || i + 1 == total {
            let t0 = Instant::now();
            store.flush_rollups().await.unwrap();
            in_rollups += t0.elapsed();
            // What the server's maintenance loop does every second: without
            // it the WAL grew past 11 GB for the first 5M records, and every
            // read went through it (≈ 10k records/s).
            store.checkpoint().await.unwrap();
        }
        if (i + 1) % 5_000_000 == 0 {
            let s = started.elapsed().as_secs_f64();
            println!("scale/load: {} M of {:.1} M records in {s:.0} s", (i + 1) / 1_000_000, total as f64 / 1e6);
        }
    }
    let wall = started.elapsed();
    // What the writer forgets as it goes: auto-revocation buckets older than
    // the window (5 minutes by default) and a minute.
    store.delete_usage_key_buckets_before(keyward::store::key_bucket(end - 6 * 60_000)).await.unwrap();
    store.checkpoint().await.unwrap();
    store.close().await;
    t.vacuum().await;
    let full = t.bytes().await;
    let store = t.open().await;

    let t0 = Instant::now();
    let deleted = retention::run_once(&store, 90, end, Duration::ZERO).await.unwrap();
    let retention_s = t0.elapsed().as_secs_f64();
    let kept = total - deleted.records;
    store.checkpoint().await.unwrap();
    store.close().await;
    let after = t.bytes().await;
    let tables = t.table_bytes().await;
    println!("scale/bytes per table: {tables}");
    let per = |b: (u64, Option<u64>), n: u64| {
        json!({
            "bytes": b.0, "usage_tables_bytes": b.1, "records": n,
            "per_record": b.0 as f64 / n as f64,
            "net_per_record": (b.0 - base.0) as f64 / n as f64,
            "usage_tables_per_record": b.1.map(|u| u as f64 / n as f64),
        })
    };
    json!({
        "fingerprint": t.fingerprint(),
        "end_ms": end,
        "generated": {
            "records": total,
            "wall_s": wall.as_secs_f64(),
            "batches_s": in_batches.as_secs_f64(),
            "rollups_s": in_rollups.as_secs_f64(),
            "records_per_s_batches": total as f64 / in_batches.as_secs_f64(),
            "records_per_s_with_rollups": total as f64 / (in_batches + in_rollups).as_secs_f64(),
        },
        "base_bytes": base.0,
        "size_91_days": per(full, total),
        "retention": {
            "seconds": retention_s, "records": deleted.records, "rollups": deleted.rollups,
            "records_per_s": deleted.records as f64 / retention_s,
        },
        "size_90_days": per(after, kept),
        "table_bytes_90_days": tables,
        "date": String::from_utf8_lossy(&Command::new("date").arg("-u").output().unwrap().stdout).trim(),
    })
}

fn percentiles(mut v: Vec<Duration>) -> Value {
    v.sort();
    let at = |p: f64| v[((v.len() as f64 * p).ceil() as usize).saturating_sub(1).min(v.len() - 1)].as_secs_f64() * 1e3;
    json!({ "runs": v.len(), "p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": at(1.0) })
}

/// API Usage report and `recent` latencies over the busiest workspace.
async fn latencies(store: &Store, end: i64, all: &[(String, Vec<String>)]) -> Value {
    let (ws, keys) = &all[0];
    let mut out = serde_json::Map::new();
    for (label, key) in [("all keys", None), ("busiest key", Some(&keys[0])), ("quietest key", keys.last())] {
        let (ws, key) = (&keyward_core::WorkspaceId::new(ws.as_str()), key.map(keyward_core::KeyId::new));
        let key = key.as_ref();
        let mut report = vec![];
        let mut recent = vec![];
        let mut total = 0;
        for _ in 0..RUNS {
            let t0 = Instant::now();
            if let Some(k) = key {
                store.key(ws, k).await.unwrap();
            }
            let r = stats::report(store, ws, key, end).await.unwrap();
            report.push(t0.elapsed());
            total = r.last_7d.total;
            let t0 = Instant::now();
            let rows = store.usage_recent(ws, key, stats::RECENT).await.unwrap();
            recent.push(t0.elapsed());
            assert!(!rows.is_empty());
        }
        let r = json!({ "last_7d": total, "report": percentiles(report), "recent": percentiles(recent) });
        println!("scale/{label}: {r}");
        out.insert(label.to_string(), r);
    }
    Value::Object(out)
}

/// `keyward serve` on the store, each key used once: VmRSS and VmHWM in MB.
async fn server_memory(t: &Target) -> Value {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(bin())
        .arg("serve")
        .args(t.store_args())
        .args(["--listen", &format!("127.0.0.1:{port}"), "--usage-retention-days", "3650"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(t.dir.join("server.err")).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "keyward serve did not answer within 120 s");
        assert!(child.try_wait().unwrap().is_none(), "keyward serve exited; see {}/server.err", t.dir.display());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let keys: Vec<String> =
        std::fs::read_to_string(t.dir.join("keys.txt")).unwrap().lines().map(String::from).collect();
    let keys = Arc::new(keys);
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let (client, keys, url) = (client.clone(), Arc::clone(&keys), format!("{base}/v1/me"));
            tokio::spawn(async move {
                for k in keys.iter().skip(n).step_by(8) {
                    let r = client.get(&url).bearer_auth(k).send().await.unwrap();
                    assert_eq!(r.status(), 200);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let warm_s = t0.elapsed().as_secs_f64();
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
    };
    let (rss, hwm) = (field("VmRSS:"), field("VmHWM:"));
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap();
    let r = json!({ "keys": keys.len(), "warm_s": warm_s, "rss_mb": rss, "hwm_mb": hwm });
    println!("scale/server: {r}");
    r
}

async fn run(t: &Target) -> Value {
    let marker = t.dir.join("complete.json");
    let kept = std::fs::read_to_string(&marker)
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .filter(|m| m["fingerprint"] == t.fingerprint());
    // A kept PostgreSQL store needs its database too.
    let kept = match (kept, &t.pg) {
        (Some(m), Some(_)) if t.open_existing().await => Some(m),
        (m, None) => m,
        _ => None,
    };
    let made = match kept {
        Some(m) => {
            println!("scale: reusing the store in {} (generated {})", t.dir.display(), m["date"]);
            m
        }
        None => {
            let m = generate(t).await;
            std::fs::write(&marker, serde_json::to_string_pretty(&m).unwrap()).unwrap();
            m
        }
    };
    println!("scale/generated: {}", made["generated"]);
    println!("scale/retention pass over one day: {}", made["retention"]);
    println!("scale/size (91 days): {}", made["size_91_days"]);
    println!("scale/size (90 days, after retention): {}", made["size_90_days"]);
    let store = t.open().await;
    let end = made["end_ms"].as_i64().unwrap();
    let all = workspaces(&store).await;
    let lat = latencies(&store, end, &all).await;
    store.close().await;
    let mem = if std::env::var("SCALE_RSS").as_deref() == Ok("0") { Value::Null } else { server_memory(t).await };
    let (now, _) = t.bytes().await;
    println!("scale/store now: {} ({})", mb(now), t.dir.display());
    println!("scale/bytes per table now: {}", t.table_bytes().await);
    json!({ "backend": if t.backend == Backend::Sqlite { "sqlite" } else { "postgres" },
            "store": made, "latency": lat, "server": mem })
}

impl Target {
    /// Whether the PostgreSQL database is there and holds keyward's tables.
    async fn open_existing(&self) -> bool {
        let Some((_, url)) = &self.pg else { return true };
        let args = StoreArgs { data_dir: self.dir.clone(), database_url: Some(url.clone()) };
        match Store::open_existing(&args.location().unwrap()).await {
            Ok(s) => {
                s.close().await;
                true
            }
            Err(_) => false,
        }
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; this harness has no filters.
    let pg_admin = std::env::var("KEYWARD_TEST_DATABASE_URL").ok().filter(|s| !s.is_empty());
    let default = if pg_admin.is_some() { "sqlite,postgres" } else { "sqlite" };
    let backends = std::env::var("SCALE_BACKENDS").unwrap_or_else(|_| default.to_string());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/scale-bench");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let keys = env_u64("SCALE_KEYS", 100_000) as usize;
    let mut results = vec![];
    for b in backends.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let t = match b {
            "sqlite" => {
                let records = env_u64("SCALE_RECORDS", 50_000_000);
                let dir = root.join(format!("sqlite-{records}"));
                Target { backend: Backend::Sqlite, records, keys, dir, pg: None }
            }
            "postgres" => {
                let admin = pg_admin.clone().expect("SCALE_BACKENDS=postgres needs KEYWARD_TEST_DATABASE_URL");
                let url = match admin.rsplit_once('/') {
                    Some((server, _)) => format!("{server}/{PG_DB}"),
                    None => panic!("KEYWARD_TEST_DATABASE_URL: postgres://USER@HOST:PORT/DB"),
                };
                let records = env_u64("SCALE_PG_RECORDS", 10_000_000);
                let dir = root.join(format!("postgres-{records}"));
                Target { backend: Backend::Postgres, records, keys, dir, pg: Some((admin, url)) }
            }
            other => panic!("SCALE_BACKENDS: unknown backend {other:?} (sqlite, postgres)"),
        };
        let r = rt.block_on(run(&t));
        if t.pg.is_some() && std::env::var("SCALE_KEEP_PG").as_deref() != Ok("1") {
            rt.block_on(t.drop_pg());
        }
        results.push(r);
    }
    let out = root.join(format!("results-{}.json", backends.replace(',', "-")));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(&out, serde_json::to_string_pretty(&results).unwrap()).unwrap();
    println!("scale: results in {}", out.display());
}
