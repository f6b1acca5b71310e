//! Ingest with the cold tier on S3 (a real `moto_server`), against the
//! same load on a local disk in the same run: the ingest rate, whether
//! compaction and upload keep up (windows waiting for the store), and
//! how long the backlog of a 30 s outage takes to drain.

use crate::ingest::{Load, chrono_now_secs};
use crate::procs::{metric, spawn_server};
use flarego_tests::s3::MotoS3;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Phase {
    rate: f64,
    /// Windows due for the store but not in it yet (`flarego_backlog_bytes`).
    max_backlog_mib: f64,
    last_backlog_mib: f64,
}

async fn scrape(client: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    Ok(client
        .get(format!("{url}/metrics"))
        .send()
        .await?
        .text()
        .await?)
}

/// Loads the server for `seconds`, sampling its backlog every second;
/// `during` runs beside the load (an outage).
async fn phase(
    load: &Load,
    seconds: u64,
    per_profile: f64,
    during: impl std::future::Future<Output = ()>,
) -> anyhow::Result<Phase> {
    let done = Arc::new(AtomicU64::new(0));
    let refused: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let stop = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let sampler = {
        let (client, url) = (load.client.clone(), load.url.clone());
        tokio::spawn(async move {
            let mut max = 0.0f64;
            let mut last = 0.0f64;
            while Instant::now() < stop {
                if let Ok(m) = scrape(&client, &url).await {
                    last = metric(&m, "flarego_backlog_bytes") / 1048576.0;
                    max = max.max(last);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            (max, last)
        })
    };
    let (r, ()) = tokio::join!(load.run(stop, done.clone(), refused.clone()), during);
    r?;
    let secs = start.elapsed().as_secs_f64();
    if let Some(why) = refused.lock().ok().and_then(|g| g.clone()) {
        anyhow::bail!("the server refused a request, so the run has no figure: {why}");
    }
    let (max, last) = sampler.await?;
    Ok(Phase {
        rate: done.load(Ordering::Relaxed) as f64 * per_profile / secs,
        max_backlog_mib: max,
        last_backlog_mib: last,
    })
}

pub async fn run(seconds: u64, clients: usize, outage: u64) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let pdir = tmp.path().join("pprof");
    std::fs::create_dir_all(&pdir)?;
    let (files, _, samples) = crate::write_hour(
        &pdir,
        &crate::synth::Shape::default(),
        1_700_000_000_000_000_000,
    )?;
    let bodies = Arc::new(
        files
            .iter()
            .map(std::fs::read)
            .collect::<Result<Vec<_>, _>>()?,
    );
    let per_profile = samples as f64 / files.len() as f64;
    let client = reqwest::Client::new();
    let load_for = |url: &str| Load {
        client: client.clone(),
        url: url.to_string(),
        bodies: bodies.clone(),
        clients,
        span: Duration::ZERO,
        started_secs: chrono_now_secs(),
    };

    // Windows are due 5 s after they close (not the default 60 s), so
    // compaction and upload run all the time and an outage of 30 s leaves
    // a backlog to drain.
    const DUE_SOON: [&str; 2] = ["--hot-retention", "5s"];
    // Peer: the same server on a local disk.
    let (mut local, url, _) = spawn_server(&tmp.path().join("local"), &DUE_SOON)?;
    crate::procs::wait_ready(&client, &url).await?;
    let disk = phase(&load_for(&url), seconds, per_profile, async {}).await?;
    let _ = local.kill();
    let _ = local.wait();

    let moto = MotoS3::start()?;
    moto.create_bucket("bench").await?;
    let (mut server, url, _) = spawn_server(
        &tmp.path().join("s3"),
        &[
            DUE_SOON[0],
            DUE_SOON[1],
            "--object-store",
            "s3://bench/flarego",
            "--s3-endpoint",
            &moto.url,
            "--store-allow-http",
            "--s3-region",
            "us-east-1",
            "--s3-access-key-id",
            "test",
            "--s3-secret-access-key",
            "test",
            "--store-request-timeout",
            "5s",
            "--store-retry-timeout",
            "10s",
        ],
    )?;
    crate::procs::wait_ready(&client, &url).await?;
    let load = load_for(&url);
    let s3 = phase(&load, seconds, per_profile, async {}).await?;

    // The outage: the store stops answering for `outage` seconds under
    // the same load, then the load goes on until the backlog is back to
    // what it was before (or two minutes pass).
    let before = s3.max_backlog_mib;
    let during = phase(&load, outage + 5, per_profile, async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        moto.pause();
        tokio::time::sleep(Duration::from_secs(outage)).await;
        moto.resume();
    })
    .await?;
    let resumed = Instant::now();
    let mut drained = None;
    while resumed.elapsed() < Duration::from_secs(120) {
        let after = phase(&load, 2, per_profile, async {}).await?;
        let m = scrape(&client, &url).await?;
        if metric(&m, "flarego_store_up") == 1.0 && after.last_backlog_mib <= before {
            drained = Some(resumed.elapsed().as_secs_f64());
            break;
        }
    }
    // Without load, if it had not drained under it.
    let mut idle_drain = None;
    if drained.is_none() {
        let idle = Instant::now();
        while idle.elapsed() < Duration::from_secs(120) {
            let m = scrape(&client, &url).await?;
            if metric(&m, "flarego_store_up") == 1.0
                && metric(&m, "flarego_backlog_bytes") / 1048576.0 <= before
            {
                idle_drain = Some(idle.elapsed().as_secs_f64());
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let _ = server.kill();
    let _ = server.wait();

    println!(
        "load: {clients} HTTP clients, gzipped CPU pprof of {per_profile:.0} samples each, dated now; {seconds} s per store"
    );
    println!("| store | samples/s | backlog (due, not yet stored), max |");
    println!("|---|---|---|");
    println!(
        "| local disk (peer) | {:.0} | {:.1} MiB |",
        disk.rate, disk.max_backlog_mib
    );
    println!(
        "| S3 (moto) | {:.0} | {:.1} MiB |",
        s3.rate, s3.max_backlog_mib
    );
    println!(
        "outage of {outage} s under load: backlog peaked at {:.1} MiB (ingest {:.0} samples/s meanwhile); drained to the pre-outage {:.1} MiB {}",
        during.max_backlog_mib,
        during.rate,
        before,
        match (drained, idle_drain) {
            (Some(s), _) => format!("{s:.1} s after the store returned, under the same load"),
            (None, Some(i)) => format!(
                "NOT within 120 s under the same load; once the load stopped, in {i:.1} s more"
            ),
            (None, None) => "NOT within 120 s under load, nor 120 s after it stopped".to_string(),
        }
    );
    Ok(())
}
