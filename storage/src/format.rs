//! The format version of the cold store (manifest layout, file schema,
//! WAL record format), recorded as `_flarego/format/<NNNN>.json`: one
//! object per version reached, each created once and never rewritten.
//!
//! ```text
//! Engine::open ──▶ check(): fresh store → record CURRENT
//!                           CURRENT     → go on
//!                           older       → refuse: migrate first
//!                           newer       → refuse: newer server wrote it
//! flarego-migrations ──▶ detect() ──▶ steps ──▶ record(version)
//! ```

use crate::error::{Error, Result};
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, path::Path};

/// The format this build writes and reads.
pub const CURRENT: u32 = 3;

const DIR: &str = "_flarego/format";
/// Where format 1 kept its (single, replaced-in-place) manifest.
pub const FORMAT1_MANIFEST: &str = "_manifest/manifest.json";

/// The store's format: the highest recorded version; 1 for a store of
/// format 1 (which recorded none, but has its manifest file or a WAL);
/// 0 for a fresh one.
pub async fn detect(store: &dyn ObjectStore, wal_dir: &std::path::Path) -> Result<u32> {
    let recorded = crate::store::numbered_json(store, &Path::from(DIR))
        .await?
        .last()
        .map(|v| u32::try_from(*v).unwrap_or(u32::MAX));
    if let Some(v) = recorded {
        return Ok(v);
    }
    match store.head(&Path::from(FORMAT1_MANIFEST)).await {
        Ok(_) => return Ok(1),
        Err(object_store::Error::NotFound { .. }) => {}
        Err(source) => {
            return Err(Error::ObjectStore {
                path: FORMAT1_MANIFEST.into(),
                source,
            });
        }
    }
    let wal_has_segments = std::fs::read_dir(wal_dir)
        .map(|d| {
            d.flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "wal"))
        })
        .unwrap_or(false);
    Ok(if wal_has_segments { 1 } else { 0 })
}

/// Records that the store is now of format `version`.
pub async fn record(store: &dyn ObjectStore, version: u32) -> Result<()> {
    let path = Path::from(format!("{DIR}/{version:04}.json"));
    let body = format!("{{\"format\":{version}}}\n");
    let opts = PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    match store.put_opts(&path, PutPayload::from(body), opts).await {
        Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
        Err(source) => Err(Error::ObjectStore {
            path: path.to_string(),
            source,
        }),
    }
}

/// Opens only a store of the current format (recording it on a fresh one).
pub async fn check(store: &dyn ObjectStore, wal_dir: &std::path::Path) -> Result<()> {
    match detect(store, wal_dir).await? {
        0 => record(store, CURRENT).await,
        CURRENT => Ok(()),
        v if v < CURRENT => Err(Error::Format(format!(
            "the data is of format {v}; this server reads format {CURRENT}. `flarego admin migrate --dry-run` shows the upgrade, `flarego admin migrate` (or starting `flarego server`) runs it"
        ))),
        v => Err(Error::Format(format!(
            "the data is of format {v}, written by a newer FlareGo; this server reads format {CURRENT} and does not downgrade"
        ))),
    }
}
