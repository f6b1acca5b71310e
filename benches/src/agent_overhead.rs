//! What the agent costs a busy Go HTTP service: throughput and p99
//! latency of `GET /work` with no agent, with the agent at default
//! settings (pprof scraping, 10 s windows), and with the perf sampler at
//! 100 Hz added, each as `flarego agent` and as the lean `flarego-agent`
//! binary; plus the agent's own CPU and peak RSS. The
//! configurations take turns, `rounds` times, so drift hits all alike.

use crate::procs::{cpu_secs, hwm_kib, spawn_server};
use flarego_tests::goservice::spawn_serving;
use flarego_tests::gotool::build_folder;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Load {
    requests: u64,
    latencies_us: Vec<u32>,
}

async fn load(url: &str, clients: usize, seconds: u64) -> anyhow::Result<Load> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let url: Arc<str> = format!("{url}/work").into();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let r = client.get(&*url).send().await?;
                    anyhow::ensure!(r.status().is_success(), "GET /work: {}", r.status());
                    r.bytes().await?;
                    lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
                anyhow::Ok(lat)
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(Load {
        requests: all.len() as u64,
        latencies_us: all,
    })
}

fn quantile(v: &mut [u32], q: f64) -> u32 {
    v.sort_unstable();
    v.get(((v.len().max(1) - 1) as f64 * q) as usize)
        .copied()
        .unwrap_or(0)
}

/// An agent's binary and arguments.
type AgentCommand<'a> = (&'a std::path::Path, Vec<&'a str>);

#[derive(Default, Clone)]
struct Tally {
    rps: Vec<f64>,
    p50_us: Vec<u32>,
    p99_us: Vec<u32>,
    agent_cpu_pct: Vec<f64>,
    agent_hwm_kib: Vec<u64>,
    /// Perf sample rows the server stored per round (perf configurations).
    perf_rows: Vec<i64>,
}

fn chrono_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Rows of perf CPU samples of service `busy` stored since `since_secs`.
async fn perf_rows(http: &str, since_secs: i64) -> anyhow::Result<i64> {
    let sql = format!(
        "SELECT count(*) FROM profiles WHERE service = 'busy' AND labels['source'] = 'perf' \
         AND time >= to_timestamp({since_secs})"
    );
    let v: serde_json::Value = reqwest::Client::new()
        .post(format!("{http}/api/v1/query"))
        .json(&serde_json::json!({ "sql": sql }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(v["rows"][0][0].as_i64().unwrap_or(0))
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

pub async fn run(seconds: u64, rounds: usize, clients: usize) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let busy = build_folder("benches/go/busy", tmp.path())?;
    let (mut go, url) = spawn_serving(&busy, &["-addr", "127.0.0.1:0"])?;
    let go_pid = go.id().to_string();
    let (mut server, http, grpc) = spawn_server(&tmp.path().join("data"), &[])?;
    let flarego = crate::sibling_bin("flarego")?;
    let lean = crate::sibling_bin("flarego-agent")?;
    // (name, the agent's command line, if any)
    let configs: [(&str, Option<AgentCommand>); 6] = [
        ("no agent", None),
        (
            "`flarego agent`, defaults (pprof, 10 s windows)",
            Some((&flarego, vec!["agent"])),
        ),
        (
            "`flarego agent` + perf at 100 Hz",
            Some((&flarego, vec!["agent", "--pid", &go_pid])),
        ),
        ("`flarego-agent`, defaults", Some((&lean, vec![]))),
        (
            "`flarego-agent`, no pprof CPU profile",
            Some((
                &lean,
                vec![
                    "--pprof-profiles",
                    "goroutine,heap,allocs,block,mutex,memstats",
                ],
            )),
        ),
        (
            "`flarego-agent` + perf at 100 Hz",
            Some((&lean, vec!["--pid", &go_pid])),
        ),
    ];
    let mut tallies = vec![Tally::default(); configs.len()];
    load(&url, clients, 3).await?; // warm up
    for round in 0..rounds {
        for (i, (name, extra)) in configs.iter().enumerate() {
            let agent: Option<Child> = match extra {
                None => None,
                Some((bin, args)) => Some(
                    Command::new(bin)
                        .args(args)
                        .args(["--server", &grpc, "--service", "busy"])
                        .args(["--pprof-url", &url])
                        .env("FLAREGO_LOG", "warn")
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()?,
                ),
            };
            tokio::time::sleep(Duration::from_millis(500)).await;
            let pid = agent.as_ref().map(|a| a.id().to_string());
            let cpu0 = pid.as_deref().map(cpu_secs).unwrap_or(0.0);
            let t0 = Instant::now();
            let mut r = load(&url, clients, seconds).await?;
            let wall = t0.elapsed().as_secs_f64();
            let t = &mut tallies[i];
            t.rps.push(r.requests as f64 / wall);
            t.p50_us.push(quantile(&mut r.latencies_us, 0.50));
            t.p99_us.push(quantile(&mut r.latencies_us, 0.99));
            if let (Some(mut a), Some(pid)) = (agent, pid) {
                t.agent_cpu_pct.push((cpu_secs(&pid) - cpu0) / wall * 100.0);
                t.agent_hwm_kib.push(hwm_kib(a.id()));
                let _ = a.kill();
                let _ = a.wait();
            }
            // A configuration with perf must have stored perf samples of
            // this run: CPU figures of a sampler that never sampled mean
            // nothing.
            if let Some((_, args)) = extra
                && args.contains(&"--pid")
            {
                let since = chrono_secs() - wall as i64 - 1;
                let rows = perf_rows(&http, since).await?;
                anyhow::ensure!(
                    rows > 0,
                    "{name}: no perf samples were stored in round {round}"
                );
                t.perf_rows.push(rows);
            }
            eprintln!(
                "round {round} {name}: {:.0} req/s p99 {} µs",
                t.rps.last().unwrap_or(&0.0),
                t.p99_us.last().unwrap_or(&0)
            );
        }
    }
    let _ = go.kill();
    let _ = server.kill();
    let _ = go.wait();
    let _ = server.wait();

    let base = mean(&tallies[0].rps);
    println!(
        "| configuration | req/s | vs no agent | req/s per round | p50 µs | p99 µs | agent CPU (% of a core) | agent peak RSS (MiB) | perf rows stored per round |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for ((name, _), t) in configs.iter().zip(&tallies) {
        let rps = mean(&t.rps);
        let p50 = mean(&t.p50_us.iter().map(|v| f64::from(*v)).collect::<Vec<_>>());
        let p99 = mean(&t.p99_us.iter().map(|v| f64::from(*v)).collect::<Vec<_>>());
        let (cpu, rss) = if t.agent_cpu_pct.is_empty() {
            ("–".to_string(), "–".to_string())
        } else {
            (
                format!("{:.2}", mean(&t.agent_cpu_pct)),
                format!(
                    "{:.1}",
                    t.agent_hwm_kib.iter().copied().max().unwrap_or(0) as f64 / 1024.0
                ),
            )
        };
        let per_round: Vec<String> = t.rps.iter().map(|r| format!("{r:.0}")).collect();
        let perf: Vec<String> = t.perf_rows.iter().map(|r| r.to_string()).collect();
        let perf = if perf.is_empty() {
            "–".to_string()
        } else {
            perf.join(" / ")
        };
        println!(
            "| {name} | {rps:.0} | {:+.2}% | {} | {p50:.0} | {p99:.0} | {cpu} | {rss} | {perf} |",
            (rps / base - 1.0) * 100.0,
            per_round.join(" / ")
        );
    }
    println!(
        "\n{rounds} rounds of {seconds} s per configuration, {clients} keep-alive clients, \
         configurations in turn."
    );
    Ok(())
}
