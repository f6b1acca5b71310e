//! The Go service `tests/go/goroutines -serve`: known goroutines behind a
//! real `net/http/pprof`, killed on drop.

use crate::gotool;
use anyhow::Context;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The goroutines the service parks, as (state, function, count); its
/// two `main.spin` goroutines are running or runnable.
pub const PARKED: [(&str, &str, i64); 5] = [
    ("chan receive", "main.waitOnChan", 25),
    ("semacquire", "main.lockHeld", 7),
    ("sleep", "main.nap", 3),
    ("IO wait", "main.accept", 1),
    ("select", "main.choose", 1),
];

/// The running service.
pub struct GoService {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl GoService {
    /// Builds (into `dir`) and starts the service on a free port.
    pub fn start(dir: &Path) -> anyhow::Result<GoService> {
        let bin = gotool::build("goroutines", dir)?;
        let (child, url) = spawn_serving(&bin, &["-serve", "127.0.0.1:0"])?;
        Ok(GoService { child, url })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for GoService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a Go program that prints `serving on ADDR` once listening;
/// returns it and `http://ADDR`.
pub fn spawn_serving(bin: &Path, args: &[&str]) -> anyhow::Result<(Child, String)> {
    spawn_serving_with(bin, args, &[])
}

/// [`spawn_serving`] with extra environment variables.
pub fn spawn_serving_with(
    bin: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> anyhow::Result<(Child, String)> {
    let mut child = Command::new(bin)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let url = line
        .trim()
        .strip_prefix("serving on ")
        .with_context(|| format!("{} printed {line:?}, not its address", bin.display()))?
        .to_string();
    Ok((child, url))
}
