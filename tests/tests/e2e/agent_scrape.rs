//! The agent's scraper against a real Go service with net/http/pprof
//! (`tests/go/goroutines -serve`): known goroutines, memstats, profiles.

use flarego_agent::census::Census;
use flarego_agent::scrape::Scraper;
use flarego_tests::goservice::GoService;
use std::time::Duration;

/// Builds and starts `tests/go/goroutines -serve`; returns it and its URL.
fn start_go_service(dir: &std::path::Path) -> (GoService, String) {
    let service = GoService::start(dir).unwrap();
    let url = service.url.clone();
    (service, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_a_real_go_service() {
    let tmp = tempfile::tempdir().unwrap();
    let (_service, base) = start_go_service(tmp.path());
    let scraper = Scraper::new(&base, Duration::from_secs(10), 64 << 20).unwrap();

    let census = Census::of(&scraper.goroutines().await.unwrap());
    let in_func = |state: &str, func: &str| {
        census
            .stacks
            .iter()
            .filter(|((s, f), _)| s == state && f.iter().any(|x| x == func))
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    for (state, func, n) in flarego_tests::goservice::PARKED {
        assert_eq!(in_func(state, func), n as u64, "{state} in {func}");
    }

    let m = scraper.memstats().await.unwrap();
    assert!(m.num_gc >= 3, "the service ran three collections");
    assert_eq!(m.pauses_since(0).0.len() as u64, m.num_gc.min(256));

    let heap = scraper.profile("heap").await.unwrap();
    let types: Vec<&str> = heap
        .sample_type
        .iter()
        .map(|t| heap.string_table[t.r#type as usize].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "alloc_objects",
            "alloc_space",
            "inuse_objects",
            "inuse_space"
        ]
    );

    // One second of CPU: the two spinning goroutines dominate.
    let cpu = scraper.profile("profile?seconds=1").await.unwrap();
    let cpu_at = cpu
        .sample_type
        .iter()
        .position(|t| cpu.string_table[t.r#type as usize] == "cpu")
        .unwrap();
    let spin_fn = cpu
        .function
        .iter()
        .find(|f| cpu.string_table[f.name as usize] == "main.spin")
        .map(|f| f.id)
        .expect("main.spin in the CPU profile");
    let (mut spin, mut total) = (0i64, 0i64);
    for s in &cpu.sample {
        let v = s.value[cpu_at];
        total += v;
        let leaf_fn = s
            .location_id
            .first()
            .and_then(|id| cpu.location.iter().find(|l| l.id == *id))
            .and_then(|l| l.line.first())
            .map(|l| l.function_id);
        if leaf_fn == Some(spin_fn) {
            spin += v;
        }
    }
    assert!(total > 0);
    // Other tests load the same 2 cores, so "dominates" means a majority.
    assert!(spin * 2 > total, "main.spin has {spin} of {total} ns");
}

/// Two windows of the Go service, as the agent builds them, written
/// through the server's chunk decoder and WAL: SQL sees the goroutines per
/// state and function, CPU in `main.spin`, and runtime metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_windows_answer_in_sql() {
    use flarego_agent::sources::PprofSources;
    use flarego_agent::window::{Carry, ChunkMeta, collect};
    use flarego_ingest::Limits;
    use flarego_ingest::decode::budget::MemoryCharge;
    use flarego_ingest::record::{IngestRecord, Source, replay_decoder};
    use flarego_storage::{ColdStoreConfig, Engine, StorageConfig, TenantId};
    use prost::Message;
    use std::sync::Arc;

    let tmp = tempfile::tempdir().unwrap();
    let (_service, base) = start_go_service(tmp.path());
    let scraper = Scraper::new(&base, Duration::from_secs(10), 64 << 20).unwrap();
    let engine = Engine::open(
        StorageConfig {
            data_dir: tmp.path().join("data"),
            cold: ColdStoreConfig::InMemory,
            ..Default::default()
        },
        Arc::new(replay_decoder),
    )
    .await
    .unwrap();
    let t0 = 1_800_000_000_000_000_000i64;
    let mut carry = Carry::default();
    for seq in 1..=2u64 {
        let meta = ChunkMeta {
            agent_id: "test-agent".into(),
            seq,
            window_start_ns: t0 + (seq - 1) as i64 * 10_000_000_000,
            window: Duration::from_secs(1),
            service: "goroutines".into(),
            instance: "local".into(),
            labels: Default::default(),
        };
        let chunk = collect(&scraper, PprofSources::all(), &mut carry, meta).await;
        let rec = IngestRecord {
            tenant: TenantId::default_tenant(),
            received_ns: t0,
            source: Source::AgentChunk,
            parts: vec![chunk.encode_to_vec()],
        };
        let batch = rec
            .decode(
                engine.stacks(),
                &Limits::unlimited(),
                &mut MemoryCharge::unlimited(),
            )
            .unwrap();
        engine.write(rec.encode(), batch).await.unwrap();
    }
    let q = flarego_query::QueryEngine::new(engine, Default::default()).unwrap();
    let rows = |sql: &'static str| {
        let q = q.clone();
        async move {
            let out = q.sql(None, sql).await.unwrap();
            flarego_query::output::to_json(&out).unwrap()["rows"].clone()
        }
    };
    for (state, func, n) in flarego_tests::goservice::PARKED {
        let sql = format!(
            "SELECT state, CAST(sum(value) AS BIGINT) FROM profiles WHERE profile_type = 'goroutine' \
             AND time = TIMESTAMP '2027-01-15T08:00:10Z' AND has_frame(frames, '{func}') GROUP BY state"
        );
        let out = q.sql(None, &sql).await.unwrap();
        let got = flarego_query::output::to_json(&out).unwrap()["rows"].clone();
        assert_eq!(got, serde_json::json!([[state, n]]), "{func}");
    }
    let spin = rows(
        "SELECT CAST(100 * sum(CASE WHEN has_frame(frames, 'main.spin') THEN value ELSE 0 END) / sum(value) AS BIGINT) \
         FROM profiles WHERE profile_type = 'cpu'",
    )
    .await;
    assert!(spin[0][0].as_i64().unwrap() > 50, "main.spin share {spin}");
    let metrics = rows("SELECT DISTINCT name FROM metrics ORDER BY 1").await;
    for name in [
        "go_gc_count",
        "go_goroutines",
        "go_goroutines_blocked",
        "go_heap_inuse_bytes",
    ] {
        assert!(
            metrics.as_array().unwrap().iter().any(|r| r[0] == name),
            "{name} missing: {metrics}"
        );
    }
    let blocked = rows("SELECT max(value) FROM metrics WHERE name = 'go_goroutines_blocked'").await;
    assert!(blocked[0][0].as_f64().unwrap() >= 37.0, "{blocked}");
}
