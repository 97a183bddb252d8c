//! `/docs/reference`: the OpenAPI document of `/v1` (the value
//! `GET /v1/openapi.json` serves) as Markdown: per tag, every operation
//! with its parameters, request body, responses (fields, headers and an
//! example), security and scope, and the error codes it can return, each
//! linked to `/docs/errors`. Heading ids are the operation ids.

use serde_json::{json, Map, Value};
use std::fmt::Write;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Every operation of `doc`: (tag, path, method, operation).
fn operations(doc: &Value) -> Vec<(String, String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                let tag = op["tags"][0].as_str().unwrap_or("other").to_string();
                out.push((tag, path.clone(), m.to_string(), op.clone()));
            }
        }
    }
    out
}

/// `$ref` → the schema it points at (one level; `resolve` is applied again
/// by every walker).
fn resolve<'a>(doc: &'a Value, s: &'a Value) -> &'a Value {
    let mut s = s;
    for _ in 0..8 {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let ptr = r.trim_start_matches('#');
                match doc.pointer(ptr) {
                    Some(t) => s = t,
                    None => return s,
                }
            }
            None => return s,
        }
    }
    s
}

fn ref_name(s: &Value) -> Option<&str> {
    s.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next())
}

/// Markdown table cell: no line breaks, pipes escaped.
fn cell(s: &str) -> String {
    s.replace('\n', " ").replace('|', "\\|")
}

/// Short type description: `string (date-time)`, `integer 1–100`, …
fn type_of(doc: &Value, s: &Value) -> String {
    let name = ref_name(s);
    let s = resolve(doc, s);
    if let Some(alts) = s.get("oneOf").or_else(|| s.get("anyOf")).and_then(Value::as_array) {
        return alts.iter().map(|a| type_of(doc, a)).collect::<Vec<_>>().join(" or ");
    }
    let mut t = match &s["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" or "),
        _ if s.get("properties").is_some() => "object".into(),
        _ => "any".into(),
    };
    if t.starts_with("array") {
        t = format!("array of {}", type_of(doc, &s["items"]));
    } else if let Some(n) = name {
        t = format!("{t} ({n})");
    }
    if let Some(f) = s["format"].as_str() {
        t.push_str(&format!(" ({f})"));
    }
    let mut limits = Vec::new();
    match (s.get("minimum"), s.get("maximum")) {
        (Some(a), Some(b)) => limits.push(format!("{a}–{b}")),
        (Some(a), None) => limits.push(format!("≥ {a}")),
        (None, Some(b)) => limits.push(format!("≤ {b}")),
        _ => {}
    }
    match (s.get("minLength"), s.get("maxLength")) {
        (Some(a), Some(b)) => limits.push(format!("{a}–{b} chars")),
        (None, Some(b)) => limits.push(format!("≤ {b} chars")),
        (Some(a), None) => limits.push(format!("≥ {a} chars")),
        _ => {}
    }
    match (s.get("minItems"), s.get("maxItems")) {
        (Some(a), Some(b)) => limits.push(format!("{a}–{b} items")),
        (None, Some(b)) => limits.push(format!("≤ {b} items")),
        (Some(a), None) => limits.push(format!("≥ {a} items")),
        _ => {}
    }
    if let Some(e) = s["enum"].as_array() {
        limits.push(format!(
            "one of {}",
            e.iter()
                .map(|v| format!("`{}`", v.as_str().map(str::to_string).unwrap_or(v.to_string())))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(d) = s.get("default") {
        limits.push(format!("default `{}`", d.as_str().map(str::to_string).unwrap_or(d.to_string())));
    }
    if !limits.is_empty() {
        t.push_str(", ");
        t.push_str(&limits.join(", "));
    }
    t
}

/// ` Pattern `…`.` for patterns a reader can take in (ids, language tags);
/// the long character-class patterns of text fields are in openapi.json.
fn short_pattern(s: &Value) -> String {
    match s["pattern"].as_str() {
        Some(p) if p.chars().count() <= 48 => format!(" Pattern `{p}`."),
        _ => String::new(),
    }
}

/// One row per field, nested objects and arrays flattened
/// (`participant.name`, `segments[].text`).
fn fields(doc: &Value, s: &Value, prefix: &str, depth: usize, out: &mut Vec<[String; 4]>) {
    if depth > 6 {
        return;
    }
    let s = resolve(doc, s);
    let Some(props) = s["properties"].as_object() else { return };
    let required: Vec<&str> = s["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    for (name, p) in props {
        let path = format!("{prefix}{name}");
        let rp = resolve(doc, p);
        let desc = p["description"].as_str().or(rp["description"].as_str()).unwrap_or("");
        let pattern = short_pattern(rp);
        out.push([
            format!("`{path}`"),
            type_of(doc, p),
            if required.contains(&name.as_str()) { "yes".into() } else { "no".into() },
            format!("{desc}{pattern}"),
        ]);
        if rp.get("properties").is_some() {
            fields(doc, rp, &format!("{path}."), depth + 1, out);
        } else if rp["type"] == "array" || rp["type"].as_array().is_some_and(|t| t.contains(&json!("array"))) {
            fields(doc, &rp["items"], &format!("{path}[]."), depth + 1, out);
        }
    }
}

fn fields_table(doc: &Value, s: &Value) -> String {
    let mut rows = Vec::new();
    fields(doc, s, "", 0, &mut rows);
    if rows.is_empty() {
        return String::new();
    }
    let mut md = String::from("| field | type | required | description |\n|---|---|---|---|\n");
    for [a, b, c, d] in rows {
        let _ = writeln!(md, "| {} | {} | {} | {} |", cell(&a), cell(&b), c, cell(&d));
    }
    md.push('\n');
    md
}

/// An example value of a schema: its `example`, else one built from its
/// properties, items, defaults and formats.
pub fn example(doc: &Value, s: &Value, depth: usize) -> Value {
    let s = resolve(doc, s);
    if let Some(e) = s.get("example") {
        return e.clone();
    }
    if let Some(e) = s["examples"].as_array().and_then(|e| e.first()) {
        return e.clone();
    }
    if depth > 6 {
        return Value::Null;
    }
    if let Some(alt) = s.get("oneOf").or_else(|| s.get("anyOf")).and_then(|a| a.get(0)) {
        return example(doc, alt, depth + 1);
    }
    if let Some(d) = s.get("default") {
        return d.clone();
    }
    if let Some(e) = s["enum"].as_array().and_then(|e| e.first()) {
        return e.clone();
    }
    let ty = match &s["type"] {
        Value::String(t) => t.as_str(),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ if s.get("properties").is_some() => "object",
        _ => "",
    };
    match ty {
        "object" => {
            let mut m = Map::new();
            for (k, p) in s["properties"].as_object().into_iter().flatten() {
                m.insert(k.clone(), example(doc, p, depth + 1));
            }
            Value::Object(m)
        }
        "array" => json!([example(doc, &s["items"], depth + 1)]),
        "integer" | "number" => s.get("minimum").cloned().unwrap_or(json!(0)),
        "boolean" => json!(false),
        "string" => match (s["format"].as_str(), s["pattern"].as_str()) {
            (Some("date-time"), _) => json!("2025-11-26T22:19:55.123Z"),
            (Some("uri"), _) => json!("https://example.com/"),
            (_, Some(p)) if p.starts_with('^') && p.contains("_[") => {
                let prefix = &p[1..p.find("_[").unwrap_or(1)];
                json!(format!("{prefix}_01JD8X4V6Q2W3E4R5T6Y7Z8A9B"))
            }
            _ => json!("string"),
        },
        _ => Value::Null,
    }
}

fn json_block(v: &Value) -> String {
    format!("```json\n{}\n```\n\n", serde_json::to_string_pretty(v).unwrap_or_default())
}

/// Backticked problem codes in `text` linked to their `/docs/errors` section.
fn link_codes(text: &str, codes: &[&str]) -> String {
    let mut out = text.to_string();
    for c in codes {
        out = out.replace(&format!("(`{c}`)"), &format!("([`{c}`](/docs/errors#{c}))"));
        out = out.replace(&format!(" `{c}`"), &format!(" [`{c}`](/docs/errors#{c})"));
    }
    out
}

fn security_line(op: &Value) -> String {
    match op["security"].as_array() {
        Some(reqs) if reqs.is_empty() || reqs.iter().all(|r| r.as_object().is_some_and(|o| o.is_empty())) => {
            "**Authentication:** none.".into()
        }
        Some(reqs) => {
            let scopes: Vec<String> = reqs
                .iter()
                .filter_map(Value::as_object)
                .flat_map(|o| o.values())
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(Value::as_str)
                .map(|s| format!("`{s}`"))
                .collect();
            if scopes.is_empty() {
                "**Authentication:** API key (`Authorization: Bearer ue_live_…`); any key of the workspace.".into()
            } else {
                format!(
                    "**Authentication:** API key (`Authorization: Bearer ue_live_…`) with scope {}.",
                    scopes.join(", ")
                )
            }
        }
        None => "**Authentication:** API key (`Authorization: Bearer ue_live_…`).".into(),
    }
}

fn operation(doc: &Value, path: &str, method: &str, op: &Value, codes: &[&str]) -> String {
    let id = op["operationId"].as_str().unwrap_or("operation");
    let mut md = format!("### {} {path} {{#{id} .ref-op}}\n\n", method.to_uppercase());
    let summary = op["summary"].as_str().unwrap_or("");
    let description = op["description"].as_str().unwrap_or("");
    if !summary.is_empty() {
        let _ = writeln!(md, "{summary}\n");
    }
    if !description.is_empty() && description != summary {
        let _ = writeln!(md, "{description}\n");
    }
    let _ = writeln!(md, "`{} {path}` · operation id `{id}`\n", method.to_uppercase());
    let _ = writeln!(md, "{}\n", security_line(op));

    if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
        md.push_str("#### Parameters\n\n| name | in | type | required | description |\n|---|---|---|---|---|\n");
        for p in params {
            let p = resolve(doc, p);
            let pattern = short_pattern(&p["schema"]);
            let _ = writeln!(
                md,
                "| `{}` | {} | {} | {} | {}{} |",
                p["name"].as_str().unwrap_or(""),
                p["in"].as_str().unwrap_or(""),
                cell(&type_of(doc, &p["schema"])),
                if p["required"] == json!(true) { "yes" } else { "no" },
                cell(p["description"].as_str().unwrap_or("")),
                cell(&pattern),
            );
        }
        md.push('\n');
    }

    if let Some(body) = op.get("requestBody") {
        let body = resolve(doc, body);
        md.push_str("#### Request body\n\n");
        for (ct, media) in body["content"].as_object().into_iter().flatten() {
            let required = if body["required"] == json!(true) { ", required" } else { "" };
            let _ = writeln!(md, "`{ct}`{required}.\n");
            md.push_str(&fields_table(doc, &media["schema"]));
            md.push_str("Example:\n\n");
            md.push_str(&json_block(&example(doc, &media["schema"], 0)));
        }
    }

    md.push_str("#### Responses\n\n");
    let responses = op["responses"].as_object().cloned().unwrap_or_default();
    let mut errors = Vec::new();
    for (status, resp) in &responses {
        let resp = resolve(doc, resp);
        let desc = resp["description"].as_str().unwrap_or("");
        if status.starts_with('2') || status.starts_with('3') {
            let _ = writeln!(md, "**{status}** {desc}\n");
            let headers: Vec<String> = resp["headers"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(h, v)| {
                    let req = if v["required"] == json!(true) { "" } else { " (sometimes)" };
                    format!("`{h}`{req}")
                })
                .collect();
            if !headers.is_empty() {
                let _ = writeln!(md, "Headers: {}.\n", headers.join(", "));
            }
            for (ct, media) in resp["content"].as_object().into_iter().flatten() {
                if media["schema"].is_null() {
                    continue;
                }
                let _ = writeln!(md, "`{ct}`:\n");
                if media["schema"]["type"] != "object"
                    || media["schema"].get("properties").is_some()
                    || media["schema"].get("$ref").is_some()
                {
                    md.push_str(&fields_table(doc, &media["schema"]));
                }
                if ref_name(&media["schema"]).is_some() || media["schema"].get("properties").is_some() {
                    md.push_str(&json_block(&example(doc, &media["schema"], 0)));
                }
            }
        } else {
            errors.push((status.clone(), desc.to_string()));
        }
    }
    if !errors.is_empty() {
        md.push_str("#### Errors\n\nAll as `application/problem+json` (see [Errors](/docs/errors)).\n\n| status | when |\n|---|---|\n");
        for (status, desc) in errors {
            let _ = writeln!(md, "| {status} | {} |", cell(&link_codes(&desc, codes)));
        }
        md.push('\n');
    }
    md
}

/// The generated part of `/docs/reference`.
pub fn markdown(doc: &Value) -> String {
    let codes: Vec<&'static str> = {
        use strum::IntoEnumIterator;
        crate::http::error::ApiErrorKind::iter().map(|k| crate::http::error_docs::doc(k).example.code()).collect()
    };
    let ops = operations(doc);
    let mut md = String::new();
    let _ = writeln!(
        md,
        "{} · OpenAPI {} · version {}\n",
        doc["info"]["title"].as_str().unwrap_or("API"),
        doc["openapi"].as_str().unwrap_or(""),
        doc["info"]["version"].as_str().unwrap_or("")
    );
    if let Some(d) = doc["info"]["description"].as_str() {
        let _ = writeln!(md, "{d}\n");
    }
    md.push_str("## Operations\n\n| method | path | operation | authentication |\n|---|---|---|---|\n");
    for (_, path, method, op) in &ops {
        let id = op["operationId"].as_str().unwrap_or("");
        let public = op["security"].as_array().is_some_and(|a| a.is_empty());
        let _ = writeln!(
            md,
            "| {} | `{path}` | [`{id}`](#{id}) | {} |",
            method.to_uppercase(),
            if public { "none" } else { "API key" }
        );
    }
    md.push('\n');
    let mut tags: Vec<(String, String)> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| (t["name"].as_str().unwrap_or("").to_string(), t["description"].as_str().unwrap_or("").to_string()))
        .collect();
    for (tag, ..) in &ops {
        if !tags.iter().any(|(t, _)| t == tag) {
            tags.push((tag.clone(), String::new()));
        }
    }
    for (tag, desc) in tags {
        let mine: Vec<_> = ops.iter().filter(|(t, ..)| *t == tag).collect();
        if mine.is_empty() {
            continue;
        }
        let mut title = tag.clone();
        if let Some(first) = title.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        let _ = writeln!(md, "## {title} {{#tag-{tag}}}\n");
        if !desc.is_empty() {
            let _ = writeln!(md, "{desc}\n");
        }
        for (_, path, method, op) in mine {
            md.push_str(&operation(doc, path, method, op, &codes));
        }
    }
    md.push_str("## Schemas\n\nThe objects above, by name (as in `components.schemas` of `/v1/openapi.json`).\n\n");
    for (name, s) in doc["components"]["schemas"].as_object().into_iter().flatten() {
        let _ = writeln!(md, "### {name} {{#schema-{name}}}\n");
        if let Some(d) = s["description"].as_str() {
            let _ = writeln!(md, "{d}\n");
        }
        md.push_str(&fields_table(doc, s));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_gets_a_heading_with_its_operation_id() {
        let doc = crate::http::v1::openapi();
        let md = markdown(&doc);
        let ops = operations(&doc);
        assert!(!ops.is_empty());
        for (_, path, method, op) in ops {
            let id = op["operationId"].as_str().expect("every operation has an id");
            assert!(md.contains(&format!("{{#{id} .ref-op}}")), "{} {path} ({id}) missing", method.to_uppercase());
        }
    }

    #[test]
    fn examples_are_built_from_schemas() {
        let doc = crate::http::v1::openapi();
        let ex = example(&doc, &json!({ "$ref": "#/components/schemas/Study" }), 0);
        assert_eq!(ex["id"], "std_01JD8X4V6Q2W3E4R5T6Y7Z8A9B");
        assert!(ex["created_at"].is_string());
    }
}
