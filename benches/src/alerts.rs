//! Alert rules at scale: N rules, each `share(cpu, frame = "F") > T` over
//! the synthetic service (every 10 s, lookback 1 m), with S distinct
//! frames so N / S rules share each selection. The server's CPU is read
//! from `/proc` over the same live load three times, each on a fresh
//! server: no rules, rules with shared scans, rules each running its own.

use crate::procs::{cpu_secs, metric, spawn_server, wait_ready};
use crate::synth::{Shape, stack_pool, window_profile};
use std::time::{Duration, Instant};

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// A rule file: `rules` rules over `selections` distinct frames.
fn rules_file(frames: &[String], rules: usize, selections: usize) -> String {
    let mut out = String::new();
    for i in 0..rules {
        let frame = &frames[i % selections];
        let threshold = 0.5 * (1 + i / selections) as f64;
        out.push_str(&format!(
            "[[rule]]\nname = \"r{i}\"\nexpr = 'share(cpu, frame = \"{frame}\") > {threshold}%'\nevery = \"10s\"\nwindow = \"1m\"\n\n"
        ));
    }
    out
}

struct Run {
    cpu_percent: f64,
    queries: f64,
    evaluations: f64,
    eval_seconds: f64,
    firing: f64,
}

/// Posts one window per instance, dated `at_ns`.
async fn feed(
    client: &reqwest::Client,
    url: &str,
    pool: &[Vec<String>],
    shape: &Shape,
    instances: usize,
    window: usize,
    at_ns: i64,
) -> anyhow::Result<()> {
    for i in 0..instances {
        let (gz, _) = window_profile(pool, shape, window * instances + i, at_ns);
        let r = client
            .post(format!(
                "{url}/ingest?name=bench.cpu%7Binstance%3Dpod-{i}%7D&format=pprof&from={}",
                at_ns / 1_000_000_000
            ))
            .body(gz)
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "ingest refused: {}", r.status());
    }
    Ok(())
}

async fn one(
    rules: Option<(&str, bool)>,
    seconds: u64,
    instances: usize,
    pool: &[Vec<String>],
    shape: &Shape,
) -> anyhow::Result<Run> {
    let tmp = tempfile::tempdir()?;
    let mut extra: Vec<String> = Vec::new();
    if let Some((text, shared)) = rules {
        let path = tmp.path().join("rules.toml");
        std::fs::write(&path, text)?;
        extra.extend([
            "--alert-rules".into(),
            path.display().to_string(),
            "--alert-shared-scans".into(),
            shared.to_string(),
        ]);
    }
    let args: Vec<&str> = extra.iter().map(String::as_str).collect();
    let (child, url, _) = spawn_server(&tmp.path().join("data"), &args)?;
    let client = reqwest::Client::new();
    wait_ready(&client, &url).await?;
    let pid = child.id().to_string();
    // The last minute already there, then one window per 10 s.
    let start_ns = now_ns();
    for w in 0..6 {
        feed(
            &client,
            &url,
            pool,
            shape,
            instances,
            w,
            start_ns - (6 - w as i64) * 10_000_000_000,
        )
        .await?;
    }
    // Warm-up: the first evaluations.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let m0 = client
        .get(format!("{url}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let (cpu0, t0) = (cpu_secs(&pid), Instant::now());
    let mut w = 6;
    while t0.elapsed() < Duration::from_secs(seconds) {
        feed(&client, &url, pool, shape, instances, w, now_ns()).await?;
        w += 1;
        tokio::time::sleep(
            Duration::from_secs(10).min(Duration::from_secs(seconds).saturating_sub(t0.elapsed())),
        )
        .await;
    }
    let (cpu1, wall) = (cpu_secs(&pid), t0.elapsed().as_secs_f64());
    let m1 = client
        .get(format!("{url}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let d = |name: &str| metric(&m1, name) - metric(&m0, name);
    Ok(Run {
        cpu_percent: 100.0 * (cpu1 - cpu0) / wall,
        queries: d("flarego_alert_queries_total") * 10.0 / wall,
        evaluations: d("flarego_alert_evaluations_total") * 10.0 / wall,
        eval_seconds: d("flarego_alert_evaluation_seconds_total"),
        firing: metric(&m1, "flarego_alert_firing"),
    })
}

pub async fn run(
    rules: usize,
    selections: usize,
    seconds: u64,
    instances: usize,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        selections >= 1 && selections <= rules,
        "--selections must be 1..=rules"
    );
    let shape = Shape::default();
    let pool = stack_pool(&shape);
    let mut frames: Vec<String> = pool.iter().flatten().cloned().collect();
    frames.sort();
    frames.dedup();
    anyhow::ensure!(
        frames.len() >= selections,
        "the pool has {} functions",
        frames.len()
    );
    // Spread over the pool, so shares differ.
    let step = frames.len() / selections;
    let frames: Vec<String> = (0..selections).map(|i| frames[i * step].clone()).collect();
    let text = rules_file(&frames, rules, selections);
    let base = one(None, seconds, instances, &pool, &shape).await?;
    let shared = one(Some((&text, true)), seconds, instances, &pool, &shape).await?;
    let unshared = one(Some((&text, false)), seconds, instances, &pool, &shape).await?;
    println!(
        "{rules} rules (share of CPU in one of {selections} frames, {} thresholds each), every 10 s over a 1 m lookback; synthetic service, {instances} instances, one CPU profile per instance per 10 s; {seconds} s measured per configuration",
        rules / selections
    );
    println!(
        "| configuration | server CPU, % of one core | over no rules | rule evaluations / 10 s | queries / 10 s | evaluation time / 10 s | firing |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, r) in [
        ("no rules", &base),
        ("shared scans", &shared),
        ("one scan per rule", &unshared),
    ] {
        let per10 = r.eval_seconds * 10.0 / seconds as f64;
        println!(
            "| {name} | {:.2}% | {:+.2} points | {:.0} | {:.0} | {:.0} ms | {:.0} |",
            r.cpu_percent,
            r.cpu_percent - base.cpu_percent,
            r.evaluations,
            r.queries,
            per10 * 1e3,
            r.firing
        );
    }
    Ok(())
}
