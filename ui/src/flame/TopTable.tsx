// The per-function table: sortable by self, total or name; virtualized,
// so only the rows in view exist in the DOM whatever the function count.

import { useMemo, useState } from "preact/hooks";
import { formatValue, percent } from "../view/units";
import type { TopRow } from "./analysis";

const ROW_PX = 22;
const VIEW_PX = 440;

type SortKey = "self" | "total" | "name";

interface Props {
  rows: TopRow[];
  grandTotal: number;
  unit: string;
  onPick?: (fn: string) => void;
}

export function TopTable({ rows, grandTotal, unit, onPick }: Props) {
  const [sort, setSort] = useState<SortKey>("self");
  const [desc, setDesc] = useState(true);
  const [scrollTop, setScrollTop] = useState(0);
  const sorted = useMemo(() => {
    const out = rows.slice();
    const dir = desc ? -1 : 1;
    if (sort === "name") out.sort((a, b) => (a.name < b.name ? -dir : a.name > b.name ? dir : 0));
    else out.sort((a, b) => (a[sort] - b[sort]) * dir || (a.name < b.name ? -1 : 1));
    return out;
  }, [rows, sort, desc]);
  const first = Math.max(0, Math.floor(scrollTop / ROW_PX) - 5);
  const last = Math.min(sorted.length, first + Math.ceil(VIEW_PX / ROW_PX) + 10);
  const header = (key: SortKey, label: string) => (
    <th
      class={sort === key ? "sorted" : ""}
      data-sort={key}
      onClick={() => {
        if (sort === key) setDesc(!desc);
        else {
          setSort(key);
          setDesc(key !== "name");
        }
      }}
    >
      {label}
      {sort === key ? (desc ? " ▼" : " ▲") : ""}
    </th>
  );
  return (
    <div class="top-table" data-testid="top-table" data-rows={sorted.length}>
      <table class="top-head">
        <colgroup>
          <col class="c-name" />
          <col class="c-num" />
          <col class="c-num" />
        </colgroup>
        <thead>
          <tr>
            {header("name", "function")}
            {header("self", "self")}
            {header("total", "total")}
          </tr>
        </thead>
      </table>
      <div class="top-scroll" style={{ height: `${Math.min(VIEW_PX, sorted.length * ROW_PX + 2)}px` }} onScroll={(e) => setScrollTop((e.target as HTMLElement).scrollTop)}>
        <div style={{ height: `${sorted.length * ROW_PX}px`, position: "relative" }}>
          <table class="top-body" style={{ position: "absolute", top: `${first * ROW_PX}px` }}>
            <colgroup>
              <col class="c-name" />
              <col class="c-num" />
              <col class="c-num" />
            </colgroup>
            <tbody>
              {sorted.slice(first, last).map((r) => (
                <tr key={r.name} onClick={() => onPick?.(r.name)} title={r.name}>
                  <td class="fn">{r.name}</td>
                  <td>
                    {formatValue(r.self, unit)} <span class="pct">{percent(r.self, grandTotal)}</span>
                  </td>
                  <td>
                    {formatValue(r.total, unit)} <span class="pct">{percent(r.total, grandTotal)}</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </div>
  );
}
