//! The fixed-bucket latency histogram of the metrics listener: the usage
//! pipeline's batch writes and webhook attempts are counted the same way and
//! rendered in the same Prometheus text format.
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Durations counted into `N` buckets, with their count and sum. The upper
/// bounds (seconds) are the owner's constant, passed to both methods; `N`
/// ties them to the buckets.
pub struct Histogram<const N: usize> {
    buckets: [AtomicU64; N],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl<const N: usize> Default for Histogram<N> {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
        }
    }
}

impl<const N: usize> Histogram<N> {
    /// Count one duration (one above the last bound counts in `+Inf` only).
    pub fn observe(&self, bounds: &[f64; N], took: Duration) {
        let secs = took.as_secs_f64();
        if let Some(i) = bounds.iter().position(|&b| secs <= b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Append the series `name` (cumulative buckets, sum in seconds, count).
    pub fn render(&self, out: &mut String, bounds: &[f64; N], name: &str, help: &str) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (b, c) in bounds.iter().zip(&self.buckets) {
            cumulative += get(c);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        let count = get(&self.count);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", get(&self.sum_us) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// For the owners' tests: `text` has the series `name` with these
/// cumulative bucket counts (by `le`) and this count.
#[cfg(test)]
pub(crate) fn assert_histogram(text: &str, name: &str, buckets: &[(&str, u64)], count: u64) {
    let lines = buckets.iter().map(|(le, n)| format!("{name}_bucket{{le=\"{le}\"}} {n}\n"));
    for line in lines.chain([format!("{name}_count {count}\n")]) {
        assert!(text.contains(&line), "{line:?} missing from {text}");
    }
}
