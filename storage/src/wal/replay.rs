//! Reading segments back: every valid record in LSN order, a torn tail
//! told apart from damage in the middle of the log.
//!
//! Each record carries its length, a CRC32 over its LSN and payload, and
//! its LSN, so after a damaged record the reader can find the next record
//! boundary again: it scans forward for a header whose length fits, whose
//! LSN follows the last good one and whose checksum holds. Bad bytes with
//! no valid record after them, at the end of the newest segment, are a
//! write cut short by a crash (never acknowledged) and are truncated.
//! Anything else is corruption: exactly the damaged records are skipped,
//! counted in a [`ReplayReport`], and everything after them is kept.

use super::{HEADER_LEN, MAX_RECORD_BYTES, io_err};
use crate::error::Result;
use crate::ids::Lsn;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::Path;

/// What replay found wrong with the log, for `/ready` and `/metrics`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ReplayReport {
    /// Damaged stretches skipped (not counting a torn tail).
    pub corrupt_regions: u64,
    /// Records lost in them (told by the gap in LSNs around each one).
    pub corrupt_records: u64,
    /// Bytes skipped in them.
    pub corrupt_bytes: u64,
    /// Bytes of an unacknowledged write cut off the end of the log.
    pub torn_tail_bytes: u64,
}

/// How one segment ended.
pub(super) struct SegmentEnd {
    /// LSN of its last valid record.
    pub last: Option<Lsn>,
    /// Offset and length of bad bytes after its last valid record.
    pub bad_tail: Option<(u64, u64)>,
}

/// Applies every valid record of one segment whose LSN is above `after`,
/// skipping damaged records in the middle (counted in `report`). A bad
/// tail is reported in the result; the caller decides whether it is torn
/// (the newest segment) or corrupt.
pub(super) fn replay_segment(
    path: &Path,
    after: Lsn,
    report: &mut ReplayReport,
    apply: &mut impl FnMut(Lsn, &[u8]) -> Result<()>,
) -> Result<SegmentEnd> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(io_err(path))?;
    let mut offset = 0usize;
    let mut last = after;
    let mut last_in_segment = None;
    while offset < data.len() {
        if let Some((lsn, payload, len)) = parse_record(&data[offset..], last) {
            apply(lsn, payload)?;
            last = lsn;
            last_in_segment = Some(lsn);
            offset += len;
            continue;
        }
        match resync(&data, offset + 1, last) {
            Some((next, next_lsn)) => {
                let lost = next_lsn.0.saturating_sub(last.0 + 1);
                tracing::error!(
                    path = %path.display(),
                    offset,
                    bytes = next - offset,
                    lost_records = lost,
                    after_lsn = last.0,
                    "WAL is corrupt in the middle: skipping the damaged records, keeping the rest"
                );
                report.corrupt_regions += 1;
                report.corrupt_records += lost;
                report.corrupt_bytes += (next - offset) as u64;
                offset = next;
            }
            None => {
                return Ok(SegmentEnd {
                    last: last_in_segment,
                    bad_tail: Some((offset as u64, (data.len() - offset) as u64)),
                });
            }
        }
    }
    Ok(SegmentEnd {
        last: last_in_segment,
        bad_tail: None,
    })
}

/// Cuts a torn tail off `path` at `offset`.
pub(super) fn truncate_tail(path: &Path, offset: u64, bytes: u64) -> Result<()> {
    tracing::warn!(
        path = %path.display(),
        offset,
        dropped_bytes = bytes,
        "truncating torn tail of WAL segment (a write cut short, never acknowledged)"
    );
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err(path))?;
    f.set_len(offset).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

/// The next offset at or after `from` where a valid record follows `after`.
fn resync(data: &[u8], from: usize, after: Lsn) -> Option<(usize, Lsn)> {
    (from..data.len().saturating_sub(HEADER_LEN - 1))
        .find_map(|at| parse_record(&data[at..], after).map(|(lsn, _, _)| (at, lsn)))
}

/// `(lsn, payload, record length)` of the record at the start of `buf`, or
/// `None` if it is incomplete, fails its checksum, or does not follow
/// `after` (LSNs only grow, and never jump by 2^32 in one log).
pub(super) fn parse_record(buf: &[u8], after: Lsn) -> Option<(Lsn, &[u8], usize)> {
    if buf.len() < HEADER_LEN {
        return None;
    }
    let len = u32::from_le_bytes(buf[0..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(buf[4..8].try_into().ok()?);
    let lsn = u64::from_le_bytes(buf[8..16].try_into().ok()?);
    if len > MAX_RECORD_BYTES || buf.len() < HEADER_LEN + len {
        return None;
    }
    if lsn <= after.0 || lsn - after.0 > 1 << 32 {
        return None;
    }
    let payload = &buf[HEADER_LEN..HEADER_LEN + len];
    let mut h = crc32fast::Hasher::new();
    h.update(&lsn.to_le_bytes());
    h.update(payload);
    if h.finalize() != crc {
        return None;
    }
    Some((Lsn(lsn), payload, HEADER_LEN + len))
}
