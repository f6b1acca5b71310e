//! The read API against real Go profiles and constructed data: flame
//! graph totals and the top table equal `go tool pprof -top` on the same
//! files; `max_nodes` keeps totals; timelines fill empty steps; bad
//! parameters are named.

use flarego_tests::gotool;
use flarego_tests::server::TestServer;
use serde_json::Value;

/// Go sample types and the profile types they are stored under.
const TYPES: [(&str, &str, &str); 11] = [
    ("cpu", "samples", "cpu_samples"),
    ("cpu", "cpu", "cpu"),
    ("heap", "alloc_objects", "alloc_objects"),
    ("heap", "alloc_space", "alloc_space"),
    ("heap", "inuse_objects", "heap_inuse_objects"),
    ("heap", "inuse_space", "heap_inuse_space"),
    ("goroutine", "goroutine", "goroutine"),
    ("block", "contentions", "block_contentions"),
    ("block", "delay", "block_delay"),
    ("mutex", "contentions", "mutex_contentions"),
    ("mutex", "delay", "mutex_delay"),
];

async fn get(s: &TestServer, path: &str) -> (u16, Value) {
    let r = s
        .client()
        .get(format!("{}{path}", s.url))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flame_graph_and_top_table_equal_go_tool_pprof() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = gotool::build("profgen", tmp.path()).unwrap();
    let out = tmp.path().join("profiles");
    std::fs::create_dir_all(&out).unwrap();
    let status = std::process::Command::new(&bin)
        .arg("-out")
        .arg(&out)
        .args(["-cpu", "700ms"])
        .status()
        .unwrap();
    assert!(status.success());
    let s = TestServer::start(&tmp.path().join("data"), &["--queries-per-sec", "0"])
        .await
        .unwrap();
    for kind in ["cpu", "heap", "goroutine", "block", "mutex"] {
        let body = std::fs::read(out.join(format!("{kind}.pb.gz"))).unwrap();
        let (st, msg) = s
            .post(
                &format!("/ingest?name=profgen.{kind}%7Binstance%3D{kind}%7D&format=pprof"),
                body,
                &[],
            )
            .await
            .unwrap();
        assert_eq!(st, 200, "{kind}: {msg}");
    }
    for (kind, index, pt) in TYPES {
        let (total, theirs) = gotool::pprof_top(&out.join(format!("{kind}.pb.gz")), index).unwrap();
        let sel = format!(
            "service=profgen&profile_type={pt}&query=%7Binstance%3D%22{kind}%22%7D&from=now-1d"
        );
        let (st, top) = get(&s, &format!("/api/v1/top?{sel}")).await;
        assert_eq!(st, 200, "{top}");
        assert_eq!(top["total"], total, "{kind} {index}: total");
        let ours: std::collections::BTreeMap<String, (i64, i64)> = top["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["function"].as_str().unwrap().to_string(),
                    (r["self"].as_i64().unwrap(), r["total"].as_i64().unwrap()),
                )
            })
            .filter(|(_, (f, c))| *f != 0 || *c != 0)
            .collect();
        let theirs: std::collections::BTreeMap<String, (i64, i64)> = theirs
            .into_iter()
            .filter(|(_, (f, c))| *f != 0 || *c != 0)
            .collect();
        assert_eq!(ours, theirs, "{kind} {index}: flat and cum per function");
        let (st, fg) = get(&s, &format!("/api/v1/flamegraph?{sel}")).await;
        assert_eq!(st, 200, "{fg}");
        assert_eq!(fg["total"], total, "{kind} {index}: flame graph total");
        let tree = &fg["tree"];
        let scale = tree["scale"].as_i64().unwrap();
        assert_eq!(
            tree["total"][0].as_i64().unwrap() * scale,
            total,
            "root node"
        );
        assert_eq!(
            fg["nodes"].as_u64().unwrap() as usize,
            tree["name"].as_array().unwrap().len()
        );
        assert_eq!(
            tree["names"][tree["name"][0].as_u64().unwrap() as usize],
            "total"
        );
        // Each function's self values in the tree add up to its flat.
        let mut self_of: std::collections::BTreeMap<String, i64> = Default::default();
        for (i, n) in tree["name"].as_array().unwrap().iter().enumerate().skip(1) {
            let name = tree["names"][n.as_u64().unwrap() as usize]
                .as_str()
                .unwrap()
                .to_string();
            *self_of.entry(name).or_default() += tree["self"][i].as_i64().unwrap() * scale;
        }
        for (f, (flat, _)) in &theirs {
            assert_eq!(
                self_of.get(f).copied().unwrap_or(0),
                *flat,
                "{kind} {index}: self of {f}"
            );
        }
    }
}
