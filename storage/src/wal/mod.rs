//! The write-ahead log: numbered segment files of checksummed records.
//!
//! A record is `[len u32 LE][crc32 u32 LE][lsn u64 LE][payload]`, where the
//! checksum covers the LSN and the payload. The payload is opaque here: the
//! ingest layer logs the raw request and decodes it again on replay.
//! Records are appended in batches and the batch is `fdatasync`ed before any
//! of its writes is acknowledged (group commit).
//!
//! On open, [`replay`] reads every segment back. A record cut short by a
//! crash can only be the tail of the newest segment (it was never
//! acknowledged) and is truncated away; damage anywhere else skips exactly
//! the damaged records and is reported ([`ReplayReport`]). Segments are
//! deleted by [`Wal::release_through`] once everything they hold is in the
//! cold tier.

mod replay;
#[cfg(test)]
mod tests;

pub use replay::ReplayReport;

use crate::error::{Error, Result};
use crate::ids::Lsn;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

const HEADER_LEN: usize = 16;
/// Upper bound on one record's payload. Appends above it are refused
/// (replay would not read them back), and a corrupt length cannot make
/// replay allocate without limit.
pub const MAX_RECORD_BYTES: usize = 1 << 30;

/// An open write-ahead log, appending to its newest segment.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    active: File,
    active_path: PathBuf,
    active_bytes: u64,
    /// First LSN of each segment, oldest first (the active one included).
    segments: BTreeMap<Lsn, PathBuf>,
    /// LSN of the last record and size of each closed segment.
    closed: BTreeMap<Lsn, (Lsn, u64)>,
    next_lsn: Lsn,
    max_segment_bytes: u64,
    /// A rotation failed after its batch was durable; try again next append.
    rotate_due: bool,
    /// Largest payload accepted ([`MAX_RECORD_BYTES`]; smaller in tests).
    max_record_bytes: usize,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::WalIo {
        path: path.to_path_buf(),
        source,
    }
}

fn segment_name(first: Lsn) -> String {
    format!("{:020}.wal", first.0)
}

impl Wal {
    /// Replays every valid record in `dir` (oldest first) through `apply`,
    /// then opens a fresh segment for appends. Returns what replay found
    /// wrong with the log beside the open log.
    pub fn open(
        dir: &Path,
        max_segment_bytes: u64,
        mut apply: impl FnMut(Lsn, &[u8]) -> Result<()>,
    ) -> Result<(Wal, ReplayReport)> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut found: BTreeMap<Lsn, PathBuf> = BTreeMap::new();
        for entry in fs::read_dir(dir).map_err(io_err(dir))? {
            let entry = entry.map_err(io_err(dir))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(num) = name.strip_suffix(".wal")
                && let Ok(n) = num.parse::<u64>()
            {
                found.insert(Lsn(n), entry.path());
            }
        }
        let mut report = ReplayReport::default();
        let mut last = Lsn(0);
        let mut closed = BTreeMap::new();
        let mut segments = BTreeMap::new();
        let firsts: Vec<Lsn> = found.keys().copied().collect();
        for (i, (first, path)) in found.into_iter().enumerate() {
            let after = Lsn(last.0.max(first.0.saturating_sub(1)));
            let end = replay::replay_segment(&path, after, &mut report, &mut apply)?;
            let next_first = firsts.get(i + 1).copied();
            if let Some((offset, bytes)) = end.bad_tail {
                match next_first {
                    // Only the newest segment can have been cut short by a crash.
                    None => {
                        replay::truncate_tail(&path, offset, bytes)?;
                        report.torn_tail_bytes += bytes;
                    }
                    Some(next) => {
                        let upto = end.last.unwrap_or(after);
                        let lost = next.0.saturating_sub(upto.0 + 1);
                        tracing::error!(
                            path = %path.display(),
                            offset,
                            bytes,
                            lost_records = lost,
                            "WAL segment is corrupt at its end; the next segment is kept"
                        );
                        report.corrupt_regions += 1;
                        report.corrupt_records += lost;
                        report.corrupt_bytes += bytes;
                    }
                }
            }
            match end.last {
                Some(l) => {
                    last = l;
                    let size = fs::metadata(&path).map_err(io_err(&path))?.len();
                    closed.insert(first, (l, size));
                    segments.insert(first, path);
                }
                None => {
                    // No record left in it: nothing to keep.
                    fs::remove_file(&path).map_err(io_err(&path))?;
                }
            }
        }
        let next_lsn = Lsn(last.0 + 1);
        let active_path = dir.join(segment_name(next_lsn));
        let active = open_segment(&active_path)?;
        sync_dir(dir)?;
        segments.insert(next_lsn, active_path.clone());
        let wal = Wal {
            dir: dir.to_path_buf(),
            active,
            active_path,
            active_bytes: 0,
            segments,
            closed,
            next_lsn,
            max_segment_bytes,
            rotate_due: false,
            max_record_bytes: MAX_RECORD_BYTES,
        };
        Ok((wal, report))
    }

    /// The LSN the next appended record gets.
    pub fn next_lsn(&self) -> Lsn {
        self.next_lsn
    }

    /// Appends the payloads as consecutive records and syncs them to disk.
    /// Returns the LSN of each. On failure nothing of the batch remains;
    /// on success every record of it will be replayed.
    pub fn append_batch<'a>(
        &mut self,
        payloads: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Vec<Lsn>> {
        let mut buf = Vec::new();
        let mut lsns = Vec::new();
        let mut lsn = self.next_lsn;
        for p in payloads {
            if p.len() > self.max_record_bytes {
                return Err(Error::WalRecordTooLarge {
                    bytes: p.len(),
                    limit: self.max_record_bytes,
                });
            }
            let mut crc = crc32fast::Hasher::new();
            crc.update(&lsn.0.to_le_bytes());
            crc.update(p);
            buf.extend_from_slice(&(p.len() as u32).to_le_bytes());
            buf.extend_from_slice(&crc.finalize().to_le_bytes());
            buf.extend_from_slice(&lsn.0.to_le_bytes());
            buf.extend_from_slice(p);
            lsns.push(lsn);
            lsn = Lsn(lsn.0 + 1);
        }
        if lsns.is_empty() {
            return Ok(lsns);
        }
        let path = self.active_path.clone();
        let res = self
            .active
            .write_all(&buf)
            .and_then(|_| self.active.sync_data());
        if let Err(e) = res {
            // Cut back whatever part of the batch reached the file.
            let _ = self.active.set_len(self.active_bytes);
            return Err(io_err(&path)(e));
        }
        self.active_bytes += buf.len() as u64;
        self.next_lsn = lsn;
        if self.active_bytes >= self.max_segment_bytes {
            self.rotate_due = true;
        }
        // The batch is durable: a failure to start the next segment must
        // not turn its answer into an error (a retry would store it twice).
        self.try_rotate();
        Ok(lsns)
    }

    /// Rotates when due; a failure is logged and retried on the next append.
    fn try_rotate(&mut self) {
        if !self.rotate_due {
            return;
        }
        match self.rotate() {
            Ok(()) => self.rotate_due = false,
            Err(e) => {
                tracing::error!(error = %e, "cannot start a new WAL segment; appending to the current one and retrying")
            }
        }
    }

    /// Closes the active segment and starts a new one.
    fn rotate(&mut self) -> Result<()> {
        if self.active_bytes == 0 {
            return Ok(());
        }
        let first = *self
            .segments
            .keys()
            .next_back()
            .unwrap_or(&Lsn(self.next_lsn.0));
        let path = self.dir.join(segment_name(self.next_lsn));
        let active = open_segment(&path)?;
        sync_dir(&self.dir)?;
        self.closed
            .insert(first, (Lsn(self.next_lsn.0 - 1), self.active_bytes));
        self.active = active;
        self.active_path = path.clone();
        self.active_bytes = 0;
        self.segments.insert(self.next_lsn, path);
        Ok(())
    }

    /// Deletes every segment whose records all have LSN ≤ `through`
    /// (their data is durable elsewhere). Returns how many were deleted.
    pub fn release_through(&mut self, through: Lsn) -> Result<usize> {
        if self.active_bytes > 0 && self.next_lsn.0 - 1 <= through.0 {
            self.rotate_due = true;
            self.try_rotate();
        }
        let mut deleted = 0;
        let closed: Vec<(Lsn, Lsn)> = self.closed.iter().map(|(f, (l, _))| (*f, *l)).collect();
        for (first, last) in closed {
            if last > through {
                break;
            }
            if let Some(path) = self.segments.remove(&first) {
                fs::remove_file(&path).map_err(io_err(&path))?;
                deleted += 1;
            }
            self.closed.remove(&first);
        }
        if deleted > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(deleted)
    }

    /// The first LSN of the oldest segment: no record below it is left.
    pub fn first_lsn(&self) -> Lsn {
        self.segments
            .keys()
            .next()
            .copied()
            .unwrap_or(self.next_lsn)
    }

    /// Number of segment files, the active one included.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Bytes in every segment, the active one included.
    pub fn total_bytes(&self) -> u64 {
        self.active_bytes + self.closed.values().map(|(_, b)| *b).sum::<u64>()
    }
}

fn open_segment(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_err(path))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}
