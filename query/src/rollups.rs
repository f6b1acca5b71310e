//! `Rollups`: an optimizer rule that lets a `profiles` scan read rollup
//! files (samples summed per 1 minute and per 1 hour) where they give the
//! query the very answer the raw rows give.
//!
//! ```text
//! Aggregate: sum(value), min/max(x), count(DISTINCT x)   ← only these
//!   group by: columns, date_bin/date_trunc(time) or
//!             (CAST(time AS BIGINT) - origin) / step     ← step, origin
//!   (Projection | Filter)*                                  multiples of
//!     TableScan: profiles (time >= a AND time < b, …)       the rollup step
//!                 └──▶ ProfilesTable::with_rollups(steps, [a, b))
//! ```
//!
//! A rollup row sums, per series and stack, the raw rows of one step and
//! sits at the step's start; nothing else changes. So a query may read it
//! if it only sums `value`, looks at no other per-row quantity
//! (`duration_ns`, `value` in a filter, `count(*)`), and uses `time` only
//! to bound the range and to group by buckets whose width and origin are
//! multiples of the step. The range itself need not be aligned: the scan
//! splits it, reading rollups for the aligned middle and raw rows for the
//! edges ([`crate::tables::split`]). Users never name a rollup; `EXPLAIN`
//! shows the `rollups/<step>/…` files the scan reads.

use crate::tables::{ProfilesTable, RollupPlan};
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result, ScalarValue};
use datafusion::datasource::{provider_as_source, source_as_provider};
use datafusion::logical_expr::expr::{AggregateFunction, Alias, ScalarFunction};
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{
    Aggregate, BinaryExpr, Cast, Expr, LogicalPlan, Operator, TableScan, TryCast,
};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};
use flarego_storage::rollup::STEPS;
use flarego_storage::schema::{COL_DURATION, COL_TIME, COL_VALUE};
use std::collections::HashMap;
use std::sync::Arc;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Rollups;

impl OptimizerRule for Rollups {
    fn name(&self) -> &str {
        "flarego_rollups"
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
        let Some(rollup) = plan_for(agg) else {
            return Ok(Transformed::no(plan));
        };
        let input = agg.input.as_ref().clone().transform_up(|p| {
            let LogicalPlan::TableScan(scan) = &p else {
                return Ok(Transformed::no(p));
            };
            let Some(table) = profiles_of(scan) else {
                return Ok(Transformed::no(p));
            };
            if table.rollups() == Some(&rollup) {
                return Ok(Transformed::no(p));
            }
            let mut scan = scan.clone();
            scan.source = provider_as_source(Arc::new(table.with_rollups(rollup.clone())));
            Ok(Transformed::yes(LogicalPlan::TableScan(scan)))
        })?;
        if !input.transformed {
            return Ok(Transformed::no(plan));
        }
        let new = Aggregate::try_new(
            Arc::new(input.data),
            agg.group_expr.clone(),
            agg.aggr_expr.clone(),
        )?;
        Ok(Transformed::yes(LogicalPlan::Aggregate(new)))
    }
}

fn profiles_of(scan: &TableScan) -> Option<ProfilesTable> {
    let provider = source_as_provider(&scan.source).ok()?;
    provider.downcast_ref::<ProfilesTable>().cloned()
}

/// What an expression is in terms of the scan's per-row quantities.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Depends on no per-row quantity (series columns, stack, frames,
    /// literals): equal on a rollup row and its raw rows.
    Free,
    /// `time` itself.
    Time,
    /// `time` as integer nanoseconds.
    TimeNs,
    /// `time` in ns minus an origin.
    Offset(i64),
    /// A bucket of `time`: width and origin (ns); `floors` when it rounds
    /// down below the origin too (date_bin), not towards zero.
    Bucket {
        step: i64,
        origin: i64,
        floors: bool,
    },
    /// `value`, maybe cast.
    Value,
    /// Anything a rollup changes.
    Other,
}

/// The rollup steps and exact range an aggregate allows, if any.
fn plan_for(agg: &Aggregate) -> Option<RollupPlan> {
    let mut range = (i64::MIN, i64::MAX);
    let env = env_of(&agg.input, &mut range)?;
    let mut buckets = Vec::new();
    for g in &agg.group_expr {
        match kind(&env, g) {
            Kind::Free => {}
            Kind::Bucket {
                step,
                origin,
                floors,
            } => {
                // Truncating division groups rows below the origin
                // differently from their step's start.
                if !floors && range.0 < origin {
                    return None;
                }
                buckets.push((step, origin));
            }
            _ => return None,
        }
    }
    for a in &agg.aggr_expr {
        if !aggregate_allowed(&env, a) {
            return None;
        }
    }
    let steps: Vec<i64> = STEPS
        .iter()
        .copied()
        .filter(|s| {
            buckets
                .iter()
                .all(|(step, origin)| step % s == 0 && origin.rem_euclid(*s) == 0)
        })
        .collect();
    (!steps.is_empty()).then_some(RollupPlan {
        steps,
        from: range.0,
        to: range.1,
    })
}

fn aggregate_allowed(env: &HashMap<String, Kind>, e: &Expr) -> bool {
    let e = match e {
        Expr::Alias(Alias { expr, .. }) => expr.as_ref(),
        e => e,
    };
    let Expr::AggregateFunction(AggregateFunction { func, params }) = e else {
        return false;
    };
    if params.filter.is_some() || !params.order_by.is_empty() {
        return false;
    }
    let all_free = params.args.iter().all(|a| kind(env, a) == Kind::Free);
    match func.name() {
        "sum" => {
            !params.distinct && matches!(params.args.as_slice(), [a] if kind(env, a) == Kind::Value)
        }
        "min" | "max" => all_free,
        "count" => params.distinct && all_free,
        _ => false,
    }
}

/// The kinds of the columns `plan` outputs, narrowing `range` by its
/// filters; `None` when the path to the scan is not plain projections
/// and filters over `profiles`, or a filter looks at a per-row quantity.
fn env_of(plan: &LogicalPlan, range: &mut (i64, i64)) -> Option<HashMap<String, Kind>> {
    match plan {
        LogicalPlan::TableScan(scan) => {
            // Every column of the table: a filter may bound one the
            // scan does not output.
            let env: HashMap<String, Kind> = profiles_of(scan)?
                .schema()
                .fields()
                .iter()
                .map(|f| {
                    let k = match f.name().as_str() {
                        COL_TIME => Kind::Time,
                        COL_VALUE => Kind::Value,
                        COL_DURATION => Kind::Other,
                        _ => Kind::Free,
                    };
                    (f.name().clone(), k)
                })
                .collect();
            for f in &scan.filters {
                narrow(&env, f, range)?;
            }
            Some(env)
        }
        LogicalPlan::Filter(f) => {
            let env = env_of(&f.input, range)?;
            narrow(&env, &f.predicate, range)?;
            Some(env)
        }
        LogicalPlan::Projection(p) => {
            let inner = env_of(&p.input, range)?;
            let mut env = HashMap::new();
            for (e, field) in p.expr.iter().zip(p.schema.fields()) {
                env.insert(field.name().clone(), kind(&inner, e));
            }
            Some(env)
        }
        _ => None,
    }
}

/// Checks one filter: conjuncts of free columns, or `time` against a
/// timestamp, which narrow `range`.
fn narrow(env: &HashMap<String, Kind>, predicate: &Expr, range: &mut (i64, i64)) -> Option<()> {
    for c in split_conjunction(predicate) {
        if kind(env, c) == Kind::Free {
            continue;
        }
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = c else {
            return None;
        };
        let (op, t) = match (
            kind(env, left),
            literal_ns(right),
            kind(env, right),
            literal_ns(left),
        ) {
            (Kind::Time, Some(t), _, _) => (*op, t),
            (_, _, Kind::Time, Some(t)) => (op.swap()?, t),
            _ => return None,
        };
        match op {
            Operator::GtEq => range.0 = range.0.max(t),
            Operator::Gt => range.0 = range.0.max(t.saturating_add(1)),
            Operator::Lt => range.1 = range.1.min(t),
            Operator::LtEq => range.1 = range.1.min(t.saturating_add(1)),
            Operator::Eq => {
                range.0 = range.0.max(t);
                range.1 = range.1.min(t.saturating_add(1));
            }
            _ => return None,
        }
    }
    Some(())
}

fn kind(env: &HashMap<String, Kind>, e: &Expr) -> Kind {
    match e {
        Expr::Column(c) => env.get(&c.name).copied().unwrap_or(Kind::Other),
        Expr::Alias(Alias { expr, .. }) => kind(env, expr),
        Expr::Literal(..) => Kind::Free,
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
            match (kind(env, expr), field.data_type()) {
                (Kind::Free, _) => Kind::Free,
                (Kind::Time, DataType::Int64) => Kind::TimeNs,
                (
                    Kind::Time,
                    DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, _),
                ) => Kind::Time,
                (Kind::Value, DataType::Int64 | DataType::Float64 | DataType::Decimal128(..)) => {
                    Kind::Value
                }
                _ => Kind::Other,
            }
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (l, r) = (kind(env, left), kind(env, right));
            let n = integer(right);
            match (l, op, r, n) {
                (Kind::Free, _, Kind::Free, _) => Kind::Free,
                (Kind::TimeNs, Operator::Minus, _, Some(o)) => Kind::Offset(o),
                (Kind::TimeNs, Operator::Divide, _, Some(s)) if s > 0 => Kind::Bucket {
                    step: s,
                    origin: 0,
                    floors: false,
                },
                (Kind::Offset(o), Operator::Divide, _, Some(s)) if s > 0 => Kind::Bucket {
                    step: s,
                    origin: o,
                    floors: false,
                },
                _ => Kind::Other,
            }
        }
        Expr::ScalarFunction(ScalarFunction { func, args }) => {
            if let Some(b) = time_bucket(env, func.name(), args) {
                return b;
            }
            if args.iter().all(|a| kind(env, a) == Kind::Free) {
                Kind::Free
            } else {
                Kind::Other
            }
        }
        other => {
            let free = other
                .column_refs()
                .iter()
                .all(|c| env.get(&c.name) == Some(&Kind::Free));
            if free { Kind::Free } else { Kind::Other }
        }
    }
}

/// `date_bin(interval, time[, origin])` and `date_trunc(unit, time)`.
fn time_bucket(env: &HashMap<String, Kind>, name: &str, args: &[Expr]) -> Option<Kind> {
    const S: i64 = 1_000_000_000;
    match (name, args) {
        ("date_bin", [width, t, rest @ ..]) if kind(env, t) == Kind::Time => {
            let step = interval_ns(width)?;
            let origin = match rest {
                [] => 0,
                [o] => literal_ns(o)?,
                _ => return None,
            };
            (step > 0).then_some(Kind::Bucket {
                step,
                origin,
                floors: true,
            })
        }
        ("date_trunc", [unit, t]) if kind(env, t) == Kind::Time => {
            let Expr::Literal(
                ScalarValue::Utf8(Some(u))
                | ScalarValue::LargeUtf8(Some(u))
                | ScalarValue::Utf8View(Some(u)),
                _,
            ) = unit
            else {
                return None;
            };
            let step = match u.to_ascii_lowercase().as_str() {
                "second" => S,
                "minute" => 60 * S,
                "hour" => 3600 * S,
                "day" => 86_400 * S,
                _ => return None,
            };
            Some(Kind::Bucket {
                step,
                origin: 0,
                floors: true,
            })
        }
        _ => None,
    }
}

fn integer(e: &Expr) -> Option<i64> {
    match e {
        Expr::Literal(ScalarValue::Int64(Some(v)), _) => Some(*v),
        Expr::Literal(ScalarValue::Int32(Some(v)), _) => Some(i64::from(*v)),
        Expr::Cast(Cast { expr, .. }) => integer(expr),
        _ => None,
    }
}

fn interval_ns(e: &Expr) -> Option<i64> {
    match e {
        Expr::Literal(ScalarValue::IntervalMonthDayNano(Some(v)), _) if v.months == 0 => {
            i64::from(v.days)
                .checked_mul(86_400_000_000_000)?
                .checked_add(v.nanoseconds)
        }
        Expr::Literal(ScalarValue::IntervalDayTime(Some(v)), _) => i64::from(v.days)
            .checked_mul(86_400_000_000_000)?
            .checked_add(i64::from(v.milliseconds).checked_mul(1_000_000)?),
        _ => None,
    }
}

fn literal_ns(e: &Expr) -> Option<i64> {
    match e {
        Expr::Literal(v, _) => crate::tables::bounds::timestamp_ns(v),
        Expr::Cast(Cast { expr, .. }) => literal_ns(expr),
        _ => None,
    }
}
