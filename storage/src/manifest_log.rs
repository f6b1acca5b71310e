//! The manifest on the object store as a log of numbered deltas, so no
//! object is ever overwritten in place.
//!
//! ```text
//! _manifest/<node>/log/<seq:020>.json         one delta per version:
//!                                              files added and removed,
//!                                              plus the small state whole
//! _manifest/<node>/checkpoint/<seq:020>.json  the whole manifest, every
//!                                              CHECKPOINT_EVERY versions
//! ```
//!
//! Every object is created with `PutMode::Create`: a second writer of the
//! same number fails instead of replacing it, which is how a second server
//! running with the same node id is caught. A retried create that finds
//! its own earlier attempt (same bytes, which carry a per-process token)
//! counts as done. Loading reads the newest readable checkpoint and then
//! the deltas after it in order; a gap stops the load with an error.
//! Deltas and checkpoints older than the previous checkpoint are deleted.

use crate::error::{Error, Result};
use crate::health::StoreHealth;
use crate::manifest::{FileEntry, Manifest, ManifestVersion};
use crate::sequences::SequenceMark;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, path::Path};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// A checkpoint is written at every version that is a multiple of this.
pub const CHECKPOINT_EVERY: u64 = 64;

/// One manifest change.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Delta {
    seq: u64,
    node: String,
    /// Differs per process: a retried create recognises its own object.
    writer: String,
    add: Vec<FileEntry>,
    remove: Vec<String>,
    #[serde(with = "crate::manifest::window_pairs")]
    persisted_through: BTreeMap<i64, u64>,
    sequences: BTreeMap<String, SequenceMark>,
    window_ns: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "version")]
enum DeltaVersion {
    #[serde(rename = "2")]
    V2(Delta),
}

/// One node's manifest log in a store.
#[derive(Debug, Clone)]
pub struct ManifestLog {
    store: Arc<dyn ObjectStore>,
    node: String,
    writer: String,
    /// Told when a create fails, before waiting for the store to say
    /// whether it took effect (an outage shows while the wait lasts).
    health: Arc<StoreHealth>,
}

impl ManifestLog {
    pub fn new(store: Arc<dyn ObjectStore>, node: &str) -> Self {
        ManifestLog {
            store,
            node: node.to_string(),
            writer: format!("{:016x}", rand::random::<u64>()),
            health: Arc::default(),
        }
    }

    /// This log, reporting store failures to `health`.
    pub fn with_health(mut self, health: Arc<StoreHealth>) -> Self {
        self.health = health;
        self
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    fn log_dir(&self) -> Path {
        Path::from(format!("_manifest/{}/log", self.node))
    }
    fn checkpoint_dir(&self) -> Path {
        Path::from(format!("_manifest/{}/checkpoint", self.node))
    }
    fn delta_path(&self, seq: u64) -> Path {
        Path::from(format!("_manifest/{}/log/{seq:020}.json", self.node))
    }
    fn checkpoint_path(&self, seq: u64) -> Path {
        Path::from(format!("_manifest/{}/checkpoint/{seq:020}.json", self.node))
    }

    /// The numbers of the objects under `dir`, ascending.
    async fn numbers(&self, dir: &Path) -> Result<Vec<u64>> {
        crate::store::numbered_json(self.store.as_ref(), dir).await
    }

    async fn read(&self, path: &Path) -> Result<bytes::Bytes> {
        let oerr = |source| Error::ObjectStore {
            path: path.to_string(),
            source,
        };
        self.store
            .get(path)
            .await
            .map_err(oerr)?
            .bytes()
            .await
            .map_err(oerr)
    }

    /// The manifest as of the newest delta (empty when there is none).
    pub async fn load(&self) -> Result<Manifest> {
        let checkpoints = self.numbers(&self.checkpoint_dir()).await?;
        let mut base: Option<Manifest> = None;
        for seq in checkpoints.iter().rev() {
            let path = self.checkpoint_path(*seq);
            match self
                .read(&path)
                .await
                .and_then(|b| parse_checkpoint(&path, &b))
            {
                Ok(m) => {
                    base = Some(m);
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, "manifest checkpoint unreadable; trying an older one")
                }
            }
        }
        let mut manifest = base.unwrap_or_default();
        for seq in self.numbers(&self.log_dir()).await? {
            if seq <= manifest.generation {
                continue;
            }
            let path = self.delta_path(seq);
            if seq != manifest.generation + 1 {
                return Err(Error::Manifest {
                    path: path.to_string(),
                    reason: format!(
                        "manifest log has a gap: version {} follows {}",
                        seq, manifest.generation
                    ),
                });
            }
            let bytes = self.read(&path).await?;
            let DeltaVersion::V2(d) =
                serde_json::from_slice(&bytes).map_err(|e| Error::Manifest {
                    path: path.to_string(),
                    reason: e.to_string(),
                })?;
            apply(&mut manifest, d);
        }
        Ok(manifest)
    }

    /// Records `next` (whose generation is `prev`'s plus one) as a delta,
    /// and as a checkpoint every [`CHECKPOINT_EVERY`] versions. Returns
    /// the paths written (for a local disk to sync).
    pub async fn commit(&self, prev: &Manifest, next: &Manifest) -> Result<Vec<String>> {
        // An entry changed in place (its rollups, its raw rows expired)
        // is removed and added again under its path.
        let before: HashMap<&str, &FileEntry> =
            prev.files.iter().map(|f| (f.path.as_str(), f)).collect();
        let after: HashMap<&str, &FileEntry> =
            next.files.iter().map(|f| (f.path.as_str(), f)).collect();
        let delta = Delta {
            seq: next.generation,
            node: self.node.clone(),
            writer: self.writer.clone(),
            add: next
                .files
                .iter()
                .filter(|f| before.get(f.path.as_str()) != Some(f))
                .cloned()
                .collect(),
            remove: prev
                .files
                .iter()
                .filter(|f| after.get(f.path.as_str()) != Some(f))
                .map(|f| f.path.clone())
                .collect(),
            persisted_through: next.persisted_through.clone(),
            sequences: next.sequences.clone(),
            window_ns: next.window_ns,
        };
        let json = to_json(&DeltaVersion::V2(delta))?;
        let delta_path = self.delta_path(next.generation);
        self.create(&delta_path, json).await?;
        let mut written = vec![delta_path.to_string()];
        // The delta is the commit; a checkpoint that fails is written at
        // a later multiple.
        if next.generation.is_multiple_of(CHECKPOINT_EVERY) {
            match self.write_checkpoint(next).await {
                Ok(()) => written.push(self.checkpoint_path(next.generation).to_string()),
                Err(e) => {
                    tracing::warn!(error = %e, version = next.generation, "manifest checkpoint not written; the deltas still hold every change")
                }
            }
        }
        Ok(written)
    }

    /// Writes `m` whole as a checkpoint and drops what it makes unneeded.
    pub async fn write_checkpoint(&self, m: &Manifest) -> Result<()> {
        let json = to_json(&ManifestVersion::V2(m.clone()))?;
        self.create(&self.checkpoint_path(m.generation), json)
            .await?;
        self.prune(m.generation).await
    }

    /// Deletes deltas and checkpoints older than the checkpoint before
    /// `newest` (that one stays, with its deltas, should `newest` be
    /// unreadable).
    async fn prune(&self, newest: u64) -> Result<()> {
        let checkpoints = self.numbers(&self.checkpoint_dir()).await?;
        let Some(keep_from) = checkpoints.iter().rev().find(|s| **s < newest).copied() else {
            return Ok(());
        };
        let old_logs = self.numbers(&self.log_dir()).await?;
        let doomed = checkpoints
            .iter()
            .filter(|s| **s < keep_from)
            .map(|s| self.checkpoint_path(*s))
            .chain(
                old_logs
                    .iter()
                    .filter(|s| **s <= keep_from)
                    .map(|s| self.delta_path(*s)),
            );
        for path in doomed {
            if let Err(e) = self.store.delete(&path).await {
                tracing::warn!(path = %path, error = %e, "cannot delete an old manifest object; retried at the next checkpoint");
            }
        }
        Ok(())
    }

    /// Creates `path` unless it exists. Finding it already there is
    /// success only when it holds exactly these bytes (a retry of this
    /// process's own create); otherwise another server wrote it. When a
    /// create fails without saying whether it took effect, this waits
    /// until the store says: a number is never reused for other content.
    pub(crate) async fn create(&self, path: &Path, bytes: Vec<u8>) -> Result<()> {
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        let failed = match self
            .store
            .put_opts(path, PutPayload::from(bytes.clone()), opts)
            .await
        {
            Ok(_) => return Ok(()),
            Err(object_store::Error::AlreadyExists { .. }) => None,
            Err(source) => Some(Error::ObjectStore {
                path: path.to_string(),
                source,
            }),
        };
        if let Some(e) = &failed {
            self.health.failed(e);
        }
        match (self.existing(path).await, failed) {
            (Some(found), _) if found.as_ref() == bytes.as_slice() => Ok(()),
            (Some(_), _) => Err(Error::DuplicateNode {
                path: path.to_string(),
                node: self.node.clone(),
            }),
            (None, Some(e)) => Err(e),
            // Said to exist, then not found: deleted in between, which
            // only another writer would do.
            (None, None) => Err(Error::DuplicateNode {
                path: path.to_string(),
                node: self.node.clone(),
            }),
        }
    }

    /// The object's bytes, or `None` when it does not exist; retries
    /// (every second) for as long as the store cannot tell.
    async fn existing(&self, path: &Path) -> Option<bytes::Bytes> {
        loop {
            match self.store.get(path).await {
                Ok(r) => match r.bytes().await {
                    Ok(b) => return Some(b),
                    Err(e) => {
                        tracing::warn!(path = %path, error = %e, "cannot read back a manifest object; retrying")
                    }
                },
                Err(object_store::Error::NotFound { .. }) => return None,
                Err(e) => {
                    tracing::warn!(path = %path, error = %e, "cannot tell whether a manifest object was written; retrying")
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
}

fn apply(m: &mut Manifest, d: Delta) {
    let removed: HashSet<String> = d.remove.into_iter().collect();
    m.files.retain(|f| !removed.contains(&f.path));
    m.files.extend(d.add);
    m.generation = d.seq;
    m.persisted_through = d.persisted_through;
    m.sequences = d.sequences;
    m.window_ns = d.window_ns;
}

fn parse_checkpoint(path: &Path, bytes: &[u8]) -> Result<Manifest> {
    let v: ManifestVersion = serde_json::from_slice(bytes).map_err(|e| Error::Manifest {
        path: path.to_string(),
        reason: e.to_string(),
    })?;
    match v {
        ManifestVersion::V2(m) => Ok(m),
        ManifestVersion::V1(_) => Err(Error::Manifest {
            path: path.to_string(),
            reason: "a format-1 manifest where a checkpoint belongs".into(),
        }),
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::Manifest {
        path: "manifest".into(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::FileKind;
    use object_store::memory::InMemory;

    fn file(n: u64) -> FileEntry {
        FileEntry::raw(
            format!("tenant=a/f{n}.parquet"),
            FileKind::Samples,
            Some("a".into()),
            (n as i64, n as i64),
            n,
            n,
        )
    }

    #[tokio::test]
    async fn versions_replay_through_checkpoints_and_old_objects_go() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let log = ManifestLog::new(store.clone(), "n1");
        let mut prev = Manifest::default();
        for g in 1..=(CHECKPOINT_EVERY * 3 + 5) {
            let mut next = prev.clone();
            next.generation = g;
            next.files.push(file(g));
            if g % 3 == 0 {
                next.files.retain(|f| f.rows != g - 1);
            }
            next.persisted_through.insert(g as i64, g);
            log.commit(&prev, &next).await.unwrap();
            prev = next;
        }
        let loaded = ManifestLog::new(store.clone(), "n1").load().await.unwrap();
        assert_eq!(loaded, prev);
        let logs = log.numbers(&log.log_dir()).await.unwrap();
        let cps = log.numbers(&log.checkpoint_dir()).await.unwrap();
        assert_eq!(cps, vec![CHECKPOINT_EVERY * 2, CHECKPOINT_EVERY * 3]);
        assert_eq!(logs.first(), Some(&(CHECKPOINT_EVERY * 2 + 1)));
        // Another node sees nothing of it.
        let other = ManifestLog::new(store, "n2").load().await.unwrap();
        assert_eq!(other, Manifest::default());
    }

    #[tokio::test]
    async fn a_second_writer_of_one_version_is_refused_and_a_retry_is_not() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let a = ManifestLog::new(store.clone(), "n1");
        let b = ManifestLog::new(store.clone(), "n1");
        let next = Manifest {
            generation: 1,
            files: vec![file(1)],
            ..Default::default()
        };
        a.commit(&Manifest::default(), &next).await.unwrap();
        a.commit(&Manifest::default(), &next).await.unwrap();
        let err = b.commit(&Manifest::default(), &next).await.unwrap_err();
        assert!(matches!(err, Error::DuplicateNode { .. }), "{err}");
    }

    /// A create that fails without saying whether it took effect marks
    /// the store down at once, not when the read-back wait ends.
    #[tokio::test]
    async fn a_failed_create_marks_the_store_down_while_it_waits() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the node's directory belongs: the put and every
        // read-back fail, as they would with the store gone.
        std::fs::create_dir(dir.path().join("_manifest")).unwrap();
        let blocker = dir.path().join("_manifest/n1");
        std::fs::write(&blocker, b"").unwrap();
        let store: Arc<dyn ObjectStore> =
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap());
        let health = Arc::new(StoreHealth::default());
        let log = ManifestLog::new(store, "n1").with_health(health.clone());
        let next = Manifest {
            generation: 1,
            files: vec![file(1)],
            ..Default::default()
        };
        let commit = tokio::spawn(async move { log.commit(&Manifest::default(), &next).await });
        for _ in 0..100 {
            if !health.is_healthy() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(!health.is_healthy(), "still healthy while the create waits");
        assert!(
            !commit.is_finished(),
            "the create gave up instead of waiting"
        );
        // The store answers again: the object is not there, so the
        // commit fails with the store's error.
        std::fs::remove_file(&blocker).unwrap();
        let err = tokio::time::timeout(std::time::Duration::from_secs(10), commit)
            .await
            .expect("the create still waits after the store answered")
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, Error::ObjectStore { .. }), "{err}");
    }
}
