//! Leak reports (SPEC §11), both without an API key and outside the key
//! pipeline (no usage record, no key rate limit), but with `X-Request-Id`
//! and problem+json errors like every route:
//! - `POST /v1/secret-scanning/github`: GitHub's secret scanning partner
//!   contract; the raw body is verified against GitHub's signature before
//!   anything is read from it;
//! - `POST /v1/leaked-keys`: anyone's report, always the same 202.

use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::client_ip;
use crate::http::json::{is_json, parse_json};
use crate::leaked::github::KeyLookup;
use crate::leaked::{revoke_reported, Reported, Reporter};
use crate::state::AppState;
use crate::store::now_ms;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use keyward_core::key;
use keyward_core::secret_scanning::{
    decode_signature, parse_github_report, verify_decoded, ReportError, KEY_IDENTIFIER_HEADER, MAX_MATCHES,
    SIGNATURE_HEADER,
};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;
use utoipa::ToSchema;

/// Operation ids (public: no API key).
pub const GITHUB_OPERATION: &str = "reportGithubSecretScanning";
pub const PUBLIC_OPERATION: &str = "reportLeakedKeys";

/// One match of GitHub's report.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct SecretScanningMatch {
    /// The string GitHub found.
    #[schema(example = "ue_live_…")]
    token: String,
    /// The registered token type, `user_evaluation_api_key`.
    #[serde(rename = "type")]
    #[schema(example = "user_evaluation_api_key")]
    token_type: String,
    /// Where it was found.
    #[schema(example = "https://github.com/octocat/hello-world/blob/1a2b3c/config.py")]
    url: Option<String>,
    /// What kind of place: `commit`, `issue_comment`, `gist`, …
    #[schema(example = "commit")]
    source: Option<String>,
}

/// GitHub's feedback label of one match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackLabel {
    /// One of our keys (active, now revoked, or revoked before).
    TruePositive,
    FalsePositive,
}

/// Feedback on one match, in the order of the report.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretScanningFeedback {
    /// Hex SHA-256 of the reported token.
    #[schema(example = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")]
    pub token_hash: String,
    /// The match's `type`.
    pub token_type: String,
    pub label: FeedbackLabel,
}

/// A public leak report.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeakedKeysReport {
    /// Keys found where they should not be (at most 1000).
    #[schema(max_items = 1000, example = json!(["ue_live_…"]))]
    keys: Vec<String>,
}

/// The same answer to every accepted report.
#[derive(Serialize, ToSchema)]
pub struct LeakedKeysReceived {
    /// How many strings the report held.
    pub received: usize,
}

fn body_error(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::InvalidJson("could not read the request body".into())
    }
}

fn report_error(e: ReportError) -> ApiError {
    match e {
        ReportError::Json { .. } => ApiError::InvalidJson(e.to_string()),
        ReportError::Shape { field, code, message } => {
            ApiError::Validation(vec![FieldError::new(field, code, message)])
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

/// GitHub's secret scanning partner endpoint. The body is the JSON array
/// GitHub sends, signed: `Github-Public-Key-Identifier` names one of the
/// keys at `--github-secret-scanning-keys-url` and
/// `Github-Public-Key-Signature` is the base64 DER ECDSA P-256 / SHA-256
/// signature of the raw body. Each token that is one of our active keys is
/// revoked at once (reason `leaked`); the answer labels every match, in order.
#[utoipa::path(
    post,
    path = "/v1/secret-scanning/github",
    tag = "leaks",
    operation_id = "reportGithubSecretScanning",
    params(
        ("Github-Public-Key-Identifier" = String, Header, description = "Which of GitHub's published keys signed the body."),
        ("Github-Public-Key-Signature" = String, Header, description = "Base64 of the DER ECDSA P-256 / SHA-256 signature of the raw body."),
    ),
    request_body(content = Vec<SecretScanningMatch>, content_type = "application/json", description = "At most 1000 matches."),
    responses((status = 200, description = "One label per match, in the order of the report.", body = Vec<SecretScanningFeedback>)),
)]
pub async fn github_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = body.map_err(body_error)?;
    let (Some(id), Some(signature)) = (header(&headers, KEY_IDENTIFIER_HEADER), header(&headers, SIGNATURE_HEADER))
    else {
        return Err(ApiError::InvalidSignature(
            "send the Github-Public-Key-Identifier and Github-Public-Key-Signature headers",
        ));
    };
    // A signature that cannot be one is refused before GitHub's keys are
    // looked up (or fetched).
    let signature = decode_signature(signature)
        .map_err(|_| ApiError::InvalidSignature("Github-Public-Key-Signature is not a base64 DER ECDSA signature"))?;
    let key = match state.leaks.github.key(id).await {
        KeyLookup::Found(k) => k,
        KeyLookup::Unknown => return Err(ApiError::InvalidSignature("unknown Github-Public-Key-Identifier")),
        // Logged by the fetch; GitHub retries a 503.
        KeyLookup::Unavailable => return Err(ApiError::Unavailable),
    };
    if !verify_decoded(&key, &body, &signature) {
        return Err(ApiError::InvalidSignature("the signature does not match the body"));
    }
    let matches = parse_github_report(&body).map_err(report_error)?;
    let reported: Vec<Reported> = matches
        .iter()
        .filter_map(|m| {
            let hash = key::parse(&m.token).ok()?.hash();
            Some(Reported { hash, source: m.source.clone(), url: m.url.clone() })
        })
        .collect();
    let ours = revoke_reported(&state.store, &state.notifier, Reporter::Github, &reported).await?;
    let feedback: Vec<SecretScanningFeedback> = matches
        .iter()
        .map(|m| {
            let mine = key::parse(&m.token).is_ok_and(|k| ours.contains(&k.hash()));
            SecretScanningFeedback {
                token_hash: m.token_hash(),
                token_type: m.token_type.clone(),
                label: if mine { FeedbackLabel::TruePositive } else { FeedbackLabel::FalsePositive },
            }
        })
        .collect();
    let true_positives = feedback.iter().filter(|f| f.label == FeedbackLabel::TruePositive).count();
    tracing::info!(matches = feedback.len(), true_positives, "GitHub secret scanning report");
    Ok(Json(feedback).into_response())
}

/// Report keys found where they should not be: anyone who holds a key can
/// revoke it. The answer is always the same 202, whatever the keys were
/// (it tells nobody whether a key exists); each of our active keys among
/// them is revoked shortly after (reason `leaked`). At most 60 calls an
/// hour per client address.
#[utoipa::path(
    post,
    path = "/v1/leaked-keys",
    tag = "leaks",
    operation_id = "reportLeakedKeys",
    request_body(content = LeakedKeysReport, content_type = "application/json"),
    responses((status = 202, description = "Received; the same answer for any keys.", body = LeakedKeysReceived)),
)]
pub async fn public_report(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let ip = client_ip(&state, peer, &headers);
    if let Some(retry) = state.leaks.throttle.check(&state.limiter, ip, crate::store::unsigned_ms(now_ms())).await {
        return Err(ApiError::RateLimited {
            limit: crate::leaked::throttle::PUBLIC_REPORTS_PER_HOUR,
            per: "hour",
            retry_after: retry,
        });
    }
    if !is_json(&headers) {
        return Err(ApiError::UnsupportedMediaType("send the body as Content-Type: application/json"));
    }
    let body = body.map_err(body_error)?;
    let report: LeakedKeysReport = parse_json(&body)?;
    if report.keys.len() > MAX_MATCHES {
        return Err(ApiError::Validation(vec![FieldError::new(
            "keys",
            "too_many",
            format!("at most {MAX_MATCHES} keys per report"),
        )]));
    }
    let received = report.keys.len();
    // The same work for every well-formed string (a hash each; whether a
    // string is well-formed is no secret, the checksum is public), and the
    // lookups and revocations off the request path: neither the answer nor
    // its time nor this log line tells a real key from a made-up one.
    let reported: Vec<Reported> = report
        .keys
        .iter()
        .filter_map(|k| Some(Reported { hash: key::parse(k).ok()?.hash(), source: None, url: None }))
        .collect();
    let store = state.store.clone();
    let notifier = Arc::clone(&state.notifier);
    tokio::spawn(async move {
        if let Err(e) = revoke_reported(&store, &notifier, Reporter::Public, &reported).await {
            tracing::error!(error = ?e, "could not process a public leak report");
        }
    });
    tracing::info!(received, "public leak report received");
    Ok((StatusCode::ACCEPTED, Json(LeakedKeysReceived { received })).into_response())
}
