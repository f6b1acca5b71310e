//! The write-ahead log: numbered segment files of checksummed records.
//!
//! A record is `[len u32 LE][crc32 u32 LE][lsn u64 LE][payload]`, where the
//! checksum covers the LSN and the payload. The payload is opaque here: the
//! ingest layer logs the raw request and decodes it again on replay.
//! Records are appended in batches and the batch is `fdatasync`ed before any
//! of its writes is acknowledged (group commit).
//!
//! A record cut short by a crash can only be the tail of a segment (it was
//! never acknowledged); replay truncates it away. Segments are deleted by
//! [`Wal::release_through`] once everything they hold is in the cold tier.

use crate::error::{Error, Result};
use crate::ids::Lsn;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const HEADER_LEN: usize = 16;
/// Upper bound on one record, so a corrupt length cannot make replay
/// allocate without limit.
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
    /// LSN of the last record in each closed segment.
    segment_last: BTreeMap<Lsn, Lsn>,
    next_lsn: Lsn,
    max_segment_bytes: u64,
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
    /// truncating torn tails, then opens a fresh segment for appends.
    pub fn open(
        dir: &Path,
        max_segment_bytes: u64,
        mut apply: impl FnMut(Lsn, &[u8]) -> Result<()>,
    ) -> Result<Wal> {
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
        let mut next_lsn = Lsn(1);
        let mut segment_last = BTreeMap::new();
        let mut segments = BTreeMap::new();
        for (first, path) in found {
            let last = replay_segment(&path, &mut apply)?;
            match last {
                Some(last) => {
                    next_lsn = Lsn(next_lsn.0.max(last.0 + 1));
                    segment_last.insert(first, last);
                    segments.insert(first, path);
                }
                None => {
                    // Empty segment: nothing to keep.
                    fs::remove_file(&path).map_err(io_err(&path))?;
                }
            }
        }
        let active_path = dir.join(segment_name(next_lsn));
        let active = open_segment(&active_path)?;
        sync_dir(dir)?;
        segments.insert(next_lsn, active_path.clone());
        Ok(Wal {
            dir: dir.to_path_buf(),
            active,
            active_path,
            active_bytes: 0,
            segments,
            segment_last,
            next_lsn,
            max_segment_bytes,
        })
    }

    /// The LSN the next appended record gets.
    pub fn next_lsn(&self) -> Lsn {
        self.next_lsn
    }

    /// Appends the payloads as consecutive records and syncs them to disk.
    /// Returns the LSN of each. On failure nothing of the batch remains.
    pub fn append_batch<'a>(
        &mut self,
        payloads: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Vec<Lsn>> {
        let mut buf = Vec::new();
        let mut lsns = Vec::new();
        let mut lsn = self.next_lsn;
        for p in payloads {
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
            self.rotate()?;
        }
        Ok(lsns)
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
        self.segment_last.insert(first, Lsn(self.next_lsn.0 - 1));
        let path = self.dir.join(segment_name(self.next_lsn));
        self.active = open_segment(&path)?;
        sync_dir(&self.dir)?;
        self.active_path = path.clone();
        self.active_bytes = 0;
        self.segments.insert(self.next_lsn, path);
        Ok(())
    }

    /// Deletes every segment whose records all have LSN ≤ `through`
    /// (their data is durable elsewhere). Returns how many were deleted.
    pub fn release_through(&mut self, through: Lsn) -> Result<usize> {
        if self.active_bytes > 0 && self.next_lsn.0 - 1 <= through.0 {
            self.rotate()?;
        }
        let mut deleted = 0;
        let closed: Vec<(Lsn, Lsn)> = self.segment_last.iter().map(|(f, l)| (*f, *l)).collect();
        for (first, last) in closed {
            if last > through {
                break;
            }
            if let Some(path) = self.segments.remove(&first) {
                fs::remove_file(&path).map_err(io_err(&path))?;
                deleted += 1;
            }
            self.segment_last.remove(&first);
        }
        if deleted > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(deleted)
    }

    /// Number of segment files, the active one included.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
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

/// Applies each valid record of one segment; truncates a torn tail.
/// Returns the LSN of the last valid record.
fn replay_segment(
    path: &Path,
    apply: &mut impl FnMut(Lsn, &[u8]) -> Result<()>,
) -> Result<Option<Lsn>> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(io_err(path))?;
    let mut offset = 0usize;
    let mut last = None;
    while offset < data.len() {
        match parse_record(&data[offset..]) {
            Some((lsn, payload, len)) => {
                apply(lsn, payload)?;
                last = Some(lsn);
                offset += len;
            }
            None => {
                tracing::warn!(
                    path = %path.display(),
                    offset,
                    dropped_bytes = data.len() - offset,
                    "truncating torn tail of WAL segment (an unacknowledged write)"
                );
                let f = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(io_err(path))?;
                f.set_len(offset as u64).map_err(io_err(path))?;
                f.sync_all().map_err(io_err(path))?;
                break;
            }
        }
    }
    Ok(last)
}

/// `(lsn, payload, record length)` of the record at the start of `buf`, or
/// `None` if it is incomplete or fails its checksum.
fn parse_record(buf: &[u8]) -> Option<(Lsn, &[u8], usize)> {
    if buf.len() < HEADER_LEN {
        return None;
    }
    let len = u32::from_le_bytes(buf[0..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(buf[4..8].try_into().ok()?);
    let lsn = u64::from_le_bytes(buf[8..16].try_into().ok()?);
    if len > MAX_RECORD_BYTES || buf.len() < HEADER_LEN + len {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(dir: &Path) -> (Wal, Vec<(u64, Vec<u8>)>) {
        let mut got = Vec::new();
        let wal = Wal::open(dir, 1 << 20, |lsn, p| {
            got.push((lsn.0, p.to_vec()));
            Ok(())
        })
        .unwrap();
        (wal, got)
    }

    #[test]
    fn replays_in_order_and_truncates_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, got) = collect(dir.path());
        assert!(got.is_empty());
        let lsns = wal
            .append_batch([b"one".as_slice(), b"two".as_slice()])
            .unwrap();
        assert_eq!(lsns, vec![Lsn(1), Lsn(2)]);
        let path = wal.active_path.clone();
        drop(wal);
        // A torn third record: header present, payload cut short.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 3, 0, 0, 0, 0, 0, 0, 0, 9])
            .unwrap();
        drop(f);
        let (mut wal, got) = collect(dir.path());
        assert_eq!(got, vec![(1, b"one".to_vec()), (2, b"two".to_vec())]);
        assert_eq!(wal.next_lsn(), Lsn(3));
        wal.append_batch([b"three".as_slice()]).unwrap();
        drop(wal);
        let (_, got) = collect(dir.path());
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], (3, b"three".to_vec()));
    }

    #[test]
    fn release_deletes_only_durable_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path(), 8, |_, _| Ok(())).unwrap();
        wal.append_batch([b"aaaaaaaa".as_slice()]).unwrap(); // rotates: segment 1 closed
        wal.append_batch([b"bbbbbbbb".as_slice()]).unwrap(); // segment 2 closed
        assert_eq!(wal.segment_count(), 3);
        assert_eq!(wal.release_through(Lsn(1)).unwrap(), 1);
        drop(wal);
        let mut got = Vec::new();
        Wal::open(dir.path(), 8, |lsn, _| {
            got.push(lsn.0);
            Ok(())
        })
        .unwrap();
        assert_eq!(got, vec![2]);
    }
}
