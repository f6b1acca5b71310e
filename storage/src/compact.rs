//! Compaction: turns sealed hot windows into Parquet files.
//!
//! Samples are summed per (window, series, stack), split by tenant and UTC
//! hour, sorted by series then stack then time (long runs for RLE and
//! dictionary encoding), and written zstd-compressed. Stacks that no cold
//! file holds yet go into one stacks file per compaction. The caller lists
//! the files in the manifest; until then they are invisible.

use crate::arrays::{self, MetricRows, SampleRows, SeriesColumns};
use crate::error::{Error, Result};
use crate::hot::HotWindow;
use crate::ids::StackId;
use crate::intern::StackTable;
use crate::manifest::{FileEntry, FileKind};
use crate::model::{MetricKey, SeriesKey};
use crate::paths::{ColdPath, hour_start};
use crate::series_index::{self, SeriesCount};
use arrow::buffer::ScalarBuffer;
use arrow::record_batch::RecordBatch;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// `(window, series, stack, value)` rows of one (tenant, hour) file.
type SampleGroups = BTreeMap<(String, i64), Vec<(i64, u32, u64, i64)>>;
/// `(series, time, value)` rows of one (tenant, hour) file.
type MetricGroups = BTreeMap<(String, i64), Vec<(u32, i64, f64)>>;

/// What to compact and with which dictionaries.
pub struct CompactArgs<'a> {
    pub store: &'a dyn ObjectStore,
    pub windows: &'a [HotWindow],
    pub series: &'a [Arc<SeriesKey>],
    pub metric_series: &'a [Arc<MetricKey>],
    pub stacks: &'a StackTable,
    pub window_ns: i64,
    /// Number in the files' names ([`Engine::next_file_number`]).
    ///
    /// [`Engine::next_file_number`]: crate::Engine::next_file_number
    pub generation: u64,
    /// The writing node's id, in every path.
    pub node: &'a str,
}

/// Files written by one compaction and the stacks they first persisted.
pub struct CompactOutput {
    pub files: Vec<FileEntry>,
    pub new_stacks: Vec<StackId>,
}

/// Writes the windows' rows as Parquet files: encoded off the async
/// workers ([`crate::blocking`]), then put.
pub async fn compact(args: CompactArgs<'_>) -> Result<CompactOutput> {
    let store = args.store;
    let (encoded, new_stacks) = crate::supervise::blocking(|| encode(&args))?;
    let mut files = Vec::with_capacity(encoded.len());
    for (path, bytes, entry) in encoded {
        put(store, &path, bytes).await?;
        files.push(entry);
    }
    Ok(CompactOutput { files, new_stacks })
}

/// One encoded file, ready to put.
type Encoded = (ColdPath, Vec<u8>, FileEntry);

/// Sums, sorts and encodes the windows' rows; returns the files and the
/// stacks they first persist.
fn encode(args: &CompactArgs<'_>) -> Result<(Vec<Encoded>, Vec<StackId>)> {
    let mut files = Vec::new();
    let first_window = args.windows.iter().map(|w| w.start.0).min().unwrap_or(0);

    // Samples: sum per (window, series, stack), group per (tenant, hour).
    let mut sums: HashMap<(i64, u32, u64), i64, crate::ids::KeyedHash> = HashMap::default();
    for w in args.windows {
        for c in &w.samples {
            for i in 0..c.len() {
                // Client values: saturate rather than wrap (or panic).
                let sum = sums
                    .entry((w.start.0, c.series[i], c.stacks[i]))
                    .or_default();
                *sum = sum.saturating_add(c.values[i]);
            }
        }
    }
    let mut referenced: HashSet<u64> = HashSet::new();
    let mut groups: SampleGroups = BTreeMap::new();
    for ((win, series, stack), value) in sums {
        let Some(key) = args.series.get(series as usize) else {
            continue;
        };
        referenced.insert(stack);
        groups
            .entry((key.tenant.0.clone(), hour_start(win)))
            .or_default()
            .push((win, series, stack, value));
    }
    for ((tenant, hour), rows) in groups {
        let (batch, series, min_t, max_t) = sorted_samples(&rows, args.series, args.window_ns)?;
        let path = ColdPath::Partitioned {
            tenant: tenant.clone(),
            hour_start_ns: hour,
            whole_day: false,
            kind: FileKind::Samples,
            first_window_ns: first_window,
            generation: args.generation,
            node: args.node.to_string(),
            rollup_step_ns: None,
        };
        let bytes = encode_with_series(&path, &batch, &series)?;
        let entry = FileEntry::raw(
            path.to_string(),
            FileKind::Samples,
            Some(tenant),
            (min_t, max_t),
            batch.num_rows() as u64,
            bytes.len() as u64,
        );
        files.push((path, bytes, entry));
    }

    // Stacks no cold file holds yet.
    let mut new_stacks = args.stacks.unpersisted(referenced.into_iter().map(StackId));
    new_stacks.sort_by_key(|(id, _)| *id);
    if !new_stacks.is_empty() {
        let batch = arrays::stacks_batch(&new_stacks)?;
        let path = ColdPath::Stacks {
            generation: args.generation,
            node: args.node.to_string(),
        };
        let bytes = encode_stacks_parquet(&path, &batch)?;
        let entry = FileEntry::raw(
            path.to_string(),
            FileKind::Stacks,
            None,
            (0, 0),
            batch.num_rows() as u64,
            bytes.len() as u64,
        );
        files.push((path, bytes, entry));
    }

    // Metrics: kept point by point, grouped per (tenant, hour).
    let mut mgroups: MetricGroups = BTreeMap::new();
    for w in args.windows {
        for c in &w.metrics {
            for i in 0..c.len() {
                let Some(key) = args.metric_series.get(c.series[i] as usize) else {
                    continue;
                };
                mgroups
                    .entry((key.tenant.0.clone(), hour_start(w.start.0)))
                    .or_default()
                    .push((c.series[i], c.times[i], c.values[i]));
            }
        }
    }
    for ((tenant, hour), rows) in mgroups {
        let (batch, series, min_t, max_t) = sorted_metrics(rows, args.metric_series)?;
        let path = ColdPath::Partitioned {
            tenant: tenant.clone(),
            hour_start_ns: hour,
            whole_day: false,
            kind: FileKind::Metrics,
            first_window_ns: first_window,
            generation: args.generation,
            node: args.node.to_string(),
            rollup_step_ns: None,
        };
        let bytes = encode_with_series(&path, &batch, &series)?;
        let entry = FileEntry::raw(
            path.to_string(),
            FileKind::Metrics,
            Some(tenant),
            (min_t, max_t),
            batch.num_rows() as u64,
            bytes.len() as u64,
        );
        files.push((path, bytes, entry));
    }

    Ok((files, new_stacks.into_iter().map(|(id, _)| id).collect()))
}

/// Renumbers the series of `rows` densely in key order, so the files'
/// dictionaries hold only what they use and rows sort by series key.
fn rank_series<K: Ord>(
    used: impl Iterator<Item = u32>,
    keys: &[Arc<K>],
) -> (Vec<Arc<K>>, HashMap<u32, u32>) {
    let mut ids: Vec<u32> = used.collect::<HashSet<_>>().into_iter().collect();
    ids.sort_by(|a, b| keys[*a as usize].cmp(&keys[*b as usize]));
    let local: Vec<Arc<K>> = ids.iter().map(|i| keys[*i as usize].clone()).collect();
    let rank = ids
        .iter()
        .enumerate()
        .map(|(r, i)| (*i, r as u32))
        .collect();
    (local, rank)
}

/// A file's rows, its series with their row counts, and its time range.
type Sorted = (RecordBatch, Vec<SeriesCount>, i64, i64);

fn sorted_samples(
    rows: &[(i64, u32, u64, i64)],
    series: &[Arc<SeriesKey>],
    window_ns: i64,
) -> Result<Sorted> {
    let (local, rank) = rank_series(rows.iter().map(|r| r.1), series);
    let mut ranked: Vec<(u32, u64, i64, i64)> = rows
        .iter()
        .map(|(w, s, st, v)| (rank[s], *st, *w, *v))
        .collect();
    ranked.sort_unstable();
    let min_t = ranked.iter().map(|r| r.2).min().unwrap_or(0);
    let max_t = ranked.iter().map(|r| r.2).max().unwrap_or(0);
    let sample_rows = SampleRows {
        time: ScalarBuffer::from(ranked.iter().map(|r| r.2).collect::<Vec<_>>()),
        duration_ns: window_ns,
        series: ScalarBuffer::from(ranked.iter().map(|r| r.0).collect::<Vec<_>>()),
        stacks: ScalarBuffer::from(ranked.iter().map(|r| r.1).collect::<Vec<_>>()),
        values: ScalarBuffer::from(ranked.iter().map(|r| r.3).collect::<Vec<_>>()),
    };
    let cols = SeriesColumns::for_samples(&local);
    let counts = series_index::count(&local, ranked.iter().map(|r| r.0));
    Ok((
        arrays::samples_batch(&sample_rows, &cols, None)?,
        counts,
        min_t,
        max_t,
    ))
}

fn sorted_metrics(rows: Vec<(u32, i64, f64)>, series: &[Arc<MetricKey>]) -> Result<Sorted> {
    let (local, rank) = rank_series(rows.iter().map(|r| r.0), series);
    let mut ranked: Vec<(u32, i64, f64)> = rows.iter().map(|(s, t, v)| (rank[s], *t, *v)).collect();
    ranked.sort_by_key(|a| (a.0, a.1));
    let min_t = ranked.iter().map(|r| r.1).min().unwrap_or(0);
    let max_t = ranked.iter().map(|r| r.1).max().unwrap_or(0);
    let metric_rows = MetricRows {
        time: ScalarBuffer::from(ranked.iter().map(|r| r.1).collect::<Vec<_>>()),
        series: ScalarBuffer::from(ranked.iter().map(|r| r.0).collect::<Vec<_>>()),
        values: ScalarBuffer::from(ranked.iter().map(|r| r.2).collect::<Vec<_>>()),
    };
    let cols = SeriesColumns::for_metrics(&local);
    let counts = series_index::count(&local, ranked.iter().map(|r| r.0));
    Ok((
        arrays::metrics_batch(&metric_rows, &cols, None)?,
        counts,
        min_t,
        max_t,
    ))
}

/// Writer settings of every cold file: zstd, dictionaries, large row groups.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_max_row_group_row_count(Some(1 << 20))
        .build()
}

/// A samples or metrics file, its series listed in the footer
/// ([`series_index`]).
fn encode_with_series(
    path: &ColdPath,
    batch: &RecordBatch,
    series: &[SeriesCount],
) -> Result<Vec<u8>> {
    let props = writer_properties()
        .into_builder()
        .set_key_value_metadata(Some(vec![series_index::footer(series)]))
        .build();
    encode_with(path, batch, props)
}

/// A stacks file: small row groups, read back one by one for evicted frames.
fn encode_stacks_parquet(path: &ColdPath, batch: &RecordBatch) -> Result<Vec<u8>> {
    let props = writer_properties()
        .into_builder()
        .set_max_row_group_row_count(Some(crate::cold_stacks::STACKS_ROW_GROUP_ROWS))
        .build();
    encode_with(path, batch, props)
}

fn encode_with(path: &ColdPath, batch: &RecordBatch, props: WriterProperties) -> Result<Vec<u8>> {
    let perr = |source| Error::Parquet {
        path: path.to_string(),
        source,
    };
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props)).map_err(perr)?;
    w.write(batch).map_err(perr)?;
    w.close().map_err(perr)?;
    Ok(buf)
}

/// Creates `path` with the encoded bytes (atomically, and only if no
/// object is there: a name is used once, by one node, so finding one
/// means another server writes under this node id).
pub async fn put(store: &dyn ObjectStore, path: &ColdPath, bytes: Vec<u8>) -> Result<()> {
    let opts = PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    match store
        .put_opts(&path.to_path(), PutPayload::from(bytes), opts)
        .await
    {
        Ok(_) => Ok(()),
        Err(object_store::Error::AlreadyExists { .. }) => Err(Error::DuplicateNode {
            path: path.to_string(),
            node: path.node().to_string(),
        }),
        Err(source) => Err(Error::ObjectStore {
            path: path.to_string(),
            source,
        }),
    }
}
