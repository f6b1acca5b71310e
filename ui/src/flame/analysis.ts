// What the UI derives from the tree it shows: the per-function table, the
// search matches and their share, and one function's sandwich. Computed
// from the same tree the flame graph draws, so the table and the graph
// always agree — for server data, snapshots and live updates alike.

import type { ColumnarTree } from "../api/types";
import type { FlameTree } from "./tree";

export interface TopRow {
  name: string;
  self: number;
  total: number;
}

/**
 * Per function: self summed over its nodes; total summed over its
 * outermost nodes only, so a recursive function counts once per stack
 * (`go tool pprof -top`'s cum).
 */
export function topFunctions(tree: FlameTree, totals: Float64Array = tree.total, selfs: Float64Array = tree.self): TopRow[] {
  const names = tree.names.length;
  const self = new Float64Array(names);
  const total = new Float64Array(names);
  const onPath = new Int32Array(names);
  const path: number[] = [];
  for (let i = 1; i < tree.n; i++) {
    const d = tree.depth[i];
    while (path.length >= d) onPath[tree.nameIdx[path.pop()!]]--;
    const k = tree.nameIdx[i];
    self[k] += selfs[i];
    if (onPath[k] === 0) total[k] += totals[i];
    onPath[k]++;
    path.push(i);
  }
  const rows: TopRow[] = [];
  for (let k = 0; k < names; k++) {
    if (total[k] > 0 || self[k] > 0) rows.push({ name: tree.names[k], self: self[k], total: total[k] });
  }
  return rows;
}

/** Which names match a search: a regex, or a plain substring when it is not one. */
export function matchNames(tree: FlameTree, search: string): Uint8Array | null {
  if (!search) return null;
  let test: (s: string) => boolean;
  try {
    const re = new RegExp(search, "i");
    test = (s) => re.test(s);
  } catch {
    const needle = search.toLowerCase();
    test = (s) => s.toLowerCase().includes(needle);
  }
  const mask = new Uint8Array(tree.names.length);
  tree.names.forEach((name, k) => {
    mask[k] = test(name) ? 1 : 0;
  });
  return mask;
}

/** The value under matching frames, each stack counted once. */
export function matchedValue(tree: FlameTree, mask: Uint8Array): number {
  let sum = 0;
  let i = 1;
  while (i < tree.n) {
    if (mask[tree.nameIdx[i]]) {
      sum += tree.total[i];
      i = tree.end[i];
    } else i++;
  }
  return sum;
}

interface Building {
  names: string[];
  nameOf: Map<string, number>;
  name: number[];
  total: number[];
  self: number[];
  children: Map<number, number>[];
}

function building(): Building {
  return { names: [], nameOf: new Map(), name: [], total: [], self: [], children: [] };
}

function nodeOf(b: Building, parent: number, name: string): number {
  let k = b.nameOf.get(name);
  if (k === undefined) {
    k = b.names.length;
    b.names.push(name);
    b.nameOf.set(name, k);
  }
  if (parent >= 0) {
    const existing = b.children[parent].get(k);
    if (existing !== undefined) return existing;
  }
  const id = b.name.length;
  b.name.push(k);
  b.total.push(0);
  b.self.push(0);
  b.children.push(new Map());
  if (parent >= 0) b.children[parent].set(k, id);
  return id;
}

function columnar(b: Building): ColumnarTree {
  const out: ColumnarTree = { scale: 1, names: b.names, name: [], depth: [], total: [], self: [] };
  if (!b.name.length) return out;
  const stack: [number, number][] = [[0, 0]];
  while (stack.length) {
    const [id, d] = stack.pop()!;
    out.name.push(b.name[id]);
    out.depth.push(d);
    out.total.push(b.total[id]);
    out.self.push(b.self[id]);
    const kids = [...b.children[id].values()].sort((x, y) => (b.names[b.name[y]] < b.names[b.name[x]] ? -1 : 1));
    for (const k of kids) stack.push([k, d + 1]);
  }
  return out;
}

/** Outermost nodes of a function: no ancestor has the same name. */
function outermost(tree: FlameTree, k: number): number[] {
  const out: number[] = [];
  let i = 1;
  while (i < tree.n) {
    if (tree.nameIdx[i] === k) {
      out.push(i);
      i = tree.end[i];
    } else i++;
  }
  return out;
}

/**
 * One function's callers (inverted: the function, then who called it, up
 * to the roots) and callees (the function and what it calls), each stack
 * through it counted once at its outermost frame.
 */
export function sandwich(tree: FlameTree, fn: string): { callers: ColumnarTree; callees: ColumnarTree; total: number } {
  const k = tree.names.indexOf(fn);
  const callers = building();
  const callees = building();
  const croot = nodeOf(callers, -1, fn);
  const eroot = nodeOf(callees, -1, fn);
  let total = 0;
  if (k >= 0) {
    for (const i of outermost(tree, k)) {
      const v = tree.total[i];
      total += v;
      // callers: up the ancestors
      let at = croot;
      callers.total[at] += v;
      let p = tree.parent[i];
      if (p <= 0) callers.self[at] += v;
      while (p > 0) {
        at = nodeOf(callers, at, tree.name(p));
        callers.total[at] += v;
        if (tree.parent[p] <= 0) callers.self[at] += v;
        p = tree.parent[p];
      }
      // callees: the subtree, merged by name
      callees.total[eroot] += v;
      callees.self[eroot] += tree.self[i];
      const mapped = new Map<number, number>([[i, eroot]]);
      for (let j = i + 1; j < tree.end[i]; j++) {
        const id = nodeOf(callees, mapped.get(tree.parent[j])!, tree.name(j));
        mapped.set(j, id);
        callees.total[id] += tree.total[j];
        callees.self[id] += tree.self[j];
      }
    }
  }
  return { callers: columnar(callers), callees: columnar(callees), total };
}
