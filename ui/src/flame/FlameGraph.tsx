// The flame graph component: mounts the canvas renderer, and adds the
// tooltip, breadcrumbs, zoom (click; Esc or reset to undo) and row
// scrolling for trees deeper than the view.

import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { formatValue, percent } from "../view/units";
import type { DiffColoring } from "./render";
import { FlameRenderer, ROW_HEIGHT } from "./render";
import { installHook } from "./hook";
import type { FlameTree } from "./tree";

interface Props {
  tree: FlameTree | null;
  unit: string;
  orientation: "flame" | "icicle";
  mask: Uint8Array | null;
  diff?: DiffColoring | null;
  /** Name of the test hook and the `data-testid` (`flamegraph` for the main one). */
  hook: string;
  /** Escape resets the zoom (one graph on the page listens). */
  keyboard?: boolean;
  maxHeight?: number;
  onSandwich?: (fn: string) => void;
}

interface Tip {
  node: number;
  x: number;
  y: number;
}

export function FlameGraph(props: Props) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const boxRef = useRef<HTMLDivElement>(null);
  const rendererRef = useRef<FlameRenderer | null>(null);
  const [zoom, setZoom] = useState(0);
  const [tip, setTip] = useState<Tip | null>(null);
  const [, setScroll] = useState(0);
  const { tree } = props;

  const renderer = (): FlameRenderer => {
    if (!rendererRef.current) rendererRef.current = new FlameRenderer(canvasRef.current!);
    return rendererRef.current;
  };

  const zoomTo = (i: number) => {
    const r = renderer();
    r.zoom = i;
    setZoom(i);
    r.requestDraw();
  };

  const height = (): number => {
    const rows = tree ? tree.maxDepth + 1 : 1;
    return Math.min(props.maxHeight ?? 640, Math.max(3, rows) * ROW_HEIGHT);
  };

  useLayoutEffect(() => {
    const r = renderer();
    r.setTree(tree);
    setZoom(0);
    setTip(null);
    r.resize(boxRef.current!.clientWidth, height());
    r.draw();
  }, [tree]);

  useLayoutEffect(() => {
    const r = renderer();
    r.orientation = props.orientation;
    r.mask = props.mask;
    r.setDiff(props.diff ?? null);
    r.draw();
  }, [props.orientation, props.mask, props.diff]);

  useEffect(() => {
    const box = boxRef.current!;
    const observer = new ResizeObserver(() => {
      const r = renderer();
      r.resize(box.clientWidth, height());
      r.draw();
    });
    observer.observe(box);
    return () => observer.disconnect();
  }, [tree]);

  useEffect(() => installHook(props.hook, renderer(), zoomTo), [props.hook]);

  useEffect(() => {
    if (!props.keyboard) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") zoomTo(0);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [props.keyboard]);

  const onMove = (e: MouseEvent) => {
    const box = canvasRef.current!.getBoundingClientRect();
    const i = renderer().hitTest(e.clientX - box.left, e.clientY - box.top);
    setTip(i >= 0 ? { node: i, x: e.clientX - box.left, y: e.clientY - box.top } : null);
  };

  const onClick = (e: MouseEvent) => {
    const box = canvasRef.current!.getBoundingClientRect();
    const i = renderer().hitTest(e.clientX - box.left, e.clientY - box.top);
    if (i >= 0) zoomTo(i);
  };

  const onWheel = (e: WheelEvent) => {
    const r = renderer();
    const visible = Math.floor(height() / ROW_HEIGHT);
    const maxScroll = Math.max(0, r.rows() - visible);
    if (maxScroll === 0) return;
    e.preventDefault();
    const step = Math.sign(e.deltaY) * 3 * (props.orientation === "flame" ? -1 : 1);
    r.scrollRow = Math.max(0, Math.min(maxScroll, r.scrollRow + step));
    setScroll(r.scrollRow);
    r.requestDraw();
  };

  const crumbs = tree && zoom > 0 ? tree.path(zoom) : [];
  return (
    <div class="flame">
      <div class="crumbs">
        {crumbs.length > 0 && (
          <>
            <button class="link" data-testid={`${props.hook}-reset`} onClick={() => zoomTo(0)}>
              reset zoom
            </button>
            {crumbs.map((i) => (
              <button class="crumb" key={i} onClick={() => zoomTo(i)}>
                {tree!.name(i)}
              </button>
            ))}
          </>
        )}
        {tree && tree.prunedNodes > 0 && (
          <span class="note">
            {tree.prunedNodes} small nodes merged into “other” ({formatValue(tree.prunedValue, props.unit)})
          </span>
        )}
      </div>
      <div class="flame-box" ref={boxRef} onMouseLeave={() => setTip(null)}>
        <canvas
          ref={canvasRef}
          data-testid={props.hook === "flame" ? "flamegraph" : props.hook}
          onMouseMove={onMove}
          onClick={onClick}
          onWheel={onWheel}
          onContextMenu={(e) => {
            if (!props.onSandwich || !tip || !tree) return;
            e.preventDefault();
            props.onSandwich(tree.name(tip.node));
          }}
        />
        {tip && tree && <Tooltip tree={tree} node={tip.node} x={tip.x} y={tip.y} unit={props.unit} diff={props.diff} />}
      </div>
    </div>
  );
}

function Tooltip(p: { tree: FlameTree; node: number; x: number; y: number; unit: string; diff?: DiffColoring | null }) {
  const t = p.tree;
  const i = p.node;
  const parent = t.parent[i];
  const root = t.total[0];
  const style = { left: `${Math.min(p.x + 14, (window.innerWidth || 800) - 360)}px`, top: `${p.y + 14}px` };
  return (
    <div class="tooltip" data-testid="tooltip" style={style}>
      <div class="tip-name">{t.name(i)}</div>
      {t.totalB && p.diff ? (
        <table>
          <tr>
            <td>base</td>
            <td>{formatValue(t.total[i], p.unit)}</td>
            <td>{percent(t.total[i], p.diff.totalA)}</td>
          </tr>
          <tr>
            <td>comparison</td>
            <td>{formatValue(t.totalB[i], p.unit)}</td>
            <td>{percent(t.totalB[i], p.diff.totalB)}</td>
          </tr>
        </table>
      ) : (
        <table>
          <tr>
            <td>total</td>
            <td>{formatValue(t.total[i], p.unit)}</td>
            <td>{percent(t.total[i], root)} of all</td>
          </tr>
          <tr>
            <td>self</td>
            <td>{formatValue(t.self[i], p.unit)}</td>
            <td>{percent(t.self[i], root)} of all</td>
          </tr>
          {parent >= 0 && (
            <tr>
              <td>of parent</td>
              <td colSpan={2}>{percent(t.total[i], t.total[parent])}</td>
            </tr>
          )}
        </table>
      )}
      <div class="tip-hint">click to zoom · right-click for sandwich</div>
    </div>
  );
}
