//! The object store going away: `moto_server` stopped (SIGSTOP, so
//! requests hang as on a dead network) for 30 s during ingest and again
//! during a compaction. Writes keep being acknowledged; `/ready` says
//! the store is down; when it returns the backlog uploads and the SQL
//! total equals what was acknowledged, before and after a restart. Past
//! the memory high-water mark writes get 503 with `Retry-After`.

use flarego_tests::s3::MotoS3;
use flarego_tests::server::TestServer;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

const FAST_FAILING_STORE: [&str; 12] = [
    "--compaction-interval",
    "1s",
    "--hot-retention",
    "1s",
    "--window",
    "1s",
    "--store-request-timeout",
    "2s",
    "--store-max-retries",
    "1",
    "--store-retry-timeout",
    "3s",
];

async fn start(moto: &MotoS3, data: &std::path::Path, extra: &[&str]) -> TestServer {
    moto.create_bucket("outage").await.unwrap();
    let mut flags = vec!["--object-store", "s3://outage/p"];
    flags.extend(FAST_FAILING_STORE);
    flags.extend(extra);
    TestServer::start_with_env(data, &flags, &moto.env())
        .await
        .unwrap()
}

/// One write of `units` samples (10 ms each); its status.
async fn write(client: &reqwest::Client, url: &str, units: i64) -> reqwest::Response {
    let now = chrono::Utc::now().timestamp();
    client
        .post(format!(
            "{url}/ingest?name=api.cpu&format=folded&from={now}&sampleRate=100"
        ))
        .body(format!("main.main;main.work {units}\n"))
        .send()
        .await
        .unwrap()
}

async fn store_healthy(server: &TestServer) -> bool {
    let v = server.ready_json().await.unwrap();
    v["store"]["healthy"].as_bool().unwrap_or(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_second_outages_lose_and_double_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let moto = MotoS3::start().unwrap();
    let mut server = start(&moto, &tmp.path().join("data"), &[]).await;

    // Writers: every acknowledged write's value is added to `acked`.
    let acked = Arc::new(AtomicI64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop, url) = (acked.clone(), stop.clone(), server.url.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut k = 0i64;
            while !stop.load(Ordering::Relaxed) {
                k += 1;
                let units = k % 17 + 1;
                let r = write(&client, &url, units).await;
                assert_eq!(
                    r.status(),
                    200,
                    "a write was refused: {}",
                    r.text().await.unwrap()
                );
                acked.fetch_add(units * 10_000_000, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            k
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Outage one, during ingest.
    moto.pause();
    let deadline = Instant::now() + Duration::from_secs(20);
    while store_healthy(&server).await {
        assert!(
            Instant::now() < deadline,
            "/ready never said the store was down"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Queries answer from hot data at once, saying what they left out.
    let asked = Instant::now();
    let (status, v) = server
        .sql_raw("SELECT count(*) FROM profiles")
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "the query waited {:?}",
        asked.elapsed()
    );
    assert!(v["rows"][0][0].as_i64().unwrap_or(0) > 0, "{v}");
    let warning = v["warnings"][0].as_str().unwrap_or_default();
    assert!(
        warning.contains("cold files") && warning.contains("object store is unreachable"),
        "{v}"
    );
    tokio::time::sleep(Duration::from_secs(24)).await;
    moto.resume();
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Outage two, with a compaction in flight.
    let flush = {
        let (client, url) = (server.client().clone(), server.url.clone());
        tokio::spawn(async move {
            client
                .post(format!("{url}/api/v1/admin/flush"))
                .send()
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    moto.pause();
    tokio::time::sleep(Duration::from_secs(30)).await;
    moto.resume();
    let _ = flush.await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let writes = writer.await.unwrap();
    assert!(writes > 100, "{writes} writes");

    // The backlog drains; the total is what was acknowledged.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match server.flush().await {
            Ok(_) => break,
            Err(e) => assert!(Instant::now() < deadline, "flush after the outage: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(store_healthy(&server).await, "store still reported down");
    let want = acked.load(Ordering::Relaxed);
    let total = server
        .sql_i64("SELECT sum(value) FROM profiles")
        .await
        .unwrap();
    assert_eq!(total, want, "SQL total against acknowledged");
    server.restart().await.unwrap();
    let total = server
        .sql_i64("SELECT sum(value) FROM profiles")
        .await
        .unwrap();
    assert_eq!(total, want, "SQL total after a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_high_water_mark_writes_get_503_until_the_store_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let moto = MotoS3::start().unwrap();
    let server = start(
        &moto,
        &tmp.path().join("data"),
        &["--max-unpersisted-bytes", "64KiB"],
    )
    .await;
    let client = reqwest::Client::new();
    moto.pause();
    let deadline = Instant::now() + Duration::from_secs(60);
    let refused = loop {
        let r = write(&client, &server.url, 3).await;
        if r.status() == 503 {
            break r;
        }
        assert_eq!(r.status(), 200);
        assert!(
            Instant::now() < deadline,
            "never refused past 64 KiB unpersisted"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let retry_after = refused.headers().get("retry-after").cloned();
    let body = refused.text().await.unwrap();
    assert!(retry_after.is_some(), "no Retry-After: {body}");
    assert!(body.contains("--max-unpersisted-bytes 65536"), "{body}");
    moto.resume();
    let deadline = Instant::now() + Duration::from_secs(60);
    while write(&client, &server.url, 3).await.status() != 200 {
        assert!(
            Instant::now() < deadline,
            "writes still refused after the store returned"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
