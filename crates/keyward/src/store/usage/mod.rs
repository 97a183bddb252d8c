//! The usage log's SQL (SPEC §6), by concern:
//! - [`records`]: batch inserts of raw records (with their rollups on
//!   PostgreSQL, in one transaction) and `recent`;
//! - [`rollups`]: the hourly rollups of a batch, and SQLite's catch-up from
//!   a watermark;
//! - [`counts`]: the auto-revocation window count (per-key buckets on
//!   SQLite, the records on PostgreSQL);
//! - [`reports`]: the reads behind the API Usage statistics;
//! - [`retention`]: the deletes of old records and rollups;
//! - [`strategy`]: which of the two ways a backend takes ([`UsageStrategy`]),
//!   decided in one place.
mod counts;
mod records;
mod reports;
mod retention;
mod rollups;
mod strategy;

pub use counts::{key_bucket, KeyBucketCount, KEY_BUCKET_SECS};
pub use reports::{EndpointCount, HourStatusCount};
pub use rollups::{aggregate, HourlyCount, UsageIncrements, ROLLUP_STEP};
pub use strategy::UsageStrategy;

/// One hour in unix ms: the rollups' bucket.
const HOUR_MS: i64 = 3_600_000;
