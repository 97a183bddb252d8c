//! A local webhook receiver for the tests (an axum server on 127.0.0.1) and
//! an independent Standard Webhooks verifier. Shared by the API tests
//! (`tests/api/hooks.rs`) and the browser tests (`tests/browser/hooks.rs`),
//! which include this file with `#[path]`.
#![allow(dead_code)] // each test crate uses part of it

use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub content_type: String,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// Records every POST; answers the queued statuses ([`Receiver::answer`]),
/// then the default ([`Receiver::set_status`], 200 at first).
pub struct Receiver {
    pub addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
    default: Arc<AtomicU16>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Self::start_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()).await
    }

    pub async fn start_on(listener: tokio::net::TcpListener) -> Receiver {
        let got = Arc::new(Mutex::new(Vec::new()));
        let statuses = Arc::new(Mutex::new(VecDeque::new()));
        let default = Arc::new(AtomicU16::new(200));
        let (g, s, d) = (Arc::clone(&got), Arc::clone(&statuses), Arc::clone(&default));
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri, h: HeaderMap, b: String| {
            let (g, s, d) = (Arc::clone(&g), Arc::clone(&s), Arc::clone(&d));
            async move {
                let hv = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                g.lock().unwrap().push(Received {
                    path: uri.path().to_string(),
                    id: hv("webhook-id"),
                    timestamp: hv("webhook-timestamp"),
                    signature: hv("webhook-signature"),
                    content_type: hv("content-type"),
                    body: b,
                });
                let status = s.lock().unwrap().pop_front().unwrap_or_else(|| d.load(Ordering::SeqCst));
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        });
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { addr, got, statuses, default }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Answer the next POSTs with `statuses`, in order.
    pub fn answer(&self, statuses: &[u16]) {
        self.statuses.lock().unwrap().extend(statuses);
    }

    /// Answer `status` once the queued statuses ran out.
    pub fn set_status(&self, status: u16) {
        self.default.store(status, Ordering::SeqCst);
    }
}

/// HMAC-SHA256 written out here (RFC 2104), independent of keyward's `hmac`
/// crate, so a signing bug there cannot verify itself.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Verifies a delivery as a Standard Webhooks receiver does: a `v1,`
/// signature over `{webhook-id}.{webhook-timestamp}.{raw body}` with the
/// base64-decoded part of the secret after `whsec_`, a fresh timestamp,
/// JSON content, and `webhook-id` equal to the body's `id`.
pub fn verify(secret: &str, r: &Received) {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").expect("a whsec_ secret")).unwrap();
    let expected = hmac_sha256(&key, format!("{}.{}.{}", r.id, r.timestamp, r.body).as_bytes());
    let ok = r
        .signature
        .split(' ')
        .any(|s| s.strip_prefix("v1,").and_then(|b64| STANDARD.decode(b64).ok()).is_some_and(|sig| sig == expected));
    assert!(ok, "no v1 signature of {} verifies: {:?}", r.id, r.signature);
    let ts: i64 = r.timestamp.parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((now - ts).abs() < 300, "timestamp {ts} vs now {now}");
    assert_eq!(r.content_type, "application/json");
    assert_eq!(r.json()["id"], r.id.as_str(), "webhook-id is the event id");
}
