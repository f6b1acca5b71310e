//! The order a day's samples are merged in: hour first, then the
//! compaction's order (series, stack, time), so each hour's rows are
//! together and each hour gets row groups of its own. A query over part
//! of a day then reads only its hours (the row groups' time statistics
//! prune the rest). An hour file is in this order already, so hour files
//! and day files merge together.
//!
//! The hour is a column added to the merge's input batches
//! ([`with_hour`]) and dropped before writing.

use crate::error::Error;
use crate::kway::SortedInput;
use crate::schema;
use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::SchemaRef;

const HOUR_NS: i64 = 3_600_000_000_000;

/// The added sort column: `time` in whole hours.
pub(crate) const HOUR_KEY: &str = "__hour";

/// Adds [`HOUR_KEY`] (`time` in whole hours) to each batch of `input`.
pub(crate) fn with_hour(input: SortedInput, schema: SchemaRef) -> SortedInput {
    Box::new(input.map(move |b| {
        let b = b?;
        let time = b
            .column_by_name(schema::COL_TIME)
            .and_then(|c| c.as_primitive_opt::<arrow::datatypes::TimestampNanosecondType>())
            .ok_or_else(|| Error::Background {
                what: "merge".into(),
                reason: "a samples batch without its time column".into(),
            })?;
        let hours: arrow::array::Int64Array = time.unary(|t| t.div_euclid(HOUR_NS));
        let mut columns = b.columns().to_vec();
        columns.push(std::sync::Arc::new(hours));
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }))
}

/// The hour column ([`HOUR_KEY`], at `at`) of the first row.
pub(crate) fn hour_of(b: &RecordBatch, at: usize) -> Option<i64> {
    let h = b
        .column(at)
        .as_primitive_opt::<arrow::datatypes::Int64Type>()?;
    (!h.is_empty()).then(|| h.value(0))
}

/// `b` cut where its hour column (at `at`) changes.
pub(crate) fn split_by_hour(b: &RecordBatch, at: usize) -> Vec<RecordBatch> {
    let Some(h) = b
        .column(at)
        .as_primitive_opt::<arrow::datatypes::Int64Type>()
    else {
        return vec![b.clone()];
    };
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..h.len() {
        if h.value(i) != h.value(i - 1) {
            out.push(b.slice(start, i - start));
            start = i;
        }
    }
    out.push(b.slice(start, h.len() - start));
    out
}
