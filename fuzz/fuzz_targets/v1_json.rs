//! Every `/v1` JSON body: the body reader (`keyward::http::json::parse_json`,
//! 400 for bad syntax, 422 for duplicate keys) and the validation of
//! "create study" and "create transcript" (`keyward::http::v1::input`) and
//! "create hook" (`keyward::http::v1::hooks::parse_hook_body`, under the
//! default outbound policy and the operator's, for `/v1` and admin events).
//! Every outcome must be a success or a 4xx, and rendering the error must not
//! panic either.
#![no_main]

use axum::response::IntoResponse;
use keyward::http::error::ApiError;
use keyward::http::json::parse_json;
use keyward::http::v1::hooks::parse_hook_body;
use keyward::http::v1::input;
use keyward::outbound::Policy;
use keyward::webhooks::EventType;
use libfuzzer_sys::fuzz_target;

fn client_error(e: ApiError) {
    let status = e.status();
    assert!(status.is_client_error(), "{status} for a bad body");
    let res = e.into_response();
    assert_eq!(res.status(), status);
}

fuzz_target!(|data: &[u8]| {
    let value = match parse_json::<serde_json::Value>(data) {
        Ok(v) => v,
        Err(e) => return client_error(e),
    };
    if let Err(errs) = input::new_study(&value) {
        assert!(!errs.is_empty() && errs.len() <= keyward::http::error::MAX_ERRORS);
        client_error(ApiError::Validation(errs));
    }
    if let Err(errs) = input::new_transcript(&value) {
        assert!(!errs.is_empty() && errs.len() <= keyward::http::error::MAX_ERRORS);
        client_error(ApiError::Validation(errs));
    }
    for policy in [Policy::default(), Policy::operator()] {
        let admin: fn(EventType) -> bool = |e| !e.is_resource_event();
        for allowed in [EventType::is_resource_event, admin] {
            match parse_hook_body(&value, policy, allowed) {
                Ok((url, event)) => {
                    assert!(allowed(event));
                    // Stored as sent; the scheme is checked case-insensitively by the URL parser.
                    let scheme = url.split(':').next().unwrap_or("").to_ascii_lowercase();
                    assert!(scheme == "https" || (policy.allow_http && scheme == "http"), "{url}");
                }
                Err(e) => client_error(e),
            }
        }
    }
});
