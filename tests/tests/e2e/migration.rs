//! Data directories of older formats, each written by the server of
//! that format (`migrations/fixtures/format<N>`: Parquet files, the
//! manifest and a WAL record not yet compacted), are upgraded when a
//! server starts on them and answer the SQL they answered then
//! (`format<N>.expected.json`, recorded from that server).

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

/// Copies fixture `format<n>`, checks the plan names `steps`, starts a
/// server on it and compares its answers with the recorded ones.
async fn upgrades_and_answers_the_same(n: u32, steps: &[&str]) -> tempfile::TempDir {
    let fixtures = flarego_tests::repo_root().join("migrations/fixtures");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    copy_dir(&fixtures.join(format!("format{n}")), &data);

    let (ok, plan) = admin(&["migrate", "--dry-run"], &data);
    assert!(ok, "{plan}");
    assert!(plan.contains(&format!("format {n}")), "{plan}");
    for step in steps {
        assert!(plan.contains(step), "{step} missing from {plan}");
    }
    let (_, version) = admin(&["version"], &data);
    assert!(
        version.contains(&format!("data format: {n}")),
        "a dry run changed the data: {version}"
    );

    let server = TestServer::start(&data, &[]).await.unwrap();
    let expected: Vec<Value> = serde_json::from_slice(
        &std::fs::read(fixtures.join(format!("format{n}.expected.json"))).unwrap(),
    )
    .unwrap();
    for e in &expected {
        let sql = e["sql"].as_str().unwrap();
        let rows = server.sql(sql).await.unwrap();
        assert_eq!(Value::from(rows), e["rows"], "{sql}");
    }
    drop(server);

    let (_, version) = admin(&["version"], &data);
    assert!(version.contains("data format: 3"), "{version}");
    let (ok, verify) = admin(&["verify"], &data);
    assert!(ok, "{verify}");
    let (ok, files) = admin(&["files"], &data);
    assert!(ok && files.contains("default"), "{files}");
    // Upgrading again is a no-op.
    let (ok, again) = admin(&["migrate"], &data);
    assert!(ok && again.contains("nothing to migrate"), "{again}");
    tmp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_1_directory_upgrades_on_start_and_answers_the_same_sql() {
    let tmp = upgrades_and_answers_the_same(1, &["0002 manifest_log", "0003 rollups"]).await;
    assert!(
        !tmp.path()
            .join("data/parquet/_manifest/manifest.json")
            .exists(),
        "the format-1 manifest is still there"
    );
}

/// Format 2 had no rollups: after the upgrade the compactor rolls up its
/// closed hours, and the answers stay the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_2_directory_upgrades_and_its_closed_hours_get_rollups() {
    let tmp = upgrades_and_answers_the_same(2, &["0003 rollups"]).await;
    let data = tmp.path().join("data");
    let server = TestServer::start(&data, &["--compaction-interval", "1s"])
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let rollups = loop {
        let found: Vec<_> = walk(&data.join("parquet/rollups"));
        if found.len() >= 2 {
            break found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no rollups written: {found:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    assert!(
        rollups
            .iter()
            .all(|p| p.contains("rollups/1m/tenant=default/")),
        "{rollups:?}"
    );
    let expected: Vec<Value> = serde_json::from_slice(
        &std::fs::read(
            flarego_tests::repo_root().join("migrations/fixtures/format2.expected.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for e in &expected {
        let sql = e["sql"].as_str().unwrap();
        assert_eq!(
            Value::from(server.sql(sql).await.unwrap()),
            e["rows"],
            "{sql} after rollups"
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path().to_string_lossy().into_owned());
        }
    }
    out
}
