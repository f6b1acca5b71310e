//! OTLP profiles ingest (`v1development`): requests built from the
//! pinned protos, sent as the Collector and the eBPF profiler send them —
//! protobuf and JSON over HTTP (gzip), and gRPC `ProfilesService/Export`
//! — land as the expected rows; bad indices and oversized requests are
//! refused whole, naming what was wrong.

use flarego_proto::opentelemetry::proto::collector::profiles::v1development::ExportProfilesServiceRequest;
use flarego_proto::opentelemetry::proto::collector::profiles::v1development::profiles_service_client::ProfilesServiceClient;
use flarego_proto::opentelemetry::proto::common::v1::{AnyValue, KeyValue, any_value};
use flarego_proto::opentelemetry::proto::profiles::v1development as otlp;
use flarego_proto::opentelemetry::proto::resource::v1::Resource;
use flarego_tests::server::TestServer;
use prost::Message;
use serde_json::Value;

fn text(s: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(s.into())),
    })
}

/// A request as the eBPF profiler shapes one: CPU samples (count) at a
/// 50 ms period, a dictionary of functions, locations (one with an
/// inlined function, one unsymbolized) and stacks, sample attributes
/// and a span link.
fn request(service: &str) -> ExportProfilesServiceRequest {
    let strings: Vec<String> = [
        "",
        "samples",
        "count",
        "cpu",
        "nanoseconds",
        "main.main",
        "main.handle",
        "main.encode",
        "json.Marshal",
        "thread.name",
        "worker-1",
        "worker-2",
        "libc.so.6",
        "/usr/lib/libc.so.6",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let f = |name: i32| otlp::Function {
        name_strindex: name,
        ..Default::default()
    };
    let line = |function_index: i32| otlp::Line {
        function_index,
        ..Default::default()
    };
    let dictionary = otlp::ProfilesDictionary {
        mapping_table: vec![
            Default::default(),
            otlp::Mapping {
                filename_strindex: 13,
                ..Default::default()
            },
        ],
        // 1 main.main, 2 main.handle, 3 json.Marshal inlined into
        // main.encode (lines innermost first), 4 unsymbolized in libc.
        location_table: vec![
            Default::default(),
            otlp::Location {
                lines: vec![line(1)],
                ..Default::default()
            },
            otlp::Location {
                lines: vec![line(2)],
                ..Default::default()
            },
            otlp::Location {
                lines: vec![line(4), line(3)],
                ..Default::default()
            },
            otlp::Location {
                mapping_index: 1,
                address: 0x1f00,
                ..Default::default()
            },
        ],
        function_table: vec![Default::default(), f(5), f(6), f(7), f(8)],
        link_table: vec![
            Default::default(),
            otlp::Link {
                trace_id: vec![0xab; 16],
                span_id: vec![0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08],
            },
        ],
        string_table: strings,
        attribute_table: vec![
            Default::default(),
            otlp::KeyValueAndUnit {
                key_strindex: 9,
                value: text("worker-1"),
                unit_strindex: 0,
            },
            otlp::KeyValueAndUnit {
                key_strindex: 9,
                value: text("worker-2"),
                unit_strindex: 0,
            },
        ],
        // Leaf first.
        stack_table: vec![
            Default::default(),
            otlp::Stack {
                location_indices: vec![3, 2, 1],
            },
            otlp::Stack {
                location_indices: vec![4, 2, 1],
            },
        ],
    };
    let sample = |stack_index, values: Vec<i64>, attribute: i32, link_index, timestamps: usize| {
        otlp::Sample {
            stack_index,
            values,
            attribute_indices: vec![attribute],
            link_index,
            timestamps_unix_nano: vec![1; timestamps],
        }
    };
    let profile = otlp::Profile {
        sample_type: Some(otlp::ValueType {
            type_strindex: 1,
            unit_strindex: 2,
        }),
        samples: vec![
            sample(1, vec![3], 1, 1, 0),
            sample(1, vec![2], 1, 1, 0),
            sample(2, vec![], 2, 0, 4),
        ],
        time_unix_nano: chrono::Utc::now().timestamp_nanos_opt().unwrap() as u64,
        duration_nano: 10_000_000_000,
        period_type: Some(otlp::ValueType {
            type_strindex: 3,
            unit_strindex: 4,
        }),
        period: 50_000_000,
        ..Default::default()
    };
    ExportProfilesServiceRequest {
        resource_profiles: vec![otlp::ResourceProfiles {
            resource: Some(Resource {
                attributes: vec![
                    KeyValue {
                        key: "service.name".into(),
                        value: text(service),
                    },
                    KeyValue {
                        key: "host.name".into(),
                        value: text("node-7"),
                    },
                    KeyValue {
                        key: "k8s.namespace.name".into(),
                        value: text("shop"),
                    },
                ],
                ..Default::default()
            }),
            scope_profiles: vec![otlp::ScopeProfiles {
                profiles: vec![profile],
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
        dictionary: Some(dictionary),
    }
}

/// The rows of a service: (profile type, instance, thread, span, stack, value).
async fn rows(s: &TestServer, service: &str) -> Vec<Vec<Value>> {
    s.sql(&format!(
        "SELECT profile_type, instance, labels['thread.name'], coalesce(labels['span_id'], ''), \
         labels['k8s.namespace.name'], array_to_string(frames, ';'), sum(value) \
         FROM profiles WHERE service = '{service}' GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 3, 6"
    ))
    .await
    .unwrap()
}

fn expected() -> Vec<Vec<Value>> {
    let row = |t: &str, thread: &str, span: &str, stack: &str, v: i64| {
        serde_json::json!([t, "node-7", thread, span, "shop", stack, v])
            .as_array()
            .unwrap()
            .clone()
    };
    let a = "main.main;main.handle;main.encode;json.Marshal";
    let b = "main.main;main.handle;libc.so.6+0x1f00";
    vec![
        row("cpu", "worker-1", "0102030405060708", a, 5 * 50_000_000),
        row("cpu", "worker-2", "", b, 4 * 50_000_000),
        row("cpu_samples", "worker-1", "0102030405060708", a, 5),
        row("cpu_samples", "worker-2", "", b, 4),
    ]
}

/// OTLP JSON: protobuf JSON with hex ids.
fn otlp_json(req: &ExportProfilesServiceRequest) -> Vec<u8> {
    let mut v = serde_json::to_value(req).unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    for link in v["dictionary"]["linkTable"].as_array_mut().unwrap() {
        for field in ["traceId", "spanId"] {
            if let Some(Value::String(s)) = link.get(field) {
                let hex: String = b64
                    .decode(s)
                    .unwrap()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                link[field] = Value::String(hex);
            }
        }
    }
    serde_json::to_vec(&v).unwrap()
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, raw).unwrap();
    gz.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_profiles_land_as_rows_over_http_and_grpc() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(&tmp.path().join("data"), &[])
        .await
        .unwrap();

    let proto = request("checkout").encode_to_vec();
    let (st, body) = s
        .post(
            "/v1development/profiles",
            proto,
            &[("content-type", "application/x-protobuf")],
        )
        .await
        .unwrap();
    assert_eq!(st, 200, "{body}");
    assert_eq!(rows(&s, "checkout").await, expected());

    let json = otlp_json(&request("cart"));
    assert!(String::from_utf8_lossy(&json).contains("\"spanId\":\"0102030405060708\""));
    let (st, body) = s
        .post(
            "/v1development/profiles",
            gzip(&json),
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
        )
        .await
        .unwrap();
    assert_eq!((st, body.as_str()), (200, "{}"));
    assert_eq!(rows(&s, "cart").await, expected());

    let mut client = ProfilesServiceClient::connect(s.grpc_url.clone())
        .await
        .unwrap();
    client
        .export(request("payments"))
        .await
        .expect("gRPC export");
    assert_eq!(rows(&s, "payments").await, expected());

    // Visible to Pyroscope's clients under Pyroscope's ids.
    let (st, body) = s
        .post(
            "/querier.v1.QuerierService/ProfileTypes",
            format!(
                "{{\"start\": {}, \"end\": {}}}",
                chrono::Utc::now().timestamp_millis() - 3_600_000,
                chrono::Utc::now().timestamp_millis() + 60_000
            )
            .into_bytes(),
            &[("content-type", "application/json")],
        )
        .await
        .unwrap();
    assert_eq!(st, 200, "{body}");
    assert!(
        body.contains("process_cpu:cpu:nanoseconds:cpu:nanoseconds"),
        "{body}"
    );
    assert!(
        body.contains("process_cpu:samples:count:cpu:nanoseconds"),
        "{body}"
    );

    // Replayed from the WAL after a kill: the same rows.
    let mut s = s;
    s.restart().await.unwrap();
    assert_eq!(rows(&s, "checkout").await, expected());
    assert_eq!(rows(&s, "cart").await, expected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_otlp_requests_are_refused_whole_naming_what_was_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(&tmp.path().join("data"), &["--max-body-bytes", "64KiB"])
        .await
        .unwrap();
    let count = || async { s.sql_i64("SELECT count(*) FROM profiles").await.unwrap() };
    let good = request("ok");
    let (st, _) = s
        .post(
            "/v1development/profiles",
            good.encode_to_vec(),
            &[("content-type", "application/x-protobuf")],
        )
        .await
        .unwrap();
    assert_eq!(st, 200);
    let before = count().await;
    assert!(before > 0);

    let mut stack_out = request("bad");
    stack_out.dictionary.as_mut().unwrap().stack_table[1].location_indices[0] = 99;
    let mut missing_string = request("bad");
    missing_string.dictionary.as_mut().unwrap().function_table[2].name_strindex = 500;
    let mut sample_stack = request("bad");
    sample_stack.resource_profiles[0].scope_profiles[0].profiles[0].samples[2].stack_index = -3;
    let mut bad_attribute = request("bad");
    bad_attribute.resource_profiles[0].scope_profiles[0].profiles[0].samples[0].attribute_indices =
        vec![7];
    let mut bad_link = request("bad");
    bad_link.resource_profiles[0].scope_profiles[0].profiles[0].samples[1].link_index = 9;
    let mut big = request("bad");
    big.dictionary
        .as_mut()
        .unwrap()
        .string_table
        .push("x".repeat(100 << 10));
    let cases: Vec<(&str, ExportProfilesServiceRequest, u16, &str)> = vec![
        (
            "location index",
            stack_out,
            400,
            "stack_table[1].location_indices[0] = 99 is outside dictionary.location_table (5 entries)",
        ),
        (
            "string index",
            missing_string,
            400,
            "function_table[2].name_strindex = 500 is outside dictionary.string_table",
        ),
        (
            "stack index",
            sample_stack,
            400,
            "samples[2].stack_index = -3 is outside dictionary.stack_table",
        ),
        (
            "attribute index",
            bad_attribute,
            400,
            "samples[0].attribute_indices[0] = 7 is outside dictionary.attribute_table",
        ),
        (
            "link index",
            bad_link,
            400,
            "samples[1].link_index = 9 is outside dictionary.link_table",
        ),
        ("oversized", big, 413, "max_body_bytes"),
    ];
    let mut client = ProfilesServiceClient::connect(s.grpc_url.clone())
        .await
        .unwrap();
    for (what, req, status, words) in cases {
        let (st, body) = s
            .post(
                "/v1development/profiles",
                req.encode_to_vec(),
                &[("content-type", "application/x-protobuf")],
            )
            .await
            .unwrap();
        assert_eq!(st, status, "{what}: {body}");
        assert!(
            body.contains(words),
            "{what}: {body:?} should say {words:?}"
        );
        let (st, body) = s
            .post(
                "/v1development/profiles",
                otlp_json(&req),
                &[("content-type", "application/json")],
            )
            .await
            .unwrap();
        assert_eq!(st, status, "{what} (JSON): {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(v["code"].as_i64().unwrap() > 0, "{what}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains(words),
            "{what}: {v}"
        );
        let e = client.export(req).await.expect_err(what);
        let code = if status == 413 {
            tonic::Code::OutOfRange
        } else {
            tonic::Code::InvalidArgument
        };
        if status != 413 {
            assert_eq!(e.code(), code, "{what}: {e:?}");
            assert!(e.message().contains(words), "{what}: {e:?}");
        }
        assert_eq!(count().await, before, "{what} stored something");
    }
    let (st, body) = s
        .post(
            "/v1development/profiles",
            b"{".to_vec(),
            &[("content-type", "application/json")],
        )
        .await
        .unwrap();
    assert_eq!(st, 400, "{body}");
    let (st, _) = s
        .post(
            "/v1development/profiles",
            b"x".to_vec(),
            &[("content-type", "text/plain")],
        )
        .await
        .unwrap();
    assert_eq!(st, 415);
    assert!(s.healthy().await);
}
