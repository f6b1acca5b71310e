//! [`PublishedManifest`]: one manifest version as readers see it.
//!
//! Readers (query snapshots) hold an `Arc` of the version they planned
//! against. When a merge replaces files, it retires them on the version
//! that still lists them; they are deleted once the last reader of that
//! version lets go, so no running query loses a file under it, and the
//! directory soon holds each row once for outside engines.

use crate::manifest::Manifest;
use object_store::{ObjectStore, ObjectStoreExt, path::Path};
use std::ops::Deref;
use std::sync::{Arc, Mutex};

/// A manifest version, with the files to delete when it is no longer read.
#[derive(Debug)]
pub struct PublishedManifest {
    manifest: Manifest,
    retired: Mutex<Vec<String>>,
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

    /// Marks files this version lists but the next one does not.
    pub(crate) fn retire(&self, paths: Vec<String>) {
        self.retired
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(paths);
    }

    fn take_retired(&self) -> Vec<String> {
        std::mem::take(&mut *self.retired.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Deletes the retired files now (no reader holds this version).
    pub(crate) async fn delete_retired(self) {
        delete(self.store.clone(), self.take_retired()).await;
    }
}

async fn delete(store: Arc<dyn ObjectStore>, paths: Vec<String>) {
    for p in paths {
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
        let paths = self.take_retired();
        if paths.is_empty() {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn(delete(self.store.clone(), paths));
            }
            Err(_) => tracing::warn!(
                files = paths.len(),
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
        version.retire(vec![path.to_string()]);
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
}
