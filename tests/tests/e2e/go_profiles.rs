//! Real Go profiles: after ingest, per-type and per-function totals from
//! SQL equal what `go tool pprof -raw` reports for the same files.

use flarego_tests::gotool;
use std::collections::BTreeMap;

/// The documented mapping of Go sample types onto `profile_type`.
fn profile_type(kind: &str, sample_type: &str) -> &'static str {
    match (kind, sample_type) {
        ("cpu", "samples/count") => "cpu_samples",
        ("cpu", "cpu/nanoseconds") => "cpu",
        ("heap", "alloc_objects/count") => "alloc_objects",
        ("heap", "alloc_space/bytes") => "alloc_space",
        ("heap", "inuse_objects/count") => "heap_inuse_objects",
        ("heap", "inuse_space/bytes") => "heap_inuse_space",
        ("goroutine", "goroutine/count") => "goroutine",
        ("block", "contentions/count") => "block_contentions",
        ("block", "delay/nanoseconds") => "block_delay",
        ("mutex", "contentions/count") => "mutex_contentions",
        ("mutex", "delay/nanoseconds") => "mutex_delay",
        other => panic!("unexpected Go sample type {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_profiles_match_go_tool_pprof() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, out) = flarego_tests::server::start_with_profgen(tmp.path()).await;
    let mut checked = 0;
    for kind in ["cpu", "heap", "goroutine", "block", "mutex"] {
        let raw = gotool::pprof_raw(&out.join(format!("{kind}.pb.gz"))).unwrap();
        for (i, st) in raw.sample_types.iter().enumerate() {
            let pt = profile_type(kind, st);
            let sql_total = s
                .sql_i64(&format!(
                    "SELECT sum(value) FROM profiles WHERE instance = '{kind}' AND profile_type = '{pt}'"
                ))
                .await
                .unwrap();
            assert_eq!(sql_total, raw.totals[i], "{kind} {st} total");
            let rows = s
                .sql(&format!(
                    "SELECT leaf(frames), sum(value) FROM profiles WHERE instance = '{kind}' AND profile_type = '{pt}' GROUP BY 1"
                ))
                .await
                .unwrap();
            let ours: BTreeMap<String, i64> = rows
                .iter()
                .map(|r| {
                    (
                        r[0].as_str().unwrap_or("").to_string(),
                        r[1].as_i64().unwrap_or(0),
                    )
                })
                .filter(|(_, v)| *v != 0)
                .collect();
            let theirs: BTreeMap<String, i64> = raw.leaf_totals[i]
                .iter()
                .filter(|(_, v)| **v != 0)
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            assert_eq!(ours, theirs, "{kind} {st} per-function totals");
            checked += 1;
        }
    }
    assert_eq!(checked, 11, "every Go sample type was compared");
    // The workload's own functions are where they should be.
    let spin = s
        .sql_i64("SELECT sum(value) FROM profiles WHERE profile_type = 'cpu' AND has_frame(frames, 'main.spin')")
        .await
        .unwrap();
    assert!(spin > 0, "main.spin has CPU time");
    let waiting = s
        .sql_i64("SELECT sum(value) FROM profiles WHERE profile_type = 'goroutine' AND has_frame(frames, 'main.waitOnChan')")
        .await
        .unwrap();
    assert_eq!(waiting, 25, "25 goroutines wait in main.waitOnChan");
}
