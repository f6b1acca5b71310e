//! What the alert engine keeps beside the data, in `<data>/alerts/`:
//!
//! - `state.json`: every live instance, rewritten atomically after each
//!   evaluation that changed one, so a restart (even `kill -9`) neither
//!   forgets a firing alert nor notifies it twice;
//! - `dead-letter.jsonl`: notifications given up on, one JSON per line;
//! - `jira-<tenant>-<sink>.json`: open Jira issues per instance;
//! - `rules/<tenant>.toml`: rules set over the API;
//! - `history.jsonl`: the `alerts` table ([`crate::history`]).

use crate::notification::Notification;
use crate::state::Instance;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` through a temporary file, fsynced and renamed.
pub async fn write_atomic(path: PathBuf, bytes: Vec<u8>) -> std::io::Result<()> {
    tokio::task::spawn_blocking(move || write_atomic_now(&path, &bytes))
        .await
        .map_err(std::io::Error::other)?
}

pub fn write_atomic_now(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// The instances of one rule.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RuleState {
    pub tenant: String,
    pub rule: String,
    pub instances: BTreeMap<String, Instance>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    rules: Vec<RuleState>,
}

/// Reads `state.json`; a missing file is no state, a damaged one is
/// reported and set aside (alerts then start from nothing).
pub fn load_state(dir: &Path) -> Vec<RuleState> {
    let path = dir.join("state.json");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "cannot read the alert state; starting without it");
            return Vec::new();
        }
    };
    match serde_json::from_slice::<StateFile>(&bytes) {
        Ok(f) => f.rules,
        Err(e) => {
            let aside = dir.join("state.json.damaged");
            let _ = std::fs::rename(&path, &aside);
            tracing::error!(path = %path.display(), error = %e, kept = %aside.display(), "the alert state is damaged; starting without it");
            Vec::new()
        }
    }
}

pub async fn save_state(dir: &Path, rules: Vec<RuleState>) -> std::io::Result<()> {
    let file = StateFile { version: 1, rules };
    let bytes = serde_json::to_vec(&file).map_err(std::io::Error::other)?;
    write_atomic(dir.join("state.json"), bytes).await
}

/// The dead-letter file.
pub struct DeadLetters {
    path: PathBuf,
    lock: parking_lot::Mutex<()>,
}

#[derive(Serialize)]
struct DeadLetter<'a> {
    time: String,
    sink: &'a str,
    attempts: u32,
    error: &'a str,
    notification: &'a Notification,
}

impl DeadLetters {
    pub fn new(dir: &Path) -> DeadLetters {
        DeadLetters {
            path: dir.join("dead-letter.jsonl"),
            lock: parking_lot::Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record (a short, rare write; failures are logged).
    pub fn record(&self, sink: &str, n: &Notification, attempts: u32, error: &str) {
        let line = DeadLetter {
            time: crate::notification::rfc3339(now_ns()),
            sink,
            attempts,
            error,
            notification: n,
        };
        let Ok(mut bytes) = serde_json::to_vec(&line) else {
            return;
        };
        bytes.push(b'\n');
        let _guard = self.lock.lock();
        let written = (|| {
            if let Some(d) = self.path.parent() {
                std::fs::create_dir_all(d)?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            f.write_all(&bytes)
        })();
        if let Err(e) = written {
            tracing::error!(path = %self.path.display(), error = %e, "cannot write the dead-letter record");
        }
    }
}

/// Nanoseconds since the epoch, by the system clock.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}
