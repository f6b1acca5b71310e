//! Builds Arrow record batches from series keys and row columns, for hot
//! scans and for Parquet writing alike.
//!
//! Per-row string columns are dictionary arrays whose keys are series
//! indexes and whose values are the per-series strings ([`SeriesColumns`]),
//! so a row costs one `i32` per string column, whatever the string.

use crate::model::{MetricKey, SeriesKey};
use crate::schema::{self, labels_entries_field};
use arrow::array::{
    ArrayBuilder, ArrayRef, DictionaryArray, Float64Array, Int32Array, Int64Array, ListBuilder,
    MapArray, StringArray, StringBuilder, StructArray, TimestampNanosecondArray, UInt32Array,
    UInt64Array,
};
use arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{Int32Type, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Per-series values of every string column, indexed by series index.
#[derive(Debug, Clone)]
pub struct SeriesColumns {
    pub tenant: ArrayRef,
    pub service: ArrayRef,
    pub instance: ArrayRef,
    /// `profile_type` for samples, `name` for metrics.
    pub kind: ArrayRef,
    /// `unit` (samples only; empty for metrics).
    pub unit: ArrayRef,
    /// `state` (samples only), null where the series has none.
    pub state: ArrayRef,
    /// Whether each series has a state.
    pub has_state: Vec<bool>,
    pub labels: MapArray,
}

impl SeriesColumns {
    pub fn for_samples(keys: &[Arc<SeriesKey>]) -> Self {
        let strings = |f: &dyn Fn(&SeriesKey) -> &str| -> ArrayRef {
            Arc::new(keys.iter().map(|k| Some(f(k))).collect::<StringArray>())
        };
        SeriesColumns {
            tenant: strings(&|k| k.tenant.as_str()),
            service: strings(&|k| &k.service),
            instance: strings(&|k| &k.instance),
            kind: strings(&|k| &k.profile_type),
            unit: strings(&|k| &k.unit),
            state: Arc::new(
                keys.iter()
                    .map(|k| Some(k.state.as_deref().unwrap_or("")))
                    .collect::<StringArray>(),
            ),
            has_state: keys.iter().map(|k| k.state.is_some()).collect(),
            labels: labels_array(keys.iter().map(|k| &k.labels)),
        }
    }

    pub fn for_metrics(keys: &[Arc<MetricKey>]) -> Self {
        let strings = |f: &dyn Fn(&MetricKey) -> &str| -> ArrayRef {
            Arc::new(keys.iter().map(|k| Some(f(k))).collect::<StringArray>())
        };
        SeriesColumns {
            tenant: strings(&|k| k.tenant.as_str()),
            service: strings(&|k| &k.service),
            instance: strings(&|k| &k.instance),
            kind: strings(&|k| &k.name),
            unit: strings(&|_| ""),
            state: strings(&|_| ""),
            has_state: vec![false; keys.len()],
            labels: labels_array(keys.iter().map(|k| &k.labels)),
        }
    }
}

/// One `map<string,string>` per label set.
pub fn labels_array<'a>(sets: impl Iterator<Item = &'a BTreeMap<String, String>>) -> MapArray {
    let mut keys = StringBuilder::new();
    let mut values = StringBuilder::new();
    let mut offsets = vec![0i32];
    for set in sets {
        for (k, v) in set {
            keys.append_value(k);
            values.append_value(v);
        }
        offsets.push(keys.len() as i32);
    }
    let entries = StructArray::from(vec![
        (
            Arc::new(arrow::datatypes::Field::new(
                "key",
                arrow::datatypes::DataType::Utf8,
                false,
            )),
            Arc::new(keys.finish()) as ArrayRef,
        ),
        (
            Arc::new(arrow::datatypes::Field::new(
                "value",
                arrow::datatypes::DataType::Utf8,
                true,
            )),
            Arc::new(values.finish()) as ArrayRef,
        ),
    ]);
    MapArray::new(
        labels_entries_field(),
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        entries,
        None,
        false,
    )
}

/// Row columns of a samples batch before the series columns are attached.
pub struct SampleRows {
    /// `time` of each row (ns).
    pub time: ScalarBuffer<i64>,
    pub duration_ns: i64,
    pub series: ScalarBuffer<u32>,
    pub stacks: ScalarBuffer<u64>,
    pub values: ScalarBuffer<i64>,
}

fn dict(keys: &Int32Array, values: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
        keys.clone(),
        values.clone(),
    )?))
}

/// Builds a batch of [`schema::samples_schema`], or only the columns in
/// `projection` (indexes into that schema) when given.
pub fn samples_batch(
    rows: &SampleRows,
    cols: &SeriesColumns,
    projection: Option<&[usize]>,
) -> Result<RecordBatch, ArrowError> {
    let keys = series_keys(&rows.series);
    let n = rows.values.len();
    projected_batch(schema::samples_schema(), projection, n, |name| {
        if let Some(a) = series_column(name, &rows.time, &rows.series, &keys, cols)? {
            return Ok(a);
        }
        Ok(match name {
            schema::COL_DURATION => Arc::new(Int64Array::from_value(rows.duration_ns, n)),
            schema::COL_PROFILE_TYPE => dict(&keys, &cols.kind)?,
            schema::COL_UNIT => dict(&keys, &cols.unit)?,
            schema::COL_STATE => {
                let nulls: NullBuffer = rows
                    .series
                    .iter()
                    .map(|s| cols.has_state.get(*s as usize).copied().unwrap_or(false))
                    .collect();
                let keys = Int32Array::new(keys.values().clone(), Some(nulls));
                dict(&keys, &cols.state)?
            }
            schema::COL_STACK_ID => Arc::new(UInt64Array::new(rows.stacks.clone(), None)),
            schema::COL_VALUE => Arc::new(Int64Array::new(rows.values.clone(), None)),
            other => {
                return Err(ArrowError::SchemaError(format!(
                    "no such samples column {other}"
                )));
            }
        })
    })
}

/// Row columns of a metrics batch.
pub struct MetricRows {
    pub time: ScalarBuffer<i64>,
    pub series: ScalarBuffer<u32>,
    pub values: ScalarBuffer<f64>,
}

/// Builds a batch of [`schema::metrics_schema`] (or its `projection`).
pub fn metrics_batch(
    rows: &MetricRows,
    cols: &SeriesColumns,
    projection: Option<&[usize]>,
) -> Result<RecordBatch, ArrowError> {
    let keys = series_keys(&rows.series);
    projected_batch(
        schema::metrics_schema(),
        projection,
        rows.values.len(),
        |name| {
            if let Some(a) = series_column(name, &rows.time, &rows.series, &keys, cols)? {
                return Ok(a);
            }
            Ok(match name {
                schema::COL_NAME => dict(&keys, &cols.kind)?,
                schema::COL_VALUE => Arc::new(Float64Array::new(rows.values.clone(), None)),
                other => {
                    return Err(ArrowError::SchemaError(format!(
                        "no such metrics column {other}"
                    )));
                }
            })
        },
    )
}

/// The columns samples and metrics share: `time` and the series columns
/// (`tenant`, `service`, `instance`, `labels`); `None` for any other.
fn series_column(
    name: &str,
    time: &ScalarBuffer<i64>,
    series: &ScalarBuffer<u32>,
    keys: &Int32Array,
    cols: &SeriesColumns,
) -> Result<Option<ArrayRef>, ArrowError> {
    Ok(Some(match name {
        schema::COL_TIME => {
            Arc::new(TimestampNanosecondArray::new(time.clone(), None).with_timezone("UTC"))
        }
        schema::COL_TENANT => dict(keys, &cols.tenant)?,
        schema::COL_SERVICE => dict(keys, &cols.service)?,
        schema::COL_INSTANCE => dict(keys, &cols.instance)?,
        schema::COL_LABELS => take_labels(&cols.labels, series)?,
        _ => return Ok(None),
    }))
}

/// Series indexes as dictionary keys.
fn series_keys(series: &ScalarBuffer<u32>) -> Int32Array {
    Int32Array::new(
        ScalarBuffer::from(series.iter().map(|s| *s as i32).collect::<Vec<_>>()),
        None,
    )
}

/// A batch of the `projection` of `full` (all of it when `None`), each
/// column built by `column(name)`.
fn projected_batch(
    full: SchemaRef,
    projection: Option<&[usize]>,
    rows: usize,
    mut column: impl FnMut(&str) -> Result<ArrayRef, ArrowError>,
) -> Result<RecordBatch, ArrowError> {
    let all: Vec<usize> = (0..full.fields().len()).collect();
    let projection = projection.unwrap_or(&all);
    let arrays = projection
        .iter()
        .map(|&i| column(full.field(i).name()))
        .collect::<Result<Vec<_>, _>>()?;
    let schema: SchemaRef = Arc::new(full.project(projection)?);
    RecordBatch::try_new_with_options(
        schema,
        arrays,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )
}

fn take_labels(labels: &MapArray, series: &ScalarBuffer<u32>) -> Result<ArrayRef, ArrowError> {
    let idx = UInt32Array::new(series.clone(), None);
    arrow::compute::take(labels, &idx, None)
}

/// Builds a batch of [`schema::stacks_schema`].
pub fn stacks_batch(
    stacks: &[(crate::ids::StackId, crate::model::Frames)],
) -> Result<RecordBatch, ArrowError> {
    let ids = UInt64Array::from_iter_values(stacks.iter().map(|(id, _)| id.0));
    let mut frames = ListBuilder::new(StringBuilder::new());
    for (_, f) in stacks {
        for name in f.iter() {
            frames.values().append_value(name);
        }
        frames.append(true);
    }
    RecordBatch::try_new(
        schema::stacks_schema(),
        vec![Arc::new(ids), Arc::new(frames.finish())],
    )
}
