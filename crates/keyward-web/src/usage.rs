//! The *API Usage* section: totals, error breakdown, top endpoints, the 20
//! newest requests and the hourly chart (inline SVG).

use crate::keys::page_url;
use crate::layout::{icon, thead, time_ago};
use crate::{fmt, ApiKeysPage, API_KEYS_PATH};
use keyward_core::api::{KeyObject, KeyStatus, SeriesBucket, UsageReport, UsageTotals};
use maud::{html, Markup};
use std::collections::BTreeSet;

pub fn section(p: &ApiKeysPage, keys: &[KeyObject], u: &UsageReport, key_filter: Option<&str>) -> Markup {
    let key_filter = key_filter.filter(|k| !k.is_empty());
    let filtered_name = key_filter.map(|id| keys.iter().find(|k| k.id == id).map_or(id, |k| k.name.as_str()));
    let unknown_filter = key_filter.filter(|id| !keys.iter().any(|k| k.id == *id));
    html! {
        section #api-usage .usage aria-labelledby="usage-heading" {
            div.section-head {
                div {
                    h2 #usage-heading { "API Usage" }
                    p.muted {
                        "Every call made with your keys is logged for 90 days. Use this to spot integrations "
                        "that are hitting rate limits or errors."
                    }
                }
                form #usage-filter-form .filter method="get" action=(API_KEYS_PATH) {
                    input type="hidden" name="workspace" value=(p.current.id);
                    label for="usage-key-filter" { "Key" }
                    select #usage-key-filter name="key_id" {
                        option value="" selected[key_filter.is_none()] { "All keys" }
                        @for k in keys {
                            option value=(k.id) selected[key_filter == Some(k.id.as_str())] {
                                (k.name) @if k.status == KeyStatus::Revoked { " (revoked)" } @if k.status == KeyStatus::Expired { " (expired)" }
                            }
                        }
                        @if let Some(id) = unknown_filter {
                            option value=(id) selected { (id) }
                        }
                    }
                    button #usage-filter-apply .btn.btn-secondary.btn-sm.no-js-only type="submit" { "Apply" }
                }
            }
            div #usage-body {
                @if let Some(name) = filtered_name {
                    p.filter-note {
                        "Showing requests made with " strong { (name) } " only. "
                        a href=(page_url(&p.current.id, None)) { "Show all keys" }
                    }
                }
                @if let Some(b) = &u.usage_behind {
                    p.filter-note #usage-behind role="status" {
                        "Usage is behind: " strong { (b.spilled_records) } " requests made since "
                        time datetime=(b.since.to_rfc3339()) { (b.since.to_rfc3339()) }
                        " wait on this server to be written (the database was unavailable). They are added, in order, as soon as it answers."
                    }
                }
                (stats(&u.last_24h, &u.last_7d))
                (chart_card(&u.series))
                div.grid-2 {
                    (breakdown(&u.last_24h, &u.last_7d))
                    (top_endpoints(u))
                }
                (recent(u, p.now_ms))
            }
        }
    }
}

fn stats(d: &UsageTotals, w: &UsageTotals) -> Markup {
    let card = |label: &str, id: &str, value: u64, sub: String, warn: bool| {
        html! {
            div.stat.stat-warn[warn] {
                span.stat-label { (label) }
                span.stat-value id=(id) { (fmt::number(value)) }
                span.stat-sub { (sub) }
            }
        }
    };
    html! {
        div.stats {
            (card("Requests · 24 hours", "usage-24h-total", d.total,
                average(d.total, 24, "hour"), false))
            (card("Errors · 24 hours", "usage-24h-errors", d.errors,
                format!("{} of requests", fmt::percent(d.errors, d.total)), d.errors > 0))
            (card("Requests · 7 days", "usage-7d-total", w.total,
                average(w.total, 7, "day"), false))
            (card("Errors · 7 days", "usage-7d-errors", w.errors,
                format!("{} of requests", fmt::percent(w.errors, w.total)), w.errors > 0))
        }
    }
}

/// The measured rate, never rounded up: "about 1.1 per hour" (27 in 24 h),
/// "about 33 per hour", "under 0.1 per hour", or "no requests".
pub(crate) fn average(total: u64, buckets: u64, unit: &str) -> String {
    if total == 0 {
        return "no requests".to_string();
    }
    let rate = total as f64 / buckets.max(1) as f64;
    if rate >= 10.0 {
        format!("about {} per {unit}", fmt::number(rate.round() as u64))
    } else if rate >= 0.1 {
        let r = format!("{rate:.1}");
        format!("about {} per {unit}", r.strip_suffix(".0").unwrap_or(&r))
    } else {
        format!("under 0.1 per {unit}")
    }
}

fn chart_card(series: &[SeriesBucket]) -> Markup {
    let last24 = &series[series.len().saturating_sub(24)..];
    html! {
        div.card.chart-card #usage-chart {
            div.card-head {
                h3 { "Requests per hour" }
                div.chart-tools {
                    div.legend aria-hidden="true" {
                        span.legend-item { span.swatch.swatch-ok {} "Successful" }
                        span.legend-item { span.swatch.swatch-err {} "Errors" }
                    }
                    fieldset.segmented {
                        legend.sr-only { "Chart range" }
                        input #chart-range-24h type="radio" name="chart-range" value="24h" checked;
                        label for="chart-range-24h" { "24 hours" }
                        input #chart-range-7d type="radio" name="chart-range" value="7d";
                        label for="chart-range-7d" { "7 days" }
                    }
                }
            }
            div.chart.chart-24h { (chart("24h", last24, Range::Day)) }
            div.chart.chart-7d { (chart("7d", series, Range::Week)) }
            p.chart-note.muted { "Hourly buckets, times in UTC. Hover a bar, or open the table below, for its numbers." }
            (chart_table(last24))
        }
    }
}

/// The last 24 hours as a table: the chart's numbers for keyboard, touch
/// and screen-reader users (bars are not focusable).
fn chart_table(buckets: &[SeriesBucket]) -> Markup {
    html! {
        details.chart-table #usage-chart-table {
            summary { "Show the last 24 hours as a table" }
            div.table-wrap role="region" aria-label="Requests per hour, last 24 hours" tabindex="0" {
                table.table.table-compact {
                    caption.sr-only { "Requests and errors per hour over the last 24 hours, oldest first (UTC)" }
                    (thead(&["Hour (UTC)", "Requests", "Errors"], &["Requests", "Errors"]))
                    tbody {
                        @for b in buckets {
                            tr {
                                th scope="row" { (fmt::bucket_range(b.start)) }
                                td.num { (fmt::number(b.total)) }
                                td.num { (fmt::number(b.errors.min(b.total))) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Range {
    Day,
    Week,
}

/// Chart height in CSS pixels; the width follows the container.
const H: f64 = 220.0;
const MT: f64 = 10.0;
const MB: f64 = 24.0;
/// Width of the y-axis label column, CSS pixels.
const AXIS_W: f64 = 40.0;

/// A bar chart of hourly buckets: successful requests, errors stacked on top
/// in another colour, a `<title>` per bar for tooltips. Horizontal positions
/// are percentages and vertical ones pixels, so the chart fills any width
/// while its text keeps its size (no viewBox stretching).
fn chart(id: &str, buckets: &[SeriesBucket], range: Range) -> Markup {
    let plot_h = H - MT - MB;
    let n = buckets.len().max(1) as f64;
    let slot = 100.0 / n;
    let bar_w = slot * if range == Range::Day { 0.62 } else { 0.72 };
    let max = buckets.iter().map(|b| b.total.max(b.errors)).max().unwrap_or(0);
    let step = nice_step(max);
    let top = max.div_ceil(step).max(1).saturating_mul(step);
    let y = |v: u64| MT + plot_h - (v as f64 / top as f64) * plot_h;
    let total: u64 = buckets.iter().map(|b| b.total).sum();
    let errors: u64 = buckets.iter().map(|b| b.errors).sum();
    let busiest = buckets.iter().filter(|b| b.total > 0).max_by_key(|b| b.total);
    let span = match range {
        Range::Day => "the last 24 hours",
        Range::Week => "the last 7 days",
    };
    let desc = match busiest {
        Some(b) => format!(
            "{} requests and {} errors in {span}. Busiest hour: {} with {} requests.",
            fmt::number(total),
            fmt::number(errors),
            fmt::bucket_range(b.start),
            fmt::number(b.total)
        ),
        None => format!("No requests in {span}."),
    };
    let title_id = format!("chart-{id}-title");
    let desc_id = format!("chart-{id}-desc");
    let ticks: Vec<u64> = (0..=(top / step)).map(|i| i * step).collect();
    html! {
        div.chart-frame {
            svg.chart-yaxis width=(AXIS_W) height=(H) aria-hidden="true" focusable="false" {
                @for v in &ticks {
                    text x=(AXIS_W - 8.0) y=(f1(y(*v) + 3.5)) text-anchor="end" { (compact(*v)) }
                }
            }
            svg.chart-svg width="100%" height=(H) role="img" aria-labelledby=(format!("{title_id} {desc_id}"))
                data-buckets=(buckets.len()) {
                title id=(title_id) { "Requests per hour, " (span) }
                desc id=(desc_id) { (desc) }
                g.grid {
                    @for v in &ticks {
                        line x1="0" x2="100%" y1=(f1(y(*v))) y2=(f1(y(*v))) {}
                    }
                }
                g.x-axis {
                    @for (i, b) in buckets.iter().enumerate() {
                        @let x = i as f64 * slot;
                        @let h = fmt::hour_of_day(b.start);
                        @if range == Range::Day && matches!(h, 0 | 6 | 12 | 18) {
                            text.axis-x x=(pct(x + slot / 2.0)) y=(H - 6.0) text-anchor="middle" { (fmt::hour(b.start)) }
                        }
                        @if range == Range::Week && h == 0 {
                            line.day-sep x1=(pct(x)) x2=(pct(x)) y1=(MT) y2=(MT + plot_h) {}
                            @if x < 92.0 {
                                text.axis-x x=(pct(x + slot)) y=(H - 6.0) text-anchor="start" { (fmt::weekday_day(b.start)) }
                            }
                        }
                    }
                }
                g.bars {
                    @for (i, b) in buckets.iter().enumerate() {
                        @let x = i as f64 * slot + (slot - bar_w) / 2.0;
                        @let errs = b.errors.min(b.total);
                        @let ok = b.total - errs;
                        @let ok_h = bar_h(ok, top, plot_h);
                        @let err_h = bar_h(errs, top, plot_h);
                        g.bar {
                            title {
                                (fmt::bucket_range(b.start)) ": " (fmt::number(b.total)) " requests, "
                                (fmt::number(errs)) @if errs == 1 { " error" } @else { " errors" }
                            }
                            rect.bar-hit x=(pct(i as f64 * slot)) y=(MT) width=(pct(slot)) height=(f1(plot_h)) {}
                            @if ok > 0 {
                                rect.bar-ok x=(pct(x)) y=(f2(MT + plot_h - ok_h)) width=(pct(bar_w)) height=(f2(ok_h)) {}
                            }
                            @if errs > 0 {
                                rect.bar-err x=(pct(x)) y=(f2(MT + plot_h - ok_h - err_h)) width=(pct(bar_w)) height=(f2(err_h)) {}
                            }
                        }
                    }
                }
                line.baseline x1="0" x2="100%" y1=(MT + plot_h) y2=(MT + plot_h) {}
                @if busiest.is_none() {
                    text.chart-empty x="50%" y=(f1(MT + plot_h / 2.0)) text-anchor="middle" { "No requests in " (span) }
                }
            }
        }
    }
}

fn pct(v: f64) -> String {
    format!("{v:.3}%")
}

/// Height of a bar segment; a non-zero count always gets a visible sliver.
fn bar_h(v: u64, top: u64, plot_h: f64) -> f64 {
    if v == 0 {
        0.0
    } else {
        (v as f64 / top as f64 * plot_h).max(1.5)
    }
}

/// A 1-2-5 step giving about four gridlines up to `max`.
fn nice_step(max: u64) -> u64 {
    let raw = max.div_ceil(4).max(1);
    let mut mag = 1u64;
    while mag.saturating_mul(10) <= raw {
        mag *= 10;
    }
    for m in [1, 2, 5, 10] {
        if mag.saturating_mul(m) >= raw {
            return mag.saturating_mul(m);
        }
    }
    mag.saturating_mul(10)
}

/// `950`, `1.2k`, `35k`, `1.5M`
fn compact(v: u64) -> String {
    let f = |x: f64, s: &str| {
        if x < 10.0 && (x - x.round()).abs() >= 0.05 {
            format!("{x:.1}{s}")
        } else {
            format!("{x:.0}{s}")
        }
    };
    match v {
        0..=999 => v.to_string(),
        1_000..=999_999 => f(v as f64 / 1e3, "k"),
        _ => f(v as f64 / 1e6, "M"),
    }
}

fn f1(v: f64) -> String {
    format!("{v:.1}")
}

fn f2(v: f64) -> String {
    format!("{v:.2}")
}

fn breakdown(d: &UsageTotals, w: &UsageTotals) -> Markup {
    // `by_status` counts every status (so it adds up to the total); the
    // error breakdown shows the error statuses only.
    let mut statuses: Vec<&String> = d
        .by_status
        .keys()
        .chain(w.by_status.keys())
        .filter(|s| s.parse::<u16>().is_ok_and(|code| code >= 400))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    statuses.sort_by_key(|s| s.parse::<u32>().unwrap_or(u32::MAX));
    let mut codes: Vec<&String> =
        d.by_code.keys().chain(w.by_code.keys()).collect::<BTreeSet<_>>().into_iter().collect();
    codes.sort_by_key(|c| std::cmp::Reverse(w.by_code.get(*c).copied().unwrap_or(0)));
    let count = |m: &std::collections::BTreeMap<String, u64>, k: &str| fmt::number(m.get(k).copied().unwrap_or(0));
    html! {
        div.card #usage-errors {
            div.card-head { h3 { "Error breakdown" } }
            @if statuses.is_empty() && codes.is_empty() {
                div.empty.empty-sm {
                    p.empty-title { "No errors in the last 7 days" }
                    p.muted { "Every request made with your keys succeeded." }
                }
            } @else {
                (breakdown_table("By status", "Status", &statuses, |s| html! {
                    (status_badge(s)) " " span.muted { (fmt::status_text(s)) }
                }, |s| (count(&d.by_status, s), count(&w.by_status, s))))
                @if !codes.is_empty() {
                    (breakdown_table("By error code", "Code", &codes, |c| html! { code { (c) } },
                        |c| (count(&d.by_code, c), count(&w.by_code, c))))
                }
            }
        }
    }
}

/// One table of the error breakdown: a row per key (`label` its heading
/// cell), with its counts over 24 hours and 7 days.
fn breakdown_table(
    caption: &str,
    first_col: &str,
    keys: &[&String],
    label: impl Fn(&str) -> Markup,
    counts: impl Fn(&str) -> (String, String),
) -> Markup {
    html! {
        div.table-wrap {
            table.table.table-compact.breakdown {
                caption { (caption) }
                (thead(&[first_col, "24 hours", "7 days"], &["24 hours", "7 days"]))
                tbody {
                    @for k in keys {
                        @let (day, week) = counts(k);
                        tr {
                            th scope="row" { (label(k)) }
                            td.num { (day) }
                            td.num { (week) }
                        }
                    }
                }
            }
        }
    }
}

/// A path that wraps only after a `/` (`<wbr>`), never inside an id.
fn breakable_path(path: &str) -> Markup {
    html! {
        @for (i, seg) in path.split('/').enumerate() {
            @if i > 0 { "/" wbr; }
            (seg)
        }
    }
}

fn status_badge(s: &str) -> Markup {
    let n: u16 = s.parse().unwrap_or(0);
    let class = match n {
        0..=399 => "status status-ok",
        400..=499 => "status status-warn",
        _ => "status status-err",
    };
    html! { span class=(class) { (s) } }
}

fn method_badge(m: &str) -> Markup {
    let class = format!("method method-{}", m.to_ascii_lowercase());
    html! { span class=(class) { (m) } }
}

fn top_endpoints(u: &UsageReport) -> Markup {
    html! {
        div.card #usage-top-endpoints {
            div.card-head { h3 { "Top endpoints" } span.muted.card-sub { "last 7 days" } }
            @if u.top_endpoints.is_empty() {
                div.empty.empty-sm { p.empty-title { "No requests in the last 7 days" } }
            } @else {
                div.table-wrap {
                    table.table.table-compact {
                        caption.sr-only { "Top endpoints over the last 7 days" }
                        (thead(&["Method", "Endpoint", "Requests", "Errors"], &["Requests", "Errors"]))
                        tbody {
                            @for e in &u.top_endpoints {
                                tr {
                                    td { (method_badge(&e.method)) }
                                    td { code.route title=(e.route) { (breakable_path(&e.route)) } }
                                    td.num { (fmt::number(e.count)) }
                                    td.num.errors-cell[e.errors > 0] {
                                        (fmt::number(e.errors))
                                        @if e.errors > 0 { " " span.muted { "(" (fmt::percent(e.errors, e.count)) ")" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn recent(u: &UsageReport, now_ms: i64) -> Markup {
    html! {
        div.card #usage-recent {
            div.card-head { h3 { "Recent requests" } span.muted.card-sub { "newest 20" } }
            @if u.recent.is_empty() {
                div.empty.empty-sm {
                    span.empty-icon { (icon("sparkle")) }
                    p.empty-title { "No requests yet" }
                    p.muted { "Once a script calls the API with one of your keys, its requests show up here." }
                }
            } @else {
                div.table-wrap role="region" aria-label="Recent requests" tabindex="0" {
                    table.table.table-compact.recent-table {
                        caption.sr-only { "The 20 most recent requests" }
                        (thead(&["Time", "Status", "Code", "Method", "Path", "Latency", "Key", "IP"], &["Latency"]))
                        tbody {
                            @for r in u.recent.iter().take(20) {
                                tr {
                                    td.nowrap { (time_ago(r.at, now_ms)) }
                                    td { (status_badge(&r.status.to_string())) }
                                    td {
                                        @match &r.code {
                                            Some(c) => code.error-code { (c) },
                                            None => span.muted { "–" },
                                        }
                                    }
                                    td { (method_badge(&r.method)) }
                                    td.path-cell { code.route title=(r.route) { (breakable_path(&r.path)) } }
                                    td.num.nowrap { (fmt::latency(r.latency_ms)) }
                                    td {
                                        @let name = if r.key_name.is_empty() { &r.key_id } else { &r.key_name };
                                        span.recent-key title=(name) { (name) }
                                    }
                                    td.mono.nowrap { (r.ip) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_say_the_measured_rate_without_rounding_up() {
        assert_eq!(super::average(27, 24, "hour"), "about 1.1 per hour");
        assert_eq!(super::average(48, 24, "hour"), "about 2 per hour");
        assert_eq!(super::average(800, 24, "hour"), "about 33 per hour");
        assert_eq!(super::average(1, 24, "hour"), "under 0.1 per hour");
        assert_eq!(super::average(0, 24, "hour"), "no requests");
        assert_eq!(super::average(3, 7, "day"), "about 0.4 per day");
    }

    #[test]
    fn steps_are_nice() {
        assert_eq!(nice_step(0), 1);
        assert_eq!(nice_step(3), 1);
        assert_eq!(nice_step(7), 2);
        assert_eq!(nice_step(18), 5);
        assert_eq!(nice_step(40), 10);
        assert_eq!(nice_step(41), 20);
        assert_eq!(nice_step(999), 500);
        assert_eq!(nice_step(u64::MAX), 5_000_000_000_000_000_000);
        assert_eq!(compact(950), "950");
        assert_eq!(compact(1200), "1.2k");
        assert_eq!(compact(35_000), "35k");
        assert_eq!(compact(1_500_000), "1.5M");
    }
}
