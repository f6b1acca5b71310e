//! Checks a manifest against its store: files it lists that are missing
//! or unreadable (a Parquet footer that does not parse, a size that
//! differs), and Parquet objects it does not list (orphans). Read only.

use crate::manifest::Manifest;
use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt, path::Path};
use parquet::file::metadata::ParquetMetaDataReader;
use std::collections::HashSet;

/// What [`verify`] found.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct VerifyReport {
    pub listed: usize,
    pub missing: Vec<String>,
    /// Path and why it cannot be read.
    pub unreadable: Vec<(String, String)>,
    /// Parquet objects under the store that no manifest entry lists.
    pub orphaned: Vec<String>,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.unreadable.is_empty() && self.orphaned.is_empty()
    }
}

/// Reads every listed file's footer and lists the store.
pub async fn verify(store: &dyn ObjectStore, manifest: &Manifest) -> crate::Result<VerifyReport> {
    // An entry whose raw rows expired lists only its rollups.
    let objects = || manifest.files.iter().filter(|f| !f.raw_expired);
    let mut report = VerifyReport {
        listed: objects().count(),
        ..Default::default()
    };
    for f in objects() {
        let path = Path::from(f.path.as_str());
        let bytes = match store.get(&path).await {
            Ok(r) => match r.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    report.unreadable.push((f.path.clone(), e.to_string()));
                    continue;
                }
            },
            Err(object_store::Error::NotFound { .. }) => {
                report.missing.push(f.path.clone());
                continue;
            }
            Err(e) => {
                report.unreadable.push((f.path.clone(), e.to_string()));
                continue;
            }
        };
        if bytes.len() as u64 != f.bytes {
            report.unreadable.push((
                f.path.clone(),
                format!("{} bytes where the manifest says {}", bytes.len(), f.bytes),
            ));
            continue;
        }
        if let Err(e) = ParquetMetaDataReader::new().parse_and_finish(&bytes) {
            report.unreadable.push((f.path.clone(), e.to_string()));
        }
    }
    report.orphaned = unlisted_parquet(store, manifest)
        .await?
        .into_iter()
        .map(|p| p.to_string())
        .collect();
    report.orphaned.sort();
    Ok(report)
}

/// Parquet objects in the store that `manifest` does not list.
pub async fn unlisted_parquet(
    store: &dyn ObjectStore,
    manifest: &Manifest,
) -> crate::Result<Vec<Path>> {
    let listed: HashSet<&str> = manifest
        .files
        .iter()
        .filter(|f| !f.raw_expired)
        .map(|f| f.path.as_str())
        .collect();
    let objects: Vec<_> =
        store
            .list(None)
            .try_collect()
            .await
            .map_err(|source| crate::Error::ObjectStore {
                path: "/".into(),
                source,
            })?;
    Ok(objects
        .into_iter()
        .map(|o| o.location)
        .filter(|p| {
            let s = p.as_ref();
            s.ends_with(".parquet") && !listed.contains(s)
        })
        .collect())
}
