//! `GET /api/v1/diff`: two selections (a base and a comparison: two
//! ranges, or two label sets) merged into one tree holding both sides'
//! values per node, with each side's total.
//!
//! With `normalize`, the comparison side is scaled to the base side's
//! total (values rounded), so the tree compares shares rather than
//! amounts; the factor is reported.

use super::stacks::StackValues;
use super::tree::{Columnar, Tree};
use super::{ReadError, Selection};
use crate::QueryEngine;
use flarego_storage::TenantId;
use serde::Serialize;

/// A diff tree: `total`/`self` are the base side, `total_b`/`self_b` the
/// comparison side.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub profile_type: String,
    pub unit: String,
    pub base_total: i64,
    pub comp_total: i64,
    /// What comparison values were multiplied by (1 unless normalized).
    pub comp_factor: f64,
    pub nodes: usize,
    pub tree: Columnar,
}

/// The diff tree of two sets of stacks.
pub fn diff_of(
    base: &StackValues,
    comp: &StackValues,
    normalize: bool,
    max_nodes: Option<usize>,
) -> (Tree, f64, Columnar) {
    let (ta, tb) = (base.total(), comp.total());
    let factor = if normalize && ta > 0 && tb > 0 {
        ta as f64 / tb as f64
    } else {
        1.0
    };
    let mut t = Tree::new();
    for (f, v) in &base.stacks {
        t.add(f, *v, false);
    }
    for (f, v) in &comp.stacks {
        let v = if factor == 1.0 {
            *v
        } else {
            (*v as f64 * factor).round() as i64
        };
        t.add(f, v, true);
    }
    let c = t.columnar(max_nodes, true);
    (t, factor, c)
}

impl QueryEngine {
    /// The diff of `base` against `comp`.
    pub async fn diff(
        &self,
        scope: Option<TenantId>,
        base: &Selection,
        comp: &Selection,
        normalize: bool,
        max_nodes: Option<usize>,
    ) -> Result<Diff, ReadError> {
        let a = self.stack_values(scope.clone(), base).await?;
        let b = self.stack_values(scope, comp).await?;
        Ok(flarego_storage::blocking(|| {
            let (t, factor, tree) = diff_of(&a, &b, normalize, max_nodes);
            Diff {
                profile_type: base.profile_type.clone(),
                unit: if a.unit.is_empty() {
                    b.unit.clone()
                } else {
                    a.unit.clone()
                },
                base_total: a.total(),
                comp_total: b.total(),
                comp_factor: factor,
                nodes: t.len(),
                tree,
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn stacks(s: &[(&[&str], i64)]) -> StackValues {
        StackValues {
            unit: "nanoseconds".into(),
            stacks: s
                .iter()
                .map(|(f, v)| (f.iter().map(|x| Arc::<str>::from(*x)).collect(), *v))
                .collect(),
        }
    }

    fn by_name(c: &Columnar) -> Vec<(String, i64, i64, i64, i64)> {
        (0..c.name.len())
            .map(|i| {
                (
                    c.names[c.name[i] as usize].clone(),
                    c.total[i] * c.scale,
                    c.self_[i] * c.scale,
                    c.total_b[i] * c.scale,
                    c.self_b[i] * c.scale,
                )
            })
            .collect()
    }

    #[test]
    fn both_sides_per_node_and_normalized_to_the_base_total() {
        let base = stacks(&[(&["main", "a"], 60), (&["main", "b"], 40)]);
        let comp = stacks(&[(&["main", "a"], 100), (&["main", "c"], 100)]);
        let (_, f, c) = diff_of(&base, &comp, false, None);
        assert_eq!(f, 1.0);
        let s = |n: &str, a, sa, b, sb| (n.to_string(), a, sa, b, sb);
        assert_eq!(
            by_name(&c),
            [
                s("total", 100, 0, 200, 0),
                s("main", 100, 0, 200, 0),
                s("a", 60, 60, 100, 100),
                s("b", 40, 40, 0, 0),
                s("c", 0, 0, 100, 100),
            ]
        );
        let (_, f, c) = diff_of(&base, &comp, true, None);
        assert_eq!(f, 0.5);
        assert_eq!(by_name(&c)[0], s("total", 100, 0, 100, 0));
        assert_eq!(by_name(&c)[2], s("a", 60, 60, 50, 50));
    }
}
