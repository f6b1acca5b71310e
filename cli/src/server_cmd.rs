//! `flarego server`: flags → [`ServerConfig`], then run until Ctrl-C.

use crate::config_file::{ConfigFile, ServerFile};
use crate::size::parse_size;
use anyhow::{Context, bail};
use clap::Args;
use flarego_ingest::auth::{AuthConfig, JwtConfig, Verifier};
use flarego_ingest::ratelimit::RateLimits;
use flarego_ingest::tls::TlsConfig;
use flarego_ingest::{Limits, ServerConfig};
use flarego_storage::{ColdStoreConfig, StorageConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Flags of `flarego server`. Each may also come from its environment
/// variable or from the `[server]` table of `--config`; flags win over
/// the environment, which wins over the file.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// TOML config file layered under flags and environment variables.
    #[arg(long, env = "FLAREGO_CONFIG")]
    config: Option<PathBuf>,
    /// Directory of the WAL and the Parquet files [default: ./flarego-data].
    #[arg(long, env = "FLAREGO_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// HTTP listen address: ingest, SQL API, metrics [default: 127.0.0.1:4040].
    #[arg(long, env = "FLAREGO_HTTP_ADDR")]
    http_addr: Option<String>,
    /// gRPC listen address for agents [default: 127.0.0.1:4041].
    #[arg(long, env = "FLAREGO_GRPC_ADDR")]
    grpc_addr: Option<String>,
    /// Length of a time window, e.g. 10s [default: 10s].
    #[arg(long, env = "FLAREGO_WINDOW")]
    window: Option<String>,
    /// How long a closed window stays in memory before it is written to
    /// Parquet, e.g. 60s [default: 60s].
    #[arg(long, env = "FLAREGO_HOT_RETENTION")]
    hot_retention: Option<String>,
    /// Hot data above this size is written to Parquet early, e.g. 1GiB [default: 1GiB].
    #[arg(long, env = "FLAREGO_HOT_MAX_BYTES")]
    hot_max_bytes: Option<String>,
    /// Size at which a WAL segment is closed [default: 64MiB].
    #[arg(long, env = "FLAREGO_WAL_SEGMENT_BYTES")]
    wal_segment_bytes: Option<String>,
    /// How often the compactor looks for closed windows [default: 2s].
    #[arg(long, env = "FLAREGO_COMPACTION_INTERVAL")]
    compaction_interval: Option<String>,
    /// An agent silent this long is forgotten by resend detection, e.g. 7d [default: 7d].
    #[arg(long, env = "FLAREGO_SEQUENCE_HORIZON")]
    sequence_horizon: Option<String>,
    /// Keep Parquet files in memory instead of on disk (tests only; lost on exit).
    #[arg(long, env = "FLAREGO_IN_MEMORY_COLD", default_value_t = false)]
    in_memory_cold: bool,
    /// Largest request body accepted, as sent [default: 32MiB].
    #[arg(long, env = "FLAREGO_MAX_BODY_BYTES")]
    max_body_bytes: Option<String>,
    /// Largest body or profile after gzip decompression [default: 256MiB].
    #[arg(long, env = "FLAREGO_MAX_DECOMPRESSED_BYTES")]
    max_decompressed_bytes: Option<String>,
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
    /// `none` (loopback only) or `jwt` [default: none].
    #[arg(long, env = "FLAREGO_AUTH")]
    auth: Option<String>,
    /// HS256 secret (at least 32 bytes), the key `flarego token create` signs with.
    #[arg(long, env = "FLAREGO_JWT_HS256_SECRET_FILE")]
    jwt_hs256_secret_file: Option<PathBuf>,
    /// RS256 or ES256 public key, PEM.
    #[arg(long, env = "FLAREGO_JWT_PUBLIC_KEY")]
    jwt_public_key: Option<PathBuf>,
    /// JWKS file (`{"keys": [...]}`) of RS256/ES256 public keys.
    #[arg(long, env = "FLAREGO_JWKS_FILE")]
    jwks_file: Option<PathBuf>,
    /// File of revoked token ids (`jti`), one per line; read again when it
    /// changes.
    #[arg(long, env = "FLAREGO_JWT_REVOKED_FILE")]
    jwt_revoked_file: Option<PathBuf>,
    /// Required `iss` claim [default: none].
    #[arg(long, env = "FLAREGO_JWT_ISSUER")]
    jwt_issuer: Option<String>,
    /// Required `aud` claim [default: none].
    #[arg(long, env = "FLAREGO_JWT_AUDIENCE")]
    jwt_audience: Option<String>,
    /// Clock skew allowed on exp and nbf [default: 60s].
    #[arg(long, env = "FLAREGO_JWT_LEEWAY")]
    jwt_leeway: Option<String>,
    /// Allow a non-loopback address with auth off (anyone who can connect
    /// may read and write every tenant).
    #[arg(long, env = "FLAREGO_INSECURE_NO_AUTH", default_value_t = false)]
    insecure_no_auth: bool,
    /// Per tenant ingest bytes per second, 0 = off [default: 64MiB].
    #[arg(long, env = "FLAREGO_INGEST_BYTES_PER_SEC")]
    ingest_bytes_per_sec: Option<String>,
    /// Per tenant ingest requests per second, 0 = off [default: 1000].
    #[arg(long, env = "FLAREGO_INGEST_REQUESTS_PER_SEC")]
    ingest_requests_per_sec: Option<u64>,
    /// Per tenant queries per second, 0 = off [default: 50].
    #[arg(long, env = "FLAREGO_QUERIES_PER_SEC")]
    queries_per_sec: Option<u64>,
    /// Per tenant queries running at once, 0 = off [default: 8].
    #[arg(long, env = "FLAREGO_MAX_CONCURRENT_QUERIES")]
    max_concurrent_queries: Option<usize>,
    /// Per token requests per second, 0 = off [default: 500].
    #[arg(long, env = "FLAREGO_TOKEN_REQUESTS_PER_SEC")]
    token_requests_per_sec: Option<u64>,
    /// Longest a query may run [default: 60s].
    #[arg(long, env = "FLAREGO_QUERY_TIMEOUT")]
    query_timeout: Option<String>,
    /// Memory one query may use in sorts, joins, aggregations; 0 = off [default: 2GiB].
    #[arg(long, env = "FLAREGO_QUERY_MEMORY_BYTES")]
    query_memory_bytes: Option<String>,
    /// TLS certificate chain (PEM) for both listeners.
    #[arg(long, env = "FLAREGO_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "FLAREGO_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (PEM): mutual TLS.
    #[arg(long, env = "FLAREGO_TLS_CLIENT_CA")]
    tls_client_ca: Option<PathBuf>,
    /// Print the bound HTTP address as `listening on http://ADDR` on stdout.
    #[arg(long, env = "FLAREGO_PRINT_ADDR", default_value_t = false)]
    print_addr: bool,
}

fn duration(name: &str, v: &str) -> anyhow::Result<Duration> {
    let d = humantime::parse_duration(v).with_context(|| format!("--{name} {v:?}"))?;
    if d.is_zero() {
        bail!("--{name} must be greater than zero");
    }
    Ok(d)
}

fn size(name: &str, v: &str) -> anyhow::Result<usize> {
    parse_size(v).map_err(|e| anyhow::anyhow!("--{name}: {e}"))
}

impl ServerArgs {
    /// Resolves flags, environment and config file into a config.
    pub fn into_config(self) -> anyhow::Result<ServerConfig> {
        let file = match &self.config {
            Some(p) => ConfigFile::load(p)?.server,
            None => Default::default(),
        };
        let auth = self.auth_config(&file)?;
        let tls = self.tls_config(&file)?;
        let d = ServerConfig::default();
        let sd = StorageConfig::default();
        let ld = Limits::default();
        let http_addr = self.http_addr.or(file.http_addr).unwrap_or(d.http_addr);
        let grpc_addr = self.grpc_addr.or(file.grpc_addr).unwrap_or(d.grpc_addr);
        if !auth.is_on() && !self.insecure_no_auth {
            check_loopback("http-addr", &http_addr)?;
            check_loopback("grpc-addr", &grpc_addr)?;
        }
        let window = match self.window.or(file.window) {
            Some(v) => duration("window", &v)?,
            None => sd.window,
        };
        let storage = StorageConfig {
            data_dir: self
                .data_dir
                .or(file.data_dir.map(PathBuf::from))
                .unwrap_or(sd.data_dir),
            window,
            hot_retention: match self.hot_retention.or(file.hot_retention) {
                Some(v) => duration("hot-retention", &v)?,
                None => sd.hot_retention,
            },
            hot_max_bytes: match self.hot_max_bytes.or(file.hot_max_bytes) {
                Some(v) => size("hot-max-bytes", &v)?,
                None => sd.hot_max_bytes,
            },
            wal_segment_bytes: match self.wal_segment_bytes.or(file.wal_segment_bytes) {
                Some(v) => size("wal-segment-bytes", &v)? as u64,
                None => sd.wal_segment_bytes,
            },
            compaction_interval: match self.compaction_interval.or(file.compaction_interval) {
                Some(v) => duration("compaction-interval", &v)?,
                None => sd.compaction_interval,
            },
            sequence_horizon: match self.sequence_horizon.or(file.sequence_horizon) {
                Some(v) => duration("sequence-horizon", &v)?,
                None => sd.sequence_horizon,
            },
            cold: if self.in_memory_cold {
                ColdStoreConfig::InMemory
            } else {
                ColdStoreConfig::LocalDir(None)
            },
        };
        let limits = Limits {
            max_body_bytes: match self.max_body_bytes.or(file.max_body_bytes) {
                Some(v) => size("max-body-bytes", &v)?,
                None => ld.max_body_bytes,
            },
            max_decompressed_bytes: match self
                .max_decompressed_bytes
                .or(file.max_decompressed_bytes)
            {
                Some(v) => size("max-decompressed-bytes", &v)?,
                None => ld.max_decompressed_bytes,
            },
            max_stack_depth: self
                .max_stack_depth
                .or(file.max_stack_depth)
                .unwrap_or(ld.max_stack_depth),
            max_samples: self
                .max_samples
                .or(file.max_samples)
                .unwrap_or(ld.max_samples),
            max_labels: self.max_labels.or(file.max_labels).unwrap_or(ld.max_labels),
            max_label_name_bytes: self
                .max_label_name_bytes
                .or(file.max_label_name_bytes)
                .unwrap_or(ld.max_label_name_bytes),
            max_label_value_bytes: self
                .max_label_value_bytes
                .or(file.max_label_value_bytes)
                .unwrap_or(ld.max_label_value_bytes),
        };
        let rd = RateLimits::default();
        let rate_limits = RateLimits {
            ingest_bytes_per_sec: match self.ingest_bytes_per_sec.or(file.ingest_bytes_per_sec) {
                Some(v) => size("ingest-bytes-per-sec", &v)? as u64,
                None => rd.ingest_bytes_per_sec,
            },
            ingest_requests_per_sec: self
                .ingest_requests_per_sec
                .or(file.ingest_requests_per_sec)
                .unwrap_or(rd.ingest_requests_per_sec),
            queries_per_sec: self
                .queries_per_sec
                .or(file.queries_per_sec)
                .unwrap_or(rd.queries_per_sec),
            max_concurrent_queries: self
                .max_concurrent_queries
                .or(file.max_concurrent_queries)
                .unwrap_or(rd.max_concurrent_queries),
            token_requests_per_sec: self
                .token_requests_per_sec
                .or(file.token_requests_per_sec)
                .unwrap_or(rd.token_requests_per_sec),
        };
        let mut query = d.query;
        if let Some(v) = self.query_memory_bytes.or(file.query_memory_bytes) {
            query.memory_limit_bytes = size("query-memory-bytes", &v)?;
        }
        Ok(ServerConfig {
            http_addr,
            grpc_addr,
            storage,
            query,
            limits,
            auth,
            rate_limits,
            query_timeout: match self.query_timeout.or(file.query_timeout) {
                Some(v) => duration("query-timeout", &v)?,
                None => d.query_timeout,
            },
            tls,
        })
    }

    /// `--tls-cert`, `--tls-key`, `--tls-client-ca`.
    fn tls_config(&self, file: &ServerFile) -> anyhow::Result<Option<TlsConfig>> {
        let pick = |flag: &Option<PathBuf>, key: &Option<String>| {
            flag.clone().or(key.clone().map(PathBuf::from))
        };
        let read = |name: &str, p: PathBuf| {
            std::fs::read(&p).with_context(|| format!("--{name} {}", p.display()))
        };
        let cert = pick(&self.tls_cert, &file.tls_cert);
        let key = pick(&self.tls_key, &file.tls_key);
        let ca = pick(&self.tls_client_ca, &file.tls_client_ca);
        match (cert, key) {
            (None, None) => {
                if ca.is_some() {
                    bail!("--tls-client-ca needs --tls-cert and --tls-key");
                }
                Ok(None)
            }
            (Some(c), Some(k)) => Ok(Some(TlsConfig {
                cert_pem: read("tls-cert", c)?,
                key_pem: read("tls-key", k)?,
                client_ca_pem: ca.map(|p| read("tls-client-ca", p)).transpose()?,
            })),
            _ => bail!("--tls-cert and --tls-key go together"),
        }
    }

    /// `--auth` and the key files.
    fn auth_config(&self, file: &ServerFile) -> anyhow::Result<AuthConfig> {
        let mode = self
            .auth
            .clone()
            .or(file.auth.clone())
            .unwrap_or_else(|| "none".into());
        let read = |flag: &str,
                    p: &Option<PathBuf>,
                    f: &Option<String>|
         -> anyhow::Result<Option<Vec<u8>>> {
            match p.clone().or(f.clone().map(PathBuf::from)) {
                None => Ok(None),
                Some(path) => std::fs::read(&path)
                    .map(Some)
                    .with_context(|| format!("--{flag} {}", path.display())),
            }
        };
        match mode.as_str() {
            "none" => Ok(AuthConfig::None),
            "jwt" => {
                let secret = read(
                    "jwt-hs256-secret-file",
                    &self.jwt_hs256_secret_file,
                    &file.jwt_hs256_secret_file,
                )?;
                let jwt = JwtConfig {
                    hs256_secret: secret.map(|s| trim_secret(&s)),
                    public_key_pem: read(
                        "jwt-public-key",
                        &self.jwt_public_key,
                        &file.jwt_public_key,
                    )?,
                    jwks_json: read("jwks-file", &self.jwks_file, &file.jwks_file)?
                        .map(|b| String::from_utf8_lossy(&b).into_owned()),
                    issuer: self.jwt_issuer.clone().or(file.jwt_issuer.clone()),
                    audience: self.jwt_audience.clone().or(file.jwt_audience.clone()),
                    leeway_secs: match self.jwt_leeway.clone().or(file.jwt_leeway.clone()) {
                        Some(v) => humantime::parse_duration(&v)
                            .with_context(|| format!("--jwt-leeway {v:?}"))?
                            .as_secs(),
                        None => 60,
                    },
                    revoked_file: self
                        .jwt_revoked_file
                        .clone()
                        .or(file.jwt_revoked_file.clone().map(PathBuf::from)),
                };
                let verifier = Verifier::new(&jwt).context("--auth jwt")?;
                Ok(AuthConfig::Jwt(std::sync::Arc::new(verifier)))
            }
            other => bail!("--auth {other:?}: use none or jwt"),
        }
    }
}

/// A secret file's bytes without a trailing newline (editors add one).
pub fn trim_secret(s: &[u8]) -> Vec<u8> {
    let mut v = s.to_vec();
    while v.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        v.pop();
    }
    v
}

/// Without auth, only loopback addresses may be bound (unless
/// `--insecure-no-auth`).
fn check_loopback(flag: &str, addr: &str) -> anyhow::Result<()> {
    let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or(addr);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost"
        || addr
            .parse::<SocketAddr>()
            .map(|a| a.ip().is_loopback())
            .unwrap_or(false);
    if !loopback {
        bail!(
            "--{flag} {addr}: refusing to listen on a non-loopback address without authentication (use --auth jwt, or --insecure-no-auth)"
        );
    }
    Ok(())
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let print_addr = args.print_addr;
    let config = args.into_config()?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let mut server = flarego_ingest::start(config).await?;
    if print_addr {
        println!("listening on {scheme}://{}", server.http_addr);
        println!("grpc on {scheme}://{}", server.grpc_addr);
    }
    // Storage failing to open (say, an unreadable manifest) stops the server.
    tokio::select! {
        r = server.ready() => r?,
        _ = crate::signal::shutdown_signal() => {
            tracing::info!("shutting down");
            return Ok(());
        }
    }
    tokio::select! {
        _ = crate::signal::shutdown_signal() => {
            tracing::info!("shutting down");
        }
        _ = server.wait() => {}
    }
    Ok(())
}
