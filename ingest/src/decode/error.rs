//! Why an ingest payload was refused.

/// A decoding or validation failure; the message is shown to the client.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("request body is {size} bytes, over the limit max_body_bytes = {limit}")]
    BodyTooLarge { size: usize, limit: usize },
    #[error("{what} inflates past the limit max_decompressed_bytes = {limit} bytes")]
    DecompressedTooLarge { what: String, limit: usize },
    #[error("{what} is not valid gzip: {reason}")]
    BadGzip { what: String, reason: String },
    #[error("{what} is not a valid pprof profile: {reason}")]
    BadPprof { what: String, reason: String },
    #[error("stack of {depth} frames is deeper than the limit max_stack_depth = {limit}")]
    StackTooDeep { depth: usize, limit: usize },
    #[error("{count} samples in one request, over the limit max_samples = {limit}")]
    TooManySamples { count: usize, limit: usize },
    #[error("{count} labels on one series, over the limit max_labels = {limit}")]
    TooManyLabels { count: usize, limit: usize },
    #[error("invalid label {name:?}: {reason}")]
    BadLabel { name: String, reason: String },
    #[error("malformed name {name:?}: {reason}")]
    BadName { name: String, reason: String },
    #[error("folded line {line}: {reason}")]
    BadFolded { line: usize, reason: String },
    #[error("invalid parameter {param}: {reason}")]
    BadParam { param: String, reason: String },
    /// A row dated outside `max_time_ahead`/`max_time_behind` of the
    /// server's clock (the message names which).
    #[error("{0}")]
    TimeOutOfRange(String),
    #[error(
        "decoding {what} needs an estimated {needed} bytes of memory, over the limit max_request_memory_bytes = {limit}"
    )]
    OverMemoryBudget {
        what: String,
        needed: usize,
        limit: usize,
    },
    #[error(
        "the server is decoding other requests ({in_use} bytes of the limit ingest_memory_bytes = {limit}); {what} needs {bytes} more: retry shortly"
    )]
    ServerBusy {
        what: String,
        bytes: usize,
        in_use: usize,
        limit: usize,
    },
    #[error("invalid request: {0}")]
    BadRequest(String),
}

/// Result of decoding.
pub type DecodeResult<T> = Result<T, DecodeError>;
