// A small test and benchmark hook: `window.__flarego.<name>` exposes what
// a canvas hides from the DOM (hit tests, where a frame is drawn, frame
// times), so browser tests assert geometry instead of comparing pixels.

import type { FlameRenderer } from "./render";

export interface FlameHook {
  nodeAt(x: number, y: number): { name: string; depth: number; total: number; self: number } | null;
  /** Client coordinates of the widest drawn node with this name. */
  rectOf(name: string): { x: number; y: number; w: number; h: number } | null;
  stats(): { drawn: number; lastFrameMs: number; frames: number; nodes: number; zoom: string };
  zoomTo(name: string): boolean;
  redraw(): number;
}

declare global {
  interface Window {
    __flarego?: Record<string, unknown>;
  }
}

export function installHook(name: string, renderer: FlameRenderer, zoomTo: (node: number) => void): () => void {
  const canvas = renderer.canvas;
  const widest = (fn: string): number => {
    const t = renderer.tree;
    if (!t) return -1;
    let best = -1;
    for (let i = 0; i < t.n; i++) {
      if (t.name(i) === fn && renderer.rectOf(i) && (best < 0 || t.width[i] > t.width[best])) best = i;
    }
    return best;
  };
  const hook: FlameHook = {
    nodeAt(x, y) {
      const box = canvas.getBoundingClientRect();
      const i = renderer.hitTest(x - box.left, y - box.top);
      const t = renderer.tree;
      if (!t || i < 0) return null;
      return { name: t.name(i), depth: t.depth[i], total: t.total[i], self: t.self[i] };
    },
    rectOf(fn) {
      const i = widest(fn);
      const r = i >= 0 ? renderer.rectOf(i) : null;
      if (!r) return null;
      const box = canvas.getBoundingClientRect();
      return { x: r.x + box.left, y: r.y + box.top, w: r.w, h: r.h };
    },
    stats() {
      const t = renderer.tree;
      return { ...renderer.stats, nodes: t ? t.n : 0, zoom: t ? t.name(renderer.zoom) : "" };
    },
    zoomTo(fn) {
      const i = widest(fn);
      if (i < 0) return false;
      zoomTo(i);
      renderer.draw();
      return true;
    },
    redraw() {
      renderer.draw();
      return renderer.stats.lastFrameMs;
    },
  };
  const root = (window.__flarego ??= {});
  root[name] = hook;
  return () => {
    if (root[name] === hook) delete root[name];
  };
}
