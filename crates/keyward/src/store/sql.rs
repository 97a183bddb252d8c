//! Multi-row statements shared by the store's bulk writers (the usage log,
//! last-used times).
//!
//! Multi-row `INSERT ... VALUES` statements come in a few fixed sizes
//! ([`CHUNK_SIZES`]) so each backend prepares each statement once and keeps
//! it in its statement cache, and every statement stays far below SQLite's
//! 32 766 bound parameters. Their placeholders are the one place where the
//! dialects differ here: SQLite gets anonymous `?` because looking up a
//! numbered parameter by name is linear in SQLite, which made binding
//! 10 000 `$n` parameters quadratic (8 000 records/s instead of 100 000+).
use super::{Backend, Result, Store};
use keyward_core::ids::{KeyId, WorkspaceId};
use sqlx::AnyConnection;

pub(super) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Rows per multi-row INSERT: a batch is cut greedily into these sizes, so
/// at most this many distinct statements exist per table.
const CHUNK_SIZES: [usize; 6] = [1000, 250, 50, 10, 3, 1];

/// `INSERT INTO {head} VALUES ($1, ...), (...) {tail}` for `rows` rows of
/// `cols` columns (`?` instead of `$n` on SQLite).
fn values_sql(backend: Backend, head: &str, cols: usize, rows: usize, tail: &str) -> String {
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * cols * 7);
    sql.push_str("INSERT INTO ");
    sql.push_str(head);
    sql.push_str(" VALUES ");
    push_rows(&mut sql, backend, cols, rows);
    sql.push(' ');
    sql.push_str(tail);
    sql
}

/// `(?,?),(?,?)` for `rows` rows of `cols` placeholders (`$1`, `$2`, ...
/// on PostgreSQL).
pub(super) fn push_rows(sql: &mut String, backend: Backend, cols: usize, rows: usize) {
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..cols {
            if c > 0 {
                sql.push(',');
            }
            n += 1;
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
            }
        }
        sql.push(')');
    }
}

/// Cut `len` items into chunks of the sizes in [`CHUNK_SIZES`], in order.
pub(super) fn chunks(len: usize) -> impl Iterator<Item = (usize, usize)> {
    let mut start = 0;
    std::iter::from_fn(move || {
        let left = len - start;
        let size = *CHUNK_SIZES.iter().find(|&&s| s <= left)?;
        let range = (start, start + size);
        start += size;
        Some(range)
    })
}

/// A count for a BIGINT column (saturating; counts never come near it).
pub(super) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A BIGINT count read back (a negative one cannot be written).
pub(super) fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Lock `workspace_id` for the rest of `conn`'s transaction: SQLite takes
/// its write lock at once, PostgreSQL locks the workspace row, which READ
/// COMMITTED needs so that a check made next in the transaction (a count
/// under a limit, the last admin) cannot pass on two nodes at once. Rows
/// matched: 0 when there is no such workspace.
pub(super) async fn lock_workspace(conn: &mut AnyConnection, workspace_id: &WorkspaceId) -> Result<u64> {
    let q = sqlx::query("UPDATE workspaces SET plan = plan WHERE id = $1").bind(workspace_id.as_str());
    Ok(q.execute(conn).await?.rows_affected())
}

/// Run `q`, a statement on one key whose last two parameters are the key's
/// workspace and id (`… WHERE workspace_id = $n AND id = $n+1`, or `key_id`):
/// the rows it changed. The workspace is always bound with the key.
pub(super) async fn on_key<'q>(
    conn: &mut AnyConnection,
    q: AnyQuery<'q>,
    workspace_id: &'q WorkspaceId,
    key_id: &'q KeyId,
) -> Result<u64> {
    Ok(q.bind(workspace_id.as_str()).bind(key_id.as_str()).execute(conn).await?.rows_affected())
}

/// `q` with one more parameter when there is one (an optional filter).
pub(super) fn bind_some<'q>(q: AnyQuery<'q>, value: Option<&'q str>) -> AnyQuery<'q> {
    match value {
        Some(v) => q.bind(v),
        None => q,
    }
}

impl Store {
    /// Run a `DELETE … WHERE column < $1`; how many rows went.
    pub(super) async fn delete_below(&self, sql: &str, bound: i64) -> Result<u64> {
        Ok(sqlx::query(sql).bind(bound).execute(self.pool()).await?.rows_affected())
    }

    /// `rows` as multi-row `INSERT INTO {head} VALUES ... {tail}`
    /// statements in the sizes of [`CHUNK_SIZES`], `bind` binding the `cols`
    /// values of one row.
    pub(super) async fn insert_rows<T: Sync>(
        &self,
        conn: &mut AnyConnection,
        head: &str,
        cols: usize,
        tail: &str,
        rows: &[T],
        bind: impl for<'q> Fn(AnyQuery<'q>, &'q T) -> AnyQuery<'q>,
    ) -> Result<()> {
        for (a, b) in chunks(rows.len()) {
            let sql = values_sql(self.backend(), head, cols, b - a, tail);
            let q = rows[a..b].iter().fold(sqlx::query(&sql), &bind);
            q.execute(&mut *conn).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_item_in_few_statement_shapes() {
        for len in [0, 1, 2, 9, 10, 11, 999, 1000, 1001, 2345, 5000] {
            let parts: Vec<_> = chunks(len).collect();
            assert_eq!(parts.iter().map(|(a, b)| b - a).sum::<usize>(), len);
            assert!(parts.windows(2).all(|w| w[0].1 == w[1].0));
            assert!(parts.iter().all(|(a, b)| CHUNK_SIZES.contains(&(b - a))));
        }
    }

    #[test]
    fn values_sql_numbers_placeholders_row_by_row() {
        assert_eq!(
            values_sql(Backend::Postgres, "t (a, b)", 2, 2, "X"),
            "INSERT INTO t (a, b) VALUES ($1,$2),($3,$4) X"
        );
        assert_eq!(values_sql(Backend::Sqlite, "t (a)", 1, 3, ""), "INSERT INTO t (a) VALUES (?),(?),(?) ");
    }
}
