// Live alert instances (pending and firing) of the tenant, from
// GET /api/v1/alerts, filtered to the selected service when one is set.

import { getJson } from "../api/client";
import type { AlertInstance } from "../api/types";
import { useFetch } from "../view/useFetch";

interface Props {
  service?: string;
  refresh: number;
}

function since(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

export function Alerts({ service, refresh }: Props) {
  const data = useFetch(JSON.stringify(["alerts", refresh]), (signal) => getJson<{ alerts: AlertInstance[] }>("alerts", {}, signal));
  const all = data.data?.alerts ?? [];
  const shown = all
    .filter((a) => !service || a.labels.service === service)
    .sort((a, b) => (a.state === b.state ? a.rule.localeCompare(b.rule) : a.state === "firing" ? -1 : 1));
  return (
    <div class="alerts-panel" data-testid="alerts">
      <div class="panel-head">
        <span>alerts</span>
        <span class="muted">{data.error ? data.error : `${shown.filter((a) => a.state === "firing").length} firing, ${shown.filter((a) => a.state === "pending").length} pending`}</span>
      </div>
      {shown.length === 0 ? (
        <div class="muted alerts-empty">{data.loading ? "loading…" : "no alert firing or pending (rules: flarego server --alert-rules, or PUT /api/v1/alerts/rules)"}</div>
      ) : (
        <table class="alerts-table">
          <thead>
            <tr>
              <th>state</th>
              <th>rule</th>
              <th>labels</th>
              <th>value</th>
              <th>since</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((a) => (
              <tr key={a.fingerprint} data-testid="alert-row" class={`alert-${a.state}`} title={a.summary}>
                <td>
                  <span class={`alert-state ${a.state}`}>{a.state}</span>
                </td>
                <td>{a.rule}</td>
                <td class="alert-labels">
                  {Object.entries(a.labels)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(" ")}
                </td>
                <td>{Number.isInteger(a.value) ? a.value : a.value.toPrecision(4)}</td>
                <td>{since(a.fired_at ?? a.active_since)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
