//! The usage spill file: where the writer puts batches the store cannot
//! take (PostgreSQL down), so that an outage loses no usage record as long
//! as the disk holds them.
//!
//! One append-only file, `usage.spill`, in the spill dir
//! (`--usage-spill-dir`, default `<data-dir>/usage-spill`). Each record is
//! `[len: u32 LE][crc32 of body: u32 LE][body: JSON of the record]`; a batch
//! is appended in one write and `fsync`'d before the writer counts it as
//! handled. A torn or corrupt tail (a crash in the middle of an append) is
//! cut off when the file is opened: every record before it is kept.
//!
//! Replay reads the file from the start in chunks of up to
//! [`super::writer::BATCH_MAX`] records, in order. After each chunk is
//! committed to the store its end offset is written (and `fsync`'d) to
//! `usage.spill.pos`, so a restart in the middle of a replay goes on from
//! there (a crash between a commit and that write replays one chunk twice).
//! Once everything is replayed the file is truncated and the position file
//! removed.
//!
//! The file is bounded (`--usage-spill-max-mb`): a warning is logged as it
//! passes 50, 80 and 100 % of the bound; only records that do not fit are
//! dropped (counted in `keyward_usage_records_dropped_total`, logged).
use super::metrics::UsageMetrics;
use super::UsageRecord;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// The spill file's name in the spill dir.
pub const FILE_NAME: &str = "usage.spill";
const POS_NAME: &str = "usage.spill.pos";
/// A record longer than this is corrupt (paths are far shorter).
const MAX_RECORD: u32 = 1 << 20;
/// Warning thresholds, in percent of the bound.
const LEVELS: [u8; 3] = [50, 80, 100];

#[derive(Serialize)]
struct Out<'a> {
    at: i64,
    ws: &'a str,
    key: &'a str,
    m: &'a str,
    route: &'a str,
    path: &'a str,
    status: u16,
    code: Option<&'a str>,
    us: u64,
    ip: IpAddr,
}

#[derive(Deserialize)]
struct In {
    at: i64,
    ws: String,
    key: String,
    m: String,
    route: String,
    path: String,
    status: u16,
    code: Option<String>,
    us: u64,
    ip: IpAddr,
}

/// Append one record's frame to `out`.
pub fn encode(r: &UsageRecord, out: &mut Vec<u8>) {
    let body = serde_json::to_vec(&Out {
        at: r.at_ms,
        ws: &r.workspace_id,
        key: &r.key_id,
        m: r.method,
        route: &r.route,
        path: &r.path,
        status: r.status,
        code: r.code,
        us: r.latency_us,
        ip: r.ip,
    })
    .expect("a usage record serialises");
    // A record is a few hundred bytes: its length always fits the u32 header.
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
}

/// Problem codes are `&'static str` in a record: those read back are
/// interned (a handful of distinct values; a corrupt file cannot make this
/// grow past a few hundred).
fn intern(s: &str) -> &'static str {
    static CODES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut codes = CODES.lock().unwrap_or_else(|e| e.into_inner());
    let codes = codes.get_or_insert_with(HashSet::new);
    if let Some(c) = codes.get(s) {
        return c;
    }
    if codes.len() >= 512 || s.len() > 64 {
        return "unknown";
    }
    let c: &'static str = Box::leak(s.to_owned().into_boxed_str());
    codes.insert(c);
    c
}

fn decode(body: &[u8]) -> Option<UsageRecord> {
    let r: In = serde_json::from_slice(body).ok()?;
    Some(UsageRecord {
        at_ms: r.at,
        workspace_id: Arc::from(r.ws),
        key_id: Arc::from(r.key),
        method: super::static_method(&r.m),
        route: Arc::from(r.route),
        path: r.path,
        status: r.status,
        code: r.code.as_deref().map(intern),
        latency_us: r.us,
        ip: r.ip,
    })
}

/// Read the next frame: `Ok(None)` at a clean end, or at a torn/corrupt
/// frame (the caller cuts the file there).
fn read_frame(rd: &mut impl Read) -> io::Result<Option<(UsageRecord, u64)>> {
    let mut head = [0u8; 8];
    match read_full(rd, &mut head)? {
        0 => return Ok(None),
        8 => {}
        _ => return Ok(None),
    }
    let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
    let crc = u32::from_le_bytes(head[4..].try_into().expect("4 bytes"));
    if len > MAX_RECORD {
        return Ok(None);
    }
    let mut body = vec![0u8; len as usize];
    if read_full(rd, &mut body)? != body.len() || crc32fast::hash(&body) != crc {
        return Ok(None);
    }
    Ok(decode(&body).map(|r| (r, 8 + u64::from(len))))
}

fn read_full(rd: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match rd.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The usage report's hint while this node's spill file holds records.
pub fn behind(metrics: &UsageMetrics) -> Option<keyward_core::api::UsageBehind> {
    let spilled_records = metrics.spilled_records.load(Ordering::Relaxed);
    let since = metrics.spilled_since_ms.load(Ordering::Relaxed);
    (spilled_records > 0).then(|| keyward_core::api::UsageBehind {
        spilled_records,
        since: keyward_core::api::Timestamp(match i64::try_from(since) {
            Ok(s) if s > 0 => s,
            _ => crate::store::now_ms(),
        }),
    })
}

/// The open spill file and what it holds.
pub struct Spill {
    dir: PathBuf,
    file: File,
    /// Bytes of whole records in the file.
    len: u64,
    /// Offset up to which records were replayed into the store.
    replayed: u64,
    /// Records after `replayed`.
    records: u64,
    max_bytes: u64,
    warned: u8,
    metrics: Arc<UsageMetrics>,
}

impl Spill {
    /// Open (or create) the spill file in `dir`, cutting off a torn tail.
    pub fn open(dir: &Path, max_bytes: u64, metrics: Arc<UsageMetrics>) -> io::Result<Spill> {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let path = dir.join(FILE_NAME);
        let mut opts = OpenOptions::new();
        opts.read(true).append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(&path)?;
        let on_disk = file.metadata()?.len();
        let replayed_at = std::fs::read_to_string(dir.join(POS_NAME)).ok().and_then(|s| s.trim().parse::<u64>().ok());
        // Scan: count whole records, find where the valid part ends.
        let mut rd = BufReader::new(File::open(&path)?);
        let (mut len, mut records, mut since) = (0u64, 0u64, None);
        let replayed = replayed_at.unwrap_or(0);
        while let Some((r, n)) = read_frame(&mut rd)? {
            if len >= replayed {
                records += 1;
                since.get_or_insert(r.at_ms);
            }
            len += n;
        }
        if len < on_disk {
            tracing::warn!(
                path = %path.display(),
                kept_bytes = len,
                cut_bytes = on_disk - len,
                "usage spill file ends with a torn record (a crash while writing it); it was cut off"
            );
            file.set_len(len)?;
            file.sync_all()?;
        }
        let replayed = if replayed > len { 0 } else { replayed };
        let mut spill = Spill { dir: dir.to_path_buf(), file, len, replayed, records, max_bytes, warned: 0, metrics };
        if spill.records == 0 && spill.len > 0 {
            spill.clear()?;
        }
        spill.publish(since);
        if spill.records > 0 {
            tracing::warn!(records = spill.records, "usage spill file holds records not written yet; replaying them");
        }
        Ok(spill)
    }

    /// Nothing waits to be replayed.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Records waiting to be replayed.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bytes in the file.
    pub fn bytes(&self) -> u64 {
        self.len
    }

    fn publish(&self, since: Option<i64>) {
        self.metrics.spilled_records.store(self.records, Ordering::Relaxed);
        self.metrics.spill_bytes.store(self.len, Ordering::Relaxed);
        if self.records == 0 {
            self.metrics.spilled_since_ms.store(0, Ordering::Relaxed);
        } else if let Some(s) = since {
            let _ = self.metrics.spilled_since_ms.compare_exchange(
                0,
                crate::store::unsigned_ms(s.max(1)),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// Append `batch` (as much of it as the bound allows) and fsync.
    /// Returns how many records are now safe on disk; the caller counts the
    /// rest as dropped.
    pub fn append(&mut self, batch: &[UsageRecord]) -> usize {
        let mut buf = Vec::with_capacity(batch.len() * 200);
        let mut fitting = 0;
        for r in batch {
            let before = buf.len();
            encode(r, &mut buf);
            if self.len + buf.len() as u64 > self.max_bytes {
                buf.truncate(before);
                break;
            }
            fitting += 1;
        }
        if fitting > 0 {
            if let Err(e) = self.file.write_all(&buf).and_then(|()| self.file.sync_data()) {
                tracing::error!(error = %e, records = batch.len(), "could not write the usage spill file");
                // Whatever part reached the file is cut off again.
                let _ = self.file.set_len(self.len);
                return 0;
            }
            self.len += buf.len() as u64;
            self.records += fitting as u64;
            self.publish(batch.first().map(|r| r.at_ms));
        }
        let pct = (self.len.saturating_mul(100) / self.max_bytes.max(1)).min(100) as u8;
        let pct = if fitting < batch.len() { 100 } else { pct };
        // The highest level newly crossed: one warning however far one batch filled it.
        if let Some(level) = LEVELS.into_iter().rev().find(|&l| pct >= l && self.warned < l) {
            self.warned = level;
            let (bytes, max_bytes, records) = (self.len, self.max_bytes, self.records);
            tracing::warn!(
                percent = level,
                bytes,
                max_bytes,
                records,
                "usage spill file filling up, store unavailable"
            );
        }
        fitting
    }

    /// The next records to replay (up to `max`), in order, and the offset
    /// after them.
    pub fn next_chunk(&self, max: usize) -> io::Result<(Vec<UsageRecord>, u64)> {
        let mut f = File::open(self.dir.join(FILE_NAME))?;
        f.seek(SeekFrom::Start(self.replayed))?;
        let mut rd = BufReader::new(f.take(self.len - self.replayed));
        let (mut out, mut end) = (Vec::new(), self.replayed);
        while out.len() < max {
            match read_frame(&mut rd)? {
                Some((r, n)) => {
                    out.push(r);
                    end += n;
                }
                None => break,
            }
        }
        Ok((out, end))
    }

    /// Records up to `end` (`n` of them) are in the store: remember it, and
    /// empty the file once everything is.
    pub fn replayed(&mut self, end: u64, n: usize) -> io::Result<()> {
        self.replayed = end;
        self.records = self.records.saturating_sub(n as u64);
        if self.replayed >= self.len {
            self.clear()?;
        } else {
            let pos = self.dir.join(POS_NAME);
            let mut f = File::create(&pos)?;
            f.write_all(end.to_string().as_bytes())?;
            f.sync_data()?;
            self.metrics.spilled_since_ms.store(0, Ordering::Relaxed);
            let next = self.next_chunk(1).ok().and_then(|(r, _)| r.first().map(|r| r.at_ms));
            self.publish(next);
        }
        Ok(())
    }

    fn clear(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.sync_all()?;
        match std::fs::remove_file(self.dir.join(POS_NAME)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        self.len = 0;
        self.replayed = 0;
        self.records = 0;
        self.warned = 0;
        self.publish(None);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::test_record as rec;

    fn open(dir: &Path, max: u64) -> Spill {
        Spill::open(dir, max, Arc::default()).unwrap()
    }

    fn all(s: &Spill) -> Vec<UsageRecord> {
        s.next_chunk(usize::MAX).unwrap().0
    }

    #[test]
    fn records_round_trip_in_order_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = open(dir.path(), 1 << 20);
        let batch = [
            rec(1, "key_a", "/v1/me", 200, None),
            rec(2, "key_b", "/v1/studies/{id}", 404, Some("not_found")),
            rec(3, "key_a", "/v1/me", 401, Some("ip_not_allowed")),
        ];
        assert_eq!(s.append(&batch[..2]), 2);
        assert_eq!(s.append(&batch[2..]), 1);
        drop(s);
        let s = open(dir.path(), 1 << 20);
        assert_eq!(s.records(), 3);
        let back = all(&s);
        assert_eq!(back.len(), 3);
        for (a, b) in batch.iter().zip(&back) {
            assert_eq!(
                (a.at_ms, &*a.key_id, a.method, &*a.route, &a.path, a.status, a.code, a.latency_us, a.ip),
                (b.at_ms, &*b.key_id, b.method, &*b.route, &b.path, b.status, b.code, b.latency_us, b.ip)
            );
            assert_eq!(a.workspace_id, b.workspace_id);
        }
    }

    #[test]
    fn a_torn_last_record_is_cut_off_and_the_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = open(dir.path(), 1 << 20);
        s.append(&[rec(1, "k", "/v1/me", 200, None), rec(2, "k", "/v1/me", 200, None)]);
        let whole = s.bytes();
        drop(s);
        // A crash in the middle of the next append: half a frame.
        let mut frame = Vec::new();
        encode(&rec(3, "k", "/v1/me", 200, None), &mut frame);
        let mut f = OpenOptions::new().append(true).open(dir.path().join(FILE_NAME)).unwrap();
        f.write_all(&frame[..frame.len() / 2]).unwrap();
        drop(f);
        let mut s = open(dir.path(), 1 << 20);
        assert_eq!((s.records(), s.bytes()), (2, whole));
        s.append(&[rec(4, "k", "/v1/me", 200, None)]);
        assert_eq!(all(&s).iter().map(|r| r.at_ms).collect::<Vec<_>>(), [1, 2, 4]);
    }

    #[test]
    fn a_corrupt_record_ends_the_file_there() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = open(dir.path(), 1 << 20);
        s.append(&[rec(1, "k", "/v1/me", 200, None), rec(2, "k", "/v1/me", 200, None)]);
        drop(s);
        let path = dir.path().join(FILE_NAME);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        let s = open(dir.path(), 1 << 20);
        assert_eq!(all(&s).iter().map(|r| r.at_ms).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn the_bound_is_respected_and_only_what_does_not_fit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut frame = Vec::new();
        encode(&rec(1, "k", "/v1/me", 200, None), &mut frame);
        let max = frame.len() as u64 * 3 + 5;
        let mut s = open(dir.path(), max);
        let batch: Vec<_> = (1..=5).map(|i| rec(i, "k", "/v1/me", 200, None)).collect();
        assert_eq!(s.append(&batch[..2]), 2);
        assert_eq!(s.append(&batch[2..]), 1);
        assert_eq!(s.append(&batch[4..]), 0);
        assert!(s.bytes() <= max);
        assert_eq!(std::fs::metadata(dir.path().join(FILE_NAME)).unwrap().len(), s.bytes());
        assert_eq!(all(&s).iter().map(|r| r.at_ms).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn replay_goes_on_from_its_position_after_a_reopen_and_empties_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let metrics: Arc<UsageMetrics> = Arc::default();
        let mut s = Spill::open(dir.path(), 1 << 20, Arc::clone(&metrics)).unwrap();
        s.append(&(1..=5).map(|i| rec(i, "k", "/v1/me", 200, None)).collect::<Vec<_>>());
        assert_eq!(metrics.spilled_records.load(Ordering::Relaxed), 5);
        assert_eq!(metrics.spilled_since_ms.load(Ordering::Relaxed), 1);
        let (chunk, end) = s.next_chunk(2).unwrap();
        assert_eq!(chunk.iter().map(|r| r.at_ms).collect::<Vec<_>>(), [1, 2]);
        s.replayed(end, chunk.len()).unwrap();
        assert_eq!(metrics.spilled_since_ms.load(Ordering::Relaxed), 3);
        drop(s);
        let mut s = Spill::open(dir.path(), 1 << 20, Arc::clone(&metrics)).unwrap();
        assert_eq!(s.records(), 3);
        let (chunk, end) = s.next_chunk(100).unwrap();
        assert_eq!(chunk.iter().map(|r| r.at_ms).collect::<Vec<_>>(), [3, 4, 5]);
        s.replayed(end, chunk.len()).unwrap();
        assert!(s.is_empty());
        assert_eq!(std::fs::metadata(dir.path().join(FILE_NAME)).unwrap().len(), 0);
        assert!(!dir.path().join(POS_NAME).exists());
        assert_eq!(metrics.spilled_records.load(Ordering::Relaxed), 0);
        assert_eq!(metrics.spill_bytes.load(Ordering::Relaxed), 0);
        assert_eq!(metrics.spilled_since_ms.load(Ordering::Relaxed), 0);
    }
}
