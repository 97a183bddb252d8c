//! Human formatting of times and numbers, server-side (UTC; the script keeps
//! relative times fresh with the same rules).

use keyward_core::api::Timestamp;
use time::OffsetDateTime;

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

fn dt(ts: Timestamp) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts.as_millis()) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `Nov 26, 2025`
pub fn date(ts: Timestamp) -> String {
    let t = dt(ts);
    format!("{} {}, {}", MONTHS[usize::from(u8::from(t.month())) - 1], t.day(), t.year())
}

/// `2025-11-26 22:19 UTC`
pub fn datetime_utc(ts: Timestamp) -> String {
    let t = dt(ts);
    format!("{}-{:02}-{:02} {:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
}

/// `22:00`
pub fn hour(ts: Timestamp) -> String {
    let t = dt(ts);
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// The hour of day (UTC), 0–23.
pub fn hour_of_day(ts: Timestamp) -> u8 {
    dt(ts).hour()
}

/// `Wed 26`
pub fn weekday_day(ts: Timestamp) -> String {
    let t = dt(ts);
    format!("{} {}", WEEKDAYS[usize::from(t.weekday().number_days_from_monday())], t.day())
}

/// `Wed, Nov 26, 14:00–15:00 UTC`: one chart bucket.
pub fn bucket_range(ts: Timestamp) -> String {
    let t = dt(ts);
    let end = dt(Timestamp(ts.as_millis() + HOUR));
    format!(
        "{}, {} {}, {:02}:00–{:02}:00 UTC",
        WEEKDAYS[usize::from(t.weekday().number_days_from_monday())],
        MONTHS[usize::from(u8::from(t.month())) - 1],
        t.day(),
        t.hour(),
        end.hour()
    )
}

/// "just now", "3 minutes ago", "5 hours ago", "2 days ago", else the date.
/// Must match `relative()` in `assets/app.js`.
pub fn relative(ts: Timestamp, now_ms: i64) -> String {
    let d = now_ms - ts.as_millis();
    if d < 45_000 {
        return "just now".to_string();
    }
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit} ago")
        } else {
            format!("{n} {unit}s ago")
        }
    };
    if d < HOUR {
        plural((d / MINUTE).max(1), "minute")
    } else if d < DAY {
        plural(d / HOUR, "hour")
    } else if d < 30 * DAY {
        plural(d / DAY, "day")
    } else {
        format!("on {}", date(ts))
    }
}

/// `12,345`
pub fn number(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    // A comma goes before every digit with a multiple of 3 digits after it.
    let lead = s.len() % 3;
    for (i, c) in s.chars().enumerate() {
        if i > 0 && i % 3 == lead {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `4.2%` of `total` (`0%` when total is 0).
pub fn percent(part: u64, total: u64) -> String {
    if total == 0 || part == 0 {
        return "0%".to_string();
    }
    let p = part as f64 * 100.0 / total as f64;
    if p >= 10.0 || (p - p.round()).abs() < 0.05 {
        format!("{p:.0}%")
    } else if p < 0.1 {
        "<0.1%".to_string()
    } else {
        format!("{p:.1}%")
    }
}

/// `12 ms`, `0.4 ms`, `1.25 s`
pub fn latency(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        "–".to_string()
    } else if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

/// Capitalised plan name: `Pro`.
pub fn title_case(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The reason phrase of an HTTP status the API answers with.
pub fn status_text(status: &str) -> &'static str {
    match status {
        "400" => "Bad Request",
        "401" => "Unauthorized",
        "403" => "Forbidden",
        "404" => "Not Found",
        "405" => "Method Not Allowed",
        "409" => "Conflict",
        "413" => "Payload Too Large",
        "415" => "Unsupported Media Type",
        "422" => "Unprocessable Content",
        "429" => "Too Many Requests",
        "500" => "Internal Server Error",
        "502" => "Bad Gateway",
        "503" => "Service Unavailable",
        "504" => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let t = Timestamp(1_764_195_595_123); // 2025-11-26T22:19:55.123Z, a Wednesday
        assert_eq!(date(t), "Nov 26, 2025");
        assert_eq!(datetime_utc(t), "2025-11-26 22:19 UTC");
        assert_eq!(weekday_day(t), "Wed 26");
        assert_eq!(hour(Timestamp(1_764_194_400_000)), "22:00");
        assert_eq!(bucket_range(Timestamp(1_764_194_400_000)), "Wed, Nov 26, 22:00–23:00 UTC");
        assert_eq!(number(0), "0");
        assert_eq!(number(999), "999");
        assert_eq!(number(1000), "1,000");
        assert_eq!(number(1_234_567), "1,234,567");
        assert_eq!(percent(1, 3), "33%");
        assert_eq!(percent(42, 1000), "4.2%");
        assert_eq!(percent(0, 0), "0%");
        assert_eq!(latency(3.04), "3.0 ms");
        assert_eq!(latency(42.4), "42 ms");
        assert_eq!(latency(1250.0), "1.25 s");
    }

    #[test]
    fn relative_times() {
        let now = 1_764_195_595_123;
        let ago = |ms: i64| relative(Timestamp(now - ms), now);
        assert_eq!(ago(-5_000), "just now");
        assert_eq!(ago(10_000), "just now");
        assert_eq!(ago(50_000), "1 minute ago");
        assert_eq!(ago(3 * MINUTE + 20_000), "3 minutes ago");
        assert_eq!(ago(HOUR), "1 hour ago");
        assert_eq!(ago(5 * HOUR + 59 * MINUTE), "5 hours ago");
        assert_eq!(ago(DAY + 1), "1 day ago");
        assert_eq!(ago(3 * DAY), "3 days ago");
        assert_eq!(ago(40 * DAY), "on Oct 17, 2025");
    }
}
