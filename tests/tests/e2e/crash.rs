//! `kill -9` at random moments during sustained ingest: after each
//! restart every acknowledged sample is there exactly once, and the one
//! request in flight at the kill is either wholly there or not at all.

use flarego_tests::server::TestServer;
use rand::Rng;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_loses_nothing_acknowledged_and_counts_nothing_twice() {
    let tmp = tempfile::tempdir().unwrap();
    // Short windows and retention so compaction runs during the test too.
    let mut s = TestServer::start(
        &tmp.path().join("data"),
        &[
            "--window",
            "1s",
            "--hot-retention",
            "1s",
            "--compaction-interval",
            "200ms",
            // The sender below writes as fast as acks come back; on a
            // fast disk that passes the per-tenant request rate limit.
            "--ingest-requests-per-sec",
            "0",
        ],
    )
    .await
    .unwrap();
    let mut acked_total: i64 = 0;
    let mut next_value: i64 = 1;
    let mut compacted_seen = false;
    for cycle in 0..5 {
        let acked = Arc::new(AtomicI64::new(0));
        let in_flight = Arc::new(AtomicI64::new(0));
        let sender = {
            let (url, acked, in_flight) = (s.url.clone(), acked.clone(), in_flight.clone());
            let client = reqwest::Client::new();
            let mut v = next_value;
            tokio::spawn(async move {
                // Bounded: at most 20,000 requests per cycle.
                for _ in 0..20_000 {
                    let body = format!("main;handler;f{} {v}\nmain;idle 1\n", v % 37);
                    in_flight.store(v + 1, Ordering::SeqCst);
                    let r = client
                        .post(format!(
                            "{url}/ingest?name=crash.cpu&format=folded&sampleRate=1000000000"
                        ))
                        .body(body)
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status().is_success() => {
                            acked.fetch_add(v + 1, Ordering::SeqCst);
                            in_flight.store(0, Ordering::SeqCst);
                            v += 1;
                        }
                        _ => break,
                    }
                }
                v
            })
        };
        let wait = rand::rng().random_range(300..1500);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        s.kill9();
        let sent_up_to = sender.await.unwrap();
        let acked_now = acked.load(Ordering::SeqCst);
        let maybe = in_flight.load(Ordering::SeqCst);
        assert!(
            acked_now > 0,
            "cycle {cycle}: nothing was acknowledged before the kill"
        );
        s.restart().await.unwrap();
        let total = s.sql_i64("SELECT sum(value) FROM profiles").await.unwrap();
        let expected = acked_total + acked_now;
        assert!(
            total == expected || (maybe > 0 && total == expected + maybe),
            "cycle {cycle}: SQL total {total}, acknowledged {expected}, in flight {maybe}"
        );
        acked_total = total;
        next_value = sent_up_to + 1;
        let rows = s.sql("SELECT count(*) FROM profiles").await.unwrap();
        assert!(!rows.is_empty());
        compacted_seen |= std::fs::read_dir(tmp.path().join("data/parquet/stacks")).is_ok();
    }
    assert!(compacted_seen, "compaction never ran during the crash test");
}
