//! The manifest: which Parquet files make up the cold tier, and which WAL
//! records they already hold.
//!
//! Stored as a log of deltas with checkpoints ([`crate::manifest_log`]).
//! A checkpoint is this struct in a versioned serde enum
//! ([`ManifestVersion`]); format 1 kept it whole at [`MANIFEST_PATH`],
//! replaced in place, and is read only to migrate it.

use crate::error::{Error, Result};
use crate::ids::{Lsn, WindowStart};
use object_store::{ObjectStore, ObjectStoreExt, path::Path};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where format 1 kept the manifest.
pub const MANIFEST_PATH: &str = crate::format::FORMAT1_MANIFEST;

/// What a cold file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    Samples,
    Stacks,
    Metrics,
}

/// One Parquet file of the cold tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path in the object store.
    pub path: String,
    pub kind: FileKind,
    /// Tenant of every row (none for stacks files, which are shared).
    pub tenant: Option<String>,
    /// Earliest and latest `time` of its rows, ns (0 for stacks files).
    pub min_time_ns: i64,
    pub max_time_ns: i64,
    pub rows: u64,
    pub bytes: u64,
    /// For a rollup file: its step (ns). `None` for raw files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_ns: Option<i64>,
    /// For a raw samples file: the rollup files holding its rows summed
    /// per step, every step complete (see [`crate::rollup`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollups: Vec<RollupRef>,
    /// The raw file went at the end of its retention; the entry stays
    /// for its rollups, which are kept longer (`--rollup-retention`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub raw_expired: bool,
}

/// One rollup file of a raw file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollupRef {
    pub step_ns: i64,
    pub path: String,
}

impl FileEntry {
    /// A raw file entry (no rollups yet).
    pub fn raw(
        path: String,
        kind: FileKind,
        tenant: Option<String>,
        (min_time_ns, max_time_ns): (i64, i64),
        rows: u64,
        bytes: u64,
    ) -> Self {
        FileEntry {
            path,
            kind,
            tenant,
            min_time_ns,
            max_time_ns,
            rows,
            bytes,
            step_ns: None,
            rollups: Vec::new(),
            raw_expired: false,
        }
    }

    /// Whether this is a rollup file.
    pub fn is_rollup(&self) -> bool {
        self.step_ns.is_some()
    }

    /// Whether this entry's raw rows can be read: a raw file whose
    /// rows are still kept.
    pub fn is_raw(&self) -> bool {
        self.step_ns.is_none() && !self.raw_expired
    }

    /// The rollup steps this file has, finest first.
    pub fn rollup_steps(&self) -> Vec<i64> {
        let mut steps: Vec<i64> = self.rollups.iter().map(|r| r.step_ns).collect();
        steps.sort_unstable();
        steps.dedup();
        steps
    }
}

/// Version 1 of the manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Bumped on every change.
    pub generation: u64,
    pub files: Vec<FileEntry>,
    /// For each persisted window: every WAL record with an LSN up to this
    /// one that touched the window is in the cold tier. Replay skips those.
    #[serde(with = "window_pairs")]
    pub persisted_through: BTreeMap<i64, u64>,
    /// Highest stored sequence number per numbered source, as of this
    /// version (see [`crate::sequences`]). Absent in older manifests.
    #[serde(default)]
    pub sequences: BTreeMap<String, crate::sequences::SequenceMark>,
    /// The window length (ns) rows were filed under when this version was
    /// written; a server started with another length finishes the old
    /// windows first. Absent in older manifests.
    #[serde(default)]
    pub window_ns: Option<i64>,
}

/// Serializes `window → lsn` as `[[window, lsn], ...]`: JSON object keys
/// would be strings, which a tagged enum cannot read back as integers.
pub(crate) mod window_pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<S: Serializer>(m: &BTreeMap<i64, u64>, s: S) -> Result<S::Ok, S::Error> {
        let pairs: Vec<(i64, u64)> = m.iter().map(|(k, v)| (*k, *v)).collect();
        pairs.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<i64, u64>, D::Error> {
        Ok(Vec::<(i64, u64)>::deserialize(d)?.into_iter().collect())
    }
}

/// The manifest as stored, tagged with its format version.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "version")]
pub enum ManifestVersion {
    /// Format 1: the whole manifest at [`MANIFEST_PATH`], replaced in place.
    #[serde(rename = "1")]
    V1(Manifest),
    /// Format 2: a checkpoint of the manifest log ([`crate::manifest_log`]).
    #[serde(rename = "2")]
    V2(Manifest),
}

impl Manifest {
    /// Whether the WAL record `lsn` touching `window` is already cold.
    pub fn is_persisted(&self, window: WindowStart, lsn: Lsn) -> bool {
        self.persisted_through
            .get(&window.0)
            .is_some_and(|through| lsn.0 <= *through)
    }

    /// Raw files of `kind` whose rows are kept, optionally only those of
    /// one tenant.
    pub fn files_of<'a>(
        &'a self,
        kind: FileKind,
        tenant: Option<&'a str>,
    ) -> impl Iterator<Item = &'a FileEntry> + 'a {
        self.entries_of(kind, tenant).filter(|f| !f.raw_expired)
    }

    /// Raw file entries of `kind`, with those whose rows expired and only
    /// their rollups remain, optionally only those of one tenant.
    pub fn entries_of<'a>(
        &'a self,
        kind: FileKind,
        tenant: Option<&'a str>,
    ) -> impl Iterator<Item = &'a FileEntry> + 'a {
        self.files.iter().filter(move |f| {
            f.kind == kind
                && !f.is_rollup()
                && tenant.is_none_or(|t| f.tenant.as_deref() == Some(t))
        })
    }

    /// Rollup files by path.
    pub fn rollups_by_path(&self) -> std::collections::HashMap<&str, &FileEntry> {
        self.files
            .iter()
            .filter(|f| f.is_rollup())
            .map(|f| (f.path.as_str(), f))
            .collect()
    }

    /// Reads a format-1 manifest, or `None` if there is none.
    pub async fn load_format1(store: &dyn ObjectStore) -> Result<Option<Manifest>> {
        let path = Path::from(MANIFEST_PATH);
        let bytes = match store.get(&path).await {
            Ok(r) => r.bytes().await.map_err(|source| Error::ObjectStore {
                path: MANIFEST_PATH.into(),
                source,
            })?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(source) => {
                return Err(Error::ObjectStore {
                    path: MANIFEST_PATH.into(),
                    source,
                });
            }
        };
        let v: ManifestVersion = serde_json::from_slice(&bytes).map_err(|e| Error::Manifest {
            path: MANIFEST_PATH.into(),
            reason: e.to_string(),
        })?;
        match v {
            ManifestVersion::V1(m) => Ok(Some(m)),
            ManifestVersion::V2(_) => Err(Error::Manifest {
                path: MANIFEST_PATH.into(),
                reason: "a format-2 checkpoint where the format-1 manifest belongs".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_through_json() {
        let mut m = Manifest {
            generation: 3,
            ..Default::default()
        };
        m.persisted_through.insert(1_795_635_567_000_000_000, 42);
        m.files.push(FileEntry::raw(
            "stacks/stacks-0000000003.parquet".into(),
            FileKind::Stacks,
            None,
            (0, 0),
            1,
            10,
        ));
        let json = serde_json::to_vec(&ManifestVersion::V2(m.clone())).unwrap();
        let ManifestVersion::V2(back) = serde_json::from_slice(&json).unwrap() else {
            panic!("not read back as format 2");
        };
        assert_eq!(back, m);
        assert!(back.is_persisted(WindowStart(1_795_635_567_000_000_000), Lsn(42)));
        assert!(!back.is_persisted(WindowStart(1_795_635_567_000_000_000), Lsn(43)));
    }
}
