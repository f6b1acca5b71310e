//! `flarego server`: flags → [`ServerConfig`], then run until Ctrl-C (or
//! until storage fails, loudly).
//!
//! The flags come in groups, each resolving its part of the config:
//! [`storage_args`] (data directory, windows, WAL), [`limit_args`] (input
//! limits, rate limits, query budgets), [`net_args`] (addresses, TLS,
//! connections, browser policy) and [`auth_args`].

mod auth_args;
mod limit_args;
mod net_args;
mod storage_args;

pub use auth_args::trim_secret;
pub use storage_args::StorageArgs;

use crate::config_file::{ConfigFile, ServerFile};
use crate::size::parse_size;
use anyhow::{Context, bail};
use clap::Args;
use flarego_ingest::ServerConfig;
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
    #[command(flatten)]
    storage: storage_args::StorageArgs,
    #[command(flatten)]
    net: net_args::NetArgs,
    #[command(flatten)]
    limits: limit_args::LimitArgs,
    #[command(flatten)]
    auth: auth_args::AuthArgs,
    /// Allow a non-loopback address with auth off (anyone who can connect
    /// may read and write every tenant).
    #[arg(long, env = "FLAREGO_INSECURE_NO_AUTH", default_value_t = false)]
    insecure_no_auth: bool,
    /// Serve the web UI from this folder (a `ui/dist` being developed)
    /// instead of the copy built into the binary.
    #[arg(long, env = "FLAREGO_UI_DIR")]
    ui_dir: Option<PathBuf>,
    /// Alert rules (TOML: `[[rule]]`, `[[sink]]`); reloaded on SIGHUP and
    /// when the file changes. A file that does not load stops the start.
    #[arg(long, env = "FLAREGO_ALERT_RULES")]
    alert_rules: Option<PathBuf>,
    /// Rules reading the same selection share one query per evaluation
    /// (off: each rule runs its own; for comparison).
    #[arg(long, env = "FLAREGO_ALERT_SHARED_SCANS")]
    alert_shared_scans: Option<bool>,
    /// Longest one alert rule query may run. Default 30s.
    #[arg(long, env = "FLAREGO_ALERT_QUERY_TIMEOUT")]
    alert_query_timeout: Option<String>,
    /// Print the bound HTTP address as `listening on http://ADDR` on stdout.
    #[arg(long, env = "FLAREGO_PRINT_ADDR", default_value_t = false)]
    print_addr: bool,
}

/// A flag's value, else the config file's.
fn layered<T: Clone>(flag: Option<T>, key: &Option<T>) -> Option<T> {
    flag.or_else(|| key.clone())
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
        let file: ServerFile = match &self.config {
            Some(p) => ConfigFile::load(p)?.server,
            None => Default::default(),
        };
        let auth = self.auth.resolve(&file)?;
        let net = self.net.resolve(&file)?;
        if !auth.is_on() && !self.insecure_no_auth {
            check_loopback("http-addr", &net.http_addr)?;
            check_loopback("grpc-addr", &net.grpc_addr)?;
        }
        let limits = self.limits.resolve(&file)?;
        let storage = self.storage.resolve(&file)?;
        let mut alerts = flarego_ingest::AlertsConfig::new(storage.data_dir.join("alerts"));
        alerts.rules_file = layered(self.alert_rules, &file.alert_rules.map(PathBuf::from));
        if let Some(v) = layered(self.alert_shared_scans, &file.alert_shared_scans) {
            alerts.share_scans = v;
        }
        if let Some(v) = layered(self.alert_query_timeout, &file.alert_query_timeout) {
            alerts.query_timeout = duration("alert-query-timeout", &v)?;
        }
        Ok(ServerConfig {
            http_addr: net.http_addr,
            grpc_addr: net.grpc_addr,
            storage,
            query: limits.query,
            limits: limits.limits,
            auth,
            rate_limits: limits.rate_limits,
            query_timeout: limits.query_timeout,
            tls: net.tls,
            connections: net.connections,
            browser: net.browser,
            ui: match self.ui_dir {
                Some(dir) => flarego_ingest::ui::UiSource::Dir(dir),
                None => Default::default(),
            },
            alerts,
        })
    }
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
    // An older data format is upgraded first, saying what is done.
    let plan = flarego_migrations::upgrade(&config.storage).await?;
    if !plan.steps.is_empty() {
        tracing::warn!(plan = %plan, "data upgraded");
    }
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
    let failure = server.engine().map(|e| e.watcher());
    if let Some(alerts) = server.alerts() {
        tokio::spawn(reload_on_hangup(alerts));
    }
    let failed = async {
        match failure {
            Some(w) => w.failed().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = crate::signal::shutdown_signal() => {
            tracing::info!("shutting down");
        }
        _ = server.wait() => {}
        why = failed => bail!("storage failed, stopping: {why}"),
    }
    Ok(())
}

/// Reloads the alert rule file on each SIGHUP (a file that does not load
/// is refused and the rules in force keep running).
pub async fn reload_on_hangup(alerts: flarego_ingest::AlertEngine) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading alert rules");
        let _ = alerts.reload().await;
    }
}
