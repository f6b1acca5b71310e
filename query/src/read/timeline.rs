//! `GET /api/v1/timeline` and `GET /api/v1/metrics/series`: the
//! selection's values per time step, one series per group (goroutine
//! state, instance, service or a label), empty steps as explicit zeros.
//!
//! Without a `step`, one is chosen from a ladder of round steps so the
//! range holds at most about 1,500 points (and never less than a window
//! for profiles); a `step` giving more than 10,000 points is refused.

use super::selection::quote;
use super::time::parse_step;
use super::{ReadError, Selection};
use crate::QueryEngine;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use flarego_storage::TenantId;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Most points a requested step may give.
pub const MAX_POINTS: i64 = 10_000;
/// Points an automatic step aims below.
const AUTO_POINTS: i64 = 1_500;
/// Round steps an automatic step is chosen from, in seconds.
const LADDER: [i64; 17] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 86400,
];

/// What series are split by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    None,
    State,
    Instance,
    Service,
    Label(String),
    /// Several of the above: a series per combination of their values
    /// (its `group` joins them with [`GROUP_SEPARATOR`]).
    Many(Vec<GroupBy>),
}

/// What joins the values of a [`GroupBy::Many`] group.
pub const GROUP_SEPARATOR: char = '\u{1f}';

impl GroupBy {
    pub fn parse(raw: Option<&str>) -> Result<GroupBy, ReadError> {
        Ok(match raw {
            None | Some("") => GroupBy::None,
            Some("state") => GroupBy::State,
            Some("instance") => GroupBy::Instance,
            Some("service") => GroupBy::Service,
            Some(s) => match s.strip_prefix("label:") {
                Some(name)
                    if !name.is_empty()
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') =>
                {
                    GroupBy::Label(name.to_string())
                }
                _ => {
                    return Err(ReadError::param(
                        "group_by",
                        format!("{s:?}: use state, instance, service or label:NAME"),
                    ));
                }
            },
        })
    }

    fn sql(&self, metrics: bool) -> String {
        match self {
            GroupBy::None => "''".into(),
            GroupBy::State if !metrics => "coalesce(state, '')".into(),
            GroupBy::State => "coalesce(labels['state'], '')".into(),
            GroupBy::Instance => "instance".into(),
            GroupBy::Service => "service".into(),
            GroupBy::Label(n) => format!("coalesce(labels[{}], '')", quote(n)),
            GroupBy::Many(parts) if parts.is_empty() => "''".into(),
            GroupBy::Many(parts) => {
                let parts: Vec<String> = parts.iter().map(|p| p.sql(metrics)).collect();
                format!(
                    "concat_ws({}, {})",
                    quote(&GROUP_SEPARATOR.to_string()),
                    parts.join(", ")
                )
            }
        }
    }
}

/// How metric points in one step are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    Avg,
    Sum,
    Min,
    Max,
}

impl Agg {
    pub fn parse(raw: Option<&str>) -> Result<Agg, ReadError> {
        Ok(match raw {
            None | Some("avg") => Agg::Avg,
            Some("sum") => Agg::Sum,
            Some("min") => Agg::Min,
            Some("max") => Agg::Max,
            Some(o) => {
                return Err(ReadError::param(
                    "agg",
                    format!("{o:?}: use avg, sum, min or max"),
                ));
            }
        })
    }
    fn sql(self) -> &'static str {
        match self {
            Agg::Avg => "avg",
            Agg::Sum => "sum",
            Agg::Min => "min",
            Agg::Max => "max",
        }
    }
}

/// One group's points.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Series {
    pub group: String,
    pub values: Vec<f64>,
    pub total: f64,
}

/// Points per step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Timeline {
    pub step_ns: i64,
    /// Start of each step, ns.
    pub times: Vec<i64>,
    pub series: Vec<Series>,
    pub unit: String,
}

/// `a / b` rounded up, for `a >= 0`, `b > 0`.
fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

/// The step to use: `requested` (checked) or one from the ladder.
pub fn choose_step(
    requested: Option<&str>,
    from_ns: i64,
    to_ns: i64,
    min_ns: i64,
) -> Result<i64, ReadError> {
    let range = to_ns.saturating_sub(from_ns).max(1);
    match requested {
        Some(raw) => {
            let step = parse_step("step", raw)?;
            let points = ceil_div(range, step);
            if points > MAX_POINTS {
                return Err(ReadError::param(
                    "step",
                    format!(
                        "{raw} gives {points} points over the range, over the limit of {MAX_POINTS}"
                    ),
                ));
            }
            Ok(step)
        }
        None => {
            let want = ceil_div(range, AUTO_POINTS);
            let step = LADDER
                .iter()
                .map(|s| s * 1_000_000_000)
                .find(|s| *s >= want)
                .unwrap_or(ceil_div(want, 86_400_000_000_000) * 86_400_000_000_000);
            Ok(step.max(min_ns))
        }
    }
}

impl QueryEngine {
    /// Profile values of `sel` per step and group.
    pub async fn timeline(
        &self,
        scope: Option<TenantId>,
        sel: &Selection,
        step: Option<&str>,
        group: &GroupBy,
        limit: usize,
    ) -> Result<Timeline, ReadError> {
        let step = choose_step(step, sel.from_ns, sel.to_ns, self.engine().window_ns())?;
        let start = sel.from_ns.div_euclid(step) * step;
        let sql = format!(
            "SELECT (CAST(time AS BIGINT) - {start}) / {step} AS b, {} AS g, CAST(sum(value) AS DOUBLE) AS v, max(unit) AS u FROM profiles WHERE {} GROUP BY 1, 2",
            group.sql(false),
            sel.profiles_where()
        );
        self.steps(scope, &sql, start, step, sel.to_ns, limit).await
    }

    /// Metric `name` of `sel` per step and group, points combined by `agg`.
    #[allow(clippy::too_many_arguments)]
    pub async fn metric_series(
        &self,
        scope: Option<TenantId>,
        sel: &Selection,
        name: &str,
        step: Option<&str>,
        group: &GroupBy,
        agg: Agg,
        limit: usize,
    ) -> Result<Timeline, ReadError> {
        let step = choose_step(step, sel.from_ns, sel.to_ns, 1_000_000_000)?;
        let start = sel.from_ns.div_euclid(step) * step;
        let sql = format!(
            "SELECT (CAST(time AS BIGINT) - {start}) / {step} AS b, {} AS g, CAST({}(value) AS DOUBLE) AS v, '' AS u FROM metrics WHERE {} GROUP BY 1, 2",
            group.sql(true),
            agg.sql(),
            sel.metrics_where(name)
        );
        self.steps(scope, &sql, start, step, sel.to_ns, limit).await
    }

    async fn steps(
        &self,
        scope: Option<TenantId>,
        sql: &str,
        start: i64,
        step: i64,
        to_ns: i64,
        limit: usize,
    ) -> Result<Timeline, ReadError> {
        let out = self.sql(scope, sql).await?;
        let n = ceil_div(to_ns.saturating_sub(start), step).max(1) as usize;
        let mut groups: HashMap<String, Vec<f64>> = HashMap::new();
        let mut unit = String::new();
        for b in &out.batches {
            let bucket = b.column(0).as_primitive::<Int64Type>();
            let g = datafusion::arrow::compute::cast(b.column(1), &DataType::Utf8)
                .map_err(|e| crate::Error::Execution(e.to_string()))?;
            let g = g.as_string::<i32>();
            let v = b.column(2).as_primitive::<Float64Type>();
            let u = datafusion::arrow::compute::cast(b.column(3), &DataType::Utf8)
                .map_err(|e| crate::Error::Execution(e.to_string()))?;
            let u = u.as_string::<i32>();
            for i in 0..b.num_rows() {
                let idx = bucket.value(i);
                if idx < 0 || idx as usize >= n || v.is_null(i) {
                    continue;
                }
                let name = if g.is_null(i) { "" } else { g.value(i) };
                groups
                    .entry(name.to_string())
                    .or_insert_with(|| vec![0.0; n])[idx as usize] += v.value(i);
                if unit.is_empty() && u.is_valid(i) {
                    unit = u.value(i).to_string();
                }
            }
        }
        let mut series: Vec<Series> = groups
            .into_iter()
            .map(|(group, values)| {
                let total = values.iter().sum();
                Series {
                    group,
                    values,
                    total,
                }
            })
            .collect();
        series.sort_by(|a, b| b.total.total_cmp(&a.total).then(a.group.cmp(&b.group)));
        if limit > 0 && series.len() > limit {
            let rest = series.split_off(limit - 1);
            let mut values = vec![0.0; n];
            for s in &rest {
                for (a, b) in values.iter_mut().zip(&s.values) {
                    *a += b;
                }
            }
            let total = values.iter().sum();
            series.push(Series {
                group: format!("other ({} more)", rest.len()),
                values,
                total,
            });
        }
        Ok(Timeline {
            step_ns: step,
            times: (0..n as i64).map(|i| start + i * step).collect(),
            series,
            unit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round_bounded_and_checked() {
        let h = 3_600_000_000_000;
        assert_eq!(
            choose_step(None, 0, h, 10_000_000_000).unwrap(),
            10_000_000_000
        );
        assert_eq!(
            choose_step(None, 0, 24 * h, 10_000_000_000).unwrap(),
            60_000_000_000
        );
        assert_eq!(
            choose_step(None, 0, 7 * 24 * h, 1).unwrap(),
            600_000_000_000
        );
        assert_eq!(choose_step(Some("1m"), 0, h, 1).unwrap(), 60_000_000_000);
        let e = choose_step(Some("1s"), 0, 24 * h, 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("86400 points") && e.contains("10000"), "{e}");
        assert!(GroupBy::parse(Some("label:env")).is_ok());
        assert!(GroupBy::parse(Some("label:a'b")).is_err());
    }
}
