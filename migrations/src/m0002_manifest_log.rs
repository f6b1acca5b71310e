//! Format 1 → 2: the manifest becomes a log of numbered deltas created
//! once each (`_manifest/<node>/log/…`, checkpoints beside them), so no
//! object is replaced in place and every server of a shared store keeps
//! its own log.
//!
//! The format-1 manifest is written as the node's first checkpoint, at
//! its own version number, and deleted after format 2 is recorded (a
//! leftover copy is deleted by a later run). Files keep their names: a
//! name without a node id belongs to the node that migrated it.

use crate::{Result, Step};
use flarego_storage::StorageConfig;
use flarego_storage::manifest::{MANIFEST_PATH, Manifest};
use flarego_storage::manifest_log::ManifestLog;
use object_store::{ObjectStore, ObjectStoreExt, path::Path};
use std::sync::Arc;

pub const STEP: Step = Step {
    to: 2,
    name: "manifest_log",
    what: "the whole-file manifest (_manifest/manifest.json) becomes this node's first checkpoint of a log of deltas; the old file is deleted",
};

pub async fn run(config: &StorageConfig, store: &Arc<dyn ObjectStore>) -> Result<()> {
    let node = flarego_storage::node::resolve(config)?;
    let Some(manifest) = Manifest::load_format1(store.as_ref()).await? else {
        return Ok(()); // a WAL only: nothing was cold yet
    };
    if manifest.generation > 0 {
        ManifestLog::new(store.clone(), &node)
            .write_checkpoint(&manifest)
            .await?;
    }
    Ok(())
}

/// Deletes the format-1 manifest once format 2 is recorded.
pub async fn finish(store: &dyn ObjectStore) -> Result<()> {
    match store.delete(&Path::from(MANIFEST_PATH)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(source) => Err(flarego_storage::Error::ObjectStore {
            path: MANIFEST_PATH.into(),
            source,
        }
        .into()),
    }
}
