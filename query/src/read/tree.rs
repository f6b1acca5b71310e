//! Merged call trees and their wire form.
//!
//! Stacks (root first, with a value) are merged into one tree, frames
//! merged by function name as pprof merges them. The wire form is
//! columnar in depth-first pre-order, children in name order: a names
//! table and parallel arrays of name index, depth, total and self, with
//! every value divided by their greatest common divisor (`scale`), so a
//! 100,000-node CPU tree (values in multiples of the sampling period)
//! stays a few bytes a node.
//!
//! `max_nodes` prunes: the children of a node whose total is below the
//! `max_nodes`-th largest total are merged into one explicit `other`
//! child per parent, carrying exactly their value; the response says how
//! many nodes and how much value were merged.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The name of the merged node `max_nodes` makes.
pub const OTHER: &str = "other";

/// A merged tree: node 0 is the root (`total`).
#[derive(Debug, Default)]
pub struct Tree {
    names: Vec<String>,
    name_ids: HashMap<String, u32, flarego_storage::KeyedHash>,
    /// Per node: name id, parent, total, self, and (for diffs) the second
    /// side's total and self.
    name: Vec<u32>,
    parent: Vec<u32>,
    total: Vec<i64>,
    self_: Vec<i64>,
    total_b: Vec<i64>,
    self_b: Vec<i64>,
    children: HashMap<(u32, u32), u32, flarego_storage::KeyedHash>,
}

impl Tree {
    pub fn new() -> Self {
        let mut t = Tree::default();
        let root = t.intern("total");
        t.push_node(root, u32::MAX);
        t
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(i) = self.name_ids.get(name) {
            return *i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_string());
        self.name_ids.insert(name.to_string(), i);
        i
    }

    fn push_node(&mut self, name: u32, parent: u32) -> u32 {
        let i = self.name.len() as u32;
        self.name.push(name);
        self.parent.push(parent);
        self.total.push(0);
        self.self_.push(0);
        self.total_b.push(0);
        self.self_b.push(0);
        i
    }

    /// Adds one stack (root first) with `value` on side A (`b` false) or B.
    pub fn add<S: AsRef<str>>(&mut self, frames: &[S], value: i64, b: bool) {
        let mut node = 0u32;
        self.bump(0, value, b);
        for f in frames {
            let name = self.intern(f.as_ref());
            node = match self.children.get(&(node, name)) {
                Some(c) => *c,
                None => {
                    let c = self.push_node(name, node);
                    self.children.insert((node, name), c);
                    c
                }
            };
            self.bump(node, value, b);
        }
        let n = node as usize;
        if b {
            self.self_b[n] = self.self_b[n].saturating_add(value);
        } else {
            self.self_[n] = self.self_[n].saturating_add(value);
        }
    }

    fn bump(&mut self, node: u32, value: i64, b: bool) {
        let n = node as usize;
        if b {
            self.total_b[n] = self.total_b[n].saturating_add(value);
        } else {
            self.total[n] = self.total[n].saturating_add(value);
        }
    }

    pub fn len(&self) -> usize {
        self.name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() <= 1
    }

    pub fn total(&self) -> i64 {
        self.total[0]
    }

    pub fn total_b(&self) -> i64 {
        self.total_b[0]
    }

    /// The wire form, pruned to about `max_nodes` when set; with `diff`,
    /// side B's arrays too.
    pub fn columnar<'s>(&'s self, max_nodes: Option<usize>, diff: bool) -> Columnar {
        let n = self.len();
        let name_of = |i: u32| -> &'s str { self.names[self.name[i as usize] as usize].as_str() };
        let kids = Children::of(&self.parent, |a, b| name_of(a).cmp(name_of(b)));
        let weight = |i: usize| self.total[i].saturating_add(self.total_b[i]);
        // The smallest weight a node may have and stay its own node, and
        // how many nodes of exactly that weight may stay (ties beyond
        // `max_nodes` are merged too, first come first kept).
        let (threshold, mut ties_left) = match max_nodes {
            Some(k) if k > 0 && n - 1 > k => {
                let mut w: Vec<i64> = (1..n).map(weight).collect();
                let (_, kth, _) = w.select_nth_unstable_by(k - 1, |a, b| b.cmp(a));
                let kth = *kth;
                let above = w.iter().filter(|x| **x > kth).count();
                (kth, k - above)
            }
            _ => (i64::MIN, usize::MAX),
        };
        let mut out = Columnar::default();
        let mut names: HashMap<&'s str, u32, flarego_storage::KeyedHash> = HashMap::default();
        let mut emit = |out: &mut Columnar, name: &'s str, depth: u32, v: [i64; 4]| {
            let idx = match names.get(name) {
                Some(i) => *i,
                None => {
                    out.names.push(name.to_string());
                    let i = (out.names.len() - 1) as u32;
                    names.insert(name, i);
                    i
                }
            };
            out.name.push(idx);
            out.depth.push(depth);
            out.total.push(v[0]);
            out.self_.push(v[1]);
            if diff {
                out.total_b.push(v[2]);
                out.self_b.push(v[3]);
            }
        };
        enum Step {
            Node(u32, u32),
            Other(u32, [i64; 4]),
        }
        let mut stack = vec![Step::Node(0, 0)];
        while let Some(step) = stack.pop() {
            let (node, depth) = match step {
                Step::Node(node, depth) => (node, depth),
                Step::Other(depth, v) => {
                    emit(&mut out, OTHER, depth, v);
                    continue;
                }
            };
            let i = node as usize;
            let v = [
                self.total[i],
                self.self_[i],
                self.total_b[i],
                self.self_b[i],
            ];
            emit(&mut out, name_of(node), depth, v);
            let children = kids.of_node(node);
            let keep: Vec<bool> = children
                .iter()
                .map(|&c| {
                    let w = weight(c as usize);
                    if w > threshold {
                        true
                    } else if w == threshold && ties_left > 0 {
                        ties_left -= 1;
                        true
                    } else {
                        false
                    }
                })
                .collect();
            let (mut t, mut tb, mut merged) = (0i64, 0i64, 0usize);
            for (&c, _) in children.iter().zip(&keep).filter(|(_, k)| !**k) {
                t = t.saturating_add(self.total[c as usize]);
                tb = tb.saturating_add(self.total_b[c as usize]);
                out.pruned_nodes += kids.subtree_size(c);
                merged += 1;
            }
            if merged > 0 {
                out.pruned_value = out.pruned_value.saturating_add(t).saturating_add(tb);
                // After the kept children in pre-order: pushed first.
                stack.push(Step::Other(depth + 1, [t, t, tb, tb]));
            }
            for (&c, _) in children.iter().zip(&keep).rev().filter(|(_, k)| **k) {
                stack.push(Step::Node(c, depth + 1));
            }
        }
        out.scale_down();
        out
    }
}

/// Each node's children in one array (offsets per node), sorted.
struct Children {
    start: Vec<u32>,
    list: Vec<u32>,
}

impl Children {
    /// From the parent of every node (node 0 is the root).
    fn of(parent: &[u32], order: impl Fn(u32, u32) -> std::cmp::Ordering) -> Children {
        let n = parent.len();
        let mut start = vec![0u32; n + 1];
        for &p in parent.iter().skip(1) {
            start[p as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut list = vec![0u32; n.saturating_sub(1)];
        for (i, &p) in parent.iter().enumerate().skip(1) {
            list[fill[p as usize] as usize] = i as u32;
            fill[p as usize] += 1;
        }
        for w in start.windows(2) {
            list[w[0] as usize..w[1] as usize].sort_by(|a, b| order(*a, *b));
        }
        Children { start, list }
    }

    fn of_node(&self, node: u32) -> &[u32] {
        &self.list[self.start[node as usize] as usize..self.start[node as usize + 1] as usize]
    }

    fn subtree_size(&self, node: u32) -> u64 {
        let mut n = 0;
        let mut stack = vec![node];
        while let Some(x) = stack.pop() {
            n += 1;
            stack.extend_from_slice(self.of_node(x));
        }
        n
    }
}

/// The wire form of a tree. Every value is the number shown times
/// `scale`.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct Columnar {
    pub scale: i64,
    pub names: Vec<String>,
    pub name: Vec<u32>,
    pub depth: Vec<u32>,
    pub total: Vec<i64>,
    #[serde(rename = "self")]
    pub self_: Vec<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub total_b: Vec<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub self_b: Vec<i64>,
    pub pruned_nodes: u64,
    pub pruned_value: i64,
}

impl Columnar {
    /// Divides every value by their greatest common divisor (`scale`).
    fn scale_down(&mut self) {
        let g = self
            .total
            .iter()
            .chain(&self.self_)
            .chain(&self.total_b)
            .chain(&self.self_b)
            .fold(0i64, |g, v| gcd(g, v.unsigned_abs() as i64));
        let g = g.max(1);
        for v in self
            .total
            .iter_mut()
            .chain(self.self_.iter_mut())
            .chain(self.total_b.iter_mut())
            .chain(self.self_b.iter_mut())
        {
            *v /= g;
        }
        self.scale = g;
    }

    /// The stacks the tree was built from (root first, without the
    /// `total` root), each node's self value unscaled: what an export
    /// of a stored tree writes.
    pub fn stacks(&self) -> Vec<(Vec<std::sync::Arc<str>>, i64)> {
        let names: Vec<std::sync::Arc<str>> = self
            .names
            .iter()
            .map(|n| std::sync::Arc::from(n.as_str()))
            .collect();
        let mut path: Vec<std::sync::Arc<str>> = Vec::new();
        let mut out = Vec::new();
        for i in 1..self.name.len() {
            let depth = self.depth[i] as usize;
            if depth == 0 {
                continue;
            }
            path.truncate(depth - 1);
            let Some(name) = names.get(self.name[i] as usize) else {
                continue;
            };
            path.push(name.clone());
            let v = self
                .self_
                .get(i)
                .copied()
                .unwrap_or(0)
                .saturating_mul(self.scale);
            if v != 0 {
                out.push((path.clone(), v));
            }
        }
        out
    }

    /// The value of node `i`'s total, unscaled.
    pub fn total_of(&self, i: usize) -> i64 {
        self.total[i].saturating_mul(self.scale)
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(stacks: &[(&[&str], i64)]) -> Tree {
        let mut t = Tree::new();
        for (f, v) in stacks {
            t.add(f, *v, false);
        }
        t
    }

    #[test]
    fn merges_stacks_in_pre_order_with_names_sorted() {
        let t = tree(&[
            (&["main", "b"], 30),
            (&["main", "a", "x"], 10),
            (&["main"], 5),
            (&["main", "a"], 20),
        ]);
        let c = t.columnar(None, false);
        let names: Vec<&str> = c
            .name
            .iter()
            .map(|i| c.names[*i as usize].as_str())
            .collect();
        assert_eq!(names, ["total", "main", "a", "x", "b"]);
        assert_eq!(c.depth, [0, 1, 2, 3, 2]);
        assert_eq!(c.scale, 5);
        let totals: Vec<i64> = (0..5).map(|i| c.total_of(i)).collect();
        assert_eq!(totals, [65, 65, 30, 10, 30]);
        let selfs: Vec<i64> = c.self_.iter().map(|v| v * c.scale).collect();
        assert_eq!(selfs, [0, 5, 20, 10, 30]);
        assert_eq!((c.pruned_nodes, c.pruned_value), (0, 0));
        let mut back: Vec<(Vec<String>, i64)> = c
            .stacks()
            .into_iter()
            .map(|(f, v)| (f.iter().map(|s| s.to_string()).collect(), v))
            .collect();
        back.sort();
        let s = |f: &[&str], v| (f.iter().map(|x| x.to_string()).collect::<Vec<_>>(), v);
        assert_eq!(
            back,
            [
                s(&["main"], 5),
                s(&["main", "a"], 20),
                s(&["main", "a", "x"], 10),
                s(&["main", "b"], 30)
            ]
        );
    }

    #[test]
    fn max_nodes_bounds_the_tree_when_values_tie() {
        let mut t = Tree::new();
        for i in 0..200 {
            t.add(&["main".to_string(), format!("leaf{i:03}")], 7, false);
        }
        let c = t.columnar(Some(10), false);
        // root, main, 9 leaves, other.
        assert_eq!(c.name.len(), 12);
        assert_eq!(c.total_of(0), 1400);
        assert_eq!(c.pruned_nodes, 191);
        assert_eq!(c.pruned_value, 191 * 7);
    }

    #[test]
    fn max_nodes_merges_small_subtrees_into_other_and_keeps_totals() {
        let mut stacks: Vec<(Vec<String>, i64)> = Vec::new();
        for i in 0..50 {
            stacks.push((
                vec!["main".into(), format!("f{i:02}"), "leaf".into()],
                i + 1,
            ));
        }
        let mut t = Tree::new();
        for (f, v) in &stacks {
            t.add(f, *v, false);
        }
        let full = t.columnar(None, false);
        assert_eq!(full.name.len(), 1 + 1 + 50 * 2);
        let c = t.columnar(Some(10), false);
        let total: i64 = (1..=50).sum();
        assert_eq!(c.total_of(0), total);
        let names: Vec<&str> = c
            .name
            .iter()
            .map(|i| c.names[*i as usize].as_str())
            .collect();
        // The kept children and `other` add up to their parent.
        let kids: i64 = (0..c.name.len())
            .filter(|i| c.depth[*i] == 2)
            .map(|i| c.total_of(i))
            .sum();
        assert_eq!(kids, total);
        // Every `other` together carries what was pruned (here one under
        // `main`, and one under the last `f` kept, whose leaf tied).
        let others: i64 = (0..c.name.len())
            .filter(|i| names[*i] == OTHER)
            .map(|i| c.total_of(i))
            .sum();
        assert_eq!(others, c.pruned_value);
        assert!(c.pruned_value > 0);
        assert!(c.name.len() <= 10 + 3, "{} nodes", c.name.len());
    }
}
