//! Compaction levels: windows → one file per tenant and hour → once the
//! day is over, one file per tenant and day (under `hour=all`), with the
//! same answers before and after, and after a restart.

use flarego_tests::server::TestServer;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_days_hour_files_become_one_day_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut server = TestServer::start(
        &data,
        &[
            "--compaction-interval",
            "1s",
            "--hot-retention",
            "1s",
            "--delete-grace",
            "0s",
        ],
    )
    .await
    .unwrap();
    // Three hours of a day two days ago, two writes in one of them.
    let now = chrono::Utc::now().timestamp();
    let day = now - now.rem_euclid(86_400) - 2 * 86_400;
    for (hour, minute, units) in [(3, 10, 7), (3, 40, 11), (9, 5, 13), (22, 59, 17)] {
        let at = day + hour * 3600 + minute * 60;
        let folded = format!("main.main;main.work {units}\n");
        server
            .ingest_folded("api", at, &folded, None)
            .await
            .unwrap();
        server.flush().await.unwrap();
    }
    let date = chrono::DateTime::from_timestamp(day, 0)
        .unwrap()
        .format("date=%Y-%m-%d/")
        .to_string();
    let files = || -> Vec<String> {
        flarego_tests::files_below(&data.join("parquet/tenant=default"))
            .into_iter()
            .filter(|f| f.contains(&date) && f.ends_with(".parquet"))
            .collect()
    };
    let query = "SELECT date_bin(INTERVAL '1 hour', time) AS h, sum(value) FROM profiles GROUP BY 1 ORDER BY 1";
    let before = server.sql(query).await.unwrap();
    assert_eq!(before.len(), 3, "{before:?}");

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let f = files();
        if f.len() == 1 && f[0].contains("/hour=all/") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the day's files were not merged into one: {f:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        server.sql(query).await.unwrap(),
        before,
        "answers changed by the day merge"
    );
    server.restart().await.unwrap();
    assert_eq!(
        server.sql(query).await.unwrap(),
        before,
        "answers changed by a restart"
    );
    assert_eq!(files().len(), 1, "{:?}", files());
}
