//! Pyroscope's read API as Grafana's data source, profilecli and the
//! profiles drilldown call it: Connect unary requests with connect-go's
//! headers in binary proto, and JSON as browsers send it, against the
//! real server loaded with the Go workload's profiles. Totals and
//! per-function values equal `go tool pprof`; the flame graph is the
//! read API's tree; series points are the timeline's.

use flarego_proto::pprof::Profile;
use flarego_proto::querier::v1 as q;
use flarego_proto::types::v1 as t;
use flarego_tests::connect::{body_of, call, call_json, nodes_of_levels, nodes_of_read_api};
use flarego_tests::gotool;
use flarego_tests::pprof::ProfileBuilder;
use flarego_tests::server::TestServer;
use prost::Message;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Pyroscope's ids for the Go workload's sample types (its
/// `profile-metrics.json`), by `go tool pprof -sample_index`.
const IDS: [(&str, &str, &str); 11] = [
    (
        "cpu",
        "samples",
        "process_cpu:samples:count:cpu:nanoseconds",
    ),
    ("cpu", "cpu", "process_cpu:cpu:nanoseconds:cpu:nanoseconds"),
    (
        "heap",
        "alloc_objects",
        "memory:alloc_objects:count:space:bytes",
    ),
    (
        "heap",
        "alloc_space",
        "memory:alloc_space:bytes:space:bytes",
    ),
    (
        "heap",
        "inuse_objects",
        "memory:inuse_objects:count:space:bytes",
    ),
    (
        "heap",
        "inuse_space",
        "memory:inuse_space:bytes:space:bytes",
    ),
    (
        "goroutine",
        "goroutine",
        "goroutines:goroutine:count:goroutine:count",
    ),
    (
        "block",
        "contentions",
        "block:contentions:count:contentions:count",
    ),
    (
        "block",
        "delay",
        "block:delay:nanoseconds:contentions:count",
    ),
    (
        "mutex",
        "contentions",
        "mutex:contentions:count:contentions:count",
    ),
    (
        "mutex",
        "delay",
        "mutex:delay:nanoseconds:contentions:count",
    ),
];

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn profile_total(p: &Profile) -> i64 {
    p.sample.iter().map(|s| s.value[0]).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_and_profilecli_calls_answer_like_go_tool_pprof() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, out) = flarego_tests::server::start_with_profgen(tmp.path()).await;
    let (start, end) = (now_ms() - 86_400_000, now_ms() + 60_000);

    // Grafana's health check: an old, empty range succeeds, empty.
    let health: q::ProfileTypesResponse = call(
        &s,
        "querier.v1.QuerierService/ProfileTypes",
        &q::ProfileTypesRequest {
            start: 1000,
            end: 4000,
        },
    )
    .await;
    assert!(health.profile_types.is_empty());

    let types: q::ProfileTypesResponse = call(
        &s,
        "querier.v1.QuerierService/ProfileTypes",
        &q::ProfileTypesRequest { start, end },
    )
    .await;
    let listed: Vec<&str> = types.profile_types.iter().map(|p| p.id.as_str()).collect();
    let mut want: Vec<&str> = IDS.iter().map(|(_, _, id)| *id).collect();
    want.sort();
    assert_eq!(listed, want, "profile types sorted by id");
    let cpu = types
        .profile_types
        .iter()
        .find(|p| p.id == "process_cpu:cpu:nanoseconds:cpu:nanoseconds")
        .unwrap();
    assert_eq!(
        (
            cpu.name.as_str(),
            cpu.sample_type.as_str(),
            cpu.sample_unit.as_str()
        ),
        ("process_cpu", "cpu", "nanoseconds")
    );

    for (kind, index, id) in IDS {
        let (total, theirs) = gotool::pprof_top(&out.join(format!("{kind}.pb.gz")), index).unwrap();
        let selector = format!(r#"{{service_name="profgen", instance="{kind}"}}"#);
        let what = format!("{kind} {index}");

        // The flame graph (no pruning: the tree is small).
        let fg: q::SelectMergeStacktracesResponse = call(
            &s,
            "querier.v1.QuerierService/SelectMergeStacktraces",
            &q::SelectMergeStacktracesRequest {
                profile_type_id: id.into(),
                label_selector: selector.clone(),
                start,
                end,
                max_nodes: Some(1 << 20),
                ..Default::default()
            },
        )
        .await;
        let fg = fg.flamegraph.expect("a flame graph");
        assert_eq!(fg.total, total, "{what}: total");
        assert_eq!(fg.names[0], "total");
        let levels: Vec<Vec<i64>> = fg.levels.iter().map(|l| l.values.clone()).collect();
        let nodes = nodes_of_levels(&fg.names, &levels, 4);
        let mut self_of: BTreeMap<String, i64> = BTreeMap::new();
        for (path, _, self_) in &nodes {
            let f = path.rsplit(';').next().unwrap().to_string();
            *self_of.entry(f).or_default() += self_;
        }
        for (f, (flat, _)) in &theirs {
            assert_eq!(
                self_of.get(f).copied().unwrap_or(0),
                *flat,
                "{what}: self of {f}"
            );
        }
        assert_eq!(
            fg.max_self,
            nodes.iter().map(|n| n.2).max().unwrap_or(0),
            "{what}: max_self"
        );

        // The same tree as the read API's.
        let pt = gotool::PROFGEN_TYPES
            .iter()
            .find(|(k, i, _)| *k == kind && *i == index)
            .unwrap()
            .2;
        let r = s
            .client()
            .get(format!(
                "{}/api/v1/flamegraph?service=profgen&profile_type={pt}&query=%7Binstance%3D%22{kind}%22%7D&from={start}&to={end}",
                s.url
            ))
            .send()
            .await
            .unwrap();
        let ours: Value = r.json().await.unwrap();
        assert_eq!(
            nodes,
            nodes_of_read_api(&ours),
            "{what}: the read API's tree"
        );

        // profilecli's `query profile`: PPROF format, then SelectMergeProfile.
        let pprof: q::SelectMergeStacktracesResponse = call(
            &s,
            "querier.v1.QuerierService/SelectMergeStacktraces",
            &q::SelectMergeStacktracesRequest {
                profile_type_id: id.into(),
                label_selector: selector.clone(),
                start,
                end,
                format: q::ProfileFormat::Pprof as i32,
                ..Default::default()
            },
        )
        .await;
        let p = pprof
            .pprof
            .and_then(|p| p.profile)
            .expect("a pprof profile");
        assert_eq!(profile_total(&p), total, "{what}: pprof total");
        let merged: Profile = call(
            &s,
            "querier.v1.QuerierService/SelectMergeProfile",
            &q::SelectMergeProfileRequest {
                profile_type_id: id.into(),
                label_selector: selector.clone(),
                start,
                end,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            profile_total(&merged),
            total,
            "{what}: SelectMergeProfile total"
        );
        let sample_type = &merged.string_table[merged.sample_type[0].r#type as usize];
        assert_eq!(sample_type, index, "{what}: sample type");

        // The time series: the timeline's points, summing to the total.
        let series: q::SelectSeriesResponse = call(
            &s,
            "querier.v1.QuerierService/SelectSeries",
            &q::SelectSeriesRequest {
                profile_type_id: id.into(),
                label_selector: selector.clone(),
                start,
                end,
                step: 3600.0,
                group_by: vec!["instance".into()],
                ..Default::default()
            },
        )
        .await;
        assert_eq!(series.series.len(), 1, "{what}: one instance");
        let only = &series.series[0];
        assert_eq!(
            only.labels,
            [t::LabelPair {
                name: "instance".into(),
                value: kind.into()
            }]
        );
        let sum: f64 = only.points.iter().map(|p| p.value).sum();
        assert_eq!(sum as i64, total, "{what}: series sum");
        let r = s
            .client()
            .get(format!(
                "{}/api/v1/timeline?service=profgen&profile_type={pt}&query=%7Binstance%3D%22{kind}%22%7D&from={start}&to={end}&step=1h",
                s.url
            ))
            .send()
            .await
            .unwrap();
        let timeline: Value = r.json().await.unwrap();
        let times: Vec<i64> = timeline["times"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_i64().unwrap() / 1_000_000)
            .collect();
        let values: Vec<f64> = timeline["series"][0]["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let points: Vec<(i64, f64)> = only.points.iter().map(|p| (p.timestamp, p.value)).collect();
        assert_eq!(
            points,
            times.into_iter().zip(values).collect::<Vec<_>>(),
            "{what}: the timeline"
        );
    }

    // Label browsing as the drilldown app does it, in JSON.
    let cpu_id = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
    let matcher = format!(r#"{{__profile_type__="{cpu_id}"}}"#);
    let (st, names) = call_json(
        &s,
        "querier.v1.QuerierService/LabelNames",
        json!({"matchers": [matcher], "start": start, "end": end}),
    )
    .await;
    assert_eq!(st, 200, "{names}");
    let names: Vec<&str> = names["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"service_name") && names.contains(&"instance"),
        "{names:?}"
    );
    let (st, values) = call_json(
        &s,
        "querier.v1.QuerierService/LabelValues",
        json!({"name": "instance", "matchers": [r#"{service_name="profgen"}"#], "start": start.to_string(), "end": end}),
    )
    .await;
    assert_eq!(st, 200, "{values}");
    assert_eq!(
        values["names"],
        json!(["block", "cpu", "goroutine", "heap", "mutex"])
    );
    let (st, sets) = call_json(
        &s,
        "querier.v1.QuerierService/Series",
        json!({"labelNames": ["service_name", "__profile_type__"], "start": start, "end": end}),
    )
    .await;
    assert_eq!(st, 200, "{sets}");
    let sets = sets["labelsSet"].as_array().unwrap();
    assert_eq!(sets.len(), IDS.len(), "{sets:?}");
    assert!(
        sets.iter()
            .all(|s| s["labels"][1] == json!({"name": "service_name", "value": "profgen"}))
    );

    // The flame graph in JSON: 64-bit numbers as strings.
    let (st, fg) = call_json(
        &s,
        "querier.v1.QuerierService/SelectMergeStacktraces",
        json!({"profileTypeID": cpu_id, "labelSelector": r#"{service_name="profgen"}"#, "start": start, "end": end}),
    )
    .await;
    assert_eq!(st, 200, "{fg}");
    let (cpu_total, _) = gotool::pprof_top(&out.join("cpu.pb.gz"), "cpu").unwrap();
    assert_eq!(fg["flamegraph"]["total"], json!(cpu_total.to_string()));
    assert_eq!(fg["flamegraph"]["names"][0], "total");

    // Diff of a selection with itself; the legacy render and render-diff.
    let side = q::SelectMergeStacktracesRequest {
        profile_type_id: cpu_id.into(),
        label_selector: r#"{service_name="profgen"}"#.into(),
        start,
        end,
        ..Default::default()
    };
    let diff: q::DiffResponse = call(
        &s,
        "querier.v1.QuerierService/Diff",
        &q::DiffRequest {
            left: Some(side.clone()),
            right: Some(side),
        },
    )
    .await;
    let d = diff.flamegraph.unwrap();
    assert_eq!(
        (d.left_ticks, d.right_ticks, d.total),
        (cpu_total, cpu_total, 2 * cpu_total)
    );
    let query = format!("{cpu_id}%7Bservice_name%3D%22profgen%22%7D");
    let r = s
        .client()
        .get(format!(
            "{}/pyroscope/render?query={query}&from={start}&until={end}",
            s.url
        ))
        .send()
        .await
        .unwrap();
    let render: Value = r.json().await.unwrap();
    assert_eq!(render["flamebearer"]["numTicks"], cpu_total, "{render}");
    assert_eq!(render["metadata"]["units"], "samples");
    let timeline_sum: i64 = render["timeline"]["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .sum();
    assert_eq!(timeline_sum, cpu_total);
    let levels: Vec<Vec<i64>> =
        serde_json::from_value(render["flamebearer"]["levels"].clone()).unwrap();
    let names: Vec<String> =
        serde_json::from_value(render["flamebearer"]["names"].clone()).unwrap();
    let by_render = nodes_of_levels(&names, &levels, 4);
    let by_connect = nodes_of_levels(
        &d.names,
        &d.levels
            .iter()
            .map(|l| {
                l.values
                    .chunks(7)
                    .flat_map(|n| [n[0], n[1], n[2], n[6]])
                    .collect()
            })
            .collect::<Vec<_>>(),
        4,
    );
    assert_eq!(by_render, by_connect, "render and the diff's left side");
    let r = s
        .client()
        .get(format!(
            "{}/pyroscope/render-diff?leftQuery={query}&leftFrom={start}&leftUntil={end}&rightQuery={query}&rightFrom={start}&rightUntil={end}",
            s.url
        ))
        .send()
        .await
        .unwrap();
    let rd: Value = r.json().await.unwrap();
    assert_eq!(rd["metadata"]["format"], "double", "{rd}");
    assert_eq!(
        (rd["leftTicks"].as_i64(), rd["rightTicks"].as_i64()),
        (Some(cpu_total), Some(cpu_total))
    );
    let r = s
        .client()
        .get(format!(
            "{}/pyroscope/label-values?label=__name__&from={start}&until={end}",
            s.url
        ))
        .send()
        .await
        .unwrap();
    let ids: Vec<String> = r.json().await.unwrap();
    assert_eq!(ids.len(), IDS.len());
    let (st, settings) = call_json(&s, "settings.v1.SettingsService/Get", json!({})).await;
    assert_eq!((st, settings), (200, json!({})));
}

/// Grouping, pruning, span profiles, gzip both ways, and bad requests
/// answered with Connect's errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_pruning_gzip_and_connect_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(&tmp.path().join("data"), &["--queries-per-sec", "0"])
        .await
        .unwrap();
    let mut b =
        ProfileBuilder::new(&[("cpu", "nanoseconds")]).period("cpu", "nanoseconds", 10_000_000);
    b = b.sample(
        &["main", "handle", "db"],
        &[70_000_000],
        &[("span_id", "aaaa")],
    );
    b = b.sample(
        &["main", "handle", "render"],
        &[20_000_000],
        &[("span_id", "bbbb")],
    );
    for i in 0..200 {
        let leaf = format!("leaf{i:03}");
        b = b.sample(&["main", "many", &leaf], &[10_000_000], &[]);
    }
    let (st, msg) = s
        .post(
            "/ingest?name=web.cpu%7Benv%3Dprod%7D&format=pprof",
            b.gzipped(),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(st, 200, "{msg}");
    let (start, end) = (now_ms() - 3_600_000, now_ms() + 60_000);
    let cpu = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
    let total = 70_000_000 + 20_000_000 + 200 * 10_000_000;

    // Span profile: only the samples of span aaaa.
    let span: q::SelectMergeSpanProfileResponse = call(
        &s,
        "querier.v1.QuerierService/SelectMergeSpanProfile",
        &q::SelectMergeSpanProfileRequest {
            profile_type_id: cpu.into(),
            label_selector: "{}".into(),
            span_selector: vec!["aaaa".into()],
            start,
            end,
            ..Default::default()
        },
    )
    .await;
    let fg = span.flamegraph.unwrap();
    assert_eq!(fg.total, 70_000_000);
    assert!(fg.names.contains(&"db".to_string()) && !fg.names.contains(&"render".to_string()));

    // max_nodes: the 200 leaves merge into `other`, totals and the kept
    // nodes' self values unchanged.
    let pruned: q::SelectMergeStacktracesResponse = call(
        &s,
        "querier.v1.QuerierService/SelectMergeStacktraces",
        &q::SelectMergeStacktracesRequest {
            profile_type_id: cpu.into(),
            label_selector: r#"{service_name="web"}"#.into(),
            start,
            end,
            max_nodes: Some(10),
            ..Default::default()
        },
    )
    .await;
    let fg = pruned.flamegraph.unwrap();
    let levels: Vec<Vec<i64>> = fg.levels.iter().map(|l| l.values.clone()).collect();
    let nodes = nodes_of_levels(&fg.names, &levels, 4);
    assert_eq!(fg.total, total);
    // The root, 10 nodes, and one `other`.
    assert_eq!(nodes.len(), 12, "{nodes:?}");
    let other = nodes
        .iter()
        .find(|n| n.0 == "total;main;many;other")
        .expect("an other node");
    assert_eq!(other.1, other.2, "other is all self");
    let kept_leaves: i64 = nodes
        .iter()
        .filter(|n| n.0.starts_with("total;main;many;leaf"))
        .map(|n| n.1)
        .sum();
    assert_eq!(other.1 + kept_leaves, 2_000_000_000);
    assert!(nodes.contains(&("total;main;handle;db".into(), 70_000_000, 70_000_000)));

    // Call site: the stacks under main;handle only.
    let site: q::SelectMergeStacktracesResponse = call(
        &s,
        "querier.v1.QuerierService/SelectMergeStacktraces",
        &q::SelectMergeStacktracesRequest {
            profile_type_id: cpu.into(),
            label_selector: "{}".into(),
            start,
            end,
            stack_trace_selector: Some(t::StackTraceSelector {
                call_site: vec![
                    t::Location {
                        name: "main".into(),
                    },
                    t::Location {
                        name: "handle".into(),
                    },
                ],
                go_pgo: None,
            }),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(site.flamegraph.unwrap().total, 90_000_000);

    // A gzipped request; a gzipped answer.
    let req = q::SelectMergeStacktracesRequest {
        profile_type_id: cpu.into(),
        label_selector: "{}".into(),
        start,
        end,
        ..Default::default()
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &req.encode_to_vec()).unwrap();
    let r = s
        .client()
        .post(format!(
            "{}/querier.v1.QuerierService/SelectMergeStacktraces",
            s.url
        ))
        .header("content-type", "application/proto")
        .header("content-encoding", "gzip")
        .header("accept-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap()),
        Some("gzip")
    );
    let (st, _, body) = body_of(r).await;
    assert_eq!(st, 200);
    let fg = q::SelectMergeStacktracesResponse::decode(&body[..])
        .unwrap()
        .flamegraph
        .unwrap();
    assert_eq!(fg.total, total);

    // Group by a label: one series per value.
    let (st, series) = call_json(
        &s,
        "querier.v1.QuerierService/SelectSeries",
        json!({"profileTypeID": cpu, "labelSelector": "{}", "start": start, "end": end, "step": 60, "groupBy": ["span_id"]}),
    )
    .await;
    assert_eq!(st, 200, "{series}");
    let labels: Vec<&Value> = series["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["labels"])
        .collect();
    // Samples without a span have no span_id label: no label at all.
    let span = |v: &str| json!([{"name": "span_id", "value": v}]);
    assert_eq!(labels, [&Value::Null, &span("aaaa"), &span("bbbb")]);

    // Bad requests: Connect's error form, the right code, what was wrong.
    let m = "querier.v1.QuerierService/SelectMergeStacktraces";
    let cases: Vec<(&str, Value, u16, &str, &str)> = vec![
        (
            m,
            json!({"profileTypeID": "cpu", "start": start, "end": end}),
            400,
            "invalid_argument",
            "unknown profile type id",
        ),
        (
            m,
            json!({"profileTypeID": cpu, "labelSelector": "{a=", "start": start, "end": end}),
            400,
            "invalid_argument",
            "label_selector",
        ),
        (
            m,
            json!({"profileTypeID": cpu, "labelSelector": "{}"}),
            400,
            "invalid_argument",
            "time range is required",
        ),
        (
            m,
            json!({"profileTypeID": cpu, "start": start, "end": end, "maxNodes": "-5"}),
            400,
            "invalid_argument",
            "max_nodes",
        ),
        (
            m,
            json!({"profileTypeID": cpu, "start": start, "end": end, "format": "PROFILE_FORMAT_TREE"}),
            501,
            "unimplemented",
            "PROFILE_FORMAT_TREE",
        ),
        (
            m,
            json!({"profileTypeID": 7}),
            400,
            "invalid_argument",
            "SelectMergeStacktracesRequest",
        ),
        (
            "querier.v1.QuerierService/SelectSeries",
            json!({"profileTypeID": cpu, "start": start, "end": end, "groupBy": ["a b"]}),
            400,
            "invalid_argument",
            "group_by",
        ),
        (
            "querier.v1.QuerierService/Diff",
            json!({"left": {"profileTypeID": cpu, "start": start, "end": end}}),
            400,
            "invalid_argument",
            "right",
        ),
        (
            "querier.v1.QuerierService/LabelValues",
            json!({"start": start, "end": end}),
            400,
            "invalid_argument",
            "name",
        ),
    ];
    for (path, body, status, code, words) in cases {
        let (st, v) = call_json(&s, path, body.clone()).await;
        assert_eq!(st, status, "{body}: {v}");
        assert_eq!(v["code"], code, "{body}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains(words),
            "{body}: {v} should say {words:?}"
        );
    }
    let (st, body) = s
        .post(
            &format!("/{m}"),
            b"\xff\xff\xff".to_vec(),
            &[("content-type", "application/proto")],
        )
        .await
        .unwrap();
    assert_eq!(st, 400, "{body}");
    assert!(
        body.contains("invalid_argument") && body.contains("binary proto"),
        "{body}"
    );
    let (st, body) = s
        .post(
            &format!("/{m}"),
            b"x".to_vec(),
            &[("content-type", "text/plain")],
        )
        .await
        .unwrap();
    assert_eq!(st, 415, "{body}");
    assert!(body.contains("application/proto"), "{body}");
}
