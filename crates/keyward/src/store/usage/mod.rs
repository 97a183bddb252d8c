//! The usage log's SQL (SPEC §6), by concern:
//! - [`records`]: batch inserts of raw records (with their rollups on
//!   PostgreSQL, in one transaction) and `recent`;
//! - [`rollups`]: the hourly rollups of a batch, and SQLite's catch-up from
//!   a watermark;
//! - [`counts`]: the auto-revocation window count (per-key buckets on
//!   SQLite, the records on PostgreSQL);
//! - [`reports`]: the reads behind the API Usage statistics;
//! - [`retention`]: the deletes of old records and rollups;
//! - [`dict`], [`codec`]: the compact record's numbers and bytes;
//! - [`legacy`]: the records of the format before, until they are moved;
//! - [`partitions`]: PostgreSQL's daily partitions;
//! - [`strategy`]: which of the two ways a backend takes ([`UsageStrategy`]),
//!   decided in one place.
mod codec;
mod counts;
mod dict;
mod legacy;
mod partitions;
mod records;
mod reports;
mod retention;
mod rollups;
mod strategy;

pub use codec::{decode_ip, decode_path, encode_ip, encode_path};
pub use counts::{key_bucket, KeyBucketCount, KEY_BUCKET_SECS};
pub use dict::UsageDict;
pub use legacy::MIGRATE_STEP;
pub use reports::{EndpointCount, HourStatusCount};
pub use rollups::{aggregate, HourlyCount, UsageIncrements, ROLLUP_STEP};
pub use strategy::UsageStrategy;

/// One hour in unix ms: the rollups' bucket.
const HOUR_MS: i64 = 3_600_000;
