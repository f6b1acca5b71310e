//! Input limits. Every one has a default and is configurable (`flarego
//! server --help`); a request over a limit is refused with a message that
//! names the limit and its value.

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
        }
    }
}

impl Limits {
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
        }
    }
}
