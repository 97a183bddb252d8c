//! The usage log's dictionaries (issue 25): workspace and key ids,
//! endpoints (method + route template) and problem codes as small integers.
//! Entries are never deleted or changed, so each process caches what it
//! looked up for good; a miss is an `INSERT … ON CONFLICT DO NOTHING` and a
//! read, outside the batch's transaction (a rolled-back batch must not take
//! a number with it that the cache still holds).
use crate::store::sql::{chunks, push_rows};
use crate::store::{Result, Store};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// This process's copy of the dictionaries.
#[derive(Debug, Default)]
pub struct UsageDict {
    names: Mutex<HashMap<String, i64>>,
    /// method → route → n.
    endpoints: Mutex<HashMap<String, HashMap<String, i64>>>,
    codes: Mutex<HashMap<String, i64>>,
    /// This process saw the old-format table empty (see `legacy`).
    legacy_gone: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl UsageDict {
    pub(super) fn legacy_left(&self) -> bool {
        !self.legacy_gone.load(Ordering::Relaxed)
    }

    pub(super) fn legacy_gone(&self) {
        self.legacy_gone.store(true, Ordering::Relaxed);
    }

    pub(super) fn name(&self, name: &str) -> Option<i64> {
        lock(&self.names).get(name).copied()
    }

    pub(super) fn endpoint(&self, method: &str, route: &str) -> Option<i64> {
        lock(&self.endpoints).get(method).and_then(|r| r.get(route)).copied()
    }

    /// 0 for no code.
    pub(super) fn code(&self, code: Option<&str>) -> Option<i64> {
        match code {
            None => Some(0),
            Some(c) => lock(&self.codes).get(c).copied(),
        }
    }
}

/// What a batch refers to, as text.
#[derive(Debug, Default)]
pub(super) struct Wanted<'a> {
    pub names: Vec<&'a str>,
    pub endpoints: Vec<(&'a str, &'a str)>,
    pub codes: Vec<&'a str>,
}

impl Store {
    /// Make sure every entry of `w` has its number in this process's cache.
    pub(super) async fn intern(&self, w: Wanted<'_>) -> Result<()> {
        let dict = self.usage_dict();
        let mut names: Vec<&str> = w.names.into_iter().filter(|n| dict.name(n).is_none()).collect();
        names.sort_unstable();
        names.dedup();
        // In the multi-row statements' fixed sizes, the lookup too: with
        // `chunks(500)` the last chunk of each batch was a new length, and a
        // `SELECT … IN (?, …)` per length (up to 500, with up to 500
        // parameters each) went into every connection's statement cache,
        // pushing out the writer's cached inserts while new keys appeared.
        for (a, b) in chunks(names.len()) {
            let chunk = &names[a..b];
            let mut conn = self.pool().acquire().await?;
            self.insert_rows(&mut conn, "usage_names (name)", 1, "ON CONFLICT (name) DO NOTHING", chunk, |q, n| {
                q.bind(*n)
            })
            .await?;
            let mut sql = String::from("SELECT CAST(n AS BIGINT) AS n, name FROM usage_names WHERE name IN ");
            push_rows(&mut sql, self.backend(), chunk.len(), 1);
            let rows = chunk.iter().fold(sqlx::query(&sql), |q, n| q.bind(*n)).fetch_all(&mut *conn).await?;
            let mut cache = lock(&dict.names);
            for r in rows {
                cache.insert(r.try_get("name")?, r.try_get("n")?);
            }
        }
        for (method, route) in w.endpoints {
            if dict.endpoint(method, route).is_some() {
                continue;
            }
            sqlx::query(
                "INSERT INTO usage_endpoints (method, route) VALUES ($1, $2) ON CONFLICT (method, route) DO NOTHING",
            )
            .bind(method)
            .bind(route)
            .execute(self.pool())
            .await?;
            let n: i64 =
                sqlx::query_scalar("SELECT CAST(n AS BIGINT) FROM usage_endpoints WHERE method = $1 AND route = $2")
                    .bind(method)
                    .bind(route)
                    .fetch_one(self.pool())
                    .await?;
            lock(&dict.endpoints).entry(method.to_string()).or_default().insert(route.to_string(), n);
        }
        for code in w.codes {
            if dict.code(Some(code)).is_some() {
                continue;
            }
            sqlx::query("INSERT INTO usage_codes (code) VALUES ($1) ON CONFLICT (code) DO NOTHING")
                .bind(code)
                .execute(self.pool())
                .await?;
            let n: i64 = sqlx::query_scalar("SELECT CAST(n AS BIGINT) FROM usage_codes WHERE code = $1")
                .bind(code)
                .fetch_one(self.pool())
                .await?;
            lock(&dict.codes).insert(code.to_string(), n);
        }
        Ok(())
    }
}
