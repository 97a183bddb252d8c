//! The compact usage log (issue 25): an old store upgrades in place with
//! its history intact, a record costs at most 80 bytes on SQLite (120 on
//! PostgreSQL), indexes included, retention does not grow the file, and a
//! batch of many new keys keeps each record under its own.
use crate::helpers::*;
use keyward::store::{Store, StoreLocation};
use keyward::usage::{retention, stats, writer, UsageRecord};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const DAY: i64 = 86_400_000;

/// An SQLite store at `dir` with the migrations before the compact log only.
async fn old_format_store(dir: &Path) -> sqlx::SqlitePool {
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join("keyward.db"))
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
    let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
    // Read from the source tree at run time: sqlx's `migrate!` needs its
    // `macros` feature, which the build no longer enables (docs/benchmarks.md §5).
    let dir_sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut m = sqlx::migrate::Migrator::new(dir_sql).await.unwrap();
    m.migrations = m.migrations.iter().filter(|x| x.version < 13).cloned().collect::<Vec<_>>().into();
    m.run(&pool).await.unwrap();
    pool
}

/// The old-format record number `i` (a mix of routes, paths, codes, IPs).
fn old_row(i: i64, now: i64) -> (String, i64, &'static str, &'static str, String, i64, Option<&'static str>, String) {
    let key = if i % 3 == 0 { "key_b" } else { "key_a" };
    let (route, path) = match i % 4 {
        0 => ("/v1/me", "/v1/me".to_string()),
        1 => ("/v1/studies/{id}", format!("/v1/studies/std_01ARZ3NDEKTSV4RRFFQ69G5F{i:02}")),
        2 => ("/v1/studies/{id}/transcripts", "/v1/studies/not-an-id/transcripts".to_string()),
        _ => ("unmatched", "/v1/nowhere".to_string()),
    };
    let (status, code) = match i % 5 {
        0 => (422, Some("validation_failed")),
        1 => (401, Some("ip_not_allowed")),
        _ => (200, None),
    };
    let ip = if i % 2 == 0 { "10.0.0.7".to_string() } else { format!("2001:db8::{i:x}") };
    (key.to_string(), now - i * 60_000, route, if i % 4 == 3 { "POST" } else { "GET" }, path, status, code, ip)
}

#[tokio::test]
async fn an_old_store_upgrades_in_place_in_batches_with_its_history_intact() {
    let dir = tempfile::tempdir().unwrap();
    let now = keyward::store::now_ms();
    let pool = old_format_store(dir.path()).await;
    for i in 0..25 {
        let (key, at, route, method, path, status, code, ip) = old_row(i, now);
        sqlx::query(
            "INSERT INTO usage_records (workspace_id, key_id, at, method, route, path, status, code, latency_us, ip) \
             VALUES ('ws_old', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(key)
        .bind(at)
        .bind(method)
        .bind(route)
        .bind(path)
        .bind(status)
        .bind(code)
        .bind(1000 + i)
        .bind(ip)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    // The upgrade (migration 0013) is instant; the records move later.
    let store = Store::open(&StoreLocation::resolve(dir.path(), None).unwrap()).await.unwrap();
    let report = |key: Option<&'static str>| {
        let store = store.clone();
        async move {
            stats::report(
                &store,
                &keyward_core::WorkspaceId::new("ws_old"),
                key.map(keyward_core::KeyId::new).as_ref(),
                now,
            )
            .await
            .unwrap()
        }
    };
    let before = report(None).await;
    let before_a = report(Some("key_a")).await;
    let (ws_old, key_a) = (keyward_core::WorkspaceId::new("ws_old"), keyward_core::KeyId::new("key_a"));
    let codes = || store.usage_key_error_codes(&ws_old, &key_a, now - DAY);
    let codes_before = codes().await.unwrap();
    assert_eq!(before.last_24h.total, 25, "the old records are rolled up as before");
    assert_eq!(before.recent.len(), 20);
    let (key, at, route, method, path, status, code, ip) = old_row(1, now);
    let r = &before.recent[1];
    assert_eq!((&r.key_id, r.at.0, r.route.as_str(), r.method.as_str()), (&key, at, route, method));
    assert_eq!((&r.path, u64::from(r.status), r.code.as_deref(), &r.ip), (&path, status as u64, code, &ip));
    assert_eq!(codes_before, [("ip_not_allowed".to_string(), 3), ("validation_failed".to_string(), 3)]);

    // Moved in batches of 7: every read between two batches is the same.
    let mut steps = 0;
    while store.migrate_usage_step(7).await.unwrap() > 0 {
        steps += 1;
        assert_eq!(report(None).await, before, "after step {steps}");
        assert_eq!(report(Some("key_a")).await, before_a, "after step {steps}");
        assert_eq!(codes().await.unwrap(), codes_before);
    }
    assert_eq!(steps, 4, "25 records, 7 a batch");
    assert!(!store.usage_migration_pending());
    assert_eq!(store.migrate_usage_step(7).await.unwrap(), 0);

    // New records come after the moved ones and are rolled up once.
    let new = UsageRecord { status: 404, code: Some("not_found"), ..usage_record("ws_old", "key_a", now + 1) };
    writer::write_batch(&store, &[new]).await.unwrap();
    let after = report(None).await;
    assert_eq!(after.last_24h.total, 26);
    assert_eq!(after.recent[0].at.0, now + 1);
    assert_eq!(after.recent[1..], before.recent[..19]);
    assert_eq!(store.delete_usage_records_before(&ws_old, now + 2, 5000).await.unwrap(), 26);
    assert_eq!(report(None).await.recent, []);
}

/// The dictionary numbers new names in statements of fixed sizes (1000,
/// 250, 50, 10, 3, 1): 1 263 keys first seen in one batch take five of
/// them, and each record still reads back under its own key.
#[tokio::test]
async fn a_batch_naming_many_new_keys_records_each_under_its_own_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreLocation::resolve(dir.path(), None).unwrap()).await.unwrap();
    let ws = keyward_core::ids::new_id("ws");
    let keys: Vec<String> = (0..1263).map(|_| keyward_core::ids::new_id("key")).collect();
    let now = keyward::store::now_ms();
    let batch: Vec<UsageRecord> = keys.iter().zip(0..).map(|(k, i)| usage_record(&ws, k, now - i)).collect();
    writer::write_batch(&store, &batch).await.unwrap();
    let ws = keyward_core::WorkspaceId::new(ws);
    for (k, i) in keys.iter().zip(0..) {
        let recent = store.usage_recent(&ws, Some(&keyward_core::KeyId::new(k.as_str())), 20).await.unwrap();
        let got: Vec<(&str, i64)> = recent.iter().map(|r| (r.key_id.as_str(), r.at.0)).collect();
        assert_eq!(got, [(k.as_str(), now - i)], "key {i}");
    }
}

/// `n` records of the load script's mix: `/v1/me`, 20 keys, 200s from
/// 127.0.0.1, about 30 a millisecond.
fn load_mix(ws: &str, keys: &[String], start: i64, n: usize) -> Vec<UsageRecord> {
    let ws: Arc<str> = Arc::from(ws);
    let keys: Vec<Arc<str>> = keys.iter().map(|k| Arc::from(k.as_str())).collect();
    (0..n)
        .map(|i| UsageRecord {
            at_ms: start + (i / 30) as i64,
            workspace_id: Arc::clone(&ws),
            key_id: Arc::clone(&keys[i % keys.len()]),
            latency_us: 150 + (i as u64 * 7919) % 900,
            ..usage_record("ws_x", "key_x", 0)
        })
        .collect()
}

async fn sqlite_used_bytes(dir: &Path) -> i64 {
    use sqlx::Connection;
    let mut db =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", dir.join("keyward.db").display())).await.unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut db).await.unwrap();
    let (pages, free, size): (i64, i64, i64) =
        sqlx::query_as("SELECT * FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()")
            .fetch_one(&mut db)
            .await
            .unwrap();
    (pages - free) * size
}

#[tokio::test]
async fn a_usage_record_of_the_load_mix_takes_at_most_80_bytes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreLocation::resolve(dir.path(), None).unwrap()).await.unwrap();
    let ws = keyward_core::ids::new_id("ws");
    let keys: Vec<String> = (0..20).map(|_| keyward_core::ids::new_id("key")).collect();
    let empty = sqlite_used_bytes(dir.path()).await;
    const N: usize = 100_000;
    let start = keyward::store::now_ms() - 3_600_000;
    for batch in load_mix(&ws, &keys, start, N).chunks(5000) {
        writer::write_batch_with_counts(&store, batch).await.unwrap();
    }
    store.flush_rollups().await.unwrap();
    let per_record = (sqlite_used_bytes(dir.path()).await - empty) as f64 / N as f64;
    eprintln!("SQLite: {per_record:.1} bytes per usage record (load mix, indexes included)");
    assert!(per_record <= 80.0, "{per_record:.1} bytes per record");
}

#[tokio::test]
#[ignore = "needs PostgreSQL (KEYWARD_TEST_DATABASE_URL)"]
async fn a_usage_record_of_the_load_mix_takes_at_most_120_bytes_on_postgres() {
    let db = TestDb::create(&require_pg()).await;
    let store = Store::open(&StoreLocation::resolve(Path::new("."), Some(&db.url)).unwrap()).await.unwrap();
    let ws = keyward_core::ids::new_id("ws");
    let keys: Vec<String> = (0..20).map(|_| keyward_core::ids::new_id("key")).collect();
    const N: usize = 100_000;
    let now = keyward::store::now_ms();
    assert!(store.ensure_usage_partitions(now - DAY, now).await.unwrap() >= 1);
    for batch in load_mix(&ws, &keys, now - 3_600_000, N).chunks(5000) {
        writer::write_batch_with_counts(&store, batch).await.unwrap();
    }
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("VACUUM ANALYZE usage_log").execute(&mut conn).await.unwrap();
    let bytes: i64 = sqlx::query_scalar(
        "SELECT CAST(SUM(pg_total_relation_size(inhrelid)) AS BIGINT) FROM pg_inherits \
         WHERE inhparent = 'usage_log'::regclass",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let per_record = bytes as f64 / N as f64;
    eprintln!("PostgreSQL: {per_record:.1} bytes per usage record (load mix, indexes included)");
    assert!(per_record <= 120.0, "{per_record:.1} bytes per record");
}

#[tokio::test]
async fn retention_reuses_the_pages_it_frees_so_the_file_stops_growing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreLocation::resolve(dir.path(), None).unwrap()).await.unwrap();
    let ws = store.create_workspace("Retention", keyward_core::Plan::Pro).await.unwrap().id;
    let keys: Vec<String> = (0..20).map(|_| keyward_core::ids::new_id("key")).collect();
    let base = keyward::store::now_ms() - 30 * DAY;
    let mut sizes = Vec::new();
    for day in 0..9 {
        // 20 000 records a day, 2 days kept.
        for batch in load_mix(&ws, &keys, base + day * DAY, 20_000).chunks(5000) {
            writer::write_batch_with_counts(&store, batch).await.unwrap();
        }
        let d = retention::run_once(&store, 2, base + day * DAY + DAY / 2, Duration::ZERO).await.unwrap();
        assert_eq!(d.records, if day >= 2 { 20_000 } else { 0 }, "day {day}");
        store.checkpoint().await.unwrap();
        sizes.push(std::fs::metadata(dir.path().join("keyward.db")).unwrap().len());
    }
    eprintln!("SQLite file size after each day's retention pass: {sizes:?}");
    assert!(sizes[8] <= sizes[4] + sizes[4] / 20, "the file kept growing: {sizes:?}");
}

/// The daily partitions of `usage_log` that exist.
async fn partitions(db: &TestDb) -> Vec<String> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'usage_log'::regclass AND c.relname <> 'usage_log_default' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

#[tokio::test]
#[ignore = "needs PostgreSQL (KEYWARD_TEST_DATABASE_URL)"]
async fn nodes_creating_the_same_partitions_at_once_all_succeed() {
    let db = TestDb::create(&require_pg()).await;
    let loc = StoreLocation::resolve(Path::new("."), Some(&db.url)).unwrap();
    let mut nodes = Vec::new();
    for _ in 0..4 {
        nodes.push(Store::open(&loc).await.unwrap());
    }
    let now = keyward::store::now_ms();
    let mut set = tokio::task::JoinSet::new();
    for node in nodes {
        set.spawn(async move { node.ensure_usage_partitions(now - 4 * DAY, now).await });
    }
    let mut created = 0;
    while let Some(r) = set.join_next().await {
        created += r.unwrap().unwrap();
    }
    assert_eq!(created, 5, "each of the 5 days created once, by whichever node came first");
    assert_eq!(partitions(&db).await.len(), 5);
}

#[tokio::test]
#[ignore = "needs PostgreSQL (KEYWARD_TEST_DATABASE_URL)"]
async fn retention_drops_whole_daily_partitions_on_postgres() {
    // A store of its own: a server's maintenance job would drop partitions too.
    let db = TestDb::create(&require_pg()).await;
    let store = Store::open(&StoreLocation::resolve(Path::new("."), Some(&db.url)).unwrap()).await.unwrap();
    let ws = store.create_workspace("Partitions", keyward_core::Plan::Pro).await.unwrap().id;
    let key = keyward_core::ids::new_id("key");
    let now = keyward::store::now_ms();
    assert_eq!(store.ensure_usage_partitions(now - 100 * DAY, now).await.unwrap(), 101);
    assert_eq!(store.ensure_usage_partitions(now - 100 * DAY, now).await.unwrap(), 0, "created once");
    let batch = [
        usage_record(&ws, &key, now - 95 * DAY),
        usage_record(&ws, &key, now - 95 * DAY + 1),
        usage_record(&ws, &key, now - 200 * DAY), // no partition that old: the default one
        usage_record(&ws, &key, now - DAY),
    ];
    writer::write_batch(&store, &batch).await.unwrap();
    let d = retention::run_once(&store, 90, now, Duration::ZERO).await.unwrap();
    assert_eq!((d.records, d.partitions), (3, 10), "days 91 to 100 ago went whole, the default one row by row");
    assert_eq!(partitions(&db).await.len(), 91);
    let r = stats::report(&store, &ws, None, now).await.unwrap();
    assert_eq!(r.recent.len(), 1);
    assert_eq!(r.recent[0].at.0, now - DAY);
}
