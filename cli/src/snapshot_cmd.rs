//! `flarego export` (a selection as a pprof, folded or `.fgo` file) and
//! `flarego import FILE` (an `.fgo` or pprof file stored as a named
//! snapshot): thin clients of `GET /api/v1/export` and
//! `POST /api/v1/import`.

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Pprof,
    Folded,
    Fgo,
}

/// Where the server is and who asks.
#[derive(Debug, Args)]
pub struct Conn {
    /// Server to ask.
    #[arg(long, env = "FLAREGO_SERVER", default_value = "http://127.0.0.1:4040")]
    server: String,
    /// Tenant (sent as X-Scope-OrgID; with auth on, admins only).
    #[arg(long, env = "FLAREGO_TENANT")]
    tenant: Option<String>,
    /// Bearer token (servers with `--auth jwt`).
    #[arg(long, env = "FLAREGO_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

impl Conn {
    fn request(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let req = match &self.tenant {
            Some(t) => req.header("X-Scope-OrgID", t),
            None => req,
        };
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.trim_end_matches('/'))
    }
}

/// Flags of `flarego export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, value_enum, default_value_t = ExportFormat::Pprof)]
    format: ExportFormat,
    /// File to write.
    #[arg(short = 'o', long)]
    output: PathBuf,
    #[arg(long)]
    service: Option<String>,
    /// Prometheus selector, e.g. '{service="api",env=~"prod|stage"}'.
    #[arg(long)]
    query: Option<String>,
    /// cpu, goroutine, heap_inuse_space, … [default: cpu]
    #[arg(long)]
    profile_type: Option<String>,
    /// Goroutine state.
    #[arg(long)]
    state: Option<String>,
    /// RFC 3339, Unix time, or now-1h [default: now-1h].
    #[arg(long)]
    from: Option<String>,
    /// [default: now]
    #[arg(long)]
    to: Option<String>,
    /// Keep stacks through a frame matching this regex.
    #[arg(long)]
    focus: Option<String>,
    /// Drop stacks through a frame matching this regex.
    #[arg(long)]
    ignore: Option<String>,
    /// Drop frames matching this regex.
    #[arg(long)]
    hide: Option<String>,
    #[command(flatten)]
    conn: Conn,
}

/// Flags of `flarego import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// An `.fgo` file or a pprof profile (gzipped or not).
    file: PathBuf,
    /// The snapshot's name [default: the file name].
    #[arg(long)]
    name: Option<String>,
    /// For a pprof: the profile type to keep [default: pprof's default].
    #[arg(long)]
    profile_type: Option<String>,
    #[command(flatten)]
    conn: Conn,
}

pub async fn export(a: ExportArgs) -> anyhow::Result<()> {
    let format = match a.format {
        ExportFormat::Pprof => "pprof",
        ExportFormat::Folded => "folded",
        ExportFormat::Fgo => "fgo",
    };
    let mut params: Vec<(&str, String)> = vec![("format", format.into())];
    for (name, v) in [
        ("service", &a.service),
        ("query", &a.query),
        ("profile_type", &a.profile_type),
        ("state", &a.state),
        ("from", &a.from),
        ("to", &a.to),
        ("focus", &a.focus),
        ("ignore", &a.ignore),
        ("hide", &a.hide),
    ] {
        if let Some(v) = v {
            params.push((name, v.clone()));
        }
    }
    let url = a.conn.url("/api/v1/export");
    let resp = a
        .conn
        .request(reqwest::Client::new().get(&url).query(&params))
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let body = resp.bytes().await.context("reading the export")?;
    if !status.is_success() {
        bail!("{status}: {}", error_of(&body));
    }
    std::fs::write(&a.output, &body).with_context(|| format!("writing {}", a.output.display()))?;
    eprintln!("wrote {} ({} bytes)", a.output.display(), body.len());
    Ok(())
}

pub async fn import(a: ImportArgs) -> anyhow::Result<()> {
    let body = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let name = a.name.clone().unwrap_or_else(|| {
        a.file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let mut params = vec![("name", name)];
    if let Some(t) = &a.profile_type {
        params.push(("profile_type", t.clone()));
    }
    let url = a.conn.url("/api/v1/import");
    let resp = a
        .conn
        .request(reqwest::Client::new().post(&url).query(&params).body(body))
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let body = resp.bytes().await.context("reading the answer")?;
    if !status.is_success() {
        bail!("{status}: {}", error_of(&body));
    }
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    println!("{}", v["id"].as_str().unwrap_or_default());
    Ok(())
}

fn error_of(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}
