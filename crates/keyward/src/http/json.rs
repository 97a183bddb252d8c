//! `ApiJson<T>`: the JSON body extractor every endpoint uses. It answers
//! 415 for a wrong content type, 413 past the body limit, 400 `invalid_json`
//! for malformed JSON and 422 with per-field errors for wrong types, missing
//! or unknown fields, without echoing the client's (possibly long) input.

use super::error::{ApiError, FieldError};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

/// A JSON request body deserialised into `T`.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType("send the body as Content-Type: application/json"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::InvalidJson("could not read the request body".into())
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// `application/json`, optionally with parameters (`; charset=utf-8`).
pub fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// Parse in two steps so syntax errors (400) and shape errors (422) differ.
/// An object with the same key twice is a 422 (`duplicate_key`): parsers
/// disagree on which one wins, so a proxy could validate another body.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let syntax = |e: &serde_json::Error| {
        ApiError::InvalidJson(format!("the body is not valid JSON (line {}, column {})", e.line(), e.column()))
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize::<_, NoDuplicates>(&mut de) {
        Ok(NoDuplicates(v)) => v,
        Err(e) if e.inner().is_data() => {
            let path = e.path().to_string();
            return Err(ApiError::Validation(vec![field_error(&path, &e.into_inner().to_string())]));
        }
        Err(e) => return Err(syntax(e.inner())),
    };
    de.end().map_err(|e| syntax(&e))?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        ApiError::Validation(vec![field_error(&path, &e.into_inner().to_string())])
    })
}

/// A JSON value that refuses objects with a key twice.
struct NoDuplicates(serde_json::Value);

impl<'de> serde::Deserialize<'de> for NoDuplicates {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicatesVisitor).map(NoDuplicates)
    }
}

struct NoDuplicatesVisitor;

impl<'de> serde::de::Visitor<'de> for NoDuplicatesVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(NoDuplicates(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(serde_json::Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(k) = map.next_key::<String>()? {
            if out.contains_key(&k) {
                return Err(serde::de::Error::custom(format_args!("duplicate key `{k}`")));
            }
            let NoDuplicates(v) = map.next_value()?;
            out.insert(k, v);
        }
        Ok(serde_json::Value::Object(out))
    }
}

/// Turn a serde message into a field error that never echoes input values.
pub fn field_error(path: &str, msg: &str) -> FieldError {
    let join = |name: &str| {
        // serde_path_to_error's path may already end with an unknown field's name.
        if path == name || path.ends_with(&format!(".{name}")) {
            path.to_string()
        } else if path.is_empty() || path == "." {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    let quoted = |m: &str| m.split('`').nth(1).map(str::to_string);
    let field = if path == "." { String::new() } else { path.to_string() };
    if msg.starts_with("missing field") {
        let name = quoted(msg).unwrap_or_default();
        FieldError::new(join(&name), "required", "is required")
    } else if msg.starts_with("unknown field") {
        // The path already ends at the unknown key.
        let name = quoted(msg).unwrap_or_default();
        let field = if path == name || path.ends_with(&format!(".{name}")) { path.to_string() } else { join(&name) };
        FieldError::new(field, "unknown_field", "is not a known field")
    } else if msg.starts_with("duplicate key") {
        let name = quoted(msg).unwrap_or_default();
        FieldError::new(join(&name), "duplicate_key", "appears more than once in the object")
    } else if let Some(exp) = msg.split(", expected ").nth(1) {
        let expected: String = exp.chars().take(80).collect();
        let code = if msg.starts_with("invalid type") { "invalid_type" } else { "invalid_value" };
        FieldError::new(field, code, format!("expected {expected}"))
    } else {
        let m: String = msg.chars().take(120).collect();
        FieldError::new(field, "invalid_value", m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        n: Option<u32>,
    }

    fn errs(s: &str) -> Vec<FieldError> {
        match parse_json::<Body>(s.as_bytes()) {
            Err(ApiError::Validation(e)) => e,
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn shape_errors_name_the_field_without_echoing_input() {
        assert_eq!(errs("{}")[0].field, "name");
        assert_eq!(errs("{}")[0].code, "required");
        assert_eq!(errs(r#"{"name":"a","x":1}"#)[0].code, "unknown_field");
        assert_eq!(errs(r#"{"name":"a","x":1}"#)[0].field, "x");
        let e = &errs(&format!(r#"{{"name":"a","n":"{}"}}"#, "z".repeat(5000)))[0];
        assert_eq!((e.field.as_str(), e.code.as_str()), ("n", "invalid_type"));
        assert!(!e.message.contains("zzzz"));
        assert_eq!(errs(r#"{"name":"a","n":-1}"#)[0].field, "n");
    }

    #[test]
    fn unknown_fields_are_named_once_and_duplicate_keys_refused() {
        assert_eq!(errs(r#"{"name":"a","zz":1}"#)[0].field, "zz");
        let e = &errs(r#"{"name":"a","name":"b"}"#)[0];
        assert_eq!((e.field.as_str(), e.code.as_str()), ("name", "duplicate_key"));
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            inner: serde_json::Value,
        }
        match parse_json::<Outer>(br#"{"inner":{"a":1,"a":2}}"#) {
            Err(ApiError::Validation(e)) => {
                assert_eq!((e[0].field.as_str(), e[0].code.as_str()), ("inner.a", "duplicate_key"))
            }
            other => panic!("expected 422, got {other:?}"),
        }
        assert!(matches!(parse_json::<Body>(br#"{"name":"a"} x"#), Err(ApiError::InvalidJson(_))));
        assert!(matches!(parse_json::<Body>(br#"{"name":"a""#), Err(ApiError::InvalidJson(_))));
    }

    #[test]
    fn syntax_errors_are_400() {
        assert!(matches!(parse_json::<Body>(b"{nope"), Err(ApiError::InvalidJson(_))));
    }
}
