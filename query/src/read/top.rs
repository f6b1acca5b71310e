//! `GET /api/v1/top`: per function, its self value (where it is the leaf)
//! and its total (every stack it is in, counted once per stack even when
//! recursive, as `go tool pprof -top` counts `cum`).

use super::stacks::StackValues;
use super::{ReadError, Selection};
use crate::QueryEngine;
use flarego_storage::TenantId;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One function of the table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopRow {
    pub function: String,
    #[serde(rename = "self")]
    pub self_: i64,
    pub total: i64,
    pub self_percent: f64,
    pub total_percent: f64,
}

/// The table, with the selection's total.
#[derive(Debug, Clone, Serialize)]
pub struct Top {
    pub profile_type: String,
    pub unit: String,
    pub total: i64,
    /// Functions before `limit`.
    pub functions: usize,
    pub rows: Vec<TopRow>,
}

/// Which column orders the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    SelfValue,
    Total,
    Name,
}

impl SortBy {
    pub fn parse(raw: &str) -> Result<SortBy, ReadError> {
        match raw {
            "self" => Ok(SortBy::SelfValue),
            "total" | "cum" => Ok(SortBy::Total),
            "name" => Ok(SortBy::Name),
            other => Err(ReadError::param(
                "sort",
                format!("{other:?}: use self, total or name"),
            )),
        }
    }
}

/// The per-function table of `stacks`.
pub fn table(
    stacks: &StackValues,
    sort: SortBy,
    limit: Option<usize>,
) -> (i64, usize, Vec<TopRow>) {
    let mut per: HashMap<Arc<str>, (i64, i64), flarego_storage::KeyedHash> = HashMap::default();
    let mut seen: HashSet<&str, flarego_storage::KeyedHash> = HashSet::default();
    let total = stacks.total();
    for (frames, v) in &stacks.stacks {
        seen.clear();
        for f in frames {
            if seen.insert(f) {
                let e = per.entry(f.clone()).or_default();
                e.1 = e.1.saturating_add(*v);
            }
        }
        if let Some(leaf) = frames.last() {
            let e = per.entry(leaf.clone()).or_default();
            e.0 = e.0.saturating_add(*v);
        }
    }
    let pct = |v: i64| {
        if total == 0 {
            0.0
        } else {
            v as f64 * 100.0 / total as f64
        }
    };
    let mut rows: Vec<TopRow> = per
        .into_iter()
        .map(|(f, (s, t))| TopRow {
            function: f.to_string(),
            self_: s,
            total: t,
            self_percent: pct(s),
            total_percent: pct(t),
        })
        .collect();
    match sort {
        SortBy::SelfValue => rows.sort_by(|a, b| {
            b.self_
                .cmp(&a.self_)
                .then(b.total.cmp(&a.total))
                .then(a.function.cmp(&b.function))
        }),
        SortBy::Total => rows.sort_by(|a, b| {
            b.total
                .cmp(&a.total)
                .then(b.self_.cmp(&a.self_))
                .then(a.function.cmp(&b.function))
        }),
        SortBy::Name => rows.sort_by(|a, b| a.function.cmp(&b.function)),
    }
    let functions = rows.len();
    if let Some(n) = limit {
        rows.truncate(n);
    }
    (total, functions, rows)
}

impl QueryEngine {
    /// The top table of `sel`.
    pub async fn top(
        &self,
        scope: Option<TenantId>,
        sel: &Selection,
        sort: SortBy,
        limit: Option<usize>,
    ) -> Result<Top, ReadError> {
        let stacks = self.stack_values(scope, sel).await?;
        let (total, functions, rows) = flarego_storage::blocking(|| table(&stacks, sort, limit));
        Ok(Top {
            profile_type: sel.profile_type.clone(),
            unit: stacks.unit,
            total,
            functions,
            rows,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recursive_function_counts_once_per_stack() {
        let s = |f: &[&str], v| (f.iter().map(|x| Arc::<str>::from(*x)).collect(), v);
        let stacks = StackValues {
            unit: "nanoseconds".into(),
            stacks: vec![
                s(&["main", "walk", "walk", "walk"], 30),
                s(&["main", "io"], 10),
            ],
        };
        let (total, n, rows) = table(&stacks, SortBy::Total, None);
        assert_eq!((total, n), (40, 3));
        assert_eq!(
            rows[0],
            TopRow {
                function: "main".into(),
                self_: 0,
                total: 40,
                self_percent: 0.0,
                total_percent: 100.0
            }
        );
        assert_eq!(
            (rows[1].function.as_str(), rows[1].self_, rows[1].total),
            ("walk", 30, 30)
        );
        assert_eq!(rows[1].self_percent, 75.0);
        let (_, _, rows) = table(&stacks, SortBy::SelfValue, Some(1));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].function, "walk");
    }
}
