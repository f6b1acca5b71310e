//! The engine over a real storage engine and query layer, on a clock the
//! test moves: `for`, `repeat_interval`, `keep_firing_for` and dedup of
//! notifications, and state kept across a restart of the engine.

use crate::engine::{AlertEngine, AlertsConfig, Clock};
use flarego_query::{QueryConfig, QueryEngine};
use flarego_storage::config::{ColdStoreConfig, StorageConfig};
use flarego_storage::{Engine, Frames, SeriesKey, SeriesSamples, StackId, TenantId, WriteBatch};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

const S: i64 = 1_000_000_000;

struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now_ns(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// `n` goroutines of service api in `chan receive` under main.wait, now.
async fn park(engine: &Engine, n: i64) {
    let frames: Frames = vec![Arc::<str>::from("main.main"), Arc::from("main.wait")].into();
    let id = StackId::of_frames(&frames);
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let batch = WriteBatch {
        stacks: vec![(id, frames)],
        series: vec![SeriesSamples {
            time_ns: now,
            key: SeriesKey {
                tenant: TenantId::default_tenant(),
                service: "api".into(),
                instance: "pod-1".into(),
                profile_type: "goroutine".into(),
                unit: "count".into(),
                state: Some("chan receive".into()),
                labels: Default::default(),
            },
            samples: vec![(id, n)],
        }],
        ..Default::default()
    };
    engine.write(vec![], batch).await.unwrap();
}

/// A storage engine (cold tier in memory) and the query layer over it.
async fn open(dir: &std::path::Path) -> (Engine, QueryEngine) {
    let storage = StorageConfig {
        data_dir: dir.join("data"),
        cold: ColdStoreConfig::InMemory,
        compaction_interval: std::time::Duration::from_secs(3600),
        ..Default::default()
    };
    let engine = Engine::open(storage, Arc::new(|_, _| Err("no replay".into())))
        .await
        .unwrap();
    let query = QueryEngine::new(engine.clone(), QueryConfig::default()).unwrap();
    (engine, query)
}

async fn start(query: &QueryEngine, dir: &std::path::Path, clock: Arc<ManualClock>) -> AlertEngine {
    let rules = dir.join("rules.toml");
    std::fs::write(
        &rules,
        r#"
[[rule]]
name = "waiting"
expr = 'goroutines(state = "chan receive", frame = "main.wait") > 20'
every = "10s"
for = "30s"
keep_firing_for = "20s"
repeat_interval = "1h"
window = "1h"
"#,
    )
    .unwrap();
    let mut config = AlertsConfig::new(dir.join("alerts"));
    config.rules_file = Some(rules);
    AlertEngine::start(query.clone(), config, clock)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timing_and_dedup_on_a_moved_clock() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, query) = open(dir.path()).await;
    let t0 = 1_900_000_000 * S;
    let clock = Arc::new(ManualClock(AtomicI64::new(t0)));
    let alerts = start(&query, dir.path(), clock.clone()).await;
    let sent = |a: &AlertEngine| a.metrics().notifications_sent.load(Ordering::SeqCst);
    // Notifications go through the log sink's queue: wait for delivery.
    async fn settle(a: &AlertEngine, want: u64) {
        for _ in 0..200 {
            if a.metrics().notifications_sent.load(Ordering::SeqCst) >= want {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    let at = |secs: i64| t0 + secs * S;
    let state = |a: &AlertEngine| a.instances(None).first().map(|i| format!("{:?}", i.state));

    park(&engine, 25).await;
    // Evaluations at 0, 10, 20 s: pending; `every` holds between them.
    assert_eq!(alerts.evaluate_due(at(0)).await, 1);
    assert_eq!(
        alerts.evaluate_due(at(5)).await,
        0,
        "not due before `every`"
    );
    assert_eq!(state(&alerts).as_deref(), Some("Pending"));
    alerts.evaluate_due(at(10)).await;
    alerts.evaluate_due(at(20)).await;
    assert_eq!(state(&alerts).as_deref(), Some("Pending"));
    // At 30 s it has held for `for`: firing, one notification.
    alerts.evaluate_due(at(30)).await;
    assert_eq!(state(&alerts).as_deref(), Some("Firing"));
    settle(&alerts, 1).await;
    assert_eq!(sent(&alerts), 1);
    // Still firing for 50 more minutes: no repeat before `repeat_interval`.
    for m in 1..=50 {
        alerts.evaluate_due(at(30 + m * 60)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(sent(&alerts), 1, "deduplicated within repeat_interval");
    // An hour after firing: one reminder.
    alerts.evaluate_due(at(30 + 3600)).await;
    settle(&alerts, 2).await;
    assert_eq!(sent(&alerts), 2);

    // The engine restarts (as after kill -9): the instance is still
    // firing and not notified again.
    drop(alerts);
    let alerts = start(&query, dir.path(), clock.clone()).await;
    alerts.evaluate_due(at(3700)).await;
    assert_eq!(state(&alerts).as_deref(), Some("Firing"));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        sent(&alerts),
        0,
        "a fresh engine's counters: nothing sent again"
    );

    // The goroutines leave: keep_firing_for (20 s) bridges, then resolved.
    // (-25 cancels the 25 whether this write lands in the same hot window
    // or the next.)
    park(&engine, -25).await;
    alerts.evaluate_due(at(3710)).await;
    assert_eq!(state(&alerts).as_deref(), Some("Firing"), "kept firing");
    alerts.evaluate_due(at(3720)).await;
    assert_eq!(state(&alerts).as_deref(), Some("Firing"), "kept firing");
    alerts.evaluate_due(at(3730)).await;
    assert_eq!(
        state(&alerts),
        None,
        "resolved 20 s after the first evaluation that found it false"
    );
    settle(&alerts, 1).await;
    assert_eq!(sent(&alerts), 1, "one resolved notification");
}

/// Operands over one scan answer alike whether merged into one query or
/// run one by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_scans_answer_as_separate_queries() {
    use crate::compile::{Vocabulary, compile};
    let dir = tempfile::tempdir().unwrap();
    let (engine, query) = open(dir.path()).await;
    park(&engine, 25).await;
    let vocab = Vocabulary {
        metric_known: &|_| true,
    };
    let exprs = [
        r#"goroutines(state = "chan receive") > 0"#,
        r#"goroutines(frame = "main.wait") > 0"#,
        r#"goroutines(frame =~ "main\\.w.*", state != "running") > 0"#,
        r#"goroutines(frame = "main.nothing") > 0"#,
        r#"goroutines() > 0"#,
    ];
    let compiled: Vec<_> = exprs
        .iter()
        .map(|e| compile(&crate::expr::parse(e).unwrap(), 3600 * S, &vocab).unwrap())
        .collect();
    let (scan, _) = compiled[0].queries[0].scan.clone().unwrap();
    let hits: Vec<_> = compiled
        .iter()
        .map(|c| {
            let (s, h) = c.queries[0].scan.clone().unwrap();
            assert_eq!(s, scan, "one scan");
            h
        })
        .collect();
    let tenant = Some(TenantId::default_tenant());
    let merged = query.sql(tenant.clone(), &scan.sql(&hits)).await.unwrap();
    let names: Vec<String> = (0..hits.len()).map(|i| format!("value{i}")).collect();
    let (_, merged) = super::engine::to_rows(&merged, &names).unwrap();
    for (i, c) in compiled.iter().enumerate() {
        let alone = query.sql(tenant.clone(), &c.queries[0].sql).await.unwrap();
        let (_, alone) = super::engine::to_rows(&alone, &["value".to_string()]).unwrap();
        assert_eq!(merged[i], alone[0], "{}", exprs[i]);
    }
    let values: Vec<f64> = merged
        .iter()
        .map(|r| r.values().next().copied().unwrap_or(-1.0))
        .collect();
    assert_eq!(values, [25.0, 25.0, 25.0, 0.0, 25.0]);
}
