//! The standard clients' paths against FlareGo's own, in one run:
//!
//! - Pyroscope's `SelectMergeStacktraces` (binary proto, as Grafana sends
//!   it) against `/api/v1/flamegraph` (JSON) on the same day of the
//!   synthetic service, 1 h and the whole range, both at 8,192 nodes;
//! - Arrow Flight SQL to ADBC's Python driver (Arrow table) against
//!   `/api/v1/query` JSON (body read whole, not parsed), rows per second
//!   of `profiles` rows (the server's `--max-result-rows` raised for both);
//! - OTLP profiles ingest (`/v1development/profiles`, protobuf) against
//!   pprof ingest (`/ingest`) of the same samples, each on a fresh server
//!   at default settings.

use crate::procs::{metric, spawn_server};
use crate::read::{ms, post_all, time_get};
use crate::synth::{self, Shape};
use flarego_proto::opentelemetry::proto::collector::profiles::v1development::ExportProfilesServiceRequest;
use flarego_proto::opentelemetry::proto::profiles::v1development as otlp;
use flarego_proto::pprof::Profile;
use flarego_proto::querier::v1 as q;
use prost::Message;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const HOUR_S: i64 = 3600;
const MAX_NODES: i64 = 8192;

const ADBC: &str = r#"
import sys, time, warnings
warnings.simplefilter("ignore")
import adbc_driver_flightsql.dbapi as flightsql
uri, sql, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
best, n = 1e9, 0
with flightsql.connect(uri) as conn:
    cur = conn.cursor()
    for _ in range(runs):
        t0 = time.perf_counter()
        cur.execute(sql)
        n = cur.fetch_arrow_table().num_rows
        best = min(best, time.perf_counter() - t0)
print(best, n)
"#;

/// Best and median seconds of `runs` Connect calls, and the body size.
async fn time_connect(
    client: &reqwest::Client,
    url: &str,
    req: &q::SelectMergeStacktracesRequest,
    runs: usize,
) -> anyhow::Result<(f64, f64, usize)> {
    let body = req.encode_to_vec();
    let mut secs = Vec::new();
    let mut size = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let r = client
            .post(format!(
                "{url}/querier.v1.QuerierService/SelectMergeStacktraces"
            ))
            .header("content-type", "application/proto")
            .header("connect-protocol-version", "1")
            .body(body.clone())
            .send()
            .await?;
        anyhow::ensure!(
            r.status().is_success(),
            "SelectMergeStacktraces: {}",
            r.status()
        );
        let bytes = r.bytes().await?;
        secs.push(t.elapsed().as_secs_f64());
        let fg = q::SelectMergeStacktracesResponse::decode(&bytes[..])?;
        anyhow::ensure!(
            fg.flamegraph.is_some_and(|f| f.total > 0),
            "an empty flame graph"
        );
        size = bytes.len();
    }
    secs.sort_by(f64::total_cmp);
    Ok((secs[0], secs[secs.len() / 2], size))
}

/// A pprof CPU profile (samples, cpu) as one OTLP request: its samples
/// count at its period, the dictionary built from its tables.
pub fn otlp_of(p: &Profile) -> ExportProfilesServiceRequest {
    let idx = |id: u64| id as i32; // pprof ids here are 1.. in table order
    let mut d = otlp::ProfilesDictionary {
        string_table: p.string_table.clone(),
        mapping_table: vec![Default::default()],
        location_table: vec![Default::default()],
        function_table: vec![Default::default()],
        link_table: vec![Default::default()],
        attribute_table: vec![Default::default()],
        stack_table: vec![Default::default()],
    };
    for f in &p.function {
        d.function_table.push(otlp::Function {
            name_strindex: f.name as i32,
            system_name_strindex: f.system_name as i32,
            ..Default::default()
        });
    }
    for l in &p.location {
        d.location_table.push(otlp::Location {
            lines: l
                .line
                .iter()
                .map(|line| otlp::Line {
                    function_index: idx(line.function_id),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        });
    }
    let mut samples = Vec::with_capacity(p.sample.len());
    for s in &p.sample {
        d.stack_table.push(otlp::Stack {
            location_indices: s.location_id.iter().map(|id| idx(*id)).collect(),
        });
        samples.push(otlp::Sample {
            stack_index: (d.stack_table.len() - 1) as i32,
            values: vec![s.value[0]],
            ..Default::default()
        });
    }
    let profile = otlp::Profile {
        sample_type: Some(otlp::ValueType {
            type_strindex: p.sample_type[0].r#type as i32,
            unit_strindex: p.sample_type[0].unit as i32,
        }),
        samples,
        period_type: p.period_type.map(|v| otlp::ValueType {
            type_strindex: v.r#type as i32,
            unit_strindex: v.unit as i32,
        }),
        period: p.period,
        ..Default::default()
    };
    ExportProfilesServiceRequest {
        resource_profiles: vec![otlp::ResourceProfiles {
            resource: Some(flarego_proto::opentelemetry::proto::resource::v1::Resource {
                attributes: vec![flarego_proto::opentelemetry::proto::common::v1::KeyValue {
                    key: "service.name".into(),
                    value: Some(flarego_proto::opentelemetry::proto::common::v1::AnyValue {
                        value: Some(
                            flarego_proto::opentelemetry::proto::common::v1::any_value::Value::StringValue(
                                "synthetic".into(),
                            ),
                        ),
                    }),
                }],
                ..Default::default()
            }),
            scope_profiles: vec![otlp::ScopeProfiles {
                profiles: vec![profile],
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
        dictionary: Some(d),
    }
}

/// Posts bodies round-robin from `clients` tasks for `seconds`; the
/// acknowledged requests, and the seconds it took. Any refusal fails.
async fn load(
    client: &reqwest::Client,
    url: String,
    bodies: Arc<Vec<Vec<u8>>>,
    content_type: &'static str,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<(u64, f64)> {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, url, bodies, done) =
            (client.clone(), url.clone(), bodies.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = c;
            while Instant::now() < stop {
                let r = client
                    .post(&url)
                    .header("content-type", content_type)
                    .body(bodies[i % bodies.len()].clone())
                    .send()
                    .await?;
                anyhow::ensure!(r.status().is_success(), "refused: {}", r.text().await?);
                done.fetch_add(1, Ordering::Relaxed);
                i += clients;
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((done.load(Ordering::Relaxed), start.elapsed().as_secs_f64()))
}

async fn rows_total(client: &reqwest::Client, url: &str) -> anyhow::Result<f64> {
    let text = client
        .get(format!("{url}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    Ok(metric(&text, "flarego_ingest_rows_total"))
}

pub async fn run(
    hours: usize,
    runs: usize,
    clients: usize,
    seconds: u64,
    rows: usize,
) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let hours = hours.max(1);
    let end = crate::ingest::chrono_now_secs() / HOUR_S * HOUR_S;
    let start = end - hours as i64 * HOUR_S;
    let shape = Shape {
        windows: 360 * hours,
        ..Shape::default()
    };
    let pool = synth::stack_pool(&shape);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1800))
        .build()?;

    // Part 1 and 2: a day of data on one server.
    let (child, url, grpc) = spawn_server(
        &tmp.path().join("data"),
        &["--delete-grace", "0s", "--max-result-rows", "100000000"],
    )?;
    crate::procs::wait_ready(&client, &url).await?;
    let mut samples = 0usize;
    let bodies: Vec<(String, Vec<u8>)> = (0..shape.windows)
        .map(|w| {
            let (gz, n) =
                synth::window_profile(&pool, &shape, w, (start + w as i64 * 10) * 1_000_000_000);
            samples += n;
            ("name=synthetic.cpu&format=pprof".to_string(), gz)
        })
        .collect();
    let t = Instant::now();
    post_all(&client, &url, bodies, clients).await?;
    println!(
        "data: {hours} h of the synthetic service, {} CPU profiles, {samples} pprof samples, ingested in {:.1} s",
        shape.windows,
        t.elapsed().as_secs_f64()
    );
    let r = client
        .post(format!("{url}/api/v1/admin/flush"))
        .send()
        .await?;
    let status = r.status();
    let body = r.text().await?;
    anyhow::ensure!(status.is_success(), "flush: {status} {body}");

    println!(
        "\n| range | `/api/v1/flamegraph` JSON, {MAX_NODES} nodes | `SelectMergeStacktraces` proto, {MAX_NODES} nodes | proto / JSON time |"
    );
    println!("|---|---|---|---|");
    for (label, (f, t)) in [
        ("1 h".to_string(), (end - HOUR_S, end)),
        (format!("{hours} h"), (start, end)),
    ] {
        let path = format!(
            "/api/v1/flamegraph?service=synthetic&profile_type=cpu&from={f}&to={t}&max_nodes={MAX_NODES}"
        );
        let json = time_get(&client, &url, &path, false, runs).await?;
        let req = q::SelectMergeStacktracesRequest {
            profile_type_id: "process_cpu:cpu:nanoseconds:cpu:nanoseconds".into(),
            label_selector: r#"{service_name="synthetic"}"#.into(),
            start: f * 1000,
            end: t * 1000,
            max_nodes: Some(MAX_NODES),
            ..Default::default()
        };
        let proto = time_connect(&client, &url, &req, runs).await?;
        println!(
            "| {label} | {} (median {}, {} KiB) | {} (median {}, {} KiB) | {:.2} |",
            ms(json.0),
            ms(json.1),
            json.2 / 1024,
            ms(proto.0),
            ms(proto.1),
            proto.2 / 1024,
            proto.0 / json.0
        );
    }

    // Flight SQL against JSON.
    let sql = |n: usize| {
        format!(
            "SELECT time, service, stack_id, value FROM profiles WHERE profile_type = 'cpu' LIMIT {n}"
        )
    };
    let adbc = std::process::Command::new("python3")
        .arg("-c")
        .arg(ADBC)
        .arg(format!("grpc://{}", grpc.trim_start_matches("http://")))
        .arg(sql(rows))
        .arg(runs.to_string())
        .output()?;
    anyhow::ensure!(
        adbc.status.success(),
        "ADBC: {} (pip install adbc-driver-flightsql pyarrow)",
        String::from_utf8_lossy(&adbc.stderr)
    );
    let out = String::from_utf8_lossy(&adbc.stdout).to_string();
    let mut it = out.split_whitespace();
    let adbc_secs: f64 = it.next().unwrap_or("nan").parse()?;
    let adbc_rows: f64 = it.next().unwrap_or("0").parse()?;
    let json_rows = (rows / 10).max(1);
    let mut best = f64::MAX;
    let mut got = 0usize;
    for _ in 0..runs {
        let t = Instant::now();
        let r = client
            .post(format!("{url}/api/v1/query"))
            .json(&serde_json::json!({"sql": sql(json_rows)}))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "query: {}", r.status());
        let body = r.bytes().await?;
        best = best.min(t.elapsed().as_secs_f64());
        got = body.len();
    }
    println!(
        "\n| client | rows | best time | rows/s | ratio |\n|---|---|---|---|---|\n| ADBC Flight SQL (Arrow table) | {adbc_rows:.0} | {:.2} s | {:.0} | {:.1}× |\n| `/api/v1/query` JSON ({} MiB, read whole) | {json_rows} | {:.2} s | {:.0} | 1.0× |",
        adbc_secs,
        adbc_rows / adbc_secs,
        (adbc_rows / adbc_secs) / (json_rows as f64 / best),
        got / 1048576,
        best,
        json_rows as f64 / best
    );
    drop(child);

    // OTLP against pprof ingest, the same profiles.
    let now_ns = crate::ingest::chrono_now_secs() * 1_000_000_000;
    let hour = Shape::default();
    let mut pprof_bodies = Vec::new();
    let mut otlp_bodies = Vec::new();
    let mut per_body = 0usize;
    for w in 0..hour.windows {
        let (gz, n) = synth::window_profile(&pool, &hour, w, now_ns);
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut raw)?;
        let mut p = Profile::decode(&raw[..])?;
        p.time_nanos = 0;
        otlp_bodies.push(otlp_of(&p).encode_to_vec());
        pprof_bodies.push(gz);
        per_body += n;
    }
    let per_body = per_body as f64 / hour.windows as f64;
    let mut results = Vec::new();
    for (what, path, ct, bodies) in [
        (
            "OTLP `/v1development/profiles` (protobuf)",
            "/v1development/profiles",
            "application/x-protobuf",
            otlp_bodies,
        ),
        (
            "pprof `/ingest` (gzipped)",
            "/ingest?name=synthetic.cpu&format=pprof",
            "application/octet-stream",
            pprof_bodies,
        ),
    ] {
        let dir = tmp.path().join(format!("ingest-{}", results.len()));
        let (child, url, _) = spawn_server(&dir, &[])?;
        crate::procs::wait_ready(&client, &url).await?;
        let before = rows_total(&client, &url).await?;
        let avg = bodies.iter().map(Vec::len).sum::<usize>() / bodies.len();
        let (requests, secs) = load(
            &client,
            format!("{url}{path}"),
            Arc::new(bodies),
            ct,
            clients,
            seconds,
        )
        .await?;
        let rows = rows_total(&client, &url).await? - before;
        // Each CPU sample is two rows (samples and cpu).
        let samples = rows / 2.0;
        let expected = requests as f64 * per_body;
        anyhow::ensure!(
            (samples - expected).abs() <= expected * 0.01 + 1.0,
            "{what}: rows in /metrics ({rows}) do not match the acknowledged requests ({requests} × {per_body:.0})"
        );
        results.push((what, samples / secs, requests as f64 / secs, avg));
        drop(child);
    }
    println!(
        "\n| ingest ({clients} clients, {seconds} s, default settings) | samples/s | requests/s | body (avg) | ratio to pprof |\n|---|---|---|---|---|"
    );
    let pprof_rate = results[1].1;
    for (what, rate, rps, avg) in &results {
        println!(
            "| {what} | {rate:.0} | {rps:.0} | {} KiB | {:.2}× |",
            avg / 1024,
            rate / pprof_rate
        );
    }
    Ok(())
}
