//! Newtypes for the identifiers that flow through storage.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A tenant (namespace). Every row belongs to exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TenantId(pub String);

impl TenantId {
    /// The tenant used when no auth or header names one.
    pub fn default_tenant() -> Self {
        TenantId("default".to_string())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Start of a time window, in nanoseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WindowStart(pub i64);

impl WindowStart {
    /// The window of length `window_ns` that holds `time_ns`.
    pub fn containing(time_ns: i64, window_ns: i64) -> Self {
        WindowStart(time_ns.div_euclid(window_ns) * window_ns)
    }
}

/// Log sequence number of a write-ahead-log record; strictly increasing.
#[derive(
    Debug, Default, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Lsn(pub u64);

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Stable 64-bit content hash of a stack's frames (root first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StackId(pub u64);

impl StackId {
    /// Hashes frame names, root first. The hash is xxh3-64 over each name
    /// followed by a zero byte; it never changes between versions, since it
    /// is stored in Parquet files.
    pub fn of_frames<S: AsRef<str>>(frames: &[S]) -> Self {
        // One-shot hashing of the joined bytes (the same value as feeding
        // them piecewise, and several times faster than many small updates).
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUF.with(|b| {
            let mut buf = b.borrow_mut();
            buf.clear();
            for f in frames {
                buf.extend_from_slice(f.as_ref().as_bytes());
                buf.push(0);
            }
            StackId(xxhash_rust::xxh3::xxh3_64(&buf))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::StackId;

    #[test]
    fn stack_ids_are_stable() {
        // Stored in Parquet: these values must never change.
        assert_eq!(
            StackId::of_frames(&["main", "work", "spin"]).0,
            9694579732031188490
        );
        assert_eq!(StackId::of_frames(&["main", "idle"]).0, 2361768433001552525);
        assert_ne!(
            StackId::of_frames(&["ab", "c"]),
            StackId::of_frames(&["a", "bc"])
        );
    }
}

/// A fast hasher for maps keyed by stack ids and small integers (FxHash's
/// mixing). Stack ids are already uniform hashes; SipHash on them is wasted
/// work in the hottest loops of ingest and compaction.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64);
    }
    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// `BuildHasher` of [`FastHasher`], for `HashMap::with_hasher`/`default`.
pub type FastHash = std::hash::BuildHasherDefault<FastHasher>;
