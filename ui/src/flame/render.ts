// The flame graph renderer: Canvas 2D, a viewport-sized canvas, only the
// visible rows drawn. Per row a binary search finds the first bar in
// view; runs of bars under a pixel are skipped a pixel at a time
// (their subtrees with them), so a row costs at most its width in
// pixels whatever the tree's size. Fills are batched per colour, labels
// drawn only where at least 20 px fit.

import { DIMMED, DIFF_STEPS, MATCHED, MUTED_ANCESTOR, TINY, diffBucket, diffColors, packageColors } from "./colors";
import type { DiffPalette } from "./colors";
import type { FlameTree } from "./tree";

export const ROW_HEIGHT = 18;
const LABEL_MIN_PX = 20;
/** Bars narrower than this are drawn as muted runs, their subtrees with them. */
const MIN_BAR_PX = 1;
const FONT = "12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace";

export interface RenderStats {
  /** Rectangles filled in the last frame. */
  drawn: number;
  lastFrameMs: number;
  frames: number;
}

export interface DiffColoring {
  palette: DiffPalette;
  totalA: number;
  totalB: number;
}

export class FlameRenderer {
  tree: FlameTree | null = null;
  /** The node whose span fills the width. */
  zoom = 0;
  /** Rows scrolled away from the root's edge. */
  scrollRow = 0;
  orientation: "flame" | "icicle" = "flame";
  mask: Uint8Array | null = null;
  diff: DiffColoring | null = null;
  readonly stats: RenderStats = { drawn: 0, lastFrameMs: 0, frames: 0 };

  private colors: string[] = [];
  private diffPalette: string[] = [];
  private charWidth = 7.2;
  private cssWidth = 0;
  private cssHeight = 0;
  private pending = 0;

  constructor(readonly canvas: HTMLCanvasElement) {}

  setTree(tree: FlameTree | null): void {
    this.tree = tree;
    this.zoom = 0;
    this.scrollRow = 0;
    this.colors = tree ? packageColors(tree.names) : [];
  }

  setDiff(diff: DiffColoring | null): void {
    this.diff = diff;
    this.diffPalette = diff ? diffColors(diff.palette) : [];
  }

  /** Rows the tree needs. */
  rows(): number {
    return this.tree ? this.tree.maxDepth + 1 : 0;
  }

  /** Sizes the canvas to its box; returns whether it changed. */
  resize(cssWidth: number, cssHeight: number): void {
    const dpr = window.devicePixelRatio || 1;
    this.cssWidth = cssWidth;
    this.cssHeight = cssHeight;
    this.canvas.width = Math.max(1, Math.round(cssWidth * dpr));
    this.canvas.height = Math.max(1, Math.round(cssHeight * dpr));
    this.canvas.style.width = `${cssWidth}px`;
    this.canvas.style.height = `${cssHeight}px`;
  }

  /** Coalesces redraws into the next animation frame. */
  requestDraw(): void {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = 0;
      this.draw();
    });
  }

  private rowY(d: number): number {
    const r = d - this.scrollRow;
    return this.orientation === "icicle" ? r * ROW_HEIGHT : this.cssHeight - (r + 1) * ROW_HEIGHT;
  }

  private rowAt(y: number): number {
    const r = this.orientation === "icicle" ? Math.floor(y / ROW_HEIGHT) : Math.floor((this.cssHeight - y) / ROW_HEIGHT);
    return r + this.scrollRow;
  }

  private span(): [number, number] {
    const t = this.tree!;
    const lo = t.x0[this.zoom];
    return [lo, lo + t.width[this.zoom]];
  }

  draw(): void {
    const started = performance.now();
    const ctx = this.canvas.getContext("2d");
    if (!ctx) return;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.cssWidth, this.cssHeight);
    const t = this.tree;
    if (!t || t.n === 0 || t.rootWidth <= 0) {
      this.finish(started, 0);
      return;
    }
    ctx.font = FONT;
    this.charWidth = ctx.measureText("M").width || this.charWidth;
    const W = this.cssWidth;
    const [lo, hi] = this.span();
    const k = W / (hi - lo);
    const zoomDepth = t.depth[this.zoom];
    const batches = new Map<string, number[]>();
    const labels: number[] = [];
    const push = (color: string, x: number, y: number, w: number) => {
      let b = batches.get(color);
      if (!b) batches.set(color, (b = []));
      b.push(x, y, w);
    };
    const visibleRows = Math.ceil(this.cssHeight / ROW_HEIGHT) + 1;
    const firstDepth = Math.max(0, this.scrollRow);
    const lastDepth = Math.min(t.maxDepth, this.scrollRow + visibleRows);
    for (let d = firstDepth; d <= lastDepth; d++) {
      const level = t.levels[d];
      const y = this.rowY(d);
      let pos = t.firstEndingAfter(d, lo);
      // a run of pixels holding only bars under a pixel: one muted rect
      let runStart = -1;
      let runEnd = -1;
      const flushRun = () => {
        if (runStart >= 0) push(TINY, runStart, y, runEnd - runStart + 1);
        runStart = -1;
      };
      while (pos < level.length) {
        const i = level[pos];
        const x = t.x0[i];
        if (x >= hi) break;
        const w = t.width[i] * k;
        if (w < MIN_BAR_PX) {
          const px = Math.floor((x - lo) * k);
          if (runStart >= 0 && px <= runEnd + 1) runEnd = Math.max(runEnd, px);
          else {
            flushRun();
            runStart = runEnd = px;
          }
          pos = Math.max(pos + 1, t.firstStartingFrom(d, lo + (px + 1) / k));
          continue;
        }
        flushRun();
        const xs = Math.max(0, (x - lo) * k);
        const xe = Math.min(W, (x + t.width[i] - lo) * k);
        push(this.colorOf(i, d < zoomDepth), xs, y, Math.max(0.5, xe - xs - (xe - xs > 2 ? 1 : 0)));
        if (xe - xs >= LABEL_MIN_PX) labels.push(i, xs, y, xe - xs);
        pos++;
      }
      flushRun();
    }
    let drawn = 0;
    for (const [color, b] of batches) {
      ctx.fillStyle = color;
      ctx.beginPath();
      for (let j = 0; j < b.length; j += 3) ctx.rect(b[j], b[j + 1], b[j + 2], ROW_HEIGHT - 1);
      ctx.fill();
      drawn += b.length / 3;
    }
    ctx.fillStyle = "#222";
    ctx.textBaseline = "middle";
    for (let j = 0; j < labels.length; j += 4) {
      const text = this.fit(t.name(labels[j]), labels[j + 3] - 6);
      if (text) ctx.fillText(text, labels[j + 1] + 3, labels[j + 2] + ROW_HEIGHT / 2);
    }
    this.finish(started, drawn);
  }

  private finish(started: number, drawn: number): void {
    this.stats.drawn = drawn;
    this.stats.lastFrameMs = performance.now() - started;
    this.stats.frames++;
  }

  private colorOf(i: number, ancestor: boolean): string {
    const t = this.tree!;
    if (this.mask) return this.mask[t.nameIdx[i]] ? MATCHED : DIMMED;
    if (this.diff && t.totalB) {
      const b = diffBucket(t.total[i], t.totalB[i], this.diff.totalA, this.diff.totalB);
      return this.diffPalette[Math.min(DIFF_STEPS - 1, Math.max(0, b))];
    }
    if (ancestor) return MUTED_ANCESTOR;
    return this.colors[t.nameIdx[i]];
  }

  /** The name trimmed from the left to fit `px` (Go names end in what matters). */
  private fit(name: string, px: number): string {
    const max = Math.floor(px / this.charWidth);
    if (max < 2) return "";
    if (name.length <= max) return name;
    return `…${name.slice(name.length - (max - 1))}`;
  }

  /** The node under a point in CSS pixels of the canvas, or -1. */
  hitTest(x: number, y: number): number {
    const t = this.tree;
    if (!t || t.n === 0 || x < 0 || x > this.cssWidth) return -1;
    const d = this.rowAt(y);
    const [lo, hi] = this.span();
    const v = lo + (x / this.cssWidth) * (hi - lo);
    const i = t.nodeAt(d, v);
    if (i < 0) return -1;
    return (t.width[i] * this.cssWidth) / (hi - lo) >= MIN_BAR_PX ? i : -1;
  }

  /** Where node `i` is drawn, in CSS pixels of the canvas (null when not in view). */
  rectOf(i: number): { x: number; y: number; w: number; h: number } | null {
    const t = this.tree;
    if (!t || i < 0 || i >= t.n) return null;
    const [lo, hi] = this.span();
    const k = this.cssWidth / (hi - lo);
    const xs = Math.max(0, (t.x0[i] - lo) * k);
    const xe = Math.min(this.cssWidth, (t.x0[i] + t.width[i] - lo) * k);
    const y = this.rowY(t.depth[i]);
    if (xe <= xs || y < 0 || y >= this.cssHeight) return null;
    return { x: xs, y, w: xe - xs, h: ROW_HEIGHT - 1 };
  }
}
