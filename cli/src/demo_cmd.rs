//! `flarego demo`: a server on the embedded default, an agent, and a
//! workload to profile, in one command; prints where to look and a first
//! SQL answer, and stops everything on Ctrl-C.
//!
//! The workload is the Go program the tests use (goroutines parked in
//! known states, two spinning) when `go` is installed; otherwise this
//! process itself, busy with a CPU loop, through the perf sampler.

use crate::query_cmd::render_table;
use crate::signal::shutdown_signal;
use anyhow::{Context, bail};
use clap::Args;
use flarego_agent::run::{AgentConfig, run as run_agent};
use flarego_agent::upload::{Transport, UploadConfig};
use flarego_ingest::{RunningServer, ServerConfig};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const GO_MAIN: &str = include_str!("../../tests/go/goroutines/main.go");
const GO_MOD: &str = include_str!("../../tests/go/goroutines/go.mod");

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo keeps its data.
    #[arg(
        long,
        env = "FLAREGO_DEMO_DATA_DIR",
        default_value = "./flarego-demo-data"
    )]
    data_dir: PathBuf,
    /// HTTP listen address (SQL API).
    #[arg(long, env = "FLAREGO_HTTP_ADDR", default_value = "127.0.0.1:4040")]
    http_addr: String,
    /// gRPC listen address (the agent streams here).
    #[arg(long, env = "FLAREGO_GRPC_ADDR", default_value = "127.0.0.1:4041")]
    grpc_addr: String,
    /// Agent window.
    #[arg(long, env = "FLAREGO_DEMO_WINDOW", default_value = "5s")]
    window: String,
    /// Profile this process with perf even when `go` is installed.
    #[arg(long, default_value_t = false)]
    no_go: bool,
}

/// The Go workload, killed on drop.
struct GoWorkload {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Drop for GoWorkload {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_go_workload() -> anyhow::Result<GoWorkload> {
    let dir = std::env::temp_dir().join(format!("flarego-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("main.go"), GO_MAIN)?;
    std::fs::write(dir.join("go.mod"), GO_MOD)?;
    let bin = dir.join("workload");
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&dir)
        .env("GOTOOLCHAIN", "local")
        .output()
        .context("running `go build` (is Go installed?)")?;
    if !out.status.success() {
        bail!(
            "go build failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let mut child = Command::new(&bin)
        .args(["-serve", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the Go workload")?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out).read_line(&mut line)?;
    }
    let url = line
        .trim()
        .strip_prefix("serving on ")
        .map(str::to_string)
        .with_context(|| format!("the Go workload printed {line:?}"));
    let mut workload = GoWorkload {
        child,
        url: String::new(),
        dir,
    };
    // On error the workload is dropped: killed and its folder removed.
    workload.url = url?;
    Ok(workload)
}

/// Keeps one core busy in a named function, for perf to find.
#[inline(never)]
fn demo_busy_loop(stop: &AtomicBool) {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..100_000 {
            x = std::hint::black_box(x.rotate_left(7) ^ x.wrapping_mul(31));
        }
    }
}

async fn sql(server: &RunningServer, q: &str) -> anyhow::Result<serde_json::Value> {
    let ready = server.state.ready().map_err(|e| anyhow::anyhow!("{e}"))?;
    let out = ready.query.sql(None, q).await?;
    Ok(flarego_query::output::to_json(&out)?)
}

async fn rows(server: &RunningServer, q: &str) -> i64 {
    sql(server, q)
        .await
        .ok()
        .and_then(|v| v["rows"][0][0].as_i64())
        .unwrap_or(0)
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let window = humantime::parse_duration(&args.window)
        .with_context(|| format!("--window {:?}", args.window))?;
    let mut config = ServerConfig {
        http_addr: args.http_addr.clone(),
        grpc_addr: args.grpc_addr.clone(),
        ..Default::default()
    };
    config.storage.data_dir = args.data_dir.clone();
    let mut server = flarego_ingest::start(config).await?;
    server.ready().await?;
    println!("FlareGo demo");
    println!("  web UI    http://{}/", server.http_addr);
    println!("  SQL API   http://{}/api/v1/query", server.http_addr);
    println!("  agents    http://{} (gRPC)", server.grpc_addr);
    println!("  data      {}", display(&args.data_dir));

    let go = if args.no_go {
        None
    } else {
        match start_go_workload() {
            Ok(w) => Some(w),
            Err(e) => {
                println!("  workload  no Go ({e:#}); profiling this process with perf");
                None
            }
        }
    };
    let stop_busy = Arc::new(AtomicBool::new(false));
    let (pprof_url, pid) = match &go {
        Some(w) => {
            println!("  workload  Go service {} (pid {})", w.url, w.child.id());
            (Some(w.url.clone()), Some(w.child.id()))
        }
        None => {
            let stop = stop_busy.clone();
            std::thread::Builder::new()
                .name("demo-busy".into())
                .spawn(move || demo_busy_loop(&stop))?;
            (None, Some(std::process::id()))
        }
    };
    let agent_config = AgentConfig {
        upload: UploadConfig {
            server: format!("http://{}", server.grpc_addr),
            transport: Transport::Grpc,
            token: None,
            tenant: None,
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(5),
            max_message_bytes: 16 << 20,
            ca_cert_pem: None,
            client_identity: None,
        },
        service: "demo".into(),
        instance: crate::agent_cmd::hostname(),
        labels: Default::default(),
        agent_name: "demo".into(),
        window,
        pprof_url,
        pprof_sources: Default::default(),
        pid,
        hz: 100,
        buffer_bytes: 16 << 20,
        buffer_dir: None,
        scrape_timeout: window + Duration::from_secs(10),
        max_scrape_bytes: 64 << 20,
        drain_timeout: Duration::from_secs(3),
        max_windows: None,
    };
    let (stop_agent, agent_stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(run_agent(agent_config, async {
        let _ = agent_stopped.await;
    }));

    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let first = async {
        while rows(
            &server,
            "SELECT count(*) FROM metrics WHERE name = 'agent_window_seq'",
        )
        .await
            == 0
        {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    tokio::select! {
        _ = first => {
            println!("\nFirst window in after {:.1} s.", started.elapsed().as_secs_f64());
            if go.is_some() {
                let q = "SELECT state, CAST(sum(value) AS BIGINT) AS goroutines FROM profiles \
                         WHERE profile_type = 'goroutine' GROUP BY state ORDER BY goroutines DESC";
                println!("\n{q}\n{}", render_table(&sql(&server, q).await?));
            }
            let q = "SELECT labels['source'] AS source, leaf(frames) AS function, \
                     CAST(sum(value) / 1000000 AS BIGINT) AS cpu_ms FROM profiles \
                     WHERE profile_type = 'cpu' GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 6";
            println!("\n{q}\n{}", render_table(&sql(&server, q).await?));
            println!(
                "\nAsk your own: flarego query --server http://{} \"SELECT ...\"\nCtrl-C stops the demo.",
                server.http_addr
            );
            shutdown.await;
        }
        _ = &mut shutdown => {}
    }
    println!("stopping");
    let _ = stop_agent.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), agent).await;
    stop_busy.store(true, Ordering::Relaxed);
    drop(go);
    Ok(())
}

fn display(p: &Path) -> String {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}
