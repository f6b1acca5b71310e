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
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for f in frames {
            h.update(f.as_ref().as_bytes());
            h.update(&[0]);
        }
        StackId(h.digest())
    }
}
