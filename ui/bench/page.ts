// The benchmark page: FlareGo's renderer and d3-flame-graph, each given
// the same tree as JSON text, timed from the text to a painted frame and
// over zooms.

import { select } from "d3-selection";
import flamegraph from "d3-flame-graph";
import { FlameRenderer } from "../src/flame/render";
import { FlameTree } from "../src/flame/tree";

const frame = () => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r())));
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function box(id: string): HTMLElement {
  const el = document.createElement("div");
  el.id = id;
  el.style.width = "1200px";
  document.body.appendChild(el);
  return el;
}

async function ours(columnarJson: string, zooms: number[]) {
  const el = box("ours");
  const canvas = document.createElement("canvas");
  el.appendChild(canvas);
  const t0 = performance.now();
  const parsed = JSON.parse(columnarJson);
  const t1 = performance.now();
  const tree = new FlameTree(parsed);
  const t2 = performance.now();
  const r = new FlameRenderer(canvas);
  r.setTree(tree);
  r.resize(1200, 720);
  r.draw();
  const drawn = performance.now() - t0;
  const split = { parse_ms: t1 - t0, layout_ms: t2 - t1, draw_ms: performance.now() - t2 };
  await frame();
  const first = performance.now() - t0;
  const again = performance.now();
  r.draw();
  const redrawRoot = performance.now() - again;
  const times: number[] = [];
  for (const z of zooms) {
    r.zoom = z % tree.n;
    const s = performance.now();
    r.draw();
    times.push(performance.now() - s);
  }
  el.remove();
  return { first_frame_ms: first, to_drawn_ms: drawn, ...split, redraw_root_ms: redrawRoot, zoom_median_ms: median(times), zoom_max_ms: Math.max(...times), nodes: tree.n };
}

async function d3(nestedJson: string, zooms: number[]) {
  const el = box("d3");
  const t0 = performance.now();
  const data = JSON.parse(nestedJson);
  const chart = flamegraph().width(1200).cellHeight(18).transitionDuration(0);
  select(el).datum(data).call(chart);
  el.getBoundingClientRect();
  await frame();
  const first = performance.now() - t0;
  const root = select(el).datum() as { descendants(): unknown[] };
  const all = root.descendants();
  const times: number[] = [];
  for (const z of zooms) {
    const s = performance.now();
    chart.zoomTo(all[z % all.length]);
    el.getBoundingClientRect();
    await frame();
    times.push(performance.now() - s);
  }
  el.remove();
  return { first_frame_ms: first, zoom_median_ms: median(times), zoom_max_ms: Math.max(...times), nodes: all.length };
}

(window as unknown as { bench: unknown }).bench = { ours, d3 };
