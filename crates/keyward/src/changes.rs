//! The change counter: how a running server learns, before its next request,
//! that another process (the operator CLI) changed auth-relevant state in the
//! same SQLite file.
//!
//! Design: an 8-byte file beside the database (`keyward.changes`) is mapped
//! shared into every process that opens the store. Every mutation of keys,
//! plans, rate-limit overrides, allowlists or memberships commits its
//! transaction and then increments the counter with an atomic add on the
//! mapping. The server stamps each cached key with the counter value it was
//! loaded under and compares on every lookup: one atomic load (~1 ns), no
//! syscall and no storage read per request, and a change committed by a CLI
//! process that has exited is visible to the very next request, because the
//! increment happened before that process exited.
//!
//! This is what SQLite's own `PRAGMA data_version` does with its shared-memory
//! WAL index, without a round trip through the connection pool. On PostgreSQL
//! (several nodes) nothing is cached, so the counter is process-local.
#![allow(unsafe_code)]

use memmap2::MmapMut;
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing counter of auth-relevant changes.
pub struct ChangeCounter {
    inner: Inner,
}

enum Inner {
    Shared(MmapMut),
    Local(AtomicU64),
}

impl ChangeCounter {
    /// Map (creating if needed) the counter file shared by all processes.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        if file.metadata()?.len() < 8 {
            file.set_len(8)?;
        }
        // SAFETY: the file is ours (beside the database), sized to 8 bytes
        // above, and only ever accessed through atomic operations below; a
        // concurrent truncation by another program is outside our contract
        // (documented: do not delete or edit `keyward.changes` while running).
        let map = unsafe { MmapMut::map_mut(&file)? };
        Ok(ChangeCounter { inner: Inner::Shared(map) })
    }

    /// A counter for this process only (PostgreSQL, tests).
    pub fn in_process() -> Self {
        ChangeCounter { inner: Inner::Local(AtomicU64::new(0)) }
    }

    fn atomic(&self) -> &AtomicU64 {
        match &self.inner {
            // SAFETY: mmap returns page-aligned memory (so 8-byte aligned) of at
            // least 8 bytes that lives as long as `self`; AtomicU64 has the same
            // layout as u64, and every process touches it only atomically.
            Inner::Shared(map) => unsafe { &*(map.as_ptr() as *const AtomicU64) },
            Inner::Local(a) => a,
        }
    }

    /// The current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.atomic().load(Ordering::Acquire)
    }

    /// Record a change (after its transaction committed).
    pub fn bump(&self) {
        self.atomic().fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_mappings_of_one_file_see_each_others_bumps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.changes");
        let a = ChangeCounter::open(&path).unwrap();
        let b = ChangeCounter::open(&path).unwrap();
        let start = a.get();
        b.bump();
        assert_eq!(a.get(), start + 1);
        a.bump();
        assert_eq!(b.get(), start + 2);
    }
}
