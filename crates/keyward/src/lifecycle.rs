//! Background side of the key lifecycle (SPEC §12): once an hour (and at
//! start) keys that expire within 7 days are announced, once per key, as a
//! `key.expiring` notification (the page's banner).
use crate::store::{ExpiringKey, Store};

/// How often [`check_expiring`] runs, in maintenance ticks (seconds).
pub const CHECK_EVERY_S: u64 = 3600;

/// Announce the keys about to expire that were not announced yet; returns
/// them. Each key is claimed in the store, so several nodes checking at
/// once announce it once.
pub async fn check_expiring(store: &Store, now_ms: i64) -> Vec<ExpiringKey> {
    match store.announce_expiring_keys(now_ms).await {
        Ok(keys) => {
            for k in &keys {
                tracing::info!(workspace_id = %k.workspace_id, key_id = %k.key_id, "key expires within 7 days");
            }
            keys
        }
        Err(e) => {
            tracing::warn!(error = ?e, "could not check for expiring keys");
            Vec::new()
        }
    }
}
