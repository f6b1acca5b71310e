//! Processes the benchmarks start and watch: the release `flarego`
//! binary, Go programs, and their CPU time and memory from `/proc`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
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

/// A running release server: `(child, http url, grpc url)`.
pub fn spawn_server(data: &Path, extra: &[&str]) -> anyhow::Result<(Child, String, String)> {
    let mut child = Command::new(crate::sibling_bin("flarego")?)
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
        .stderr(Stdio::null())
        .spawn()?;
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

/// Builds the Go program in `<repo>/<rel>` into `out`.
pub fn go_build(rel: &str, out: &Path) -> anyhow::Result<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel);
    let bin = out.join(rel.replace('/', "_"));
    let st = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&src)
        .env("GOTOOLCHAIN", "local")
        .status()?;
    anyhow::ensure!(st.success(), "go build {rel} failed");
    Ok(bin)
}

/// Starts a Go program that prints `serving on URL`; returns it and URL.
pub fn spawn_go(bin: &Path, args: &[&str]) -> anyhow::Result<(Child, String)> {
    let mut child = Command::new(bin)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let url = line
        .trim()
        .strip_prefix("serving on ")
        .ok_or_else(|| anyhow::anyhow!("{} printed {line:?}", bin.display()))?
        .to_string();
    Ok((child, url))
}
