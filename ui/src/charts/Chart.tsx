// One uPlot chart: lines or pre-stacked areas over time, optional
// threshold line, optional highlighted span (playback), drag-to-select.
// uPlot does not stack, so stacked series are summed here and drawn
// largest first, each filled to zero over the previous.

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { useEffect, useRef } from "preact/hooks";
import { formatValue } from "../view/units";

export interface ChartSeries {
  label: string;
  values: number[];
  color: string;
}

interface Props {
  /** Start of each point, ms since the epoch. */
  times: number[];
  series: ChartSeries[];
  unit: string;
  stacked?: boolean;
  height?: number;
  threshold?: number | null;
  /** Highlighted span [fromMs, toMs) (playback). */
  highlight?: [number, number] | null;
  testid?: string;
  /** A drag over the chart selected [fromMs, toMs). */
  onSelect?: (fromMs: number, toMs: number) => void;
  /** A click on a stacked area: the series under the pointer. */
  onSeriesClick?: (label: string) => void;
}

/** Space a chart will take, held while its data loads so nothing below it moves. */
export function ChartPlaceholder({ height = 160, children }: { height?: number; children?: preact.ComponentChildren }) {
  return (
    <div class="chart-placeholder" style={{ height: `${height}px` }}>
      {children}
    </div>
  );
}

export const SERIES_COLORS = ["#e4572e", "#29335c", "#f3a712", "#669bbc", "#a8c686", "#8e5572", "#2a9d8f", "#b56576", "#6d597a", "#e9c46a"];

function stack(series: ChartSeries[]): number[][] {
  const out: number[][] = [];
  const n = series[0]?.values.length ?? 0;
  for (let j = 0; j < series.length; j++) out.push(new Array(n).fill(0));
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let j = series.length - 1; j >= 0; j--) {
      acc += series[j].values[i] ?? 0;
      out[j][i] = acc;
    }
  }
  return out;
}

export function Chart(props: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    const el = box.current!;
    const xs = props.times.map((t) => t / 1e3);
    const ys = props.stacked ? stack(props.series) : props.series.map((s) => s.values);
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: props.height ?? 160,
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: !props.stacked } },
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), Math.max(max, (latest.current.threshold ?? 0) * 1.1, 1)] } },
      axes: [
        { stroke: "#666", grid: { stroke: "#eee" } },
        { stroke: "#666", grid: { stroke: "#eee" }, size: 70, values: (_u, vals) => vals.map((v) => formatValue(v, props.unit)) },
      ],
      series: [
        {},
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: props.stacked ? 0 : 1.5,
          fill: props.stacked ? s.color : undefined,
          points: { show: false },
        })),
      ],
      hooks: {
        setSelect: [
          (u: uPlot) => {
            if (u.select.width < 3 || !latest.current.onSelect) return;
            const from = u.posToVal(u.select.left, "x") * 1e3;
            const to = u.posToVal(u.select.left + u.select.width, "x") * 1e3;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            latest.current.onSelect(Math.floor(from), Math.ceil(to));
          },
        ],
        draw: [
          (u: uPlot) => {
            const { ctx } = u;
            const th = latest.current.threshold;
            if (th !== null && th !== undefined && Number.isFinite(th)) {
              const y = u.valToPos(th, "y", true);
              ctx.save();
              ctx.strokeStyle = "#d00";
              ctx.setLineDash([6, 4]);
              ctx.lineWidth = 1.5 * devicePixelRatio;
              ctx.beginPath();
              ctx.moveTo(u.bbox.left, y);
              ctx.lineTo(u.bbox.left + u.bbox.width, y);
              ctx.stroke();
              ctx.restore();
            }
            const hl = latest.current.highlight;
            if (hl) {
              const x0 = u.valToPos(hl[0] / 1e3, "x", true);
              const x1 = u.valToPos(hl[1] / 1e3, "x", true);
              ctx.save();
              ctx.fillStyle = "rgba(40, 90, 200, 0.18)";
              ctx.fillRect(x0, u.bbox.top, Math.max(2, x1 - x0), u.bbox.height);
              ctx.restore();
            }
          },
        ],
      },
    };
    const u = new uPlot(opts, [xs, ...ys] as uPlot.AlignedData, el);
    plot.current = u;
    const onClick = () => {
      const p = latest.current;
      if (!p.stacked || !p.onSeriesClick) return;
      const idx = u.cursor.idx;
      const top = u.cursor.top;
      if (idx === null || idx === undefined || top === undefined || top < 0) return;
      const v = u.posToVal(top, "y");
      const stacked = stack(p.series);
      for (let j = p.series.length - 1; j >= 0; j--) {
        if (v <= stacked[j][idx]) {
          p.onSeriesClick(p.series[j].label);
          return;
        }
      }
    };
    u.over.addEventListener("click", onClick);
    const observer = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: props.height ?? 160 }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [props.times, props.series, props.stacked, props.unit]);

  useEffect(() => {
    plot.current?.redraw(false, false);
  }, [props.threshold, props.highlight]);

  return <div class="chart" data-testid={props.testid} ref={box} style={{ minHeight: `${props.height ?? 160}px` }} />;
}
