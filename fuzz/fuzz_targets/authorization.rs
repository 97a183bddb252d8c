//! `Authorization` header parsing of `/v1` (`keyward::http::v1::auth::bearer`)
//! feeding the key parser. The input is split on `\n` into up to four
//! header values (each one `HeaderValue` accepts), so repeated headers are
//! fuzzed too.
#![no_main]

use axum::http::{header, HeaderMap, HeaderValue};
use keyward::http::v1::auth::bearer;
use keyward_core::key;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for part in data.split(|&b| b == b'\n').take(4) {
        if let Ok(v) = HeaderValue::from_bytes(part) {
            headers.append(header::AUTHORIZATION, v);
        }
    }
    let n = headers.get_all(header::AUTHORIZATION).iter().count();
    if let Some(token) = bearer(&headers) {
        // Only a single header yields a token, and it is trimmed.
        assert_eq!(n, 1);
        assert_eq!(token, token.trim());
        let _ = key::parse(token);
    }
});
