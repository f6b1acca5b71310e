//! One evaluation round's queries: rules' queries deduplicated, profile
//! operands over one scan merged ([`plan`]); answers read back as rows
//! per group ([`to_rows`]); instance fingerprints.

use crate::condition::Rows;
use crate::rules::{Rule, RuleKind};
use flarego_storage::TenantId;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Stable id of (tenant, rule, labels).
pub fn fingerprint(tenant: &str, rule: &str, labels: &BTreeMap<String, String>) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for part in [tenant, rule] {
        h.update(part.as_bytes());
        h.update(&[0xff]);
    }
    for (k, v) in labels {
        h.update(k.as_bytes());
        h.update(&[0xfe]);
        h.update(v.as_bytes());
        h.update(&[0xff]);
    }
    format!("{:016x}", h.digest())
}

/// A query's answer as groups: (group column names, rows).
/// A query's answer as groups: (group column names, one set of rows per
/// value column). `values` names the value columns; every other column is
/// a group column.
pub(crate) fn to_rows(
    out: &flarego_query::QueryOutput,
    values: &[String],
) -> Result<(Vec<String>, Vec<Rows>), String> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, Float64Type};
    let names: Vec<String> = out
        .schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let value_at: Vec<Option<usize>> = values
        .iter()
        .map(|v| names.iter().position(|n| n == v))
        .collect();
    let is_value = |i: usize| value_at.contains(&Some(i));
    let keys: Vec<String> = (0..names.len())
        .filter(|i| !is_value(*i))
        .map(|i| names[i].clone())
        .collect();
    let mut rows = vec![Rows::new(); values.len()];
    for b in &out.batches {
        let mut key_cols = Vec::new();
        for (i, n) in names.iter().enumerate() {
            if !is_value(i) {
                let c = datafusion::arrow::compute::cast(b.column(i), &DataType::Utf8)
                    .map_err(|e| format!("column {n} cannot be read as text: {e}"))?;
                key_cols.push(c);
            }
        }
        let mut value_cols = Vec::new();
        for at in &value_at {
            value_cols.push(match at {
                Some(i) => Some(
                    datafusion::arrow::compute::cast(b.column(*i), &DataType::Float64)
                        .map_err(|e| format!("column {} is not a number: {e}", names[*i]))?,
                ),
                None => None,
            });
        }
        for r in 0..b.num_rows() {
            let key: Vec<String> = key_cols
                .iter()
                .map(|c| {
                    let s = c.as_string::<i32>();
                    if s.is_null(r) {
                        String::new()
                    } else {
                        s.value(r).to_string()
                    }
                })
                .collect();
            for (out, col) in rows.iter_mut().zip(&value_cols) {
                // No value column (a SQL rule without one): the row fires.
                let v = col.as_ref().map_or(1.0, |a| {
                    let a = a.as_primitive::<Float64Type>();
                    if a.is_null(r) { f64::NAN } else { a.value(r) }
                });
                out.insert(key.clone(), v);
            }
        }
    }
    Ok((keys, rows))
}

/// A query's answer: its group columns and one set of rows per value
/// column, or why it failed.
pub(super) type Answer = Result<(Vec<String>, Vec<Rows>), String>;

/// One query of an evaluation round and the value columns it returns.
pub(super) struct Planned {
    pub tenant: TenantId,
    pub sql: String,
    pub values: Vec<String>,
}

/// The queries of a round: rules' queries deduplicated by (tenant, SQL),
/// and with `merge`, profile operands over one scan merged into one query
/// with a value column each. Returns the queries and, per rule, where
/// each of its operands' rows come from (query, value column).
#[allow(clippy::type_complexity)]
pub(super) fn plan(due: &[Arc<Rule>], share: bool) -> (Vec<Planned>, Vec<Vec<(usize, usize)>>) {
    let mut planned: Vec<Planned> = Vec::new();
    let mut plain: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut scans: BTreeMap<
        (String, crate::compile::ProfileScan),
        (usize, Vec<crate::compile::Hit>),
    > = BTreeMap::new();
    // First pass: which hits each scan needs.
    if share {
        for r in due {
            if let RuleKind::Expr { compiled, .. } = &r.kind {
                for q in &compiled.queries {
                    if let Some((scan, hit)) = &q.scan {
                        let e = scans
                            .entry((r.tenant.0.clone(), scan.clone()))
                            .or_insert((usize::MAX, Vec::new()));
                        if !e.1.contains(hit) {
                            e.1.push(hit.clone());
                        }
                    }
                }
            }
        }
        for ((tenant, scan), (at, hits)) in scans.iter_mut() {
            let values = if hits.len() == 1 {
                vec!["value".to_string()]
            } else {
                (0..hits.len()).map(|i| format!("value{i}")).collect()
            };
            planned.push(Planned {
                tenant: TenantId(tenant.clone()),
                sql: scan.sql(hits),
                values,
            });
            *at = planned.len() - 1;
        }
    }
    let mut uses = Vec::with_capacity(due.len());
    for r in due {
        let queries: Vec<(
            String,
            Option<&(crate::compile::ProfileScan, crate::compile::Hit)>,
        )> = match &r.kind {
            RuleKind::Expr { compiled, .. } => compiled
                .queries
                .iter()
                .map(|q| (q.sql.clone(), q.scan.as_ref()))
                .collect(),
            RuleKind::Sql { text } => vec![(text.clone(), None)],
        };
        let mut mine = Vec::new();
        for (sql, scan) in queries {
            if share && let Some((scan, hit)) = scan {
                let (at, hits) = &scans[&(r.tenant.0.clone(), scan.clone())];
                let col = hits.iter().position(|h| h == hit).unwrap_or(0);
                mine.push((*at, col));
                continue;
            }
            let key = (r.tenant.0.clone(), sql.clone());
            let n = match plain.get(&key) {
                Some(n) if share => *n,
                _ => {
                    planned.push(Planned {
                        tenant: r.tenant.clone(),
                        sql,
                        values: vec!["value".to_string()],
                    });
                    plain.insert(key, planned.len() - 1);
                    planned.len() - 1
                }
            };
            mine.push((n, 0));
        }
        uses.push(mine);
    }
    (planned, uses)
}
