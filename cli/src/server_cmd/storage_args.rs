//! Flags of `flarego server` about where and how data is kept.

use super::{duration, layered, size};
use crate::config_file::ServerFile;
use clap::Args;
use flarego_storage::{ColdStoreConfig, StorageConfig};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct StorageArgs {
    /// Directory of the WAL and the Parquet files [default: ./flarego-data].
    #[arg(long, env = "FLAREGO_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Length of a time window, e.g. 10s [default: 10s].
    #[arg(long, env = "FLAREGO_WINDOW")]
    window: Option<String>,
    /// How long a closed window stays in memory before it is written to
    /// Parquet, e.g. 60s [default: 60s].
    #[arg(long, env = "FLAREGO_HOT_RETENTION")]
    hot_retention: Option<String>,
    /// Hot data above this size is written to Parquet early, oldest window
    /// first, e.g. 1GiB [default: 1GiB].
    #[arg(long, env = "FLAREGO_HOT_MAX_BYTES")]
    hot_max_bytes: Option<String>,
    /// Size at which a WAL segment is closed [default: 64MiB].
    #[arg(long, env = "FLAREGO_WAL_SEGMENT_BYTES")]
    wal_segment_bytes: Option<String>,
    /// When the WAL on disk grows past this, every hot window is written to
    /// Parquet so its segments can be deleted [default: 2GiB].
    #[arg(long, env = "FLAREGO_WAL_MAX_BYTES")]
    wal_max_bytes: Option<String>,
    /// Frames of cold stacks kept in memory; past it, those no hot window
    /// uses are evicted and read back from the stacks files on demand
    /// [default: 512MiB].
    #[arg(long, env = "FLAREGO_STACK_CACHE_BYTES")]
    stack_cache_bytes: Option<String>,
    /// Recent writes kept for live-tail subscribers and their reconnects
    /// [default: 64MiB].
    #[arg(long, env = "FLAREGO_LIVE_BUFFER_BYTES")]
    live_buffer_bytes: Option<String>,
    /// How often the compactor looks for closed windows [default: 2s].
    #[arg(long, env = "FLAREGO_COMPACTION_INTERVAL")]
    compaction_interval: Option<String>,
    /// An agent silent this long is forgotten by resend detection, e.g. 7d [default: 7d].
    #[arg(long, env = "FLAREGO_SEQUENCE_HORIZON")]
    sequence_horizon: Option<String>,
    /// Keep Parquet files in memory instead of on disk (tests only; lost on exit).
    #[arg(long, env = "FLAREGO_IN_MEMORY_COLD", default_value_t = false)]
    in_memory_cold: bool,
}

impl StorageArgs {
    pub fn resolve(self, file: &ServerFile) -> anyhow::Result<StorageConfig> {
        let d = StorageConfig::default();
        let dur = |name, flag: Option<String>, key: &Option<String>, default| {
            layered(flag, key).map_or(Ok(default), |v| duration(name, &v))
        };
        let bytes = |name, flag: Option<String>, key: &Option<String>, default| {
            layered(flag, key).map_or(Ok(default), |v| size(name, &v))
        };
        Ok(StorageConfig {
            data_dir: self
                .data_dir
                .or(file.data_dir.clone().map(PathBuf::from))
                .unwrap_or(d.data_dir),
            window: dur("window", self.window, &file.window, d.window)?,
            hot_retention: dur(
                "hot-retention",
                self.hot_retention,
                &file.hot_retention,
                d.hot_retention,
            )?,
            hot_max_bytes: bytes(
                "hot-max-bytes",
                self.hot_max_bytes,
                &file.hot_max_bytes,
                d.hot_max_bytes,
            )?,
            wal_segment_bytes: bytes(
                "wal-segment-bytes",
                self.wal_segment_bytes,
                &file.wal_segment_bytes,
                d.wal_segment_bytes as usize,
            )? as u64,
            wal_max_bytes: bytes(
                "wal-max-bytes",
                self.wal_max_bytes,
                &file.wal_max_bytes,
                d.wal_max_bytes as usize,
            )? as u64,
            stack_cache_bytes: bytes(
                "stack-cache-bytes",
                self.stack_cache_bytes,
                &file.stack_cache_bytes,
                d.stack_cache_bytes,
            )?,
            live_buffer_bytes: bytes(
                "live-buffer-bytes",
                self.live_buffer_bytes,
                &file.live_buffer_bytes,
                d.live_buffer_bytes,
            )?,
            compaction_interval: dur(
                "compaction-interval",
                self.compaction_interval,
                &file.compaction_interval,
                d.compaction_interval,
            )?,
            sequence_horizon: dur(
                "sequence-horizon",
                self.sequence_horizon,
                &file.sequence_horizon,
                d.sequence_horizon,
            )?,
            cold: if self.in_memory_cold {
                ColdStoreConfig::InMemory
            } else {
                ColdStoreConfig::LocalDir(None)
            },
        })
    }
}
