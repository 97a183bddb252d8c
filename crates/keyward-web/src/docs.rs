//! The developer docs under `/docs` (SPEC §13): Markdown rendered into the
//! page's layout with a sidebar of pages and the current page's sections.
//!
//! Pure rendering, like the rest of this crate: the server hands in the
//! Markdown (embedded at compile time) and renders each page once.
//! - Headings get an `id` (a slug of their text, or `{#explicit}`) and a `#`
//!   link to themselves.
//! - Fenced code blocks keep their language as `class="language-…"`, and an
//!   info string like ```` ```python title=quickstart.py ```` shows the file
//!   name above the block (the tests extract samples by that title).
//! - Raw HTML in the Markdown is shown as text, never passed through: the
//!   docs are ours, but nothing here needs HTML and the CSP stays simple.
//!
//! `assets/docs.js` only enhances: a copy button on every code block and a
//! filter on the reference page.

use crate::assets;
use crate::layout::{head, logo, PRODUCT};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use pulldown_cmark::{CodeBlockKind, CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use std::collections::HashSet;

/// The docs pages in sidebar order: (path, title).
pub const DOC_PAGES: &[(&str, &str)] = &[
    ("/docs", "API Overview"),
    ("/docs/quickstart", "Quickstart"),
    ("/docs/authentication", "Authentication"),
    ("/docs/rate-limits", "Rate limits"),
    ("/docs/errors", "Errors"),
    ("/docs/webhooks", "Webhooks"),
    ("/docs/zapier", "Zapier"),
    ("/docs/reference", "API reference"),
];

/// A section heading of a rendered page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    /// 1 for `#`, 2 for `##`, …
    pub level: u8,
    /// The `id` of the element (the `#fragment` that links to it).
    pub id: String,
    /// The heading's text, without markup.
    pub text: String,
}

/// Markdown turned into HTML.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The HTML of the body (without the first `#` heading, which is the title).
    pub html: String,
    /// The text of the first level-1 heading.
    pub title: String,
    /// Every heading, in order (the title included).
    pub headings: Vec<Heading>,
}

/// `id` slug of a heading's text: lowercase letters and digits, `_` kept,
/// runs of anything else become one `-`.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in text.chars() {
        if c.is_alphanumeric() || c == '_' {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(c.to_lowercase());
        } else {
            dash = true;
        }
    }
    if out.is_empty() {
        out.push_str("section");
    }
    out
}

fn level_number(l: HeadingLevel) -> u8 {
    match l {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The language and the `title=` of a fenced block's info string.
fn parse_info(info: &str) -> (Option<&str>, Option<&str>) {
    let mut words = info.split_whitespace();
    let lang = words.next().filter(|w| !w.contains('='));
    let title = info.split_whitespace().find_map(|w| w.strip_prefix("title="));
    (lang, title)
}

/// Renders `md` (CommonMark with tables and `{#id}` heading attributes).
pub fn render_markdown(md: &str) -> Rendered {
    let opts = Options::ENABLE_TABLES | Options::ENABLE_HEADING_ATTRIBUTES | Options::ENABLE_STRIKETHROUGH;
    let mut events = Parser::new_ext(md, opts).peekable();
    let mut out: Vec<Event<'_>> = Vec::new();
    let mut headings = Vec::new();
    let mut used: HashSet<String> = HashSet::new();
    let mut title = String::new();
    while let Some(ev) = events.next() {
        match ev {
            Event::Start(Tag::Heading { level, id, classes, .. }) => {
                let mut inner = Vec::new();
                let mut text = String::new();
                for e in events.by_ref() {
                    match e {
                        Event::End(TagEnd::Heading(_)) => break,
                        Event::Text(ref t) | Event::Code(ref t) => {
                            text.push_str(t);
                            inner.push(e);
                        }
                        Event::Html(t) | Event::InlineHtml(t) => {
                            text.push_str(&t);
                            inner.push(Event::Text(t));
                        }
                        other => inner.push(other),
                    }
                }
                let base = id.map(|i| i.to_string()).unwrap_or_else(|| slug(&text));
                let mut anchor = base.clone();
                let mut n = 1;
                while !used.insert(anchor.clone()) {
                    n += 1;
                    anchor = format!("{base}-{n}");
                }
                let lvl = level_number(level);
                headings.push(Heading { level: lvl, id: anchor.clone(), text: text.clone() });
                if lvl == 1 && title.is_empty() {
                    title = text;
                    continue;
                }
                let mut inner_html = String::new();
                pulldown_cmark::html::push_html(&mut inner_html, inner.into_iter());
                let a = escape(&anchor);
                let class = if classes.is_empty() {
                    String::new()
                } else {
                    format!(" class=\"{}\"", escape(&classes.join(" ")))
                };
                out.push(Event::Html(CowStr::from(format!(
                    "<h{lvl} id=\"{a}\"{class}>{inner_html} <a class=\"anchor\" href=\"#{a}\" aria-label=\"Link to this section\">#</a></h{lvl}>\n"
                ))));
            }
            Event::Start(Tag::CodeBlock(kind)) => {
                let info = match &kind {
                    CodeBlockKind::Fenced(i) => i.to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                let mut code = String::new();
                for e in events.by_ref() {
                    match e {
                        Event::End(TagEnd::CodeBlock) => break,
                        Event::Text(t) => code.push_str(&t),
                        _ => {}
                    }
                }
                let (lang, file) = parse_info(&info);
                let mut s = String::from("<div class=\"code-block\">");
                if let Some(f) = file {
                    s.push_str(&format!("<div class=\"code-title\">{}</div>", escape(f)));
                }
                match lang {
                    Some(l) => s.push_str(&format!("<pre><code class=\"language-{}\">", escape(l))),
                    None => s.push_str("<pre><code>"),
                }
                s.push_str(&escape(&code));
                s.push_str("</code></pre></div>\n");
                out.push(Event::Html(CowStr::from(s)));
            }
            Event::Start(Tag::Table(a)) => {
                out.push(Event::Html(CowStr::from("<div class=\"table-wrap\">")));
                out.push(Event::Start(Tag::Table(a)));
            }
            Event::End(TagEnd::Table) => {
                out.push(Event::End(TagEnd::Table));
                out.push(Event::Html(CowStr::from("</div>\n")));
            }
            // Raw HTML in the Markdown is shown as text.
            Event::Html(t) | Event::InlineHtml(t) => out.push(Event::Text(t)),
            other => out.push(other),
        }
    }
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, out.into_iter());
    // push_html gives tables no class; the page's table style wants one.
    let html = html.replace("<table>", "<table class=\"table doc-table\">");
    Rendered { html, title, headings }
}

/// A complete docs document: top bar, sidebar (every page; the current
/// one's sections under it) and the rendered page.
pub fn render_doc_page(path: &str, page: &Rendered) -> String {
    let sections: Vec<&Heading> = page.headings.iter().filter(|h| h.level == 2).collect();
    let body = html! {
        header.topbar {
            div.topbar-inner {
                a.brand href="/docs" {
                    (logo())
                    span.brand-name { (PRODUCT) " API docs" }
                }
                nav.topbar-right aria-label="Product" {
                    a href=(crate::API_KEYS_PATH) { "API Keys settings" }
                    a href="/v1/openapi.json" { "openapi.json" }
                }
            }
        }
        div.docs-layout {
            nav.docs-nav aria-label="Docs" {
                ul {
                    @for (p, t) in DOC_PAGES {
                        li {
                            @if *p == path {
                                a href=(p) aria-current="page" { (t) }
                                @if !sections.is_empty() {
                                    ul.docs-toc {
                                        @for h in &sections {
                                            li { a href={ "#" (h.id) } { (h.text) } }
                                        }
                                    }
                                }
                            } @else {
                                a href=(p) { (t) }
                            }
                        }
                    }
                }
            }
            main #main .doc tabindex="-1" data-doc=(path) {
                h1 id=(page.headings.first().map(|h| h.id.as_str()).unwrap_or("top")) { (page.title) }
                (PreEscaped(&page.html))
            }
        }
    };
    document(&format!("{} · {PRODUCT} API", page.title), body)
}

fn document(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, html! {
                link rel="stylesheet" href=(assets::url("docs.css"));
                script src=(assets::url("docs.js")) defer {}
            }))
            body.page-docs {
                a.skip-link href="#main" { "Skip to main content" }
                (body)
            }
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_get_slug_ids_and_self_links() {
        let r = render_markdown("# Title\n\n## Rate limits & you\n\n### `invalid_api_key`\n\n## Rate limits & you\n");
        assert_eq!(r.title, "Title");
        let ids: Vec<&str> = r.headings.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["title", "rate-limits-you", "invalid_api_key", "rate-limits-you-2"]);
        assert!(r.html.contains("<h2 id=\"rate-limits-you\">"));
        assert!(r.html.contains("href=\"#invalid_api_key\""));
        assert!(!r.html.contains("<h1"), "the title is rendered by the layout");
    }

    #[test]
    fn explicit_heading_ids_win() {
        let r = render_markdown("## GET /v1/me {#getMe .ref-op}\n");
        assert_eq!(r.headings[0].id, "getMe");
        assert!(r.html.contains("<h2 id=\"getMe\" class=\"ref-op\">"), "{}", r.html);
        assert_eq!(r.headings[0].text, "GET /v1/me");
    }

    #[test]
    fn code_blocks_keep_language_and_title_and_escape() {
        let r = render_markdown("```python title=quickstart.py\nprint('<b>')\n```\n");
        assert!(r.html.contains("<div class=\"code-title\">quickstart.py</div>"), "{}", r.html);
        assert!(r.html.contains("<code class=\"language-python\">print(&#39;&lt;b&gt;&#39;)"), "{}", r.html);
    }

    #[test]
    fn raw_html_is_text() {
        let r = render_markdown("Hi <script>alert(1)</script>\n\n<div>x</div>\n");
        assert!(!r.html.contains("<script"), "{}", r.html);
        assert!(!r.html.contains("<div>"), "{}", r.html);
    }

    #[test]
    fn the_page_marks_the_current_entry_and_lists_its_sections() {
        let r = render_markdown("# Quickstart\n\n## Step one\n");
        let html = render_doc_page("/docs/quickstart", &r);
        assert!(html.contains("<a href=\"/docs/quickstart\" aria-current=\"page\">Quickstart</a>"));
        assert!(html.contains("<a href=\"#step-one\">Step one</a>"));
        assert!(html.contains("<h1 id=\"quickstart\">Quickstart</h1>"));
    }
}
