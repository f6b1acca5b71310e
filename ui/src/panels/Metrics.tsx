// Runtime metrics of the selection: heap in use, GC pauses (p50, p99,
// max per window), goroutines and blocked goroutines, each with a
// threshold line the user sets (kept in local storage); and the live
// alert instances.

import { useState } from "preact/hooks";
import { getJson } from "../api/client";
import type { Timeline } from "../api/types";
import { Chart, ChartPlaceholder, SERIES_COLORS } from "../charts/Chart";
import { Alerts } from "./Alerts";
import { useFetch } from "../view/useFetch";

interface Panel {
  title: string;
  unit: string;
  metrics: { name: string; label: string; agg: string }[];
}

const PANELS: Panel[] = [
  { title: "heap in use", unit: "bytes", metrics: [{ name: "go_heap_inuse_bytes", label: "heap in use", agg: "avg" }] },
  {
    title: "GC pauses",
    unit: "nanoseconds",
    metrics: [
      { name: "go_gc_pause_p50_ns", label: "p50", agg: "max" },
      { name: "go_gc_pause_p99_ns", label: "p99", agg: "max" },
      { name: "go_gc_pause_max_ns", label: "max", agg: "max" },
    ],
  },
  { title: "goroutines", unit: "count", metrics: [{ name: "go_goroutines_total", label: "goroutines", agg: "avg" }] },
  { title: "blocked goroutines", unit: "count", metrics: [{ name: "go_goroutines_blocked", label: "blocked", agg: "avg" }] },
];

interface Props {
  selection: Record<string, string>;
  refresh: number;
  onError: (m: string) => void;
}

export function Metrics({ selection, refresh, onError }: Props) {
  return (
    <div class="metrics" data-testid="metrics">
      {PANELS.map((p) => (
        <MetricPanel key={p.title} panel={p} selection={selection} refresh={refresh} onError={onError} />
      ))}
      <Alerts service={selection.service} refresh={refresh} />
    </div>
  );
}

function MetricPanel({ panel, selection, refresh, onError }: { panel: Panel } & Props) {
  const storageKey = `flarego.threshold.${panel.title}`;
  const [threshold, setThreshold] = useState<string>(localStorage.getItem(storageKey) ?? "");
  const base: Record<string, string> = { from: selection.from, to: selection.to };
  if (selection.service) base.service = selection.service;
  if (selection.query) base.query = selection.query;
  const key = JSON.stringify([base, refresh, panel.title]);
  const data = useFetch(
    key,
    (signal) => Promise.all(panel.metrics.map((m) => getJson<Timeline>("metrics/series", { ...base, name: m.name, agg: m.agg }, signal))),
    onError,
  );
  const timelines = data.data;
  const times = timelines?.[0]?.times.map((t) => t / 1e6) ?? [];
  const series = (timelines ?? []).map((t, i) => ({
    label: panel.metrics[i].label,
    values: t.series[0]?.values ?? new Array(t.times.length).fill(0),
    color: SERIES_COLORS[i],
  }));
  const hasData = (timelines ?? []).some((t) => t.series.some((s) => s.total !== 0));
  const th = threshold.trim() === "" ? null : Number(threshold);
  return (
    <div class="metric-panel">
      <div class="panel-head">
        <span>{panel.title}</span>
        <input
          class="threshold"
          placeholder="threshold"
          title={`threshold line, in ${panel.unit}`}
          value={threshold}
          onInput={(e) => {
            const v = (e.target as HTMLInputElement).value;
            setThreshold(v);
            localStorage.setItem(storageKey, v);
          }}
        />
      </div>
      {data.error ? (
        <ChartPlaceholder height={110}>
          <span class="error-inline">{data.error}</span>
        </ChartPlaceholder>
      ) : hasData ? (
        <Chart times={times} series={series} unit={panel.unit} height={110} threshold={th !== null && Number.isFinite(th) ? th : null} />
      ) : (
        <ChartPlaceholder height={110}>{data.loading ? "loading…" : "no points: runtime metrics come from the agent (flarego agent --pprof-url …)"}</ChartPlaceholder>
      )}
    </div>
  );
}
