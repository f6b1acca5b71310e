// The main view of stored profiles: the timeline of the selection (drag
// to narrow the range; playback window by window), goroutine states
// (click one to see where those goroutines wait), runtime metrics, and
// the flame graph with its table. Live mode follows new writes.

import { useEffect, useMemo, useState } from "preact/hooks";
import { getJson } from "../api/client";
import type { FlameGraphAnswer, Timeline } from "../api/types";
import { Chart, ChartPlaceholder, SERIES_COLORS } from "../charts/Chart";
import { FlameTree } from "../flame/tree";
import { clock } from "../view/time";
import type { ViewState } from "../view/url";
import { selectionParams } from "../view/url";
import { useFetch } from "../view/useFetch";
import { download } from "./download";
import { FlameView } from "./FlameView";
import { useLive } from "./live";
import { Metrics } from "./Metrics";

interface Props {
  view: ViewState;
  onChange: (patch: Partial<ViewState>, replace?: boolean) => void;
  onError: (message: string) => void;
}

const SPEEDS = [0.5, 1, 2, 4];

export function ProfileView({ view, onChange, onError }: Props) {
  const [refresh, setRefresh] = useState(0);
  const [paused, setPaused] = useState(false);
  const [playIndex, setPlayIndex] = useState<number | null>(null);
  const [playing, setPlaying] = useState(false);
  const [speed, setSpeed] = useState(1);
  const selection = selectionParams(view);
  const rangeKey = JSON.stringify([selection, refresh]);

  const timeline = useFetch(rangeKey, (signal) => getJson<Timeline>("timeline", selection, signal), onError);
  const statesParams: Record<string, string> = { ...selection, profile_type: "goroutine", group_by: "state" };
  delete statesParams.state;
  delete statesParams.focus;
  // live refreshes reach the slower-moving charts every fifth time, so the
  // flame graph's request is not queued behind them
  const slowRefresh = Math.floor(refresh / 5);
  const states = useFetch(JSON.stringify([statesParams, slowRefresh]), (signal) => getJson<Timeline>("timeline", statesParams, signal), onError);

  // playback: the flame graph follows one step of the timeline
  const steps = timeline.data?.times ?? [];
  const stepMs = (timeline.data?.step_ns ?? 0) / 1e6;
  const playWindow: [number, number] | null = playIndex !== null && steps[playIndex] !== undefined ? [steps[playIndex] / 1e6, steps[playIndex] / 1e6 + stepMs] : null;
  const flameParams = playWindow ? { ...selection, from: String(Math.floor(playWindow[0])), to: String(Math.floor(playWindow[1])) } : selection;
  const flame = useFetch(JSON.stringify([flameParams, refresh]), (signal) => getJson<FlameGraphAnswer>("flamegraph", flameParams, signal), onError);
  const tree = useMemo(() => (flame.data ? new FlameTree(flame.data.tree) : null), [flame.data]);

  useEffect(() => {
    if (!playing) return;
    const timer = window.setInterval(() => {
      setPlayIndex((i) => {
        const next = i === null ? 0 : i + 1;
        if (next >= steps.length) {
          setPlaying(false);
          return i;
        }
        return next;
      });
    }, 1000 / speed);
    return () => window.clearInterval(timer);
  }, [playing, speed, steps.length]);

  useEffect(() => {
    setPlayIndex(null);
    setPlaying(false);
  }, [view.from, view.to]);

  const liveParams: Record<string, string> = { profile_type: view.profile_type };
  if (view.service) liveParams.service = view.service;
  if (view.query) liveParams.query = view.query;
  if (view.state) liveParams.state = view.state;
  const live = useLive(view.live, paused, liveParams, () => setRefresh((r) => r + 1));

  const unit = flame.data?.unit ?? timeline.data?.unit ?? "count";
  const stateSeries = (states.data?.series ?? []).map((s, i) => ({ label: s.group, values: s.values, color: SERIES_COLORS[i % SERIES_COLORS.length] }));
  return (
    <div class="profile-view">
      <section class="panel">
        <div class="panel-head">
          <span>
            {view.profile_type}
            {view.state && (
              <span class="chip" data-testid="state-filter">
                state: {view.state}
                <button class="link" onClick={() => onChange({ state: "" })}>
                  ×
                </button>
              </span>
            )}
          </span>
          <Playback
            steps={steps.length}
            index={playIndex}
            playing={playing}
            speed={speed}
            onIndex={(i) => {
              setPlaying(false);
              setPlayIndex(i);
            }}
            onPlay={() => setPlaying(!playing)}
            onSpeed={setSpeed}
            label={playWindow ? `${clock(playWindow[0])} + ${stepMs / 1000}s` : ""}
          />
          <LiveControls view={view} live={live} paused={paused} onToggle={() => onChange({ live: !view.live, to: "now" })} onPause={() => setPaused(!paused)} />
        </div>
        {!timeline.data && <ChartPlaceholder>{timeline.loading ? "loading…" : ""}</ChartPlaceholder>}
        {timeline.data && (
          <Chart
            testid="timeline"
            times={timeline.data.times.map((t) => t / 1e6)}
            series={timeline.data.series.map((s, i) => ({ label: s.group || view.profile_type, values: s.values, color: SERIES_COLORS[i % SERIES_COLORS.length] }))}
            unit={timeline.data.unit}
            highlight={playWindow}
            onSelect={(from, to) => onChange({ from: String(from), to: String(to), live: false })}
          />
        )}
        {timeline.error && <div class="error-inline">{timeline.error}</div>}
      </section>
      <section class="panel">
        <div class="panel-head">
          <span>goroutine states</span>
          <span class="legend" data-testid="states-legend">
            {stateSeries.map((s) => (
              <button key={s.label} class={`legend-item${view.state === s.label ? " on" : ""}`} data-state={s.label} onClick={() => onChange({ profile_type: "goroutine", state: s.label })}>
                <i style={{ background: s.color }} />
                {s.label} ({states.data!.series.find((x) => x.group === s.label)?.total ?? 0})
              </button>
            ))}
          </span>
        </div>
        {stateSeries.length > 0 ? (
          <Chart testid="states" times={states.data!.times.map((t) => t / 1e6)} series={stateSeries} unit="count" stacked height={130} onSeriesClick={(label) => onChange({ profile_type: "goroutine", state: label })} />
        ) : (
          <ChartPlaceholder height={130}>{states.loading ? "loading…" : "no goroutine profiles in this range"}</ChartPlaceholder>
        )}
      </section>
      <Metrics selection={selection} refresh={slowRefresh} onError={onError} />
      <section class="panel">
        <div class="panel-head">
          <span>flame graph{flame.loading ? " (loading…)" : ""}</span>
          <span>
            <button data-testid="download-fgo" onClick={() => download("export", { ...flameParams, format: "fgo" }, `${view.service || "flarego"}.fgo`).catch((e) => onError(e.message))}>
              download .fgo
            </button>
            <button onClick={() => download("export", { ...flameParams, format: "pprof" }, `${view.service || "flarego"}.pb.gz`).catch((e) => onError(e.message))}>pprof</button>
          </span>
        </div>
        {flame.error ? (
          <div class="error-inline" data-testid="flame-error">
            {flame.error}
          </div>
        ) : (
          <FlameView
            tree={tree}
            unit={unit}
            orientation={view.orientation}
            search={view.search}
            fn={view.mode === "sandwich" ? view.fn : ""}
            onChange={(p) => onChange(p, p.search !== undefined)}
            empty={<EmptyHelp loading={flame.loading} />}
          />
        )}
      </section>
    </div>
  );
}

function EmptyHelp({ loading }: { loading: boolean }) {
  if (loading) return <span>loading…</span>;
  return (
    <span>
      No profiles in this selection. Widen the time range, or send some: <code>flarego agent --service api --pprof-url http://127.0.0.1:6060</code> scrapes a Go
      program that imports <code>net/http/pprof</code>; <code>flarego demo</code> runs a server with a profiled workload.
    </span>
  );
}

function Playback(p: {
  steps: number;
  index: number | null;
  playing: boolean;
  speed: number;
  label: string;
  onIndex: (i: number | null) => void;
  onPlay: () => void;
  onSpeed: (s: number) => void;
}) {
  if (p.steps === 0) return null;
  const at = p.index ?? -1;
  return (
    <span class="playback" data-testid="playback">
      <button title="previous window" onClick={() => p.onIndex(Math.max(0, at - 1))}>
        ◀
      </button>
      <button title="play window by window" onClick={p.onPlay} data-testid="play">
        {p.playing ? "❚❚" : "▶"}
      </button>
      <button title="next window" onClick={() => p.onIndex(Math.min(p.steps - 1, at + 1))} data-testid="step">
        ▶|
      </button>
      <select value={String(p.speed)} onChange={(e) => p.onSpeed(Number((e.target as HTMLSelectElement).value))} title="windows per second">
        {SPEEDS.map((s) => (
          <option value={String(s)} key={s}>
            {s}×
          </option>
        ))}
      </select>
      {p.index !== null && (
        <>
          <span class="note">{p.label}</span>
          <button class="link" onClick={() => p.onIndex(null)}>
            whole range
          </button>
        </>
      )}
    </span>
  );
}

function LiveControls(p: { view: ViewState; live: ReturnType<typeof useLive>; paused: boolean; onToggle: () => void; onPause: () => void }) {
  return (
    <span class="live" data-testid="live">
      <button class={p.view.live ? "on" : ""} onClick={p.onToggle} data-testid="live-toggle">
        {p.view.live ? "● live" : "live"}
      </button>
      {p.view.live && (
        <>
          <button onClick={p.onPause} data-testid="live-pause">
            {p.paused ? "resume" : "pause"}
          </button>
          <span class="note" data-testid="live-status">
            {p.live.connected ? "connected" : "connecting…"} · {p.live.updates} updates
            {p.live.missed > 0 && <b class="behind"> · fell behind: {p.live.missed} writes missed</b>}
            {p.live.error && <b class="behind"> · {p.live.error}</b>}
          </span>
        </>
      )}
    </span>
  );
}
