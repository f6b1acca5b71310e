//! Hostile inputs against the real server: requests built to allocate far
//! more than they weigh, dates that would never close a window, sums that
//! overflow. Each is refused (or absorbed) with a message naming the limit,
//! the server's memory stays bounded, and it goes on serving.

use flarego_proto::pprof::{Function, Line, Location, Profile, Sample, ValueType};
use flarego_tests::pprof::{ProfileBuilder, gzip};
use flarego_tests::server::TestServer;
use prost::Message;
use std::time::{SystemTime, UNIX_EPOCH};

/// Peak resident memory of a process so far, in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_requests_that_would_allocate_gigabytes_are_refused_before_they_do() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(&tmp.path().join("data"), &[])
        .await
        .unwrap();
    let pid = s.pid().unwrap();
    let before = peak_rss_mib(pid);

    // One sample whose location has 10,000 lines, referenced 1,000 times:
    // 10 M frames if expanded before the depth check.
    let mut p = Profile {
        string_table: vec!["".into(), "cpu".into(), "nanoseconds".into()],
        sample_type: vec![ValueType { r#type: 1, unit: 2 }],
        ..Default::default()
    };
    for i in 0..10_000u64 {
        p.string_table.push(format!("fn{i}"));
        p.function.push(Function {
            id: i + 1,
            name: i as i64 + 3,
            ..Default::default()
        });
    }
    p.location.push(Location {
        id: 1,
        line: (0..10_000u64)
            .map(|i| Line {
                function_id: i + 1,
                line: 1,
                column: 0,
            })
            .collect(),
        ..Default::default()
    });
    p.sample.push(Sample {
        location_id: vec![1; 1000],
        value: vec![1],
        label: vec![],
    });
    let (status, body) = s
        .post("/api/v1/ingest?service=deep", gzip(&p.encode_to_vec()), &[])
        .await
        .unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("10000000 frames"), "{body}");
    assert!(body.contains("max_stack_depth = 4096"), "{body}");

    let deep_grown = peak_rss_mib(pid) - before;
    // Expanded, those frames alone take 160 MiB.
    assert!(
        deep_grown < 64.0,
        "peak RSS grew by {deep_grown:.0} MiB for one deep sample"
    );

    // 16 M empty samples: 2 bytes each on the wire (32 MiB, ~30 KiB
    // gzipped), ~72 bytes each once decoded (1.1 GiB).
    let empty: Vec<u8> = std::iter::repeat_n([0x12u8, 0x00], 16 << 20)
        .flatten()
        .collect();
    let bomb = gzip(&empty);
    drop(empty);
    assert!(bomb.len() < 512 << 10, "{} bytes", bomb.len());
    let sends = (0..3).map(|_| s.post("/api/v1/ingest?service=bomb", bomb.clone(), &[]));
    for r in futures::future::join_all(sends).await {
        let (status, body) = r.unwrap();
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("max_samples = 4000000"), "{body}");
        assert!(body.contains("16777216 samples"), "{body}");
    }

    let grown = peak_rss_mib(pid) - before;
    // Decoded in full these would take over 3 GiB (three bombs at once)
    // and 160 MiB (the frames): the inflated bodies are all that is held.
    assert!(grown < 400.0, "peak RSS grew by {grown:.0} MiB");
    let ok = ProfileBuilder::new(&[("cpu", "nanoseconds")])
        .sample(&["main", "fine"], &[5], &[])
        .bytes();
    let (status, body) = s
        .post("/api/v1/ingest?service=fine", ok, &[])
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        s.sql_i64("SELECT sum(value) FROM profiles").await.unwrap(),
        5,
        "nothing of the refused requests may be stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_its_memory_budget_or_the_servers_is_refused_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(
        &tmp.path().join("data"),
        &[
            "--max-request-memory-bytes",
            "2MiB",
            "--ingest-memory-bytes",
            "1MiB",
        ],
    )
    .await
    .unwrap();
    // ~20,000 distinct stacks: a few MiB once decoded and kept.
    let mut b = ProfileBuilder::new(&[("cpu", "nanoseconds")]);
    for i in 0..20_000 {
        let leaf = format!("leaf{i}");
        b = b.sample(&["main", "work", &leaf], &[1], &[]);
    }
    let body = b.gzipped();
    let r = s
        .client()
        .post(format!("{}/api/v1/ingest?service=big", s.url))
        .body(body)
        .send()
        .await
        .unwrap();
    // The server's pool (1 MiB) is smaller than what the request needs:
    // 503 with Retry-After, as when other requests hold it.
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let text = r.text().await.unwrap();
    assert!(text.contains("ingest_memory_bytes = 1048576"), "{text}");

    let s2 = TestServer::start(
        &tmp.path().join("data2"),
        &["--max-request-memory-bytes", "1MiB"],
    )
    .await
    .unwrap();
    let mut b = ProfileBuilder::new(&[("cpu", "nanoseconds")]);
    for i in 0..20_000 {
        let leaf = format!("leaf{i}");
        b = b.sample(&["main", "work", &leaf], &[1], &[]);
    }
    let (status, body) = s2
        .post("/api/v1/ingest?service=big", b.gzipped(), &[])
        .await
        .unwrap();
    assert_eq!(status, 413, "{body}");
    assert!(
        body.contains("max_request_memory_bytes = 1048576"),
        "{body}"
    );
    assert_eq!(
        s2.sql_i64("SELECT count(*) FROM profiles").await.unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_dated_too_far_ahead_or_behind_are_refused_and_old_ones_go_cold() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(
        &tmp.path().join("data"),
        &["--compaction-interval", "200ms"],
    )
    .await
    .unwrap();
    let folded = |from: i64| {
        format!("/ingest?name=when.cpu&format=folded&sampleRate=1000000000&from={from}")
    };
    let now = now_secs();
    let body = || b"main;work 7\n".to_vec();

    let (status, msg) = s
        .post(&folded(now + 365 * 86_400), body(), &[])
        .await
        .unwrap();
    assert_eq!(status, 400, "{msg}");
    assert!(msg.contains("max_time_ahead = 1h"), "{msg}");
    assert!(msg.contains("365d ahead of"), "{msg}");

    let (status, msg) = s
        .post(&folded(now - 30 * 86_400), body(), &[])
        .await
        .unwrap();
    assert_eq!(status, 400, "{msg}");
    assert!(msg.contains("max_time_behind = 7days"), "{msg}");

    // A day old: taken, and straight to Parquet at the next compaction
    // (its window closed long ago), so it holds no WAL segment.
    let (status, msg) = s.post(&folded(now - 86_400), body(), &[]).await.unwrap();
    assert_eq!(status, 200, "{msg}");
    // Up to the limit ahead: taken.
    let (status, msg) = s.post(&folded(now + 1800), body(), &[]).await.unwrap();
    assert_eq!(status, 200, "{msg}");
    assert_eq!(
        s.sql_i64("SELECT sum(value) FROM profiles").await.unwrap(),
        14
    );
    let mut cold = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let old = s
            .sql_i64(&format!(
                "SELECT count(*) FROM profiles WHERE time < to_timestamp({})",
                now - 3600
            ))
            .await
            .unwrap();
        let files = flarego_tests::files_below(&s.data_dir.join("parquet"))
            .iter()
            .filter(|p| p.contains("samples-"))
            .count();
        // Only the window ahead stays in memory.
        let hot = s.metric("flarego_hot_windows").await.unwrap();
        if old == 1 && files >= 1 && hot == 1.0 {
            cold = true;
            break;
        }
    }
    assert!(cold, "the day-old write never reached Parquet alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sums_past_i64_saturate_and_the_compactor_lives_on() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(&tmp.path().join("data"), &[])
        .await
        .unwrap();
    let now = now_secs();
    let huge = i64::MAX / 2 + 1;
    for _ in 0..3 {
        let (status, msg) = s
            .post(
                &format!("/ingest?name=big.inuse_space&format=folded&units=bytes&from={now}"),
                format!("main;hog {huge}\n").into_bytes(),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(status, 200, "{msg}");
    }
    // Compaction sums the three rows of one stack in one window.
    s.flush().await.unwrap();
    assert_eq!(
        s.sql_i64("SELECT max(value) FROM profiles").await.unwrap(),
        i64::MAX
    );
    assert_eq!(
        s.metric("flarego_compactor_panics_total").await.unwrap(),
        0.0
    );
    let (status, msg) = s
        .post(
            &format!("/ingest?name=after.cpu&format=folded&from={now}"),
            b"main;ok 1\n".to_vec(),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{msg}");
    s.flush().await.unwrap();
}
