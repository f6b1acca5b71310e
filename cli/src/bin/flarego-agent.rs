//! `flarego-agent`: the agent alone, with the same flags as `flarego
//! agent`. It links none of the server (no DataFusion), so it loads a
//! fraction of the pages and is the binary to run beside a service when
//! memory matters.

#[path = "../agent_cmd.rs"]
mod agent_cmd;
// The shared config file; its `[server]` table is read and left unused here.
#[allow(dead_code)]
#[path = "../config_file.rs"]
mod config_file;
#[path = "../logging.rs"]
mod logging;
#[path = "../signal.rs"]
mod signal;
#[path = "../size.rs"]
mod size;

use clap::Parser;

/// Profile a Go service (pprof) and/or any process (perf), and stream
/// one chunk per window to a FlareGo server.
#[derive(Debug, Parser)]
#[command(name = "flarego-agent", version)]
struct Cli {
    #[command(flatten)]
    args: agent_cmd::AgentArgs,
}

fn main() -> std::process::ExitCode {
    logging::init();
    let cli = Cli::parse();
    agent_cmd::limit_malloc_arenas(1);
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(agent_cmd::run_agent(cli.args)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
