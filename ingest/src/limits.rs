//! Input limits. Every one has a default and is configurable (`flarego
//! server --help`); a request over a limit is refused with a message that
//! names the limit and its value.

use std::time::Duration;

/// Limits applied to every ingest request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of a request body as sent (compressed or not). Default 32 MiB.
    pub max_body_bytes: usize,
    /// Bytes of a body or profile after gzip decompression. Default 256 MiB.
    pub max_decompressed_bytes: usize,
    /// Frames in one stack. Default 4096.
    pub max_stack_depth: usize,
    /// Samples (pprof samples or folded lines) in one request. Default 4,000,000.
    pub max_samples: usize,
    /// Labels on one series. Default 64.
    pub max_labels: usize,
    /// Bytes of a label name. Default 256.
    pub max_label_name_bytes: usize,
    /// Bytes of a label value, service or instance name. Default 4096.
    pub max_label_value_bytes: usize,
    /// Memory decoding one request may take (inflated body, decoded
    /// messages, new stacks), estimated before it is allocated; over it the
    /// request gets 413. Default 512 MiB.
    pub max_request_memory_bytes: usize,
    /// Memory all requests being decoded may take together; a request that
    /// would go over it gets 503 with `Retry-After`. Default 2 GiB.
    pub ingest_memory_bytes: usize,
    /// A profile or metric dated further ahead of the server's clock is
    /// refused: it would open a window that does not close. Default 1 h.
    pub max_time_ahead: Duration,
    /// A profile or metric dated further back is refused. Anything older
    /// than the hot retention goes straight to the cold tier at the next
    /// compaction. Default 7 days.
    pub max_time_behind: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 32 << 20,
            max_decompressed_bytes: 256 << 20,
            max_stack_depth: 4096,
            max_samples: 4_000_000,
            max_labels: 64,
            max_label_name_bytes: 256,
            max_label_value_bytes: 4096,
            max_request_memory_bytes: 512 << 20,
            ingest_memory_bytes: 2 << 30,
            max_time_ahead: Duration::from_secs(3600),
            max_time_behind: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl Limits {
    /// The times a write received at `now_ns` may carry, inclusive.
    pub fn time_range(&self, now_ns: i64) -> (i64, i64) {
        let ns = |d: Duration| d.as_nanos().min(i64::MAX as u128) as i64;
        (
            now_ns.saturating_sub(ns(self.max_time_behind)),
            now_ns.saturating_add(ns(self.max_time_ahead)),
        )
    }

    /// No limits: used when replaying the WAL, so that data accepted under
    /// older, looser limits is never refused on restart.
    pub fn unlimited() -> Self {
        Limits {
            max_body_bytes: usize::MAX,
            max_decompressed_bytes: usize::MAX,
            max_stack_depth: usize::MAX,
            max_samples: usize::MAX,
            max_labels: usize::MAX,
            max_label_name_bytes: usize::MAX,
            max_label_value_bytes: usize::MAX,
            max_request_memory_bytes: usize::MAX,
            ingest_memory_bytes: usize::MAX,
            max_time_ahead: Duration::MAX,
            max_time_behind: Duration::MAX,
        }
    }
}
