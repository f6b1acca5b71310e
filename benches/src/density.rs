//! Parquet density: one synthetic hour written through the real decoder
//! and compactor, against its gzipped pprof.

use crate::synth::Shape;
use flarego_ingest::Limits;
use flarego_ingest::decode::budget::MemoryCharge;
use flarego_ingest::record::{IngestRecord, Source, replay_decoder};
use flarego_storage::{ColdStoreConfig, Engine, StorageConfig, TenantId};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

const T0: i64 = 1_700_000_000_000_000_000 - 1_700_000_000_000_000_000 % 3_600_000_000_000;

async fn ingest_hour(
    dir: &std::path::Path,
    files: &[std::path::PathBuf],
    flush_every: usize,
    merge: bool,
) -> anyhow::Result<(u64, u64, usize)> {
    let config = StorageConfig {
        data_dir: dir.to_path_buf(),
        hot_retention: Duration::from_secs(86400 * 365),
        cold: ColdStoreConfig::LocalDir(None),
        ..Default::default()
    };
    let engine = Engine::open(config, Arc::new(replay_decoder)).await?;
    for (i, f) in files.iter().enumerate() {
        let rec = IngestRecord {
            tenant: TenantId::default_tenant(),
            received_ns: T0,
            source: Source::Pprof {
                service: "synthetic".into(),
                instance: "host-1".into(),
                labels: BTreeMap::new(),
                hint: String::new(),
                time_ns: Some(T0 + i as i64 * 10_000_000_000),
                renames: HashMap::new(),
            },
            parts: vec![std::fs::read(f)?],
        };
        let batch = rec.decode(
            engine.stacks(),
            &Limits::unlimited(),
            &mut MemoryCharge::unlimited(),
        )?;
        engine.write(rec.encode(), batch).await?;
        if (i + 1) % flush_every == 0 {
            engine.flush().await?;
        }
    }
    engine.flush().await?;
    if merge {
        engine.merge_small_files(true).await?;
    }
    let snap = engine.snapshot();
    let samples: u64 = snap
        .manifest
        .files
        .iter()
        .filter(|f| f.kind == flarego_storage::FileKind::Samples)
        .map(|f| f.bytes)
        .sum();
    let stacks: u64 = snap
        .manifest
        .files
        .iter()
        .filter(|f| f.kind == flarego_storage::FileKind::Stacks)
        .map(|f| f.bytes)
        .sum();
    let rows: u64 = snap
        .manifest
        .files
        .iter()
        .filter(|f| f.kind == flarego_storage::FileKind::Samples)
        .map(|f| f.rows)
        .sum();
    Ok((samples, stacks, rows as usize))
}

/// The synthetic hour (skewed: a few hot stacks, a long tail), or with
/// `busy`, every one of its 2,000 stacks in every window.
pub async fn run(busy: bool) -> anyhow::Result<()> {
    let shape = Shape {
        every_stack: busy,
        ..Shape::default()
    };
    let tmp = tempfile::tempdir()?;
    let pprof_dir = tmp.path().join("pprof");
    std::fs::create_dir_all(&pprof_dir)?;
    let (files, gz_bytes, samples) = crate::write_hour(&pprof_dir, &shape, T0)?;
    println!(
        "synthetic hour: {} windows, {} stacks, {samples} pprof samples, {gz_bytes} bytes of gzipped pprof",
        shape.windows, shape.stacks
    );
    println!();
    println!("| layout | samples files | stacks files | total | bytes/sample | × gzipped pprof |");
    println!("|---|---|---|---|---|---|");
    for (i, (label, every, merge)) in [
        ("one compaction for the hour", usize::MAX, false),
        (
            "a compaction per window (the default), before the hourly merge",
            1,
            false,
        ),
        ("a compaction per window, after the hourly merge", 1, true),
    ]
    .into_iter()
    .enumerate()
    {
        let dir = tmp.path().join(format!("data-{i}"));
        let (s, st, _rows) = ingest_hour(&dir, &files, every, merge).await?;
        let total = s + st;
        println!(
            "| {label} | {s} | {st} | {total} | {:.2} | {:.3} |",
            total as f64 / samples as f64,
            total as f64 / gz_bytes as f64
        );
    }
    Ok(())
}
