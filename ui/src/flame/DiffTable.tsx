// The functions of a diff whose share changed most: each side's total
// (counted once per stack) as a share of its own side, and the change in
// percentage points.

import { useMemo } from "preact/hooks";
import { formatValue } from "../view/units";
import { topFunctions } from "./analysis";
import type { FlameTree } from "./tree";

const ROWS = 100;

export function DiffTable({ tree, unit }: { tree: FlameTree; unit: string }) {
  const rows = useMemo(() => {
    if (!tree.totalB || !tree.selfB || tree.n === 0) return [];
    const a = topFunctions(tree);
    const b = new Map(topFunctions(tree, tree.totalB, tree.selfB).map((r) => [r.name, r.total]));
    const totalA = tree.total[0] || 1;
    const totalB = tree.totalB[0] || 1;
    return a
      .map((r) => {
        const vb = b.get(r.name) ?? 0;
        return { name: r.name, a: r.total, b: vb, change: (100 * vb) / totalB - (100 * r.total) / totalA };
      })
      .sort((x, y) => Math.abs(y.change) - Math.abs(x.change))
      .slice(0, ROWS);
  }, [tree]);
  return (
    <table class="list diff-table" data-testid="diff-table">
      <thead>
        <tr>
          <th>function</th>
          <th>base</th>
          <th>comparison</th>
          <th>share change</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.name}>
            <td class="fn">{r.name}</td>
            <td>{formatValue(r.a, unit)}</td>
            <td>{formatValue(r.b, unit)}</td>
            <td class={r.change > 0 ? "grew" : r.change < 0 ? "shrank" : ""}>
              {r.change > 0 ? "+" : ""}
              {r.change.toFixed(1)} pp
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
