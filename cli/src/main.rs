//! # flarego
//!
//! The one FlareGo binary. `flarego server` runs ingest, storage and the
//! SQL API (see [`server_cmd`]); `flarego agent` profiles a service and
//! streams windows to a server (see [`agent_cmd`]); `flarego query` sends
//! SQL to a server and prints the answer (see [`query_cmd`]); `flarego
//! export` and `flarego import` move profiles in and out as files (see
//! [`snapshot_cmd`]). Flags have `FLAREGO_…`
//! environment variables and may be layered over a TOML config file.

mod admin_cmd;
mod agent_cmd;
mod alerts_cmd;
mod config_file;
mod demo_cmd;
mod logging;
mod query_cmd;
mod server_cmd;
mod signal;
mod size;
mod snapshot_cmd;
mod token_cmd;

use clap::{Parser, Subcommand};

/// FlareGo: a continuous-profiling database.
#[derive(Debug, Parser)]
#[command(name = "flarego", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: ingest, storage and the SQL API.
    Server(Box<server_cmd::ServerArgs>),
    /// Run SQL against a server and print the result.
    Query(query_cmd::QueryArgs),
    /// Write a selection to a file: pprof, folded stacks or an .fgo snapshot.
    Export(Box<snapshot_cmd::ExportArgs>),
    /// Store an .fgo or pprof file on a server as a named snapshot; prints its id.
    Import(snapshot_cmd::ImportArgs),
    /// Profile a Go service (pprof) and/or any process (perf), and stream
    /// one chunk per window to a server.
    Agent(Box<agent_cmd::AgentArgs>),
    /// Start a server, an agent and a workload to profile; print a first
    /// SQL answer. Ctrl-C stops all of it.
    Demo(demo_cmd::DemoArgs),
    /// The data format and the cold store: migrate, files, verify,
    /// version; and compact on a running server.
    #[command(subcommand)]
    Admin(Box<admin_cmd::AdminCmd>),
    /// Alert rule files: check one and print the SQL each rule becomes.
    #[command(subcommand)]
    Alerts(alerts_cmd::AlertsCmd),
    /// Mint tokens for the built-in HS256 issuer.
    #[command(subcommand)]
    Token(token_cmd::TokenCmd),
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The chain of causes, one line; no backtrace for a user error.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    logging::init();
    let cli = Cli::parse();
    // The agent sits beside the service it profiles: one thread (plus the
    // perf sampler's) and few malloc arenas keep its footprint small.
    let rt = if matches!(cli.command, Command::Agent(_)) {
        agent_cmd::limit_malloc_arenas(1);
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        agent_cmd::limit_malloc_arenas(cores.clamp(2, 8) as i32);
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    };
    rt.block_on(async {
        match cli.command {
            Command::Server(args) => server_cmd::run(*args).await,
            Command::Query(args) => query_cmd::run(args).await,
            Command::Export(args) => snapshot_cmd::export(*args).await,
            Command::Import(args) => snapshot_cmd::import(args).await,
            Command::Agent(args) => agent_cmd::run_agent(*args).await,
            Command::Demo(args) => demo_cmd::run(args).await,
            Command::Token(cmd) => token_cmd::run(cmd),
            Command::Alerts(cmd) => alerts_cmd::run(cmd),
            Command::Admin(cmd) => admin_cmd::run(*cmd).await,
        }
    })
}
