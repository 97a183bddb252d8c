//! Public identifiers: a short type prefix and a ULID, e.g. `key_01JD…`.
//! Prefixes make ids self-describing in logs and support tickets; ULIDs sort
//! by creation time, which gives lists a stable newest-first order for free.

use std::sync::{LazyLock, Mutex};

// LazyLock: ulid 1.1's `Generator::new` is not `const` (1.2 pulls rand 0.9,
// see Cargo.toml).
static GENERATOR: LazyLock<Mutex<ulid::Generator>> = LazyLock::new(|| Mutex::new(ulid::Generator::new()));

/// A new id with the given prefix (`"ws"`, `"usr"`, `"key"`, …). Ids made by
/// one process are strictly increasing, even within one millisecond, so
/// "newest first" and cursors are exact.
pub fn new_id(prefix: &str) -> String {
    let ulid = {
        let mut g = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
        g.generate().unwrap_or_else(|_| ulid::Ulid::new())
    };
    format!("{prefix}_{ulid}")
}

/// Whether `id` has the shape `prefix_<ULID>`; used to answer 404 early for
/// ids that cannot exist without asking storage.
pub fn has_prefix(id: &str, prefix: &str) -> bool {
    id.len() == prefix.len() + 1 + 26
        && id.starts_with(prefix)
        && id.as_bytes()[prefix.len()] == b'_'
        && ulid::Ulid::from_string(&id[prefix.len() + 1..]).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_sort_by_creation() {
        let a = new_id("key");
        assert!(has_prefix(&a, "key"));
        assert!(!has_prefix(&a, "ws"));
        assert!(!has_prefix("key_nope", "key"));
        let ids: Vec<_> = (0..1000).map(|_| new_id("key")).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}
