//! FlareGo's columnar trees as Pyroscope's flame graph levels.
//!
//! A tree is sent level by level: `names[0]` is `total`, level 0 holds the
//! root, and each node is four numbers — its x offset, total, self and
//! name index — where the offset is the gap after the previous node on
//! the same level ends (0 for adjacent siblings), so a child sits inside
//! its parent's `[x, x + total)`. A diff node is seven numbers: the left
//! side's offset, total and self, the right side's, then the name; each
//! side's offsets are laid out by its own totals.
//!
//! The columnar tree is depth-first pre-order with children in order,
//! so each node's x is where its parent's next child starts, and nodes
//! reach their level in x order.

use crate::read::tree::Columnar;
use flarego_proto::querier::v1::{FlameGraph, FlameGraphDiff, Level};

/// Absolute x positions of every node, one side's totals at a time.
fn positions(c: &Columnar, totals: &[i64]) -> Vec<i64> {
    let mut x = vec![0i64; c.name.len()];
    // next[d]: where the next child of the open node at depth d - 1 starts.
    let mut next: Vec<i64> = Vec::new();
    for i in 0..c.name.len() {
        let depth = c.depth[i] as usize;
        next.truncate(depth + 1);
        if next.len() <= depth {
            next.resize(depth + 1, 0);
        }
        x[i] = next[depth];
        next[depth] = x[i].saturating_add(totals[i].saturating_mul(c.scale));
        next.push(x[i]);
    }
    x
}

/// Node indices per level, in pre-order (which is x order).
fn by_level(c: &Columnar) -> Vec<Vec<usize>> {
    let mut levels: Vec<Vec<usize>> = Vec::new();
    for i in 0..c.name.len() {
        let depth = c.depth[i] as usize;
        if levels.len() <= depth {
            levels.resize_with(depth + 1, Vec::new);
        }
        levels[depth].push(i);
    }
    levels
}

/// The flame graph of a tree (one side).
pub fn flame_graph(c: &Columnar) -> FlameGraph {
    let x = positions(c, &c.total);
    let scale = c.scale;
    let mut max_self = 0i64;
    let levels = by_level(c)
        .into_iter()
        .map(|nodes| {
            let mut values = Vec::with_capacity(nodes.len() * 4);
            let mut end = 0i64;
            for i in nodes {
                let total = c.total[i].saturating_mul(scale);
                let self_ = c.self_[i].saturating_mul(scale);
                max_self = max_self.max(self_);
                values.extend([x[i] - end, total, self_, i64::from(c.name[i])]);
                end = x[i].saturating_add(total);
            }
            Level { values }
        })
        .collect();
    FlameGraph {
        names: c.names.clone(),
        levels,
        total: c.total.first().map_or(0, |t| t.saturating_mul(scale)),
        max_self,
    }
}

/// The flame graph of a diff tree: the left side is the tree's first
/// side (`total`, `self`), the right side its second (`total_b`, `self_b`).
pub fn flame_graph_diff(c: &Columnar) -> FlameGraphDiff {
    let scale = c.scale;
    let side_b = |v: &[i64], i: usize| v.get(i).copied().unwrap_or(0);
    let total_b: Vec<i64> = (0..c.name.len()).map(|i| side_b(&c.total_b, i)).collect();
    let xl = positions(c, &c.total);
    let xr = positions(c, &total_b);
    let mut max_self = 0i64;
    let levels = by_level(c)
        .into_iter()
        .map(|nodes| {
            let mut values = Vec::with_capacity(nodes.len() * 7);
            let (mut end_l, mut end_r) = (0i64, 0i64);
            for i in nodes {
                let tl = c.total[i].saturating_mul(scale);
                let sl = c.self_[i].saturating_mul(scale);
                let tr = total_b[i].saturating_mul(scale);
                let sr = side_b(&c.self_b, i).saturating_mul(scale);
                max_self = max_self.max(sl).max(sr);
                values.extend([
                    xl[i] - end_l,
                    tl,
                    sl,
                    xr[i] - end_r,
                    tr,
                    sr,
                    i64::from(c.name[i]),
                ]);
                end_l = xl[i].saturating_add(tl);
                end_r = xr[i].saturating_add(tr);
            }
            Level { values }
        })
        .collect();
    let left = c.total.first().map_or(0, |t| t.saturating_mul(scale));
    let right = total_b.first().map_or(0, |t| t.saturating_mul(scale));
    FlameGraphDiff {
        names: c.names.clone(),
        levels,
        total: left.saturating_add(right),
        max_self,
        left_ticks: left,
        right_ticks: right,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::tree::Tree;

    /// Rebuilds (name path, total, self) from levels as Grafana does:
    /// a node's parent is the node on the level above whose range holds it.
    fn decode(fg: &FlameGraph) -> Vec<(String, i64, i64)> {
        let mut out = Vec::new();
        let mut above: Vec<(i64, i64, String)> = Vec::new();
        for level in &fg.levels {
            let mut here = Vec::new();
            let mut x = 0i64;
            for n in level.values.chunks(4) {
                x += n[0];
                let name = &fg.names[n[3] as usize];
                let parent = above
                    .iter()
                    .find(|(px, pt, _)| *px <= x && x + n[1] <= px + pt)
                    .map(|(_, _, p)| p.clone());
                let path = match parent {
                    Some(p) => format!("{p};{name}"),
                    None => name.clone(),
                };
                out.push((path.clone(), n[1], n[2]));
                here.push((x, n[1], path));
                x += n[1];
            }
            above = here;
        }
        out
    }

    #[test]
    fn levels_rebuild_the_same_tree() {
        let mut t = Tree::new();
        t.add(&["main", "b"], 30, false);
        t.add(&["main", "a", "x"], 10, false);
        t.add(&["main"], 5, false);
        t.add(&["main", "a"], 20, false);
        t.add(&["gc"], 7, false);
        let fg = flame_graph(&t.columnar(None, false));
        assert_eq!(fg.names[0], "total");
        assert_eq!(fg.total, 72);
        assert_eq!(fg.max_self, 30);
        let mut got = decode(&fg);
        got.sort();
        let want = [
            ("total", 72, 0),
            ("total;gc", 7, 7),
            ("total;main", 65, 5),
            ("total;main;a", 30, 20),
            ("total;main;a;x", 10, 10),
            ("total;main;b", 30, 30),
        ];
        let want: Vec<(String, i64, i64)> = want
            .iter()
            .map(|(p, t, s)| (p.to_string(), *t, *s))
            .collect();
        assert_eq!(got, want);
        // Level 2: `a` at 7 (after gc's 7 on level 1, main starts at 7),
        // `b` right after it: offsets 7 and 0.
        let l2: Vec<i64> = fg.levels[2].values.chunks(4).map(|n| n[0]).collect();
        assert_eq!(l2, [7, 0]);
    }

    #[test]
    fn diff_levels_lay_out_each_side_by_its_own_totals() {
        let mut t = Tree::new();
        t.add(&["main", "a"], 10, false);
        t.add(&["main", "b"], 20, false);
        t.add(&["main", "b"], 40, true);
        let d = flame_graph_diff(&t.columnar(None, true));
        assert_eq!((d.left_ticks, d.right_ticks, d.total), (30, 40, 70));
        // Level 2: a (left 10 at 0, right 0 at 0), b (left 20 right after
        // a, right 40 at 0).
        let l2: Vec<&[i64]> = d.levels[2].values.chunks(7).collect();
        assert_eq!(l2[0][..6], [0, 10, 10, 0, 0, 0]);
        assert_eq!(l2[1][..6], [0, 20, 20, 0, 40, 40]);
        assert_eq!(d.max_self, 40);
    }
}
