// A flame tree laid out once into typed arrays: where each node starts
// (in value units), its parent, the end of its subtree, and the nodes of
// each depth in left-to-right order, so drawing and hit-testing a row is
// a binary search rather than a walk of the whole tree.

import type { ColumnarTree } from "../api/types";

export class FlameTree {
  readonly n: number;
  readonly names: string[];
  readonly nameIdx: Int32Array;
  readonly depth: Int32Array;
  /** Width of a node: its total (both sides' totals for a diff). */
  readonly width: Float64Array;
  readonly total: Float64Array;
  readonly self: Float64Array;
  /** Diff trees: the comparison side. */
  readonly totalB: Float64Array | null;
  readonly selfB: Float64Array | null;
  readonly x0: Float64Array;
  readonly parent: Int32Array;
  /** One past the last node of the subtree. */
  readonly end: Int32Array;
  /** Per depth: node indices, left to right. */
  readonly levels: Int32Array[];
  readonly prunedNodes: number;
  readonly prunedValue: number;

  constructor(tree: ColumnarTree) {
    const n = tree.name.length;
    const scale = tree.scale || 1;
    this.n = n;
    this.names = tree.names;
    this.nameIdx = Int32Array.from(tree.name);
    this.depth = Int32Array.from(tree.depth);
    this.total = new Float64Array(n);
    this.self = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      this.total[i] = tree.total[i] * scale;
      this.self[i] = tree.self[i] * scale;
    }
    if (tree.total_b && tree.self_b) {
      this.totalB = new Float64Array(n);
      this.selfB = new Float64Array(n);
      this.width = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        this.totalB[i] = tree.total_b[i] * scale;
        this.selfB[i] = tree.self_b[i] * scale;
        this.width[i] = this.total[i] + this.totalB[i];
      }
    } else {
      this.totalB = null;
      this.selfB = null;
      this.width = this.total;
    }
    this.prunedNodes = tree.pruned_nodes ?? 0;
    this.prunedValue = (tree.pruned_value ?? 0) * scale;

    this.x0 = new Float64Array(n);
    this.parent = new Int32Array(n).fill(-1);
    this.end = new Int32Array(n);
    const cursor = new Float64Array(n);
    const atDepth: number[] = [];
    let maxDepth = 0;
    const counts: number[] = [];
    for (let i = 0; i < n; i++) {
      const d = this.depth[i];
      // close the subtrees this node is not part of
      while (atDepth.length > d) this.end[atDepth.pop()!] = i;
      if (d > 0) {
        const p = atDepth[d - 1];
        this.parent[i] = p;
        this.x0[i] = cursor[p];
        cursor[p] += this.width[i];
      }
      cursor[i] = this.x0[i];
      atDepth.push(i);
      if (d > maxDepth) maxDepth = d;
      counts[d] = (counts[d] ?? 0) + 1;
    }
    while (atDepth.length) this.end[atDepth.pop()!] = n;
    this.levels = [];
    const fill = new Int32Array(maxDepth + 1);
    for (let d = 0; d <= maxDepth; d++) this.levels.push(new Int32Array(counts[d] ?? 0));
    for (let i = 0; i < n; i++) {
      const d = this.depth[i];
      this.levels[d][fill[d]++] = i;
    }
  }

  get rootWidth(): number {
    return this.n ? this.width[0] : 0;
  }

  get maxDepth(): number {
    return this.levels.length - 1;
  }

  name(i: number): string {
    return this.names[this.nameIdx[i]];
  }

  /** In `levels[d]`, the first position whose node ends after `v`. */
  firstEndingAfter(d: number, v: number): number {
    const level = this.levels[d];
    let lo = 0;
    let hi = level.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const i = level[mid];
      if (this.x0[i] + this.width[i] <= v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** In `levels[d]`, the first position whose node starts at or after `v`. */
  firstStartingFrom(d: number, v: number): number {
    const level = this.levels[d];
    let lo = 0;
    let hi = level.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.x0[level[mid]] < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The node at depth `d` covering value offset `v`, or -1. */
  nodeAt(d: number, v: number): number {
    if (d < 0 || d >= this.levels.length) return -1;
    const pos = this.firstEndingAfter(d, v);
    const level = this.levels[d];
    if (pos >= level.length) return -1;
    const i = level[pos];
    return this.x0[i] <= v && this.width[i] > 0 ? i : -1;
  }

  /** Ancestors of `i`, root first, `i` last. */
  path(i: number): number[] {
    const out: number[] = [];
    for (let j = i; j >= 0; j = this.parent[j]) out.push(j);
    return out.reverse();
  }
}
