//! Flame graphs over long ranges with the cold tier on S3 (a real
//! `moto_server`): 7 and 30 days of the synthetic service, answered by
//! the release server from rollups, by the same server reading raw rows
//! only (`--query-rollups false`), and by DuckDB computing the same
//! per-stack sums over the raw Parquet files, in one run. DuckDB reads
//! them from local disk (a copy of the store's raw objects), since its S3
//! reader is an extension it would have to download. Then the bytes on
//! the store per day, raw and rollups, against the day's gzipped pprof.
//!
//! The data is written through the storage engine in process (an hour
//! of windows per write), then compacted, rolled up and merged into days
//! exactly as the server's compactor does.

use crate::procs::spawn_server;
use crate::synth::{self, Shape};
use flarego_storage::config::{ColdStoreConfig, StorageConfig};
use flarego_storage::rollup::{HOUR_NS, MINUTE_NS};
use flarego_storage::{
    Engine, FileKind, Frames, SeriesKey, SeriesSamples, StackId, StoreOptions, TenantId, WriteBatch,
};
use flarego_tests::s3::MotoS3;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

const DAY_NS: i64 = 24 * HOUR_NS;
const WINDOW_NS: i64 = 10_000_000_000;
const BUCKET: &str = "rollups";

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn storage_config(data: &std::path::Path, moto: &MotoS3) -> StorageConfig {
    StorageConfig {
        data_dir: data.to_path_buf(),
        cold: ColdStoreConfig::Remote(format!("s3://{BUCKET}/p")),
        store: StoreOptions {
            s3_endpoint: Some(moto.url.clone()),
            s3_region: Some("us-east-1".into()),
            s3_access_key_id: Some("test".into()),
            s3_secret_access_key: Some("test".into()),
            allow_http: true,
            ..Default::default()
        },
        node_id: Some("bench".into()),
        // Replaced files go at once: DuckDB reads the directory as it is.
        delete_grace: Duration::ZERO,
        // Compactions and merges only when this harness runs them.
        compaction_interval: Duration::from_secs(30 * 86_400),
        ..Default::default()
    }
}

/// Writes `days` closed days ending at `end` and merges them into hour
/// files with 1 m rollups and day files with 1 h rollups.
async fn generate(engine: &Engine, shape: &Shape, end: i64, days: usize) -> anyhow::Result<u64> {
    let pool = synth::stack_pool(shape);
    let stacks: Vec<(StackId, Frames)> = pool
        .iter()
        .map(|s| {
            let frames: Frames = s
                .iter()
                .map(|f| Arc::<str>::from(f.as_str()))
                .collect::<Vec<_>>()
                .into();
            (StackId::of_frames(&frames), frames)
        })
        .collect();
    let key = SeriesKey {
        tenant: TenantId::default_tenant(),
        service: "synthetic".into(),
        instance: "i-1".into(),
        profile_type: "cpu".into(),
        unit: "nanoseconds".into(),
        state: None,
        labels: Default::default(),
    };
    let start = end - days as i64 * DAY_NS;
    let windows_per_hour = (HOUR_NS / WINDOW_NS) as usize;
    let mut rows = 0u64;
    let t = Instant::now();
    for day in 0..days {
        for hour in 0..24 {
            let mut batch = WriteBatch::default();
            let mut used = std::collections::BTreeSet::new();
            for w in 0..windows_per_hour {
                let window = (day * 24 + hour) * windows_per_hour + w;
                let samples = synth::window_samples(&pool, shape, window);
                rows += samples.len() as u64;
                used.extend(samples.iter().map(|(i, _)| *i));
                batch.series.push(SeriesSamples {
                    time_ns: start + window as i64 * WINDOW_NS,
                    key: key.clone(),
                    samples: samples
                        .into_iter()
                        .map(|(i, n)| (stacks[i].0, n * 10_000_000))
                        .collect(),
                });
            }
            batch.stacks = used.into_iter().map(|i| stacks[i].clone()).collect();
            engine.write(vec![], batch).await?;
        }
        engine.flush().await?;
    }
    println!(
        "wrote {days} days, {rows} rows, in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    // Hours: rolled up (1 m); then days merged once their groups have
    // been seen stable for a pass (1 h rollups).
    engine.merge_small_files(true).await?;
    engine.merge_small_files(false).await?;
    engine.merge_small_files(false).await?;
    println!("rolled up and merged in {:.1} s", t.elapsed().as_secs_f64());
    Ok(rows)
}

/// Best and median seconds of `runs` GETs of `path`.
async fn time_get(
    client: &reqwest::Client,
    url: &str,
    path: &str,
    runs: usize,
) -> anyhow::Result<(f64, f64)> {
    let mut secs = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let r = client.get(format!("{url}{path}")).send().await?;
        let status = r.status();
        let body = r.bytes().await?;
        anyhow::ensure!(
            status.is_success(),
            "{path}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        secs.push(t.elapsed().as_secs_f64());
    }
    secs.sort_by(f64::total_cmp);
    Ok((secs[0], secs[secs.len() / 2]))
}

/// Copies the store's raw Parquet objects (not the rollups) below `dir`.
async fn copy_raw(config: &StorageConfig, dir: &std::path::Path) -> anyhow::Result<u64> {
    let store = flarego_storage::store::open(config)?;
    let objects: Vec<_> = store.list(None).try_collect().await?;
    let mut bytes = 0;
    for o in objects {
        let path = o.location.to_string();
        if !path.ends_with(".parquet") || path.starts_with("rollups/") {
            continue;
        }
        let body = store.get(&o.location).await?.bytes().await?;
        let target = dir.join(&path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, &body)?;
        bytes += body.len() as u64;
    }
    Ok(bytes)
}

fn ms(s: f64) -> String {
    format!("{:.0} ms", s * 1000.0)
}

pub async fn run(
    days: usize,
    stacks_per_window: usize,
    busy: bool,
    runs: usize,
) -> anyhow::Result<()> {
    let days = days.max(7);
    let moto = MotoS3::start()?;
    moto.create_bucket(BUCKET).await?;
    let tmp = tempfile::tempdir()?;
    let config = storage_config(&tmp.path().join("gen"), &moto);
    let shape = Shape {
        windows: days * 8640,
        samples_per_window: stacks_per_window,
        every_stack: busy,
        ..Shape::default()
    };
    let end = now_ns().div_euclid(DAY_NS) * DAY_NS;
    let engine = Engine::open(config.clone(), Arc::new(|_, _| Err("not replayed".into()))).await?;
    let rows = generate(&engine, &shape, end, days).await?;
    let manifest = engine.snapshot().manifest.clone();
    let whole_days = manifest
        .files_of(FileKind::Samples, None)
        .filter(|f| f.rollup_steps() == [MINUTE_NS, HOUR_NS])
        .count();
    anyhow::ensure!(
        whole_days == days,
        "expected {days} day files with both rollups, found {whole_days}"
    );
    // Bytes per day on the store.
    let by_step = |step: Option<i64>| -> u64 {
        manifest
            .files
            .iter()
            .filter(|f| f.kind == FileKind::Samples && f.step_ns == step)
            .map(|f| f.bytes)
            .sum::<u64>()
            / days as u64
    };
    let (raw_day, m_day, h_day) = (
        by_step(None),
        by_step(Some(MINUTE_NS)),
        by_step(Some(HOUR_NS)),
    );
    drop(manifest);
    let pool = synth::stack_pool(&shape);
    let mut pprof_day = 0u64;
    for w in 0..8640 {
        pprof_day += synth::window_profile(&pool, &shape, w, end + w as i64 * WINDOW_NS)
            .0
            .len() as u64;
    }

    // The release server on the same store and node (another data
    // directory: this process still holds the first).
    let flags = [
        "--object-store",
        &format!("s3://{BUCKET}/p"),
        "--s3-endpoint",
        moto.url.as_str(),
        "--s3-region",
        "us-east-1",
        "--s3-access-key-id",
        "test",
        "--s3-secret-access-key",
        "test",
        "--store-allow-http",
        "--node-id",
        "bench",
        "--compaction-interval",
        "30d",
    ]
    .map(String::from);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    // 7 and 30 days ending at midnight, and the same with edges inside
    // minutes (whole seconds: the read API takes seconds).
    let long = 30.min(days as i64);
    let ranges: Vec<(i64, i64)> = [(7, 0), (7, 1234), (long, 0), (long, 1234)]
        .iter()
        .map(|&(d, off): &(i64, i64)| {
            let s = 1_000_000_000;
            (end - d * DAY_NS + off * s, end - off / 2 * s)
        })
        .collect();
    let mut results = Vec::new();
    for rollups in ["true", "false"] {
        let mut extra = flags.clone();
        extra.extend(["--query-rollups", rollups]);
        let data = tmp.path().join(format!("serve-{rollups}"));
        let (_server, url, _) = spawn_server(&data, &extra)?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(600))
            .build()?;
        crate::procs::wait_ready(&client, &url).await?;
        let mut row = Vec::new();
        for &(f, t) in &ranges {
            let path = format!(
                "/api/v1/flamegraph?service=synthetic&profile_type=cpu&from={}&to={}",
                f / 1_000_000_000,
                t / 1_000_000_000
            );
            // The first request reads footers into the caches.
            time_get(&client, &url, &path, 1).await?;
            row.push(time_get(&client, &url, &path, runs).await?);
        }
        results.push(row);
    }

    // DuckDB over the raw files, copied to local disk.
    let local = tmp.path().join("raw");
    let raw_bytes = copy_raw(&config, &local).await?;
    let mut duck_args = vec![local.display().to_string(), runs.to_string()];
    for (i, (f, t)) in ranges.iter().enumerate() {
        duck_args.push(format!("r{i}:{f}:{t}"));
    }
    let duck_secs = crate::read::duck_flame(&duck_args)?;
    drop(engine);
    drop(moto);

    println!(
        "\ndata: {days} days of the synthetic service ({} stacks, {} per 10 s window), {rows} raw rows, {} MiB raw Parquet on moto S3",
        shape.stacks,
        if busy {
            "every one".to_string()
        } else {
            format!("~{stacks_per_window}")
        },
        raw_bytes / 1_048_576
    );
    println!(
        "\n| flame graph (best / median of {runs}) | FlareGo, rollups | FlareGo, raw rows only | DuckDB, raw files on local disk | rollups vs DuckDB |"
    );
    println!("|---|---|---|---|---|");
    let labels = [
        "7 days, aligned to the hour",
        "7 days, edges inside minutes",
        "30 days, aligned to the hour",
        "30 days, edges inside minutes",
    ];
    for (i, label) in labels.iter().enumerate() {
        let (r, w) = (results[0][i], results[1][i]);
        let d = duck_secs.get(i).copied().unwrap_or(f64::NAN);
        println!(
            "| {label} | {} / {} | {} / {} | {} | {:.2}× |",
            ms(r.0),
            ms(r.1),
            ms(w.0),
            ms(w.1),
            ms(d),
            r.0 / d
        );
    }
    println!(
        "\n| bytes per day | raw | 1 m rollups | 1 h rollup | gzipped pprof |\n|---|---|---|---|---|\n| synthetic service | {raw_day} ({:.3}×) | {m_day} ({:.3}×) | {h_day} ({:.4}×) | {pprof_day} |",
        raw_day as f64 / pprof_day as f64,
        m_day as f64 / pprof_day as f64,
        h_day as f64 / pprof_day as f64,
    );
    Ok(())
}
