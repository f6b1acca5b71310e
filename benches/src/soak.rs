//! Hours of steady ingest at default settings, with the churn a real
//! fleet brings (pods replaced every few minutes, so new series; a few new
//! stacks every second): samples RSS, the manifest's size, the WAL, the
//! hot tier and the stack cache once a minute, and says whether RSS and
//! the manifest stayed flat after the first half hour.

use crate::procs::metric;
use crate::procs::{rss_kib, spawn_server};
use crate::synth::Shape;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        dir_bytes(&p)
                    } else {
                        e.metadata().map_or(0, |m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// One minute's reading.
struct Reading {
    minute: u64,
    rss_mib: f64,
    manifest_kib: f64,
    wal_mib: f64,
    hot_mib: f64,
    stack_cache_mib: f64,
    stacks_evicted: f64,
    requests: u64,
}

pub async fn run(minutes: u64, rps: u64, stack_cache: &str) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    let (mut child, url, _) = spawn_server(&data, &["--stack-cache-bytes", stack_cache])?;
    let pid = child.id();
    let client = reqwest::Client::new();
    crate::procs::wait_ready(&client, &url).await?;
    let shape = Shape::default();
    let pool = Arc::new(crate::synth::stack_pool(&shape));
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let failed: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let started = Instant::now();
    let loader = {
        let (url, stop, sent, failed, pool) = (
            url.clone(),
            stop.clone(),
            sent.clone(),
            failed.clone(),
            pool.clone(),
        );
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rps.max(1)));
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                // Pods come and go: a new instance every 5 minutes, 8 live.
                let generation = started.elapsed().as_secs() / 300;
                let instance = format!("pod-{}-{}", generation, n % 8);
                let (body, _) = crate::synth::window_profile(&pool, &shape, (n % 360) as usize, 0);
                // And two stacks no one saw before, in a folded write.
                let fresh = format!(
                    "main;handler;route{n};json.Marshal 1\nmain;worker;job{n};db.Query 1\n"
                );
                let from = now_secs();
                let posts = [
                    (
                        format!(
                            "{url}/ingest?name=soak.cpu%7Binstance%3D{instance}%7D&format=pprof&from={from}"
                        ),
                        body,
                    ),
                    (
                        format!(
                            "{url}/ingest?name=soak.cpu%7Binstance%3D{instance}%7D&format=folded&from={from}"
                        ),
                        fresh.into_bytes(),
                    ),
                ];
                for (u, b) in posts {
                    match client.post(u).body(b).send().await {
                        Ok(r) if r.status().is_success() => {}
                        Ok(r) => {
                            let why =
                                format!("{}: {}", r.status(), r.text().await.unwrap_or_default());
                            if let Ok(mut g) = failed.lock() {
                                g.get_or_insert(why);
                            }
                        }
                        Err(e) => {
                            if let Ok(mut g) = failed.lock() {
                                g.get_or_insert(e.to_string());
                            }
                        }
                    }
                }
                sent.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        })
    };
    let mut readings = Vec::new();
    println!(
        "| minute | RSS MiB | manifest KiB | WAL MiB | hot MiB | stack cache MiB | stacks evicted | requests |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for minute in 1..=minutes {
        tokio::time::sleep_until((started + Duration::from_secs(minute * 60)).into()).await;
        if let Some(why) = failed.lock().ok().and_then(|g| g.clone()) {
            stop.store(true, Ordering::Relaxed);
            let _ = child.kill();
            anyhow::bail!("a write was refused at minute {minute}: {why}");
        }
        let m = client
            .get(format!("{url}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        let r = Reading {
            minute,
            rss_mib: rss_kib(pid) as f64 / 1024.0,
            // The manifest log: deltas since the previous checkpoint and
            // up to two checkpoints.
            manifest_kib: dir_bytes(&data.join("parquet/_manifest")) as f64 / 1024.0,
            wal_mib: dir_bytes(&data.join("wal")) as f64 / 1048576.0,
            hot_mib: metric(&m, "flarego_hot_bytes") / 1048576.0,
            stack_cache_mib: metric(&m, "flarego_stack_cache_bytes") / 1048576.0,
            stacks_evicted: metric(&m, "flarego_stacks_evicted"),
            requests: sent.load(Ordering::Relaxed),
        };
        if minute % 10 == 0 || minute <= 3 || minute == minutes {
            println!(
                "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {} |",
                r.minute,
                r.rss_mib,
                r.manifest_kib,
                r.wal_mib,
                r.hot_mib,
                r.stack_cache_mib,
                r.stacks_evicted,
                r.requests
            );
        }
        readings.push(r);
    }
    stop.store(true, Ordering::Relaxed);
    let _ = loader.await;
    let _ = child.kill();
    let _ = child.wait();
    let settled: Vec<&Reading> = readings.iter().filter(|r| r.minute >= 30).collect();
    if let (Some(first), Some(last)) = (settled.first(), settled.last()) {
        let span = |f: &dyn Fn(&Reading) -> f64| {
            let v: Vec<f64> = settled.iter().map(|r| f(r)).collect();
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (lo, hi)
        };
        let (rlo, rhi) = span(&|r| r.rss_mib);
        let (mlo, mhi) = span(&|r| r.manifest_kib);
        println!(
            "\nfrom minute {} to {}: RSS {:.1} → {:.1} MiB (range {rlo:.1}–{rhi:.1}), manifest {:.1} → {:.1} KiB (range {mlo:.1}–{mhi:.1}); {} requests of {} samples + 2 new stacks each, {rps}/s, instances replaced every 5 min",
            first.minute,
            last.minute,
            first.rss_mib,
            last.rss_mib,
            first.manifest_kib,
            last.manifest_kib,
            last.requests,
            shape.samples_per_window,
        );
    }
    Ok(())
}
