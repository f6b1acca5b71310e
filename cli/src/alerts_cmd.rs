//! `flarego alerts check rules.toml`: loads a rule file as the server
//! would (syntax, durations, templates, sinks, read-only SQL, metric names
//! an agent sends) and prints the SQL each rule runs per evaluation.

use anyhow::bail;
use clap::{Args, Subcommand};
use flarego_alerts::compile::Vocabulary;
use flarego_alerts::rules::{LoadContext, Origin, RuleKind, load};
use flarego_storage::TenantId;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum AlertsCmd {
    /// Check a rule file; print each rule and its SQL. Exits 1 on the
    /// first error, naming the rule, line and reason.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The rule file.
    file: PathBuf,
    /// A metric name to accept besides those agents send (the server also
    /// accepts names seen in its data). Repeatable.
    #[arg(long = "metric")]
    metrics: Vec<String>,
}

pub fn run(cmd: AlertsCmd) -> anyhow::Result<()> {
    match cmd {
        AlertsCmd::Check(args) => check(args),
    }
}

fn check(args: CheckArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
    let known = |m: &str| {
        flarego_proto::agent_metrics::NAMES.contains(&m) || args.metrics.iter().any(|x| x == m)
    };
    let cx = LoadContext {
        origin: Origin::File,
        default_tenant: TenantId::default_tenant(),
        only_tenant: None,
        vocab: Vocabulary {
            metric_known: &known,
        },
    };
    let set = match load(&text, &cx) {
        Ok(s) => s,
        Err(e) => bail!("{}: {e}", args.file.display()),
    };
    for r in &set.rules {
        let what = match &r.kind {
            RuleKind::Expr { text, .. } => format!("expr {text}"),
            RuleKind::Sql { .. } => "sql".to_string(),
        };
        println!(
            "rule {:?} (tenant {}, line {}): {what}\n  every {}, for {}, keep_firing_for {}, sinks {}",
            r.name,
            r.tenant.0,
            r.line,
            humantime::format_duration(std::time::Duration::from_nanos(r.every_ns as u64)),
            humantime::format_duration(std::time::Duration::from_nanos(r.for_ns as u64)),
            humantime::format_duration(std::time::Duration::from_nanos(
                r.keep_firing_for_ns as u64
            )),
            r.sinks.join(", ")
        );
        for (i, sql) in r.queries().iter().enumerate() {
            println!("  query {}: {sql};", i + 1);
        }
    }
    println!(
        "{}: {} rules, {} sinks: ok",
        args.file.display(),
        set.rules.len(),
        set.sinks.len()
    );
    Ok(())
}
