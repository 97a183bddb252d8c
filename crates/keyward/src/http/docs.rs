//! The developer docs (SPEC §13), served by keyward itself: `/docs` and its
//! pages. The content is Markdown in `docs/site/` embedded at compile time;
//! `/docs/errors` adds a section per problem code generated from
//! [`ApiError`](super::error::ApiError) ([`super::error_docs`]) and
//! `/docs/reference` is generated from the very OpenAPI document `/v1`
//! serves ([`reference`]). Every page is rendered once per process, on first
//! use, into the page's layout (`keyward_web::docs`), and served from memory.

pub mod reference;

use super::html_security_headers;
use crate::state::AppState;
use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use keyward_web::docs::{render_doc_page, render_markdown, DOC_PAGES};
use std::collections::HashMap;
use std::sync::LazyLock;

/// The Markdown of each page, by slug (`""` is `/docs`).
const SOURCES: &[(&str, &str)] = &[
    ("", include_str!("../../../../docs/site/index.md")),
    ("quickstart", include_str!("../../../../docs/site/quickstart.md")),
    ("authentication", include_str!("../../../../docs/site/authentication.md")),
    ("rate-limits", include_str!("../../../../docs/site/rate-limits.md")),
    ("errors", include_str!("../../../../docs/site/errors.md")),
    ("webhooks", include_str!("../../../../docs/site/webhooks.md")),
    ("zapier", include_str!("../../../../docs/site/zapier.md")),
    ("reference", include_str!("../../../../docs/site/reference.md")),
];

/// The Markdown files, by slug, as the tests read them (samples included).
pub fn sources() -> &'static [(&'static str, &'static str)] {
    SOURCES
}

/// The full Markdown of a page: the file, plus the generated part of
/// `errors` and `reference`.
pub fn markdown(slug: &str) -> Option<String> {
    let (_, md) = SOURCES.iter().find(|(s, _)| *s == slug)?;
    Some(match slug {
        "errors" => format!("{md}\n{}", super::error_docs::markdown()),
        "reference" => format!("{md}\n{}", reference::markdown(&super::v1::openapi())),
        _ => md.to_string(),
    })
}

fn path_of(slug: &str) -> String {
    if slug.is_empty() {
        "/docs".into()
    } else {
        format!("/docs/{slug}")
    }
}

/// Every page's HTML, rendered on first use.
static PAGES: LazyLock<HashMap<&'static str, String>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(slug, _)| {
            let md = markdown(slug).unwrap_or_default();
            (*slug, render_doc_page(&path_of(slug), &render_markdown(&md)))
        })
        .collect()
});

/// The routes: `/docs`, `/docs/{page}` (a trailing `/` redirects).
pub fn router() -> Router<AppState> {
    debug_assert_eq!(DOC_PAGES.len(), SOURCES.len());
    Router::new()
        .route("/docs", get(|| async { page("") }))
        .route("/docs/", get(|| async { Redirect::permanent("/docs") }))
        .route("/docs/{slug}", get(|Path(slug): Path<String>| async move { page(&slug) }))
}

fn page(slug: &str) -> Response {
    match PAGES.get(slug) {
        Some(html) => {
            let mut res = Html(html.as_str()).into_response();
            html_security_headers(&mut res);
            // The same for everyone and changes only with the binary.
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
            res
        }
        None => super::error::ApiError::NotFound.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sidebar_page_has_a_source_and_renders() {
        for (path, _) in DOC_PAGES {
            let slug = path.strip_prefix("/docs").unwrap().trim_start_matches('/');
            assert!(PAGES.get(slug).is_some_and(|h| h.contains("<main")), "{path}");
        }
    }
}
