//! `flarego agent`: flags → [`AgentConfig`], then run until Ctrl-C.

use crate::config_file::ConfigFile;
use crate::signal::shutdown_signal;
use crate::size::parse_size;
use anyhow::{Context, bail};
use clap::Args;
use flarego_agent::run::{AgentConfig, run};
use flarego_agent::upload::{Transport, UploadConfig};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// Flags of `flarego agent`. Each may also come from its environment
/// variable or from the `[agent]` table of `--config`; flags win over
/// the environment, which wins over the file.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// TOML config file layered under flags and environment variables.
    #[arg(long, env = "FLAREGO_CONFIG")]
    config: Option<PathBuf>,
    /// Server to send to: its gRPC address, or its HTTP address with
    /// `--transport websocket` [default: http://127.0.0.1:4041].
    #[arg(long, env = "FLAREGO_AGENT_SERVER")]
    server: Option<String>,
    /// `grpc` or `websocket` (for proxies that only pass HTTP/1.1) [default: grpc].
    #[arg(long, env = "FLAREGO_AGENT_TRANSPORT")]
    transport: Option<String>,
    /// Name of the profiled service (the `service` column).
    #[arg(long, env = "FLAREGO_AGENT_SERVICE")]
    service: Option<String>,
    /// Instance name (the `instance` column) [default: this host's name].
    #[arg(long, env = "FLAREGO_AGENT_INSTANCE")]
    instance: Option<String>,
    /// Base URL of the service's net/http/pprof, e.g. http://127.0.0.1:6060.
    #[arg(long, env = "FLAREGO_AGENT_PPROF_URL")]
    pprof_url: Option<String>,
    /// pprof sources to scrape, comma-separated: cpu, goroutine, heap,
    /// allocs, block, mutex, memstats [default: all].
    #[arg(long, env = "FLAREGO_AGENT_PPROF_PROFILES")]
    pprof_profiles: Option<String>,
    /// Sample this process with perf (any language; frame pointers needed).
    #[arg(long, env = "FLAREGO_AGENT_PID")]
    pid: Option<u32>,
    /// perf sampling rate, 1-10000 Hz [default: 100].
    #[arg(long, env = "FLAREGO_AGENT_HZ")]
    hz: Option<u32>,
    /// Bearer token sent with every stream.
    #[arg(long, env = "FLAREGO_AGENT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Tenant (sent as X-Scope-OrgID) [default: the server's default].
    #[arg(long, env = "FLAREGO_AGENT_TENANT")]
    tenant: Option<String>,
    /// Window length, whole seconds, e.g. 10s [default: 10s].
    #[arg(long, env = "FLAREGO_AGENT_WINDOW")]
    window: Option<String>,
    /// Label added to every row, `key=value`; repeatable (env: comma-separated).
    #[arg(long = "label", env = "FLAREGO_AGENT_LABELS", value_delimiter = ',')]
    labels: Vec<String>,
    /// Agent name; each run adds a random suffix [default: SERVICE@INSTANCE].
    #[arg(long, env = "FLAREGO_AGENT_ID")]
    agent_id: Option<String>,
    /// Unsent chunks kept while the server is away; oldest dropped first [default: 16MiB].
    #[arg(long, env = "FLAREGO_AGENT_BUFFER_SIZE")]
    buffer_size: Option<String>,
    /// Also keep unsent chunks in this directory, so a restarted agent
    /// delivers them (it keeps its agent id and sequence) [default: memory only].
    #[arg(long, env = "FLAREGO_AGENT_BUFFER_DIR")]
    buffer_dir: Option<PathBuf>,
    /// Timeout of one scrape [default: window + 10s].
    #[arg(long, env = "FLAREGO_AGENT_SCRAPE_TIMEOUT")]
    scrape_timeout: Option<String>,
    /// Largest scraped body accepted [default: 64MiB].
    #[arg(long, env = "FLAREGO_AGENT_MAX_SCRAPE_BYTES")]
    max_scrape_bytes: Option<String>,
    /// First reconnect delay; doubles per failure, with jitter [default: 500ms].
    #[arg(long, env = "FLAREGO_AGENT_BACKOFF_INITIAL")]
    backoff_initial: Option<String>,
    /// Longest reconnect delay [default: 30s].
    #[arg(long, env = "FLAREGO_AGENT_BACKOFF_MAX")]
    backoff_max: Option<String>,
    /// After Ctrl-C, how long to keep delivering queued chunks [default: 5s].
    #[arg(long, env = "FLAREGO_AGENT_DRAIN_TIMEOUT")]
    drain_timeout: Option<String>,
    /// CA certificate (PEM) to verify an https:// server with, instead of the system roots.
    #[arg(long, env = "FLAREGO_AGENT_CA_CERT")]
    ca_cert: Option<PathBuf>,
    /// Client certificate (PEM), for servers that require one (mutual TLS).
    #[arg(long, env = "FLAREGO_AGENT_CLIENT_CERT")]
    client_cert: Option<PathBuf>,
    /// Key of the client certificate (PEM).
    #[arg(long, env = "FLAREGO_AGENT_CLIENT_KEY")]
    client_key: Option<PathBuf>,
    /// Stop after this many windows [default: run until stopped].
    #[arg(long, env = "FLAREGO_AGENT_WINDOWS")]
    windows: Option<u64>,
}

fn duration(name: &str, v: &str) -> anyhow::Result<Duration> {
    humantime::parse_duration(v).with_context(|| format!("--{name} {v:?}"))
}

fn read_file(flag: &str, path: Option<PathBuf>) -> anyhow::Result<Option<Vec<u8>>> {
    path.map(|p| std::fs::read(&p).with_context(|| format!("--{flag} {}", p.display())))
        .transpose()
}

/// glibc gives each thread that allocates its own malloc arena, up to
/// eight per core, and memory freed in one arena is not reused by
/// another: a long-running process with many threads (runtime workers,
/// blocking sections, query threads, merges) grows as each arena keeps
/// its own high-water mark. The agent has few threads and little to
/// allocate, so one arena is plenty; the server gets one per core.
pub fn limit_malloc_arenas(arenas: i32) {
    // SAFETY: mallopt only sets an allocator parameter; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

/// This machine's host name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

impl AgentArgs {
    pub fn into_config(self) -> anyhow::Result<AgentConfig> {
        let file = match &self.config {
            Some(p) => ConfigFile::load(p)?.agent,
            None => Default::default(),
        };
        let Some(service) = self.service.or(file.service) else {
            bail!("--service is required: the name of the profiled service");
        };
        let window = duration(
            "window",
            &self.window.or(file.window).unwrap_or_else(|| "10s".into()),
        )?;
        if window.subsec_nanos() != 0 || window.as_secs() == 0 {
            bail!("--window {window:?}: windows are whole seconds, at least 1s");
        }
        let mut labels = HashMap::new();
        for (k, v) in file.labels.unwrap_or_default() {
            labels.insert(k, v);
        }
        for l in self.labels {
            let Some((k, v)) = l.split_once('=') else {
                bail!("--label {l:?}: expected key=value");
            };
            labels.insert(k.trim().to_string(), v.trim().to_string());
        }
        let instance = self.instance.or(file.instance).unwrap_or_else(hostname);
        let size = |name: &str, v: Option<String>, d: &str| -> anyhow::Result<usize> {
            parse_size(v.as_deref().unwrap_or(d)).map_err(|e| anyhow::anyhow!("--{name}: {e}"))
        };
        let transport: Transport = self
            .transport
            .or(file.transport)
            .unwrap_or_else(|| "grpc".into())
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--transport: {e}"))?;
        Ok(AgentConfig {
            upload: UploadConfig {
                server: self
                    .server
                    .or(file.server)
                    .unwrap_or_else(|| "http://127.0.0.1:4041".into()),
                transport,
                token: self.token.or(file.token),
                tenant: self.tenant.or(file.tenant),
                backoff_initial: duration(
                    "backoff-initial",
                    &self
                        .backoff_initial
                        .or(file.backoff_initial)
                        .unwrap_or_else(|| "500ms".into()),
                )?,
                backoff_max: duration(
                    "backoff-max",
                    &self
                        .backoff_max
                        .or(file.backoff_max)
                        .unwrap_or_else(|| "30s".into()),
                )?,
                max_message_bytes: 16 << 20,
                ca_cert_pem: read_file(
                    "ca-cert",
                    self.ca_cert.or(file.ca_cert.map(PathBuf::from)),
                )?,
                client_identity: match (
                    read_file(
                        "client-cert",
                        self.client_cert.or(file.client_cert.map(PathBuf::from)),
                    )?,
                    read_file(
                        "client-key",
                        self.client_key.or(file.client_key.map(PathBuf::from)),
                    )?,
                ) {
                    (Some(c), Some(k)) => Some((c, k)),
                    (None, None) => None,
                    _ => bail!("--client-cert and --client-key go together"),
                },
            },
            agent_name: self
                .agent_id
                .or(file.agent_id)
                .unwrap_or_else(|| format!("{service}@{instance}")),
            service,
            instance,
            labels,
            window,
            pprof_url: self.pprof_url.or(file.pprof_url),
            pprof_sources: match self.pprof_profiles.or(file.pprof_profiles) {
                Some(v) => v
                    .parse()
                    .map_err(|e: String| anyhow::anyhow!("--pprof-profiles: {e}"))?,
                None => Default::default(),
            },
            pid: self.pid.or(file.pid),
            hz: self.hz.or(file.hz).unwrap_or(100),
            buffer_bytes: size(
                "buffer-size",
                self.buffer_size.or(file.buffer_size),
                "16MiB",
            )?,
            buffer_dir: self.buffer_dir.or(file.buffer_dir.map(PathBuf::from)),
            scrape_timeout: match self.scrape_timeout.or(file.scrape_timeout) {
                Some(v) => duration("scrape-timeout", &v)?,
                None => window + Duration::from_secs(10),
            },
            max_scrape_bytes: size(
                "max-scrape-bytes",
                self.max_scrape_bytes.or(file.max_scrape_bytes),
                "64MiB",
            )?,
            drain_timeout: duration(
                "drain-timeout",
                &self
                    .drain_timeout
                    .or(file.drain_timeout)
                    .unwrap_or_else(|| "5s".into()),
            )?,
            max_windows: self.windows.or(file.windows),
        })
    }
}

pub async fn run_agent(args: AgentArgs) -> anyhow::Result<()> {
    let config = args.into_config()?;
    let report = run(config, shutdown_signal()).await?;
    println!(
        "windows {} delivered {} dropped {} refused {} undelivered {}",
        report.windows,
        report.outbox.delivered,
        report.outbox.dropped,
        report.outbox.refused,
        report.outbox.queued
    );
    Ok(())
}
