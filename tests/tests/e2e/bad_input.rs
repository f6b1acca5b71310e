//! Bad input gets a 4xx naming the problem and the limit; nothing is
//! partly written and the server stays healthy.

use flarego_proto::push::v1::{PushRequest, RawProfileSeries, RawSample};
use flarego_proto::types::v1::LabelPair;
use flarego_tests::pprof::{ProfileBuilder, gzip};
use flarego_tests::server::TestServer;
use prost::Message;

/// (path, body, headers, expected status, words the message must hold)
type Case = (
    &'static str,
    Vec<u8>,
    Vec<(&'static str, &'static str)>,
    u16,
    Vec<&'static str>,
);

fn good_profile() -> Vec<u8> {
    ProfileBuilder::new(&[("cpu", "nanoseconds")])
        .sample(&["main", "good"], &[1000], &[])
        .bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_whole_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(
        &tmp.path().join("data"),
        &[
            "--max-body-bytes",
            "64KiB",
            "--max-decompressed-bytes",
            "256KiB",
            "--max-stack-depth",
            "64",
            "--max-labels",
            "4",
        ],
    )
    .await
    .unwrap();
    let (st, body) = s
        .post("/api/v1/ingest?service=base", good_profile(), &[])
        .await
        .unwrap();
    assert_eq!(st, 200, "{body}");
    let total = || async { s.sql_i64("SELECT sum(value) FROM profiles").await.unwrap() };
    assert_eq!(total().await, 1000);

    let valid = good_profile();
    let mut non_utf8 = ProfileBuilder::new(&[("cpu", "nanoseconds")])
        .sample(&["main", "zzbadnamezz"], &[5], &[])
        .bytes();
    let at = non_utf8
        .windows(11)
        .position(|w| w == b"zzbadnamezz")
        .unwrap();
    non_utf8[at] = 0xff;
    let deep: Vec<String> = (0..100).map(|i| format!("f{i}")).collect();
    let deep: Vec<&str> = deep.iter().map(String::as_str).collect();
    let deep = ProfileBuilder::new(&[("cpu", "nanoseconds")])
        .sample(&deep, &[5], &[])
        .bytes();
    let bomb = gzip(&vec![0u8; 4 << 20]);
    assert!(bomb.len() < 64 << 10, "the bomb must pass the body limit");

    // (path, body, headers, expected status, words the message must hold)
    let cases: Vec<Case> = vec![
        (
            "/api/v1/ingest?service=x",
            valid[..valid.len() / 2].to_vec(),
            vec![],
            400,
            vec!["not a valid pprof"],
        ),
        (
            "/api/v1/ingest?service=x",
            b"\x08\x96\x01garbage\xff\xff\xff\xff".to_vec(),
            vec![],
            400,
            vec!["not a valid pprof"],
        ),
        (
            "/api/v1/ingest?service=x",
            bomb,
            vec![],
            413,
            vec!["max_decompressed_bytes", "262144"],
        ),
        (
            "/api/v1/ingest?service=x",
            vec![7u8; 100 << 10],
            vec![],
            413,
            vec!["max_body_bytes", "65536"],
        ),
        (
            "/api/v1/ingest?service=x",
            non_utf8,
            vec![],
            400,
            vec!["UTF-8"],
        ),
        (
            "/api/v1/ingest?service=x",
            deep.clone(),
            vec![],
            400,
            vec!["max_stack_depth", "64"],
        ),
        (
            "/ingest?name=app.cpu&format=pprof",
            deep,
            vec![],
            400,
            vec!["max_stack_depth"],
        ),
        (
            "/ingest?name=app.cpu%7Benv%3Dprod",
            b"main;a 1\n".to_vec(),
            vec![],
            400,
            vec!["malformed name", "'}'"],
        ),
        (
            "/ingest?name=app.cpu%7B1bad%3Dx%7D",
            b"main;a 1\n".to_vec(),
            vec![],
            400,
            vec!["invalid label"],
        ),
        (
            "/ingest?name=app.cpu%7Ba%3D1%2Cb%3D2%2Cc%3D3%2Cd%3D4%2Ce%3D5%7D",
            b"main;a 1\n".to_vec(),
            vec![],
            400,
            vec!["max_labels", "4"],
        ),
        (
            "/ingest?name=app.cpu&format=folded",
            b"main;\xff 1\n".to_vec(),
            vec![],
            400,
            vec!["UTF-8"],
        ),
        (
            "/ingest?name=app.cpu&format=folded",
            b"main;a 1\nmain;b notanumber\n".to_vec(),
            vec![],
            400,
            vec!["line 2"],
        ),
        (
            "/ingest?name=app.cpu&from=1700000100&until=1700000000",
            b"main;a 1\n".to_vec(),
            vec![],
            400,
            vec!["after until"],
        ),
        (
            "/ingest?format=folded",
            b"main;a 1\n".to_vec(),
            vec![],
            400,
            vec!["name"],
        ),
        (
            "/ingest?name=app.cpu",
            b"main;a 1\n".to_vec(),
            vec![("X-Scope-OrgID", "../etc")],
            400,
            vec!["tenant"],
        ),
        (
            "/push.v1.PusherService/Push",
            b"\xff\xff\xff".to_vec(),
            vec![("content-type", "application/proto")],
            400,
            vec!["invalid_argument", "PushRequest"],
        ),
        (
            "/push.v1.PusherService/Push",
            b"{\"series\": 7}".to_vec(),
            vec![("content-type", "application/json")],
            400,
            vec!["JSON"],
        ),
    ];
    for (path, body, headers, want, words) in cases {
        let (st, msg) = s.post(path, body, &headers).await.unwrap();
        assert_eq!(st, want, "{path}: {msg}");
        for w in words {
            assert!(msg.contains(w), "{path}: {msg:?} should mention {w:?}");
        }
        assert!(s.healthy().await, "server unhealthy after {path}");
        assert_eq!(total().await, 1000, "{path} changed stored data");
    }

    // A push whose second profile is bad stores nothing of the first.
    let good = ProfileBuilder::new(&[("cpu", "nanoseconds")])
        .sample(&["main", "x"], &[77], &[])
        .bytes();
    let req = PushRequest {
        series: vec![RawProfileSeries {
            labels: vec![LabelPair {
                name: "service_name".into(),
                value: "mixed".into(),
            }],
            samples: vec![
                RawSample {
                    raw_profile: good,
                    id: "ok".into(),
                },
                RawSample {
                    raw_profile: b"\xff\xfe".to_vec(),
                    id: "bad".into(),
                },
            ],
        }],
    };
    let (st, msg) = s
        .post(
            "/push.v1.PusherService/Push",
            req.encode_to_vec(),
            &[("content-type", "application/proto")],
        )
        .await
        .unwrap();
    assert_eq!(st, 400, "{msg}");
    assert!(msg.contains("series[0].samples[1]"), "{msg}");
    assert_eq!(total().await, 1000);

    // Refused SQL says why.
    let (st, v) = s.sql_raw("COPY (SELECT 1) TO '/tmp/x.csv'").await.unwrap();
    assert_eq!(st, 400);
    assert!(v["error"].as_str().unwrap().contains("read-only"), "{v}");
}
