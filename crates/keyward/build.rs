//! Embeds the SQL migrations (src/store/migrations.rs reads the list).
//!
//! This replaces sqlx's `migrate!` macro: that macro needs sqlx's `macros`
//! feature, which builds a second copy of sqlx, both database drivers, the
//! bundled SQLite C library and Tokio for the compiler host, a large share
//! of a cold release build (docs/benchmarks.md §5). Listing the files here
//! also makes cargo rebuild when a migration is added, which `migrate!` did
//! not notice.
use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let mut code = String::new();
    for (konst, dir) in [("SQLITE", "sqlite"), ("POSTGRES", "postgres")] {
        let dir = Path::new(&manifest).join("migrations").join(dir);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .map(|e| e.expect("a readable directory entry").path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        writeln!(code, "pub(super) const {konst}: &[(&str, &str)] = &[").unwrap();
        for path in files {
            let name = path.file_name().and_then(|n| n.to_str()).expect("a UTF-8 file name");
            writeln!(code, "    ({name:?}, include_str!({:?})),", path.display().to_string()).unwrap();
        }
        writeln!(code, "];").unwrap();
    }
    std::fs::write(Path::new(&out).join("migrations.rs"), code).expect("OUT_DIR is writable");
}
