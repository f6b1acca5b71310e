//! Every ingest API (Pyroscope push, legacy /ingest in its forms, the
//! plain /api/v1/ingest) lands in SQL with the right series and values.

use flarego_proto::push::v1::{PushRequest, RawProfileSeries, RawSample};
use flarego_proto::types::v1::LabelPair;
use flarego_tests::pprof::{ProfileBuilder, gzip};
use flarego_tests::server::TestServer;
use prost::Message;

fn lp(name: &str, value: &str) -> LabelPair {
    LabelPair {
        name: name.into(),
        value: value.into(),
    }
}

fn cpu_profile() -> ProfileBuilder {
    ProfileBuilder::new(&[("samples", "count"), ("cpu", "nanoseconds")])
        .period("cpu", "nanoseconds", 10_000_000)
        .sample(
            &["main", "checkout", "crypto.sha"],
            &[3, 30_000_000],
            &[("span", "a")],
        )
        .sample(&["main", "checkout"], &[1, 10_000_000], &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ingest_api_lands_in_sql() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(&tmp.path().join("data"), &["--max-time-behind", "36500d"])
        .await
        .unwrap();

    // Pyroscope push, protobuf, gzipped profile.
    let req = PushRequest {
        series: vec![RawProfileSeries {
            labels: vec![
                lp("__name__", "process_cpu"),
                lp("service_name", "checkout"),
                lp("env", "prod"),
            ],
            samples: vec![RawSample {
                raw_profile: cpu_profile().gzipped(),
                id: "p1".into(),
            }],
        }],
    };
    let (st, body) = s
        .post(
            "/push.v1.PusherService/Push",
            req.encode_to_vec(),
            &[("content-type", "application/proto")],
        )
        .await
        .unwrap();
    assert_eq!(st, 200, "{body}");

    // Pyroscope push, JSON codec, whole body gzipped, mutex profile.
    let mutex = ProfileBuilder::new(&[("contentions", "count"), ("delay", "nanoseconds")])
        .sample(&["main", "sync.(*Mutex).Lock"], &[4, 4000], &[])
        .bytes();
    use base64::Engine as _;
    let json = serde_json::json!({"series": [{
        "labels": [{"name": "__name__", "value": "mutex"}, {"name": "service_name", "value": "checkout"}],
        "samples": [{"rawProfile": base64::engine::general_purpose::STANDARD.encode(&mutex), "ID": "m1"}]
    }]});
    let (st, body) = s
        .post(
            "/push.v1.PusherService/Push",
            gzip(json.to_string().as_bytes()),
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(st, 200, "{body}");

    // Legacy /ingest, raw pprof body, labels in the name.
    let heap = ProfileBuilder::new(&[
        ("alloc_objects", "count"),
        ("alloc_space", "bytes"),
        ("inuse_objects", "count"),
        ("inuse_space", "bytes"),
    ])
    .period("space", "bytes", 524288)
    .sample(&["main", "cache.Put"], &[10, 1000, 2, 200], &[])
    .bytes();
    let (st, body) = s
        .post("/ingest?name=legacy.inuse_space%7Bregion%3Deu%2Cinstance%3Dhost-7%7D&format=pprof&from=1700000000&until=1700000010", heap, &[])
        .await
        .unwrap();
    assert_eq!(st, 200, "{body}");

    // Legacy /ingest, multipart form as the SDKs send it, gzipped profile,
    // with a sample_type_config that renames a type.
    let goroutines = ProfileBuilder::new(&[("goroutine", "count")])
        .sample(&["main", "net.(*conn).Read"], &[12], &[])
        .gzipped();
    let mut form = Vec::new();
    form.extend_from_slice(b"--XBOUNDARY\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"profile.pprof\"\r\nContent-Type: application/octet-stream\r\n\r\n");
    form.extend_from_slice(&goroutines);
    form.extend_from_slice(b"\r\n--XBOUNDARY\r\nContent-Disposition: form-data; name=\"sample_type_config\"; filename=\"sample_type_config.json\"\r\nContent-Type: application/octet-stream\r\n\r\n{\"goroutine\":{\"units\":\"goroutines\",\"display-name\":\"goroutines\"}}\r\n--XBOUNDARY--\r\n");
    let (st, body) = s
        .post(
            "/ingest?name=sdk.goroutines&spyName=gospy&sampleRate=100",
            form,
            &[("content-type", "multipart/form-data; boundary=XBOUNDARY")],
        )
        .await
        .unwrap();
    assert_eq!(st, 200, "{body}");

    // Legacy /ingest, folded CPU samples at 100 Hz (→ 10 ms each), other tenant.
    let (st, body) = s
        .post(
            "/ingest?name=folded.cpu&format=folded&sampleRate=100",
            b"main;serve;parse 7\nmain;serve 3\n".to_vec(),
            &[("X-Scope-OrgID", "acme")],
        )
        .await
        .unwrap();
    assert_eq!(st, 200, "{body}");

    // Plain pprof API with query-parameter labels; a Java-style type is kept.
    let wall = ProfileBuilder::new(&[
        ("wall", "nanoseconds"),
        ("alloc_in_new_tlab_bytes", "bytes"),
    ])
    .sample(&["Main.run", "Worker.work"], &[500, 64], &[])
    .bytes();
    let (st, body) = s
        .post(
            "/api/v1/ingest?service=jvm&instance=pod-1&team=core",
            wall,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(st, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["rows"], 2);

    let rows = s
        .sql("SELECT tenant, service, instance, profile_type, unit, CAST(sum(value) AS BIGINT) FROM profiles GROUP BY 1,2,3,4,5 ORDER BY 1,2,3,4")
        .await
        .unwrap();
    let got: Vec<String> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| c.as_str().map(str::to_string).unwrap_or(c.to_string()))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(
        got,
        vec![
            "acme folded  cpu nanoseconds 100000000",
            "default checkout  cpu nanoseconds 40000000",
            "default checkout  cpu_samples count 4",
            "default checkout  mutex_contentions count 4",
            "default checkout  mutex_delay nanoseconds 4000",
            "default jvm pod-1 alloc_in_new_tlab_bytes bytes 64",
            "default jvm pod-1 wall nanoseconds 500",
            "default legacy host-7 alloc_objects count 10",
            "default legacy host-7 alloc_space bytes 1000",
            "default legacy host-7 heap_inuse_objects count 2",
            "default legacy host-7 heap_inuse_space bytes 200",
            "default sdk  goroutine count 12",
        ]
    );

    // Labels: request labels and pprof labels both land in `labels`.
    let rows = s
        .sql("SELECT labels['env'], labels['span'], leaf(frames), value FROM profiles WHERE profile_type = 'cpu' AND service = 'checkout' ORDER BY value DESC")
        .await
        .unwrap();
    assert_eq!(
        rows[0],
        vec![
            serde_json::json!("prod"),
            serde_json::json!("a"),
            serde_json::json!("crypto.sha"),
            serde_json::json!(30_000_000)
        ]
    );
    assert_eq!(rows[1][1], serde_json::Value::Null);
    let region = s
        .sql("SELECT DISTINCT labels['region'] FROM profiles WHERE service = 'legacy'")
        .await
        .unwrap();
    assert_eq!(region, vec![vec![serde_json::json!("eu")]]);
    let team = s
        .sql("SELECT DISTINCT labels['team'] FROM profiles WHERE service = 'jvm'")
        .await
        .unwrap();
    assert_eq!(team, vec![vec![serde_json::json!("core")]]);

    // `from` decides the window of the legacy upload.
    let t = s
        .sql("SELECT DISTINCT CAST(time AS VARCHAR) FROM profiles WHERE service = 'legacy'")
        .await
        .unwrap();
    assert_eq!(t[0][0].as_str().unwrap(), "2023-11-14T22:13:20Z");

    // X-Scope-OrgID narrows a query to one tenant.
    let r = s
        .client()
        .post(format!("{}/api/v1/query", s.url))
        .header("X-Scope-OrgID", "acme")
        .json(&serde_json::json!({"sql": "SELECT DISTINCT service FROM profiles"}))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["rows"], serde_json::json!([["folded"]]));

    // Arrow IPC on request.
    let r = s
        .client()
        .post(format!("{}/api/v1/query", s.url))
        .header("Accept", "application/vnd.apache.arrow.stream")
        .json(&serde_json::json!({"sql": "SELECT service, value FROM profiles"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.apache.arrow.stream"
    );
    let bytes = r.bytes().await.unwrap();
    let reader =
        arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes.to_vec()), None)
            .unwrap();
    let n: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(
        n,
        s.sql_i64("SELECT count(*) FROM profiles").await.unwrap() as usize
    );

    // The same answers after a restart that replays the WAL (every body
    // kind above, gzipped ones included), and after a flush to Parquet and
    // another restart.
    let totals = "SELECT tenant, service, profile_type, labels, sum(value) FROM profiles GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3";
    let before = s.sql(totals).await.unwrap();
    let mut s = s;
    s.restart().await.unwrap();
    assert_eq!(s.sql(totals).await.unwrap(), before, "after WAL replay");
    s.flush().await.unwrap();
    s.restart().await.unwrap();
    assert_eq!(
        s.sql(totals).await.unwrap(),
        before,
        "after flush and restart"
    );
    let parquet = flarego_tests::files_below(&tmp.path().join("data/parquet"));
    assert!(
        parquet
            .iter()
            .any(|p| p.contains("tenant=acme/date=") && p.contains("/hour=")),
        "{parquet:?}"
    );
    assert!(
        parquet
            .iter()
            .any(|p| p.contains("tenant=default/date=2023-11-14/hour=22/samples-")),
        "{parquet:?}"
    );
}

/// A multipart upload with `prev_profile` stores the difference for
/// cumulative sample types, and the current value for the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prev_profile_turns_cumulative_types_into_deltas() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(&tmp.path().join("data"), &["--max-time-behind", "36500d"])
        .await
        .unwrap();
    let heap = |allocs: i64, inuse: i64| {
        ProfileBuilder::new(&[("alloc_objects", "count"), ("inuse_objects", "count")])
            .sample(&["main", "alloc"], &[allocs, inuse], &[])
            .gzipped()
    };
    let mut form = Vec::new();
    for (name, body) in [("profile", heap(10, 3)), ("prev_profile", heap(4, 2))] {
        form.extend_from_slice(
            format!("--B\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}.pprof\"\r\n\r\n")
                .as_bytes(),
        );
        form.extend_from_slice(&body);
        form.extend_from_slice(b"\r\n");
    }
    form.extend_from_slice(b"--B--\r\n");
    let (st, msg) = s
        .post(
            "/ingest?name=delta.alloc_objects",
            form,
            &[("content-type", "multipart/form-data; boundary=B")],
        )
        .await
        .unwrap();
    assert_eq!(st, 200, "{msg}");
    let rows = s
        .sql("SELECT profile_type, sum(value) FROM profiles GROUP BY 1 ORDER BY 1")
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![
            vec![serde_json::json!("alloc_objects"), serde_json::json!(6)],
            vec![
                serde_json::json!("heap_inuse_objects"),
                serde_json::json!(3)
            ],
        ]
    );
}
