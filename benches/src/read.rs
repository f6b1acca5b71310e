//! The read API on a day of the synthetic service: flame graph JSON
//! (request to last byte) over 1 h and 24 h, the top table, a pprof
//! export, all through HTTP on the release server; against DuckDB
//! computing the same aggregation over the same Parquet files and
//! `go tool pprof -proto` merging the same input profiles. Then the 24 h
//! flame graph while a merge of six other hours runs, the serialization
//! of a 100,000-node tree, and label browsing over seven days.

use crate::procs::spawn_server;
use crate::synth::{self, Shape};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HOUR_S: i64 = 3600;

const DUCK: &str = r#"
import sys, time, duckdb
d, runs = sys.argv[1], int(sys.argv[2])
ranges = [(a, int(f), int(t)) for a, f, t in (x.split(':') for x in sys.argv[3:])]
samples = f"read_parquet('{d}/tenant=*/date=*/hour=*/samples-*.parquet', hive_partitioning = false)"
stacks = f"read_parquet('{d}/stacks/*.parquet')"
con = duckdb.connect()
for label, f, t in ranges:
    q = f"""WITH s AS (SELECT stack_id, sum(value) AS v FROM {samples}
                      WHERE service = 'synthetic' AND profile_type = 'cpu'
                        AND epoch_ns(time) >= {f} AND epoch_ns(time) < {t}
                      GROUP BY stack_id)
            SELECT st.frames, s.v FROM s JOIN {stacks} st USING (stack_id)"""
    best, n = 1e9, 0
    for _ in range(runs):
        t0 = time.perf_counter(); n = len(con.sql(q).fetchall()); best = min(best, time.perf_counter() - t0)
    print(label, best, n)
"#;

/// Runs [`DUCK`] with `args` (directory, runs, `label:from_ns:to_ns`…):
/// the best seconds of each range.
pub(crate) fn duck_flame(args: &[String]) -> anyhow::Result<Vec<f64>> {
    let duck = Command::new("python3")
        .arg("-c")
        .arg(DUCK)
        .args(args)
        .output()?;
    anyhow::ensure!(
        duck.status.success(),
        "duckdb: {} (pip install duckdb)",
        String::from_utf8_lossy(&duck.stderr)
    );
    Ok(String::from_utf8_lossy(&duck.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect())
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Posts every body (`(query string, body)`) with `clients` at once.
pub(crate) async fn post_all(
    client: &reqwest::Client,
    url: &str,
    bodies: Vec<(String, Vec<u8>)>,
    clients: usize,
) -> anyhow::Result<()> {
    let bodies = Arc::new(bodies);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, url, bodies, next) = (
            client.clone(),
            url.to_string(),
            bodies.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((q, body)) = bodies.get(i) else {
                    return Ok::<(), anyhow::Error>(());
                };
                let r = client
                    .post(format!("{url}/ingest?{q}"))
                    .body(body.clone())
                    .send()
                    .await?;
                anyhow::ensure!(
                    r.status().is_success(),
                    "ingest refused: {}",
                    r.text().await?
                );
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// Best and median seconds of `runs` GETs of `path`, and the body size.
pub(crate) async fn time_get(
    client: &reqwest::Client,
    url: &str,
    path: &str,
    gzip: bool,
    runs: usize,
) -> anyhow::Result<(f64, f64, usize)> {
    let mut secs = Vec::new();
    let mut size = 0;
    for _ in 0..runs {
        let mut req = client.get(format!("{url}{path}"));
        if gzip {
            req = req.header("Accept-Encoding", "gzip");
        }
        let t = Instant::now();
        let r = req.send().await?;
        anyhow::ensure!(r.status().is_success(), "{path}: {}", r.status());
        let body = r.bytes().await?;
        secs.push(t.elapsed().as_secs_f64());
        size = body.len();
    }
    secs.sort_by(f64::total_cmp);
    Ok((secs[0], secs[secs.len() / 2], size))
}

pub(crate) fn ms(s: f64) -> String {
    format!("{:.1} ms", s * 1000.0)
}

pub async fn run(hours: usize, runs: usize, clients: usize) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let pdir = tmp.path().join("pprof");
    std::fs::create_dir_all(&pdir)?;
    let hours = hours.max(1);
    // The day ends at the start of the current hour.
    let end = now_s() / HOUR_S * HOUR_S;
    let start = end - hours as i64 * HOUR_S;
    let shape = Shape {
        windows: 360 * hours,
        ..Shape::default()
    };
    let pool = synth::stack_pool(&shape);
    let mut files = Vec::with_capacity(shape.windows);
    let mut samples = 0usize;
    for w in 0..shape.windows {
        let (gz, n) =
            synth::window_profile(&pool, &shape, w, (start + w as i64 * 10) * 1_000_000_000);
        let p = pdir.join(format!("w{w:05}.pb.gz"));
        std::fs::write(&p, &gz)?;
        files.push(p);
        samples += n;
    }
    println!(
        "data: {hours} h of the synthetic service, {} CPU profiles, {samples} pprof samples",
        files.len()
    );

    let (mut child, url, _) = spawn_server(&tmp.path().join("data"), &["--delete-grace", "0s"])?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    crate::procs::wait_ready(&client, &url).await?;
    let bodies: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| {
            Ok((
                "name=synthetic.cpu&format=pprof".to_string(),
                std::fs::read(f)?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let t = Instant::now();
    post_all(&client, &url, bodies, clients).await?;
    println!("ingested in {:.1} s", t.elapsed().as_secs_f64());
    let r = client
        .post(format!("{url}/api/v1/admin/flush?merge=all"))
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "flush: {}", r.status());
    let parquet = tmp.path().join("data/parquet");
    let nfiles = flarego_tests::files_below(&parquet)
        .iter()
        .filter(|p| p.ends_with(".parquet"))
        .count();
    println!("after the merges: {nfiles} Parquet files");

    let last = (end - HOUR_S, end);
    let day = (start, end);
    let sel = |(f, t): (i64, i64)| format!("service=synthetic&profile_type=cpu&from={f}&to={t}");
    let mut rows = Vec::new();
    for (label, range) in [("1 h", last), (&*format!("{hours} h"), day)] {
        let fg = time_get(
            &client,
            &url,
            &format!("/api/v1/flamegraph?{}", sel(range)),
            false,
            runs,
        )
        .await?;
        let fgz = time_get(
            &client,
            &url,
            &format!("/api/v1/flamegraph?{}", sel(range)),
            true,
            runs,
        )
        .await?;
        let top = time_get(
            &client,
            &url,
            &format!("/api/v1/top?{}", sel(range)),
            false,
            runs,
        )
        .await?;
        rows.push((label.to_string(), range, fg, fgz, top));
    }
    let export = time_get(
        &client,
        &url,
        &format!("/api/v1/export?format=pprof&{}", sel(last)),
        false,
        runs,
    )
    .await?;

    // DuckDB on the same files.
    let mut duck_args = vec![parquet.display().to_string(), runs.to_string()];
    for (label, (f, t), ..) in &rows {
        duck_args.push(format!(
            "{}:{}:{}",
            label.replace(' ', ""),
            f * 1_000_000_000,
            t * 1_000_000_000
        ));
    }
    let duck_secs = duck_flame(&duck_args)?;

    // go tool pprof merging the same inputs.
    let mut go_secs = Vec::new();
    for (_, (f, t), ..) in &rows {
        let inputs: Vec<&std::path::PathBuf> = files
            .iter()
            .enumerate()
            .filter(|(w, _)| {
                let ts = start + *w as i64 * 10;
                ts >= *f && ts < *t
            })
            .map(|(_, p)| p)
            .collect();
        let t0 = Instant::now();
        let st = Command::new("go")
            .args(["tool", "pprof", "-proto", "-output"])
            .arg(tmp.path().join("merged.pb.gz"))
            .args(inputs)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        anyhow::ensure!(st.success(), "go tool pprof failed");
        go_secs.push(t0.elapsed().as_secs_f64());
    }

    println!();
    println!(
        "| range | flame graph JSON | gzipped | top table | DuckDB (group by stack_id, join stacks) | `go tool pprof -proto` merge | vs DuckDB | vs pprof |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (i, (label, _, fg, fgz, top)) in rows.iter().enumerate() {
        let d = duck_secs.get(i).copied().unwrap_or(f64::NAN);
        let g = go_secs.get(i).copied().unwrap_or(f64::NAN);
        println!(
            "| {label} | {} (median {}, {} KiB) | {} ({} KiB) | {} | {} | {:.2} s | {:.2}× | {:.0}× |",
            ms(fg.0),
            ms(fg.1),
            fg.2 / 1024,
            ms(fgz.0),
            fgz.2 / 1024,
            ms(top.0),
            ms(d),
            g,
            fg.0 / d,
            g / fg.0
        );
    }
    println!(
        "\npprof export of the last hour: {} (median {}, {} KiB)",
        ms(export.0),
        ms(export.1),
        export.2 / 1024
    );

    // The day's flame graph while a merge of six other hours runs.
    let other_start = start - 8 * HOUR_S;
    let other: Vec<(String, Vec<u8>)> = (0..6 * 360)
        .map(|w| {
            let ts = other_start + w as i64 * 10;
            let (gz, _) = synth::window_profile(&pool, &shape, w, ts * 1_000_000_000);
            (format!("name=other.cpu&format=pprof&from={ts}"), gz)
        })
        .collect();
    post_all(&client, &url, other, clients).await?;
    let r = client
        .post(format!("{url}/api/v1/admin/flush"))
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "flush: {}", r.status());
    let merging = {
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            let t = Instant::now();
            let r = client
                .post(format!("{url}/api/v1/admin/flush?merge=all"))
                .send()
                .await;
            (t.elapsed().as_secs_f64(), r.map(|r| r.status().as_u16()))
        })
    };
    let day_path = format!("/api/v1/flamegraph?{}", sel(day));
    let mut during = Vec::new();
    while !merging.is_finished() {
        let t = Instant::now();
        let r = client.get(format!("{url}{day_path}")).send().await?;
        r.bytes().await?;
        if !merging.is_finished() {
            during.push(t.elapsed().as_secs_f64());
        }
    }
    let (merge_secs, status) = merging.await?;
    anyhow::ensure!(status.is_ok_and(|s| s == 200), "merge failed");
    during.sort_by(f64::total_cmp);
    let settled = rows.last().map(|r| r.2.1).unwrap_or(f64::NAN);
    if let (Some(first), Some(worst)) = (during.first(), during.last()) {
        println!(
            "\nwhile a {merge_secs:.1} s merge of 6 other hours ran: {} flame graphs of the day, median {} (best {}, worst {}); settled median {} ({:.2}×)",
            during.len(),
            ms(during[during.len() / 2]),
            ms(*first),
            ms(*worst),
            ms(settled),
            during[during.len() / 2] / settled
        );
    } else {
        println!("\nthe merge ({merge_secs:.1} s) finished before a query could run alongside it");
    }

    browse(&client, &url, runs).await?;
    let _ = child.kill();
    let _ = child.wait();
    serialization(runs);
    Ok(())
}

/// Label browsing over seven days: one small write per 10 minutes for a
/// service of 20 pods, in 168 hourly files.
async fn browse(client: &reqwest::Client, url: &str, runs: usize) -> anyhow::Result<()> {
    let now = now_s();
    let first = now - 7 * 24 * HOUR_S + HOUR_S;
    let mut writes = Vec::new();
    let mut ts = first;
    let mut i = 0;
    while ts < now - 120 {
        let body = format!("main;work{} 3\nmain;idle 1\n", i % 50).into_bytes();
        writes.push((
            format!(
                "name=browse.cpu%7Bpod%3Dpod-{}%2Cenv%3D{}%7D&format=folded&from={ts}",
                i % 20,
                if i % 3 == 0 { "prod" } else { "stage" }
            ),
            body,
        ));
        ts += 600;
        i += 1;
    }
    let n = writes.len();
    post_all(client, url, writes, 4).await?;
    let r = client
        .post(format!("{url}/api/v1/admin/flush?merge=all"))
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "flush: {}", r.status());
    println!(
        "\nbrowsing: {n} writes of service browse over 7 days (20 pods, 2 envs), flushed and merged"
    );
    println!("| listing over 7 days | first (footers read) | warm best | warm median |");
    println!("|---|---|---|---|");
    for path in [
        "/api/v1/services?from=now-7d",
        "/api/v1/labels?from=now-7d",
        "/api/v1/label_values?name=pod&from=now-7d",
        "/api/v1/label_values?name=env&service=browse&from=now-7d",
    ] {
        let first = time_get(client, url, path, false, 1).await?;
        let warm = time_get(client, url, path, false, runs).await?;
        println!(
            "| `{path}` | {} | {} | {} |",
            ms(first.0),
            ms(warm.0),
            ms(warm.1)
        );
    }
    Ok(())
}

/// A 100,000-node tree into its wire form and JSON.
fn serialization(runs: usize) {
    use flarego_query::read::tree::Tree;
    let mut t = Tree::new();
    for i in 0..98_900u32 {
        let stack = [
            "runtime.goexit".to_string(),
            "main.main".to_string(),
            format!("pkg{}.handler", i / 1000),
            format!("pkg{}.leaf{i}", i / 1000),
        ];
        t.add(&stack, 10_000_000 * (1 + (i as i64 * 7919) % 97), false);
    }
    let nodes = t.len();
    let mut best = f64::MAX;
    let mut size = 0;
    for _ in 0..runs.max(3) {
        let s = Instant::now();
        let json = serde_json::to_vec(&t.columnar(None, false)).unwrap_or_default();
        best = best.min(s.elapsed().as_secs_f64());
        size = json.len();
    }
    println!(
        "\n{nodes}-node tree: columnar form and JSON in {} (best of {}), {:.2} MB",
        ms(best),
        runs.max(3),
        size as f64 / 1e6
    );
}
