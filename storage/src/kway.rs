//! A streaming k-way merge of sorted record batch streams.
//!
//! Each input is a stream of batches already sorted by the key columns;
//! the output is the same rows in key order, produced a batch at a time,
//! so a merge holds one batch per input plus the batch being built, never
//! the whole of its inputs. Keys are compared in Arrow's row format
//! ([`RowConverter`]), which orders strings bytewise, nulls first and maps
//! entry by entry: the same order as the series keys the compactor sorts
//! by. With `dedupe`, rows whose key equals the previous output row's are
//! dropped (stacks files hold each stack id once).

use crate::error::Result;
use arrow::array::RecordBatch;
use arrow::compute::interleave_record_batch;
use arrow::datatypes::SchemaRef;
use arrow::row::{OwnedRow, RowConverter, Rows, SortField};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A sorted input: its batches, in order.
/// The positions of `keys` in `schema` and a converter of those columns
/// to comparable rows.
pub(crate) fn key_rows(schema: &SchemaRef, keys: &[&str]) -> Result<(Vec<usize>, RowConverter)> {
    let key_idx: Vec<usize> = keys
        .iter()
        .map(|k| schema.index_of(k))
        .collect::<std::result::Result<_, _>>()?;
    let converter = RowConverter::new(
        key_idx
            .iter()
            .map(|i| SortField::new(schema.field(*i).data_type().clone()))
            .collect(),
    )?;
    Ok((key_idx, converter))
}

pub type SortedInput = Box<dyn Iterator<Item = Result<RecordBatch>> + Send>;

struct Cursor {
    input: SortedInput,
    batch: Option<RecordBatch>,
    rows: Option<Rows>,
    pos: usize,
}

/// Merges `inputs` by the columns named `keys`, handing each output batch
/// of up to `batch_rows` rows to `emit`. Returns the number of rows emitted.
pub fn merge_sorted(
    schema: SchemaRef,
    inputs: Vec<SortedInput>,
    keys: &[&str],
    dedupe: bool,
    batch_rows: usize,
    mut emit: impl FnMut(RecordBatch) -> Result<()>,
) -> Result<u64> {
    let (key_idx, converter) = key_rows(&schema, keys)?;
    let mut cursors: Vec<Cursor> = inputs
        .into_iter()
        .map(|input| Cursor {
            input,
            batch: None,
            rows: None,
            pos: 0,
        })
        .collect();
    let mut heap: BinaryHeap<Reverse<(OwnedRow, usize)>> = BinaryHeap::new();
    for (i, c) in cursors.iter_mut().enumerate() {
        if advance(c, &converter, &key_idx)? {
            heap.push(Reverse((current(c)?, i)));
        }
    }
    // Output rows as (input, row) into each input's current batch; when an
    // input moves to its next batch, what was taken so far is flushed.
    let mut taken: Vec<(usize, usize)> = Vec::with_capacity(batch_rows);
    let mut last: Option<OwnedRow> = None;
    let mut emitted = 0u64;
    let flush = |taken: &mut Vec<(usize, usize)>,
                 cursors: &[Cursor],
                 emit: &mut dyn FnMut(RecordBatch) -> Result<()>|
     -> Result<u64> {
        if taken.is_empty() {
            return Ok(0);
        }
        let empty = RecordBatch::new_empty(schema.clone());
        let batches: Vec<&RecordBatch> = cursors
            .iter()
            .map(|c| c.batch.as_ref().unwrap_or(&empty))
            .collect();
        let out = interleave_record_batch(&batches, taken)?;
        let n = out.num_rows() as u64;
        taken.clear();
        emit(out)?;
        Ok(n)
    };
    while let Some(Reverse((row, i))) = heap.pop() {
        let duplicate = dedupe && last.as_ref().is_some_and(|l| l.row() == row.row());
        if !duplicate {
            taken.push((i, cursors[i].pos));
            if dedupe {
                last = Some(row);
            }
        }
        if taken.len() >= batch_rows {
            emitted += flush(&mut taken, &cursors, &mut emit)?;
        }
        let c = &mut cursors[i];
        c.pos += 1;
        let more = if c.batch.as_ref().is_some_and(|b| c.pos < b.num_rows()) {
            true
        } else {
            // This input's batch is used up: emit what refers to it first.
            emitted += flush(&mut taken, &cursors, &mut emit)?;
            advance(&mut cursors[i], &converter, &key_idx)?
        };
        if more {
            heap.push(Reverse((current(&cursors[i])?, i)));
        }
    }
    emitted += flush(&mut taken, &cursors, &mut emit)?;
    Ok(emitted)
}

/// Moves `c` to its next non-empty batch; false at its end.
fn advance(c: &mut Cursor, converter: &RowConverter, key_idx: &[usize]) -> Result<bool> {
    loop {
        match c.input.next() {
            None => {
                c.batch = None;
                c.rows = None;
                return Ok(false);
            }
            Some(b) => {
                let b = b?;
                if b.num_rows() == 0 {
                    continue;
                }
                let cols: Vec<_> = key_idx.iter().map(|i| b.column(*i).clone()).collect();
                c.rows = Some(converter.convert_columns(&cols)?);
                c.batch = Some(b);
                c.pos = 0;
                return Ok(true);
            }
        }
    }
}

fn current(c: &Cursor) -> Result<OwnedRow> {
    c.rows
        .as_ref()
        .map(|r| r.row(c.pos).owned())
        .ok_or_else(|| {
            crate::error::Error::Arrow(arrow::error::ArrowError::InvalidArgumentError(
                "merge cursor has no batch".into(),
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use std::sync::Arc;

    fn batch(schema: &SchemaRef, keys: &[&str], vals: &[i64]) -> RecordBatch {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(keys.to_vec())),
                Arc::new(Int64Array::from(vals.to_vec())),
            ],
        )
        .unwrap()
    }

    #[test]
    fn merges_sorted_inputs_batch_by_batch_and_dedupes_on_request() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, false),
            Field::new("v", DataType::Int64, false),
        ]));
        let input =
            |batches: Vec<RecordBatch>| -> SortedInput { Box::new(batches.into_iter().map(Ok)) };
        let a = input(vec![
            batch(&schema, &["a", "c"], &[1, 3]),
            batch(&schema, &["e"], &[5]),
        ]);
        let b = input(vec![batch(&schema, &["b", "c", "d"], &[2, 33, 4])]);
        let mut out = Vec::new();
        let n = merge_sorted(schema.clone(), vec![a, b], &["k"], false, 2, |b| {
            assert!(b.num_rows() <= 2);
            out.extend(
                b.column(1)
                    .as_primitive::<Int64Type>()
                    .values()
                    .iter()
                    .copied(),
            );
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 6);
        // Equal keys come in input order.
        assert_eq!(out, [1, 2, 3, 33, 4, 5]);

        let a = input(vec![batch(&schema, &["a", "c"], &[1, 3])]);
        let b = input(vec![batch(&schema, &["a", "c", "d"], &[1, 3, 4])]);
        let mut keys = Vec::new();
        merge_sorted(schema, vec![a, b], &["k"], true, 100, |b| {
            keys.extend(
                b.column(0)
                    .as_string::<i32>()
                    .iter()
                    .map(|s| s.unwrap_or("").to_string()),
            );
            Ok(())
        })
        .unwrap();
        assert_eq!(keys, ["a", "c", "d"]);
    }
}
