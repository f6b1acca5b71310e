// Diff mode: the selection over a base range against a comparison range
// (custom, or the same range a day or a week before), frames coloured by
// growth (red) and shrinkage (green, or blue in the colour-blind palette).

import { useMemo, useState } from "preact/hooks";
import { getJson } from "../api/client";
import type { DiffAnswer } from "../api/types";
import type { DiffPalette } from "../flame/colors";
import { DIFF_STEPS, diffColors } from "../flame/colors";
import { DiffTable } from "../flame/DiffTable";
import { FlameGraph } from "../flame/FlameGraph";
import { matchNames } from "../flame/analysis";
import { FlameTree } from "../flame/tree";
import { resolveMs } from "../view/time";
import type { ViewState } from "../view/url";
import { selectionParams } from "../view/url";
import { useFetch } from "../view/useFetch";
import { formatValue } from "../view/units";

interface Props {
  view: ViewState;
  onChange: (patch: Partial<ViewState>, replace?: boolean) => void;
  onError: (message: string) => void;
}

const DAY_MS = 86400e3;

export function DiffView({ view, onChange, onError }: Props) {
  const [palette, setPalette] = useState<DiffPalette>((localStorage.getItem("flarego.palette") as DiffPalette) || "red-green");
  const [normalize, setNormalize] = useState(true);
  const sel = selectionParams(view);
  const params: Record<string, string> = { ...sel, normalize: String(normalize) };
  delete params.from;
  delete params.to;
  params.base_from = view.from;
  params.base_to = view.to;
  params.comp_from = view.comp_from || view.from;
  params.comp_to = view.comp_to || view.to;
  const diff = useFetch(JSON.stringify(params), (signal) => getJson<DiffAnswer>("diff", params, signal), onError);
  const tree = useMemo(() => (diff.data ? new FlameTree(diff.data.tree) : null), [diff.data]);
  const mask = useMemo(() => (tree ? matchNames(tree, view.search) : null), [tree, view.search]);
  // each side as a share of its own total, so the colours compare shares
  const coloring = useMemo(() => (tree && tree.totalB && tree.n ? { palette, totalA: tree.total[0], totalB: tree.totalB[0] } : null), [tree, palette]);
  const shift = (ms: number) => {
    const from = resolveMs(view.from);
    const to = resolveMs(view.to);
    onChange({ comp_from: String(Math.floor(from - ms)), comp_to: String(Math.floor(to - ms)) });
  };
  const colors = diffColors(palette);
  return (
    <section class="panel diff-view">
      <div class="panel-head">
        <span>
          base <code>{view.from} → {view.to}</code> against comparison
          <input data-testid="comp-from" value={view.comp_from} placeholder="same as base" onChange={(e) => onChange({ comp_from: (e.target as HTMLInputElement).value })} />
          →
          <input data-testid="comp-to" value={view.comp_to} placeholder="same as base" onChange={(e) => onChange({ comp_to: (e.target as HTMLInputElement).value })} />
          <button onClick={() => shift(DAY_MS)}>a day before</button>
          <button onClick={() => shift(7 * DAY_MS)}>a week before</button>
        </span>
        <span>
          <label>
            <input type="checkbox" checked={normalize} onChange={() => setNormalize(!normalize)} /> normalize
          </label>
          <select
            data-testid="palette"
            value={palette}
            onChange={(e) => {
              const p = (e.target as HTMLSelectElement).value as DiffPalette;
              setPalette(p);
              localStorage.setItem("flarego.palette", p);
            }}
          >
            <option value="red-green">red / green</option>
            <option value="blue-red">blue / red (colour-blind)</option>
          </select>
        </span>
      </div>
      <div class="diff-legend" data-testid="diff-legend">
        <span>shrank</span>
        <span class="ramp">
          {colors.map((c, i) => (
            <i key={i} style={{ background: c }} title={`${Math.round(((i - (DIFF_STEPS - 1) / 2) / ((DIFF_STEPS - 1) / 2)) * 100)}%`} />
          ))}
        </span>
        <span>grew</span>
        {diff.data && (
          <span class="note">
            base total {formatValue(diff.data.base_total, diff.data.unit)} · comparison total {formatValue(diff.data.comp_total, diff.data.unit)}
            {normalize && diff.data.comp_factor !== 1 && ` (scaled ×${diff.data.comp_factor.toFixed(3)})`}
          </span>
        )}
      </div>
      {diff.error && <div class="error-inline">{diff.error}</div>}
      {tree && tree.n > 1 ? (
        <>
          <FlameGraph tree={tree} unit={diff.data!.unit} orientation={view.orientation} mask={mask} diff={coloring} hook="flame" keyboard />
          <DiffTable tree={tree} unit={diff.data!.unit} />
        </>
      ) : (
        <div class="empty">{diff.loading ? "loading…" : "Nothing to compare: neither range has profiles for this selection."}</div>
      )}
    </section>
  );
}
