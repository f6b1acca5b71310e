//! Retention: with `retention = "3h"` and `gold` kept for 30 days, a
//! tenant's rows past its cutoff vanish from answers at once (a file
//! straddling the cutoff included), and the files wholly past it are
//! deleted from the manifest and the disk; other tenants keep theirs.

use flarego_tests::server::TestServer;
use std::time::{Duration, Instant};

async fn ingest(server: &TestServer, tenant: &str, at: i64) {
    server
        .ingest_folded("api", at, "main.main;main.work 5\n", Some(tenant))
        .await
        .unwrap();
}

/// The ingest times (s) a tenant's query still returns, ascending.
async fn times(server: &TestServer, tenant: &str) -> Vec<i64> {
    let r = server
        .client()
        .post(format!("{}/api/v1/query", server.url))
        .header("X-Scope-OrgID", tenant)
        .json(&serde_json::json!({"sql": "SELECT CAST(to_unixtime(time) AS BIGINT) AS t FROM profiles ORDER BY 1"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let v: serde_json::Value = r.json().await.unwrap();
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_i64().unwrap())
        .collect()
}

fn hour_dirs(root: &std::path::Path, tenant: &str) -> Vec<String> {
    flarego_tests::files_below(&root.join(format!("parquet/tenant={tenant}")))
        .into_iter()
        .filter(|f| f.ends_with(".parquet"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_past_its_tenants_retention_goes_from_answers_and_from_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("flarego.toml");
    std::fs::write(
        &config,
        "[server]\nretention = \"3h\"\nretention_per_tenant = { gold = \"30d\" }\n",
    )
    .unwrap();
    let data = tmp.path().join("data");
    let server = TestServer::start(
        &data,
        &[
            "--config",
            config.to_str().unwrap(),
            "--compaction-interval",
            "1s",
            "--delete-grace",
            "0s",
        ],
    )
    .await
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    let window = |t: i64| t - t.rem_euclid(10);
    // Long past, just past, just inside, well inside, hot.
    let at = [
        now - 5 * 3600,
        now - 3 * 3600 - 600,
        now - 3 * 3600 + 600,
        now - 9000,
        now - 60,
    ];
    for tenant in ["free", "gold"] {
        for t in at {
            ingest(&server, tenant, t).await;
        }
    }
    let all: Vec<i64> = at.iter().map(|t| window(*t)).collect();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(times(&server, "gold").await, sorted);
    let mut kept: Vec<i64> = all[2..].to_vec();
    kept.sort();
    assert_eq!(
        times(&server, "free").await,
        kept,
        "rows past 3h still answered"
    );

    // The compactor drops free's file of five hours ago; gold's stays.
    server.flush().await.unwrap();
    let old_hour = chrono::DateTime::from_timestamp(at[0], 0)
        .unwrap()
        .format("date=%Y-%m-%d/hour=%H")
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    while hour_dirs(&data, "free")
        .iter()
        .any(|f| f.contains(&old_hour))
    {
        assert!(
            Instant::now() < deadline,
            "free's expired file is still on disk: {:?}",
            hour_dirs(&data, "free")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        hour_dirs(&data, "gold")
            .iter()
            .any(|f| f.contains(&old_hour)),
        "{:?}",
        hour_dirs(&data, "gold")
    );
    assert_eq!(times(&server, "free").await, kept);
    assert_eq!(times(&server, "gold").await, sorted);

    // An admin-wide query (every tenant) applies each tenant's cutoff.
    let total = server
        .sql_i64("SELECT count(*) FROM profiles")
        .await
        .unwrap();
    assert_eq!(total, (kept.len() + sorted.len()) as i64);
}
