//! The one query under flame graphs, top tables, diffs and exports: the
//! selection's values summed per stack (grouping by `stack_id`, the fast
//! form of grouping by `frames`), then each stack's frames, with `focus`,
//! `ignore` and `hide` applied.

use super::{ReadError, Selection};
use crate::QueryEngine;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Int64Type, UInt64Type};
use flarego_storage::TenantId;
use std::sync::Arc;

/// A selection's stacks (root first) and their summed values.
#[derive(Debug, Default, Clone)]
pub struct StackValues {
    /// `nanoseconds`, `count`, `bytes`, … (empty when nothing matched).
    pub unit: String,
    pub stacks: Vec<(Vec<Arc<str>>, i64)>,
}

impl StackValues {
    pub fn total(&self) -> i64 {
        self.stacks
            .iter()
            .fold(0i64, |t, (_, v)| t.saturating_add(*v))
    }
}

impl QueryEngine {
    /// The stacks of `sel` in `scope` with their values.
    pub async fn stack_values(
        &self,
        scope: Option<TenantId>,
        sel: &Selection,
    ) -> Result<StackValues, ReadError> {
        let filter = sel.profiles_where();
        let sums = format!(
            "SELECT stack_id, sum(value) AS v FROM profiles WHERE {filter} GROUP BY stack_id"
        );
        // The unit on the side: aggregating it per group would read a
        // string per row.
        let unit = format!("SELECT unit FROM profiles WHERE {filter} LIMIT 1");
        let (out, unit) = tokio::join!(self.sql(scope.clone(), &sums), self.sql(scope, &unit));
        let (out, unit) = (out?, unit?);
        let engine = self.engine().clone();
        let sel = sel.clone();
        flarego_storage::blocking(move || {
            let mut ids = Vec::with_capacity(out.num_rows());
            let mut values = Vec::with_capacity(out.num_rows());
            for b in &out.batches {
                let id = b.column(0).as_primitive::<UInt64Type>();
                let v = b.column(1).as_primitive::<Int64Type>();
                ids.extend(id.values().iter().copied());
                values.extend((0..v.len()).map(|i| if v.is_null(i) { 0 } else { v.value(i) }));
            }
            let unit = first_text(&unit)?;
            let frames = engine
                .frames_of(&ids)
                .map_err(|e| crate::Error::Execution(e.to_string()))?;
            let mut stacks = Vec::with_capacity(ids.len());
            for (f, v) in frames.into_iter().zip(values) {
                let Some(f) = f else { continue };
                if !sel.filters_frames() {
                    stacks.push((f.to_vec(), v));
                } else if let Some(kept) = sel.filter_frames(&f) {
                    stacks.push((kept.into_iter().map(Arc::from).collect(), v));
                }
            }
            Ok(StackValues { unit, stacks })
        })
    }
}

/// The first value of the first column, as text (empty if none).
fn first_text(out: &crate::QueryOutput) -> Result<String, ReadError> {
    for b in &out.batches {
        if b.num_rows() == 0 {
            continue;
        }
        let u = datafusion::arrow::compute::cast(
            b.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .map_err(|e| crate::Error::Execution(e.to_string()))?;
        let u = u.as_string::<i32>();
        return Ok(if u.is_valid(0) {
            u.value(0).to_string()
        } else {
            String::new()
        });
    }
    Ok(String::new())
}
