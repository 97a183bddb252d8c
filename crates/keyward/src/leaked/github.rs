//! GitHub's secret scanning public keys: fetched from
//! `--github-secret-scanning-keys-url`, cached for an hour, refetched at
//! most once a minute for an identifier the cached set does not know, and
//! the last good set kept when a fetch fails (SPEC §11).
//!
//! The fetching itself is behind [`KeySource`], so the HTTP client is
//! chosen in one place ([`default_source`]).

use keyward_core::secret_scanning::parse_public_key_pem;
use p256::ecdsa::VerifyingKey;
use serde::Deserialize;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a fetched key set is used before it is fetched again.
pub const KEYS_TTL: Duration = Duration::from_secs(3600);
/// Least time between two refetches for unknown identifiers, and between
/// two attempts to refresh a stale set after a failed one.
pub const REFETCH_GAP: Duration = Duration::from_secs(60);
/// Longest wait for the key set; longest answer accepted.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
pub const MAX_KEYS_BODY: usize = 256 * 1024;

/// What a fetch returns: the body of a 200 answer.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<Vec<u8>>> + Send + 'a>>;

/// Where GitHub's key set comes from: an HTTP GET in the server, a stub in
/// tests. Implementations answer `Err` for anything but a 200 with a body
/// of at most [`MAX_KEYS_BODY`] bytes, within [`FETCH_TIMEOUT`].
pub trait KeySource: Send + Sync {
    fn fetch<'a>(&'a self, url: &'a str) -> FetchFuture<'a>;
}

/// The key source the server uses: keyward's one outbound client
/// ([`crate::outbound::OutboundClient`]: rustls with the system CA store, no
/// redirects, bounded reads), under the operator policy (the URL is the
/// operator's `--github-secret-scanning-keys-url`, possibly an internal
/// mirror), and at most [`FETCH_TIMEOUT`] per fetch.
pub fn default_source() -> anyhow::Result<Arc<dyn KeySource>> {
    Ok(Arc::new(crate::outbound::OutboundClient::new(crate::outbound::Policy::operator())?))
}

impl KeySource for crate::outbound::OutboundClient {
    fn fetch<'a>(&'a self, url: &'a str) -> FetchFuture<'a> {
        Box::pin(async move {
            let (status, body) = tokio::time::timeout(FETCH_TIMEOUT, self.get(url))
                .await
                .map_err(|_| anyhow::anyhow!("the key set did not answer within {FETCH_TIMEOUT:?}"))??;
            if status != 200 {
                anyhow::bail!("the key set answered HTTP {status}");
            }
            if body.len() > MAX_KEYS_BODY {
                anyhow::bail!("the key set is larger than {MAX_KEYS_BODY} bytes");
            }
            Ok(body.to_vec())
        })
    }
}

#[derive(Deserialize)]
struct KeySetBody {
    public_keys: Vec<PublishedKey>,
}

#[derive(Deserialize)]
struct PublishedKey {
    key_identifier: String,
    key: String,
    #[serde(default)]
    #[allow(dead_code)]
    is_current: bool,
}

/// Parse GitHub's answer `{"public_keys": [{key_identifier, key, is_current}]}`
/// into verifiers by identifier. Keys that do not parse are skipped; a set
/// with no usable key is an error (the last good set stays in use).
pub fn parse_key_set(body: &[u8]) -> anyhow::Result<HashMap<String, VerifyingKey>> {
    let set: KeySetBody =
        serde_json::from_slice(body).map_err(|e| anyhow::anyhow!("the key set is not the expected JSON: {e}"))?;
    let mut keys = HashMap::new();
    for k in set.public_keys {
        match parse_public_key_pem(&k.key) {
            Ok(v) => {
                keys.insert(k.key_identifier, v);
            }
            Err(e) => tracing::warn!(key_identifier = %k.key_identifier, error = %e, "skipping a GitHub public key"),
        }
    }
    if keys.is_empty() {
        anyhow::bail!("the key set holds no usable P-256 public key");
    }
    Ok(keys)
}

/// The answer to "which key is this identifier?".
#[derive(Debug, Clone)]
pub enum KeyLookup {
    Found(VerifyingKey),
    /// Keys are known, this identifier is not among them.
    Unknown,
    /// No key set could be obtained at all.
    Unavailable,
}

#[derive(Default)]
struct Cached {
    keys: Option<HashMap<String, VerifyingKey>>,
    fetched_at: Option<Instant>,
    last_failed: Option<Instant>,
    last_unknown_refetch: Option<Instant>,
}

/// GitHub's keys, cached.
pub struct GithubKeys {
    url: String,
    source: Arc<dyn KeySource>,
    ttl: Duration,
    gap: Duration,
    cached: tokio::sync::Mutex<Cached>,
    fetches: AtomicU64,
}

impl GithubKeys {
    pub fn new(url: String, source: Arc<dyn KeySource>) -> Self {
        Self::with_timing(url, source, KEYS_TTL, REFETCH_GAP)
    }

    /// With other cache timings (unit tests).
    pub fn with_timing(url: String, source: Arc<dyn KeySource>, ttl: Duration, gap: Duration) -> Self {
        GithubKeys { url, source, ttl, gap, cached: Default::default(), fetches: AtomicU64::new(0) }
    }

    /// Fetch attempts so far (successful or not).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The key named `id`. Concurrent callers wait for one fetch.
    pub async fn key(&self, id: &str) -> KeyLookup {
        let mut c = self.cached.lock().await;
        let now = Instant::now();
        let stale = c.fetched_at.is_none_or(|t| now.duration_since(t) >= self.ttl);
        let mut fetched_now = false;
        if stale {
            // Without any key every call tries (GitHub retries on 503); a
            // stale set is refreshed, but after a failure not more than
            // once per gap (the old set serves meanwhile).
            let may_try = c.keys.is_none() || c.last_failed.is_none_or(|t| now.duration_since(t) >= self.gap);
            if may_try {
                fetched_now = self.refresh(&mut c, now).await;
            }
        }
        let Some(keys) = &c.keys else { return KeyLookup::Unavailable };
        if let Some(k) = keys.get(id) {
            return KeyLookup::Found(*k);
        }
        if fetched_now || c.last_unknown_refetch.is_some_and(|t| now.duration_since(t) < self.gap) {
            return KeyLookup::Unknown;
        }
        c.last_unknown_refetch = Some(now);
        self.refresh(&mut c, now).await;
        match c.keys.as_ref().and_then(|keys| keys.get(id)) {
            Some(k) => KeyLookup::Found(*k),
            None => KeyLookup::Unknown,
        }
    }

    /// Fetch and replace the set; on failure keep the last good one.
    async fn refresh(&self, c: &mut Cached, now: Instant) -> bool {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let fetched = match tokio::time::timeout(FETCH_TIMEOUT, self.source.fetch(&self.url)).await {
            Ok(Ok(body)) => parse_key_set(&body),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(anyhow::anyhow!("no answer within {} s", FETCH_TIMEOUT.as_secs())),
        };
        match fetched {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "fetched GitHub's secret scanning public keys");
                c.keys = Some(keys);
                c.fetched_at = Some(now);
                c.last_failed = None;
                true
            }
            Err(e) => {
                // The URL is the operator's setting, not a secret.
                tracing::warn!(
                    error = %e,
                    url = %self.url,
                    kept = c.keys.is_some(),
                    "could not fetch GitHub's secret scanning public keys"
                );
                c.last_failed = Some(now);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;
    use p256::pkcs8::EncodePublicKey;
    use std::sync::Mutex;

    /// Serves whatever body is set (None: fails), counting fetches.
    struct Stub(Mutex<Option<Vec<u8>>>);

    impl KeySource for Stub {
        fn fetch<'a>(&'a self, _url: &'a str) -> FetchFuture<'a> {
            let body = self.0.lock().unwrap().clone();
            Box::pin(async move { body.ok_or_else(|| anyhow::anyhow!("down")) })
        }
    }

    fn set(ids: &[&str]) -> (Vec<u8>, VerifyingKey) {
        let key = *SigningKey::random(&mut rand::rngs::OsRng).verifying_key();
        let pem = key.to_public_key_pem(p256::pkcs8::LineEnding::LF).unwrap();
        let keys: Vec<_> =
            ids.iter().map(|id| serde_json::json!({ "key_identifier": id, "key": pem, "is_current": true })).collect();
        (serde_json::to_vec(&serde_json::json!({ "public_keys": keys })).unwrap(), key)
    }

    impl Stub {
        /// What the next fetches get (None: they fail).
        fn serve(&self, body: Option<Vec<u8>>) {
            *self.0.lock().unwrap() = body;
        }
    }

    fn keys(stub: &Arc<Stub>, ttl_ms: u64, gap_ms: u64) -> GithubKeys {
        GithubKeys::with_timing(
            "http://127.0.0.1:1/keys".into(),
            Arc::clone(stub) as Arc<dyn KeySource>,
            Duration::from_millis(ttl_ms),
            Duration::from_millis(gap_ms),
        )
    }

    /// Keys fetched from a stub that serves a fresh key set with these
    /// identifiers; the stub and the set's key.
    fn cached(ids: &[&str], ttl_ms: u64, gap_ms: u64) -> (Arc<Stub>, GithubKeys, VerifyingKey) {
        let (body, key) = set(ids);
        let stub = Arc::new(Stub(Mutex::new(Some(body))));
        let gk = keys(&stub, ttl_ms, gap_ms);
        (stub, gk, key)
    }

    #[tokio::test]
    async fn a_known_identifier_is_served_from_the_cache() {
        let (_, gk, key) = cached(&["a"], 3_600_000, 60_000);
        for _ in 0..5 {
            assert!(matches!(gk.key("a").await, KeyLookup::Found(k) if k == key));
        }
        assert_eq!(gk.fetches(), 1);
    }

    #[tokio::test]
    async fn unknown_identifiers_refetch_at_most_once_per_gap() {
        let (stub, gk, _) = cached(&["a"], 3_600_000, 200);
        assert!(matches!(gk.key("a").await, KeyLookup::Found(_)));
        assert!(matches!(gk.key("b").await, KeyLookup::Unknown));
        assert_eq!(gk.fetches(), 2, "an unknown identifier refetches");
        assert!(matches!(gk.key("c").await, KeyLookup::Unknown));
        assert_eq!(gk.fetches(), 2, "but not twice within the gap");
        // GitHub rotated: after the gap, the new identifier is found.
        let (rotated, _) = set(&["a", "b"]);
        stub.serve(Some(rotated));
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(matches!(gk.key("b").await, KeyLookup::Found(_)));
        assert_eq!(gk.fetches(), 3);
    }

    #[tokio::test]
    async fn a_failed_fetch_keeps_the_last_good_set() {
        let (stub, gk, _) = cached(&["a"], 50, 60_000);
        assert!(matches!(gk.key("a").await, KeyLookup::Found(_)));
        stub.serve(None);
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(matches!(gk.key("a").await, KeyLookup::Found(_)), "stale but kept");
        assert_eq!(gk.fetches(), 2);
        assert!(matches!(gk.key("a").await, KeyLookup::Found(_)));
        assert_eq!(gk.fetches(), 2, "a failed refresh is not retried within the gap");
        stub.serve(Some(b"{\"public_keys\": []}".to_vec()));
        assert!(matches!(gk.key("zzz").await, KeyLookup::Unknown), "an empty set does not replace a good one");
        assert!(matches!(gk.key("a").await, KeyLookup::Found(_)));
    }

    #[tokio::test]
    async fn without_any_key_set_every_call_tries_and_answers_unavailable() {
        let stub = Arc::new(Stub(Mutex::new(None)));
        let gk = keys(&stub, 3_600_000, 60_000);
        assert!(matches!(gk.key("a").await, KeyLookup::Unavailable));
        assert!(matches!(gk.key("a").await, KeyLookup::Unavailable));
        assert_eq!(gk.fetches(), 2);
        stub.serve(Some(set(&["a"]).0));
        assert!(matches!(gk.key("a").await, KeyLookup::Found(_)));
    }

    #[test]
    fn key_sets_without_usable_keys_are_refused() {
        assert!(parse_key_set(b"nope").is_err());
        assert!(parse_key_set(br#"{"public_keys": []}"#).is_err());
        assert!(
            parse_key_set(br#"{"public_keys": [{"key_identifier": "x", "key": "junk", "is_current": true}]}"#).is_err()
        );
        let (body, _) = set(&["a", "b"]);
        assert_eq!(parse_key_set(&body).unwrap().len(), 2);
    }
}
