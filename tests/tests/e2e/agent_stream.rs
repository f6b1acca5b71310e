//! The agent binary streaming a real Go service to the real server over
//! gRPC: goroutine states and CPU from pprof and perf answer in SQL; a
//! 30 s server outage loses and doubles nothing; the WebSocket transport;
//! the demo; failing and chosen sources; the agent's disk buffer. Chunks
//! sent by hand (resends, bad chunks) are in `agent_chunks.rs`.

use flarego_tests::goservice::GoService;
use flarego_tests::server::{TestServer, flarego_bin};
use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Go test service and a server with default flags, both in `dir`.
async fn go_service_and_server(dir: &std::path::Path) -> (GoService, TestServer) {
    let go = GoService::start(dir).unwrap();
    let server = TestServer::start(&dir.join("data"), &[]).await.unwrap();
    (go, server)
}

/// A running `flarego agent`, killed on drop.
struct AgentProcess {
    child: Child,
    log: std::path::PathBuf,
}

impl AgentProcess {
    fn start(server: &TestServer, args: &[&str], log: std::path::PathBuf) -> AgentProcess {
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(flarego_bin().unwrap())
            .arg("agent")
            .args(["--server", &server.grpc_url])
            .args(args)
            .env("FLAREGO_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .unwrap();
        AgentProcess { child, log }
    }

    /// SIGKILL: the agent gets no chance to deliver or clean up.
    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGINT (what Ctrl-C sends), then waits; returns the summary line.
    fn interrupt_and_wait(self, limit: Duration) -> String {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        self.wait(limit)
    }

    /// Waits for exit (at most `limit`); returns the summary line.
    fn wait(mut self, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                assert!(status.success(), "agent failed: {status}; log:\n{log}");
                let mut out = String::new();
                if let Some(mut o) = self.child.stdout.take() {
                    o.read_to_string(&mut out).unwrap();
                }
                return out.trim().to_string();
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                panic!("agent still running after {limit:?}; log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `debug=2` goroutine dump as (state, functions in the stack) per
/// goroutine.
fn goroutine_dump(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut lines = block.lines();
        let Some(head) = lines.next() else { continue };
        let Some(state) = head
            .strip_prefix("goroutine ")
            .and_then(|h| h.split_once('['))
            .and_then(|(_, r)| r.split(']').next())
            .map(|s| s.split(',').next().unwrap_or(s).trim().to_string())
        else {
            continue;
        };
        let funcs = lines
            .filter(|l| !l.starts_with('\t') && !l.starts_with("created by"))
            .filter_map(|l| l.rsplit_once('(').map(|(f, _)| f.to_string()))
            .collect();
        out.push((state, funcs));
    }
    out
}

/// `windows N delivered N dropped 0 …` as numbers.
fn summary(line: &str) -> BTreeMap<String, u64> {
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .chunks(2)
        .filter_map(|p| Some((p.first()?.to_string(), p.get(1)?.parse().ok()?)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goroutine_states_and_cpu_from_pprof_and_perf_answer_in_sql() {
    let tmp = tempfile::tempdir().unwrap();
    let go = GoService::start(tmp.path()).unwrap();
    // 1 s server windows, so each 2 s agent window has its own `time`.
    let server = TestServer::start(&tmp.path().join("data"), &["--window", "1s"])
        .await
        .unwrap();
    let pid = go.pid().to_string();
    let agent = AgentProcess::start(
        &server,
        &[
            "--service",
            "shop",
            "--pprof-url",
            &go.url,
            "--pid",
            &pid,
            "--window",
            "2s",
            "--windows",
            "2",
            "--label",
            "env=test",
        ],
        tmp.path().join("agent.log"),
    );
    // Collections throughout the run, so the second window has GC pauses.
    let gc_url = format!("{}/gc", go.url);
    let collecting = tokio::spawn(async move {
        let client = reqwest::Client::new();
        for _ in 0..40 {
            let _ = client.get(&gc_url).send().await;
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    });
    let s = summary(&agent.wait(Duration::from_secs(60)));
    collecting.abort();
    assert_eq!((s["windows"], s["delivered"], s["undelivered"]), (2, 2, 0));

    // Per window (the last one): goroutines per state in each function.
    let last = "(SELECT max(time) FROM profiles WHERE profile_type = 'goroutine')";
    for (state, func, n) in flarego_tests::goservice::PARKED {
        let rows = server
            .sql(&format!(
                "SELECT state, CAST(sum(value) AS BIGINT) FROM profiles \
                 WHERE profile_type = 'goroutine' AND service = 'shop' AND labels['env'] = 'test' \
                 AND time = {last} AND has_frame(frames, '{func}') GROUP BY state"
            ))
            .await
            .unwrap();
        assert_eq!(
            rows,
            vec![vec![serde_json::json!(state), serde_json::json!(n)]],
            "{func}"
        );
    }
    // The read API agrees with the service's own debug=2 dump: per state,
    // the goroutine flame graph's total and each parked function's total.
    // Goroutines of the profiler itself (the agent's CPU profile runs
    // while it reads the goroutines) are left out of both with `ignore`.
    let last_ns = server
        .sql_i64("SELECT CAST(max(time) AS BIGINT) FROM profiles WHERE profile_type = 'goroutine'")
        .await
        .unwrap();
    let dump = reqwest::get(format!("{}/debug/pprof/goroutine?debug=2", go.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dumped = goroutine_dump(&dump);
    for state in ["chan receive", "semacquire", "sleep"] {
        let in_state: Vec<&Vec<String>> = dumped
            .iter()
            .filter(|(s, f)| s == state && !f.iter().any(|x| x.starts_with("runtime/pprof.")))
            .map(|(_, f)| f)
            .collect();
        let url = format!(
            "{}/api/v1/top?service=shop&profile_type=goroutine&state={}&from={last_ns}&to={}&ignore=%5Eruntime%2Fpprof%5C.",
            server.url,
            state.replace(' ', "%20"),
            last_ns + 1
        );
        let top: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        assert_eq!(top["total"], in_state.len() as i64, "{state}: {top}");
        let fg_url = url.replace("/api/v1/top", "/api/v1/flamegraph");
        let fg: serde_json::Value = reqwest::get(&fg_url).await.unwrap().json().await.unwrap();
        assert_eq!(fg["total"], in_state.len() as i64, "{state} flame graph");
        for (_, func, _) in flarego_tests::goservice::PARKED {
            let dumped_n = in_state
                .iter()
                .filter(|f| f.iter().any(|x| x == func))
                .count() as i64;
            let ours = top["rows"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["function"] == func)
                .map(|r| r["total"].as_i64().unwrap())
                .unwrap_or(0);
            assert_eq!(ours, dumped_n, "{state}: {func}");
        }
    }

    let spinning = server
        .sql_i64(&format!(
            "SELECT CAST(sum(value) AS BIGINT) FROM profiles WHERE profile_type = 'goroutine' \
             AND time = {last} AND has_frame(frames, 'main.spin')"
        ))
        .await
        .unwrap();
    assert_eq!(spinning, 2);

    // CPU from both sources: main.spin holds the majority (other tests
    // share the 2 cores, so not all of it).
    for source in ["pprof", "perf"] {
        let share = server
            .sql_i64(&format!(
                "SELECT CAST(100 * sum(CASE WHEN leaf(frames) = 'main.spin' THEN value ELSE 0 END) / sum(value) AS BIGINT) \
                 FROM profiles WHERE profile_type = 'cpu' AND labels['source'] = '{source}'"
            ))
            .await
            .unwrap();
        assert!(share > 50, "main.spin has {share}% of {source} CPU");
    }
    // Derived metrics, the agent's own included.
    let names = server
        .sql("SELECT DISTINCT name FROM metrics ORDER BY 1")
        .await
        .unwrap();
    let names: Vec<&str> = names.iter().filter_map(|r| r[0].as_str()).collect();
    for n in [
        "go_goroutines",
        "go_goroutines_blocked",
        "go_heap_inuse_bytes",
        "go_gc_count",
        "go_gc_pause_ns",
        "agent_cpu_percent",
        "agent_rss_bytes",
        "agent_perf_achieved_hz",
        "agent_perf_jitter_p99_ns",
    ] {
        assert!(names.contains(&n), "metric {n} missing from {names:?}");
    }
    // The window's pause quantiles agree with its raw pause points.
    let pauses = server
        .sql(
            "SELECT CAST(count(*) AS BIGINT), CAST(max(value) AS BIGINT), \
             CAST(min(value) AS BIGINT) FROM metrics WHERE name = 'go_gc_pause_ns'",
        )
        .await
        .unwrap();
    let (n, max, min) = (
        pauses[0][0].as_i64().unwrap(),
        pauses[0][1].as_i64().unwrap(),
        pauses[0][2].as_i64().unwrap(),
    );
    assert!(n >= 3, "only {n} GC pauses in the second window");
    let quantile = |name: &str| {
        let sql = format!("SELECT CAST(value AS BIGINT) FROM metrics WHERE name = '{name}'");
        let server = &server;
        async move { server.sql_i64(&sql).await.unwrap() }
    };
    assert_eq!(quantile("go_gc_pause_max_ns").await, max);
    let (p50, p99) = (
        quantile("go_gc_pause_p50_ns").await,
        quantile("go_gc_pause_p99_ns").await,
    );
    assert!(
        min <= p50 && p50 <= p99 && p99 <= max,
        "{min} {p50} {p99} {max}"
    );
    let blocked = server
        .sql_i64(
            "SELECT CAST(min(value) AS BIGINT) FROM metrics WHERE name = 'go_goroutines_blocked'",
        )
        .await
        .unwrap();
    // 25 + 7 + 3 + 1 + 1 + 1 known, plus the runtime's own waiting goroutines.
    assert!(blocked >= 38, "blocked goroutines {blocked}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_30s_server_outage_delivers_every_window_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (go, mut server) = go_service_and_server(tmp.path()).await;
    let pid = go.pid().to_string();
    let agent = AgentProcess::start(
        &server,
        &[
            "--service",
            "shop",
            "--pid",
            &pid,
            "--window",
            "1s",
            "--backoff-initial",
            "200ms",
            "--backoff-max",
            "2s",
            "--drain-timeout",
            "20s",
        ],
        tmp.path().join("agent.log"),
    );
    let windows = "SELECT count(*) FROM metrics WHERE name = 'agent_window_seq'";
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.sql_i64(windows).await.unwrap() < 3 {
        assert!(Instant::now() < deadline, "no windows arrived in 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.kill9();
    tokio::time::sleep(Duration::from_secs(30)).await;
    server.start_again().await.unwrap();
    // Let the backlog drain and a few live windows follow.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let s = summary(&agent.interrupt_and_wait(Duration::from_secs(40)));
    assert_eq!(s["dropped"], 0);
    assert_eq!(s["undelivered"], 0);
    let n = s["windows"];
    assert!(n >= 35, "only {n} windows in a run of 40 s");
    let rows = server
        .sql(
            "SELECT CAST(value AS BIGINT), count(*) FROM metrics WHERE name = 'agent_window_seq' \
             GROUP BY 1 ORDER BY 1",
        )
        .await
        .unwrap();
    let expected: Vec<Vec<serde_json::Value>> = (1..=n).map(|i| vec![i.into(), 1.into()]).collect();
    assert_eq!(rows, expected, "every window 1..={n} exactly once");
    let failures = server
        .sql_i64("SELECT CAST(max(value) AS BIGINT) FROM metrics WHERE name = 'agent_upload_failures_total'")
        .await
        .unwrap();
    assert!(failures >= 1, "the outage shows in the agent's own metrics");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_transport_delivers_the_same_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    let (go, server) = go_service_and_server(tmp.path()).await;
    let pid = go.pid().to_string();
    let log = tmp.path().join("agent.log");
    let log_file = std::fs::File::create(&log).unwrap();
    // To the HTTP port, as behind a proxy that only passes HTTP/1.1.
    let child = Command::new(flarego_bin().unwrap())
        .args(["agent", "--transport", "websocket", "--server", &server.url])
        .args([
            "--service",
            "ws",
            "--pid",
            &pid,
            "--window",
            "1s",
            "--windows",
            "3",
        ])
        .env("FLAREGO_AGENT_TENANT", "team-ws")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .spawn()
        .unwrap();
    let agent = AgentProcess { child, log };
    let s = summary(&agent.wait(Duration::from_secs(60)));
    assert_eq!((s["windows"], s["delivered"]), (3, 3));
    let rows = server
        .sql(
            "SELECT tenant, CAST(value AS BIGINT) FROM metrics WHERE name = 'agent_window_seq' \
             AND service = 'ws' ORDER BY 2",
        )
        .await
        .unwrap();
    let expected: Vec<Vec<serde_json::Value>> =
        (1..=3).map(|i| vec!["team-ws".into(), i.into()]).collect();
    assert_eq!(rows, expected);
    let spin = server
        .sql_i64(
            "SELECT count(*) FROM profiles WHERE profile_type = 'cpu' AND labels['source'] = 'perf' \
             AND leaf(frames) = 'main.spin'",
        )
        .await
        .unwrap();
    assert!(
        spin > 0,
        "perf CPU stacks in main.spin arrived over WebSocket"
    );
}

/// `flarego demo`: a first SQL answer within a minute, and Ctrl-C stops
/// the server, the agent and the Go workload.
#[test]
fn demo_answers_within_a_minute_and_stops_on_ctrl_c() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    // The demo builds the Go workload with `go`; make the test's Go the one it finds.
    let go = flarego_tests::gotool::go().unwrap();
    let path = format!(
        "{}:{}",
        go.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new(flarego_bin().unwrap())
        .args([
            "demo",
            "--http-addr",
            "127.0.0.1:0",
            "--grpc-addr",
            "127.0.0.1:0",
        ])
        .args(["--window", "2s", "--data-dir"])
        .arg(tmp.path().join("data"))
        .env("PATH", path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|l: &String| l.contains("Ctrl-C stops the demo"))
    {
        let left = Duration::from_secs(60).saturating_sub(started.elapsed());
        match rx.recv_timeout(left) {
            Ok(l) => seen.push(l),
            Err(_) => panic!(
                "no first answer within a minute; printed:\n{}",
                seen.join("\n")
            ),
        }
    }
    let out = seen.join("\n");
    assert!(out.contains("SQL API   http://127.0.0.1:"), "{out}");
    let chan_receive = seen
        .iter()
        .find(|l| l.starts_with("chan receive"))
        .unwrap_or_else(|| panic!("no goroutine answer:\n{out}"));
    assert!(chan_receive.ends_with("| 25"), "{chan_receive}");
    assert!(out.contains("main.spin"), "{out}");
    let workload_pid: u32 = seen
        .iter()
        .find_map(|l| l.split("(pid ").nth(1))
        .and_then(|p| p.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no workload pid:\n{out}"));

    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "demo still running 15 s after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "demo exited with {status}");
    assert!(
        !std::path::Path::new(&format!("/proc/{workload_pid}")).exists(),
        "the Go workload outlived the demo"
    );
}

/// A source that fails (nothing listens at the pprof URL) is counted in
/// `agent_scrape_errors` every window and retried; perf goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_source_is_counted_and_the_others_go_on() {
    let tmp = tempfile::tempdir().unwrap();
    let (go, server) = go_service_and_server(tmp.path()).await;
    let pid = go.pid().to_string();
    let agent = AgentProcess::start(
        &server,
        &[
            "--service",
            "half",
            "--pprof-url",
            "http://127.0.0.1:1",
            "--pid",
            &pid,
            "--window",
            "1s",
            "--windows",
            "3",
            "--scrape-timeout",
            "2s",
        ],
        tmp.path().join("agent.log"),
    );
    let s = summary(&agent.wait(Duration::from_secs(60)));
    assert_eq!((s["windows"], s["delivered"]), (3, 3));
    let errors = server
        .sql("SELECT CAST(value AS BIGINT) FROM metrics WHERE name = 'agent_scrape_errors' ORDER BY time")
        .await
        .unwrap();
    // cpu, goroutines, heap, allocs, block, mutex, memstats: all 7, each window.
    assert_eq!(errors, vec![vec![serde_json::json!(7)]; 3]);
    let perf_rows = server
        .sql_i64("SELECT count(*) FROM profiles WHERE labels['source'] = 'perf' AND leaf(frames) = 'main.spin'")
        .await
        .unwrap();
    assert!(perf_rows > 0, "perf kept sampling while pprof failed");
    let log = std::fs::read_to_string(tmp.path().join("agent.log")).unwrap();
    assert!(log.contains("cpu profile scrape failed"), "{log}");
}

/// `--pprof-profiles` scrapes only what it names: here the goroutine
/// census and memstats, no CPU (the service is never CPU-profiled) and no
/// heap; windows keep their length. An unknown name is refused up front.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_chosen_pprof_profiles_are_scraped() {
    let tmp = tempfile::tempdir().unwrap();
    let (go, server) = go_service_and_server(tmp.path()).await;
    let started = Instant::now();
    let agent = AgentProcess::start(
        &server,
        &[
            "--service",
            "picked",
            "--pprof-url",
            &go.url,
            "--pprof-profiles",
            "goroutine,memstats",
            "--window",
            "1s",
            "--windows",
            "2",
        ],
        tmp.path().join("agent.log"),
    );
    let s = summary(&agent.wait(Duration::from_secs(30)));
    assert_eq!((s["windows"], s["delivered"]), (2, 2));
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "two 1 s windows took {:?}",
        started.elapsed()
    );
    let types = server
        .sql("SELECT DISTINCT profile_type FROM profiles ORDER BY 1")
        .await
        .unwrap();
    assert_eq!(types, vec![vec![serde_json::json!("goroutine")]]);
    let heap_metric = server
        .sql_i64("SELECT count(*) FROM metrics WHERE name = 'go_heap_inuse_bytes'")
        .await
        .unwrap();
    assert_eq!(heap_metric, 2, "memstats once per window");
    let errors = server
        .sql_i64(
            "SELECT CAST(sum(value) AS BIGINT) FROM metrics WHERE name = 'agent_scrape_errors'",
        )
        .await
        .unwrap();
    assert_eq!(errors, 0);

    let out = Command::new(flarego_bin().unwrap())
        .args(["agent", "--server", &server.grpc_url, "--service", "x"])
        .args(["--pprof-url", &go.url, "--pprof-profiles", "cpu,trace"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--pprof-profiles") && err.contains("\"trace\""),
        "{err}"
    );
}

/// With `--buffer-dir`, chunks queued while the server is away outlive
/// the agent: killed with SIGKILL mid-outage and started again, it keeps
/// its agent id and sequence, resends what it had, and every window is
/// stored exactly once, with no gap in the sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_delivers_what_it_buffered_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let (go, mut server) = go_service_and_server(tmp.path()).await;
    let pid = go.pid().to_string();
    let buffer = tmp.path().join("agent-buffer");
    let args = [
        "--service",
        "shop",
        "--pid",
        &pid,
        "--window",
        "1s",
        "--buffer-dir",
        buffer.to_str().unwrap(),
        "--backoff-initial",
        "200ms",
        "--backoff-max",
        "1s",
        "--drain-timeout",
        "20s",
    ];
    let first = AgentProcess::start(&server, &args, tmp.path().join("agent1.log"));
    let windows = "SELECT count(*) FROM metrics WHERE name = 'agent_window_seq'";
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.sql_i64(windows).await.unwrap() < 2 {
        assert!(Instant::now() < deadline, "no windows arrived in 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.kill9();
    tokio::time::sleep(Duration::from_secs(4)).await;
    first.kill9();
    let on_disk = std::fs::read_dir(&buffer)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".chunk"))
        .count();
    assert!(on_disk >= 2, "only {on_disk} chunks were on disk");

    let mut second_args = args.to_vec();
    second_args.extend(["--windows", "2"]);
    let second = AgentProcess::start(&server, &second_args, tmp.path().join("agent2.log"));
    server.start_again().await.unwrap();
    let s = summary(&second.wait(Duration::from_secs(60)));
    assert_eq!((s["windows"], s["undelivered"], s["dropped"]), (2, 0, 0));

    let seqs: Vec<i64> = server
        .sql("SELECT CAST(value AS BIGINT) FROM metrics WHERE name = 'agent_window_seq' ORDER BY 1")
        .await
        .unwrap()
        .iter()
        .map(|r| r[0].as_i64().unwrap())
        .collect();
    // No gap: the second run numbered its windows after the chunks on
    // disk, so a lost one would leave a hole below them.
    let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
    assert_eq!(seqs, expected, "every window once, no gap");
    assert!(
        seqs.len() >= on_disk + 2,
        "{} windows stored; {on_disk} were on disk",
        seqs.len()
    );
    let left = std::fs::read_dir(&buffer)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".chunk"))
        .count();
    assert_eq!(left, 0, "delivered chunks are removed from disk");
    let log = std::fs::read_to_string(tmp.path().join("agent2.log")).unwrap();
    assert!(
        log.contains("resending chunks an earlier run left"),
        "{log}"
    );
}
