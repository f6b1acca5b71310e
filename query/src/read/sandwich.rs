//! `GET /api/v1/sandwich?function=NAME`: one function's callers (an
//! inverted tree: the function, then who called it, up to the roots) and
//! its callees (the function, then what it called, down to the leaves).
//!
//! Each stack through the function counts once, cut at the function's
//! outermost frame, so recursion neither doubles values nor hides the
//! recursive calls (they show among the callees). Both trees' roots hold
//! the function's total, as in `/api/v1/top`.

use super::stacks::StackValues;
use super::tree::{Columnar, Tree};
use super::{ReadError, Selection};
use crate::QueryEngine;
use flarego_storage::TenantId;
use serde::Serialize;

/// The two trees around one function.
#[derive(Debug, Clone, Serialize)]
pub struct Sandwich {
    pub function: String,
    pub profile_type: String,
    pub unit: String,
    /// The selection's total.
    pub total: i64,
    /// Stacks through the function, summed.
    pub function_total: i64,
    pub callers: Columnar,
    pub callees: Columnar,
}

/// The callers and callees trees of `function` in `stacks`.
pub fn sandwich_of(
    stacks: &StackValues,
    function: &str,
    max_nodes: Option<usize>,
) -> (i64, Columnar, Columnar) {
    let mut callers = Tree::new();
    let mut callees = Tree::new();
    for (frames, v) in &stacks.stacks {
        let Some(at) = frames.iter().position(|f| f.as_ref() == function) else {
            continue;
        };
        let up: Vec<&str> = frames[..=at].iter().rev().map(|f| f.as_ref()).collect();
        callers.add(&up, *v, false);
        callees.add(&frames[at..], *v, false);
    }
    (
        callees.total(),
        callers.columnar(max_nodes, false),
        callees.columnar(max_nodes, false),
    )
}

impl QueryEngine {
    /// The sandwich view of `function` in `sel`.
    pub async fn sandwich(
        &self,
        scope: Option<TenantId>,
        sel: &Selection,
        function: &str,
        max_nodes: Option<usize>,
    ) -> Result<Sandwich, ReadError> {
        let stacks = self.stack_values(scope, sel).await?;
        Ok(flarego_storage::blocking(|| {
            let (function_total, callers, callees) = sandwich_of(&stacks, function, max_nodes);
            Sandwich {
                function: function.to_string(),
                profile_type: sel.profile_type.clone(),
                unit: stacks.unit.clone(),
                total: stacks.total(),
                function_total,
                callers,
                callees,
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn callers_inverted_callees_below_recursion_once() {
        let s = |f: &[&str], v| {
            (
                f.iter().map(|x| Arc::<str>::from(*x)).collect::<Vec<_>>(),
                v,
            )
        };
        let stacks = StackValues {
            unit: "count".into(),
            stacks: vec![
                s(&["main", "serve", "parse", "alloc"], 5),
                s(&["main", "batch", "parse"], 3),
                s(&["main", "parse", "parse", "lex"], 2),
                s(&["main", "idle"], 100),
            ],
        };
        let (total, callers, callees) = sandwich_of(&stacks, "parse", None);
        assert_eq!(total, 10);
        let rows = |c: &Columnar| -> Vec<(String, u32, i64)> {
            (0..c.name.len())
                .map(|i| {
                    (
                        c.names[c.name[i] as usize].clone(),
                        c.depth[i],
                        c.total_of(i),
                    )
                })
                .collect()
        };
        let r = |n: &str, d, v| (n.to_string(), d, v);
        assert_eq!(
            rows(&callers),
            [
                r("total", 0, 10),
                r("parse", 1, 10),
                r("batch", 2, 3),
                r("main", 3, 3),
                r("main", 2, 2),
                r("serve", 2, 5),
                r("main", 3, 5),
            ]
        );
        assert_eq!(
            rows(&callees),
            [
                r("total", 0, 10),
                r("parse", 1, 10),
                r("alloc", 2, 5),
                r("parse", 2, 2),
                r("lex", 3, 2),
            ]
        );
    }
}
