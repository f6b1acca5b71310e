//! `LateFrames`: an optimizer rule that groups by `stack_id` where the
//! query groups by `frames`.
//!
//! `stack_id` is a content hash of `frames`, so the two group the same
//! rows. Grouping by an integer is cheap; grouping by a list of strings
//! materialized per row is not. The rule rewrites
//!
//! ```text
//! Aggregate: group by [profiles.frames, ...]        Projection: frames_of(stack_id) AS frames, ...
//!   (Projection | Filter)*                    ──▶     Aggregate: group by [profiles.stack_id, ...]
//!     TableScan: profiles                               (Projection | Filter)*   (+ stack_id)
//!                                                         TableScan: profiles     (+ stack_id)
//! ```
//!
//! so frames are looked up once per group instead of once per row. Plans
//! of any other shape are left alone.

use crate::tables::profiles_schema;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    Aggregate, Expr, Filter, LogicalPlan, Projection, ScalarUDF, TableScan, TableScanBuilder,
};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};
use flarego_storage::schema::{COL_FRAMES, COL_STACK_ID};
use std::sync::Arc;

/// See the module documentation.
#[derive(Debug)]
pub struct LateFrames {
    frames_of: Arc<ScalarUDF>,
}

impl LateFrames {
    pub fn new(frames_of: Arc<ScalarUDF>) -> Self {
        LateFrames { frames_of }
    }
}

impl OptimizerRule for LateFrames {
    fn name(&self) -> &str {
        "flarego_late_frames"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(agg) = &plan else {
            return Ok(Transformed::no(plan));
        };
        match self.rewrite_aggregate(agg)? {
            Some(p) => Ok(Transformed::yes(p)),
            None => Ok(Transformed::no(plan)),
        }
    }
}

impl LateFrames {
    fn rewrite_aggregate(&self, agg: &Aggregate) -> Result<Option<LogicalPlan>> {
        // Exactly one plain `frames` group column, and no `stack_id` one.
        let frames_at: Vec<usize> = agg
            .group_expr
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e, Expr::Column(c) if c.name == COL_FRAMES))
            .map(|(i, _)| i)
            .collect();
        let [at] = frames_at.as_slice() else {
            return Ok(None);
        };
        let has_stack = agg
            .group_expr
            .iter()
            .any(|e| matches!(e, Expr::Column(c) if c.name == COL_STACK_ID));
        if has_stack
            || agg
                .group_expr
                .iter()
                .any(|e| matches!(e, Expr::GroupingSet(_)))
        {
            return Ok(None);
        }
        let Expr::Column(frames_col) = &agg.group_expr[*at] else {
            return Ok(None);
        };
        let Some((input, stack_col)) = with_stack_id(&agg.input, frames_col)? else {
            return Ok(None);
        };
        let mut group = agg.group_expr.clone();
        group[*at] = Expr::Column(stack_col.clone());
        let new_agg = Aggregate::try_new(Arc::new(input), group, agg.aggr_expr.clone())?;

        // Put `frames` back, named as before, above the cheaper aggregate.
        let old = agg.schema.clone();
        let new_schema = new_agg.schema.clone();
        let mut exprs = Vec::with_capacity(old.fields().len());
        for i in 0..old.fields().len() {
            let (q, f) = old.qualified_field(i);
            let (nq, nf) = new_schema.qualified_field(i);
            let col = Expr::Column(Column::new(nq.cloned(), nf.name()));
            let e = if i == *at {
                Expr::ScalarFunction(ScalarFunction::new_udf(self.frames_of.clone(), vec![col]))
            } else {
                col
            };
            exprs.push(e.alias_qualified(q.cloned(), f.name()));
        }
        Ok(Some(LogicalPlan::Projection(Projection::try_new(
            exprs,
            Arc::new(LogicalPlan::Aggregate(new_agg)),
        )?)))
    }
}

/// `plan` rewritten so its output also carries the `stack_id` of the
/// profiles scan that `frames` comes from, and that column; `None` if the
/// path down to the scan is not one of plain projections and filters.
fn with_stack_id(plan: &LogicalPlan, frames: &Column) -> Result<Option<(LogicalPlan, Column)>> {
    match plan {
        LogicalPlan::TableScan(scan) => {
            if scan.source.schema() != profiles_schema() {
                return Ok(None);
            }
            if frames
                .relation
                .as_ref()
                .is_some_and(|r| r != &scan.table_name)
            {
                return Ok(None);
            }
            let stack_idx = profiles_schema().index_of(COL_STACK_ID)?;
            let stack_col = Column::new(Some(scan.table_name.clone()), COL_STACK_ID);
            let mut projection = scan
                .projection
                .clone()
                .unwrap_or_else(|| (0..profiles_schema().fields().len()).collect());
            if !projection.contains(&stack_idx) {
                projection.push(stack_idx);
            }
            let mut new_scan: TableScan =
                TableScanBuilder::new(scan.table_name.clone(), scan.source.clone())
                    .with_projection(Some(projection))
                    .with_filters(scan.filters.clone())
                    .with_fetch(scan.fetch)
                    .build()?;
            new_scan.statistics_requests = scan.statistics_requests.clone();
            Ok(Some((LogicalPlan::TableScan(new_scan), stack_col)))
        }
        LogicalPlan::Filter(f) => {
            let Some((input, stack)) = with_stack_id(&f.input, frames)? else {
                return Ok(None);
            };
            let filter = Filter::try_new(f.predicate.clone(), Arc::new(input))?;
            Ok(Some((LogicalPlan::Filter(filter), stack)))
        }
        LogicalPlan::Projection(p) => {
            // `frames` must pass through as the plain column.
            let passes = p
                .expr
                .iter()
                .any(|e| matches!(e, Expr::Column(c) if c.name == COL_FRAMES));
            if !passes {
                return Ok(None);
            }
            let Some((input, stack)) = with_stack_id(&p.input, frames)? else {
                return Ok(None);
            };
            let mut exprs = p.expr.clone();
            if !exprs
                .iter()
                .any(|e| matches!(e, Expr::Column(c) if *c == stack))
            {
                exprs.push(Expr::Column(stack.clone()));
            }
            let proj = Projection::try_new(exprs, Arc::new(input))?;
            Ok(Some((LogicalPlan::Projection(proj), stack)))
        }
        _ => Ok(None),
    }
}
