//! Flags of `flarego server` about listening: addresses, TLS, connection
//! limits and what a browser on this machine may do.

use super::{duration, layered};
use crate::config_file::ServerFile;
use anyhow::{Context, bail};
use clap::Args;
use flarego_ingest::browser::BrowserPolicy;
use flarego_ingest::listen::ConnLimits;
use flarego_ingest::tls::TlsConfig;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct NetArgs {
    /// HTTP listen address: ingest, SQL API, metrics [default: 127.0.0.1:4040].
    #[arg(long, env = "FLAREGO_HTTP_ADDR")]
    pub http_addr: Option<String>,
    /// gRPC listen address for agents [default: 127.0.0.1:4041].
    #[arg(long, env = "FLAREGO_GRPC_ADDR")]
    pub grpc_addr: Option<String>,
    /// TLS certificate chain (PEM) for both listeners.
    #[arg(long, env = "FLAREGO_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "FLAREGO_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (PEM): mutual TLS.
    #[arg(long, env = "FLAREGO_TLS_CLIENT_CA")]
    tls_client_ca: Option<PathBuf>,
    /// A client must send a request's headers within this; an HTTP/1.1
    /// connection idle for as long is closed [default: 10s].
    #[arg(long, env = "FLAREGO_HEADER_TIMEOUT")]
    header_timeout: Option<String>,
    /// A client must send a request's whole body within this [default: 60s].
    #[arg(long, env = "FLAREGO_BODY_TIMEOUT")]
    body_timeout: Option<String>,
    /// A TLS client must finish its handshake within this [default: 10s].
    #[arg(long, env = "FLAREGO_TLS_HANDSHAKE_TIMEOUT")]
    tls_handshake_timeout: Option<String>,
    /// Most connections open at once, per listener; more wait to be
    /// accepted [default: 1024].
    #[arg(long, env = "FLAREGO_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Live-tail subscriptions open at once; more are refused with 503
    /// [default: 10000].
    #[arg(long, env = "FLAREGO_MAX_LIVE_SUBSCRIBERS")]
    max_live_subscribers: Option<usize>,
    /// With auth off, host names (the `Host` header) besides loopback ones
    /// that requests may use, comma-separated [default: none].
    #[arg(long, env = "FLAREGO_ALLOWED_HOSTS", value_delimiter = ',')]
    allowed_hosts: Vec<String>,
    /// With auth off, web origins (`scheme://host[:port]`) besides the
    /// server's own whose pages may call the API, comma-separated [default: none].
    #[arg(long, env = "FLAREGO_ALLOWED_ORIGINS", value_delimiter = ',')]
    allowed_origins: Vec<String>,
}

/// What [`NetArgs`] resolve to.
pub struct Resolved {
    pub http_addr: String,
    pub grpc_addr: String,
    pub tls: Option<TlsConfig>,
    pub connections: ConnLimits,
    pub browser: BrowserPolicy,
}

impl NetArgs {
    pub fn resolve(self, file: &ServerFile) -> anyhow::Result<Resolved> {
        let d = ConnLimits::default();
        let dur = |name, flag: Option<String>, key: &Option<String>, default| {
            layered(flag, key).map_or(Ok(default), |v| duration(name, &v))
        };
        let connections = ConnLimits {
            header_read_timeout: dur(
                "header-timeout",
                self.header_timeout.clone(),
                &file.header_timeout,
                d.header_read_timeout,
            )?,
            body_read_timeout: dur(
                "body-timeout",
                self.body_timeout.clone(),
                &file.body_timeout,
                d.body_read_timeout,
            )?,
            tls_handshake_timeout: dur(
                "tls-handshake-timeout",
                self.tls_handshake_timeout.clone(),
                &file.tls_handshake_timeout,
                d.tls_handshake_timeout,
            )?,
            max_connections: layered(self.max_connections, &file.max_connections)
                .unwrap_or(d.max_connections),
            max_live_subscribers: layered(self.max_live_subscribers, &file.max_live_subscribers)
                .unwrap_or(d.max_live_subscribers),
        };
        if connections.max_connections == 0 {
            bail!("--max-connections must be at least 1");
        }
        let list = |flag: &Vec<String>, key: &Option<Vec<String>>| -> Vec<String> {
            let v = if flag.is_empty() {
                key.clone().unwrap_or_default()
            } else {
                flag.clone()
            };
            v.into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let browser = BrowserPolicy {
            allowed_hosts: list(&self.allowed_hosts, &file.allowed_hosts),
            allowed_origins: list(&self.allowed_origins, &file.allowed_origins),
        };
        let tls = self.tls(file)?;
        Ok(Resolved {
            http_addr: self
                .http_addr
                .or(file.http_addr.clone())
                .unwrap_or_else(|| "127.0.0.1:4040".into()),
            grpc_addr: self
                .grpc_addr
                .or(file.grpc_addr.clone())
                .unwrap_or_else(|| "127.0.0.1:4041".into()),
            tls,
            connections,
            browser,
        })
    }

    /// `--tls-cert`, `--tls-key`, `--tls-client-ca`.
    fn tls(&self, file: &ServerFile) -> anyhow::Result<Option<TlsConfig>> {
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
}
