//! Every `/v1` JSON body: the body reader (`keyward::http::json::parse_json`,
//! 400 for bad syntax, 422 for duplicate keys) and the validation of
//! "create study" and "create transcript" (`keyward::http::v1::input`).
//! Every outcome must be a success or a 4xx, and rendering the error must not
//! panic either.
#![no_main]

use axum::response::IntoResponse;
use keyward::http::error::ApiError;
use keyward::http::json::parse_json;
use keyward::http::v1::input;
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
        assert!(!errs.is_empty() && errs.len() <= input::MAX_ERRORS);
        client_error(ApiError::Validation(errs));
    }
    if let Err(errs) = input::new_transcript(&value) {
        assert!(!errs.is_empty() && errs.len() <= input::MAX_ERRORS);
        client_error(ApiError::Validation(errs));
    }
});
