//! An [`Expr`] compiled to SQL over `profiles` and `metrics`.
//!
//! Every operand that reads data becomes one query returning one row per
//! group — `service`, `instance` and the labels of `by (…)` — and its
//! `value`. Thresholds stay out of the SQL: comparisons, `and`, `or` and
//! `not` are applied to the rows in memory ([`crate::condition`]), so
//! rules that read the same selection with different thresholds share one
//! query (one scan) per evaluation.
//!
//! - A metric alone reads its latest window in the lookback (`window` of
//!   the rule, default 1 m), summing the group's series at that time.
//! - `avg_over`, `max_over`, `min_over` aggregate the group's per-window
//!   sums over their window; `increase` is the last minus the first
//!   (the last alone after a counter reset), `rate` that per second.
//! - `goroutines(…)` and `value`/`share` of `heap_inuse_*` read the
//!   latest window (they are snapshots); `value`/`share` of cumulative
//!   types (CPU, allocations, block, mutex) sum over the lookback.
//!   `frame`, `leaf` and `state` matchers select stacks inside a group;
//!   every other matcher selects series (and so groups).

use crate::expr::{CmpOp, Expr, Matcher, Op, Operand, OverFn, ProfileFn, Selector};
use flarego_query::read::selection::{
    metrics_matcher_sql, metrics_subject, profiles_matcher_sql, profiles_subject, quote,
};

/// Profile types of the SQL surface.
pub const PROFILE_TYPES: [&str; 11] = [
    "cpu",
    "cpu_samples",
    "goroutine",
    "heap_inuse_space",
    "heap_inuse_objects",
    "alloc_space",
    "alloc_objects",
    "block_delay",
    "block_contentions",
    "mutex_delay",
    "mutex_contentions",
];

/// Types whose windows are snapshots, read at the latest window.
const SNAPSHOT_TYPES: [&str; 3] = ["goroutine", "heap_inuse_space", "heap_inuse_objects"];

/// One query an expression reads: its SQL and the names of its group
/// columns (every other column is `value`); for profile operands, also
/// the scan and hit it was built from, so queries over one scan can be
/// merged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Query {
    pub sql: String,
    pub keys: Vec<String>,
    pub scan: Option<(ProfileScan, Hit)>,
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Side {
    Const(f64),
    /// The rows of query `n` of [`Compiled::queries`].
    Query(usize),
}

/// The condition with `not` pushed into the comparisons.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Cmp(Side, CmpOp, Side),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
}

/// A compiled expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    pub queries: Vec<Query>,
    pub cond: Cond,
}

/// Why an expression cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CompileError(pub String);

/// What compiling may check names against.
pub struct Vocabulary<'a> {
    /// Whether a metric name is known (the agent's, or seen in the data).
    pub metric_known: &'a dyn Fn(&str) -> bool,
}

/// Compiles `expr`; `lookback_ns` is how far back operands without a
/// window of their own read.
pub fn compile(
    expr: &Expr,
    lookback_ns: i64,
    vocab: &Vocabulary<'_>,
) -> Result<Compiled, CompileError> {
    let mut c = Compiler {
        queries: Vec::new(),
        lookback_ns,
        vocab,
    };
    let cond = c.cond(expr, false)?;
    c.keys_of(&cond)?;
    Ok(Compiled {
        queries: c.queries,
        cond,
    })
}

struct Compiler<'a, 'b> {
    queries: Vec<Query>,
    lookback_ns: i64,
    vocab: &'a Vocabulary<'b>,
}

fn negate(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Ge,
        CmpOp::Le => CmpOp::Gt,
        CmpOp::Gt => CmpOp::Le,
        CmpOp::Ge => CmpOp::Lt,
        CmpOp::Eq => CmpOp::Ne,
        CmpOp::Ne => CmpOp::Eq,
    }
}

impl Compiler<'_, '_> {
    fn cond(&mut self, e: &Expr, negated: bool) -> Result<Cond, CompileError> {
        Ok(match (e, negated) {
            (Expr::Not(inner), n) => self.cond(inner, !n)?,
            (Expr::And(a, b), false) | (Expr::Or(a, b), true) => Cond::And(
                Box::new(self.cond(a, negated)?),
                Box::new(self.cond(b, negated)?),
            ),
            (Expr::Or(a, b), false) | (Expr::And(a, b), true) => Cond::Or(
                Box::new(self.cond(a, negated)?),
                Box::new(self.cond(b, negated)?),
            ),
            (Expr::Compare(l, op, r), n) => {
                let op = if n { negate(*op) } else { *op };
                Cond::Cmp(self.side(l)?, op, self.side(r)?)
            }
        })
    }

    fn side(&mut self, o: &Operand) -> Result<Side, CompileError> {
        let q = match o {
            Operand::Number(n) => return Ok(Side::Const(*n)),
            Operand::Metric { selector, by } => self.metric(selector, None, by)?,
            Operand::Over {
                func,
                selector,
                window_ns,
                by,
            } => self.metric(selector, Some((*func, *window_ns)), by)?,
            Operand::Profile {
                func,
                profile_type,
                matchers,
                by,
            } => self.profile(*func, profile_type.as_deref(), matchers, by)?,
        };
        // The same operand twice in one rule is read once.
        let n = match self.queries.iter().position(|x| *x == q) {
            Some(n) => n,
            None => {
                self.queries.push(q);
                self.queries.len() - 1
            }
        };
        Ok(Side::Query(n))
    }

    /// The group columns of a condition; both sides of a comparison,
    /// `and` and `or` must group alike (or one side be a constant).
    fn keys_of(&self, c: &Cond) -> Result<Option<Vec<String>>, CompileError> {
        let both = |a: Option<Vec<String>>, b: Option<Vec<String>>| match (a, b) {
            (Some(a), Some(b)) if a != b => Err(CompileError(format!(
                "both sides must be grouped alike: ({}) against ({}); add the same by (…) to each",
                a.join(", "),
                b.join(", ")
            ))),
            (a, b) => Ok(a.or(b)),
        };
        match c {
            Cond::Cmp(l, _, r) => {
                let k = |s: &Side| match s {
                    Side::Const(_) => None,
                    Side::Query(n) => Some(self.queries[*n].keys.clone()),
                };
                both(k(l), k(r))
            }
            Cond::And(a, b) | Cond::Or(a, b) => both(self.keys_of(a)?, self.keys_of(b)?),
        }
    }

    fn lookback(&self, window_ns: i64) -> String {
        // Whole milliseconds keep the text readable; windows are parsed
        // from durations, so nothing is lost.
        let ms = window_ns.max(1_000_000) / 1_000_000;
        format!("time >= now() - INTERVAL '{ms} milliseconds'")
    }

    fn metric(
        &self,
        sel: &Selector,
        over: Option<(OverFn, i64)>,
        by: &[String],
    ) -> Result<Query, CompileError> {
        if !(self.vocab.metric_known)(&sel.metric) {
            return Err(CompileError(format!(
                "unknown metric {:?} (not one an agent sends, nor seen in the data)",
                sel.metric
            )));
        }
        check_regexes(&sel.matchers)?;
        let keys = group_keys(by);
        let key_cols = key_columns(&keys, metrics_subject);
        let window = over.map_or(self.lookback_ns, |(_, w)| w);
        let mut filter = vec![
            format!("name = {}", quote(&sel.metric)),
            self.lookback(window),
        ];
        filter.extend(sel.matchers.iter().map(metrics_matcher_sql));
        let per_window = format!(
            "SELECT {key_cols}, time, sum(value) AS v FROM metrics WHERE {} GROUP BY {}",
            filter.join(" AND "),
            positions(keys.len() + 1)
        );
        let k = quoted_list(&keys);
        let sql = match over {
            None => latest(&k, &per_window, "v AS value"),
            Some((func, window_ns)) => {
                let agg = match func {
                    OverFn::Avg => "avg(v)".to_string(),
                    OverFn::Max => "max(v)".to_string(),
                    OverFn::Min => "min(v)".to_string(),
                    OverFn::Increase => increase(),
                    OverFn::Rate => format!("({}) / {}", increase(), window_ns as f64 / 1e9),
                };
                format!(
                    "SELECT {k}, CAST({agg} AS DOUBLE) AS value FROM ({per_window}) GROUP BY {k}"
                )
            }
        };
        Ok(Query {
            sql,
            keys,
            scan: None,
        })
    }

    fn profile(
        &self,
        func: ProfileFn,
        profile_type: Option<&str>,
        matchers: &[Matcher],
        by: &[String],
    ) -> Result<Query, CompileError> {
        let profile_type = profile_type.unwrap_or("goroutine");
        if !PROFILE_TYPES.contains(&profile_type) {
            return Err(CompileError(format!(
                "unknown profile type {profile_type:?} (use {})",
                PROFILE_TYPES.join(", ")
            )));
        }
        check_regexes(matchers)?;
        let keys = group_keys(by);
        let (content, series): (Vec<&Matcher>, Vec<&Matcher>) = matchers
            .iter()
            .partition(|m| matches!(m.name.as_str(), "frame" | "leaf" | "state"));
        let mut series_filter = vec![
            format!("profile_type = {}", quote(profile_type)),
            self.lookback(self.lookback_ns),
        ];
        series_filter.extend(series.iter().map(|m| profiles_matcher_sql(m)));
        let scan = ProfileScan {
            snapshot: SNAPSHOT_TYPES.contains(&profile_type),
            series_filter,
            keys: keys.clone(),
        };
        let hit = Hit {
            content: content.iter().map(|m| content_sql(m)).collect(),
            needs_frames: content.iter().any(|m| m.name != "state"),
            needs_state: content.iter().any(|m| m.name == "state"),
            share: func == ProfileFn::Share,
        };
        let sql = scan.sql(std::slice::from_ref(&hit));
        Ok(Query {
            sql,
            keys,
            scan: Some((scan, hit)),
        })
    }
}

/// What profile operands read before their stack conditions: rows of one
/// profile type in the lookback, of the matching series, per group. Rules
/// whose operands have the same scan share one query, each condition a
/// column of its own ([`ProfileScan::sql`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProfileScan {
    /// Snapshot types read the latest window, others sum the lookback.
    pub snapshot: bool,
    pub series_filter: Vec<String>,
    pub keys: Vec<String>,
}

/// The stacks one profile operand counts within its scan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hit {
    /// Conditions over `frames` and `state`, all of which must hold.
    pub content: Vec<String>,
    pub needs_frames: bool,
    pub needs_state: bool,
    /// The share of the group's total, else the value.
    pub share: bool,
}

impl ProfileScan {
    /// One query answering every hit: group columns, then `value` for a
    /// single hit, or `value0`, `value1`, … in the order given.
    pub fn sql(&self, hits: &[Hit]) -> String {
        let keys = &self.keys;
        let needs_frames = hits.iter().any(|h| h.needs_frames);
        // `by (state)` already brings the column.
        let needs_state = hits.iter().any(|h| h.needs_state) && !keys.iter().any(|k| k == "state");
        let mut cols = vec![key_columns(keys, profiles_subject)];
        if self.snapshot {
            cols.push("time".into());
        }
        if needs_state {
            cols.push("coalesce(state, '') AS state".into());
        }
        if needs_frames {
            cols.push("frames".into());
        }
        let inner = format!(
            "SELECT {}, sum(value) AS v FROM profiles WHERE {} GROUP BY {}",
            cols.join(", "),
            self.series_filter.join(" AND "),
            positions(
                keys.len()
                    + usize::from(self.snapshot)
                    + usize::from(needs_state)
                    + usize::from(needs_frames)
            )
        );
        let name = |i: usize| {
            if hits.len() == 1 {
                "value".to_string()
            } else {
                format!("value{i}")
            }
        };
        let sums: Vec<String> = hits
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let hit = if h.content.is_empty() {
                    "v".to_string()
                } else {
                    format!("CASE WHEN {} THEN v ELSE 0 END", h.content.join(" AND "))
                };
                format!("sum({hit}) AS hit{i}")
            })
            .collect();
        let values: Vec<String> = hits
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let v = if h.share {
                    format!("CASE WHEN total > 0 THEN CAST(hit{i} AS DOUBLE) / CAST(total AS DOUBLE) ELSE 0 END")
                } else {
                    format!("CAST(hit{i} AS DOUBLE)")
                };
                format!("{v} AS {}", name(i))
            })
            .collect();
        let k = quoted_list(keys);
        let (sums, values) = (sums.join(", "), values.join(", "));
        if self.snapshot {
            let per_window = format!(
                "SELECT {k}, time, {sums}, sum(v) AS total FROM ({inner}) GROUP BY {k}, time"
            );
            latest(&k, &per_window, &values)
        } else {
            format!(
                "SELECT {k}, {values} FROM (SELECT {k}, {sums}, sum(v) AS total FROM ({inner}) GROUP BY {k})"
            )
        }
    }
}

/// `service`, `instance`, then the `by` labels not already there.
fn group_keys(by: &[String]) -> Vec<String> {
    let mut keys = vec!["service".to_string(), "instance".to_string()];
    for l in by {
        let l = if l == "service_name" { "service" } else { l };
        if !keys.iter().any(|k| k == l) {
            keys.push(l.to_string());
        }
    }
    keys
}

fn key_columns(keys: &[String], subject: fn(&str) -> String) -> String {
    keys.iter()
        .map(|k| format!("{} AS \"{k}\"", subject(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn quoted_list(keys: &[String]) -> String {
    keys.iter()
        .map(|k| format!("\"{k}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn positions(n: usize) -> String {
    (1..=n)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each group's row at its latest `time` in `per_window`; `values` are
/// the selected value expressions with their names.
fn latest(keys: &str, per_window: &str, values: &str) -> String {
    format!(
        "SELECT {keys}, {values} FROM (SELECT *, row_number() OVER (PARTITION BY {keys} ORDER BY time DESC) AS rn FROM ({per_window})) WHERE rn = 1"
    )
}

fn increase() -> String {
    let (first, last) = (
        "first_value(v ORDER BY time)",
        "last_value(v ORDER BY time)",
    );
    format!("CASE WHEN {last} >= {first} THEN {last} - {first} ELSE {last} END")
}

/// A `frame`, `leaf` or `state` matcher over one stack row.
fn content_sql(m: &Matcher) -> String {
    let v = quote(&m.value);
    let anchored = quote(&format!("^(?:{})$", m.value));
    let positive = match (m.name.as_str(), m.op) {
        ("frame", Op::Eq | Op::Ne) => format!("array_has(frames, {v})"),
        ("frame", Op::Re | Op::NotRe) => format!("has_frame_regex(frames, {anchored})"),
        ("leaf", Op::Eq | Op::Ne) => format!("coalesce(leaf(frames), '') = {v}"),
        ("leaf", Op::Re | Op::NotRe) => {
            format!("regexp_like(coalesce(leaf(frames), ''), {anchored})")
        }
        (_, Op::Eq | Op::Ne) => format!("state = {v}"),
        (_, Op::Re | Op::NotRe) => format!("regexp_like(state, {anchored})"),
    };
    match m.op {
        Op::Eq | Op::Re => positive,
        Op::Ne | Op::NotRe => format!("NOT ({positive})"),
    }
}

fn check_regexes(matchers: &[Matcher]) -> Result<(), CompileError> {
    for m in matchers {
        if matches!(m.op, Op::Re | Op::NotRe) {
            regex::Regex::new(&format!("^(?:{})$", m.value)).map_err(|e| {
                CompileError(format!(
                    "{}=~{:?} is not a valid regex: {e}",
                    m.name, m.value
                ))
            })?;
        }
        if !m
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err(CompileError(format!("{:?} is not a label name", m.name)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::parse;

    fn all_known(_: &str) -> bool {
        true
    }

    fn compiled(text: &str) -> Result<Compiled, CompileError> {
        let vocab = Vocabulary {
            metric_known: &all_known,
        };
        compile(&parse(text).unwrap(), 60_000_000_000, &vocab)
    }

    #[test]
    fn not_is_pushed_into_comparisons_and_operands_are_read_once() {
        let c = compiled("not (x > 1 or x < 0) and x != 5").unwrap();
        assert_eq!(c.queries.len(), 1);
        let q = Side::Query(0);
        assert_eq!(
            c.cond,
            Cond::And(
                Box::new(Cond::And(
                    Box::new(Cond::Cmp(q.clone(), CmpOp::Le, Side::Const(1.0))),
                    Box::new(Cond::Cmp(q.clone(), CmpOp::Ge, Side::Const(0.0)))
                )),
                Box::new(Cond::Cmp(q, CmpOp::Ne, Side::Const(5.0)))
            )
        );
    }

    #[test]
    fn thresholds_stay_out_of_the_sql() {
        let a = compiled(r#"goroutines(state = "chan receive") > 20"#).unwrap();
        let b = compiled(r#"goroutines(state = "chan receive") > 1000"#).unwrap();
        assert_eq!(a.queries, b.queries);
        let sql = &a.queries[0].sql;
        assert!(sql.contains("profile_type = 'goroutine'"), "{sql}");
        assert!(sql.contains("state = 'chan receive'"), "{sql}");
        assert!(!sql.contains("frames"), "no frames needed: {sql}");
        assert!(sql.contains("ORDER BY time DESC"), "latest window: {sql}");
    }

    #[test]
    fn names_are_checked() {
        let vocab = Vocabulary {
            metric_known: &|m: &str| m == "go_goroutines",
        };
        let e = compile(&parse("go_gorutines > 1").unwrap(), 1, &vocab).unwrap_err();
        assert!(e.0.contains("unknown metric \"go_gorutines\""), "{e}");
        let e = compiled("share(cpuu, frame = \"x\") > 1%").unwrap_err();
        assert!(e.0.contains("unknown profile type \"cpuu\""), "{e}");
        let e = compiled("share(cpu, frame =~ \"(\") > 1%").unwrap_err();
        assert!(e.0.contains("not a valid regex"), "{e}");
        let e = compiled("x by (pod) > y").unwrap_err();
        assert!(e.0.contains("grouped alike"), "{e}");
    }
}
