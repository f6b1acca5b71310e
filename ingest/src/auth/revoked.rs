//! Revoked tokens: a file of `jti` values, one per line (`#` starts a
//! comment). The file is read at start and read again when its
//! modification time or length changes, checked at most once per
//! [`RECHECK`], so
//! revoking a leaked token is an append to a file, no restart.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// How often the file's modification time is looked at, at most.
pub const RECHECK: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
#[error("the revoked-token file {path}: {source}")]
pub struct RevokedFileError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// The revoked `jti` values of one file.
#[derive(Debug)]
pub struct RevocationList {
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    revoked: HashSet<String>,
    /// Modification time and length at the last read: a change of either
    /// means the file was written (times can be coarser than writes).
    version: Version,
    checked: Instant,
}

impl RevocationList {
    /// Reads `path`; a file that cannot be read is an error here, at
    /// start, and only a warning on later reloads (the last list stays).
    pub fn open(path: &Path) -> Result<RevocationList, RevokedFileError> {
        let (revoked, version) = read(path)?;
        Ok(RevocationList {
            path: path.to_path_buf(),
            state: Mutex::new(State {
                revoked,
                version,
                checked: Instant::now(),
            }),
        })
    }

    /// Whether `jti` is revoked, after reloading the file if it changed.
    pub fn is_revoked(&self, jti: &str) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.checked.elapsed() >= RECHECK {
            s.checked = Instant::now();
            let version = std::fs::metadata(&self.path).ok().and_then(|m| version(&m));
            if version != s.version {
                match read(&self.path) {
                    Ok((revoked, version)) => {
                        tracing::info!(path = %self.path.display(), revoked = revoked.len(), "revoked-token file reloaded");
                        s.revoked = revoked;
                        s.version = version;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "keeping the last revoked-token list");
                    }
                }
            }
        }
        s.revoked.contains(jti)
    }
}

type Version = Option<(SystemTime, u64)>;

fn version(m: &std::fs::Metadata) -> Version {
    Some((m.modified().ok()?, m.len()))
}

fn read(path: &Path) -> Result<(HashSet<String>, Version), RevokedFileError> {
    let err = |source| RevokedFileError {
        path: path.to_path_buf(),
        source,
    };
    let version = version(&std::fs::metadata(path).map_err(err)?);
    let text = std::fs::read_to_string(path).map_err(err)?;
    let revoked = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    Ok((revoked, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ids_and_reloads_when_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("revoked");
        std::fs::write(&path, "# leaked 2026-11-01\nabc123\n\n  def456  # laptop\n").unwrap();
        let list = RevocationList::open(&path).unwrap();
        assert!(list.is_revoked("abc123") && list.is_revoked("def456"));
        assert!(!list.is_revoked("leaked") && !list.is_revoked(""));

        std::thread::sleep(RECHECK + Duration::from_millis(50));
        std::fs::write(&path, "abc123\nnew789\n").unwrap();
        // A later modification time, whatever the file system's clock
        // granularity.
        let later = SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert!(list.is_revoked("new789"), "reloaded after the change");
        assert!(!list.is_revoked("def456"));

        // A file that disappears keeps the last list.
        std::fs::remove_file(&path).unwrap();
        std::thread::sleep(RECHECK + Duration::from_millis(50));
        assert!(list.is_revoked("new789"));
        assert!(RevocationList::open(&path).is_err());
    }
}
