//! `flarego admin`: the data format and the cold store, read directly
//! (`migrate`, `files`, `verify`, `version`), and `compact`, which asks a
//! running server to persist and merge now.

use crate::config_file::{ConfigFile, ServerFile};
use crate::server_cmd::StorageArgs;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use flarego_storage::manifest_log::ManifestLog;
use flarego_storage::{FileKind, Manifest, StorageConfig};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum AdminCmd {
    /// Upgrade the data to this build's format (what `flarego server`
    /// does on start); with --dry-run, print the plan only.
    Migrate {
        #[arg(long, default_value_t = false)]
        dry_run: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Files and bytes of the cold tier per tenant and day.
    Files {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Check the manifest against the store: missing, unreadable and
    /// orphaned files. Exits with 1 when it finds any.
    Verify {
        #[command(flatten)]
        data: DataArgs,
    },
    /// The data's format version and this build's.
    Version {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Ask a running server to write every hot window to Parquet and merge
    /// every hour's files now.
    Compact {
        #[arg(long, env = "FLAREGO_SERVER", default_value = "http://127.0.0.1:4040")]
        server: String,
        #[arg(long, env = "FLAREGO_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
}

/// Where the data is: the server's storage flags (and config file).
#[derive(Debug, Args)]
pub struct DataArgs {
    /// TOML config file (its `[server]` table), as for `flarego server`.
    #[arg(long, env = "FLAREGO_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    storage: StorageArgs,
}

impl DataArgs {
    fn resolve(self) -> anyhow::Result<StorageConfig> {
        let file: ServerFile = match &self.config {
            Some(p) => ConfigFile::load(p)?.server,
            None => Default::default(),
        };
        self.storage.resolve(&file)
    }
}

pub async fn run(cmd: AdminCmd) -> anyhow::Result<()> {
    match cmd {
        AdminCmd::Migrate { dry_run, data } => {
            let config = data.resolve()?;
            let plan = if dry_run {
                flarego_migrations::plan(&config).await?
            } else {
                flarego_migrations::upgrade(&config).await?
            };
            print!("{plan}");
            if !plan.to_string().ends_with('\n') {
                println!();
            }
            if dry_run && !plan.steps.is_empty() {
                println!("(dry run: nothing changed)");
            }
        }
        AdminCmd::Version { data } => {
            let config = data.resolve()?;
            let plan = flarego_migrations::plan(&config).await?;
            println!("data format: {}", plan.from);
            println!("this build:  {}", plan.to);
        }
        AdminCmd::Files { data } => {
            let (_, manifest) = load(data).await?;
            print_files(&manifest);
        }
        AdminCmd::Verify { data } => {
            let (config, manifest) = load(data).await?;
            let store = flarego_storage::store::open(&config)?;
            let r = flarego_storage::verify::verify(store.as_ref(), &manifest).await?;
            println!(
                "{} files listed in manifest version {}",
                r.listed, manifest.generation
            );
            for p in &r.missing {
                println!("missing    {p}");
            }
            for (p, why) in &r.unreadable {
                println!("unreadable {p}: {why}");
            }
            for p in &r.orphaned {
                println!("orphaned   {p}");
            }
            if !r.is_clean() {
                bail!(
                    "{} missing, {} unreadable, {} orphaned",
                    r.missing.len(),
                    r.unreadable.len(),
                    r.orphaned.len()
                );
            }
            println!("ok");
        }
        AdminCmd::Compact { server, token } => {
            let mut req = reqwest::Client::new()
                .post(format!(
                    "{}/api/v1/admin/flush?merge=all",
                    server.trim_end_matches('/')
                ))
                .header("content-type", "application/json");
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let r = req
                .send()
                .await
                .with_context(|| format!("cannot reach {server}"))?;
            let status = r.status();
            let body = r.text().await?;
            if !status.is_success() {
                bail!("{server} answered {status}: {body}");
            }
            println!("{body}");
        }
    }
    Ok(())
}

/// The manifest of the node this data directory belongs to.
async fn load(data: DataArgs) -> anyhow::Result<(StorageConfig, Manifest)> {
    let config = data.resolve()?;
    let plan = flarego_migrations::plan(&config).await?;
    if !plan.steps.is_empty() {
        bail!(
            "the data is of format {}; run `flarego admin migrate` first",
            plan.from
        );
    }
    let node = flarego_storage::node::configured_or_saved(&config).context(
        "no node id: pass --node-id, or point --data-dir at the server's data directory",
    )?;
    let store = flarego_storage::store::open(&config)?;
    let manifest = ManifestLog::new(store, &node).load().await?;
    Ok((config, manifest))
}

fn print_files(m: &Manifest) {
    #[derive(Default)]
    struct Sum {
        files: usize,
        rows: u64,
        bytes: u64,
    }
    let mut per: BTreeMap<(String, String, &'static str), Sum> = BTreeMap::new();
    let objects = || m.files.iter().filter(|f| !f.raw_expired);
    for f in objects() {
        let kind = match (f.kind, f.step_ns) {
            (FileKind::Samples, Some(s)) if s == flarego_storage::rollup::MINUTE_NS => "1m",
            (FileKind::Samples, Some(_)) => "1h",
            (FileKind::Samples, None) => "samples",
            (FileKind::Metrics, _) => "metrics",
            (FileKind::Stacks, _) => "stacks",
        };
        let day = if f.kind == FileKind::Stacks {
            "-".to_string()
        } else {
            chrono::DateTime::from_timestamp_nanos(f.min_time_ns)
                .format("%Y-%m-%d")
                .to_string()
        };
        let tenant = f.tenant.clone().unwrap_or_else(|| "(shared)".into());
        let s = per.entry((tenant, day, kind)).or_default();
        s.files += 1;
        s.rows += f.rows;
        s.bytes += f.bytes;
    }
    println!(
        "{:<20} {:<10} {:<8} {:>6} {:>12} {:>14}",
        "tenant", "day", "kind", "files", "rows", "bytes"
    );
    for ((tenant, day, kind), s) in &per {
        println!(
            "{tenant:<20} {day:<10} {kind:<8} {:>6} {:>12} {:>14}",
            s.files, s.rows, s.bytes
        );
    }
    let total: u64 = objects().map(|f| f.bytes).sum();
    println!(
        "{} files, {} bytes, manifest version {}",
        objects().count(),
        total,
        m.generation
    );
}
