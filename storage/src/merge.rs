//! Merging small files: once an hour is over, the samples (and metrics)
//! files a tenant got for it, one per compaction, are rewritten as one
//! file sorted as a fresh compaction would sort it. The manifest swaps the
//! old files for the new one in a single version, so a reader sees either
//! the old files or the new one, never both. The old files are deleted
//! once no query still reads the version that lists them (at once when
//! none does); see [`PublishedManifest`].

use crate::compact::write_parquet;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::manifest::{FileEntry, FileKind, Manifest};
use crate::paths::{ColdPath, hour_start};
use crate::published::PublishedManifest;
use crate::schema;
use arrow::array::RecordBatch;
use arrow::compute::{SortColumn, concat_batches, lexsort_to_indices, take_record_batch};
use object_store::{ObjectStoreExt, path::Path};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const HOUR_NS: i64 = 3_600_000_000_000;

/// Merges the files of closed hours (every hour when `force`). Returns
/// how many groups were merged.
pub(crate) async fn merge_hours(engine: &Engine, force: bool) -> Result<usize> {
    let cfg = engine.config();
    let now = crate::engine::now_ns();
    let settle = engine.window_ns() + cfg.hot_retention.as_nanos().min(i64::MAX as u128) as i64;
    let manifest = engine.read_state().manifest.clone();
    let mut groups: BTreeMap<(FileKind, String, i64), Vec<FileEntry>> = BTreeMap::new();
    for f in &manifest.files {
        if f.kind == FileKind::Stacks {
            continue;
        }
        let hour = hour_start(f.min_time_ns);
        let closed = hour.saturating_add(HOUR_NS).saturating_add(settle) <= now;
        if (force || closed) && hour_start(f.max_time_ns) == hour {
            groups
                .entry((f.kind, f.tenant.clone().unwrap_or_default(), hour))
                .or_default()
                .push(f.clone());
        }
    }
    // Hold no version while merging: a replaced file is deleted as soon as
    // no reader holds the version that lists it.
    drop(manifest);
    // A group still receiving files (late data, backfill) waits until a
    // whole tick passes without a new file, so an hour is not rewritten
    // on every compaction.
    let settled: Vec<_> = {
        let mut seen = match engine.inner.merge_seen.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let mut now_seen = HashMap::new();
        let mut ready = Vec::new();
        for (key, files) in groups {
            if files.len() < 2 {
                continue;
            }
            let stable = seen.get(&key) == Some(&files.len());
            now_seen.insert(key.clone(), files.len());
            if force || stable {
                ready.push((key, files));
            }
        }
        *seen = now_seen;
        ready
    };
    let mut merged = 0;
    for ((kind, tenant, hour), files) in settled {
        merge_group(engine, kind, &tenant, hour, &files).await?;
        merged += 1;
    }
    Ok(merged)
}

async fn merge_group(
    engine: &Engine,
    kind: FileKind,
    tenant: &str,
    hour: i64,
    files: &[FileEntry],
) -> Result<()> {
    let store = engine.store();
    let mut batches = Vec::new();
    for f in files {
        batches.extend(read_file(store.as_ref(), &f.path).await?);
    }
    let schema = match kind {
        FileKind::Metrics => schema::metrics_schema(),
        _ => schema::samples_schema(),
    };
    let all = concat_batches(&schema, &batches)?;
    let keys: &[&str] = match kind {
        FileKind::Metrics => &["service", "instance", "name", "time"],
        _ => &[
            "service",
            "instance",
            "profile_type",
            "unit",
            "state",
            "stack_id",
            "time",
        ],
    };
    let sort: Vec<SortColumn> = keys
        .iter()
        .filter_map(|k| all.column_by_name(k))
        .map(|c| {
            // Sort dictionary columns by their strings.
            let values = match c.data_type() {
                arrow::datatypes::DataType::Dictionary(_, v) => arrow::compute::cast(c, v),
                _ => Ok(c.clone()),
            };
            values.map(|values| SortColumn {
                values,
                options: None,
            })
        })
        .collect::<std::result::Result<_, _>>()?;
    let sorted = if all.num_rows() > 0 {
        let idx = lexsort_to_indices(&sort, None)?;
        take_record_batch(&all, &idx)?
    } else {
        all
    };

    // Publish: one manifest version drops the old files and adds the new.
    let _guard = engine.inner.compaction.lock().await;
    let manifest = engine.read_state().manifest.clone();
    if !files.iter().all(|f| manifest.files.contains(f)) {
        return Ok(()); // changed meanwhile; try again next time
    }
    let generation = manifest.generation + 1;
    let path = ColdPath::Partitioned {
        tenant: tenant.to_string(),
        hour_start_ns: hour,
        kind,
        first_window_ns: files.iter().map(|f| f.min_time_ns).min().unwrap_or(hour),
        generation,
    };
    let bytes = write_parquet(store.as_ref(), &path, &sorted).await?;
    let mut next = Manifest::clone(&manifest);
    drop(manifest);
    next.generation = generation;
    next.files.retain(|f| !files.contains(f));
    next.files.push(FileEntry {
        path: path.to_string(),
        kind,
        tenant: Some(tenant.to_string()),
        min_time_ns: files.iter().map(|f| f.min_time_ns).min().unwrap_or(0),
        max_time_ns: files.iter().map(|f| f.max_time_ns).max().unwrap_or(0),
        rows: sorted.num_rows() as u64,
        bytes,
    });
    engine.sync_cold(&[path.to_string().as_str()])?;
    next.store(store.as_ref()).await?;
    engine.sync_cold(&[crate::manifest::MANIFEST_PATH])?;
    let published = Arc::new(PublishedManifest::new(next, store.clone()));
    let old = std::mem::replace(&mut engine.write_state().manifest, published);
    let replaced = files.iter().map(|f| f.path.clone()).collect();
    match Arc::try_unwrap(old) {
        // No query reads the old version: delete now.
        Ok(old) => {
            old.retire(replaced);
            old.delete_retired().await;
        }
        // Queries still read it: the last one to finish deletes.
        Err(shared) => shared.retire(replaced),
    }
    tracing::info!(
        tenant,
        hour,
        files = files.len(),
        rows = sorted.num_rows(),
        bytes,
        "merged small files"
    );
    Ok(())
}

async fn read_file(store: &dyn object_store::ObjectStore, path: &str) -> Result<Vec<RecordBatch>> {
    let oerr = |source| Error::ObjectStore {
        path: path.to_string(),
        source,
    };
    let perr = |source| Error::Parquet {
        path: path.to_string(),
        source,
    };
    let bytes = store
        .get(&Path::from(path))
        .await
        .map_err(oerr)?
        .bytes()
        .await
        .map_err(oerr)?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(perr)?
        .build()
        .map_err(perr)?;
    Ok(reader.collect::<std::result::Result<Vec<_>, _>>()?)
}
