//! Which series a cold file holds, kept in the file itself: compaction and
//! merges write the distinct series keys of a samples or metrics file
//! into its Parquet footer (key `flarego.series`, a JSON array), so label
//! browsing reads footers, never sample rows. Files written before this
//! have no such key; their series are read from their columns once.
//! Either way the answer is cached per file ([`SeriesCache`]).

use crate::error::{Error, Result};
use crate::manifest::FileEntry;
use crate::model::{MetricKey, SeriesKey};
use arrow::array::{Array, AsArray, MapArray, StringArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use object_store::ObjectStore;
use parquet::file::metadata::KeyValue;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// The footer key.
pub const SERIES_KEY: &str = "flarego.series";
/// Files whose series are cached at most.
const CACHE_FILES: usize = 50_000;

/// One series as browsing sees it: `kind` is the profile type (samples)
/// or the metric name (metrics).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesEntry {
    pub service: String,
    #[serde(default)]
    pub instance: String,
    pub kind: String,
    #[serde(default)]
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl From<&SeriesKey> for SeriesEntry {
    fn from(k: &SeriesKey) -> Self {
        SeriesEntry {
            service: k.service.clone(),
            instance: k.instance.clone(),
            kind: k.profile_type.clone(),
            unit: k.unit.clone(),
            state: k.state.clone(),
            labels: k.labels.clone(),
        }
    }
}

impl From<&MetricKey> for SeriesEntry {
    fn from(k: &MetricKey) -> Self {
        SeriesEntry {
            service: k.service.clone(),
            instance: k.instance.clone(),
            kind: k.name.clone(),
            unit: String::new(),
            state: None,
            labels: k.labels.clone(),
        }
    }
}

/// A series of a file and how many rows it has there (browsing orders by
/// this).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesCount {
    #[serde(flatten)]
    pub series: SeriesEntry,
    pub rows: u64,
}

/// Counts rows per series: `ranks` are indexes into `keys`.
pub fn count<K>(keys: &[Arc<K>], ranks: impl Iterator<Item = u32>) -> Vec<SeriesCount>
where
    for<'a> &'a K: Into<SeriesEntry>,
{
    let mut rows = vec![0u64; keys.len()];
    for r in ranks {
        if let Some(n) = rows.get_mut(r as usize) {
            *n += 1;
        }
    }
    keys.iter()
        .zip(rows)
        .filter(|(_, n)| *n > 0)
        .map(|(k, rows)| SeriesCount {
            series: k.as_ref().into(),
            rows,
        })
        .collect()
}

/// The footer entry for these series.
pub fn footer(series: &[SeriesCount]) -> KeyValue {
    KeyValue::new(
        SERIES_KEY.to_string(),
        serde_json::to_string(series).unwrap_or_else(|_| "[]".into()),
    )
}

/// The series a footer lists, if it lists them.
pub fn from_footer(kv: Option<&Vec<KeyValue>>) -> Option<Vec<SeriesCount>> {
    let v = kv?.iter().find(|k| k.key == SERIES_KEY)?.value.as_ref()?;
    serde_json::from_str(v).ok()
}

/// The series of several files together (a merge's output), rows summed;
/// `None` if any input lacks the footer.
pub fn union(inputs: &[Option<Vec<SeriesCount>>]) -> Option<Vec<SeriesCount>> {
    let mut sum: BTreeMap<&SeriesEntry, u64> = BTreeMap::new();
    for input in inputs {
        for s in input.as_ref()? {
            *sum.entry(&s.series).or_default() += s.rows;
        }
    }
    Some(
        sum.into_iter()
            .map(|(s, rows)| SeriesCount {
                series: s.clone(),
                rows,
            })
            .collect(),
    )
}

/// Series per cold file, read once.
#[derive(Debug, Default)]
pub struct SeriesCache {
    files: Mutex<HashMap<String, Arc<Vec<SeriesCount>>>>,
}

impl SeriesCache {
    /// The series of `file`, from its footer (or, for older files, its
    /// columns).
    pub async fn of(
        &self,
        store: Arc<dyn ObjectStore>,
        file: &FileEntry,
    ) -> Result<Arc<Vec<SeriesCount>>> {
        if let Some(s) = self.lock().get(&file.path) {
            return Ok(s.clone());
        }
        let series = Arc::new(read(store, file).await?);
        let mut g = self.lock();
        if g.len() >= CACHE_FILES {
            g.clear();
        }
        g.insert(file.path.clone(), series.clone());
        Ok(series)
    }

    /// Drops what is cached for files that are gone.
    pub fn forget(&self, paths: &[String]) {
        let mut g = self.lock();
        for p in paths {
            g.remove(p);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Vec<SeriesCount>>>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn read(store: Arc<dyn ObjectStore>, file: &FileEntry) -> Result<Vec<SeriesCount>> {
    use futures::StreamExt;
    use parquet::arrow::ParquetRecordBatchStreamBuilder;
    let perr = |source| Error::Parquet {
        path: file.path.clone(),
        source,
    };
    let reader = crate::cold_stacks::StoreReader::new(store, file);
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(perr)?;
    if let Some(s) = from_footer(builder.metadata().file_metadata().key_value_metadata()) {
        return Ok(s);
    }
    // An older file: its series columns, distinct.
    let wanted: Vec<&str> = SERIES_COLUMNS
        .into_iter()
        .filter(|c| builder.schema().index_of(c).is_ok())
        .collect();
    let mask = parquet::arrow::ProjectionMask::columns(builder.parquet_schema(), wanted);
    let mut stream = builder.with_projection(mask).build().map_err(perr)?;
    let mut seen: HashMap<SeriesEntry, u64> = HashMap::new();
    while let Some(batch) = stream.next().await {
        count_batch(&batch.map_err(perr)?, &mut seen);
    }
    Ok(sorted(seen))
}

/// The columns that make up a series.
const SERIES_COLUMNS: [&str; 7] = [
    "service",
    "instance",
    "profile_type",
    "name",
    "unit",
    "state",
    "labels",
];

/// Counts the rows of `b` per series.
pub fn count_batch(b: &RecordBatch, seen: &mut HashMap<SeriesEntry, u64>) {
    let text = |name: &str| -> Option<StringArray> {
        let c = b.column_by_name(name)?;
        arrow::compute::cast(c, &DataType::Utf8)
            .ok()
            .map(|a| a.as_string::<i32>().clone())
    };
    let (service, instance, unit, state) = (
        text("service"),
        text("instance"),
        text("unit"),
        text("state"),
    );
    let kind = text("profile_type").or_else(|| text("name"));
    let labels: Option<&MapArray> = b.column_by_name("labels").map(|c| c.as_map());
    let get = |a: &Option<StringArray>, i: usize| -> Option<String> {
        a.as_ref()
            .filter(|a| a.is_valid(i))
            .map(|a| a.value(i).to_string())
    };
    for i in 0..b.num_rows() {
        let mut l = BTreeMap::new();
        if let Some(m) = labels.filter(|m| m.is_valid(i)) {
            let e = m.value(i);
            let (k, v) = (
                e.column(0).as_string::<i32>(),
                e.column(1).as_string::<i32>(),
            );
            for j in 0..k.len() {
                l.insert(k.value(j).to_string(), v.value(j).to_string());
            }
        }
        *seen
            .entry(SeriesEntry {
                service: get(&service, i).unwrap_or_default(),
                instance: get(&instance, i).unwrap_or_default(),
                kind: get(&kind, i).unwrap_or_default(),
                unit: get(&unit, i).unwrap_or_default(),
                state: get(&state, i),
                labels: l,
            })
            .or_default() += 1;
    }
}

/// Counted series in key order.
pub fn sorted(seen: HashMap<SeriesEntry, u64>) -> Vec<SeriesCount> {
    let mut v: Vec<SeriesCount> = seen
        .into_iter()
        .map(|(series, rows)| SeriesCount { series, rows })
        .collect();
    v.sort_by(|a, b| a.series.cmp(&b.series));
    v
}
