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

    /// The `probe`-th alternative id of a stack whose natural id
    /// ([`StackId::of_frames`], probe 0) is taken by other frames: two
    /// different stacks that hash alike are both kept, under different
    /// ids, and never merged.
    pub fn of_frames_probe<S: AsRef<str>>(frames: &[S], probe: u64) -> Self {
        if probe == 0 {
            return Self::of_frames(frames);
        }
        let mut buf = Vec::new();
        for f in frames {
            buf.extend_from_slice(f.as_ref().as_bytes());
            buf.push(0);
        }
        StackId(xxhash_rust::xxh3::xxh3_64_with_seed(&buf, probe))
    }
}

/// The hasher of every in-memory table keyed by something a client can
/// choose (stack ids are hashes of client strings): foldhash with a
/// random key per process, so nobody can craft keys that pile into one
/// bucket. About as fast as an unkeyed multiply-hash on integer keys.
pub type KeyedHash = foldhash::fast::RandomState;

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
        assert_eq!(
            StackId::of_frames_probe(&["main", "idle"], 0),
            StackId::of_frames(&["main", "idle"])
        );
        assert_eq!(
            StackId::of_frames_probe(&["main", "idle"], 1).0,
            StackId::of_frames_probe(&["main", "idle"], 1).0
        );
        assert_ne!(
            StackId::of_frames_probe(&["main", "idle"], 1),
            StackId::of_frames(&["main", "idle"])
        );
    }
}
