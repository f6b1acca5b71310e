//! The hot/cold boundary: a query loop running while windows are written,
//! compacted to Parquet and dropped from memory never sees a total dip or
//! a row counted twice.

use flarego_tests::server::TestServer;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totals_never_dip_or_double_across_compaction() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(
        &tmp.path().join("data"),
        &[
            "--window",
            "1s",
            "--hot-retention",
            "500ms",
            "--compaction-interval",
            "100ms",
            // The loop below queries as fast as answers come back; the
            // per-tenant query rate limit would turn that into 429s.
            "--queries-per-sec",
            "0",
        ],
    )
    .await
    .unwrap();
    let acked = Arc::new(AtomicI64::new(0));
    let in_flight = Arc::new(AtomicI64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (url, acked, in_flight, done) = (
            s.url.clone(),
            acked.clone(),
            in_flight.clone(),
            done.clone(),
        );
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let start = Instant::now();
            let mut i = 0i64;
            // 3 s of writes spread over several windows.
            while start.elapsed() < Duration::from_secs(3) {
                i += 1;
                let v = 1 + i % 5;
                in_flight.store(v * 2, Ordering::SeqCst);
                let r = client
                    .post(format!(
                        "{url}/ingest?name=hc.cpu&format=folded&sampleRate=1000000000"
                    ))
                    .body(format!("main;a;b{} {v}\nmain;c {v}\n", i % 11))
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success());
                acked.fetch_add(v * 2, Ordering::SeqCst);
                in_flight.store(0, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
            done.store(true, Ordering::SeqCst);
        })
    };

    let mut last = 0i64;
    let mut queries = 0;
    let mut stable_after_done = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lo = acked.load(Ordering::SeqCst);
        let finished = done.load(Ordering::SeqCst);
        let total = s.sql_i64("SELECT sum(value) FROM profiles").await.unwrap();
        let hi = acked.load(Ordering::SeqCst) + in_flight.load(Ordering::SeqCst);
        queries += 1;
        assert!(
            total >= lo,
            "query {queries}: total {total} dipped below acknowledged {lo}"
        );
        assert!(
            total <= hi,
            "query {queries}: total {total} is more than was written ({hi}): double count"
        );
        assert!(
            total >= last,
            "query {queries}: total {total} went down from {last}"
        );
        last = total;
        if finished {
            assert_eq!(total, acked.load(Ordering::SeqCst));
            stable_after_done += 1;
            let hot_rows = hot_rows(&s).await;
            if hot_rows == 0 && stable_after_done > 20 {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "windows never all reached Parquet (hot rows {})",
            hot_rows(&s).await
        );
    }
    writer.await.unwrap();
    assert!(queries > 50, "only {queries} queries ran");
    // Everything is now read from Parquet, and still counted once.
    assert_eq!(
        s.sql_i64("SELECT sum(value) FROM profiles").await.unwrap(),
        acked.load(Ordering::SeqCst)
    );
}

async fn hot_rows(s: &TestServer) -> i64 {
    let text = s
        .client()
        .get(format!("{}/metrics", s.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("flarego_hot_sample_rows "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1)
}

/// Files of an hour that is over are merged by the compactor on its own,
/// once no new file has arrived for a tick; totals do not change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_hours_are_merged_automatically() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(
        &tmp.path().join("data"),
        &[
            // Profiles dated 2023.
            "--max-time-behind",
            "36500d",
            "--window",
            "1s",
            "--hot-retention",
            "200ms",
            "--compaction-interval",
            "300ms",
            // Merged files leave the directory at once.
            "--delete-grace",
            "0s",
        ],
    )
    .await
    .unwrap();
    let hour_dir = tmp
        .path()
        .join("data/parquet/tenant=default/date=2023-11-14/hour=22");
    let files = || {
        std::fs::read_dir(&hour_dir)
            .map(|rd| {
                rd.filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("samples-"))
                })
                .count()
            })
            .unwrap_or(0)
    };
    // Three uploads into an old hour, each compacted on its own.
    let mut max_files = 0;
    for i in 0..3 {
        let (st, msg) = s
            .post(
                &format!(
                    "/ingest?name=old.cpu&format=folded&sampleRate=1000000000&from={}",
                    1_700_000_000 + i * 10
                ),
                format!("main;f{i} {}\n", i + 1).into_bytes(),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(st, 200, "{msg}");
        let t = Instant::now();
        while s.sql_i64("SELECT count(*) FROM profiles").await.unwrap() > 0
            && hot_rows(&s).await > 0
        {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "upload {i} never compacted"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        max_files = max_files.max(files());
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while files() != 1 {
        assert!(
            Instant::now() < deadline,
            "never merged: {} files (at most {max_files} seen)",
            files()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        s.sql_i64("SELECT sum(value) FROM profiles").await.unwrap(),
        1 + 2 + 3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_evicted_from_memory_are_read_back_for_sql() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = TestServer::start(
        &tmp.path().join("data"),
        &["--stack-cache-bytes", "16KiB", "--queries-per-sec", "0"],
    )
    .await
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // 600 distinct deep stacks, far more than 16 KiB of frames, all cold.
    for batch in 0..6 {
        let body: String = (0..100)
            .map(|i| {
                let n = batch * 100 + i;
                let frames: Vec<String> = (0..12)
                    .map(|d| format!("pkg{}.f{}", n % 5, n * 13 + d))
                    .collect();
                format!("{} {}\n", frames.join(";"), n + 1)
            })
            .collect();
        let (status, msg) = s
            .post(
                &format!(
                    "/ingest?name=evict.inuse_space&format=folded&units=bytes&from={}",
                    now - 300
                ),
                body.into_bytes(),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(status, 200, "{msg}");
        s.flush().await.unwrap();
    }
    let evicted = s.metric("flarego_stacks_evicted").await.unwrap();
    assert!(evicted > 300.0, "{evicted} stacks evicted");
    let check = |rows: Vec<Vec<serde_json::Value>>| {
        assert_eq!(rows.len(), 600);
        for r in &rows {
            let v = r[1].as_i64().unwrap() - 1;
            let frames: Vec<String> = (0..12)
                .map(|d| format!("pkg{}.f{}", v % 5, v * 13 + d))
                .collect();
            assert_eq!(r[0], serde_json::json!(frames), "value {}", v + 1);
        }
    };
    let sql = "SELECT frames, sum(value) FROM profiles GROUP BY frames ORDER BY 2";
    check(s.sql(sql).await.unwrap());
    assert!(s.metric("flarego_stack_cold_reads_total").await.unwrap() > 300.0);
    // After a restart only what fits the cache is loaded; the rest is read back.
    s.restart().await.unwrap();
    check(s.sql(sql).await.unwrap());
}
