//! A full local disk: the data directory on a small tmpfs (mounted by
//! the test; it runs as root, as CI does) that a filler file all but
//! fills. Writes are acknowledged until the disk is full, then refused
//! with 503 naming the disk; nothing acknowledged is lost or doubled;
//! deleting the filler resumes service, and a restart replays the WAL
//! with no damage.

use flarego_tests::server::TestServer;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .expect("running mount");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs and must run as root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// One write of 40 distinct stacks (`k` makes them new, so the WAL and
/// the stacks grow); its status, body and units.
async fn write(server: &TestServer, k: u64) -> (u16, String, i64) {
    let now = chrono::Utc::now().timestamp();
    let mut body = String::new();
    let mut units = 0;
    for i in 0..40u64 {
        body.push_str(&format!(
            "main.main;pkg.handler{k};pkg.step{i};pkg.leaf_{k}_{i} {}\n",
            i + 1
        ));
        units += i as i64 + 1;
    }
    let (status, text) = server
        .post(
            &format!("/ingest?name=api.cpu&format=folded&from={now}&sampleRate=100"),
            body.into_bytes(),
            &[],
        )
        .await
        .unwrap();
    (status, text, units * 10_000_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_with_503_and_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(&tmp.path().join("disk"), "24m");
    let data = disk.0.join("data");
    let mut server = TestServer::start(
        &data,
        &[
            "--compaction-interval",
            "1s",
            "--hot-retention",
            "1s",
            "--window",
            "1s",
            "--wal-segment-bytes",
            "1MiB",
        ],
    )
    .await
    .unwrap();
    // All but ~3 MiB taken.
    let filler = disk.0.join("filler");
    let free = || {
        let out = Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(&disk.0)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let fill = free().saturating_sub(3 << 20);
    std::fs::write(&filler, vec![7u8; fill as usize]).unwrap();

    let mut acked = 0i64;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut k = 0;
    let refusal = loop {
        k += 1;
        let (status, text, units) = write(&server, k).await;
        match status {
            200 => acked += units,
            503 => break text,
            other => panic!("write {k} answered {other}: {text}"),
        }
        assert!(
            Instant::now() < deadline,
            "the disk never filled ({k} writes)"
        );
    };
    assert!(
        refusal.contains("No space left on device") || refusal.contains("write-ahead log"),
        "the refusal does not say what was wrong: {refusal}"
    );
    assert!(k > 5, "refused too early, at write {k}: {refusal}");
    // Refused again while full; nothing acknowledged is missing.
    let (status, _, _) = write(&server, k + 1).await;
    assert_eq!(status, 503, "a write was taken on a full disk");
    k += 1;
    let (status, sum) = server
        .sql_raw("SELECT sum(value) FROM profiles")
        .await
        .unwrap();
    assert_eq!(status, 200, "{sum}");
    assert_eq!(sum["rows"][0][0].as_i64(), Some(acked), "while full: {sum}");

    // Space freed: writes resume.
    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        k += 1;
        let (status, text, units) = write(&server, k).await;
        if status == 200 {
            acked += units;
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still refused after space was freed: {status} {text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..5 {
        k += 1;
        let (status, text, units) = write(&server, k).await;
        assert_eq!(status, 200, "{text}");
        acked += units;
    }
    assert_eq!(
        server
            .sql_i64("SELECT sum(value) FROM profiles")
            .await
            .unwrap(),
        acked
    );

    // The WAL replays whole: no record lost or damaged.
    server.kill9();
    server.start_again().await.unwrap();
    assert_eq!(
        server
            .sql_i64("SELECT sum(value) FROM profiles")
            .await
            .unwrap(),
        acked,
        "after a crash and replay"
    );
    let ready = server.ready_json().await.unwrap();
    for field in ["corrupt_regions", "corrupt_records_lost", "replay_failures"] {
        assert_eq!(ready["wal"][field].as_u64(), Some(0), "{field}: {ready}");
    }
}
