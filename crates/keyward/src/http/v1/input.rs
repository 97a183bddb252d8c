//! Request bodies of `/v1`: their validation and their JSON Schemas, built
//! from the same constants and the same regular expressions, so the OpenAPI
//! document says exactly what the server accepts.
//!
//! Bodies are read as a `serde_json::Value` by [`ApiJson`](crate::http::json::ApiJson)
//! (415/413/400) and then walked here, so a 422 lists every problem of the
//! body at once (up to [`MAX_ERRORS`](crate::http::error::MAX_ERRORS)) with JSON paths such as
//! `segments[3].end_ms`, and never echoes the client's input.
//!
//! Strings are measured in Unicode scalar values (what JSON Schema's
//! `maxLength` counts), before trimming; stored values are trimmed.

use crate::http::error::{Errors, FieldError};
use crate::store::{NewStudy, NewTranscript, Segment};
use serde_json::{json, Map, Value};

/// Longest study name, participant name and speaker.
pub const NAME_MAX: usize = 200;
/// Longest study description.
pub const DESCRIPTION_MAX: usize = 5000;
/// Longest participant email.
pub const EMAIL_MAX: usize = 254;
/// Longest language tag.
pub const LANGUAGE_MAX: usize = 35;
/// Language of a transcript that names none.
pub const DEFAULT_LANGUAGE: &str = "en";
/// Most segments in one transcript.
pub const SEGMENTS_MAX: usize = 10_000;
/// Longest segment text.
pub const TEXT_MAX: usize = 10_000;
/// Largest `start_ms` / `end_ms`: a week of recording.
pub const MS_MAX: u64 = 7 * 86_400_000;

// The character classes behind the patterns, as inclusive ranges: the one
// source of both the checks below and the `pattern`s of the JSON Schemas
// (a test compiles each pattern with the `regex` crate and compares it with
// its check on every character up to U+3100 and on generated strings).
// They avoid `\s`, `\d` and `\w` on purpose: regex engines disagree on them
// (ASCII or Unicode), and the document is read by Rust, Python and
// JavaScript validators alike. Whitespace is Unicode's White_Space property
// (what `str::trim` removes).
type Ranges = &'static [(char, char)];
const CONTROLS: Ranges = &[('\u{0}', '\u{1f}'), ('\u{7f}', '\u{9f}')];
const CONTROLS_BUT_TAB_NEWLINE: Ranges =
    &[('\u{0}', '\u{8}'), ('\u{b}', '\u{b}'), ('\u{c}', '\u{c}'), ('\u{e}', '\u{1f}'), ('\u{7f}', '\u{9f}')];
const SPACE_OR_CONTROL: Ranges = &[
    ('\u{0}', '\u{20}'),
    ('\u{7f}', '\u{a0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200a}'),
    ('\u{2028}', '\u{2028}'),
    ('\u{2029}', '\u{2029}'),
    ('\u{202f}', '\u{202f}'),
    ('\u{205f}', '\u{205f}'),
    ('\u{3000}', '\u{3000}'),
];

fn is_in(c: char, ranges: Ranges) -> bool {
    // Printable ASCII is in none of the classes: most text never scans them.
    !('\u{21}'..='\u{7e}').contains(&c) && ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// The ranges as the inside of a regex character class, in `\uXXXX` escapes.
fn class(ranges: Ranges) -> String {
    let esc = |c: char| format!("\\u{:04x}", u32::from(c));
    ranges.iter().map(|&(lo, hi)| if lo == hi { esc(lo) } else { format!("{}-{}", esc(lo), esc(hi)) }).collect()
}

/// The shape a string field must have beyond its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// No control characters, and at least one visible character.
    Name,
    /// Free text (segment text): tabs and line breaks allowed, at least one visible character.
    Text,
    /// Optional free text (description): tabs and line breaks allowed, may be blank.
    Description,
    /// A plausible email: `local@domain.tld`, no spaces or controls.
    Email,
    /// The shape of a BCP 47 tag: a 2–3 letter language, then subtags.
    Language,
}

impl Shape {
    /// Whether `s` has this shape: what [`Shape::pattern`] matches.
    pub fn matches(self, s: &str) -> bool {
        // No character in `banned`; `visible`: at least one outside SPACE_OR_CONTROL.
        let all_but = |banned: Ranges| s.chars().all(|c| !is_in(c, banned));
        let visible = || s.chars().any(|c| !is_in(c, SPACE_OR_CONTROL));
        match self {
            Shape::Name => all_but(CONTROLS) && visible(),
            Shape::Text => all_but(CONTROLS_BUT_TAB_NEWLINE) && visible(),
            Shape::Description => all_but(CONTROLS_BUT_TAB_NEWLINE),
            Shape::Email => {
                let part_ok = |p: &str| !p.is_empty() && p.chars().all(|c| !is_in(c, SPACE_OR_CONTROL));
                match s.split_once('@') {
                    // A dot with a character on each side ('.' is one byte).
                    Some((local, domain)) => {
                        part_ok(local)
                            && part_ok(domain)
                            && !domain.contains('@')
                            && domain.char_indices().any(|(i, c)| c == '.' && i > 0 && i + 1 < domain.len())
                    }
                    None => false,
                }
            }
            Shape::Language => {
                let mut parts = s.split('-');
                let first = parts.next().unwrap_or_default();
                (2..=3).contains(&first.len())
                    && first.bytes().all(|b| b.is_ascii_alphabetic())
                    && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
            }
        }
    }

    /// The JSON Schema `pattern` (ECMA-262 syntax, also valid for the `regex` crate).
    pub fn pattern(self) -> String {
        let (c, c_tn, sc) = (class(CONTROLS), class(CONTROLS_BUT_TAB_NEWLINE), class(SPACE_OR_CONTROL));
        match self {
            Shape::Name => format!("^[^{c}]*[^{sc}][^{c}]*$"),
            Shape::Text => format!("^[^{c_tn}]*[^{sc}][^{c_tn}]*$"),
            Shape::Description => format!("^[^{c_tn}]*$"),
            Shape::Email => format!("^[^@{sc}]+@[^@{sc}]+\\.[^@{sc}]+$"),
            Shape::Language => "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$".to_string(),
        }
    }
}

fn path(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `v` as an object with only `allowed` keys; unknown keys are reported.
fn object<'a>(v: &'a Value, at: &str, allowed: &[&str], errs: &mut Errors) -> Option<&'a Map<String, Value>> {
    let Value::Object(map) = v else {
        errs.push(at, "invalid_type", format!("expected an object, got {}", type_name(v)));
        return None;
    };
    for key in map.keys().filter(|k| !allowed.contains(&k.as_str())) {
        // The key is client input: name it only when it is short and printable.
        let shown = if key.chars().count() <= 64 && !key.chars().any(char::is_control) {
            path(at, key)
        } else {
            path(at, "(unknown)")
        };
        errs.push(shown, "unknown_field", "is not a known field");
    }
    Some(map)
}

/// A string rule: length bounds, pattern and what a pattern miss means.
struct Text {
    min: usize,
    max: usize,
    shape: Shape,
    /// Code and message when the pattern does not match.
    miss: (&'static str, &'static str),
}

impl Text {
    /// A rule whose pattern miss is `invalid_characters`.
    const fn characters(min: usize, max: usize, shape: Shape, message: &'static str) -> Text {
        Text { min, max, shape, miss: ("invalid_characters", message) }
    }

    /// A rule whose pattern miss is `invalid_format`.
    const fn format(min: usize, max: usize, shape: Shape, message: &'static str) -> Text {
        Text { min, max, shape, miss: ("invalid_format", message) }
    }
}

// The string fields' rules: those whose miss is a character, then those whose miss is a format.
const NAME: Text =
    Text::characters(1, NAME_MAX, Shape::Name, "must contain a visible character and no control characters");
const TEXT: Text = Text::characters(
    1,
    TEXT_MAX,
    Shape::Text,
    "must contain a visible character and no control characters other than tabs and line breaks",
);
const DESCRIPTION: Text = Text::characters(
    0,
    DESCRIPTION_MAX,
    Shape::Description,
    "must not contain control characters other than tabs and line breaks",
);
const EMAIL: Text = Text::format(1, EMAIL_MAX, Shape::Email, "must be an email address");
const LANGUAGE: Text =
    Text::format(1, LANGUAGE_MAX, Shape::Language, "must be a BCP 47 language tag such as en, de-CH or pt-BR");

/// Check one string value against `rule`; the trimmed string when it passes.
fn text(v: &Value, at: &str, rule: &Text, errs: &mut Errors) -> Option<String> {
    let Value::String(s) = v else {
        errs.push(at, "invalid_type", format!("expected a string, got {}", type_name(v)));
        return None;
    };
    let n = s.chars().count();
    if n < rule.min {
        errs.push(at, "empty", "must not be empty");
        None
    } else if n > rule.max {
        errs.push(at, "too_long", format!("must be at most {} characters", rule.max));
        None
    } else if !rule.shape.matches(s) {
        errs.push(at, rule.miss.0, rule.miss.1);
        None
    } else {
        Some(s.trim().to_string())
    }
}

/// A required field: reported as `required` when absent.
fn required<'a>(map: &'a Map<String, Value>, at: &str, name: &str, errs: &mut Errors) -> Option<&'a Value> {
    let v = map.get(name);
    if v.is_none() {
        errs.push(path(at, name), "required", "is required");
    }
    v
}

/// An optional field: absent and `null` are both `None` when `nullable`.
fn optional<'a>(map: &'a Map<String, Value>, name: &str, nullable: bool) -> Option<&'a Value> {
    map.get(name).filter(|v| !(nullable && v.is_null()))
}

/// A whole number in `0..=MS_MAX`. JSON Schema counts `5.0` as an integer, and so does this.
// The float case is whole and within 0..=MS_MAX (checked before the cast).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn millis(v: &Value, at: &str, errs: &mut Errors) -> Option<u64> {
    let Value::Number(n) = v else {
        errs.push(at, "invalid_type", format!("expected an integer, got {}", type_name(v)));
        return None;
    };
    let in_range = match (n.as_u64(), n.as_i64(), n.as_f64()) {
        (Some(u), _, _) => u <= MS_MAX,
        (None, Some(_), _) => false,
        (None, None, Some(f)) if f.fract() == 0.0 => (0.0..=MS_MAX as f64).contains(&f),
        _ => {
            errs.push(at, "invalid_type", "expected an integer");
            return None;
        }
    };
    if !in_range {
        errs.push(at, "out_of_range", format!("must be between 0 and {MS_MAX}"));
        return None;
    }
    n.as_u64().or_else(|| n.as_f64().map(|f| f as u64))
}

/// `POST /v1/studies`.
pub fn new_study(body: &Value) -> Result<NewStudy, Vec<FieldError>> {
    let mut errs = Errors::default();
    let Some(map) = object(body, "", &["name", "description"], &mut errs) else {
        return Err(errs.into_vec());
    };
    let name = required(map, "", "name", &mut errs).and_then(|v| text(v, "name", &NAME, &mut errs));
    let description = optional(map, "description", true).and_then(|v| text(v, "description", &DESCRIPTION, &mut errs));
    match name {
        Some(name) if errs.is_empty() => Ok(NewStudy { name, description: description.filter(|d| !d.is_empty()) }),
        _ => Err(errs.into_vec()),
    }
}

/// `POST /v1/studies/{id}/transcripts`.
pub fn new_transcript(body: &Value) -> Result<NewTranscript, Vec<FieldError>> {
    let mut errs = Errors::default();
    let Some(map) = object(body, "", &["participant", "language", "segments"], &mut errs) else {
        return Err(errs.into_vec());
    };

    let mut participant = None;
    if let Some(p) = required(map, "", "participant", &mut errs) {
        if let Some(p) = object(p, "participant", &["name", "email"], &mut errs) {
            let name = required(p, "participant", "name", &mut errs)
                .and_then(|v| text(v, "participant.name", &NAME, &mut errs));
            let email = optional(p, "email", true).map(|v| text(v, "participant.email", &EMAIL, &mut errs));
            participant = name.map(|n| (n, email.flatten()));
        }
    }

    let language = match optional(map, "language", false) {
        None => Some(DEFAULT_LANGUAGE.to_string()),
        Some(v) => text(v, "language", &LANGUAGE, &mut errs),
    };

    let mut segments = Vec::new();
    if let Some(v) = required(map, "", "segments", &mut errs) {
        match v {
            Value::Array(items) if items.is_empty() => errs.push("segments", "empty", "must hold at least one segment"),
            Value::Array(items) if items.len() > SEGMENTS_MAX => {
                errs.push("segments", "too_many", format!("must hold at most {SEGMENTS_MAX} segments"))
            }
            Value::Array(items) => {
                segments.reserve(items.len());
                for (i, item) in items.iter().enumerate() {
                    if let Some(s) = segment(item, &format!("segments[{i}]"), &mut errs) {
                        segments.push(s);
                    }
                }
            }
            other => errs.push("segments", "invalid_type", format!("expected an array, got {}", type_name(other))),
        }
    }

    match (participant, language) {
        (Some((participant_name, participant_email)), Some(language)) if errs.is_empty() => {
            Ok(NewTranscript { participant_name, participant_email, language, segments })
        }
        _ => Err(errs.into_vec()),
    }
}

fn segment(v: &Value, at: &str, errs: &mut Errors) -> Option<Segment> {
    let map = object(v, at, &["speaker", "start_ms", "end_ms", "text"], errs)?;
    let speaker = required(map, at, "speaker", errs).and_then(|v| text(v, &path(at, "speaker"), &NAME, errs));
    let start_ms = required(map, at, "start_ms", errs).and_then(|v| millis(v, &path(at, "start_ms"), errs));
    let end_ms = required(map, at, "end_ms", errs).and_then(|v| millis(v, &path(at, "end_ms"), errs));
    let text = required(map, at, "text", errs).and_then(|v| text(v, &path(at, "text"), &TEXT, errs));
    if let (Some(s), Some(e)) = (start_ms, end_ms) {
        if s > e {
            errs.push(path(at, "end_ms"), "before_start", "must not be less than start_ms");
            return None;
        }
    }
    Some(Segment { speaker: speaker?, start_ms: start_ms?, end_ms: end_ms?, text: text? })
}

/// JSON Schema of a name-like string.
fn name_schema(description: &str) -> Value {
    json!({
        "type": "string", "minLength": 1, "maxLength": NAME_MAX, "pattern": Shape::Name.pattern(),
        "description": description,
    })
}

/// The request body of `POST /v1/studies`.
pub fn create_study_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["name"],
        "properties": {
            "name": name_schema("The study's name: 1–200 characters, at least one of them visible; stored trimmed."),
            "description": {
                "type": ["string", "null"], "maxLength": DESCRIPTION_MAX, "pattern": Shape::Description.pattern(),
                "description": "Up to 5000 characters; tabs and line breaks allowed. Blank or null: no description.",
            },
        },
        "example": { "name": "Checkout usability, round 2", "description": "Five moderated sessions on the new checkout." },
    })
}

/// The request body of `POST /v1/studies/{id}/transcripts`.
pub fn create_transcript_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["participant", "segments"],
        "properties": {
            "participant": {
                "type": "object",
                "additionalProperties": false,
                "required": ["name"],
                "properties": {
                    "name": name_schema("The participant's name."),
                    "email": {
                        "type": ["string", "null"], "minLength": 1, "maxLength": EMAIL_MAX, "pattern": Shape::Email.pattern(),
                        "description": "The participant's email address (optional).",
                    },
                },
            },
            "language": {
                "type": "string", "minLength": 1, "maxLength": LANGUAGE_MAX, "pattern": Shape::Language.pattern(),
                "default": DEFAULT_LANGUAGE,
                "description": "BCP 47 language tag of the recording.",
            },
            "segments": {
                "type": "array", "minItems": 1, "maxItems": SEGMENTS_MAX,
                "description": "Utterances in order. Each needs start_ms <= end_ms (checked by the server: 422 `before_start`).",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["speaker", "start_ms", "end_ms", "text"],
                    "properties": {
                        "speaker": name_schema("Who speaks."),
                        "start_ms": {
                            "type": "integer", "minimum": 0, "maximum": MS_MAX,
                            "description": "Offset from the start of the recording, in milliseconds.",
                        },
                        "end_ms": {
                            "type": "integer", "minimum": 0, "maximum": MS_MAX,
                            "description": "End offset in milliseconds; not less than start_ms.",
                        },
                        "text": {
                            "type": "string", "minLength": 1, "maxLength": TEXT_MAX, "pattern": Shape::Text.pattern(),
                            "description": "What was said; tabs and line breaks allowed.",
                        },
                    },
                },
            },
        },
        "example": {
            "participant": { "name": "Zoë Müller", "email": "zoe@example.com" },
            "language": "de-CH",
            "segments": [
                { "speaker": "Moderator", "start_ms": 0, "end_ms": 2400, "text": "Wie finden Sie die neue Kasse?" },
                { "speaker": "Zoë Müller", "start_ms": 2600, "end_ms": 5100, "text": "Übersichtlich, aber der Button ist versteckt." },
            ],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::error::MAX_ERRORS;

    fn errors(r: Result<impl std::fmt::Debug, Vec<FieldError>>) -> Vec<(String, String)> {
        r.expect_err("expected field errors").into_iter().map(|e| (e.field, e.code)).collect()
    }

    fn seg(speaker: &str, s: u64, e: u64, text: &str) -> Value {
        json!({ "speaker": speaker, "start_ms": s, "end_ms": e, "text": text })
    }

    #[test]
    fn a_study_needs_a_visible_name_and_trims_it() {
        let s = new_study(&json!({ "name": "  Onboarding  ", "description": null })).unwrap();
        assert_eq!((s.name.as_str(), s.description), ("Onboarding", None));
        assert_eq!(errors(new_study(&json!({}))), [("name".into(), "required".into())]);
        assert_eq!(errors(new_study(&json!({ "name": "" }))), [("name".into(), "empty".into())]);
        assert_eq!(errors(new_study(&json!({ "name": " \u{3000}" })))[0].1, "invalid_characters");
        assert_eq!(errors(new_study(&json!({ "name": "a\u{0}b" })))[0].1, "invalid_characters");
        assert_eq!(errors(new_study(&json!({ "name": "x".repeat(201) })))[0].1, "too_long");
        assert!(new_study(&json!({ "name": "é".repeat(200) })).is_ok());
        assert_eq!(errors(new_study(&json!({ "name": 5 })))[0].1, "invalid_type");
        assert_eq!(errors(new_study(&json!([])))[0], ("".into(), "invalid_type".into()));
    }

    #[test]
    fn a_description_may_hold_line_breaks_but_not_other_controls() {
        let s = new_study(&json!({ "name": "n", "description": "line 1\nline 2\ttab" })).unwrap();
        assert_eq!(s.description.as_deref(), Some("line 1\nline 2\ttab"));
        assert_eq!(new_study(&json!({ "name": "n", "description": "  " })).unwrap().description, None);
        assert_eq!(errors(new_study(&json!({ "name": "n", "description": "\u{7}" })))[0].1, "invalid_characters");
        let long = "d".repeat(DESCRIPTION_MAX + 1);
        assert_eq!(errors(new_study(&json!({ "name": "n", "description": long })))[0].1, "too_long");
    }

    #[test]
    fn every_problem_of_a_body_is_reported_at_once() {
        let body = json!({
            "name": "",
            "description": 7,
            "extra": true,
        });
        let mut got = errors(new_study(&body));
        got.sort();
        assert_eq!(
            got,
            [
                ("description".into(), "invalid_type".into()),
                ("extra".into(), "unknown_field".into()),
                ("name".into(), "empty".into())
            ]
        );
    }

    #[test]
    fn a_transcript_defaults_to_english_and_keeps_segments_in_order() {
        let t = new_transcript(&json!({
            "participant": { "name": "Zoë Müller" },
            "segments": [seg("A", 0, 10, "hi"), seg("B", 10, 10, "שלום 👋")],
        }))
        .unwrap();
        assert_eq!(t.language, "en");
        assert_eq!(t.participant_email, None);
        assert_eq!(t.segments.len(), 2);
        assert_eq!(t.segments[1].text, "שלום 👋");
    }

    #[test]
    fn segment_errors_name_their_index() {
        let body = json!({
            "participant": { "name": "P", "email": "not-an-email" },
            "language": "english!",
            "segments": [seg("A", 0, 10, "ok"), seg("B", 20, 10, "back"), { "speaker": "", "start_ms": -1, "end_ms": 1.5, "x": 1 }],
        });
        let got = errors(new_transcript(&body));
        for want in [
            ("participant.email", "invalid_format"),
            ("language", "invalid_format"),
            ("segments[1].end_ms", "before_start"),
            ("segments[2].x", "unknown_field"),
            ("segments[2].speaker", "empty"),
            ("segments[2].start_ms", "out_of_range"),
            ("segments[2].end_ms", "invalid_type"),
            ("segments[2].text", "required"),
        ] {
            assert!(got.contains(&(want.0.into(), want.1.into())), "{want:?} missing from {got:?}");
        }
    }

    #[test]
    fn segment_bounds_and_counts() {
        let ok = |segments: Value| new_transcript(&json!({ "participant": { "name": "P" }, "segments": segments }));
        assert!(ok(json!([seg("A", MS_MAX, MS_MAX, "t")])).is_ok());
        assert!(ok(json!([{ "speaker": "A", "start_ms": 5.0, "end_ms": 6, "text": "t" }])).is_ok());
        assert_eq!(errors(ok(json!([seg("A", 0, MS_MAX + 1, "t")])))[0].1, "out_of_range");
        assert_eq!(errors(ok(json!([])))[0], ("segments".into(), "empty".into()));
        let many: Vec<Value> = (0..=SEGMENTS_MAX).map(|_| seg("A", 0, 1, "t")).collect();
        assert_eq!(errors(ok(json!(many)))[0].1, "too_many");
        assert_eq!(errors(ok(json!("nope")))[0].1, "invalid_type");
    }

    #[test]
    fn errors_are_capped_and_never_echo_input() {
        let bad: Vec<Value> =
            (0..500).map(|_| json!({ "speaker": "x".repeat(300), "start_ms": 0, "end_ms": 1, "text": "t" })).collect();
        let errs = new_transcript(&json!({ "participant": { "name": "P" }, "segments": bad })).unwrap_err();
        assert_eq!(errs.len(), MAX_ERRORS);
        assert!(errs.iter().all(|e| !e.message.contains("xxx")));
    }

    #[test]
    fn language_tags_and_emails() {
        for tag in ["en", "de-CH", "pt-BR", "zh-Hant-TW", "gsw"] {
            assert!(Shape::Language.matches(tag), "{tag}");
        }
        for tag in ["e", "english", "en_US", "en-", "-en", "en-toolongsubtag"] {
            assert!(!Shape::Language.matches(tag), "{tag}");
        }
        for e in ["a@b.c", "zoë@exämple.de", "first.last+tag@sub.example.com"] {
            assert!(Shape::Email.matches(e), "{e}");
        }
        for e in ["a@b", "@b.c", "a@.c", "a b@c.d", "a@b.c\n", "a@@b.c"] {
            assert!(!Shape::Email.matches(e), "{e:?}");
        }
    }

    #[test]
    fn the_name_pattern_agrees_with_trim() {
        for s in ["a", " a ", "\u{a0}x", "Zoë", "👋"] {
            assert!(Shape::Name.matches(s) && !s.trim().is_empty(), "{s:?}");
        }
        for s in ["", " ", "\u{a0}", "\u{2003}\u{3000}", "a\nb", "a\u{85}"] {
            assert!(!Shape::Name.matches(s), "{s:?}");
        }
        // Every whitespace character the pattern knows is one `trim` removes, and vice versa.
        for c in (0..0x3001u32).filter_map(char::from_u32) {
            let visible = Shape::Name.matches(c.encode_utf8(&mut [0; 4]));
            assert_eq!(visible, !c.is_whitespace() && !c.is_control(), "{:?}", c);
        }
    }

    const SHAPES: [Shape; 5] = [Shape::Name, Shape::Text, Shape::Description, Shape::Email, Shape::Language];

    fn compiled(shape: Shape) -> regex::Regex {
        regex::Regex::new(&shape.pattern()).expect("a valid pattern")
    }

    #[test]
    fn each_check_agrees_with_its_pattern_on_every_character() {
        for shape in SHAPES {
            let re = compiled(shape);
            for c in (0..0x3101u32).filter_map(char::from_u32) {
                let mut buf = [0; 4];
                let one = &*c.encode_utf8(&mut buf);
                for s in [
                    one.to_string(),
                    format!("a{one}"),
                    format!("{one}@b.c"),
                    format!("a@b{one}c"),
                    format!("en-{one}"),
                ] {
                    assert_eq!(shape.matches(&s), re.is_match(&s), "{shape:?} on {s:?}");
                }
            }
        }
    }

    #[test]
    fn the_patterns_are_the_published_ones() {
        // The OpenAPI document's patterns, as they were written before the
        // checks stopped compiling them: integrators' validators use these.
        assert_eq!(
            Shape::Name.pattern(),
            r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
        );
        assert_eq!(Shape::Description.pattern(), r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$");
        assert_eq!(Shape::Language.pattern(), "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$");
        assert_eq!(
            Shape::Text.pattern(),
            r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
        );
        assert_eq!(
            Shape::Email.pattern(),
            r"^[^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+@[^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+\.[^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$"
        );
    }

    proptest::proptest! {
        #[test]
        fn checks_agree_with_patterns_on_generated_strings(
            s in r"[a-zA-Z0-9@. \-\t\n\u{0}-\u{1f}\u{7f}-\u{a0}\u{2000}-\u{200b}\u{3000}é👋]{0,12}"
        ) {
            for shape in SHAPES {
                proptest::prop_assert_eq!(shape.matches(&s), compiled(shape).is_match(&s), "{:?} on {:?}", shape, s);
            }
        }
    }
}
