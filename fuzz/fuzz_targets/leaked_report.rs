//! Leaked-key reports (SPEC §11): GitHub's secret-scanning report parser
//! (`keyward_core::secret_scanning::parse_github_report`), the signature
//! decoding and verification over fuzzed bodies, the published key set
//! (`keyward::leaked::github::parse_key_set`) and the public
//! `POST /v1/leaked-keys` body. Layout: the input up to the first `\n` is
//! also tried as the `Github-Public-Key-Signature` header; the whole input is
//! the body.
#![no_main]

use keyward::http::json::parse_json;
use keyward::http::v1::leaked::LeakedKeysReport;
use keyward::leaked::github::parse_key_set;
use keyward_core::secret_scanning::{
    decode_signature, parse_github_report, parse_public_key_pem, verify_signature, MAX_MATCHES,
};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

// GitHub's published sample key (its secret-scanning partner docs).
const SAMPLE_PEM: &str = "-----BEGIN PUBLIC KEY-----\n\
    MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYAGMWO8XgCamYKMJS6jc/qgvSlAd\n\
    AjPuDPRcXU22YxgBrz+zoN19MzuRyW87qEt9/AmtoNP5GrobzUvQSyJFVw==\n\
    -----END PUBLIC KEY-----\n";

static KEY: LazyLock<p256::ecdsa::VerifyingKey> = LazyLock::new(|| parse_public_key_pem(SAMPLE_PEM).unwrap());

fuzz_target!(|data: &[u8]| {
    if let Ok(matches) = parse_github_report(data) {
        assert!(matches.len() <= MAX_MATCHES);
    }
    if let Err(e) = parse_json::<LeakedKeysReport>(data) {
        assert!(e.status().is_client_error());
    }
    let _ = parse_key_set(data);
    let head = data.split(|&b| b == b'\n').next().unwrap_or(data);
    if let Ok(sig) = std::str::from_utf8(head) {
        let _ = decode_signature(sig);
        // A fuzzed signature over a fuzzed body never verifies against GitHub's key
        // (and never panics).
        assert!(!verify_signature(&KEY, data, sig));
    }
    if let Ok(pem) = std::str::from_utf8(data) {
        let _ = parse_public_key_pem(pem);
    }
});
