//! Durability against what a crash, a disk or an operator can do: bytes
//! flipped anywhere in a real WAL, a second server on the same data
//! directory, and the window length changed across a restart.

use flarego_tests::server::{TestServer, flarego_bin};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// The WAL segment holding records, and where each record starts.
fn segment_with_records(data: &Path) -> (PathBuf, Vec<usize>) {
    for e in std::fs::read_dir(data.join("wal")).unwrap().flatten() {
        let bytes = std::fs::read(e.path()).unwrap();
        if bytes.is_empty() {
            continue;
        }
        let mut starts = Vec::new();
        let mut at = 0;
        while at + 16 <= bytes.len() {
            starts.push(at);
            let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            at += 16 + len;
        }
        return (e.path(), starts);
    }
    panic!("no WAL segment with records");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_byte_flipped_in_the_wal_loses_that_record_only_and_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let template = tmp.path().join("template");
    let now = now_secs();
    {
        let mut s = TestServer::start(&template, &["--hot-retention", "1h"])
            .await
            .unwrap();
        for i in 1..=200i64 {
            let (status, body) = s
                .post(
                    &format!("/ingest?name=wal.inuse_space&format=folded&units=bytes&from={now}"),
                    format!("main;w{} {i}\n", i % 7).into_bytes(),
                    &[],
                )
                .await
                .unwrap();
            assert_eq!(status, 200, "{body}");
        }
        s.kill9();
    }
    let total: i64 = (1..=200).sum();
    let (seg, starts) = segment_with_records(&template);
    assert_eq!(starts.len(), 200);
    let seg_name = seg.file_name().unwrap().to_owned();
    let seg_len = std::fs::metadata(&seg).unwrap().len() as usize;
    // Bytes in many records: headers (length, checksum, LSN) and payloads.
    let offsets: Vec<usize> = (0..12)
        .map(|k| starts[1 + k * 16] + [0, 5, 10, 20, 60][k % 5])
        .chain([seg_len / 2, starts[199] - 1])
        .collect();
    for (n, offset) in offsets.into_iter().enumerate() {
        let data = tmp.path().join(format!("run{n}"));
        copy_dir(&template, &data);
        let path = data.join("wal").join(&seg_name);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[offset] ^= 0x5a;
        std::fs::write(&path, bytes).unwrap();
        let hit = starts.iter().rposition(|s| *s <= offset).unwrap() as i64 + 1;

        let s = TestServer::start(&data, &["--hot-retention", "1h"])
            .await
            .unwrap();
        let sum = s.sql_i64("SELECT sum(value) FROM profiles").await.unwrap();
        assert_eq!(
            sum,
            total - hit,
            "byte {offset} (record {hit}): every other record is kept"
        );
        let ready = s.ready_json().await.unwrap();
        assert_eq!(ready["wal"]["corrupt_records_lost"], 1, "{ready}");
        assert!(
            ready["warnings"][0]
                .as_str()
                .unwrap()
                .contains("1 acknowledged writes"),
            "{ready}"
        );
        assert_eq!(s.metric("flarego_wal_corrupt_records").await.unwrap(), 1.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let s = TestServer::start(&data, &[]).await.unwrap();
    let (status, body) = s
        .post(
            "/ingest?name=lock.cpu&format=folded",
            b"main;a 1\n".to_vec(),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let out = std::process::Command::new(flarego_bin().unwrap())
        .args(["server", "--data-dir"])
        .arg(&data)
        .args(["--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another flarego server"), "{err}");
    // The first one is untouched.
    assert_eq!(s.sql_i64("SELECT count(*) FROM profiles").await.unwrap(), 1);
    let wal_files = std::fs::read_dir(data.join("wal")).unwrap().count();
    assert!(wal_files >= 1);
}

async fn post_value(s: &TestServer, from: i64, v: i64) {
    let (status, body) = s
        .post(
            &format!("/ingest?name=win.inuse_space&format=folded&units=bytes&from={from}"),
            format!("main;w {v}\n").into_bytes(),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_window_length_across_a_restart_counts_nothing_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let args = |window: &'static str| {
        vec![
            "--window",
            window,
            "--hot-retention",
            "1s",
            "--compaction-interval",
            "200ms",
        ]
    };
    let mut s = TestServer::start(&data, &args("10s")).await.unwrap();
    let now = now_secs();
    // An open window, ahead: it holds the WAL from its first record.
    post_value(&s, now + 1800, 1).await;
    // A closed one, 35 s into a minute in the past: compacted at once, its
    // record kept in the WAL behind the open window. Its 10 s and 60 s
    // windows start at different times.
    let minute = (now - 600) / 60 * 60;
    post_value(&s, minute + 35, 10).await;
    let mut persisted = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if s.metric("flarego_compactions_total").await.unwrap() >= 1.0 {
            persisted = true;
            break;
        }
    }
    assert!(persisted, "the closed window was never compacted");
    s.kill9();

    let mut s = TestServer::start(&data, &args("1m")).await.unwrap();
    assert_eq!(
        s.sql_i64("SELECT sum(value) FROM profiles").await.unwrap(),
        11
    );
    post_value(&s, now, 100).await;
    let durations: Vec<i64> = s
        .sql("SELECT DISTINCT duration_ns FROM profiles ORDER BY 1")
        .await
        .unwrap()
        .iter()
        .filter_map(|r| r[0].as_i64())
        .collect();
    assert_eq!(durations, vec![10_000_000_000, 60_000_000_000]);
    // And again after a crash under the new length.
    s.kill9();
    s.start_again().await.unwrap();
    assert_eq!(
        s.sql_i64("SELECT sum(value) FROM profiles").await.unwrap(),
        111
    );
}
