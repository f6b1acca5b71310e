//! Flags of `flarego server` about where and how data is kept.

use super::{duration, layered, size};
use crate::config_file::ServerFile;
use clap::Args;
use flarego_storage::{ColdStoreConfig, Retention, StorageConfig, StoreOptions, StoreUrl};
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
    /// Writes get 503 while windows not yet in the object store hold more
    /// than this in memory (during an outage) [default: 4GiB].
    #[arg(long, env = "FLAREGO_MAX_UNPERSISTED_BYTES")]
    max_unpersisted_bytes: Option<String>,
    /// Writes get 503 while the WAL on disk is larger than this (during an
    /// outage no segment can go) [default: 16GiB].
    #[arg(long, env = "FLAREGO_MAX_WAL_DISK_BYTES")]
    max_wal_disk_bytes: Option<String>,
    /// How long profiles and metrics are kept, e.g. 30d; per-tenant
    /// overrides in the config file's `retention_per_tenant` [default:
    /// for ever].
    #[arg(long, env = "FLAREGO_RETENTION")]
    retention: Option<String>,
    /// How long rollups (samples summed per minute and per hour) are
    /// kept, e.g. 365d; at least as long as raw profiles [default: as
    /// long as raw profiles].
    #[arg(long, env = "FLAREGO_ROLLUP_RETENTION")]
    rollup_retention: Option<String>,
    /// How long files a merge or retention replaced stay in the store
    /// before they are deleted (and at least until no query here reads
    /// them), for readers outside this server [default: 2m].
    #[arg(long, env = "FLAREGO_DELETE_GRACE")]
    delete_grace: Option<String>,
    /// Keep Parquet files in memory instead of on disk (tests only; lost on exit).
    #[arg(long, env = "FLAREGO_IN_MEMORY_COLD", default_value_t = false)]
    in_memory_cold: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Where Parquet, the manifest and snapshots go, and how to reach it.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Object store for Parquet, the manifest and snapshots: file:///path,
    /// s3://bucket/prefix or gs://bucket/prefix [default: <data-dir>/parquet].
    /// Credentials come from the usual environment variables (AWS_*,
    /// GOOGLE_*). The WAL stays in --data-dir.
    #[arg(long, env = "FLAREGO_OBJECT_STORE")]
    object_store: Option<String>,
    /// This server's id in object paths and its manifest log; each server
    /// sharing a store needs its own [default: made on first start and
    /// kept in <data-dir>/NODE_ID].
    #[arg(long, env = "FLAREGO_NODE_ID")]
    node_id: Option<String>,
    /// Longest one request to the object store may take [default: 30s].
    #[arg(long, env = "FLAREGO_STORE_REQUEST_TIMEOUT")]
    store_request_timeout: Option<String>,
    /// Retries of a failed store request, with backoff and jitter [default: 5].
    #[arg(long, env = "FLAREGO_STORE_MAX_RETRIES")]
    store_max_retries: Option<usize>,
    /// No retry starts this long after a request's first attempt [default: 60s].
    #[arg(long, env = "FLAREGO_STORE_RETRY_TIMEOUT")]
    store_retry_timeout: Option<String>,
    /// S3 endpoint for MinIO, moto and other S3-compatible servers (or AWS_ENDPOINT).
    #[arg(long, env = "FLAREGO_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// S3 region (or AWS_REGION) [default: us-east-1].
    #[arg(long, env = "FLAREGO_S3_REGION")]
    s3_region: Option<String>,
    /// S3 access key id (or AWS_ACCESS_KEY_ID).
    #[arg(long, env = "FLAREGO_S3_ACCESS_KEY_ID", hide_env_values = true)]
    s3_access_key_id: Option<String>,
    /// S3 secret access key (or AWS_SECRET_ACCESS_KEY).
    #[arg(long, env = "FLAREGO_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    s3_secret_access_key: Option<String>,
    /// Allow plain HTTP to the store's endpoint (or AWS_ALLOW_HTTP=true).
    #[arg(long, env = "FLAREGO_STORE_ALLOW_HTTP", default_value_t = false)]
    store_allow_http: bool,
    /// Path of a GCS service account key (or GOOGLE_SERVICE_ACCOUNT).
    #[arg(long, env = "FLAREGO_GCS_SERVICE_ACCOUNT")]
    gcs_service_account: Option<String>,
    /// GCS base URL, for an emulator (or GOOGLE_BASE_URL).
    #[arg(long, env = "FLAREGO_GCS_BASE_URL")]
    gcs_base_url: Option<String>,
}

impl StoreArgs {
    fn resolve(
        self,
        file: &ServerFile,
        in_memory: bool,
    ) -> anyhow::Result<(ColdStoreConfig, StoreOptions, Option<String>)> {
        let d = StoreOptions::default();
        let cold = match layered(self.object_store, &file.object_store) {
            _ if in_memory => ColdStoreConfig::InMemory,
            Some(url) => {
                StoreUrl::config_of(&url).map_err(|e| anyhow::anyhow!("--object-store: {e}"))?
            }
            None => ColdStoreConfig::LocalDir(None),
        };
        let dur = |name, flag: Option<String>, key: &Option<String>, default| {
            layered(flag, key).map_or(Ok(default), |v| duration(name, &v))
        };
        let options = StoreOptions {
            request_timeout: dur(
                "store-request-timeout",
                self.store_request_timeout,
                &file.store_request_timeout,
                d.request_timeout,
            )?,
            retry_timeout: dur(
                "store-retry-timeout",
                self.store_retry_timeout,
                &file.store_retry_timeout,
                d.retry_timeout,
            )?,
            max_retries: layered(self.store_max_retries, &file.store_max_retries)
                .unwrap_or(d.max_retries),
            s3_endpoint: layered(self.s3_endpoint, &file.s3_endpoint),
            s3_region: layered(self.s3_region, &file.s3_region),
            s3_access_key_id: layered(self.s3_access_key_id, &file.s3_access_key_id),
            s3_secret_access_key: layered(self.s3_secret_access_key, &file.s3_secret_access_key),
            allow_http: self.store_allow_http || file.store_allow_http.unwrap_or(false),
            gcs_service_account: layered(self.gcs_service_account, &file.gcs_service_account),
            gcs_base_url: layered(self.gcs_base_url, &file.gcs_base_url),
            ..d
        };
        let node_id = layered(self.node_id, &file.node_id);
        if let Some(id) = &node_id {
            flarego_storage::paths::check_node_id(id)
                .map_err(|e| anyhow::anyhow!("--node-id: {e}"))?;
        }
        Ok((cold, options, node_id))
    }
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
        let (cold, store, node_id) = self.store.resolve(file, self.in_memory_cold)?;
        let retention = Retention {
            default: layered(self.retention, &file.retention)
                .map(|v| duration("retention", &v))
                .transpose()?,
            per_tenant: file
                .retention_per_tenant
                .iter()
                .flatten()
                .map(|(tenant, v)| {
                    duration(&format!("retention_per_tenant.{tenant}"), v)
                        .map(|d| (tenant.clone(), d))
                })
                .collect::<anyhow::Result<_>>()?,
            rollups: layered(self.rollup_retention, &file.rollup_retention)
                .map(|v| duration("rollup-retention", &v))
                .transpose()?,
        };
        if let (Some(rollups), Some(raw)) = (retention.rollups, retention.default)
            && rollups < raw
        {
            anyhow::bail!(
                "--rollup-retention {} is shorter than --retention {}: rollups are kept at least as long as raw profiles",
                humantime::format_duration(rollups),
                humantime::format_duration(raw)
            );
        }
        Ok(StorageConfig {
            retention,
            // Zero is allowed: replaced files go once no query reads them.
            delete_grace: layered(self.delete_grace, &file.delete_grace)
                .map(|v| {
                    humantime::parse_duration(&v)
                        .map_err(|e| anyhow::anyhow!("--delete-grace {v:?}: {e}"))
                })
                .transpose()?
                .unwrap_or(d.delete_grace),
            max_unpersisted_bytes: bytes(
                "max-unpersisted-bytes",
                self.max_unpersisted_bytes,
                &file.max_unpersisted_bytes,
                d.max_unpersisted_bytes,
            )?,
            max_wal_disk_bytes: bytes(
                "max-wal-disk-bytes",
                self.max_wal_disk_bytes,
                &file.max_wal_disk_bytes,
                d.max_wal_disk_bytes as usize,
            )? as u64,
            cold,
            store,
            node_id,
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
        })
    }
}
