//! Open files: DuckDB reads the Parquet directory as it is and gets the
//! same totals as FlareGo's SQL.

use flarego_tests::server::TestServer;
use serde_json::Value;
use std::process::Command;

const SCRIPT: &str = r#"
import json, sys
try:
    import duckdb
except ImportError:
    sys.exit("python3 module duckdb missing: pip install duckdb (scripts/test.sh installs it)")
d = sys.argv[1]
samples = f"read_parquet('{d}/tenant=*/date=*/hour=*/samples-*.parquet', hive_partitioning = false)"
stacks = f"read_parquet('{d}/stacks/*.parquet')"
totals = duckdb.sql(f"SELECT tenant, profile_type, CAST(sum(value) AS BIGINT) FROM {samples} GROUP BY ALL ORDER BY ALL").fetchall()
leaves = duckdb.sql(f"SELECT st.frames[-1], CAST(sum(s.value) AS BIGINT) FROM {samples} s JOIN {stacks} st USING (stack_id) GROUP BY ALL ORDER BY ALL").fetchall()
print(json.dumps({"totals": [list(r) for r in totals], "leaves": [list(r) for r in leaves]}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duckdb_reads_the_parquet_files_with_the_same_totals() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(
        &tmp.path().join("data"),
        &["--max-time-behind", "36500d", "--delete-grace", "0s"],
    )
    .await
    .unwrap();
    // Five compactions of the same hour make small files per tenant; the
    // merge leaves one per tenant.
    let uploads = [
        (
            "default",
            "api.cpu",
            "main;handler;json.Marshal 30\nmain;handler;db.Query 50\n",
        ),
        ("default", "api.inuse_space", "main;cache.Put 4096\n"),
        (
            "acme",
            "billing.cpu",
            "main;charge 7\nmain;handler;json.Marshal 1\n",
        ),
        ("default", "api.cpu", "main;handler;json.Marshal 5\n"),
        ("acme", "billing.cpu", "main;charge 2\n"),
    ];
    for (i, (tenant, name, body)) in uploads.into_iter().enumerate() {
        let from = 1_700_000_000 + 10 * i as i64;
        let (st, msg) = s
            .post(
                &format!("/ingest?name={name}&format=folded&units=bytes&from={from}"),
                body.as_bytes().to_vec(),
                &[("X-Scope-OrgID", tenant)],
            )
            .await
            .unwrap();
        assert_eq!(st, 200, "{msg}");
        s.flush().await.unwrap();
    }
    let per_tenant = "SELECT tenant, sum(value) FROM profiles GROUP BY 1 ORDER BY 1";
    let before = s.sql(per_tenant).await.unwrap();
    let files = |t: &str| {
        let dir = tmp
            .path()
            .join(format!("data/parquet/tenant={t}/date=2023-11-14/hour=22"));
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("samples-")
            })
            .count()
    };
    assert_eq!((files("default"), files("acme")), (3, 2));
    let r = s
        .client()
        .post(format!("{}/api/v1/admin/flush?merge=all", s.url))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    // Two tenant-hours, and the stacks files of the five compactions.
    assert_eq!(v["merged_groups"], 3, "{v}");
    assert_eq!((files("default"), files("acme")), (1, 1));
    assert_eq!(
        s.sql(per_tenant).await.unwrap(),
        before,
        "merging changed the totals"
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(tmp.path().join("data/parquet"))
        .output()
        .expect("python3 is needed for the DuckDB check");
    assert!(
        out.status.success(),
        "duckdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let duck: Value = serde_json::from_slice(&out.stdout).unwrap();

    let ours = s
        .sql("SELECT tenant, profile_type, sum(value) FROM profiles GROUP BY 1, 2 ORDER BY 1, 2")
        .await
        .unwrap();
    assert_eq!(
        duck["totals"],
        Value::Array(ours.into_iter().map(Value::Array).collect())
    );
    let ours = s
        .sql("SELECT leaf(frames), sum(value) FROM profiles GROUP BY 1 ORDER BY 1, 2")
        .await
        .unwrap();
    assert_eq!(
        duck["leaves"],
        Value::Array(ours.into_iter().map(Value::Array).collect())
    );
    assert_eq!(duck["totals"].as_array().unwrap().len(), 3);
}
