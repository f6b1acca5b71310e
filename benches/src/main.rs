//! # flarego-bench
//!
//! The benchmark harness behind `docs/BENCHMARKS.md`. Each subcommand
//! measures FlareGo and a peer in the same run and prints a Markdown table:
//!
//! - `ingest`: pprof samples/s through HTTP `/ingest` with the WAL on,
//!   at default settings, against `go tool pprof -proto` merging the same
//!   files; hot memory.
//! - `ack-latency`: small writes' ack latency while a large merge runs.
//! - `soak`: hours of steady ingest with churn; RSS and manifest size.
//! - `density`: Parquet bytes of one synthetic hour against its gzipped pprof.
//! - `decode`: CPU per profile in each decoding step (no peer; a breakdown).
//! - `query`: the flame-graph aggregation over 10 M rows, against DuckDB
//!   on the same Parquet files.
//! - `read`: the read API on a day of data (flame graph 1 h / 24 h, top,
//!   pprof export, during a merge, browsing, a 100k-node tree), against
//!   DuckDB and `go tool pprof -proto`.
//! - `rollups`: flame graphs over 7 and 30 days on S3 (moto) from
//!   rollups, from raw rows, and by DuckDB over the raw files; bytes per
//!   day, raw and rollups, against gzipped pprof.
//! - `live`: ingest throughput with and without live-tail subscribers,
//!   and ack → update latency.
//! - `agent-overhead`: a busy Go HTTP service's throughput and p99 with
//!   and without the agent; the agent's CPU and RSS.
//! - `perf-jitter`: the perf sampler against `perf record` on the same
//!   process: achieved rate, jitter, CPU cost.
//! - `auth`: small queries and ingests per second with auth off, HS256
//!   and RS256 tokens.
//! - `clients`: Pyroscope's `SelectMergeStacktraces` against
//!   `/api/v1/flamegraph`, Flight SQL (ADBC) against `/api/v1/query`
//!   JSON, OTLP profiles ingest against pprof ingest.
//!
//! Build with `cargo build --release -p flarego -p flarego-benches`.

mod ack_latency;
mod agent_overhead;
mod alerts;
mod auth;
mod clients;
mod decode;
mod density;
mod ingest;
mod live;
mod perf_jitter;
mod procs;
mod query;
mod read;
mod rollups;
mod s3;
mod soak;
mod synth;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "flarego-bench", about = "FlareGo benchmarks against peers")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// HTTP ingest throughput and hot memory.
    Ingest {
        /// Seconds of load.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Concurrent HTTP clients.
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Profiles are dated across this much of the past (`1h`: one
        /// hour; `24h`: a day, so compactions and merges of closed hours
        /// run alongside).
        #[arg(long, default_value = "0s")]
        span: String,
    },
    /// Ingest with the cold tier on S3 (moto) against a local disk; the
    /// backlog of an outage and how fast it drains.
    S3 {
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Seconds the store stops answering.
        #[arg(long, default_value_t = 30)]
        outage: u64,
    },
    /// Ack latency of small writes while a large merge runs, against the
    /// same load with no merge.
    AckLatency {
        /// Seconds of load before and during the merge.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// The `flarego` binary to measure (default: the one beside this).
        #[arg(long)]
        server_bin: Option<std::path::PathBuf>,
    },
    /// Hours of steady ingest with series and stack churn: RSS and
    /// manifest size sampled every minute.
    Soak {
        /// Minutes to run.
        #[arg(long, default_value_t = 130)]
        minutes: u64,
        /// Requests per second (each a CPU profile of ~1,500 samples and a
        /// folded write of two new stacks).
        #[arg(long, default_value_t = 20)]
        rps: u64,
        /// The server's --stack-cache-bytes (small, so eviction runs).
        #[arg(long, default_value = "32MiB")]
        stack_cache: String,
    },
    /// Parquet bytes per sample against gzipped pprof, one synthetic hour.
    Density {
        /// Every one of the 2,000 stacks in every window (a busy service).
        #[arg(long, default_value_t = false)]
        busy: bool,
    },
    /// Where ingest CPU goes: gunzip, protobuf decode, rows, per profile.
    Decode,
    /// A busy Go HTTP service with and without the agent: throughput,
    /// p99, and the agent's CPU and RSS.
    AgentOverhead {
        /// Seconds of load per configuration and round.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        #[arg(long, default_value_t = 2)]
        rounds: usize,
        #[arg(long, default_value_t = 8)]
        clients: usize,
    },
    /// Requests/s of small queries and ingests with auth off, HS256, RS256.
    Auth {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 8)]
        clients: usize,
    },
    /// The perf sampler against `perf record`: rate, jitter, CPU.
    PerfJitter {
        /// Seconds per rate.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Ingest with and without live subscribers; ack → update latency.
    Live {
        #[arg(long, default_value_t = 100)]
        subscribers: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long, default_value_t = 8)]
        clients: usize,
    },
    /// Flame graphs over 7 and 30 days on S3 from rollups, against raw
    /// rows and DuckDB.
    Rollups {
        #[arg(long, default_value_t = 30)]
        days: usize,
        /// Mean distinct stacks per 10 s window.
        #[arg(long, default_value_t = 300)]
        stacks_per_window: usize,
        /// Every one of the 2,000 stacks in every window.
        #[arg(long, default_value_t = false)]
        busy: bool,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Alert rules at scale: server CPU with no rules, with shared scans,
    /// and with one scan per rule.
    Alerts {
        #[arg(long, default_value_t = 1000)]
        rules: usize,
        /// Distinct selections (frames) the rules read.
        #[arg(long, default_value_t = 50)]
        selections: usize,
        /// Seconds measured per configuration.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Instances of the synthetic service.
        #[arg(long, default_value_t = 10)]
        instances: usize,
    },
    /// The read API over a day of data against DuckDB and go tool pprof.
    Read {
        #[arg(long, default_value_t = 24)]
        hours: usize,
        #[arg(long, default_value_t = 5)]
        runs: usize,
        #[arg(long, default_value_t = 8)]
        clients: usize,
    },
    /// The standard clients' paths against FlareGo's own.
    Clients {
        /// Hours of the synthetic service to read.
        #[arg(long, default_value_t = 24)]
        hours: usize,
        #[arg(long, default_value_t = 5)]
        runs: usize,
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Seconds of ingest load per protocol.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Rows Flight SQL streams (JSON reads a tenth).
        #[arg(long, default_value_t = 10_000_000)]
        rows: usize,
    },
    /// Flame-graph aggregation over N rows against DuckDB.
    Query {
        #[arg(long, default_value_t = 10_000_000)]
        rows: usize,
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// DataFusion partitions (default: the number of cores).
        #[arg(long)]
        partitions: Option<usize>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match cli.cmd {
            Cmd::Ingest {
                seconds,
                clients,
                span,
            } => ingest::run(seconds, clients, humantime::parse_duration(&span)?).await,
            Cmd::S3 {
                seconds,
                clients,
                outage,
            } => s3::run(seconds, clients, outage).await,
            Cmd::AckLatency {
                seconds,
                server_bin,
            } => ack_latency::run(seconds, server_bin).await,
            Cmd::Soak {
                minutes,
                rps,
                stack_cache,
            } => soak::run(minutes, rps, &stack_cache).await,
            Cmd::Density { busy } => density::run(busy).await,
            Cmd::Decode => decode::run(),
            Cmd::AgentOverhead {
                seconds,
                rounds,
                clients,
            } => agent_overhead::run(seconds, rounds, clients).await,
            Cmd::PerfJitter { seconds } => perf_jitter::run(seconds).await,
            Cmd::Auth { seconds, clients } => auth::run(seconds, clients).await,
            Cmd::Live {
                subscribers,
                seconds,
                clients,
            } => live::run(subscribers, seconds, clients).await,
            Cmd::Rollups {
                days,
                stacks_per_window,
                busy,
                runs,
            } => rollups::run(days, stacks_per_window, busy, runs).await,
            Cmd::Alerts {
                rules,
                selections,
                seconds,
                instances,
            } => alerts::run(rules, selections, seconds, instances).await,
            Cmd::Read {
                hours,
                runs,
                clients,
            } => read::run(hours, runs, clients).await,
            Cmd::Clients {
                hours,
                runs,
                clients,
                seconds,
                rows,
            } => clients::run(hours, runs, clients, seconds, rows).await,
            Cmd::Query {
                rows,
                runs,
                partitions,
            } => query::run(rows, runs, partitions).await,
        }
    })
}

/// The `flarego` binary next to this one.
pub fn sibling_bin(name: &str) -> anyhow::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let p = exe
        .parent()
        .map(|d| d.join(name))
        .ok_or_else(|| anyhow::anyhow!("no directory"))?;
    anyhow::ensure!(
        p.exists(),
        "{} missing: cargo build --release -p flarego",
        p.display()
    );
    Ok(p)
}

/// Writes each window of a synthetic hour as a `.pb.gz` file; returns
/// `(paths, total gzipped bytes, total pprof samples)`.
pub fn write_hour(
    dir: &std::path::Path,
    shape: &synth::Shape,
    t0_ns: i64,
) -> anyhow::Result<(Vec<std::path::PathBuf>, u64, usize)> {
    let pool = synth::stack_pool(shape);
    let mut paths = Vec::new();
    let (mut bytes, mut samples) = (0u64, 0usize);
    for w in 0..shape.windows {
        let (gz, n) = synth::window_profile(&pool, shape, w, t0_ns + w as i64 * 10_000_000_000);
        let p = dir.join(format!("w{w:04}.pb.gz"));
        std::fs::write(&p, &gz)?;
        bytes += gz.len() as u64;
        samples += n;
        paths.push(p);
    }
    Ok((paths, bytes, samples))
}
