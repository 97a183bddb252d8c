//! The one HTTP client for everything keyward sends: webhook deliveries,
//! the notify webhook, and fetches such as GitHub's public keys.
//!
//! rustls with the system CA store (the only TLS stack in the binary), a
//! 15 s timeout for the whole exchange, no redirects, no proxies, response
//! bodies read up to [`MAX_RESPONSE_BYTES`], `User-Agent: keyward/<version>`,
//! and the SSRF guard of [`guard`]: a URL's IP literal is checked before
//! the request and a name's addresses when it is resolved (once, every
//! address, connecting only to the checked ones).
//!
//! Errors never carry the URL (it may hold a token) and never a body.
pub mod guard;

pub use guard::{check_url, is_blocked, Policy, UrlError};

use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The time a whole request may take: connect, TLS, send and answer.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// The most of a response body keyward reads (the rest is dropped).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The `User-Agent` of every request keyward sends.
pub const USER_AGENT: &str = concat!("keyward/", env!("CARGO_PKG_VERSION"));

/// A request that got an answer (any status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub status: u16,
    pub duration: Duration,
}

/// Why a request got no answer. `Display` is safe to store and show: no
/// URL, no body.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The URL was refused before any connection.
    #[error("target URL {0}")]
    Url(#[from] UrlError),
    /// The name resolved to an address the guard refuses.
    #[error("the target resolves to an address that is not allowed")]
    AddressNotAllowed,
    #[error("timed out after {}s", TIMEOUT.as_secs())]
    Timeout,
    #[error("could not connect")]
    Connect,
    #[error("request failed: {0}")]
    Other(String),
}

impl OutboundError {
    /// A short machine-friendly kind for logs and metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            OutboundError::Url(_) | OutboundError::AddressNotAllowed => "refused",
            OutboundError::Timeout => "timeout",
            OutboundError::Connect => "connect",
            OutboundError::Other(_) => "error",
        }
    }
}

/// The outbound client. Cheap to clone.
#[derive(Clone)]
pub struct OutboundClient {
    client: reqwest::Client,
    policy: Policy,
}

impl std::fmt::Debug for OutboundClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundClient").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl OutboundClient {
    /// A client with the system resolver behind the guard.
    pub fn new(policy: Policy) -> anyhow::Result<Self> {
        Self::with_lookup(policy, guard::system_lookup())
    }

    /// A client whose names are resolved by `lookup` (tests).
    pub fn with_lookup(policy: Policy, lookup: guard::Lookup) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_native_certs(true)
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(USER_AGENT)
            .dns_resolver(Arc::new(guard::GuardedResolver { policy, lookup }))
            .build()?;
        Ok(OutboundClient { client, policy })
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// POST a JSON body (already serialised: webhook signatures cover these
    /// exact bytes) with extra headers. Any status is a [`Delivered`].
    pub async fn post_json(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Result<Delivered, OutboundError> {
        let url = check_url(url, self.policy)?;
        let mut req = self.client.post(url).header(reqwest::header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let started = Instant::now();
        let res = req.body(body.into()).send().await.map_err(classify)?;
        let status = res.status().as_u16();
        // Read (and drop) a bounded part of the answer so the connection can
        // be reused; a receiver that streams forever is cut off.
        let _ = read_bounded(res).await;
        Ok(Delivered { status, duration: started.elapsed() })
    }

    /// GET a URL: the status and at most [`MAX_RESPONSE_BYTES`] of the body.
    pub async fn get(&self, url: &str) -> Result<(u16, Bytes), OutboundError> {
        let url = check_url(url, self.policy)?;
        let res = self.client.get(url).send().await.map_err(classify)?;
        let status = res.status().as_u16();
        Ok((status, read_bounded(res).await?))
    }
}

async fn read_bounded(mut res: reqwest::Response) -> Result<Bytes, OutboundError> {
    let mut buf = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(classify)? {
        let room = MAX_RESPONSE_BYTES - buf.len();
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if buf.len() >= MAX_RESPONSE_BYTES {
            break;
        }
    }
    Ok(Bytes::from(buf))
}

fn classify(e: reqwest::Error) -> OutboundError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
    while let Some(s) = source {
        if s.is::<guard::BlockedAddress>() {
            return OutboundError::AddressNotAllowed;
        }
        source = s.source();
    }
    if e.is_timeout() {
        OutboundError::Timeout
    } else if e.is_connect() {
        OutboundError::Connect
    } else {
        OutboundError::Other(e.without_url().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_resolving_to_a_private_address_is_never_connected_to() {
        // A local listener that must see no connection.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let lookup: guard::Lookup = Arc::new(|_| Box::pin(std::future::ready(Ok(vec!["127.0.0.1".parse().unwrap()]))));
        let strict = OutboundClient::with_lookup(Policy { allow_private: false, allow_http: true }, lookup).unwrap();
        let r = strict.post_json(&format!("http://rebind.example.com:{port}/"), &[], "{}").await;
        assert!(matches!(r, Err(OutboundError::AddressNotAllowed)), "{r:?}");
        let r = strict.get(&format!("http://127.0.0.1:{port}/")).await;
        assert!(matches!(r, Err(OutboundError::Url(UrlError::AddressNotAllowed))), "{r:?}");
        let accepted = tokio::time::timeout(Duration::from_millis(50), listener.accept()).await;
        assert!(accepted.is_err(), "the guard let a connection through");
    }

    #[tokio::test]
    async fn posts_with_user_agent_and_does_not_follow_redirects() {
        use axum::routing::post;
        let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let s = Arc::clone(&seen);
        let app = axum::Router::new()
            .route(
                "/hook",
                post(move |h: axum::http::HeaderMap, body: String| async move {
                    let ua = h.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                    s.lock().unwrap().push(format!("{ua} {body}"));
                    (axum::http::StatusCode::FOUND, [("location", "/elsewhere")])
                }),
            )
            .route("/elsewhere", post(|| async { unreachable!("redirect followed") as &'static str }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let c = OutboundClient::new(Policy::operator()).unwrap();
        let d = c.post_json(&format!("http://{addr}/hook"), &[("x-test", "1")], r#"{"a":1}"#).await.unwrap();
        assert_eq!(d.status, 302);
        assert_eq!(seen.lock().unwrap().as_slice(), [format!("{USER_AGENT} {{\"a\":1}}")]);
    }
}
