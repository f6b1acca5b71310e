//! Merging small files, without holding their rows in memory.
//!
//! Once an hour is over, the samples (and metrics) files a tenant got for
//! it, one per compaction, are merged into one file sorted as a fresh
//! compaction sorts (series, then stack, then time); and once there are
//! more than [`STACKS_FILES_MAX`] stacks files, they are merged into one
//! (each stack once, by id). Both are a streaming k-way merge
//! ([`crate::kway`]) of the already-sorted inputs: a merge holds one batch
//! per input and the compressed output, never the decoded hour. The
//! merge itself runs on a thread of its own at nice 10
//! ([`crate::supervise::background`]): queries and ingest go first.
//!
//! Samples merges also write the hour's 1 m or the day's 1 h rollup from
//! the same stream ([`crate::rollup`]); an hour left with one file that
//! has no rollup yet is only rolled up.
//!
//! The manifest swaps the old files for the new one in a single version,
//! so a reader sees either the old files or the new one, never both. The
//! old files are deleted once no query still reads the version that lists
//! them (at once when none does); see [`PublishedManifest`].

use crate::compact::{put, writer_properties};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::kway::{SortedInput, merge_sorted};
use crate::manifest::{FileEntry, FileKind, Manifest};
use crate::merge_order::{HOUR_KEY, hour_of, split_by_hour, with_hour};
use crate::paths::{ColdPath, hour_start};
use crate::rollup::{self, RollupFile, RollupWriter};
use crate::schema;
use crate::series_index;
use arrow::datatypes::SchemaRef;
use object_store::{ObjectStoreExt, path::Path};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::properties::WriterProperties;
use std::collections::{BTreeMap, HashMap};

const HOUR_NS: i64 = 3_600_000_000_000;
/// Stacks files are merged into one when there are more than this.
pub const STACKS_FILES_MAX: usize = 16;
/// Rows per batch read and written while merging (and per row group: 128 Ki).
const MERGE_BATCH_ROWS: usize = 8192;
const MERGE_ROW_GROUP_ROWS: usize = 128 * 1024;

/// The order rows of each kind of file are kept in.
fn sort_keys(kind: FileKind) -> &'static [&'static str] {
    match kind {
        FileKind::Metrics => &["service", "instance", "name", "labels", "time"],
        FileKind::Samples => &[
            "service",
            "instance",
            "profile_type",
            "unit",
            "state",
            "labels",
            "stack_id",
            "time",
        ],
        FileKind::Stacks => &["stack_id"],
    }
}

fn schema_of(kind: FileKind) -> SchemaRef {
    match kind {
        FileKind::Metrics => schema::metrics_schema(),
        FileKind::Samples => schema::samples_schema(),
        FileKind::Stacks => schema::stacks_schema(),
    }
}

/// How much time a merged file covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Level {
    Hour,
    Day,
}

/// A group of files merged together: kind, tenant, start of the hour or
/// day, and which of the two.
pub(crate) type GroupKey = (FileKind, String, i64, Level);

const DAY_NS: i64 = 24 * HOUR_NS;

fn day_start(time_ns: i64) -> i64 {
    time_ns.div_euclid(DAY_NS) * DAY_NS
}

/// Merges the files of closed hours (every hour when `force`) into one
/// per tenant and hour; then, once a day is over and its hours are
/// merged, that day's files into one per tenant; and the stacks files
/// when there are too many. Returns how many groups were merged.
pub(crate) async fn merge_hours(engine: &Engine, force: bool) -> Result<usize> {
    let r = merge_due(engine, force).await;
    if let Err(e) = &r {
        engine.note_failure(e);
    }
    r
}

async fn merge_due(engine: &Engine, force: bool) -> Result<usize> {
    let cfg = engine.config();
    let now = crate::engine::now_ns();
    let settle = engine.window_ns() + cfg.hot_retention.as_nanos().min(i64::MAX as u128) as i64;
    let manifest = engine.read_state().manifest.clone();
    let mut groups: BTreeMap<GroupKey, Vec<FileEntry>> = BTreeMap::new();
    let mut stacks = Vec::new();
    for f in &manifest.files {
        if f.kind == FileKind::Stacks {
            stacks.push(f.clone());
            continue;
        }
        if !f.is_raw() {
            continue; // rollups follow their raw files
        }
        let tenant = f.tenant.clone().unwrap_or_default();
        let hour = hour_start(f.min_time_ns);
        let closed = hour.saturating_add(HOUR_NS).saturating_add(settle) <= now;
        if (force || closed) && hour_start(f.max_time_ns) == hour {
            groups
                .entry((f.kind, tenant.clone(), hour, Level::Hour))
                .or_default()
                .push(f.clone());
        }
        let day = day_start(f.min_time_ns);
        let day_closed = day.saturating_add(DAY_NS).saturating_add(settle) <= now;
        if day_closed && day_start(f.max_time_ns) == day {
            groups
                .entry((f.kind, tenant, day, Level::Day))
                .or_default()
                .push(f.clone());
        }
    }
    // Hold no version while merging: a replaced file is deleted as soon as
    // no reader holds the version that lists it.
    drop(manifest);
    // A day waits until none of its hours has files left to merge.
    let hours_pending: std::collections::HashSet<(FileKind, String, i64)> = groups
        .iter()
        .filter(|(key, files)| key.3 == Level::Hour && due(key, files))
        .map(|((kind, tenant, hour, _), _)| (*kind, tenant.clone(), day_start(*hour)))
        .collect();
    groups.retain(|(kind, tenant, day, level), _| {
        *level == Level::Hour || !hours_pending.contains(&(*kind, tenant.clone(), *day))
    });
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
            if !due(&key, &files) {
                continue;
            }
            let stable = seen.get(&key) == Some(&files.len());
            now_seen.insert(key.clone(), files.len());
            if (force && key.3 == Level::Hour) || stable {
                ready.push((key, files));
            }
        }
        *seen = now_seen;
        ready
    };
    let mut merged = 0;
    for ((kind, tenant, start, level), files) in settled {
        merge_group(engine, kind, Some((&tenant, start, level)), &files).await?;
        merged += 1;
    }
    if stacks.len() > STACKS_FILES_MAX || (force && stacks.len() > 1) {
        merge_group(engine, FileKind::Stacks, None, &stacks).await?;
        merged += 1;
    }
    Ok(merged)
}

/// Whether a group has work: files to merge into one, or (an hour of
/// samples) a file without its 1 m rollup.
fn due(key: &GroupKey, files: &[FileEntry]) -> bool {
    let (kind, _, _, level) = key;
    files.len() >= 2
        || (*kind == FileKind::Samples
            && *level == Level::Hour
            && files
                .iter()
                .any(|f| !f.rollup_steps().contains(&rollup::MINUTE_NS)))
}

/// What one merge writes: the merged file (unless one input is only
/// rolled up) and the rollup.
struct Merged {
    raw: Option<(Vec<u8>, u64)>,
    rollup: Option<RollupFile>,
}

/// Merges `files` (of one tenant and hour or day, or stacks files when
/// `at` is `None`) into one and publishes it in their place; for samples
/// also writes the rollup of the hour (1 m) or day (1 h) from the same
/// stream. A lone hour file is only rolled up.
async fn merge_group(
    engine: &Engine,
    kind: FileKind,
    at: Option<(&str, i64, Level)>,
    files: &[FileEntry],
) -> Result<()> {
    let store = engine.store();
    let mut raw = Vec::with_capacity(files.len());
    for f in files {
        raw.push((f.path.clone(), fetch(store.as_ref(), &f.path).await?));
    }
    let step = match (kind, at) {
        (FileKind::Samples, Some((_, _, Level::Hour))) => Some(rollup::MINUTE_NS),
        (FileKind::Samples, Some((_, _, Level::Day))) => Some(rollup::HOUR_NS),
        _ => None,
    };
    let write_raw = files.len() >= 2;
    let by_hour = kind == FileKind::Samples && at.is_some_and(|(_, _, l)| l == Level::Day);
    let merged = crate::supervise::background("merge", move || {
        merge_bytes(kind, raw, write_raw, step, by_hour)
    })
    .await??;

    // Publish: one manifest version drops the old files and adds the new.
    let _guard = engine.inner.compaction.lock().await;
    let manifest = engine.read_state().manifest.clone();
    if !files.iter().all(|f| manifest.files.contains(f)) {
        return Ok(()); // changed meanwhile; try again next time
    }
    let generation = manifest.generation + 1;
    let file_number = engine.next_file_number(generation);
    let path_at = |rollup_step_ns: Option<i64>| match at {
        Some((tenant, start, level)) => ColdPath::Partitioned {
            tenant: tenant.to_string(),
            hour_start_ns: start,
            whole_day: level == Level::Day,
            kind,
            first_window_ns: files.iter().map(|f| f.min_time_ns).min().unwrap_or(start),
            generation: file_number,
            node: engine.node_id().to_string(),
            rollup_step_ns,
        },
        None => ColdPath::Stacks {
            generation: file_number,
            node: engine.node_id().to_string(),
        },
    };
    let mut written = Vec::new();
    let mut entry = match merged.raw {
        Some((bytes, rows)) => {
            let path = path_at(None);
            let size = bytes.len() as u64;
            put(store.as_ref(), &path, bytes).await?;
            written.push(path.to_string());
            FileEntry::raw(
                path.to_string(),
                kind,
                at.map(|(t, _, _)| t.to_string()),
                (
                    files.iter().map(|f| f.min_time_ns).min().unwrap_or(0),
                    files.iter().map(|f| f.max_time_ns).max().unwrap_or(0),
                ),
                rows,
                size,
            )
        }
        None => files[0].clone(),
    };
    // Rollups: the inputs' finer ones carry over when every input has
    // them (a day's hours), the rest are replaced.
    let mut kept = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    for r in files.iter().flat_map(|f| &f.rollups) {
        let finer = step.is_some_and(|s| r.step_ns < s);
        let everywhere = files
            .iter()
            .all(|f| f.rollups.iter().any(|o| o.step_ns == r.step_ns));
        if finer && everywhere {
            kept.push(r.clone());
        } else {
            dropped.push(r.path.clone());
        }
    }
    entry.rollups = kept;
    let mut added = Vec::new();
    if let (Some(step), Some(r)) = (step, merged.rollup) {
        let path = path_at(Some(step));
        let size = r.bytes.len() as u64;
        put(store.as_ref(), &path, r.bytes).await?;
        written.push(path.to_string());
        entry.rollups.push(crate::manifest::RollupRef {
            step_ns: step,
            path: path.to_string(),
        });
        let mut f = FileEntry::raw(
            path.to_string(),
            kind,
            entry.tenant.clone(),
            (r.min_time_ns, r.max_time_ns),
            r.rows,
            size,
        );
        f.step_ns = Some(step);
        added.push(f);
    }
    let mut next = Manifest::clone(&manifest);
    next.generation = generation;
    next.files
        .retain(|f| !files.contains(f) && !dropped.contains(&f.path));
    let (rows, size) = (entry.rows, entry.bytes);
    next.files.push(entry);
    next.files.extend(added);
    let synced: Vec<&str> = written.iter().map(String::as_str).collect();
    engine.sync_cold(&synced)?;
    engine.commit_manifest(&manifest, &next).await?;
    drop(manifest);
    let mut replaced: Vec<String> = if write_raw {
        files.iter().map(|f| f.path.clone()).collect()
    } else {
        Vec::new()
    };
    replaced.extend(dropped);
    engine.publish_without(next, replaced).await;
    tracing::info!(
        tenant = at.map(|(t, _, _)| t),
        start = at.map(|(_, s, _)| s),
        level = ?at.map(|(_, _, l)| l),
        ?kind,
        files = files.len(),
        rows,
        bytes = size,
        rollup = step.map(crate::paths::step_label),
        "merged small files"
    );
    Ok(())
}

/// The merged file's bytes and row count (when `write_raw`) and the
/// rollup at `rollup_step`: the inputs read a batch at a time and merged
/// in order into the Parquet writers.
fn merge_bytes(
    kind: FileKind,
    raw: Vec<(String, bytes::Bytes)>,
    write_raw: bool,
    rollup_step: Option<i64>,
    by_hour: bool,
) -> Result<Merged> {
    let schema = schema_of(kind);
    let mut inputs: Vec<SortedInput> = Vec::with_capacity(raw.len());
    let mut footers = Vec::with_capacity(raw.len());
    for (name, bytes) in raw {
        let perr = |source| Error::Parquet {
            path: name.clone(),
            source,
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(perr)?;
        footers.push(series_index::from_footer(
            builder.metadata().file_metadata().key_value_metadata(),
        ));
        let reader = builder
            .with_batch_size(MERGE_BATCH_ROWS)
            .build()
            .map_err(perr)?;
        inputs.push(Box::new(reader.map(|b| b.map_err(Error::from))));
    }
    let perr = |source| Error::Parquet {
        path: format!("merge of {kind:?} files"),
        source,
    };
    // Stacks files are read back by row group (evicted frames): small ones.
    let group_rows = if kind == FileKind::Stacks {
        crate::cold_stacks::STACKS_ROW_GROUP_ROWS
    } else {
        MERGE_ROW_GROUP_ROWS
    };
    // The output lists the inputs' series together (when they all do).
    let footer = series_index::union(&footers)
        .filter(|_| kind != FileKind::Stacks)
        .map(|s| vec![series_index::footer(&s)]);
    let props: WriterProperties = writer_properties()
        .into_builder()
        .set_max_row_group_row_count(Some(group_rows))
        .set_key_value_metadata(footer)
        .build();
    let mut rollup = rollup_step
        .map(|step| RollupWriter::new(step, props.clone()))
        .transpose()?;
    let mut writer = if write_raw {
        Some(ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props)).map_err(perr)?)
    } else {
        None
    };
    let dedupe = kind == FileKind::Stacks;
    let mut keys: Vec<&str> = sort_keys(kind).to_vec();
    let mut merge_schema = schema.clone();
    if by_hour {
        let mut fields: Vec<arrow::datatypes::FieldRef> = schema.fields().iter().cloned().collect();
        fields.push(std::sync::Arc::new(arrow::datatypes::Field::new(
            HOUR_KEY,
            arrow::datatypes::DataType::Int64,
            false,
        )));
        merge_schema = std::sync::Arc::new(arrow::datatypes::Schema::new(fields));
        inputs = inputs
            .into_iter()
            .map(|i| with_hour(i, merge_schema.clone()))
            .collect();
        keys.insert(0, HOUR_KEY);
    }
    let width = schema.fields().len();
    let columns: Vec<usize> = (0..width).collect();
    let mut last_hour: Option<i64> = None;
    let rows = merge_sorted(merge_schema, inputs, &keys, dedupe, MERGE_BATCH_ROWS, |b| {
        // Each hour of a day in row groups of its own.
        let pieces = if by_hour {
            split_by_hour(&b, width)
        } else {
            vec![b]
        };
        for piece in pieces {
            let hour = if by_hour {
                hour_of(&piece, width)
            } else {
                None
            };
            let piece = piece.project(&columns)?;
            if let Some(w) = &mut writer {
                if hour.is_some() && last_hour.is_some() && hour != last_hour {
                    w.flush().map_err(perr)?;
                }
                w.write(&piece).map_err(perr)?;
            }
            last_hour = hour.or(last_hour);
            if let Some(r) = &mut rollup {
                r.push(&piece)?;
            }
        }
        Ok(())
    })?;
    let raw = match writer {
        Some(w) => Some((w.into_inner().map_err(perr)?, rows)),
        None => None,
    };
    let rollup = rollup.map(RollupWriter::finish).transpose()?.flatten();
    Ok(Merged { raw, rollup })
}

async fn fetch(store: &dyn object_store::ObjectStore, path: &str) -> Result<bytes::Bytes> {
    let oerr = |source| Error::ObjectStore {
        path: path.to_string(),
        source,
    };
    store
        .get(&Path::from(path))
        .await
        .map_err(oerr)?
        .bytes()
        .await
        .map_err(oerr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ColdStoreConfig, StorageConfig};
    use crate::ids::{StackId, TenantId};
    use crate::model::{Frames, SeriesKey, SeriesSamples, WriteBatch};
    use arrow::array::AsArray;
    use arrow::datatypes::{Int64Type, UInt64Type};
    use arrow::row::{RowConverter, SortField};
    use std::sync::Arc;

    fn key(service: &str, labels: &[(&str, &str)]) -> SeriesKey {
        SeriesKey {
            tenant: TenantId::default_tenant(),
            service: service.into(),
            instance: String::new(),
            profile_type: "cpu".into(),
            unit: "nanoseconds".into(),
            state: None,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[tokio::test]
    async fn merged_hours_and_stacks_keep_every_row_in_the_compaction_order() {
        let dir = tempfile::tempdir().unwrap();
        let config = StorageConfig {
            data_dir: dir.path().to_path_buf(),
            cold: ColdStoreConfig::InMemory,
            ..Default::default()
        };
        let engine = Engine::open(config, Arc::new(|_, _| Err("no replay".into())))
            .await
            .unwrap();
        let hour = 1_700_000_000_000_000_000i64 / HOUR_NS * HOUR_NS;
        let mut expected = 0i64;
        // 20 compactions, each a window with several series and stacks.
        for w in 0..20i64 {
            let mut batch = WriteBatch::default();
            for s in 0..3 {
                let frames: Frames = vec![
                    Arc::<str>::from("main"),
                    Arc::from(format!("f{}", (w + s) % 7)),
                ]
                .into();
                let id = StackId::of_frames(&frames);
                batch.stacks.push((id, frames));
                for svc in ["b", "a"] {
                    for labels in [&[("env", "z")][..], &[("env", "a"), ("pod", "1")], &[]] {
                        batch.series.push(SeriesSamples {
                            time_ns: hour + w * 10_000_000_000,
                            key: key(svc, labels),
                            samples: vec![(id, w + 1)],
                        });
                        expected += w + 1;
                    }
                }
            }
            batch.stacks.dedup_by_key(|(id, _)| *id);
            engine.write(vec![], batch).await.unwrap();
            engine.flush().await.unwrap();
        }
        let before = engine.read_state().manifest.files.len();
        assert!(before > 20, "{before} files");
        let merged = engine.merge_small_files(true).await.unwrap();
        assert_eq!(merged, 2, "the hour and the stacks files");
        let manifest = engine.read_state().manifest.clone();
        let kinds: Vec<FileKind> = manifest.files.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds.len(),
            3,
            "the hour, its 1 m rollup, the stacks: {kinds:?}"
        );
        let hour_file = manifest.files_of(FileKind::Samples, None).next().unwrap();
        assert_eq!(hour_file.rollup_steps(), vec![rollup::MINUTE_NS]);
        for f in manifest.files.iter() {
            let bytes = fetch(engine.store().as_ref(), &f.path).await.unwrap();
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
                .unwrap()
                .build()
                .unwrap();
            let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
            let schema = schema_of(f.kind);
            let all = arrow::compute::concat_batches(&schema, &batches).unwrap();
            // Sorted by the kind's keys, strictly so for stacks (deduplicated).
            let idx: Vec<usize> = sort_keys(f.kind)
                .iter()
                .map(|k| schema.index_of(k).unwrap())
                .collect();
            let conv = RowConverter::new(
                idx.iter()
                    .map(|i| SortField::new(schema.field(*i).data_type().clone()))
                    .collect(),
            )
            .unwrap();
            let cols: Vec<_> = idx.iter().map(|i| all.column(*i).clone()).collect();
            let rows = conv.convert_columns(&cols).unwrap();
            for i in 1..rows.num_rows() {
                if f.kind == FileKind::Stacks {
                    assert!(rows.row(i - 1) < rows.row(i), "stacks row {i}");
                } else {
                    assert!(rows.row(i - 1) <= rows.row(i), "samples row {i}");
                }
            }
            match f.kind {
                FileKind::Samples if f.is_rollup() => {
                    // 20 windows of 10 s from the hour's start: 4 minutes
                    // of the same 6 series × 7 stacks.
                    let v = all
                        .column_by_name("value")
                        .unwrap()
                        .as_primitive::<Int64Type>();
                    assert_eq!(v.values().iter().sum::<i64>(), expected);
                    let t = all
                        .column_by_name("time")
                        .unwrap()
                        .as_primitive::<arrow::datatypes::TimestampNanosecondType>();
                    assert!(t.values().iter().all(|t| t % rollup::MINUTE_NS == 0));
                    assert!(all.num_rows() < 20 * 18, "{} rows", all.num_rows());
                    assert_eq!(f.min_time_ns, hour);
                }
                FileKind::Samples => {
                    let v = all
                        .column_by_name("value")
                        .unwrap()
                        .as_primitive::<Int64Type>();
                    assert_eq!(v.values().iter().sum::<i64>(), expected);
                    // The footer lists the series the rows hold.
                    let footer = engine
                        .series_cache()
                        .of(engine.store().clone(), f)
                        .await
                        .unwrap();
                    let mut counted = HashMap::new();
                    crate::series_index::count_batch(&all, &mut counted);
                    assert_eq!(*footer, crate::series_index::sorted(counted));
                    assert_eq!(footer.len(), 6, "{footer:?}");
                    assert!(footer.iter().all(|s| s.rows == 60), "{footer:?}");
                }
                FileKind::Stacks => {
                    let ids = all.column(0).as_primitive::<UInt64Type>();
                    assert_eq!(ids.len(), 7, "seven distinct stacks");
                }
                FileKind::Metrics => {}
            }
        }
    }
}
