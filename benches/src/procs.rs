//! Processes the benchmarks start and watch: the release `flarego`
//! binary and their CPU time and memory from `/proc` (Go programs are
//! built and started with `flarego_tests`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Resident memory now, KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// Peak resident memory, KiB.
pub fn hwm_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:")
}

/// CPU seconds (user + system) used so far by a process (`self` works).
pub fn cpu_secs(pid: &str) -> f64 {
    flarego_agent::selfstats::cpu_seconds_of(pid).unwrap_or(0.0)
}

/// A child process killed when dropped, so a bench that stops early
/// (an error, a refused write) leaves no server behind.
pub struct KillOnDrop(pub Child);

impl std::ops::Deref for KillOnDrop {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where a server's log goes: the file `FLAREGO_BENCH_SERVER_LOG` names
/// (appended), else nowhere.
fn server_log() -> anyhow::Result<Stdio> {
    Ok(match std::env::var_os("FLAREGO_BENCH_SERVER_LOG") {
        Some(path) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?
            .into(),
        None => Stdio::null(),
    })
}

/// A running release server: `(child, http url, grpc url)`.
pub fn spawn_server(data: &Path, extra: &[&str]) -> anyhow::Result<(KillOnDrop, String, String)> {
    spawn_server_bin(&crate::sibling_bin("flarego")?, data, extra)
}

/// [`spawn_server`] with another `flarego` binary (an older build, say).
pub fn spawn_server_bin(
    bin: &Path,
    data: &Path,
    extra: &[&str],
) -> anyhow::Result<(KillOnDrop, String, String)> {
    let mut child = KillOnDrop(
        Command::new(bin)
            .args([
                "server",
                "--http-addr",
                "127.0.0.1:0",
                "--grpc-addr",
                "127.0.0.1:0",
            ])
            .arg("--print-addr")
            .args(extra)
            .arg("--data-dir")
            .arg(data)
            .env("FLAREGO_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(server_log()?)
            .spawn()?,
    );
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut out = BufReader::new(stdout);
    let (mut http, mut grpc) = (String::new(), String::new());
    out.read_line(&mut http)?;
    out.read_line(&mut grpc)?;
    let http = http.trim().trim_start_matches("listening on ").to_string();
    let grpc = grpc.trim().trim_start_matches("grpc on ").to_string();
    Ok((child, http, grpc))
}

/// Waits until the server at `url` answers `/ready` (at most 60 s).
pub async fn wait_ready(client: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    for _ in 0..2400 {
        if client
            .get(format!("{url}/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    anyhow::bail!("{url} not ready after 60 s")
}

/// A value of a Prometheus text exposition (0 when absent).
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}
