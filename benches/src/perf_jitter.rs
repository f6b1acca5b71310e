//! The perf sampler against `perf record` on the same process (two
//! goroutines spinning in `main.spin`), at 100, 1000 and 10000 Hz:
//! achieved rate (samples per second of the target's CPU time, from
//! /proc), the sampler's jitter (|CPU time between consecutive samples of
//! a thread − period|), and what each sampler costs in CPU.

use crate::procs::cpu_secs;
use flarego_agent::perf::{PerfConfig, PerfSampler, Symbolizer, to_pprof};
use flarego_tests::goservice::spawn_serving;
use flarego_tests::gotool::build;
use std::process::{Command, Stdio};
use std::time::Duration;

/// CPU seconds of all waited-for children so far.
fn children_cpu() -> f64 {
    // SAFETY: getrusage writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

pub async fn run(seconds: u64) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let bin = build("goroutines", tmp.path())?;
    let (mut go, _) = spawn_serving(&bin, &["-serve", "127.0.0.1:0"])?;
    let pid = go.id();
    let pid_s = pid.to_string();
    println!(
        "| Hz | FlareGo achieved Hz | perf record achieved Hz | FlareGo jitter p50 µs | FlareGo jitter p99 µs | FlareGo lost | FlareGo sampler CPU %, symbolizing included | perf record CPU % | perf script (symbolizing) CPU s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for hz in [100u32, 1000, 10_000] {
        // FlareGo's sampler, in this (otherwise idle) process.
        let (self0, target0) = (cpu_secs("self"), cpu_secs(&pid_s));
        let sampler = PerfSampler::start(PerfConfig::for_rate(pid, hz))?;
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let w = sampler.take();
        drop(sampler);
        let target1 = cpu_secs(&pid_s);
        // Naming the frames is part of the sampler's cost, as the agent
        // does it every window.
        let mut symbols = Symbolizer::new(pid);
        let profile = to_pprof(&w, &mut symbols, 0);
        anyhow::ensure!(!profile.sample.is_empty(), "no samples at {hz} Hz");
        let self1 = cpu_secs("self");
        let ours_hz = w.samples as f64 / (target1 - target0);
        let ours_cpu = (self1 - self0) / seconds as f64 * 100.0;

        // perf record, same event and period, frame-pointer call graphs.
        let data = tmp.path().join(format!("perf-{hz}.data"));
        let period = (1_000_000_000 / u64::from(hz)).to_string();
        let (c0, t0) = (children_cpu(), cpu_secs(&pid_s));
        let st = Command::new("perf")
            .args([
                "record",
                "-q",
                "-e",
                "cpu-clock",
                "-c",
                &period,
                "-g",
                "-p",
                &pid_s,
                "-o",
            ])
            .arg(&data)
            .args(["--", "sleep", &seconds.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        let (c1, t1) = (children_cpu(), cpu_secs(&pid_s));
        anyhow::ensure!(st.success(), "perf record failed");
        let script = Command::new("perf")
            .args(["script", "-F", "tid", "-i"])
            .arg(&data)
            .stderr(Stdio::null())
            .output()?;
        // Its stacks with names, as `perf script` prints them: the peer's
        // cost of naming frames.
        let c2 = children_cpu();
        Command::new("perf")
            .args(["script", "-F", "ip,sym", "-i"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        let peer_symbolize = children_cpu() - c2;
        let peer_samples = script
            .stdout
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        let peer_hz = peer_samples as f64 / (t1 - t0);
        let peer_cpu = (c1 - c0) / seconds as f64 * 100.0;
        let us = |q: f64| w.jitter_quantile(q).map_or(0.0, |v| v as f64 / 1000.0);
        println!(
            "| {hz} | {ours_hz:.1} | {peer_hz:.1} | {:.1} | {:.1} | {} | {ours_cpu:.2} | {peer_cpu:.2} | {peer_symbolize:.2} |",
            us(0.5),
            us(0.99),
            w.lost
        );
    }
    let _ = go.kill();
    let _ = go.wait();
    println!(
        "\n{seconds} s per rate per sampler; achieved Hz = samples / target CPU seconds (/proc)."
    );
    Ok(())
}
