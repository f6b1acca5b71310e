//! A data directory of format 1, written by the server before the
//! manifest became a log (`migrations/fixtures/format1`: Parquet files,
//! the whole-file manifest and a WAL record not yet compacted), is
//! upgraded when a server starts on it and answers the SQL it answered
//! then (`format1.expected.json`, recorded from that server).

use flarego_tests::server::{TestServer, flarego_bin};
use serde_json::Value;

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn admin(args: &[&str], data: &std::path::Path) -> (bool, String) {
    let out = std::process::Command::new(flarego_bin().unwrap())
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("FLAREGO_LOG", "off")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_1_directory_upgrades_on_start_and_answers_the_same_sql() {
    let fixtures = flarego_tests::repo_root().join("migrations/fixtures");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    copy_dir(&fixtures.join("format1"), &data);

    let (ok, plan) = admin(&["migrate", "--dry-run"], &data);
    assert!(ok, "{plan}");
    assert!(
        plan.contains("format 1") && plan.contains("0002 manifest_log"),
        "{plan}"
    );
    assert!(
        data.join("parquet/_manifest/manifest.json").exists(),
        "a dry run changed the data"
    );
    let (_, version) = admin(&["version"], &data);
    assert!(version.contains("data format: 1"), "{version}");

    let server = TestServer::start(&data, &[]).await.unwrap();
    let expected: Vec<Value> =
        serde_json::from_slice(&std::fs::read(fixtures.join("format1.expected.json")).unwrap())
            .unwrap();
    for e in &expected {
        let sql = e["sql"].as_str().unwrap();
        let rows = server.sql(sql).await.unwrap();
        assert_eq!(Value::from(rows), e["rows"], "{sql}");
    }
    drop(server);

    assert!(
        !data.join("parquet/_manifest/manifest.json").exists(),
        "the format-1 manifest is still there"
    );
    let (_, version) = admin(&["version"], &data);
    assert!(version.contains("data format: 2"), "{version}");
    let (ok, verify) = admin(&["verify"], &data);
    assert!(ok, "{verify}");
    let (ok, files) = admin(&["files"], &data);
    assert!(ok && files.contains("default"), "{files}");
    // Upgrading again is a no-op.
    let (ok, again) = admin(&["migrate"], &data);
    assert!(ok && again.contains("nothing to migrate"), "{again}");
}
