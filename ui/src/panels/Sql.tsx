// The SQL console: a query over the same tables as POST /api/v1/query,
// its result as a table, its error as the server worded it.

import { useState } from "preact/hooks";
import { postJson } from "../api/client";

/** The answer of POST /api/v1/query (docs/api.md). */
interface Answer {
  columns: { name: string; type: string }[];
  rows: unknown[][];
}

const EXAMPLE = `SELECT service, profile_type, count(*) AS rows
FROM profiles
WHERE time > now() - INTERVAL '1 hour'
GROUP BY service, profile_type
ORDER BY rows DESC`;

export function Sql() {
  const [text, setText] = useState(EXAMPLE);
  const [answer, setAnswer] = useState<Answer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [running, setRunning] = useState(false);
  const [took, setTook] = useState(0);
  const run = async () => {
    setRunning(true);
    setError(null);
    const started = performance.now();
    try {
      const body = await postJson<Answer>("query", JSON.stringify({ sql: text }), "application/json");
      setAnswer(body);
    } catch (e) {
      setAnswer(null);
      setError((e as Error).message);
    } finally {
      setTook(performance.now() - started);
      setRunning(false);
    }
  };
  return (
    <section class="panel sql">
      <textarea
        data-testid="sql-input"
        value={text}
        rows={8}
        spellcheck={false}
        onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) run();
        }}
      />
      <div class="toolbar">
        <button data-testid="sql-run" onClick={run} disabled={running}>
          {running ? "running…" : "run (Ctrl+Enter)"}
        </button>
        {answer && (
          <span class="note">
            {answer.rows.length} rows in {took.toFixed(0)} ms
          </span>
        )}
      </div>
      <div data-testid="sql-result" class="sql-result">
        {error && <div class="error-inline">{error}</div>}
        {answer && (
          <table class="list">
            <thead>
              <tr>
                {answer.columns.map((c) => (
                  <th key={c.name} title={c.type}>
                    {c.name}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {answer.rows.slice(0, 1000).map((r, i) => (
                <tr key={i}>
                  {r.map((v, j) => (
                    <td key={j}>{v === null ? "NULL" : typeof v === "object" ? JSON.stringify(v) : String(v)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {answer && answer.rows.length > 1000 && <div class="note">showing the first 1,000 of {answer.rows.length} rows</div>}
      </div>
    </section>
  );
}
