//! Live tail under load: ingest throughput (8 clients posting the
//! synthetic service's CPU profiles) with no subscribers, then with N
//! WebSocket subscribers connected; and the latency from a write's ack to
//! its update at every subscriber. The subscribers watch a probe service
//! that gets one small write every 50 ms (each probe's ack time is
//! recorded; the k-th update a subscriber receives is the k-th probe).

use crate::procs::metric;
use crate::procs::spawn_server;
use crate::synth::Shape;
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

async fn rows(client: &reqwest::Client, url: &str) -> anyhow::Result<f64> {
    let m = client
        .get(format!("{url}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    Ok(metric(&m, "flarego_ingest_rows_total"))
}

/// Samples per second ingested by `clients` for `seconds`.
async fn load(
    client: &reqwest::Client,
    url: &str,
    bodies: &Arc<Vec<Vec<u8>>>,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<f64> {
    let before = rows(client, url).await?;
    let stop = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, url, bodies) = (client.clone(), url.to_string(), bodies.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = c;
            while Instant::now() < stop {
                // dated now, as an SDK sends live data
                let from = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let r = client
                    .post(format!(
                        "{url}/ingest?name=bench.cpu&format=pprof&from={from}"
                    ))
                    .body(bodies[i % bodies.len()].clone())
                    .send()
                    .await?;
                anyhow::ensure!(r.status().is_success(), "ingest refused: {}", r.status());
                i += clients;
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = start.elapsed().as_secs_f64();
    // A CPU pprof sample is two rows (samples, cpu).
    Ok((rows(client, url).await? - before) / 2.0 / secs)
}

pub async fn run(subscribers: usize, seconds: u64, clients: usize) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let pdir = tmp.path().join("pprof");
    std::fs::create_dir_all(&pdir)?;
    let (files, _, _) = crate::write_hour(&pdir, &Shape::default(), 1_700_000_000_000_000_000)?;
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        files
            .iter()
            .map(std::fs::read)
            .collect::<Result<Vec<_>, _>>()?,
    );
    let (mut child, url, _) = spawn_server(
        &tmp.path().join("data"),
        &["--max-connections", &(subscribers + 64).to_string()],
    )?;
    let client = reqwest::Client::new();
    crate::procs::wait_ready(&client, &url).await?;
    load(&client, &url, &bodies, clients, 3).await?; // warm-up

    let alone = load(&client, &url, &bodies, clients, seconds).await?;

    // Subscribers, each recording when each update arrives.
    let ws_url = format!(
        "{}/api/v1/live?service=probe",
        url.replacen("http", "ws", 1)
    );
    let stop = Arc::new(AtomicBool::new(false));
    let mut subs = Vec::new();
    for _ in 0..subscribers {
        let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url).await?;
        // The `subscribed` message.
        ws.next().await;
        let stop = stop.clone();
        subs.push(tokio::spawn(async move {
            let mut arrivals: Vec<Instant> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_millis(200), ws.next()).await {
                    Ok(Some(Ok(Message::Text(t)))) if t.contains("\"type\":\"update\"") => {
                        arrivals.push(Instant::now());
                    }
                    Ok(Some(Ok(_))) | Err(_) => {}
                    Ok(_) => break,
                }
            }
            arrivals
        }));
    }
    // Probes: one small write every 50 ms, acks timed.
    let acks: Arc<std::sync::Mutex<Vec<Instant>>> = Arc::default();
    let probing = {
        let (client, url, acks, stop) = (client.clone(), url.clone(), acks.clone(), stop.clone());
        let sent = Arc::new(AtomicU64::new(0));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let n = sent.fetch_add(1, Ordering::Relaxed);
                let r = client
                    .post(format!("{url}/ingest?name=probe.cpu&format=folded"))
                    .body(format!("main;probe{} 1\n", n % 10))
                    .send()
                    .await;
                if r.is_ok_and(|r| r.status().is_success())
                    && let Ok(mut a) = acks.lock()
                {
                    a.push(Instant::now());
                }
            }
        })
    };
    let with = load(&client, &url, &bodies, clients, seconds).await?;
    // Let the last probes arrive, then stop.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    probing.await?;
    let acks = acks.lock().map(|a| a.clone()).unwrap_or_default();
    let mut lat_ms: Vec<f64> = Vec::new();
    let mut incomplete = 0;
    for s in subs {
        let arrivals = s.await?;
        if arrivals.len() < acks.len().saturating_sub(1) {
            incomplete += 1;
        }
        for (ack, got) in acks.iter().zip(&arrivals) {
            lat_ms.push(got.saturating_duration_since(*ack).as_secs_f64() * 1000.0);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lat_ms.sort_by(f64::total_cmp);
    let q = |p: f64| {
        lat_ms
            .get(((lat_ms.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "ingest: {clients} clients posting CPU pprof for {seconds} s; {subscribers} subscribers on a probe service written every 50 ms"
    );
    println!("| | ingest samples/s | ack → update p50 | p99 | max |");
    println!("|---|---|---|---|---|");
    println!("| no subscribers | {alone:.0} | | | |");
    println!(
        "| {subscribers} subscribers | {with:.0} ({:+.1}%) | {:.1} ms | {:.1} ms | {:.1} ms |",
        100.0 * (with - alone) / alone,
        q(0.5),
        q(0.99),
        q(1.0)
    );
    println!(
        "{} probes acknowledged, {} updates timed; {incomplete} subscribers received fewer updates than probes",
        acks.len(),
        lat_ms.len()
    );
    Ok(())
}
