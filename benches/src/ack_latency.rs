//! How long small writes wait for their ack while the server merges a
//! large hour: the same steady load first with no merge, then during a
//! forced merge of an hour written as many small files. Run it against an
//! older `flarego` (`--server-bin`) to compare builds.

use crate::procs::spawn_server_bin;
use crate::synth::Shape;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn quantile(v: &mut [u64], q: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Posts small folded writes from `clients` tasks until `stop`; returns
/// each ack's latency in µs.
async fn load(url: String, clients: usize, stop: Arc<AtomicBool>) -> anyhow::Result<Vec<u64>> {
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (url, stop) = (url.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut lat = Vec::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let body = format!(
                    "main;handler;f{} {}\nmain;idle 1\n",
                    (i + c as u64) % 50,
                    i + 1
                );
                let t = Instant::now();
                let r = client
                    .post(format!(
                        "{url}/ingest?name=ack.cpu&format=folded&sampleRate=100"
                    ))
                    .body(body)
                    .send()
                    .await?;
                anyhow::ensure!(r.status().is_success(), "write refused: {}", r.status());
                lat.push(t.elapsed().as_micros() as u64);
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

pub async fn run(seconds: u64, server_bin: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let bin = match server_bin {
        Some(b) => b,
        None => crate::sibling_bin("flarego")?,
    };
    let tmp = tempfile::tempdir()?;
    let (mut child, url, _) = spawn_server_bin(&bin, &tmp.path().join("data"), &[])?;
    let client = reqwest::Client::new();
    crate::procs::wait_ready(&client, &url).await?;
    // An hour three hours ago, written as 36 files of ten windows each.
    let shape = Shape::default();
    let pool = crate::synth::stack_pool(&shape);
    let hour = (now_secs() - 3 * 3600) / 3600 * 3600;
    let mut samples = 0usize;
    for batch in 0..36 {
        for w in 0..10 {
            let i = batch * 10 + w;
            let (body, n) = crate::synth::window_profile(&pool, &shape, i, 0);
            samples += n;
            let r = client
                .post(format!(
                    "{url}/ingest?name=merge.cpu&format=pprof&from={}",
                    hour + i as i64 * 10
                ))
                .body(body)
                .send()
                .await?;
            anyhow::ensure!(
                r.status().is_success(),
                "seed write refused: {}",
                r.status()
            );
        }
        let r = client
            .post(format!("{url}/api/v1/admin/flush"))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "flush failed: {}", r.status());
    }

    // No merge.
    let stop = Arc::new(AtomicBool::new(false));
    let quiet = tokio::spawn(load(url.clone(), 4, stop.clone()));
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut quiet = quiet.await??;

    // During the merge: the load runs `seconds` around it.
    let stop = Arc::new(AtomicBool::new(false));
    let busy = tokio::spawn(load(url.clone(), 4, stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = Instant::now();
    let r = client
        .post(format!("{url}/api/v1/admin/flush?merge=all"))
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "merge failed: {}", r.status());
    let merge_secs = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut busy = busy.await??;
    let _ = child.kill();
    let _ = child.wait();

    println!(
        "server: {}; merge of one hour ({} samples in 36 files) took {merge_secs:.2} s",
        bin.display(),
        samples
    );
    println!("| phase | acks | p50 µs | p99 µs | max µs |");
    println!("|---|---|---|---|---|");
    for (name, v) in [("no merge", &mut quiet), ("during the merge", &mut busy)] {
        let n = v.len();
        let (p50, p99) = (quantile(v, 0.5), quantile(v, 0.99));
        println!(
            "| {name} | {n} | {p50} | {p99} | {} |",
            v.last().copied().unwrap_or(0)
        );
    }
    Ok(())
}
