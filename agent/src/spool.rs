//! Unsent chunks on disk (`--buffer-dir`), so an agent restarted while
//! the server is away still delivers what it had queued.
//!
//! ```text
//! DIR/agent-id                  the wire agent id, kept across restarts
//! DIR/next-seq                  the sequence the next window gets
//! DIR/00000000000000000042.chunk  one queued chunk (protobuf), by sequence
//! ```
//!
//! A chunk file is written (temporary file, fsync, rename, fsync of the
//! directory) when the chunk is queued, before it may be sent, and
//! removed when it is acked or dropped. On start the agent
//! takes the same agent id and goes on from `next-seq`, so the server's
//! (agent, sequence) dedup still stores every window once, resends
//! included.

use flarego_proto::agent::v1::Chunk;
use prost::Message;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("buffer dir {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "buffer dir {dir} belongs to agent {found:?}, not {name:?}: give each agent its own directory"
    )]
    OtherAgent {
        dir: PathBuf,
        found: String,
        name: String,
    },
}

/// What an earlier run left behind.
#[derive(Debug, Default)]
pub struct Resume {
    pub agent_id: Option<String>,
    pub next_seq: u64,
    /// Queued chunks, oldest first.
    pub chunks: Vec<Chunk>,
}

/// The directory of one agent's unsent chunks.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// Opens (creating) `dir` for the agent named `name` and reads what
    /// an earlier run left. An unreadable chunk file is logged and removed.
    pub fn open(dir: &Path, name: &str) -> Result<(Spool, Resume), SpoolError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SpoolError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let spool = Spool {
            dir: dir.to_path_buf(),
        };
        let mut resume = Resume::default();
        let id_path = dir.join("agent-id");
        if let Ok(id) = std::fs::read_to_string(&id_path) {
            let id = id.trim().to_string();
            if id.rsplit_once('/').map(|(n, _)| n) != Some(name) {
                return Err(SpoolError::OtherAgent {
                    dir: dir.to_path_buf(),
                    found: id,
                    name: name.to_string(),
                });
            }
            resume.agent_id = Some(id);
        }
        if let Ok(n) = std::fs::read_to_string(dir.join("next-seq")) {
            resume.next_seq = n.trim().parse().unwrap_or(0);
        }
        let entries = std::fs::read_dir(dir).map_err(io(dir))?;
        let mut files: Vec<(u64, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let seq = name.strip_suffix(".chunk")?.parse().ok()?;
                Some((seq, e.path()))
            })
            .collect();
        files.sort();
        for (seq, path) in files {
            match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| Chunk::decode(b.as_slice()).map_err(|e| e.to_string()))
            {
                Ok(c) if c.seq == seq => resume.chunks.push(c),
                Ok(c) => spool.discard(&path, &format!("holds sequence {}", c.seq)),
                Err(e) => spool.discard(&path, &e),
            }
        }
        let after_files = resume.chunks.last().map_or(0, |c| c.seq + 1);
        resume.next_seq = resume.next_seq.max(after_files).max(1);
        Ok((spool, resume))
    }

    fn discard(&self, path: &Path, why: &str) {
        tracing::warn!(path = %path.display(), why, "unreadable buffered chunk removed");
        let _ = std::fs::remove_file(path);
    }

    /// Records the agent id this directory's chunks carry.
    pub fn set_agent_id(&self, id: &str) -> Result<(), SpoolError> {
        self.write_atomic("agent-id", id.as_bytes())
    }

    /// Writes `chunk` and moves `next-seq` past it.
    pub fn save(&self, chunk: &Chunk) -> Result<(), SpoolError> {
        self.write_atomic(&file_name(chunk.seq), &chunk.encode_to_vec())?;
        self.write_atomic("next-seq", (chunk.seq + 1).to_string().as_bytes())
    }

    /// The chunk `seq` was acked or dropped.
    pub fn remove(&self, seq: u64) {
        let path = self.dir.join(file_name(seq));
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "buffered chunk not removed");
        }
    }

    fn write_atomic(&self, name: &str, bytes: &[u8]) -> Result<(), SpoolError> {
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let err = |source| SpoolError::Io {
            path: path.clone(),
            source,
        };
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(bytes).map_err(err)?;
        f.sync_data().map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)?;
        // The rename itself is durable only once the directory is synced.
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(err)
    }
}

fn file_name(seq: u64) -> String {
    format!("{seq:020}.chunk")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(seq: u64) -> Chunk {
        Chunk {
            agent_id: "svc/0001".into(),
            seq,
            service: "svc".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_second_run_resumes_the_id_the_sequence_and_the_unacked_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, resume) = Spool::open(dir.path(), "svc").unwrap();
        assert_eq!((resume.agent_id, resume.next_seq), (None, 1));
        spool.set_agent_id("svc/0001").unwrap();
        for seq in 1..=4 {
            spool.save(&chunk(seq)).unwrap();
        }
        spool.remove(1);
        spool.remove(2);
        std::fs::write(dir.path().join(file_name(9)), b"not protobuf").unwrap();

        let (_, resume) = Spool::open(dir.path(), "svc").unwrap();
        assert_eq!(resume.agent_id.as_deref(), Some("svc/0001"));
        let seqs: Vec<u64> = resume.chunks.iter().map(|c| c.seq).collect();
        assert_eq!(seqs, vec![3, 4]);
        assert_eq!(resume.next_seq, 5);
        assert!(!dir.path().join(file_name(9)).exists(), "the bad file went");

        // Everything acked: the sequence still goes on from next-seq.
        spool.remove(3);
        spool.remove(4);
        let (_, resume) = Spool::open(dir.path(), "svc").unwrap();
        assert!(resume.chunks.is_empty());
        assert_eq!(resume.next_seq, 5);

        let e = Spool::open(dir.path(), "other").unwrap_err();
        assert!(e.to_string().contains("own directory"), "{e}");
    }
}
