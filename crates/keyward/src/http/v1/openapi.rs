//! The OpenAPI 3.1 document of `/v1`, served at `GET /v1/openapi.json`.
//!
//! The paths, operations, parameters and success bodies come from the
//! handlers' `#[utoipa::path]` attributes, collected by the same
//! `utoipa-axum` router that serves them, so a route cannot exist without
//! its description or the other way round. [`finish`] then adds what every
//! operation shares and utoipa cannot say on its own: the bearer security
//! scheme, the problem+json error responses of the authentication pipeline
//! and of the extractors, and the response headers (request id, rate limit,
//! `Retry-After`) with `required` where they are always sent.

use super::input;
use crate::http::extract::{DEFAULT_LIMIT, MAX_LIMIT};
use serde_json::{json, Map, Value};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, PartialSchema, ToSchema};

/// Operation id of `GET /v1/openapi.json`.
pub const OPENAPI_OPERATION: &str = "getOpenApi";
/// The operations that need no API key.
pub const PUBLIC_OPERATIONS: [&str; 3] =
    [OPENAPI_OPERATION, super::leaked::GITHUB_OPERATION, super::leaked::PUBLIC_OPERATION];

/// The error responses of the public operations that take a body.
fn public_error_responses(operation: &str) -> Vec<(&'static str, Value)> {
    let mut out = vec![
        ("400", problem_response("The body is not valid JSON (`invalid_json`).", "Problem")),
        ("413", problem_response("The body is larger than 1 MiB (`payload_too_large`).", "Problem")),
    ];
    if operation == super::leaked::GITHUB_OPERATION {
        out.extend([
            (
                "401",
                problem_response(
                    "The signature headers are missing, the signature does not match the raw body, or the key \
                     identifier is unknown (`invalid_signature`). Nothing was changed.",
                    "Problem",
                ),
            ),
            (
                "422",
                problem_response(
                    "The body is not an array of at most 1000 matches `{token, type, url, source}` of strings \
                     (`validation_failed`). Nothing was changed.",
                    "ValidationProblem",
                ),
            ),
            (
                "503",
                problem_response(
                    "GitHub's public keys could not be fetched, or storage is unavailable (`service_unavailable`); \
                     send the report again later.",
                    "Problem",
                ),
            ),
        ]);
    } else if operation == super::leaked::PUBLIC_OPERATION {
        out.extend([
            (
                "415",
                problem_response("The body is not sent as `application/json` (`unsupported_media_type`).", "Problem"),
            ),
            (
                "422",
                problem_response(
                    "The body is not `{keys: [string, …]}` with at most 1000 keys (`validation_failed`).",
                    "ValidationProblem",
                ),
            ),
            ("429", problem_response("More than 60 reports in an hour from this address (`rate_limited`).", "Problem")),
        ]);
    }
    out
}

/// Base of the document (`#[derive(OpenApi)]` would give the same, less legibly).
pub fn base() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApiBuilder::new()
        .info(
            utoipa::openapi::InfoBuilder::new()
                .title("User Evaluation API")
                .version("1")
                .description(Some(
                    "The public REST API of User Evaluation. Authenticate with a workspace API key: \
                     `Authorization: Bearer ue_live_…`. Errors are RFC 9457 problem+json with a stable `code`.",
                ))
                .build(),
        )
        .build()
}

fn from_json<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("a built-in OpenAPI fragment")
}

const ULID_CHARS: &str = "[0-9A-HJKMNP-TV-Z]{26}";

fn id_pattern(prefix: &str) -> String {
    format!("^{prefix}_{ULID_CHARS}$")
}

fn list_params(prefix: &str, noun: &str, one: &str) -> Vec<Parameter> {
    vec![
        from_json(json!({
            "name": "limit", "in": "query", "required": false,
            "description": format!("How many {noun} to return (1–{MAX_LIMIT}, default {DEFAULT_LIMIT})."),
            "schema": { "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT },
        })),
        from_json(json!({
            "name": "starting_after", "in": "query", "required": false,
            "description": format!(
                "Cursor: the id of the last {one} of the previous page. An id that is not in this list is a 422 \
                 (`unknown_cursor`)."
            ),
            "schema": { "type": "string", "pattern": id_pattern(prefix) },
        })),
    ]
}

fn id_param(prefix: &str, noun: &str) -> Parameter {
    from_json(json!({
        "name": "id", "in": "path", "required": true,
        "description": format!("The {noun}'s id. Another workspace's id, or one that does not exist, is a 404."),
        "schema": { "type": "string", "pattern": id_pattern(prefix) },
    }))
}

/// Unit structs standing for a set of parameters in `#[utoipa::path(params(…))]`,
/// each with the parameters it stands for.
macro_rules! param_sets {
    ($($(#[$doc:meta])* $name:ident => $params:expr;)*) => {$(
        $(#[$doc])*
        pub struct $name;
        impl IntoParams for $name {
            fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
                $params
            }
        }
    )*};
}

param_sets! {
    /// `limit` and `starting_after` of `GET /v1/studies`.
    StudyListParams => list_params(crate::store::STUDY_PREFIX, "studies", "study");
    /// `limit` and `starting_after` of the transcript lists.
    TranscriptListParams => list_params(crate::store::TRANSCRIPT_PREFIX, "transcripts", "transcript");
    /// The `{id}` of `/v1/studies/{id}…`.
    StudyIdParam => vec![id_param(crate::store::STUDY_PREFIX, "study")];
    /// The `{id}` of `/v1/transcripts/{id}`.
    TranscriptIdParam => vec![id_param(crate::store::TRANSCRIPT_PREFIX, "transcript")];
    /// `limit` and `starting_after` of `GET /v1/hooks`.
    HookListParams => list_params(crate::webhooks::HOOK_PREFIX, "hooks", "hook");
    /// The `{id}` of `/v1/hooks/{id}`.
    HookIdParam => vec![id_param(crate::webhooks::HOOK_PREFIX, "hook")];
}

/// Unit structs standing for a request body in `#[utoipa::path(request_body(…))]`,
/// each named as itself in the document, with the JSON Schema it stands for.
macro_rules! body_schemas {
    ($($(#[$doc:meta])* $name:ident => $schema:expr;)*) => {$(
        $(#[$doc])*
        pub struct $name;
        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                from_json($schema)
            }
        }
        impl ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
        }
    )*};
}

body_schemas! {
    /// The body of `POST /v1/studies`, described from [`input`]'s constants.
    CreateStudy => input::create_study_schema();
    /// The body of `POST /v1/studies/{id}/transcripts`, described from [`input`]'s constants.
    CreateTranscript => input::create_transcript_schema();
}

/// Response headers every `/v1` operation may send, by name.
fn headers() -> Value {
    let int = |description: &str| json!({ "description": description, "schema": { "type": "integer", "minimum": 0 } });
    let text = |description: &str| json!({ "description": description, "schema": { "type": "string" } });
    json!({
        "X-Request-Id": text("The request's id: quote it to support. On every response."),
        "X-RateLimit-Limit": int("Requests per minute this key may make."),
        "X-RateLimit-Remaining": int("Requests left in the current window."),
        "X-RateLimit-Reset": int("Seconds until `remaining` next grows; 0 when it is full."),
        "RateLimit-Policy": text("IETF draft field, e.g. `\"pro\";q=300;w=60`."),
        "RateLimit": text("IETF draft field, e.g. `\"pro\";r=299;t=60`."),
        "Retry-After": int("Seconds to wait before the next request succeeds."),
        "WWW-Authenticate": text("`Bearer realm=\"keyward\"`."),
        "Location": text("The URL path of the created resource."),
    })
}

const RATE_LIMIT_HEADERS: [&str; 5] =
    ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit"];

fn header(name: &str, required: bool) -> Value {
    // A Header Object may not be a bare $ref when `required` differs, so
    // required headers are spelled out with their shared schema.
    let mut h = headers()[name].clone();
    if required {
        h["required"] = json!(true);
    }
    h
}

fn problem_response(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/problem+json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } },
    })
}

/// Which error responses an operation can give, from its shape.
fn error_responses(op: &Map<String, Value>) -> Vec<(&'static str, Value)> {
    let params = op.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
    let has = |location: &str| params.iter().any(|p| p["in"] == location);
    let mut out = vec![
        (
            "401",
            problem_response(
                "The key is missing, malformed, unknown (`invalid_api_key`), revoked (`api_key_revoked`), past its \
                 expiry (`api_key_expired`) or used from an address outside its allowlist (`ip_not_allowed`).",
                "Problem",
            ),
        ),
        (
            "403",
            problem_response(
                "The workspace's plan has no API access (`plan_required`), or the key lacks the scope this \
                 operation's security requirement names (`insufficient_scope`).",
                "Problem",
            ),
        ),
        (
            "429",
            problem_response(
                "The key's per-minute limit is used up (`rate_limited`), or this address sent too many invalid keys \
                 (`too_many_failed_auth`).",
                "Problem",
            ),
        ),
        ("503", problem_response("Storage is unavailable (`service_unavailable`); retry later.", "Problem")),
    ];
    if has("path") {
        out.push(("404", problem_response("No such resource in this workspace (`not_found`).", "Problem")));
    }
    if op.contains_key("requestBody") {
        out.push(("400", problem_response("The body is not valid JSON (`invalid_json`).", "Problem")));
        out.push(("413", problem_response("The body is larger than 1 MiB (`payload_too_large`).", "Problem")));
        out.push((
            "415",
            problem_response("The body is not sent as `application/json` (`unsupported_media_type`).", "Problem"),
        ));
    }
    if op.contains_key("requestBody") || has("query") {
        out.push((
            "422",
            problem_response(
                "Invalid fields or parameters (`validation_failed`); `errors` lists each one with its JSON path.",
                "ValidationProblem",
            ),
        ));
    }
    out
}

/// Add security, error responses, headers and shared components.
pub fn finish(doc: utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(doc).expect("the document serialises");
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    let mut out = Map::new();
    for (path, mut item) in paths {
        for (_, op) in item.as_object_mut().into_iter().flatten() {
            let Some(op) = op.as_object_mut() else { continue };
            let operation = op.get("operationId").and_then(Value::as_str).unwrap_or_default().to_string();
            let public = PUBLIC_OPERATIONS.contains(&operation.as_str());
            if public {
                op.insert("security".into(), json!([]));
                let errors = public_error_responses(&operation);
                let responses = op.entry("responses").or_insert_with(|| json!({}));
                for (status, resp) in errors {
                    responses[status] = resp;
                }
                if operation == super::leaked::GITHUB_OPERATION {
                    // utoipa cannot bound a `Vec` body: at most 1000 matches.
                    if let Some(schema) =
                        op.get_mut("requestBody").map(|b| &mut b["content"]["application/json"]["schema"])
                    {
                        schema["maxItems"] = json!(keyward_core::secret_scanning::MAX_MATCHES);
                    }
                }
            } else {
                // The scope from the operation table (see `super::operations`).
                op.entry("security").or_insert_with(|| json!([{ "bearerAuth": [] }]));
                let errors = error_responses(op);
                let responses = op.entry("responses").or_insert_with(|| json!({}));
                for (status, resp) in errors {
                    responses[status] = resp;
                }
            }
            for (status, resp) in op.get_mut("responses").and_then(Value::as_object_mut).into_iter().flatten() {
                let hs = resp.as_object_mut().unwrap().entry("headers").or_insert_with(|| json!({}));
                hs["X-Request-Id"] = header("X-Request-Id", true);
                if public {
                    if status == "429" {
                        hs["Retry-After"] = header("Retry-After", true);
                    }
                    continue;
                }
                // Responses of requests that passed authentication (steps 1–5)
                // carry the limit; 401 and 403 never do, and a 429 only when it
                // is the key's own limit (not the failed-auth throttle).
                match status.as_str() {
                    "401" => hs["WWW-Authenticate"] = header("WWW-Authenticate", true),
                    "503" => {}
                    // `insufficient_scope` passed steps 1–6 and carries the
                    // limit; `plan_required` does not.
                    "403" => {
                        for h in RATE_LIMIT_HEADERS {
                            hs[h] = header(h, false);
                        }
                    }
                    "429" => {
                        hs["Retry-After"] = header("Retry-After", true);
                        for h in RATE_LIMIT_HEADERS {
                            hs[h] = header(h, false);
                        }
                    }
                    _ => {
                        for h in RATE_LIMIT_HEADERS {
                            hs[h] = header(h, true);
                        }
                    }
                }
                if let Some(loc) = hs.get_mut("Location") {
                    *loc = header("Location", true);
                }
            }
        }
        out.insert(path, item);
    }
    doc["paths"] = Value::Object(out);

    let components = doc.as_object_mut().unwrap().entry("components").or_insert_with(|| json!({}));
    components["securitySchemes"] = json!({
        "bearerAuth": {
            "type": "http", "scheme": "bearer", "bearerFormat": "ue_live_…",
            "description": "A workspace API key, created by an admin under Settings → Other → API Keys.",
        }
    });
    let schemas = components.as_object_mut().unwrap().entry("schemas").or_insert_with(|| json!({}));
    schemas["Problem"] = problem_schema(false);
    schemas["ValidationProblem"] = problem_schema(true);
    schemas["FieldError"] = json!({
        "type": "object",
        "required": ["field", "code", "message"],
        "properties": {
            "field": {
                "type": "string",
                "description": "JSON path of the field or the query parameter, e.g. `segments[3].end_ms`.",
            },
            "code": {
                "type": "string",
                "description": "Stable snake_case code: `required`, `unknown_field`, `invalid_type`, `empty`, \
                                `too_long`, `out_of_range`, `invalid_format`, `before_start`, `unknown_cursor`, …",
            },
            "message": { "type": "string" },
        },
    });
    doc["tags"] = json!([
        { "name": "account", "description": "Who the key belongs to." },
        { "name": "studies", "description": "Research studies." },
        { "name": "transcripts", "description": "Session transcripts of studies." },
        { "name": "leaks", "description": "Reporting leaked keys: GitHub secret scanning and anyone who finds one." },
        { "name": "meta", "description": "This document." },
    ]);
    doc
}

fn problem_schema(validation: bool) -> Value {
    let mut s = json!({
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "detail", "code", "request_id"],
        "properties": {
            "type": { "type": "string", "format": "uri-reference", "description": "A URI reference (RFC 9457): `{--public-url}/docs/errors#<code>`, or `/docs/errors#<code>` without `--public-url`; the IANA quota-exceeded type for a key's 429." },
            "title": { "type": "string" },
            "status": { "type": "integer", "minimum": 400, "maximum": 599 },
            "detail": { "type": "string" },
            "code": { "type": "string", "description": "Stable snake_case error code." },
            "request_id": { "type": "string" },
            "errors": { "type": "array", "items": { "$ref": "#/components/schemas/FieldError" } },
        },
    });
    if validation {
        s["required"].as_array_mut().unwrap().push(json!("errors"));
    }
    s
}
