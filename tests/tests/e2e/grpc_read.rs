//! The read API over gRPC (`flarego.query.v1.QueryService`) answers what
//! the HTTP read API answers, `Sql` streams Arrow IPC, and the CLI's
//! `query --grpc`, `export` and `import` work against a real server.

use flarego_proto::flarego::query::v1 as pb;
use flarego_proto::flarego::query::v1::query_service_client::QueryServiceClient;
use flarego_tests::server::{TestServer, flarego_bin};
use serde_json::Value;

async fn get(s: &TestServer, path: &str) -> Value {
    let r = s
        .client()
        .get(format!("{}{path}", s.url))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

fn sel(service: &str) -> Option<pb::Selection> {
    Some(pb::Selection {
        service: service.into(),
        profile_type: "cpu".into(),
        from: "now-1h".into(),
        ..Default::default()
    })
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_read_api_answers_as_http_does() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(&tmp.path().join("data"), &["--queries-per-sec", "0"])
        .await
        .unwrap();
    for (name, body) in [
        ("api.cpu%7Benv%3Dprod%7D", "main;a;b 5\nmain;c 2\n"),
        ("api.cpu%7Benv%3Dstage%7D", "main;a 4\n"),
        ("db.cpu", "main;q 1\n"),
    ] {
        let (st, msg) = s
            .post(
                &format!("/ingest?name={name}&format=folded"),
                body.as_bytes().to_vec(),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(st, 200, "{msg}");
    }
    let mut c = QueryServiceClient::connect(s.grpc_url.clone())
        .await
        .unwrap();

    let fg = c
        .flame_graph(pb::FlameGraphRequest {
            selection: sel("api"),
            max_nodes: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let http = get(&s, "/api/v1/flamegraph?service=api&from=now-1h").await;
    let tree = fg.tree.unwrap();
    assert_eq!(fg.total, http["total"].as_i64().unwrap());
    assert_eq!(fg.total, 110_000_000);
    assert_eq!(tree.total, ints(&http["tree"]["total"]));
    assert_eq!(tree.self_, ints(&http["tree"]["self"]));
    assert_eq!(
        tree.names.len(),
        http["tree"]["names"].as_array().unwrap().len()
    );

    let top = c
        .top(pb::TopRequest {
            selection: sel("api"),
            sort: "total".into(),
            limit: 2,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(top.rows.len(), 2);
    assert_eq!(
        (top.rows[0].function.as_str(), top.rows[0].total),
        ("main", 110_000_000)
    );
    assert_eq!(
        (top.rows[1].function.as_str(), top.rows[1].total),
        ("a", 90_000_000)
    );

    let d = c
        .diff(pb::DiffRequest {
            base: Some(pb::Selection {
                query: r#"{env="prod"}"#.into(),
                ..sel("api").unwrap()
            }),
            comparison: Some(pb::Selection {
                query: r#"{env="stage"}"#.into(),
                ..sel("api").unwrap()
            }),
            normalize: false,
            max_nodes: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((d.base_total, d.comp_total), (70_000_000, 40_000_000));

    let t = c
        .timeline(pb::TimelineRequest {
            selection: sel("api"),
            step: "1m".into(),
            group_by: "label:env".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(t.step_ns, 60_000_000_000);
    let total: f64 = t.series.iter().map(|s| s.total).sum();
    assert_eq!(total, 110_000_000.0);

    let b = c
        .browse(pb::BrowseRequest {
            selection: Some(pb::Selection {
                from: "now-1h".into(),
                ..Default::default()
            }),
            listing: "services".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let names: Vec<(String, u64)> = b.values.into_iter().map(|v| (v.name, v.rows)).collect();
    assert_eq!(names, [("api".to_string(), 3), ("db".to_string(), 1)]);

    let e = c
        .export(pb::ExportRequest {
            selection: sel("api"),
            format: "folded".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        String::from_utf8(e.data).unwrap(),
        "main;a 40000000\nmain;a;b 50000000\nmain;c 20000000\n"
    );

    // Bad input is refused by name, as on HTTP.
    let err = c
        .flame_graph(pb::FlameGraphRequest {
            selection: Some(pb::Selection {
                from: "soon".into(),
                ..Default::default()
            }),
            max_nodes: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("from"), "{}", err.message());

    // Sql: the streamed pieces make one Arrow IPC stream.
    let mut stream = c
        .sql(pb::SqlRequest {
            sql: "SELECT service, sum(value) AS v FROM profiles GROUP BY service ORDER BY service"
                .into(),
            tenant: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut ipc = Vec::new();
    let mut pieces = 0;
    while let Some(m) = stream.message().await.unwrap() {
        ipc.extend_from_slice(&m.arrow_ipc);
        pieces += 1;
    }
    assert!(pieces >= 3, "schema, batches, end: {pieces}");
    let reader =
        arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(ipc), None).unwrap();
    let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 2);

    // The CLI over gRPC prints the same answer.
    let out = std::process::Command::new(flarego_bin().unwrap())
        .args(["query", "--grpc", &s.grpc_url, "--format", "csv"])
        .arg("SELECT service, sum(value) AS v FROM profiles GROUP BY service ORDER BY service")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "service,v\napi,110000000\ndb,10000000"
    );

    // flarego export / import.
    let file = tmp.path().join("api.folded");
    let out = std::process::Command::new(flarego_bin().unwrap())
        .args([
            "export",
            "--server",
            &s.url,
            "--format",
            "folded",
            "--service",
            "api",
            "-o",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "main;a 40000000\nmain;a;b 50000000\nmain;c 20000000\n"
    );
    let fgo = tmp.path().join("api.fgo");
    let out = std::process::Command::new(flarego_bin().unwrap())
        .args([
            "export",
            "--server",
            &s.url,
            "--format",
            "fgo",
            "--service",
            "api",
            "-o",
        ])
        .arg(&fgo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(flarego_bin().unwrap())
        .args(["import", "--server", &s.url, "--name", "api now"])
        .arg(&fgo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let snap = get(&s, &format!("/api/v1/snapshots/{id}")).await;
    assert_eq!(snap["total"], 110_000_000);
    let list = get(&s, "/api/v1/snapshots").await;
    assert_eq!(list["snapshots"][0]["name"], "api now");
}
