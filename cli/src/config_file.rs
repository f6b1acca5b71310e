//! The optional TOML config file (`--config`), layered under flags and
//! environment variables. Keys are the long flag names with `_` for `-`;
//! see `config/flarego.example.toml`.

use anyhow::Context;
use serde::Deserialize;
use std::path::Path;

/// Keys of the `[server]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    pub data_dir: Option<String>,
    pub retention: Option<String>,
    pub max_unpersisted_bytes: Option<String>,
    pub max_wal_disk_bytes: Option<String>,
    /// Tenant → how long its data is kept (overrides `retention`).
    pub retention_per_tenant: Option<std::collections::BTreeMap<String, String>>,
    /// How long rollups are kept (`--rollup-retention`).
    pub rollup_retention: Option<String>,
    /// How long replaced files stay before deletion (`--delete-grace`).
    pub delete_grace: Option<String>,
    pub object_store: Option<String>,
    pub node_id: Option<String>,
    pub store_request_timeout: Option<String>,
    pub store_retry_timeout: Option<String>,
    pub store_max_retries: Option<usize>,
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<String>,
    pub store_allow_http: Option<bool>,
    pub gcs_service_account: Option<String>,
    pub gcs_base_url: Option<String>,
    pub http_addr: Option<String>,
    pub grpc_addr: Option<String>,
    pub window: Option<String>,
    pub hot_retention: Option<String>,
    pub hot_max_bytes: Option<String>,
    pub wal_segment_bytes: Option<String>,
    pub wal_max_bytes: Option<String>,
    pub stack_cache_bytes: Option<String>,
    pub compaction_interval: Option<String>,
    pub sequence_horizon: Option<String>,
    pub max_body_bytes: Option<String>,
    pub max_decompressed_bytes: Option<String>,
    pub max_stack_depth: Option<usize>,
    pub max_samples: Option<usize>,
    pub max_labels: Option<usize>,
    pub max_label_name_bytes: Option<usize>,
    pub max_label_value_bytes: Option<usize>,
    pub max_request_memory_bytes: Option<String>,
    pub ingest_memory_bytes: Option<String>,
    pub max_time_ahead: Option<String>,
    pub max_time_behind: Option<String>,
    pub auth: Option<String>,
    pub jwt_hs256_secret_file: Option<String>,
    pub jwt_public_key: Option<String>,
    pub jwks_file: Option<String>,
    pub jwt_revoked_file: Option<String>,
    pub jwt_issuer: Option<String>,
    pub jwt_audience: Option<String>,
    pub jwt_leeway: Option<String>,
    pub ingest_bytes_per_sec: Option<String>,
    pub ingest_requests_per_sec: Option<u64>,
    pub queries_per_sec: Option<u64>,
    pub max_concurrent_queries: Option<usize>,
    pub token_requests_per_sec: Option<u64>,
    pub query_timeout: Option<String>,
    pub query_memory_bytes: Option<String>,
    pub max_result_rows: Option<usize>,
    pub query_rollups: Option<bool>,
    /// The alert rule file (`--alert-rules`).
    pub alert_rules: Option<String>,
    pub alert_shared_scans: Option<bool>,
    pub alert_query_timeout: Option<String>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub tls_client_ca: Option<String>,
    pub header_timeout: Option<String>,
    pub body_timeout: Option<String>,
    pub tls_handshake_timeout: Option<String>,
    pub max_connections: Option<usize>,
    pub max_live_subscribers: Option<usize>,
    pub live_buffer_bytes: Option<String>,
    pub allowed_hosts: Option<Vec<String>>,
    pub allowed_origins: Option<Vec<String>>,
}

/// Keys of the `[agent]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentFile {
    pub server: Option<String>,
    pub transport: Option<String>,
    pub service: Option<String>,
    pub instance: Option<String>,
    pub pprof_url: Option<String>,
    pub pprof_profiles: Option<String>,
    pub pid: Option<u32>,
    pub hz: Option<u32>,
    pub token: Option<String>,
    pub tenant: Option<String>,
    pub window: Option<String>,
    pub labels: Option<std::collections::BTreeMap<String, String>>,
    pub agent_id: Option<String>,
    pub buffer_size: Option<String>,
    pub buffer_dir: Option<String>,
    pub scrape_timeout: Option<String>,
    pub max_scrape_bytes: Option<String>,
    pub backoff_initial: Option<String>,
    pub backoff_max: Option<String>,
    pub drain_timeout: Option<String>,
    pub windows: Option<u64>,
    pub ca_cert: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
}

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub server: ServerFile,
    #[serde(default)]
    pub agent: AgentFile,
}

impl ConfigFile {
    pub fn load(path: &Path) -> anyhow::Result<ConfigFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shipped_example_parses() {
        let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
        let path = manifest_dir.join("../config/flarego.example.toml");
        let f = super::ConfigFile::load(&path).unwrap();
        assert_eq!(f.server.http_addr.as_deref(), Some("127.0.0.1:4040"));
        assert_eq!(f.server.max_stack_depth, Some(4096));
        assert_eq!(f.agent.hz, Some(100));
        assert_eq!(f.agent.window.as_deref(), Some("10s"));
    }
}
