//! Rollups against raw rows: random profiles over two closed days, merged
//! into hour and day files with their rollups, then late writes; every
//! query shape the read API issues, and SQL over `date_bin`, answered
//! with rollups and without, over random ranges, must be equal.

use crate::read::matchers::{Matcher, Op};
use crate::read::selection::Selection;
use crate::read::timeline::GroupBy;
use crate::{QueryConfig, QueryEngine};
use flarego_storage::config::{ColdStoreConfig, StorageConfig};
use flarego_storage::rollup::{HOUR_NS, MINUTE_NS};
use flarego_storage::{
    Engine, FileKind, Frames, SeriesKey, SeriesSamples, StackId, TenantId, WriteBatch,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;

const DAY_NS: i64 = 24 * HOUR_NS;
const SERVICES: [&str; 3] = ["api", "batch", "web"];
const FUNCS: [&str; 5] = [
    "json.Marshal",
    "gzip.Write",
    "runtime.mallocgc",
    "http.Serve",
    "sql.Query",
];

fn stack(rng: &mut StdRng) -> (StackId, Frames) {
    let depth = rng.random_range(1..4);
    let mut frames = vec![Arc::<str>::from("main.main")];
    for _ in 0..depth {
        frames.push(Arc::from(FUNCS[rng.random_range(0..FUNCS.len())]));
    }
    let frames: Frames = frames.into();
    (StackId::of_frames(&frames), frames)
}

fn batch(rng: &mut StdRng, time_ns: i64) -> WriteBatch {
    let mut b = WriteBatch::default();
    for _ in 0..rng.random_range(1..4) {
        let mut samples = Vec::new();
        for _ in 0..rng.random_range(1..4) {
            let (id, frames) = stack(rng);
            b.stacks.push((id, frames));
            samples.push((id, rng.random_range(1..1_000_000_000)));
        }
        let env = if rng.random_bool(0.5) {
            "prod"
        } else {
            "stage"
        };
        b.series.push(SeriesSamples {
            time_ns,
            key: SeriesKey {
                tenant: TenantId::default_tenant(),
                service: SERVICES[rng.random_range(0..SERVICES.len())].into(),
                instance: format!("pod-{}", rng.random_range(0..3)),
                profile_type: "cpu".into(),
                unit: "nanoseconds".into(),
                state: None,
                labels: [("env".to_string(), env.to_string())].into(),
            },
            samples,
        });
    }
    b.stacks.sort_by_key(|(id, _)| *id);
    b.stacks.dedup_by_key(|(id, _)| *id);
    b
}

async fn write_random(engine: &Engine, rng: &mut StdRng, n: usize, from: i64, span: i64) {
    for _ in 0..n {
        let t = from + rng.random_range(0..span);
        engine.write(vec![], batch(rng, t)).await.unwrap();
    }
    engine.flush().await.unwrap();
}

/// A time near `t`: often on a minute or hour, else anywhere.
fn near(rng: &mut StdRng, t: i64) -> i64 {
    match rng.random_range(0..4) {
        0 => t.div_euclid(HOUR_NS) * HOUR_NS,
        1 => t.div_euclid(MINUTE_NS) * MINUTE_NS,
        _ => t,
    }
}

fn selection(rng: &mut StdRng, from_ns: i64, to_ns: i64) -> Selection {
    let mut matchers = Vec::new();
    if rng.random_bool(0.4) {
        matchers.push(Matcher {
            name: "service".into(),
            op: Op::Eq,
            value: SERVICES[rng.random_range(0..SERVICES.len())].into(),
        });
    }
    if rng.random_bool(0.3) {
        matchers.push(Matcher {
            name: "env".into(),
            op: Op::Re,
            value: "prod|x".into(),
        });
    }
    Selection {
        profile_type: "cpu".into(),
        matchers,
        from_ns,
        to_ns,
        focus: rng
            .random_bool(0.2)
            .then(|| regex::Regex::new("gzip").unwrap()),
        ignore: None,
        hide: None,
        call_site: Vec::new(),
        tenant: None,
    }
}

async fn explain(q: &QueryEngine, sql: &str) -> String {
    let out = q.sql(None, &format!("EXPLAIN {sql}")).await.unwrap();
    let batch = datafusion::arrow::compute::concat_batches(&out.schema, &out.batches).unwrap();
    datafusion::arrow::util::pretty::pretty_format_batches(&[batch])
        .unwrap()
        .to_string()
}

async fn sql_text(q: &QueryEngine, sql: &str) -> String {
    let out = q.sql(None, sql).await.unwrap();
    datafusion::arrow::util::pretty::pretty_format_batches(&out.batches)
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_shape_answers_the_same_from_rollups_as_from_raw_rows() {
    let dir = tempfile::tempdir().unwrap();
    let config = StorageConfig {
        data_dir: dir.path().to_path_buf(),
        cold: ColdStoreConfig::InMemory,
        compaction_interval: std::time::Duration::from_secs(3600),
        ..Default::default()
    };
    let engine = Engine::open(config, Arc::new(|_, _| Err("no replay".into())))
        .await
        .unwrap();
    let mut rng = StdRng::seed_from_u64(0x5eed_0011);
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let base = (now - 3 * DAY_NS).div_euclid(DAY_NS) * DAY_NS;

    // Two closed days, a few compactions each, merged into hours (1 m
    // rollups), then days (1 h rollups).
    for part in 0..4 {
        write_random(&engine, &mut rng, 400, base + part * DAY_NS / 2, DAY_NS / 2).await;
    }
    engine.merge_small_files(true).await.unwrap();
    engine.merge_small_files(false).await.unwrap();
    engine.merge_small_files(false).await.unwrap();
    // Late writes into those days: some rolled up on their own, some not.
    write_random(&engine, &mut rng, 40, base, 2 * DAY_NS).await;
    engine.merge_small_files(true).await.unwrap();
    write_random(&engine, &mut rng, 40, base, 2 * DAY_NS).await;

    let manifest = engine.snapshot().manifest.clone();
    let steps: Vec<Vec<i64>> = manifest
        .files_of(FileKind::Samples, None)
        .map(|f| f.rollup_steps())
        .collect();
    assert!(
        steps.iter().any(|s| s == &[MINUTE_NS, HOUR_NS]),
        "no day file with both rollups: {steps:?}"
    );
    assert!(
        steps.iter().any(|s| s == &[MINUTE_NS]),
        "no file with a 1 m rollup only: {steps:?}"
    );
    assert!(
        steps.iter().any(|s| s.is_empty()),
        "no file without rollups: {steps:?}"
    );
    // A day file keeps each hour in row groups of its own.
    let day_file = manifest
        .files_of(FileKind::Samples, None)
        .find(|f| f.rollup_steps() == [MINUTE_NS, HOUR_NS])
        .unwrap();
    let bytes = {
        use object_store::ObjectStoreExt;
        let path = object_store::path::Path::from(day_file.path.as_str());
        engine
            .store()
            .get(&path)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    };
    let meta = parquet::file::metadata::ParquetMetaDataReader::new()
        .parse_and_finish(&bytes)
        .unwrap();
    assert!(
        meta.num_row_groups() >= 20,
        "{} row groups",
        meta.num_row_groups()
    );
    for g in meta.row_groups() {
        let Some(parquet::file::statistics::Statistics::Int64(t)) = g.column(0).statistics() else {
            panic!("no time statistics");
        };
        let (lo, hi) = (*t.min_opt().unwrap(), *t.max_opt().unwrap());
        assert_eq!(
            lo.div_euclid(HOUR_NS),
            hi.div_euclid(HOUR_NS),
            "a row group spans hours"
        );
    }

    let with = QueryEngine::new(engine.clone(), QueryConfig::default()).unwrap();
    let raw = QueryEngine::new(
        engine.clone(),
        QueryConfig {
            rollups: false,
            ..Default::default()
        },
    )
    .unwrap();

    // The rollups are read: a whole day at 1 h, an unaligned half hour
    // at 1 m with raw edges; a row count is never answered from them.
    let day = format!(
        "time >= to_timestamp_nanos({}) AND time < to_timestamp_nanos({})",
        base + 7,
        base + DAY_NS + 7
    );
    let plan = explain(
        &with,
        &format!("SELECT stack_id, sum(value) FROM profiles WHERE {day} GROUP BY stack_id"),
    )
    .await;
    assert!(
        plan.contains("rollups/1h/") && plan.contains("rollups/1m/"),
        "{plan}"
    );
    let plan = explain(&with, &format!("SELECT count(*) FROM profiles WHERE {day}")).await;
    assert!(!plan.contains("rollups/"), "{plan}");
    let plan = explain(
        &with,
        &format!("SELECT sum(duration_ns) FROM profiles WHERE {day}"),
    )
    .await;
    assert!(!plan.contains("rollups/"), "{plan}");

    let mut used = 0;
    for round in 0..24 {
        let at = base + rng.random_range(0..2 * DAY_NS);
        let a = near(&mut rng, at);
        let len = match round % 3 {
            0 => rng.random_range(MINUTE_NS..2 * HOUR_NS),
            _ => rng.random_range(HOUR_NS..2 * DAY_NS),
        };
        let b = near(&mut rng, a + len).max(a + 1);
        let sel = selection(&mut rng, a, b);

        let mut x = with.stack_values(None, &sel).await.unwrap();
        let mut y = raw.stack_values(None, &sel).await.unwrap();
        x.stacks.sort();
        y.stacks.sort();
        assert_eq!(x.stacks, y.stacks, "stacks of {a}..{b} {:?}", sel.matchers);
        assert_eq!(x.unit, y.unit);

        let step = ["1m", "5m", "1h", "15s", "10m"][rng.random_range(0..5)];
        let group = [
            GroupBy::None,
            GroupBy::Service,
            GroupBy::Label("env".into()),
        ][rng.random_range(0..3)]
        .clone();
        // A step too fine for the range is refused alike.
        let x = with.timeline(None, &sel, Some(step), &group, 50).await.ok();
        let y = raw.timeline(None, &sel, Some(step), &group, 50).await.ok();
        assert_eq!(x, y, "timeline of {a}..{b} at {step} by {group:?}");

        let range = format!("time >= to_timestamp_nanos({a}) AND time < to_timestamp_nanos({b})");
        for sql in [
            format!(
                "SELECT date_bin(INTERVAL '1 hour', time) AS t, service, sum(value) AS v FROM profiles WHERE {range} GROUP BY 1, 2 ORDER BY 1, 2"
            ),
            format!(
                "SELECT date_trunc('minute', time) AS t, sum(value) AS v FROM profiles WHERE {range} GROUP BY 1 ORDER BY 1"
            ),
            format!(
                "SELECT leaf(frames) AS f, labels['env'] AS env, sum(value) AS v, max(unit) AS u FROM profiles WHERE {range} GROUP BY 1, 2 ORDER BY 1, 2"
            ),
            format!(
                "SELECT instance, count(DISTINCT stack_id) AS n FROM profiles WHERE {range} GROUP BY 1 ORDER BY 1"
            ),
        ] {
            assert_eq!(
                sql_text(&with, &sql).await,
                sql_text(&raw, &sql).await,
                "{sql}"
            );
        }
        let sums =
            format!("SELECT stack_id, sum(value) FROM profiles WHERE {range} GROUP BY stack_id");
        if explain(&with, &sums).await.contains("rollups/") {
            used += 1;
        }
    }
    assert!(used >= 12, "rollups were read in only {used} of 24 rounds");
}

/// Past the raw retention, rollups kept by `--rollup-retention` answer
/// what they can exactly (hour-aligned flame graphs), raw-row queries see
/// nothing, and past the rollup retention everything goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_outlive_raw_rows_until_their_own_retention() {
    use flarego_storage::Retention;
    use std::time::Duration;
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let base = (now - 3 * DAY_NS).div_euclid(DAY_NS) * DAY_NS;
    let ago = |t: i64| Duration::from_nanos((now - t) as u64);
    // The same two days, merged and rolled up, in two engines: one
    // keeping everything, one keeping raw rows a day and rollups until an
    // hour into the second day.
    let open = |dir: &std::path::Path, retention: Retention| {
        let config = StorageConfig {
            data_dir: dir.to_path_buf(),
            cold: ColdStoreConfig::InMemory,
            compaction_interval: Duration::from_secs(3600),
            delete_grace: Duration::ZERO,
            retention,
            ..Default::default()
        };
        Engine::open(config, Arc::new(|_, _| Err("no replay".into())))
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let kept = open(dir_a.path(), Retention::default()).await.unwrap();
    let engine = open(
        dir_b.path(),
        Retention {
            default: Some(Duration::from_secs(86_400)),
            per_tenant: Default::default(),
            rollups: Some(ago(base + DAY_NS + HOUR_NS)),
        },
    )
    .await
    .unwrap();
    for e in [&kept, &engine] {
        write_random(e, &mut StdRng::seed_from_u64(7), 300, base, 2 * DAY_NS).await;
        e.merge_small_files(true).await.unwrap();
        e.merge_small_files(false).await.unwrap();
        e.merge_small_files(false).await.unwrap();
    }
    let day = |d: i64| {
        selection(
            &mut StdRng::seed_from_u64(1),
            base + d * DAY_NS,
            base + (d + 1) * DAY_NS,
        )
    };
    // Day 1 from the first whole hour after the rollup retention's
    // cutoff (a rollup row goes once its step's start is past it).
    let sel1 = Selection {
        focus: None,
        matchers: vec![],
        from_ns: base + DAY_NS + 2 * HOUR_NS,
        ..day(1)
    };
    let q = QueryEngine::new(kept.clone(), QueryConfig::default()).unwrap();
    let mut before = q.stack_values(None, &sel1).await.unwrap();
    before.stacks.sort();
    assert!(!before.stacks.is_empty());

    assert!(engine.expire_old_files().await.unwrap() > 0);
    let manifest = engine.snapshot().manifest.clone();
    let entries: Vec<_> = manifest.entries_of(FileKind::Samples, None).collect();
    assert!(
        !entries.is_empty() && entries.iter().all(|f| f.raw_expired),
        "{entries:?}"
    );
    assert!(
        entries.iter().all(|f| f.min_time_ns >= base + DAY_NS),
        "day 0 not gone: {entries:?}"
    );
    for f in &entries {
        let path = object_store::path::Path::from(f.path.as_str());
        use object_store::ObjectStoreExt;
        assert!(
            engine.store().head(&path).await.is_err(),
            "raw object {} kept",
            f.path
        );
    }
    drop(manifest);

    let q = QueryEngine::new(engine.clone(), QueryConfig::default()).unwrap();
    let mut after = q.stack_values(None, &sel1).await.unwrap();
    after.stacks.sort();
    assert_eq!(after.stacks, before.stacks, "day 1 from its rollups");
    // Its first hour is past the rollup retention: hidden.
    let first_hour = Selection {
        to_ns: base + DAY_NS + HOUR_NS,
        ..sel1.clone()
    };
    let first_hour = Selection {
        from_ns: base + DAY_NS,
        ..first_hour
    };
    assert!(
        q.stack_values(None, &first_hour)
            .await
            .unwrap()
            .stacks
            .is_empty()
    );
    let range = format!(
        "time >= to_timestamp_nanos({}) AND time < to_timestamp_nanos({})",
        base,
        base + 2 * DAY_NS
    );
    let rows = q
        .sql(
            None,
            &format!("SELECT count(*) FROM profiles WHERE {range}"),
        )
        .await
        .unwrap();
    let n = rows.batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<datafusion::arrow::array::Int64Array>()
        .unwrap()
        .value(0);
    assert_eq!(n, 0, "raw rows past retention are still read");
    let sel0 = Selection {
        focus: None,
        matchers: vec![],
        ..day(0)
    };
    assert!(
        q.stack_values(None, &sel0).await.unwrap().stacks.is_empty(),
        "day 0 past its rollup retention"
    );
}
