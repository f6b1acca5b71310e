// A flame tree with its tools: search (regex, share of the total),
// flame/icicle orientation, the top table, and the sandwich of one
// function. Shared by server views and opened snapshots.

import { useEffect, useMemo, useRef } from "preact/hooks";
import { matchedValue, matchNames, sandwich, topFunctions } from "../flame/analysis";
import { FlameGraph } from "../flame/FlameGraph";
import { TopTable } from "../flame/TopTable";
import { FlameTree } from "../flame/tree";
import { formatValue, percent } from "../view/units";

interface Props {
  tree: FlameTree | null;
  unit: string;
  orientation: "flame" | "icicle";
  search: string;
  /** Sandwich function, when one is open. */
  fn: string;
  onChange: (patch: { search?: string; orientation?: "flame" | "icicle"; fn?: string; mode?: "single" | "sandwich" }) => void;
  empty?: preact.ComponentChildren;
}

export function FlameView({ tree, unit, orientation, search, fn, onChange, empty }: Props) {
  const searchRef = useRef<HTMLInputElement>(null);
  const mask = useMemo(() => (tree ? matchNames(tree, search) : null), [tree, search]);
  const share = useMemo(() => (tree && mask ? matchedValue(tree, mask) : 0), [tree, mask]);
  const rows = useMemo(() => (tree ? topFunctions(tree) : []), [tree]);
  const sw = useMemo(() => {
    if (!tree || !fn) return null;
    const s = sandwich(tree, fn);
    return { callers: new FlameTree(s.callers), callees: new FlameTree(s.callees), total: s.total };
  }, [tree, fn]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      if (e.key === "/" && !["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName)) {
        e.preventDefault();
        searchRef.current?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const grand = tree && tree.n ? tree.total[0] : 0;
  return (
    <div class="flame-view">
      <div class="toolbar">
        <input
          ref={searchRef}
          data-testid="search"
          placeholder="search frames (regex)   /"
          value={search}
          onInput={(e) => onChange({ search: (e.target as HTMLInputElement).value })}
        />
        {mask && (
          <span class="share" data-testid="search-share">
            matches {formatValue(share, unit)} · {percent(share, grand)} of total
          </span>
        )}
        <button onClick={() => onChange({ orientation: orientation === "flame" ? "icicle" : "flame" })} data-testid="orientation">
          {orientation === "flame" ? "icicle" : "flame"} view
        </button>
        <span class="total">
          total {formatValue(grand, unit)} · {tree ? tree.n : 0} nodes
        </span>
      </div>
      {tree && tree.n > 1 ? (
        <div class="flame-and-table">
          <div class="flame-col">
            {sw ? (
              <div class="sandwich" data-testid="sandwich">
                <div class="sandwich-head">
                  sandwich of <b>{fn}</b> · {formatValue(sw.total, unit)} ({percent(sw.total, grand)})
                  <button class="link" onClick={() => onChange({ fn: "", mode: "single" })}>
                    close
                  </button>
                </div>
                <div class="label">callers</div>
                <FlameGraph tree={sw.callers} unit={unit} orientation="flame" mask={mask} hook="callers" maxHeight={320} />
                <div class="label">callees</div>
                <FlameGraph tree={sw.callees} unit={unit} orientation="icicle" mask={mask} hook="callees" maxHeight={320} />
              </div>
            ) : (
              <FlameGraph
                tree={tree}
                unit={unit}
                orientation={orientation}
                mask={mask}
                hook="flame"
                keyboard
                onSandwich={(name) => onChange({ fn: name, mode: "sandwich" })}
              />
            )}
          </div>
          <div class="table-col">
            <TopTable rows={rows} grandTotal={grand} unit={unit} onPick={(name) => onChange({ fn: name, mode: "sandwich" })} />
          </div>
        </div>
      ) : (
        <div class="empty" data-testid="empty">
          {empty ?? "No profiles in this selection."}
        </div>
      )}
    </div>
  );
}
