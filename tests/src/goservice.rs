//! The Go service `tests/go/goroutines -serve`: known goroutines behind a
//! real `net/http/pprof`, killed on drop.

use crate::gotool;
use anyhow::Context;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

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
        let mut child = Command::new(bin)
            .args(["-serve", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the Go service")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let url = line
            .trim()
            .strip_prefix("serving on ")
            .with_context(|| format!("Go service printed {line:?}, not its address"))?
            .to_string();
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
