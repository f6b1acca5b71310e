//! `GET /api/v1/flamegraph`: the selection's stacks merged into one tree.

use super::stacks::StackValues;
use super::tree::{Columnar, Tree};
use super::{ReadError, Selection};
use crate::QueryEngine;
use flarego_storage::TenantId;
use serde::Serialize;

/// A flame graph: the tree in its wire form, with what it sums.
#[derive(Debug, Clone, Serialize)]
pub struct FlameGraph {
    pub profile_type: String,
    pub unit: String,
    /// The selection's total (the root's value), unscaled.
    pub total: i64,
    /// Nodes in the whole tree, before any pruning.
    pub nodes: usize,
    pub tree: Columnar,
}

/// The tree of a set of stacks.
pub fn tree_of(stacks: &StackValues) -> Tree {
    let mut t = Tree::new();
    for (f, v) in &stacks.stacks {
        t.add(f, *v, false);
    }
    t
}

impl QueryEngine {
    /// The flame graph of `sel`, pruned to about `max_nodes` when given.
    pub async fn flamegraph(
        &self,
        scope: Option<TenantId>,
        sel: &Selection,
        max_nodes: Option<usize>,
    ) -> Result<FlameGraph, ReadError> {
        let stacks = self.stack_values(scope, sel).await?;
        Ok(flarego_storage::blocking(|| {
            let t = tree_of(&stacks);
            FlameGraph {
                profile_type: sel.profile_type.clone(),
                unit: stacks.unit.clone(),
                total: t.total(),
                nodes: t.len(),
                tree: t.columnar(max_nodes, false),
            }
        }))
    }
}
