//! Exports and snapshots on real Go profiles: the pprof export read back
//! by `go tool pprof -raw` has the inputs' stacks and values; folded
//! lines say the same; `.fgo` files validate against the JSON Schema,
//! import and come back unchanged; bad uploads are refused by name and
//! touch nothing stored.

use flarego_tests::gotool::{self, PROFGEN_TYPES};
use flarego_tests::schema::validate_fgo;
use flarego_tests::server::TestServer;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};

type Stacks = BTreeMap<Vec<String>, i64>;

async fn get_bytes(s: &TestServer, path: &str) -> (u16, Vec<u8>) {
    let r = s
        .client()
        .get(format!("{}{path}", s.url))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// The stacks of a pprof file's sample type `index`, by `go tool pprof -raw`.
fn raw_stacks(file: &std::path::Path, index: &str) -> Stacks {
    let raw = gotool::pprof_raw(file).unwrap();
    let i = raw
        .sample_types
        .iter()
        .position(|t| t.split('/').next() == Some(index))
        .unwrap_or_else(|| panic!("no {index} in {:?}", raw.sample_types));
    assert!(
        !raw.stacks[i].is_empty(),
        "{index}: no stacks in {}",
        file.display()
    );
    raw.stacks[i].clone()
}

fn folded_stacks(text: &str) -> Stacks {
    let mut out = Stacks::new();
    for line in text.lines() {
        let (stack, v) = line.rsplit_once(' ').expect("value");
        let frames = stack.split(';').map(str::to_string).collect();
        *out.entry(frames).or_default() += v.parse::<i64>().unwrap();
    }
    out
}

fn selection(kind: &str, pt: &str) -> String {
    format!("service=profgen&profile_type={pt}&query=%7Binstance%3D%22{kind}%22%7D&from=now-1d")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pprof_and_folded_exports_hold_the_input_stacks() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, out) = flarego_tests::server::start_with_profgen(tmp.path()).await;
    for (kind, index, pt) in PROFGEN_TYPES {
        let input = raw_stacks(&out.join(format!("{kind}.pb.gz")), index);
        let sel = selection(kind, pt);
        let (st, pb) = get_bytes(&s, &format!("/api/v1/export?format=pprof&{sel}")).await;
        assert_eq!(st, 200, "{}", String::from_utf8_lossy(&pb));
        let file = tmp.path().join(format!("export-{pt}.pb.gz"));
        std::fs::write(&file, &pb).unwrap();
        let raw = gotool::pprof_raw(&file).unwrap();
        assert_eq!(raw.sample_types.len(), 1, "{pt}: {:?}", raw.sample_types);
        assert!(
            raw.sample_types[0].starts_with(&format!("{index}/")),
            "{pt}: {:?}",
            raw.sample_types
        );
        assert_eq!(raw.stacks[0], input, "{pt}: stacks and values");
        let (total, _) = gotool::pprof_top(&file, index).unwrap();
        assert_eq!(total, input.values().sum::<i64>(), "{pt}: -top total");

        let (st, text) = get_bytes(&s, &format!("/api/v1/export?format=folded&{sel}")).await;
        assert_eq!(st, 200);
        assert_eq!(
            folded_stacks(&String::from_utf8(text).unwrap()),
            input,
            "{pt}: folded"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fgo_snapshots_validate_import_and_come_back_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, out) = flarego_tests::server::start_with_profgen(tmp.path()).await;
    let sel = selection("goroutine", "goroutine");
    let (st, fgo) = get_bytes(&s, &format!("/api/v1/export?format=fgo&{sel}")).await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&fgo));
    let json = gunzip(&fgo);
    validate_fgo(&json).unwrap();
    let doc: Value = serde_json::from_slice(&json).unwrap();
    let input = raw_stacks(&out.join("goroutine.pb.gz"), "goroutine");
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["total"], input.values().sum::<i64>());
    assert_eq!(doc["profile_type"], "goroutine");
    assert_eq!(
        doc["selection"]["query"],
        r#"{instance="goroutine",service="profgen"}"#
    );
    assert!(doc["timeline"]["series"].is_array(), "{}", doc["timeline"]);

    // Import it: the snapshot is the same document.
    let (st, msg) = s
        .post("/api/v1/import?name=incident%2042", fgo.clone(), &[])
        .await
        .unwrap();
    assert_eq!(st, 200, "{msg}");
    let id = serde_json::from_str::<Value>(&msg).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, back) = get_bytes(&s, &format!("/api/v1/snapshots/{id}")).await;
    assert_eq!(st, 200);
    assert_eq!(serde_json::from_slice::<Value>(&back).unwrap(), doc);
    let (_, again) = get_bytes(&s, &format!("/api/v1/snapshots/{id}?format=fgo")).await;
    assert_eq!(
        serde_json::from_slice::<Value>(&gunzip(&again)).unwrap(),
        doc
    );
    let (_, pb) = get_bytes(&s, &format!("/api/v1/snapshots/{id}?format=pprof")).await;
    let file = tmp.path().join("snapshot.pb.gz");
    std::fs::write(&file, &pb).unwrap();
    assert_eq!(raw_stacks(&file, "goroutine"), input, "snapshot as pprof");
    let (_, list) = get_bytes(&s, "/api/v1/snapshots").await;
    let list: Value = serde_json::from_slice(&list).unwrap();
    assert_eq!(list["snapshots"][0]["id"], id.as_str(), "{list}");
    assert_eq!(list["snapshots"][0]["name"], "incident 42");

    // A pprof upload becomes a snapshot of its default sample type.
    let heap = std::fs::read(out.join("heap.pb.gz")).unwrap();
    let (st, msg) = s.post("/api/v1/import", heap, &[]).await.unwrap();
    assert_eq!(st, 200, "{msg}");
    let hid = serde_json::from_str::<Value>(&msg).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, hjson) = get_bytes(&s, &format!("/api/v1/snapshots/{hid}")).await;
    validate_fgo(&hjson).unwrap();
    let h: Value = serde_json::from_slice(&hjson).unwrap();
    assert_eq!(h["profile_type"], "heap_inuse_space", "pprof's default");
    let inuse = raw_stacks(&out.join("heap.pb.gz"), "inuse_space");
    assert_eq!(h["total"], inuse.values().sum::<i64>());
    assert_eq!(h["provenance"]["source"], "pprof");

    // The checked-in version-1 file still reads.
    let fixture =
        std::fs::read(flarego_tests::repo_root().join("tests/data/fgo/v1-goroutine.fgo")).unwrap();
    validate_fgo(&gunzip(&fixture)).unwrap();
    let (st, msg) = s.post("/api/v1/import", fixture, &[]).await.unwrap();
    assert_eq!(st, 200, "{msg}");

    // Admins delete.
    let r = s
        .client()
        .delete(format!("{}/api/v1/snapshots/{id}", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (st, _) = get_bytes(&s, &format!("/api/v1/snapshots/{id}")).await;
    assert_eq!(st, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_are_refused_by_name_and_touch_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(
        &tmp.path().join("data"),
        &["--max-decompressed-bytes", "1000000"],
    )
    .await
    .unwrap();
    let (st, msg) = s
        .post(
            "/ingest?name=app.cpu&format=folded",
            b"main;a 5\n".to_vec(),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(st, 200, "{msg}");
    let good = gzip(br#"{"format_version": 1}"#);
    let mut newer: Value = serde_json::json!({"format_version": 3});
    newer["x"] = 1.into();
    let bomb = gzip(&vec![b' '; 5_000_000]);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "truncated gzip",
            good[..good.len() - 6].to_vec(),
            400,
            "gzip",
        ),
        ("not JSON", gzip(b"{not json"), 400, ".fgo"),
        ("missing fields", good.clone(), 400, "missing field"),
        (
            "newer version",
            gzip(newer.to_string().as_bytes()),
            400,
            "format_version 3",
        ),
        ("gzip bomb", bomb, 413, "max_decompressed_bytes = 1000000"),
        (
            "random bytes",
            vec![0xff, 0x13, 0x00, 0x42, 0x99],
            400,
            "pprof",
        ),
    ];
    for (what, body, status, needle) in cases {
        let (st, msg) = s.post("/api/v1/import", body, &[]).await.unwrap();
        assert_eq!(st, status, "{what}: {msg}");
        assert!(msg.contains(needle), "{what}: {msg}");
    }
    let (_, list) = get_bytes(&s, "/api/v1/snapshots").await;
    assert_eq!(
        serde_json::from_slice::<Value>(&list).unwrap()["snapshots"],
        serde_json::json!([])
    );
    assert_eq!(
        s.sql_i64("SELECT sum(value) FROM profiles").await.unwrap(),
        50_000_000,
        "the stored profile is intact (5 samples at 100 Hz)"
    );
    for (path, needle) in [
        ("/api/v1/export?format=svg", "format"),
        ("/api/v1/snapshots/zz", "snapshot id"),
        ("/api/v1/snapshots/0123456789abcdef", "no snapshot"),
    ] {
        let (st, body) = get_bytes(&s, path).await;
        assert!(st == 400 || st == 404, "{path}: {st}");
        assert!(
            String::from_utf8_lossy(&body).contains(needle),
            "{path}: {}",
            String::from_utf8_lossy(&body)
        );
    }
}
