//! GitHub's secret scanning partner contract (SPEC §11), without I/O: the
//! pattern keyward registers, the report GitHub POSTs, and the verification
//! of its signature.
//!
//! GitHub signs the raw body with ECDSA P-256 / SHA-256 and sends the
//! base64 of the DER signature in `Github-Public-Key-Signature`, naming its
//! key in `Github-Public-Key-Identifier`; the keys are published as PEM
//! (SPKI). Verification is RustCrypto's `p256`; nothing here is
//! hand-written crypto.
//!
//! [`parse_github_report`], [`decode_signature`] and [`verify_signature`]
//! take any bytes without panicking (fuzz targets call them).

use base64::Engine;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt;

/// The token type keyward registers with GitHub.
pub const TOKEN_TYPE: &str = "user_evaluation_api_key";
/// The regular expression GitHub matches keys with (SPEC §3: the prefix,
/// 32 random and 6 checksum characters of base62).
pub const TOKEN_REGEX: &str = "ue_live_[0-9A-Za-z]{38}";
/// Where GitHub sends its reports (relative to the public URL).
pub const GITHUB_ENDPOINT_PATH: &str = "/v1/secret-scanning/github";
/// The public leak report endpoint.
pub const PUBLIC_ENDPOINT_PATH: &str = "/v1/leaked-keys";
/// Most matches in one GitHub report, and most keys in one public report.
pub const MAX_MATCHES: usize = 1000;
/// Header naming GitHub's signing key.
pub const KEY_IDENTIFIER_HEADER: &str = "github-public-key-identifier";
/// Header carrying the base64 DER signature of the body.
pub const SIGNATURE_HEADER: &str = "github-public-key-signature";
/// Longest `url` / `source` kept from a report (longer ones are cut):
/// they go into the audit log and the page.
pub const MAX_LOCATION_CHARS: usize = 2048;

/// One match of a GitHub report. `Debug` never prints the token.
#[derive(Clone, PartialEq, Eq)]
pub struct GithubMatch {
    /// The secret GitHub found (never logged, stored or echoed).
    pub token: String,
    /// The token type GitHub matched (ours: [`TOKEN_TYPE`]).
    pub token_type: String,
    /// Where it was found, e.g. a commit URL.
    pub url: Option<String>,
    /// What kind of place: `commit`, `issue_comment`, `gist`, …
    pub source: Option<String>,
}

impl fmt::Debug for GithubMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubMatch")
            .field("token", &"REDACTED")
            .field("token_type", &self.token_type)
            .field("url", &self.url)
            .field("source", &self.source)
            .finish()
    }
}

impl GithubMatch {
    /// The `token_hash` of GitHub's feedback: hex SHA-256 of the token.
    pub fn token_hash(&self) -> String {
        hex_sha256(self.token.as_bytes())
    }
}

/// Lowercase hex SHA-256.
pub fn hex_sha256(bytes: &[u8]) -> String {
    use std::fmt::Write;
    Sha256::digest(bytes).iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Why a report body was refused. Messages never echo the body's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// Not JSON at all (400 `invalid_json`).
    #[error("the body is not valid JSON (line {line}, column {column})")]
    Json { line: usize, column: usize },
    /// JSON of the wrong shape (422): `field` is the JSON path.
    #[error("{field}: {message}")]
    Shape { field: String, code: &'static str, message: String },
}

fn shape(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> ReportError {
    ReportError::Shape { field: field.into(), code, message: message.into() }
}

fn cut(s: &str) -> String {
    s.chars().take(MAX_LOCATION_CHARS).collect()
}

/// Parse GitHub's report: a JSON array of at most [`MAX_MATCHES`] objects
/// `{token, type, url, source}`; `token` and `type` are required strings,
/// `url` and `source` optional strings (cut to [`MAX_LOCATION_CHARS`]).
/// Other fields are ignored (GitHub may add some).
pub fn parse_github_report(body: &[u8]) -> Result<Vec<GithubMatch>, ReportError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ReportError::Json { line: e.line(), column: e.column() })?;
    let Value::Array(items) = value else {
        return Err(shape("", "invalid_type", "expected an array of matches"));
    };
    if items.len() > MAX_MATCHES {
        return Err(shape("", "too_many", format!("at most {MAX_MATCHES} matches per report")));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let Value::Object(obj) = item else {
                return Err(shape(format!("[{i}]"), "invalid_type", "expected an object"));
            };
            let required = |name: &str| match obj.get(name) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(shape(format!("[{i}].{name}"), "invalid_type", "expected a string")),
                None => Err(shape(format!("[{i}].{name}"), "required", "is required")),
            };
            let optional = |name: &str| match obj.get(name) {
                Some(Value::String(s)) => Ok(Some(cut(s))),
                None | Some(Value::Null) => Ok(None),
                Some(_) => Err(shape(format!("[{i}].{name}"), "invalid_type", "expected a string")),
            };
            Ok(GithubMatch {
                token: required("token")?,
                token_type: required("type")?,
                url: optional("url")?,
                source: optional("source")?,
            })
        })
        .collect()
}

/// Why a signature could not be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature is not base64")]
    Base64,
    #[error("the signature is not a DER-encoded ECDSA signature")]
    Der,
    #[error("the public key is not a PEM P-256 public key")]
    Key,
}

/// Decode `Github-Public-Key-Signature`: base64 (standard alphabet, padded
/// or not, surrounding whitespace ignored) of an ASN.1 DER ECDSA signature.
pub fn decode_signature(b64: &str) -> Result<Signature, SignatureError> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(b64.trim()))
        .map_err(|_| SignatureError::Base64)?;
    Signature::from_der(&raw).map_err(|_| SignatureError::Der)
}

/// A published key (`-----BEGIN PUBLIC KEY-----`, SPKI) as a verifier.
pub fn parse_public_key_pem(pem: &str) -> Result<VerifyingKey, SignatureError> {
    VerifyingKey::from_public_key_pem(pem.trim()).map_err(|_| SignatureError::Key)
}

/// Whether `signature_b64` is a valid ECDSA P-256 / SHA-256 signature of
/// exactly these body bytes by `key`.
pub fn verify_signature(key: &VerifyingKey, body: &[u8], signature_b64: &str) -> bool {
    match decode_signature(signature_b64) {
        Ok(sig) => verify_decoded(key, body, &sig),
        Err(_) => false,
    }
}

/// [`verify_signature`] for a signature already decoded.
pub fn verify_decoded(key: &VerifyingKey, body: &[u8], signature: &Signature) -> bool {
    key.verify(body, signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // GitHub's published sample (docs: "Implement signature verification in
    // your secret alert service"): the key, the body and its signature.
    const SAMPLE_KEY_ID: &str = "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c";
    const SAMPLE_PEM: &str = "-----BEGIN PUBLIC KEY-----\n\
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYAGMWO8XgCamYKMJS6jc/qgvSlAd\n\
        AjPuDPRcXU22YxgBrz+zoN19MzuRyW87qEt9/AmtoNP5GrobzUvQSyJFVw==\n\
        -----END PUBLIC KEY-----\n";
    const SAMPLE_BODY: &str =
        r#"[{"source":"commit","token":"some_token","type":"some_type","url":"https://example.com/base-repo-url/"}]"#;
    const SAMPLE_SIGNATURE: &str =
        "MEQCIQDaMKqrGnE27S0kgMrEK0eYBmyG0LeZismAEz/BgZyt7AIfXt9fErtRS4XaeSt/AO1RtBY66YcAdjxji410VQV4xg==";

    #[test]
    fn githubs_published_sample_verifies() {
        assert_eq!(SAMPLE_KEY_ID.len(), 64);
        assert_eq!(SAMPLE_BODY.len(), 104, "the sample's Content-Length");
        let key = parse_public_key_pem(SAMPLE_PEM).unwrap();
        assert!(verify_signature(&key, SAMPLE_BODY.as_bytes(), SAMPLE_SIGNATURE));
        let report = parse_github_report(SAMPLE_BODY.as_bytes()).unwrap();
        assert_eq!(report.len(), 1);
        assert_eq!(report[0].token, "some_token");
        assert_eq!(report[0].token_type, "some_type");
        assert_eq!(report[0].url.as_deref(), Some("https://example.com/base-repo-url/"));
        assert_eq!(report[0].source.as_deref(), Some("commit"));
    }

    #[test]
    fn a_one_byte_change_to_the_sample_does_not_verify() {
        let key = parse_public_key_pem(SAMPLE_PEM).unwrap();
        let body = SAMPLE_BODY.as_bytes();
        for i in 0..body.len() {
            let mut changed = body.to_vec();
            changed[i] ^= 0x01;
            assert!(!verify_signature(&key, &changed, SAMPLE_SIGNATURE), "byte {i} changed still verifies");
        }
        // The same JSON with other spacing is not the signed body either.
        let reserialised = serde_json::to_vec_pretty(&serde_json::from_str::<Value>(SAMPLE_BODY).unwrap()).unwrap();
        assert_ne!(reserialised, body);
        assert!(!verify_signature(&key, &reserialised, SAMPLE_SIGNATURE));
        // One byte of the signature changed.
        let mut sig = base64::engine::general_purpose::STANDARD.decode(SAMPLE_SIGNATURE).unwrap();
        let last = sig.len() - 1;
        sig[last] ^= 0x01;
        let sig = base64::engine::general_purpose::STANDARD.encode(sig);
        assert!(!verify_signature(&key, body, &sig));
    }

    #[test]
    fn garbage_signatures_and_keys_are_refused_without_panicking() {
        let key = parse_public_key_pem(SAMPLE_PEM).unwrap();
        for sig in ["", "not base64!", "AAAA", "MEQCIQ==", &"A".repeat(10_000)] {
            assert!(!verify_signature(&key, SAMPLE_BODY.as_bytes(), sig), "{sig:?}");
        }
        assert_eq!(decode_signature("%%%"), Err(SignatureError::Base64));
        assert_eq!(decode_signature("AAAA"), Err(SignatureError::Der));
        assert!(decode_signature(SAMPLE_SIGNATURE.trim_end_matches('=')).is_ok());
        assert!(parse_public_key_pem("").is_err());
        assert!(parse_public_key_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").is_err());
    }

    #[test]
    fn a_generated_key_signs_and_verifies_raw_bytes() {
        use p256::ecdsa::signature::Signer;
        use p256::ecdsa::SigningKey;
        use p256::pkcs8::EncodePublicKey;
        let signing = SigningKey::random(&mut rand::rngs::OsRng);
        let pem = signing.verifying_key().to_public_key_pem(p256::pkcs8::LineEnding::LF).unwrap();
        let key = parse_public_key_pem(&pem).unwrap();
        let body = br#"[{"token":"t","type":"x","url":"u","source":"s"}]"#;
        let sig: Signature = signing.sign(body);
        let b64 = base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes());
        assert!(verify_signature(&key, body, &b64));
        assert!(!verify_signature(&key, b"[]", &b64));
    }

    fn shape_of(body: &str) -> (String, &'static str) {
        match parse_github_report(body.as_bytes()) {
            Err(ReportError::Shape { field, code, .. }) => (field, code),
            other => panic!("expected a shape error for {body}, got {other:?}"),
        }
    }

    #[test]
    fn reports_of_the_wrong_shape_name_the_field() {
        assert!(matches!(parse_github_report(b"[{"), Err(ReportError::Json { .. })));
        assert!(matches!(parse_github_report(b""), Err(ReportError::Json { .. })));
        assert_eq!(shape_of(r#"{"token":"x"}"#), ("".into(), "invalid_type"));
        assert_eq!(shape_of(r#"[1]"#), ("[0]".into(), "invalid_type"));
        assert_eq!(shape_of(r#"[{"type":"x"}]"#), ("[0].token".into(), "required"));
        assert_eq!(
            shape_of(r#"[{"token":"t","type":"x"},{"token":1,"type":"x"}]"#),
            ("[1].token".into(), "invalid_type")
        );
        assert_eq!(shape_of(r#"[{"token":"t","type":"x","url":5}]"#), ("[0].url".into(), "invalid_type"));
        let many = format!("[{}]", vec![r#"{"token":"t","type":"x"}"#; MAX_MATCHES + 1].join(","));
        assert_eq!(shape_of(&many), ("".into(), "too_many"));
        let most = format!("[{}]", vec![r#"{"token":"t","type":"x"}"#; MAX_MATCHES].join(","));
        assert_eq!(parse_github_report(most.as_bytes()).unwrap().len(), MAX_MATCHES);
        assert_eq!(parse_github_report(b"[]").unwrap(), vec![]);
    }

    #[test]
    fn shape_errors_and_debug_never_echo_the_token() {
        let secret = "ue_live_secretsecretsecretsecretsecretsecret";
        let err = parse_github_report(format!(r#"[{{"token":"{secret}","type":7}}]"#).as_bytes()).unwrap_err();
        assert!(!err.to_string().contains(secret));
        let m = &parse_github_report(format!(r#"[{{"token":"{secret}","type":"x"}}]"#).as_bytes()).unwrap()[0];
        assert!(!format!("{m:?}").contains(secret));
        assert_eq!(m.token_hash(), hex_sha256(secret.as_bytes()));
        assert_eq!(hex_sha256(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn the_registered_pattern_matches_generated_keys() {
        let re = regex_lite_match;
        for _ in 0..100 {
            let k = crate::ApiKeySecret::generate();
            assert!(re(k.expose()));
        }
    }

    /// `ue_live_[0-9A-Za-z]{38}`, checked by hand (no regex crate in core).
    fn regex_lite_match(s: &str) -> bool {
        assert_eq!(TOKEN_REGEX, "ue_live_[0-9A-Za-z]{38}");
        s.len() == 46 && s.starts_with("ue_live_") && s[8..].bytes().all(|b| b.is_ascii_alphanumeric())
    }

    proptest::proptest! {
        #[test]
        fn the_parsers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse_github_report(&bytes);
            let s = String::from_utf8_lossy(&bytes);
            let _ = decode_signature(&s);
            let _ = parse_public_key_pem(&s);
        }
    }
}
