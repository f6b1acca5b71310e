//! Named snapshots: `.fgo` documents imported (or saved) by a tenant,
//! kept in the cold tier's object store and served back unchanged.
//!
//! Each snapshot is two objects under its tenant's folder, written once
//! and never rewritten, so several servers can share a bucket:
//! `snapshots/tenant=<t>/<id>.fgo` (the document, gzipped, exactly as
//! imported) and `snapshots/tenant=<t>/<id>.meta.json` (what a listing
//! shows). Ids are 16 random hex digits.

use crate::read::export::fgo::{Fgo, rfc3339};
use crate::read::export::gzip;
use flarego_storage::TenantId;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::sync::Arc;

const ROOT: &str = "snapshots";

/// What a listing shows of a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SnapshotMeta {
    pub id: String,
    pub tenant: String,
    pub name: String,
    /// RFC 3339, when it was stored.
    pub stored: String,
    pub profile_type: String,
    pub unit: String,
    pub total: i64,
    /// `export` or `pprof` (the document's provenance).
    pub source: String,
    /// Size of the document, uncompressed.
    pub bytes: u64,
}

/// Why a snapshot operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("no snapshot {0}")]
    NotFound(String),
    #[error("invalid snapshot id {0:?}: ids are 16 hex digits")]
    BadId(String),
    #[error("snapshot store: {0}")]
    Store(#[from] object_store::Error),
    #[error("snapshot {id} is damaged: {reason}")]
    Damaged { id: String, reason: String },
}

/// The snapshots of every tenant in one object store.
#[derive(Debug, Clone)]
pub struct Snapshots {
    store: Arc<dyn ObjectStore>,
}

fn folder(tenant: &str) -> String {
    format!("{ROOT}/tenant={tenant}")
}

fn check_id(id: &str) -> Result<(), SnapshotError> {
    if id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(SnapshotError::BadId(id.to_string()))
    }
}

impl Snapshots {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Snapshots { store }
    }

    /// Stores `json` (the document `doc` was parsed from) for `tenant`.
    pub async fn save(
        &self,
        tenant: &TenantId,
        name: &str,
        doc: &Fgo,
        json: &[u8],
    ) -> Result<SnapshotMeta, SnapshotError> {
        let id = format!("{:016x}", rand::random::<u64>());
        let meta = SnapshotMeta {
            id: id.clone(),
            tenant: tenant.as_str().to_string(),
            name: name.to_string(),
            stored: rfc3339(chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)),
            profile_type: doc.profile_type.clone(),
            unit: doc.unit.clone(),
            total: doc.total,
            source: doc.provenance.source.clone(),
            bytes: json.len() as u64,
        };
        let dir = folder(tenant.as_str());
        let body = flarego_storage::blocking(|| gzip(json));
        self.store
            .put(
                &Path::from(format!("{dir}/{id}.fgo")),
                PutPayload::from(body),
            )
            .await?;
        let m = serde_json::to_vec(&meta).unwrap_or_default();
        self.store
            .put(
                &Path::from(format!("{dir}/{id}.meta.json")),
                PutPayload::from(m),
            )
            .await?;
        Ok(meta)
    }

    /// Snapshots of `tenant` (of all tenants for `None`), newest first.
    pub async fn list(
        &self,
        tenant: Option<&TenantId>,
    ) -> Result<Vec<SnapshotMeta>, SnapshotError> {
        let prefix = match tenant {
            Some(t) => Path::from(folder(t.as_str())),
            None => Path::from(ROOT),
        };
        let objects: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        let mut out = Vec::new();
        for o in objects {
            if !o.location.as_ref().ends_with(".meta.json") {
                continue;
            }
            let bytes = self.store.get(&o.location).await?.bytes().await?;
            match serde_json::from_slice::<SnapshotMeta>(&bytes) {
                Ok(m) => out.push(m),
                Err(e) => {
                    tracing::warn!(path = %o.location, error = %e, "unreadable snapshot listing entry")
                }
            }
        }
        out.sort_by(|a, b| b.stored.cmp(&a.stored).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// The listing entry of snapshot `id`, if `tenant` may see it.
    async fn find(
        &self,
        tenant: Option<&TenantId>,
        id: &str,
    ) -> Result<SnapshotMeta, SnapshotError> {
        check_id(id)?;
        if let Some(t) = tenant {
            let path = Path::from(format!("{}/{id}.meta.json", folder(t.as_str())));
            let bytes = match self.store.get(&path).await {
                Ok(r) => r.bytes().await?,
                Err(object_store::Error::NotFound { .. }) => {
                    return Err(SnapshotError::NotFound(id.to_string()));
                }
                Err(e) => return Err(e.into()),
            };
            return serde_json::from_slice(&bytes).map_err(|e| SnapshotError::Damaged {
                id: id.to_string(),
                reason: e.to_string(),
            });
        }
        self.list(None)
            .await?
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| SnapshotError::NotFound(id.to_string()))
    }

    /// Snapshot `id`: its listing entry and its document's JSON, as stored.
    pub async fn get(
        &self,
        tenant: Option<&TenantId>,
        id: &str,
    ) -> Result<(SnapshotMeta, Vec<u8>), SnapshotError> {
        let meta = self.find(tenant, id).await?;
        let path = Path::from(format!("{}/{id}.fgo", folder(&meta.tenant)));
        let gz = match self.store.get(&path).await {
            Ok(r) => r.bytes().await?,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(SnapshotError::NotFound(id.to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        let json = flarego_storage::blocking(|| {
            let mut out = Vec::with_capacity(meta.bytes as usize);
            flate2::read::GzDecoder::new(&gz[..])
                .take(meta.bytes.saturating_add(1))
                .read_to_end(&mut out)
                .map(|_| out)
        })
        .map_err(|e| SnapshotError::Damaged {
            id: id.to_string(),
            reason: e.to_string(),
        })?;
        Ok((meta, json))
    }

    /// Deletes snapshot `id`.
    pub async fn delete(&self, tenant: Option<&TenantId>, id: &str) -> Result<(), SnapshotError> {
        let meta = self.find(tenant, id).await?;
        let dir = folder(&meta.tenant);
        // The listing entry first: a half-deleted snapshot is not listed.
        self.store
            .delete(&Path::from(format!("{dir}/{id}.meta.json")))
            .await?;
        match self
            .store
            .delete(&Path::from(format!("{dir}/{id}.fgo")))
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::export::fgo::SelectionDoc;
    use crate::read::stacks::StackValues;

    #[tokio::test]
    async fn stored_per_tenant_and_served_back_unchanged() {
        let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let snaps = Snapshots::new(store);
        let doc = Fgo::from_stacks(
            &StackValues {
                unit: "count".into(),
                stacks: vec![(vec![Arc::from("main")], 3)],
            },
            "goroutine",
            SelectionDoc {
                query: "{}".into(),
                from: rfc3339(0),
                to: rfc3339(1),
                focus: None,
                ignore: None,
                hide: None,
            },
            "export",
        );
        // Spacing the parser would not keep: stored as sent.
        let json = format!("  {}\n", serde_json::to_string(&doc).unwrap()).into_bytes();
        let (a, b) = (TenantId("a".into()), TenantId("b".into()));
        let m = snaps.save(&a, "incident 42", &doc, &json).await.unwrap();
        assert_eq!((m.total, m.profile_type.as_str()), (3, "goroutine"));
        let (meta, back) = snaps.get(Some(&a), &m.id).await.unwrap();
        assert_eq!((meta, back), (m.clone(), json.clone()));
        assert!(matches!(
            snaps.get(Some(&b), &m.id).await,
            Err(SnapshotError::NotFound(_))
        ));
        assert_eq!(snaps.list(Some(&b)).await.unwrap(), vec![]);
        assert_eq!(snaps.list(None).await.unwrap(), vec![m.clone()]);
        assert!(matches!(
            snaps.get(None, "../x").await,
            Err(SnapshotError::BadId(_))
        ));
        snaps.delete(None, &m.id).await.unwrap();
        assert_eq!(snaps.list(Some(&a)).await.unwrap(), vec![]);
    }
}
