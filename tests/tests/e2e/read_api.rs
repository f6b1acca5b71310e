//! The read API against real Go profiles and constructed data: flame
//! graph totals and the top table equal `go tool pprof -top` on the same
//! files; `max_nodes` keeps totals; timelines fill empty steps; bad
//! parameters are named.

use flarego_tests::gotool;
use flarego_tests::server::TestServer;
use serde_json::Value;
use std::collections::BTreeMap;

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
    let (s, out) = flarego_tests::server::start_with_profgen(tmp.path()).await;
    for (kind, index, pt) in gotool::PROFGEN_TYPES {
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

/// Browsing lists what was ingested, by frequency, the same from the hot
/// tier and (after a flush) from the cold files' footers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_browsing_lists_series_by_frequency_hot_and_cold() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(&tmp.path().join("data"), &["--queries-per-sec", "0"])
        .await
        .unwrap();
    let uploads = [
        (
            "api.cpu%7Benv%3Dprod%2Cpod%3Da%7D",
            "",
            "main;a 1\nmain;b 2\nmain;c 3\n",
        ),
        (
            "api.cpu%7Benv%3Dprod%2Cpod%3Db%7D",
            "",
            "main;a 1\nmain;b 2\nmain;d 3\n",
        ),
        (
            "api.alloc_space%7Benv%3Dprod%2Cpod%3Da%7D",
            "&units=bytes",
            "main;a 10\nmain;e 20\n",
        ),
        ("db.cpu%7Benv%3Dstage%7D", "", "main;q 4\nmain;r 5\n"),
    ];
    for (name, extra, body) in uploads {
        let (st, msg) = s
            .post(
                &format!("/ingest?name={name}&format=folded{extra}"),
                body.as_bytes().to_vec(),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(st, 200, "{name}: {msg}");
    }
    let listed = |v: &Value| -> Vec<(String, u64)> {
        v["values"]
            .as_array()
            .unwrap_or_else(|| panic!("no values: {v}"))
            .iter()
            .map(|x| {
                (
                    x["name"].as_str().unwrap().to_string(),
                    x["rows"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let owned = |v: &[(&str, u64)]| -> Vec<(String, u64)> {
        v.iter().map(|(n, r)| (n.to_string(), *r)).collect()
    };
    for tier in ["hot", "cold"] {
        if tier == "cold" {
            s.flush().await.unwrap();
        }
        let (st, v) = get(&s, "/api/v1/services").await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(listed(&v), owned(&[("api", 8), ("db", 2)]), "{tier}");
        let (_, v) = get(&s, "/api/v1/profile_types").await;
        assert_eq!(
            listed(&v),
            owned(&[("cpu", 8), ("alloc_space", 2)]),
            "{tier}"
        );
        assert_eq!(v["values"][1]["unit"], "bytes", "{tier}");
        let (_, v) = get(&s, "/api/v1/labels").await;
        assert_eq!(
            listed(&v),
            owned(&[("env", 10), ("service", 10), ("pod", 8)]),
            "{tier}"
        );
        let (_, v) = get(&s, "/api/v1/label_values?name=pod").await;
        assert_eq!(listed(&v), owned(&[("a", 5), ("b", 3)]), "{tier}");
        let (_, v) = get(&s, "/api/v1/label_values?name=pod&profile_type=cpu").await;
        assert_eq!(listed(&v), owned(&[("a", 3), ("b", 3)]), "{tier}");
        let (_, v) = get(&s, "/api/v1/services?query=%7Benv%3D%22stage%22%7D").await;
        assert_eq!(listed(&v), owned(&[("db", 2)]), "{tier}");
        let (_, v) = get(&s, "/api/v1/label_values?name=service&prefix=a").await;
        assert_eq!(listed(&v), owned(&[("api", 8)]), "{tier}");
        let (_, v) = get(&s, "/api/v1/services?limit=1").await;
        assert_eq!(listed(&v), owned(&[("api", 8)]), "{tier}");
        assert_eq!(
            (v["total"].as_u64(), v["truncated"].as_bool()),
            (Some(2), Some(true))
        );
        // Unknown names give empty lists; a range before the data too.
        let (st, v) = get(&s, "/api/v1/labels?service=nope").await;
        assert_eq!((st, listed(&v)), (200, vec![]), "{tier}");
        let (_, v) = get(&s, "/api/v1/services?from=now-3h&to=now-2h").await;
        assert_eq!(listed(&v), vec![], "{tier}");
    }
    for (path, names) in [
        ("/api/v1/services?limit=0", "limit"),
        ("/api/v1/label_values", "name"),
        ("/api/v1/labels?query=%7Benv%3D%7D", "query"),
        ("/api/v1/services?from=yesterday", "from"),
    ] {
        let (st, v) = get(&s, path).await;
        assert_eq!(st, 400, "{path}: {v}");
        assert!(v.to_string().contains(names), "{path}: {v}");
    }
}

/// Constructed data with known answers: diff (raw and normalized),
/// sandwich, `max_nodes`, timelines with explicit zeros, empty answers
/// for unknown names, and bad parameters named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_sandwich_pruning_and_timelines_on_known_data() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(&tmp.path().join("data"), &["--queries-per-sec", "0"])
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t0 = (now - 600) / 60 * 60;
    // 10 ms per sample (100 Hz).
    for (env, at, body) in [
        ("prod", t0, "main;a 6\nmain;b 4\n"),
        ("stage", t0, "main;a 10\nmain;c 10\n"),
        ("prod", t0 + 60, "main;a 2\n"),
    ] {
        let (st, msg) = s
            .post(
                &format!("/ingest?name=api.cpu%7Benv%3D{env}%7D&format=folded&from={at}"),
                body.as_bytes().to_vec(),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(st, 200, "{msg}");
    }
    let ms = 10_000_000i64;
    let range = format!("service=api&from={}&to={}", t0 - 30, t0 + 90);
    let node = |tree: &Value, name: &str, col: &str| -> i64 {
        let scale = tree["scale"].as_i64().unwrap();
        let names = tree["names"].as_array().unwrap();
        let idx = names.iter().position(|n| n == name).unwrap() as u64;
        let i = tree["name"]
            .as_array()
            .unwrap()
            .iter()
            .position(|n| n.as_u64() == Some(idx))
            .unwrap();
        tree[col][i].as_i64().unwrap() * scale
    };

    // Diff: prod against stage.
    let q = |env: &str| format!("%7Benv%3D%22{env}%22%7D");
    let (st, d) = get(
        &s,
        &format!(
            "/api/v1/diff?{range}&base_query={}&comp_query={}",
            q("prod"),
            q("stage")
        ),
    )
    .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(
        (d["base_total"].as_i64(), d["comp_total"].as_i64()),
        (Some(12 * ms), Some(20 * ms))
    );
    let t = &d["tree"];
    assert_eq!(
        (node(t, "a", "total"), node(t, "a", "total_b")),
        (8 * ms, 10 * ms)
    );
    assert_eq!((node(t, "b", "self"), node(t, "b", "self_b")), (4 * ms, 0));
    assert_eq!((node(t, "c", "self"), node(t, "c", "self_b")), (0, 10 * ms));
    let (_, d) = get(
        &s,
        &format!(
            "/api/v1/diff?{range}&base_query={}&comp_query={}&normalize=true",
            q("prod"),
            q("stage")
        ),
    )
    .await;
    assert_eq!(d["comp_factor"], 0.6);
    assert_eq!(node(&d["tree"], "total", "total_b"), 12 * ms);
    assert_eq!(node(&d["tree"], "a", "total_b"), 6 * ms);
    // Two ranges of the same series.
    let (_, d) = get(
        &s,
        &format!(
            "/api/v1/diff?service=api&query={}&base_from={}&base_to={}&comp_from={}&comp_to={}",
            q("prod"),
            t0 - 5,
            t0 + 5,
            t0 + 55,
            t0 + 65
        ),
    )
    .await;
    assert_eq!(
        (d["base_total"].as_i64(), d["comp_total"].as_i64()),
        (Some(10 * ms), Some(2 * ms))
    );

    // Sandwich of `a`: called by main only, calls nothing.
    let (st, sw) = get(&s, &format!("/api/v1/sandwich?{range}&function=a")).await;
    assert_eq!(st, 200, "{sw}");
    assert_eq!(sw["function_total"], 18 * ms);
    assert_eq!(sw["total"], 32 * ms);
    assert_eq!(node(&sw["callers"], "main", "total"), 18 * ms);
    assert_eq!(
        sw["callees"]["name"].as_array().unwrap().len(),
        2,
        "total and a"
    );

    // max_nodes: totals kept, `other` carries exactly what it merged.
    let (_, full) = get(&s, &format!("/api/v1/flamegraph?{range}")).await;
    assert_eq!(full["nodes"], 5);
    let (_, pruned) = get(&s, &format!("/api/v1/flamegraph?{range}&max_nodes=2")).await;
    let t = &pruned["tree"];
    assert_eq!(node(t, "total", "total"), 32 * ms);
    assert_eq!(
        node(t, "other", "total"),
        t["pruned_value"].as_i64().unwrap()
    );
    assert_eq!(
        node(t, "other", "total"),
        14 * ms,
        "b (4) and c (10) merged"
    );
    assert_eq!(t["pruned_nodes"], 2);
    assert_eq!(node(t, "a", "total") + node(t, "other", "total"), 32 * ms);

    // Timeline: 12 steps of 10 s, zeros where nothing landed.
    let (st, tl) = get(
        &s,
        &format!("/api/v1/timeline?{range}&step=10s&group_by=label:env"),
    )
    .await;
    assert_eq!(st, 200, "{tl}");
    assert_eq!(tl["times"].as_array().unwrap().len(), 12);
    let series: BTreeMap<String, Vec<f64>> = tl["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["group"].as_str().unwrap().to_string(),
                x["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect(),
            )
        })
        .collect();
    let mut prod = vec![0.0; 12];
    prod[3] = (10 * ms) as f64;
    prod[9] = (2 * ms) as f64;
    let mut stage = vec![0.0; 12];
    stage[3] = (20 * ms) as f64;
    assert_eq!(series["prod"], prod);
    assert_eq!(series["stage"], stage);

    // Unknown names: empty answers, not errors.
    for path in [
        "/api/v1/flamegraph?service=nope",
        "/api/v1/top?profile_type=nope",
        "/api/v1/diff?service=nope",
        "/api/v1/sandwich?service=nope&function=x",
    ] {
        let (st, v) = get(&s, path).await;
        assert_eq!(st, 200, "{path}: {v}");
    }
    let (_, v) = get(&s, "/api/v1/flamegraph?service=nope").await;
    assert_eq!(v["total"], 0);

    for (path, names) in [
        (format!("/api/v1/timeline?{range}&step=1ms"), "10000"),
        (
            format!("/api/v1/flamegraph?{range}&max_nodes=0"),
            "max_nodes",
        ),
        ("/api/v1/flamegraph?from=soon".into(), "from"),
        ("/api/v1/flamegraph?query=%7Ba%3D%7D".into(), "query"),
        ("/api/v1/flamegraph?focus=(".into(), "focus"),
        ("/api/v1/timeline?group_by=color".into(), "group_by"),
        ("/api/v1/top?sort=size".into(), "sort"),
        (
            "/api/v1/diff?comp_profile_type=goroutine".into(),
            "comp_profile_type",
        ),
        ("/api/v1/diff?normalize=maybe".into(), "normalize"),
        ("/api/v1/sandwich".into(), "function"),
    ] {
        let (st, v) = get(&s, &path).await;
        assert_eq!(st, 400, "{path}: {v}");
        assert!(v.to_string().contains(names), "{path}: {v}");
    }
}

/// A read over its query budget stops with the limit named, and the
/// server goes on answering others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_over_their_budget_name_the_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(
        &tmp.path().join("data"),
        &["--queries-per-sec", "0", "--query-memory-bytes", "64KiB"],
    )
    .await
    .unwrap();
    let body: String = (0..20_000)
        .map(|i| format!("main;f{i};g{} 1\n", i % 13))
        .collect();
    let (st, msg) = s
        .post("/ingest?name=api.cpu&format=folded", body.into_bytes(), &[])
        .await
        .unwrap();
    assert_eq!(st, 200, "{msg}");
    for path in [
        "/api/v1/flamegraph?service=api",
        "/api/v1/top?service=api",
        "/api/v1/export?service=api",
    ] {
        let (st, v) = get(&s, path).await;
        assert_eq!(st, 429, "{path}: {v}");
        assert!(v.to_string().contains("query_memory_bytes"), "{path}: {v}");
    }
    let (st, v) = get(&s, "/api/v1/services").await;
    assert_eq!(
        (st, v["values"][0]["name"].as_str()),
        (200, Some("api")),
        "{v}"
    );
}
