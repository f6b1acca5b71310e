//! Storage configuration: plain structs with the documented defaults.

use std::path::PathBuf;
use std::time::Duration;

/// Where the cold tier's Parquet files go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColdStoreConfig {
    /// A local directory (default: `<data_dir>/parquet`).
    LocalDir(Option<PathBuf>),
    /// Process memory; for tests. Lost on exit.
    InMemory,
    /// S3 or GCS: `s3://bucket/prefix`, `gs://bucket/prefix` (see
    /// [`crate::store`]).
    Remote(String),
}

/// Configuration of the storage engine.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Root of the WAL and (by default) of the cold tier. Default `./flarego-data`.
    pub data_dir: PathBuf,
    /// Length of a time window. Default 10 s.
    pub window: Duration,
    /// How long a closed window stays in memory before it is compacted to
    /// Parquet. Default 60 s.
    pub hot_retention: Duration,
    /// Hot windows beyond this many bytes of rows are compacted early,
    /// oldest first. Default 1 GiB.
    pub hot_max_bytes: usize,
    /// A WAL segment is closed once it reaches this size. Default 64 MiB.
    pub wal_segment_bytes: u64,
    /// When the WAL on disk grows past this, every hot window is written
    /// to Parquet (even open ones) so its segments can go: no window, not
    /// even one still open, pins the WAL for longer. Default 2 GiB.
    pub wal_max_bytes: u64,
    /// How often the compactor looks for windows to persist. Default 2 s.
    pub compaction_interval: Duration,
    /// Frames of cold stacks kept in memory; past it, those no hot window
    /// uses are evicted (and read back from the stacks files when a query
    /// needs them). Default 512 MiB.
    pub stack_cache_bytes: usize,
    /// A numbered source (an agent) silent for longer than this is
    /// forgotten, and a resend from it would be stored again. Default 7 days.
    pub sequence_horizon: Duration,
    /// Recent writes kept for live-tail subscribers (and for reconnects
    /// that resume from a cursor). Default 64 MiB.
    pub live_buffer_bytes: usize,
    pub cold: ColdStoreConfig,
    /// Writes are refused (503) while windows not yet in the object store
    /// hold more than this in memory (an outage). Default 4 GiB.
    pub max_unpersisted_bytes: usize,
    /// Writes are refused (503) while the WAL on disk is larger than this
    /// (an outage keeps every segment). Default 16 GiB.
    pub max_wal_disk_bytes: u64,
    /// How long data is kept (default: for ever).
    pub retention: crate::retention::Retention,
    /// Files a merge or retention replaced are deleted this long after,
    /// and once no query of this process still reads them (readers
    /// outside it get this long). Default 2 min.
    pub delete_grace: Duration,
    /// Timeouts, retries and endpoints of a remote store.
    pub store: crate::store::StoreOptions,
    /// This server's name in object paths and the manifest log; no object
    /// is written by two nodes. Default: the id saved in the data
    /// directory, made on its first start.
    pub node_id: Option<String>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            data_dir: PathBuf::from("./flarego-data"),
            window: Duration::from_secs(10),
            hot_retention: Duration::from_secs(60),
            hot_max_bytes: 1 << 30,
            wal_segment_bytes: 64 << 20,
            wal_max_bytes: 2 << 30,
            compaction_interval: Duration::from_secs(2),
            stack_cache_bytes: 512 << 20,
            sequence_horizon: Duration::from_secs(7 * 24 * 3600),
            live_buffer_bytes: 64 << 20,
            cold: ColdStoreConfig::LocalDir(None),
            store: Default::default(),
            node_id: None,
            retention: Default::default(),
            delete_grace: Duration::from_secs(120),
            max_unpersisted_bytes: 4 << 30,
            max_wal_disk_bytes: 16 << 30,
        }
    }
}

impl StorageConfig {
    pub fn wal_dir(&self) -> PathBuf {
        self.data_dir.join("wal")
    }
    pub fn window_ns(&self) -> i64 {
        self.window.as_nanos().clamp(1, i64::MAX as u128) as i64
    }
}
