//! Flags of `flarego server` that bound what clients may ask: input
//! limits, rate limits and query budgets.

use super::{duration, layered, size};
use crate::config_file::ServerFile;
use clap::Args;
use flarego_ingest::Limits;
use flarego_ingest::ratelimit::RateLimits;
use flarego_query::QueryConfig;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Largest request body accepted, as sent [default: 32MiB].
    #[arg(long, env = "FLAREGO_MAX_BODY_BYTES")]
    max_body_bytes: Option<String>,
    /// Largest body or profile after gzip decompression [default: 256MiB].
    #[arg(long, env = "FLAREGO_MAX_DECOMPRESSED_BYTES")]
    max_decompressed_bytes: Option<String>,
    /// Memory decoding one request may take, estimated before it is
    /// allocated; over it: 413 [default: 512MiB].
    #[arg(long, env = "FLAREGO_MAX_REQUEST_MEMORY_BYTES")]
    max_request_memory_bytes: Option<String>,
    /// Memory all requests being decoded may take together; over it: 503
    /// with Retry-After [default: 2GiB].
    #[arg(long, env = "FLAREGO_INGEST_MEMORY_BYTES")]
    ingest_memory_bytes: Option<String>,
    /// Deepest stack accepted, in frames [default: 4096].
    #[arg(long, env = "FLAREGO_MAX_STACK_DEPTH")]
    max_stack_depth: Option<usize>,
    /// Most samples in one request [default: 4000000].
    #[arg(long, env = "FLAREGO_MAX_SAMPLES")]
    max_samples: Option<usize>,
    /// Most labels on one series [default: 64].
    #[arg(long, env = "FLAREGO_MAX_LABELS")]
    max_labels: Option<usize>,
    /// Longest label name, in bytes [default: 256].
    #[arg(long, env = "FLAREGO_MAX_LABEL_NAME_BYTES")]
    max_label_name_bytes: Option<usize>,
    /// Longest label value, service or instance, in bytes [default: 4096].
    #[arg(long, env = "FLAREGO_MAX_LABEL_VALUE_BYTES")]
    max_label_value_bytes: Option<usize>,
    /// Profiles dated further ahead of the server's clock are refused [default: 1h].
    #[arg(long, env = "FLAREGO_MAX_TIME_AHEAD")]
    max_time_ahead: Option<String>,
    /// Profiles dated further back are refused; older than the hot
    /// retention they go straight to Parquet [default: 7d].
    #[arg(long, env = "FLAREGO_MAX_TIME_BEHIND")]
    max_time_behind: Option<String>,
    /// Per tenant ingest bytes per second, 0 = off [default: 256MiB].
    #[arg(long, env = "FLAREGO_INGEST_BYTES_PER_SEC")]
    ingest_bytes_per_sec: Option<String>,
    /// Per tenant ingest requests per second, 0 = off [default: 20000].
    #[arg(long, env = "FLAREGO_INGEST_REQUESTS_PER_SEC")]
    ingest_requests_per_sec: Option<u64>,
    /// Per tenant queries per second, 0 = off [default: 200].
    #[arg(long, env = "FLAREGO_QUERIES_PER_SEC")]
    queries_per_sec: Option<u64>,
    /// Per tenant queries running at once, 0 = off [default: 8].
    #[arg(long, env = "FLAREGO_MAX_CONCURRENT_QUERIES")]
    max_concurrent_queries: Option<usize>,
    /// Per token requests per second (auth on), 0 = off [default: 5000].
    #[arg(long, env = "FLAREGO_TOKEN_REQUESTS_PER_SEC")]
    token_requests_per_sec: Option<u64>,
    /// Longest a query may run [default: 60s].
    #[arg(long, env = "FLAREGO_QUERY_TIMEOUT")]
    query_timeout: Option<String>,
    /// Memory one query may use, its result included; 0 = off [default: 2GiB].
    #[arg(long, env = "FLAREGO_QUERY_MEMORY_BYTES")]
    query_memory_bytes: Option<String>,
    /// Most rows one query may return; 0 = off [default: 1000000].
    #[arg(long, env = "FLAREGO_MAX_RESULT_ROWS")]
    max_result_rows: Option<usize>,
    /// Whether aggregates read rollups where those answer exactly
    /// (`--query-rollups false` reads raw rows only) [default: true].
    #[arg(long, env = "FLAREGO_QUERY_ROLLUPS")]
    query_rollups: Option<bool>,
}

/// What [`LimitArgs`] resolve to.
pub struct Resolved {
    pub limits: Limits,
    pub rate_limits: RateLimits,
    pub query: QueryConfig,
    pub query_timeout: Duration,
}

impl LimitArgs {
    pub fn resolve(self, file: &ServerFile) -> anyhow::Result<Resolved> {
        let ld = Limits::default();
        let bytes = |name, flag: Option<String>, key: &Option<String>, default| {
            layered(flag, key).map_or(Ok(default), |v| size(name, &v))
        };
        let dur = |name, flag: Option<String>, key: &Option<String>, default| {
            layered(flag, key).map_or(Ok(default), |v| duration(name, &v))
        };
        let limits = Limits {
            max_body_bytes: bytes(
                "max-body-bytes",
                self.max_body_bytes,
                &file.max_body_bytes,
                ld.max_body_bytes,
            )?,
            max_decompressed_bytes: bytes(
                "max-decompressed-bytes",
                self.max_decompressed_bytes,
                &file.max_decompressed_bytes,
                ld.max_decompressed_bytes,
            )?,
            max_request_memory_bytes: bytes(
                "max-request-memory-bytes",
                self.max_request_memory_bytes,
                &file.max_request_memory_bytes,
                ld.max_request_memory_bytes,
            )?,
            ingest_memory_bytes: bytes(
                "ingest-memory-bytes",
                self.ingest_memory_bytes,
                &file.ingest_memory_bytes,
                ld.ingest_memory_bytes,
            )?,
            max_stack_depth: layered(self.max_stack_depth, &file.max_stack_depth)
                .unwrap_or(ld.max_stack_depth),
            max_samples: layered(self.max_samples, &file.max_samples).unwrap_or(ld.max_samples),
            max_labels: layered(self.max_labels, &file.max_labels).unwrap_or(ld.max_labels),
            max_label_name_bytes: layered(self.max_label_name_bytes, &file.max_label_name_bytes)
                .unwrap_or(ld.max_label_name_bytes),
            max_label_value_bytes: layered(self.max_label_value_bytes, &file.max_label_value_bytes)
                .unwrap_or(ld.max_label_value_bytes),
            max_time_ahead: dur(
                "max-time-ahead",
                self.max_time_ahead,
                &file.max_time_ahead,
                ld.max_time_ahead,
            )?,
            max_time_behind: dur(
                "max-time-behind",
                self.max_time_behind,
                &file.max_time_behind,
                ld.max_time_behind,
            )?,
        };
        let rd = RateLimits::default();
        let rate_limits = RateLimits {
            ingest_bytes_per_sec: bytes(
                "ingest-bytes-per-sec",
                self.ingest_bytes_per_sec,
                &file.ingest_bytes_per_sec,
                rd.ingest_bytes_per_sec as usize,
            )? as u64,
            ingest_requests_per_sec: layered(
                self.ingest_requests_per_sec,
                &file.ingest_requests_per_sec,
            )
            .unwrap_or(rd.ingest_requests_per_sec),
            queries_per_sec: layered(self.queries_per_sec, &file.queries_per_sec)
                .unwrap_or(rd.queries_per_sec),
            max_concurrent_queries: layered(
                self.max_concurrent_queries,
                &file.max_concurrent_queries,
            )
            .unwrap_or(rd.max_concurrent_queries),
            token_requests_per_sec: layered(
                self.token_requests_per_sec,
                &file.token_requests_per_sec,
            )
            .unwrap_or(rd.token_requests_per_sec),
        };
        let mut query = QueryConfig::default();
        if let Some(v) = layered(self.query_memory_bytes, &file.query_memory_bytes) {
            query.memory_limit_bytes = size("query-memory-bytes", &v)?;
        }
        if let Some(v) = layered(self.max_result_rows, &file.max_result_rows) {
            query.max_result_rows = v;
        }
        if let Some(v) = layered(self.query_rollups, &file.query_rollups) {
            query.rollups = v;
        }
        let query_timeout = dur(
            "query-timeout",
            self.query_timeout,
            &file.query_timeout,
            Duration::from_secs(60),
        )?;
        Ok(Resolved {
            limits,
            rate_limits,
            query,
            query_timeout,
        })
    }
}
