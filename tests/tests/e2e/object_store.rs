//! The cold tier on every backend: a local directory, S3 (a real
//! `moto_server`) and process memory. Conditional creates race to one
//! winner; a server on S3 ingests, compacts, restarts and answers the
//! same; a wrong bucket or endpoint fails at start in one line; objects
//! carry the node id and `flarego admin verify` finds them all.

use flarego_storage::{ColdStoreConfig, StorageConfig, StoreOptions};
use flarego_tests::s3::MotoS3;
use flarego_tests::server::{TestServer, flarego_bin};
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, path::Path};
use std::sync::Arc;

fn s3_options(moto: &MotoS3) -> StoreOptions {
    StoreOptions {
        s3_endpoint: Some(moto.url.clone()),
        s3_region: Some("us-east-1".into()),
        s3_access_key_id: Some("test".into()),
        s3_secret_access_key: Some("test".into()),
        allow_http: true,
        ..Default::default()
    }
}

fn store_of(
    cold: ColdStoreConfig,
    store: StoreOptions,
    dir: &std::path::Path,
) -> Arc<dyn ObjectStore> {
    flarego_storage::store::open(&StorageConfig {
        data_dir: dir.to_path_buf(),
        cold,
        store,
        ..Default::default()
    })
    .unwrap()
}

/// Sixteen creates of one path at once: exactly one wins, the others are
/// told the object exists, and the object holds the winner's bytes.
async fn one_create_wins(name: &str, store: Arc<dyn ObjectStore>) {
    let path = Path::from("_manifest/n1/log/00000000000000000001.json");
    let tasks: Vec<_> = (0..16u8)
        .map(|i| {
            let store = store.clone();
            let path = path.clone();
            tokio::spawn(async move {
                let opts = PutOptions {
                    mode: PutMode::Create,
                    ..Default::default()
                };
                (
                    i,
                    store
                        .put_opts(&path, PutPayload::from(vec![i; 64]), opts)
                        .await,
                )
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (i, Ok(_)) => winners.push(i),
            (_, Err(object_store::Error::AlreadyExists { .. })) => {}
            (i, Err(e)) => panic!("{name}: create {i} failed otherwise: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "{name}: winners {winners:?}");
    let got = store.get(&path).await.unwrap().bytes().await.unwrap();
    assert_eq!(
        got.as_ref(),
        vec![winners[0]; 64].as_slice(),
        "{name}: not the winner's bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_conditional_creates_have_one_winner_on_every_backend() {
    let tmp = tempfile::tempdir().unwrap();
    let local = store_of(
        ColdStoreConfig::LocalDir(Some(tmp.path().join("cold"))),
        Default::default(),
        tmp.path(),
    );
    one_create_wins("local directory", local).await;
    one_create_wins(
        "memory",
        store_of(ColdStoreConfig::InMemory, Default::default(), tmp.path()),
    )
    .await;
    let moto = MotoS3::start().unwrap();
    moto.create_bucket("race").await.unwrap();
    let s3 = store_of(
        ColdStoreConfig::Remote("s3://race/p".into()),
        s3_options(&moto),
        tmp.path(),
    );
    one_create_wins("s3 (moto)", s3).await;
}

const FOLDED: &str = "main.main;main.handle;encoding/json.Marshal 70\nmain.main;main.handle;runtime.mallocgc 30\nmain.main;main.idle 5\n";

async fn ingest(server: &TestServer, service: &str, from: i64) {
    server
        .ingest_folded(service, from, FOLDED, None)
        .await
        .unwrap();
}

async fn totals(server: &TestServer) -> Vec<Vec<serde_json::Value>> {
    server
        .sql("SELECT service, leaf(frames) AS f, sum(value) AS v FROM profiles GROUP BY 1, 2 ORDER BY 1, 2")
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_s3_compacts_restarts_and_answers_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let moto = MotoS3::start().unwrap();
    moto.create_bucket("profiles").await.unwrap();
    let data = tmp.path().join("data");
    let flags = [
        "--object-store",
        "s3://profiles/fleet/eu",
        "--node-id",
        "ingest_a",
        "--compaction-interval",
        "1s",
    ];
    let mut server = TestServer::start_with_env(&data, &flags, &moto.env())
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    for i in 0..6 {
        ingest(&server, "api", now - 1800 + i * 60).await;
        ingest(&server, "batch", now - 1800 + i * 60).await;
    }
    let before = totals(&server).await;
    assert_eq!(before.len(), 6, "{before:?}");
    server.flush().await.unwrap();
    let r = server
        .client()
        .post(format!("{}/api/v1/admin/flush?merge=all", server.url))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert_eq!(
        totals(&server).await,
        before,
        "answers changed by compaction"
    );

    // Every object is under the prefix; each Parquet name carries the node.
    let listing = reqwest::get(format!(
        "{}/profiles?list-type=2&prefix=fleet/eu/",
        moto.url
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let keys: Vec<&str> = listing
        .split("<Key>")
        .skip(1)
        .filter_map(|k| k.split("</Key>").next())
        .collect();
    let parquet: Vec<&&str> = keys.iter().filter(|k| k.ends_with(".parquet")).collect();
    assert!(parquet.len() >= 2, "{keys:?}");
    assert!(
        parquet.iter().all(|k| k.ends_with("-ingest_a.parquet")),
        "{keys:?}"
    );
    assert!(
        keys.iter()
            .any(|k| k.starts_with("fleet/eu/tenant=default/date=")),
        "{keys:?}"
    );
    assert!(
        keys.iter()
            .any(|k| k.starts_with("fleet/eu/_manifest/ingest_a/log/")),
        "{keys:?}"
    );
    assert!(
        !keys.iter().any(|k| k.ends_with("manifest.json")),
        "{keys:?}"
    );

    // A restart reads the manifest log back from S3.
    server.restart().await.unwrap();
    assert_eq!(
        totals(&server).await,
        before,
        "answers changed by a restart"
    );

    // `flarego admin verify` reads the same store and finds every file.
    let mut cmd = std::process::Command::new(flarego_bin().unwrap());
    cmd.args(["admin", "verify", "--data-dir"])
        .arg(&data)
        .args(["--object-store", "s3://profiles/fleet/eu"])
        .envs(moto.env());
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.ends_with("ok\n"), "{text}");

    // A second server with the same node id (another data directory, the
    // same store) is caught by the conditional create when both write
    // the next manifest version: the later one stops, loudly, and the
    // first one's data is intact.
    let mut twin = TestServer::start_with_env(&tmp.path().join("twin"), &flags, &moto.env())
        .await
        .unwrap();
    ingest(&server, "api", now - 60).await;
    ingest(&twin, "twin", now - 60).await;
    server.flush().await.unwrap();
    assert!(
        twin.flush().await.is_err(),
        "the twin wrote a version the first server owns"
    );
    let status = twin.wait_exit(std::time::Duration::from_secs(30)).await;
    assert!(
        status.is_some_and(|s| !s.success()),
        "the twin kept running: {status:?}"
    );
    let log = std::fs::read_to_string(twin.log_path()).unwrap();
    assert!(
        log.contains("already written by another server with node id \"ingest_a\""),
        "{log}"
    );
    let after = totals(&server).await;
    assert!(after.iter().all(|r| r[0] != "twin"), "{after:?}");
    assert_eq!(after.len(), before.len(), "{after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_bucket_endpoint_or_url_fails_at_start_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let moto = MotoS3::start().unwrap();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Flags, environment, what the one line must name.
    type Case = (Vec<String>, Vec<(String, String)>, &'static str);
    let cases: Vec<Case> = vec![
        (
            vec!["--object-store".into(), "s3://no-such-bucket/p".into()],
            moto.env(),
            "no-such-bucket",
        ),
        (
            vec![
                "--object-store".into(),
                "s3://b".into(),
                "--s3-endpoint".into(),
                format!("http://127.0.0.1:{closed_port}"),
            ],
            moto.env(),
            "s3://b",
        ),
        (
            vec!["--object-store".into(), "ftp://x".into()],
            vec![],
            "\"ftp\"",
        ),
    ];
    for (i, (flags, env, needle)) in cases.into_iter().enumerate() {
        let out = std::process::Command::new(flarego_bin().unwrap())
            .arg("server")
            .arg("--data-dir")
            .arg(tmp.path().join(format!("d{i}")))
            .args(["--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"])
            .args(&flags)
            .envs(env)
            .env("FLAREGO_LOG", "off")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flags:?} started");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{flags:?}: {err}");
        assert!(lines[0].contains(needle), "{flags:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_file_is_skipped_with_a_warning_and_reported_by_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut server = TestServer::start(&data, &[]).await.unwrap();
    let now = chrono::Utc::now().timestamp();
    let (old, recent) = (now - 3 * 3600, now - 600);
    ingest(&server, "api", old).await;
    ingest(&server, "api", recent).await;
    server.flush().await.unwrap();
    let sum = "SELECT sum(value) FROM profiles";
    // Damaged before any query read it (a file is checked once per
    // process, when a query first needs it).

    let hour = chrono::DateTime::from_timestamp(old, 0)
        .unwrap()
        .format("hour=%H/samples-")
        .to_string();
    let victim = flarego_tests::files_below(&data.join("parquet"))
        .into_iter()
        .find(|f| f.contains(&hour))
        .unwrap();
    let bytes = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &bytes[..bytes.len() / 2]).unwrap();
    let relative = victim.split("/parquet/").nth(1).unwrap().to_string();

    for round in ["running", "restarted"] {
        let (status, v) = server.sql_raw(sum).await.unwrap();
        assert_eq!(status, 200, "{round}: {v}");
        assert_eq!(
            v["rows"][0][0].as_i64(),
            Some(105 * 10_000_000),
            "{round}: {v}"
        );
        let warning = v["warnings"][0].as_str().unwrap_or_default();
        assert!(
            warning.contains(&relative) && warning.contains("bytes where the manifest says"),
            "{round}: {v}"
        );
        if round == "running" {
            server.restart().await.unwrap();
        }
    }

    let out = std::process::Command::new(flarego_bin().unwrap())
        .args(["admin", "verify", "--data-dir"])
        .arg(&data)
        .env("FLAREGO_LOG", "off")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "verify passed a truncated file: {text}"
    );
    assert!(text.contains(&format!("unreadable {relative}")), "{text}");
}
