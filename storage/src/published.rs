//! [`PublishedManifest`]: one manifest version as readers see it.
//!
//! Readers (query snapshots) hold an `Arc` of the version they planned
//! against. When a merge replaces files, it retires them on the version
//! that still lists them; they are deleted once the last reader of that
//! version lets go and the grace period (`--delete-grace`) has passed
//! since they were replaced, so no running query loses a file under it
//! (nor a reader outside this process that planned on that version
//! within the grace), and the directory soon holds each row once for
//! outside engines.

use crate::manifest::Manifest;
use object_store::{ObjectStore, ObjectStoreExt, path::Path};
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

/// Files retired together, and when they may go.
#[derive(Debug)]
struct Retired {
    paths: Vec<String>,
    not_before: Instant,
}

/// A manifest version, with the files to delete when it is no longer read.
#[derive(Debug)]
pub struct PublishedManifest {
    manifest: Manifest,
    retired: Mutex<Vec<Retired>>,
    store: Arc<dyn ObjectStore>,
}

impl PublishedManifest {
    pub(crate) fn new(manifest: Manifest, store: Arc<dyn ObjectStore>) -> Self {
        PublishedManifest {
            manifest,
            retired: Mutex::new(Vec::new()),
            store,
        }
    }

    /// Marks files this version lists but the next one does not; they
    /// may go `grace` from now.
    pub(crate) fn retire(&self, paths: Vec<String>, grace: std::time::Duration) {
        self.retired
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Retired {
                paths,
                not_before: Instant::now() + grace,
            });
    }

    fn take_retired(&self) -> Vec<Retired> {
        std::mem::take(&mut *self.retired.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Deletes the retired files (no reader holds this version): now
    /// when their grace is over, else in the background when it is.
    pub(crate) async fn delete_retired(self) {
        let now = Instant::now();
        for r in self.take_retired() {
            if r.not_before <= now {
                delete(self.store.clone(), r).await;
            } else {
                tokio::spawn(delete(self.store.clone(), r));
            }
        }
    }
}

async fn delete(store: Arc<dyn ObjectStore>, retired: Retired) {
    if retired.not_before > Instant::now() {
        tokio::time::sleep_until(retired.not_before).await;
    }
    for p in retired.paths {
        if let Err(e) = store.delete(&Path::from(p.as_str())).await {
            tracing::warn!(path = %p, error = %e, "cannot delete a replaced file; it is removed at the next start");
        }
    }
}

impl Deref for PublishedManifest {
    type Target = Manifest;
    fn deref(&self) -> &Manifest {
        &self.manifest
    }
}

impl Drop for PublishedManifest {
    fn drop(&mut self) {
        let retired = self.take_retired();
        if retired.is_empty() {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                for r in retired {
                    h.spawn(delete(self.store.clone(), r));
                }
            }
            Err(_) => tracing::warn!(
                files = retired.iter().map(|r| r.paths.len()).sum::<usize>(),
                "replaced files left for the next start to remove"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::{PutPayload, memory::InMemory};

    #[tokio::test]
    async fn retired_files_outlive_their_last_reader_only() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let path = Path::from("tenant=a/old.parquet");
        store
            .put(&path, PutPayload::from_static(b"x"))
            .await
            .unwrap();
        let version = Arc::new(PublishedManifest::new(Manifest::default(), store.clone()));
        let reader = version.clone();
        version.retire(vec![path.to_string()], std::time::Duration::ZERO);
        drop(version);
        tokio::task::yield_now().await;
        assert!(
            store.head(&path).await.is_ok(),
            "deleted while a reader held it"
        );
        drop(reader);
        for _ in 0..100 {
            if store.head(&path).await.is_err() {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("not deleted after the last reader let go");
    }

    #[tokio::test]
    async fn retired_files_wait_for_their_grace_period() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let path = Path::from("tenant=a/old.parquet");
        store
            .put(&path, PutPayload::from_static(b"x"))
            .await
            .unwrap();
        let version = PublishedManifest::new(Manifest::default(), store.clone());
        version.retire(
            vec![path.to_string()],
            std::time::Duration::from_millis(500),
        );
        version.delete_retired().await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(store.head(&path).await.is_ok(), "deleted within its grace");
        for _ in 0..100 {
            if store.head(&path).await.is_err() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("not deleted after its grace");
    }
}
