//! The embedded static assets, served by the binary under `/assets/` (no CDN).

use std::sync::OnceLock;

const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");
const FAVICON: &str = include_str!("../assets/favicon.svg");
const DOCS_JS: &str = include_str!("../assets/docs.js");
const DOCS_CSS: &str = include_str!("../assets/docs.css");

/// Embedded assets: `(content-type, bytes)` for a path under `/assets/`
/// (`"app.js"`; a leading `/assets/` or `/` is accepted too). `None` for
/// anything else.
pub fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    let path = path.strip_prefix("/assets/").or_else(|| path.strip_prefix('/')).unwrap_or(path);
    match path {
        "app.js" => Some(("text/javascript; charset=utf-8", APP_JS.as_bytes())),
        "app.css" => Some(("text/css; charset=utf-8", APP_CSS.as_bytes())),
        "favicon.svg" => Some(("image/svg+xml", FAVICON.as_bytes())),
        "docs.js" => Some(("text/javascript; charset=utf-8", DOCS_JS.as_bytes())),
        "docs.css" => Some(("text/css; charset=utf-8", DOCS_CSS.as_bytes())),
        _ => None,
    }
}

/// A short content hash appended to asset URLs (`?v=...`) so that a new build
/// is never served from a stale browser cache. The server ignores the query.
fn version(path: &str) -> String {
    let bytes = asset(path).map(|(_, b)| b).unwrap_or_default();
    // FNV-1a, 64 bit: tiny, stable across builds and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{:08x}", h >> 32)
}

/// `/assets/<path>?v=<hash>` (hashes computed once per process).
pub(crate) fn url(path: &str) -> String {
    static VERSIONS: OnceLock<[(&'static str, String); 5]> = OnceLock::new();
    let versions =
        VERSIONS.get_or_init(|| ["app.js", "app.css", "favicon.svg", "docs.js", "docs.css"].map(|p| (p, version(p))));
    match versions.iter().find(|(p, _)| *p == path) {
        Some((_, v)) => format!("/assets/{path}?v={v}"),
        None => format!("/assets/{path}?v={}", version(path)),
    }
}
