//! Rollups: samples summed per step (1 minute, 1 hour) and per series
//! and stack, so long ranges read a few rows per step instead of every
//! window.
//!
//! ```text
//! hour merge (merge.rs) ──▶ sorted rows of a tenant's hour ──▶ raw hour file
//!                                                       └──▶ RollupWriter(1m)
//! day merge             ──▶ sorted rows of a tenant's day  ──▶ raw daily file
//!                                                       └──▶ RollupWriter(1h)
//! manifest: the raw entry lists its rollups (RollupRef), each complete
//! for its step: the 1 m ones of its hours, the 1 h one of its day
//! ```
//!
//! A rollup row is `time` = the step's start, `duration_ns` = the step,
//! `value` = the sum of the raw rows of that series and stack in the step
//! (wrapping, as SQL `sum` adds). Its other columns are the raw rows'.
//! The input arrives sorted by series, stack, then time (the merge
//! order), so one step of one series and stack is a run of adjacent rows
//! and the rollup is written as it streams, in the same order.
//!
//! Which queries may read rollups, and how a range is split across
//! resolutions, is the query layer's business (`flarego-query`'s
//! `rollups` rule).

use crate::error::{Error, Result};
use crate::schema;
use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, TimestampNanosecondArray};
use arrow::compute::interleave;
use arrow::datatypes::{Int64Type, SchemaRef, TimestampNanosecondType};
use arrow::row::{OwnedRow, RowConverter};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use std::sync::Arc;

pub const MINUTE_NS: i64 = 60_000_000_000;
pub const HOUR_NS: i64 = 3_600_000_000_000;

/// The steps rollups are written at, finest first.
pub const STEPS: [i64; 2] = [MINUTE_NS, HOUR_NS];

/// Rows gathered before a batch of the rollup is written.
const OUT_BATCH_ROWS: usize = 8192;

/// The columns that tell one series and stack from another.
const KEY_COLUMNS: [&str; 8] = [
    schema::COL_TENANT,
    schema::COL_SERVICE,
    schema::COL_INSTANCE,
    schema::COL_PROFILE_TYPE,
    schema::COL_UNIT,
    schema::COL_STATE,
    schema::COL_LABELS,
    schema::COL_STACK_ID,
];

/// One step of one series and stack, still being summed.
struct Run {
    key: OwnedRow,
    step_start: i64,
    sum: i64,
    /// Where its first row is: index into `sources`, row.
    at: (usize, usize),
}

/// What a finished rollup holds.
#[derive(Debug)]
pub struct RollupFile {
    pub bytes: Vec<u8>,
    pub rows: u64,
    /// Earliest and latest step start.
    pub min_time_ns: i64,
    pub max_time_ns: i64,
}

/// Sums sorted samples batches per step into a Parquet file.
pub struct RollupWriter {
    step_ns: i64,
    schema: SchemaRef,
    converter: RowConverter,
    key_idx: Vec<usize>,
    time_idx: usize,
    value_idx: usize,
    duration_idx: usize,
    run: Option<Run>,
    /// Input batches that finished runs (or the open one) start in.
    sources: Vec<RecordBatch>,
    picks: Vec<(usize, usize)>,
    starts: Vec<i64>,
    sums: Vec<i64>,
    writer: ArrowWriter<Vec<u8>>,
    rows: u64,
    min_time_ns: i64,
    max_time_ns: i64,
}

impl RollupWriter {
    /// A rollup at `step_ns`, written with `props` (the merge's, footer
    /// included: a rollup holds the same series as its input).
    pub fn new(step_ns: i64, props: WriterProperties) -> Result<Self> {
        let schema = schema::samples_schema();
        let (key_idx, converter) = crate::kway::key_rows(&schema, &KEY_COLUMNS)?;
        let writer = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props))
            .map_err(|source| perr(step_ns, source))?;
        Ok(RollupWriter {
            step_ns,
            time_idx: schema.index_of(schema::COL_TIME)?,
            value_idx: schema.index_of(schema::COL_VALUE)?,
            duration_idx: schema.index_of(schema::COL_DURATION)?,
            schema,
            converter,
            key_idx,
            run: None,
            sources: Vec::new(),
            picks: Vec::new(),
            starts: Vec::new(),
            sums: Vec::new(),
            writer,
            rows: 0,
            min_time_ns: i64::MAX,
            max_time_ns: i64::MIN,
        })
    }

    /// Adds the next batch of rows (in merge order).
    pub fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let keys: Vec<ArrayRef> = self
            .key_idx
            .iter()
            .map(|i| batch.column(*i).clone())
            .collect();
        let rows = self.converter.convert_columns(&keys)?;
        let times = batch
            .column(self.time_idx)
            .as_primitive::<TimestampNanosecondType>();
        let values = batch.column(self.value_idx).as_primitive::<Int64Type>();
        self.sources.push(batch.clone());
        let source = self.sources.len() - 1;
        for i in 0..batch.num_rows() {
            let step_start = times.value(i).div_euclid(self.step_ns) * self.step_ns;
            let v = if values.is_null(i) {
                0
            } else {
                values.value(i)
            };
            if let Some(run) = &mut self.run
                && run.step_start == step_start
                && run.key.row() == rows.row(i)
            {
                run.sum = run.sum.wrapping_add(v);
                continue;
            }
            if let Some(done) = self.run.take() {
                self.finish_run(done);
            }
            self.run = Some(Run {
                key: rows.row(i).owned(),
                step_start,
                sum: v,
                at: (source, i),
            });
        }
        if self.picks.len() >= OUT_BATCH_ROWS {
            self.write_out()?;
        }
        Ok(())
    }

    fn finish_run(&mut self, run: Run) {
        self.picks.push(run.at);
        self.starts.push(run.step_start);
        self.sums.push(run.sum);
        self.min_time_ns = self.min_time_ns.min(run.step_start);
        self.max_time_ns = self.max_time_ns.max(run.step_start);
    }

    /// Writes the finished runs and drops the input batches no open run
    /// needs.
    fn write_out(&mut self) -> Result<()> {
        if !self.picks.is_empty() {
            let n = self.picks.len();
            let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
            for (j, field) in self.schema.fields().iter().enumerate() {
                let col: ArrayRef = if j == self.time_idx {
                    Arc::new(
                        TimestampNanosecondArray::from(std::mem::take(&mut self.starts))
                            .with_timezone("UTC"),
                    )
                } else if j == self.duration_idx {
                    Arc::new(Int64Array::from(vec![self.step_ns; n]))
                } else if j == self.value_idx {
                    Arc::new(Int64Array::from(std::mem::take(&mut self.sums)))
                } else {
                    let from: Vec<&dyn Array> =
                        self.sources.iter().map(|b| b.column(j).as_ref()).collect();
                    let c = interleave(&from, &self.picks)?;
                    debug_assert_eq!(c.data_type(), field.data_type());
                    c
                };
                columns.push(col);
            }
            let batch = RecordBatch::try_new(self.schema.clone(), columns)?;
            self.writer
                .write(&batch)
                .map_err(|source| perr(self.step_ns, source))?;
            self.rows += n as u64;
            self.picks.clear();
        }
        // Keep only the batch the open run starts in.
        match &mut self.run {
            Some(run) => {
                let kept = self.sources.swap_remove(run.at.0);
                self.sources = vec![kept];
                run.at.0 = 0;
            }
            None => self.sources.clear(),
        }
        Ok(())
    }

    /// The rollup's bytes, or `None` when no row came in.
    pub fn finish(mut self) -> Result<Option<RollupFile>> {
        if let Some(done) = self.run.take() {
            self.finish_run(done);
        }
        self.write_out()?;
        let rows = self.rows;
        let step = self.step_ns;
        let bytes = self
            .writer
            .into_inner()
            .map_err(|source| perr(step, source))?;
        Ok((rows > 0).then_some(RollupFile {
            bytes,
            rows,
            min_time_ns: self.min_time_ns,
            max_time_ns: self.max_time_ns,
        }))
    }
}

fn perr(step_ns: i64, source: parquet::errors::ParquetError) -> Error {
    Error::Parquet {
        path: format!("rollup at {}", crate::paths::step_label(step_ns)),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{DictionaryArray, MapBuilder, StringBuilder, UInt64Array};
    use arrow::datatypes::Int32Type;

    /// Sorted rows: (service, stack, time s, value).
    fn batch(rows: &[(&str, u64, i64, i64)]) -> RecordBatch {
        let n = rows.len();
        let dict = |v: Vec<Option<&str>>| -> ArrayRef {
            Arc::new(v.into_iter().collect::<DictionaryArray<Int32Type>>())
        };
        let mut labels = MapBuilder::new(
            Some(arrow::array::MapFieldNames {
                entry: "key_value".into(),
                key: "key".into(),
                value: "value".into(),
            }),
            StringBuilder::new(),
            StringBuilder::new(),
        );
        for _ in 0..n {
            labels.keys().append_value("env");
            labels.values().append_value("prod");
            labels.append(true).unwrap();
        }
        let labels = labels.finish();
        let labels = arrow::array::MapArray::try_new(
            schema::labels_entries_field(),
            labels.offsets().clone(),
            labels.entries().clone(),
            None,
            false,
        )
        .unwrap();
        RecordBatch::try_new(
            schema::samples_schema(),
            vec![
                Arc::new(
                    TimestampNanosecondArray::from(
                        rows.iter().map(|r| r.2 * 1_000_000_000).collect::<Vec<_>>(),
                    )
                    .with_timezone("UTC"),
                ),
                Arc::new(Int64Array::from(vec![10_000_000_000; n])),
                dict(vec![Some("t"); n]),
                dict(rows.iter().map(|r| Some(r.0)).collect()),
                dict(vec![Some(""); n]),
                dict(vec![Some("cpu"); n]),
                dict(vec![Some("nanoseconds"); n]),
                dict(vec![None; n]),
                Arc::new(labels),
                Arc::new(UInt64Array::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.3).collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap()
    }

    #[test]
    fn runs_are_summed_per_step_across_batch_boundaries() {
        let mut w = RollupWriter::new(MINUTE_NS, WriterProperties::default()).unwrap();
        // a/1 in minute 0 spans two batches; a/1 minute 1; a/2; b/1.
        w.push(&batch(&[("a", 1, 0, 1), ("a", 1, 10, 2)])).unwrap();
        w.push(&batch(&[
            ("a", 1, 50, 4),
            ("a", 1, 60, 8),
            ("a", 2, 70, 16),
        ]))
        .unwrap();
        w.push(&batch(&[("b", 1, 5, 32), ("b", 1, 59, 64)]))
            .unwrap();
        let out = w.finish().unwrap().unwrap();
        assert_eq!(out.rows, 4);
        assert_eq!((out.min_time_ns, out.max_time_ns), (0, MINUTE_NS));
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::from(out.bytes),
        )
        .unwrap()
        .build()
        .unwrap();
        let all: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        let all = arrow::compute::concat_batches(&schema::samples_schema(), &all).unwrap();
        let values = all.column(10).as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(values, vec![7, 8, 16, 96]);
        let times = all.column(0).as_primitive::<TimestampNanosecondType>();
        assert_eq!(times.values().to_vec(), vec![0, MINUTE_NS, MINUTE_NS, 0]);
        let stacks = all.column(9).as_primitive::<arrow::datatypes::UInt64Type>();
        assert_eq!(stacks.values().to_vec(), vec![1, 1, 2, 1]);
        let d = all.column(1).as_primitive::<Int64Type>();
        assert!(d.values().iter().all(|v| *v == MINUTE_NS));
    }
}
