//! Errors of the storage crate, named by the operation that failed.

use std::path::PathBuf;

/// Result type of the storage crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in storage, with the context an operator needs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The write-ahead log could not be opened, written or synced.
    #[error("write-ahead log {path}: {source}")]
    WalIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A group commit failed; every write in it was refused (the error is
    /// shared by all of them, so it is kept as text).
    #[error("write-ahead log append failed: {0}")]
    WalAppend(String),
    /// One write is larger than a WAL record may be (replay would not
    /// read it back).
    #[error("write of {bytes} bytes is over the WAL record limit of {limit} bytes")]
    WalRecordTooLarge { bytes: usize, limit: usize },
    #[error("write {seq} of {source_id:?} was stored before; not stored again")]
    Duplicate { source_id: String, seq: u64 },
    /// A WAL record failed its checksum or framing in a sealed segment.
    #[error("write-ahead log {path} is corrupt at offset {offset}: {reason}")]
    WalCorrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// A replayed WAL record could not be decoded again.
    #[error("replaying WAL record {lsn}: {reason}")]
    Replay { lsn: u64, reason: String },
    /// Reading or writing the object store failed.
    #[error("object store {path}: {source}")]
    ObjectStore {
        path: String,
        #[source]
        source: object_store::Error,
    },
    /// Building or encoding Parquet failed.
    #[error("parquet {path}: {source}")]
    Parquet {
        path: String,
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Building Arrow arrays failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// The manifest could not be parsed or is of an unknown version.
    #[error("manifest {path}: {reason}")]
    Manifest { path: String, reason: String },
    /// A directory or file of the data dir could not be created or read.
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the data directory.
    #[error(
        "data directory is in use by another flarego server (it holds the lock {path}); stop that server or choose another --data-dir"
    )]
    DataDirLocked { path: PathBuf },
    /// Background work (a merge) panicked; it is retried later.
    #[error("background {what} failed: {reason}")]
    Background { what: String, reason: String },
    /// The object store URL or its settings are wrong.
    #[error("object store {url}: {reason}")]
    StoreConfig { url: String, reason: String },
    /// The object store did not answer the start-up check.
    #[error("object store {url} cannot be used: {reason}")]
    StoreUnreachable { url: String, reason: String },
    /// Another node wrote an object this node numbered: two servers run
    /// with one node id.
    #[error(
        "object {path} was already written by another server with node id {node:?}; each server sharing a store needs its own --node-id"
    )]
    DuplicateNode { path: String, node: String },
    /// The data directory or store is of a format this build does not read.
    #[error("{0}")]
    Format(String),
    /// Data waiting for the object store is over a high-water mark; the
    /// write was not taken and may be retried.
    #[error("{reason}{}", store.as_ref().map(|e| format!(" (object store: {e})")).unwrap_or_default())]
    Backpressure {
        reason: String,
        store: Option<String>,
    },
    /// The engine is shutting down and takes no more writes.
    #[error("storage engine is shutting down")]
    ShuttingDown,
}
