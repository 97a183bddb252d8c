//! The embedded migrations of both backends (files listed by build.rs),
//! read exactly as sqlx's `migrate!` reads a directory: `<version>_<words>.sql`,
//! description = the words with `_` as spaces, checksum = SHA-384 of the SQL
//! (sqlx's `Migration::new`), so stores migrated by earlier builds match.

use super::Backend;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

mod files {
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

#[derive(Debug)]
struct Embedded(&'static [(&'static str, &'static str)]);

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send>> {
        Box::pin(async move { self.0.iter().map(|&(name, sql)| migration(name, sql)).collect() })
    }
}

fn migration(name: &str, sql: &'static str) -> Result<Migration, BoxDynError> {
    let (version, rest) = name.split_once('_').ok_or_else(|| format!("migration {name}: no `_` after the version"))?;
    let version: i64 = version.parse().map_err(|_| format!("migration {name}: the version is not an integer"))?;
    let kind = MigrationType::from_filename(rest);
    let description = rest.trim_end_matches(kind.suffix()).replace('_', " ");
    Ok(Migration::new(version, Cow::Owned(description), kind, Cow::Borrowed(sql), sql.starts_with("-- no-transaction")))
}

/// Apply the pending migrations of `backend` to `pool`.
pub(super) async fn run(pool: &sqlx::AnyPool, backend: Backend) -> anyhow::Result<()> {
    let files = match backend {
        Backend::Sqlite => files::SQLITE,
        Backend::Postgres => files::POSTGRES,
    };
    Migrator::new(Embedded(files)).await?.run(pool).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_embedded_in_version_order() {
        for (files, dir) in [(files::SQLITE, "sqlite"), (files::POSTGRES, "postgres")] {
            let on_disk = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/").to_owned() + dir)
                .unwrap()
                .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "sql"))
                .count();
            assert_eq!(files.len(), on_disk, "{dir}");
            let versions: Vec<i64> = files.iter().map(|&(n, s)| migration(n, s).unwrap().version).collect();
            assert!(versions.windows(2).all(|w| w[0] < w[1]), "{dir}: {versions:?}");
        }
    }

    #[test]
    fn names_read_as_sqlx_reads_them() {
        let m = migration("0004_drop_key_seconds.sql", "SELECT 1;").unwrap();
        assert_eq!((m.version, &*m.description, m.no_tx), (4, "drop key seconds", false));
        assert_eq!(m.migration_type, MigrationType::Simple);
    }
}
