//! Leaked keys revoke themselves (SPEC §11): GitHub's secret scanning
//! reports (signed, see [`github`]) and anyone's reports through the public
//! endpoint (throttled, see [`throttle`]) end in [`revoke_reported`].
//!
//! The HTTP side is `http::v1::leaked`.

pub mod github;
pub mod throttle;

use crate::store::{Revoker, Store, StoreError};
use crate::usage::notify::{LeakedKey, Notifier};
use keyward_core::{HashedKey, RevokeReason};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;

/// Who reported a leak (the audit's `reporter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reporter {
    /// GitHub's secret scanning partner program.
    Github,
    /// Anyone, through `POST /v1/leaked-keys`.
    Public,
}

impl Reporter {
    pub fn as_str(self) -> &'static str {
        match self {
            Reporter::Github => "github",
            Reporter::Public => "public",
        }
    }
}

/// One reported token, already checked by keyward-core's key parser
/// (checksum first) and hashed: where it was found, when the reporter says.
#[derive(Debug, Clone)]
pub struct Reported {
    pub hash: HashedKey,
    pub source: Option<String>,
    pub url: Option<String>,
}

/// The leak-report state of a running keyward.
pub struct Leaks {
    pub github: github::GithubKeys,
    pub throttle: throttle::ReportThrottle,
}

impl Leaks {
    pub fn new(keys_url: String, source: Arc<dyn github::KeySource>) -> Self {
        Leaks { github: github::GithubKeys::new(keys_url, source), throttle: Default::default() }
    }
}

/// Revoke every active key of ours among `reported` (reason `leaked`, by
/// `system`, audit `key.leaked` with `source`, `url` and `reporter`, then
/// the banner and the notify webhook), in the order reported; a key
/// reported twice is revoked once, one already revoked is left as it is.
/// Returns the hashes that are keys of ours, active or not (GitHub's
/// `true_positive`s).
pub async fn revoke_reported(
    store: &Store,
    notifier: &Notifier,
    reporter: Reporter,
    reported: &[Reported],
) -> Result<HashSet<HashedKey>, StoreError> {
    let hashes: Vec<HashedKey> = reported.iter().map(|r| r.hash).collect();
    let found = store.keys_by_hashes(&hashes).await?;
    let mut done: HashSet<HashedKey> = HashSet::new();
    for r in reported {
        let Some(k) = found.get(&r.hash) else { continue };
        if k.revoked || !done.insert(r.hash) {
            continue;
        }
        let details = json!({ "reporter": reporter.as_str(), "source": r.source, "url": r.url });
        let newly =
            store.revoke_key(&k.workspace_id, &k.key_id, Revoker::System, RevokeReason::Leaked, details).await?;
        if newly {
            let leaked = LeakedKey {
                workspace_id: &k.workspace_id,
                key_id: &k.key_id,
                key_name: &k.name,
                reporter: reporter.as_str(),
                source: r.source.as_deref(),
                url: r.url.as_deref(),
            };
            notifier.leaked(&leaked, crate::store::now_ms()).await;
        }
    }
    Ok(found.into_keys().collect())
}
