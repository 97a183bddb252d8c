//! The `keyward` binary: parse the command line and hand over to the library.
use clap::Parser;
use keyward::cli::Cli;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Transparent huge pages off for this process, unless `MIMALLOC_ALLOW_THP`
/// is set (then mimalloc decides, as it documents).
///
/// mimalloc asks for huge pages on its arenas (`MADV_HUGEPAGE`), and a 2 MiB
/// page that is only partly used is resident as a whole: with 100k keys
/// cached that held ~35 MB more resident memory (peak 168 MB against
/// 133 MB) for no measurable gain in requests/s (docs/benchmarks.md). The
/// flag applies to mappings made before this call as well (the kernel
/// checks it at each fault), and is what `MIMALLOC_ALLOW_THP=0` would set.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn disable_transparent_huge_pages() {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return;
    }
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory
    // of this process. On failure (a kernel without it) nothing changes.
    let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

#[cfg(not(target_os = "linux"))]
fn disable_transparent_huge_pages() {}

fn main() -> ExitCode {
    disable_transparent_huge_pages();
    keyward::main(Cli::parse())
}
