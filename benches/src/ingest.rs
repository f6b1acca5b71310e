//! HTTP ingest throughput with the WAL on, and hot memory per row;
//! the peer is `go tool pprof -proto` merging the same profiles.

use crate::procs::metric;
use crate::procs::{cpu_secs, rss_kib, spawn_server};
use crate::synth::Shape;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub async fn run(seconds: u64, clients: usize, span: Duration) -> anyhow::Result<()> {
    let shape = Shape::default();
    let tmp = tempfile::tempdir()?;
    let pdir = tmp.path().join("pprof");
    std::fs::create_dir_all(&pdir)?;
    let t0 = 1_700_000_000_000_000_000i64;
    let (files, gz_bytes, samples) = crate::write_hour(&pdir, &shape, t0)?;
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        files
            .iter()
            .map(std::fs::read)
            .collect::<Result<Vec<_>, _>>()?,
    );
    let per_profile = samples as f64 / files.len() as f64;

    // Peer: go tool pprof merging the same files.
    let go_start = Instant::now();
    let merged = tmp.path().join("merged.pb.gz");
    let st = Command::new("go")
        .args(["tool", "pprof", "-proto", "-output"])
        .arg(&merged)
        .args(&files)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let go_secs = go_start.elapsed().as_secs_f64();
    let go_rate = match st {
        Ok(s) if s.success() => Some(samples as f64 / go_secs),
        _ => None,
    };

    // FlareGo: the release binary at its default settings (WAL on,
    // default limits, compaction and merges running as they would).
    let (mut child, url, _) = spawn_server(&tmp.path().join("data"), &[])?;
    let client = reqwest::Client::new();
    crate::procs::wait_ready(&client, &url).await?;
    let rss_before = rss_kib(child.id());
    let rows_before = metric(
        &client
            .get(format!("{url}/metrics"))
            .send()
            .await?
            .text()
            .await?,
        "flarego_ingest_rows_total",
    );
    let (server_cpu0, client_cpu0) = (cpu_secs(&child.id().to_string()), cpu_secs("self"));
    let done = Arc::new(AtomicU64::new(0));
    // Any answer but 2xx stops the run: a refused request is a failure of
    // the figure, never a silent drop.
    let refused: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let stop = Instant::now() + Duration::from_secs(seconds);
    let started_secs = chrono_now_secs();
    let start = Instant::now();
    let load = Load {
        client: client.clone(),
        url: url.clone(),
        bodies: bodies.clone(),
        clients,
        span,
        started_secs,
    };
    load.run(stop, done.clone(), refused.clone()).await?;
    let secs = start.elapsed().as_secs_f64();
    let server_cpu = cpu_secs(&child.id().to_string()) - server_cpu0;
    let client_cpu = cpu_secs("self") - client_cpu0;
    if let Some(why) = refused.lock().ok().and_then(|g| g.clone()) {
        let _ = child.kill();
        anyhow::bail!("the server refused a request, so the run has no figure: {why}");
    }
    let requests = done.load(Ordering::Relaxed);
    let metrics = client
        .get(format!("{url}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    // Rows as the server counted them; each CPU pprof sample is two rows
    // (`cpu_samples` and `cpu`).
    let rows = metric(&metrics, "flarego_ingest_rows_total") - rows_before;
    let ingested = rows / 2.0;
    let estimated = requests as f64 * per_profile;
    anyhow::ensure!(
        (ingested - estimated).abs() <= estimated * 0.01 + 1.0,
        "rows in /metrics ({rows}) do not match the requests acknowledged ({requests} × {per_profile:.0} samples)"
    );
    let rss_after = rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();

    // Start-up on the data directory as the run left it (at the default
    // hot retention, the WAL holds about the last minute and a half).
    let wal_bytes: u64 = std::fs::read_dir(tmp.path().join("data/wal"))?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    let restart = Instant::now();
    let (mut child, url2, _) = spawn_server(&tmp.path().join("data"), &[])?;
    let health_secs = restart.elapsed().as_secs_f64();
    loop {
        if client
            .get(format!("{url2}/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        anyhow::ensure!(
            restart.elapsed() < Duration::from_secs(600),
            "not ready after 600 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ready_secs = restart.elapsed().as_secs_f64();
    let m2 = client
        .get(format!("{url2}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let replayed = metric(&m2, "flarego_wal_replayed_records_total");
    let hot_after_replay = metric(&m2, "flarego_hot_sample_rows");
    let _ = child.kill();
    let _ = child.wait();
    let hot_rows = metric(&metrics, "flarego_hot_sample_rows");
    let hot_bytes = metric(&metrics, "flarego_hot_bytes");
    let rate = ingested / secs;
    println!(
        "load: {clients} HTTP clients for {secs:.1} s, gzipped CPU pprof of {per_profile:.0} samples each ({} KiB avg), dated {}",
        gz_bytes / files.len() as u64 / 1024,
        if span.is_zero() {
            "now".to_string()
        } else {
            format!("across the last {}", humantime::format_duration(span))
        }
    );
    println!(
        "CPU during the run: server {:.0}% of one core, load generator {:.0}% (2 cores in all); a CPU pprof sample is 2 rows (samples, cpu)",
        100.0 * server_cpu / secs,
        100.0 * client_cpu / secs
    );
    println!();
    println!("| what | pprof samples/s | requests/s | refused | ratio to peer |");
    println!("|---|---|---|---|---|");
    println!(
        "| FlareGo `/ingest`, default settings (rows from /metrics) | {rate:.0} | {:.0} | 0 | {} |",
        requests as f64 / secs,
        go_rate
            .map(|g| format!("{:.2}×", rate / g))
            .unwrap_or("-".into())
    );
    match go_rate {
        Some(g) => println!(
            "| `go tool pprof -proto` merging the {} files | {g:.0} | - | - | 1.00× |",
            files.len()
        ),
        None => println!("| `go tool pprof -proto` | not run (Go missing) | - | - | - |"),
    }
    println!();
    println!("| hot memory | value |");
    println!("|---|---|");
    println!("| hot sample rows | {hot_rows:.0} |");
    println!(
        "| row buffers (bytes/row) | {:.2} |",
        hot_bytes / hot_rows.max(1.0)
    );
    println!(
        "| server RSS growth (bytes/row, all in) | {:.2} |",
        (rss_after.saturating_sub(rss_before) as f64 * 1024.0) / hot_rows.max(1.0)
    );
    println!();
    println!("| start-up after the run (kill -9, restart) | value |");
    println!("|---|---|");
    println!(
        "| WAL to replay | {:.0} MiB, {replayed:.0} records |",
        wal_bytes as f64 / 1048576.0
    );
    println!("| to `/health` | {:.0} ms |", health_secs * 1000.0);
    println!(
        "| to `/ready` (WAL replayed) | {:.0} ms |",
        ready_secs * 1000.0
    );
    println!("| hot sample rows after replay | {hot_after_replay:.0} |");
    Ok(())
}

pub(crate) fn chrono_now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Clients posting the bench's profiles until a deadline.
#[derive(Clone)]
pub(crate) struct Load {
    pub client: reqwest::Client,
    pub url: String,
    pub bodies: Arc<Vec<Vec<u8>>>,
    pub clients: usize,
    /// Dated now (zero) or across this much of the past.
    pub span: Duration,
    pub started_secs: i64,
}

impl Load {
    /// Posts until `stop`, counting acknowledged requests in `done`; the
    /// first refusal is kept in `refused` and stops every client.
    pub async fn run(
        &self,
        stop: Instant,
        done: Arc<AtomicU64>,
        refused: Arc<std::sync::Mutex<Option<String>>>,
    ) -> anyhow::Result<()> {
        let mut tasks = Vec::new();
        for c in 0..self.clients {
            let (me, done, refused) = (self.clone(), done.clone(), refused.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = c;
                while Instant::now() < stop && refused.lock().is_ok_and(|r| r.is_none()) {
                    let body = &me.bodies[i % me.bodies.len()];
                    // Live data (the current window, as an SDK sends it), or
                    // windows spread over the past `span`.
                    let span = me.span.as_secs() as i64;
                    let from = if span == 0 {
                        chrono_now_secs()
                    } else {
                        me.started_secs - span + (i as i64 * 10) % span
                    };
                    let r = me
                        .client
                        .post(format!(
                            "{}/ingest?name=bench.cpu&format=pprof&from={from}",
                            me.url
                        ))
                        .body(body.clone())
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status().is_success() => {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => {
                            let status = r.status();
                            let body = r.text().await.unwrap_or_default();
                            if let Ok(mut g) = refused.lock() {
                                g.get_or_insert(format!("{status}: {body}"));
                            }
                        }
                        Err(e) => {
                            if let Ok(mut g) = refused.lock() {
                                g.get_or_insert(format!("request failed: {e}"));
                            }
                        }
                    }
                    i += me.clients;
                }
            }));
        }
        for t in tasks {
            t.await?;
        }
        Ok(())
    }
}
