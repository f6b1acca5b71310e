//! The flame-graph aggregation over N sample rows: FlareGo's SQL against
//! DuckDB reading the same Parquet files, in one run.

use flarego_query::{QueryConfig, QueryEngine};
use flarego_storage::{
    ColdStoreConfig, Engine, SeriesKey, SeriesSamples, StackId, StorageConfig, TenantId, WriteBatch,
};
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const DUCK: &str = r#"
import sys, time, duckdb
d, runs = sys.argv[1], int(sys.argv[2])
samples = f"read_parquet('{d}/tenant=*/date=*/hour=*/samples-*.parquet', hive_partitioning = false)"
stacks = f"read_parquet('{d}/stacks/*.parquet')"
con = duckdb.connect()
for label, q in [("stack_id", f"SELECT stack_id, sum(value) FROM {samples} GROUP BY stack_id"),
                 ("frames", f"SELECT st.frames, sum(s.value) FROM {samples} s JOIN {stacks} st USING (stack_id) GROUP BY st.frames")]:
    best = 1e9
    for _ in range(runs):
        t = time.perf_counter(); n = len(con.sql(q).fetchall()); best = min(best, time.perf_counter() - t)
    print(label, best, n)
"#;

pub async fn run(rows: usize, runs: usize, partitions: Option<usize>) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let config = StorageConfig {
        data_dir: tmp.path().to_path_buf(),
        hot_retention: Duration::from_secs(86400 * 365),
        cold: ColdStoreConfig::LocalDir(None),
        // DuckDB reads the directory as it is: replaced files go at once.
        delete_grace: Duration::ZERO,
        ..Default::default()
    };
    let engine = Engine::open(
        config,
        Arc::new(|_: &[u8], _: &flarego_storage::StackTable| Err("not replayed".to_string())),
    )
    .await?;
    let shape = crate::synth::Shape::default();
    let pool = crate::synth::stack_pool(&shape);
    let ids: Vec<StackId> = pool.iter().map(|s| StackId::of_frames(s)).collect();
    let key = SeriesKey {
        tenant: TenantId::default_tenant(),
        service: "synthetic".into(),
        instance: "host-1".into(),
        profile_type: "cpu".into(),
        unit: "nanoseconds".into(),
        state: None,
        labels: BTreeMap::new(),
    };
    let windows = rows.div_ceil(pool.len());
    let t0 = 1_700_000_000_000_000_000i64;
    for w in 0..windows {
        let mut batch = WriteBatch::default();
        if w == 0 {
            batch.stacks = pool
                .iter()
                .zip(&ids)
                .map(|(s, id)| {
                    (
                        *id,
                        s.iter().map(|f| Arc::<str>::from(f.as_str())).collect(),
                    )
                })
                .collect();
        }
        let n = pool.len().min(rows - w * pool.len());
        batch.series.push(SeriesSamples {
            time_ns: t0 + w as i64 * 10_000_000_000,
            key: key.clone(),
            samples: (0..n)
                .map(|i| (ids[i], 1 + ((i * 7 + w) % 13) as i64))
                .collect(),
        });
        engine.write(Vec::new(), batch).await?;
        if (w + 1) % 360 == 0 {
            engine.flush().await?;
        }
    }
    engine.flush().await?;
    // The layout the compactor converges on (one file per hour), before
    // timing, so no merge runs during the measurements.
    engine.merge_small_files(true).await?;
    let mut qc = QueryConfig::default();
    if let Some(p) = partitions {
        qc.target_partitions = p;
    }
    let query = QueryEngine::new(engine.clone(), qc)?;
    let n_rows = query.sql(None, "SELECT count(*) FROM profiles").await?;
    let counted = n_rows.batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .map(|a| a.value(0))
        .unwrap_or(0);
    println!(
        "{counted} rows in {} windows, {} stacks, all in Parquet",
        windows,
        pool.len()
    );

    if std::env::var("FLAREGO_BENCH_EXPLAIN").is_ok() {
        for sql in [
            "EXPLAIN ANALYZE SELECT stack_id, sum(value) FROM profiles GROUP BY stack_id",
            "EXPLAIN ANALYZE SELECT frames, sum(value) FROM profiles GROUP BY frames",
        ] {
            let out = query.sql(None, sql).await?;
            let v = flarego_query::output::to_json(&out)?;
            for row in v["rows"].as_array().into_iter().flatten() {
                println!("{}", row[1].as_str().unwrap_or(""));
            }
        }
    }
    let mut ours = Vec::new();
    for (label, sql) in [
        (
            "stack_id",
            "SELECT stack_id, sum(value) FROM profiles GROUP BY stack_id",
        ),
        (
            "frames",
            "SELECT frames, sum(value) FROM profiles GROUP BY frames",
        ),
    ] {
        let mut best = f64::MAX;
        let mut groups = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let out = query.sql(None, sql).await?;
            best = best.min(t.elapsed().as_secs_f64());
            groups = out.num_rows();
        }
        ours.push((label, best, groups));
    }
    let out = Command::new("python3")
        .arg("-c")
        .arg(DUCK)
        .arg(tmp.path().join("parquet"))
        .arg(runs.to_string())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "duckdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let duck: Vec<(String, f64, usize)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut p = l.split_whitespace();
            Some((
                p.next()?.to_string(),
                p.next()?.parse().ok()?,
                p.next()?.parse().ok()?,
            ))
        })
        .collect();
    println!();
    println!("| query (best of {runs}) | FlareGo | DuckDB | FlareGo / DuckDB | groups |");
    println!("|---|---|---|---|---|");
    for (label, t, g) in ours {
        let d = duck.iter().find(|d| d.0 == label);
        println!(
            "| `GROUP BY {label}` | {:.0} ms | {} | {} | {g} |",
            t * 1000.0,
            d.map(|d| format!("{:.0} ms", d.1 * 1000.0))
                .unwrap_or("-".into()),
            d.map(|d| format!("{:.2}×", t / d.1)).unwrap_or("-".into()),
        );
    }
    Ok(())
}
