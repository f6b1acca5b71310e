// The selection pickers: service, profile type, label filters with value
// suggestions, and the time range (presets or custom).

import { useEffect, useState } from "preact/hooks";
import { getJson } from "../api/client";
import type { Listing } from "../api/types";
import { PRESETS } from "../view/time";
import type { ViewState } from "../view/url";

interface Props {
  view: ViewState;
  onChange: (patch: Partial<ViewState>) => void;
  onError: (message: string) => void;
}

function useListing(path: string, params: Record<string, string>, onError: (m: string) => void): Listing | null {
  const [listing, setListing] = useState<Listing | null>(null);
  const key = JSON.stringify(params);
  useEffect(() => {
    const abort = new AbortController();
    getJson<Listing>(path, params, abort.signal)
      .then(setListing)
      .catch((e) => {
        if (!abort.signal.aborted) onError(`${path}: ${e.message}`);
      });
    return () => abort.abort();
  }, [path, key]);
  return listing;
}

export function Pickers({ view, onChange, onError }: Props) {
  const range = { from: view.from, to: view.to };
  const services = useListing("services", range, onError);
  const types = useListing("profile_types", { ...range, ...(view.service ? { service: view.service } : {}) }, onError);
  // A link without a profile type shows one the selection has.
  useEffect(() => {
    const explicit = new URLSearchParams(location.search).has("profile_type");
    const names = types?.values.map((t) => t.name) ?? [];
    if (!explicit && names.length && !names.includes(view.profile_type)) onChange({ profile_type: names[0] });
  }, [types]);
  return (
    <div class="pickers">
      <label>
        service
        <select data-testid="service" value={view.service} onChange={(e) => onChange({ service: (e.target as HTMLSelectElement).value })}>
          <option value="">all services</option>
          {services?.values.map((s) => (
            <option value={s.name} key={s.name}>
              {s.name}
            </option>
          ))}
          {view.service && !services?.values.some((s) => s.name === view.service) && <option value={view.service}>{view.service}</option>}
        </select>
      </label>
      <label>
        profile
        <select data-testid="profile-type" value={view.profile_type} onChange={(e) => onChange({ profile_type: (e.target as HTMLSelectElement).value, state: "" })}>
          {types?.values.map((t) => (
            <option value={t.name} key={t.name}>
              {t.name}
            </option>
          ))}
          {!types?.values.some((t) => t.name === view.profile_type) && <option value={view.profile_type}>{view.profile_type}</option>}
        </select>
      </label>
      <LabelFilter view={view} onChange={onChange} onError={onError} />
      <TimeRange view={view} onChange={onChange} />
    </div>
  );
}

/** A label selector with suggestions for names and values. */
function LabelFilter({ view, onChange, onError }: Props) {
  const [text, setText] = useState(view.query);
  const [name, setName] = useState("");
  useEffect(() => setText(view.query), [view.query]);
  const range = { from: view.from, to: view.to };
  const labels = useListing("labels", range, onError);
  const values = useListing(name ? "label_values" : "labels", name ? { ...range, name } : range, onError);
  const addMatcher = (value: string) => {
    const inner = text.trim().replace(/^\{|\}$/g, "").trim();
    const matcher = `${name}=${JSON.stringify(value)}`;
    const next = `{${inner ? `${inner},` : ""}${matcher}}`;
    setText(next);
    onChange({ query: next });
  };
  return (
    <div class="label-filter">
      <label>
        labels
        <input
          data-testid="label-query"
          placeholder='{env="prod"}'
          value={text}
          onInput={(e) => setText((e.target as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") onChange({ query: text.trim() });
          }}
        />
      </label>
      <select value={name} onChange={(e) => setName((e.target as HTMLSelectElement).value)} title="label name">
        <option value="">+ label</option>
        {labels?.values.map((l) => (
          <option value={l.name} key={l.name}>
            {l.name}
          </option>
        ))}
      </select>
      {name && (
        <select value="" onChange={(e) => addMatcher((e.target as HTMLSelectElement).value)} title="value" data-testid="label-values">
          <option value="">value…</option>
          {values?.values.map((v) => (
            <option value={v.name} key={v.name}>
              {v.name} ({v.rows})
            </option>
          ))}
        </select>
      )}
    </div>
  );
}

/** Presets and a custom from/to. */
function TimeRange({ view, onChange }: { view: ViewState; onChange: (p: Partial<ViewState>) => void }) {
  const [from, setFrom] = useState(view.from);
  const [to, setTo] = useState(view.to);
  useEffect(() => {
    setFrom(view.from);
    setTo(view.to);
  }, [view.from, view.to]);
  return (
    <div class="time-range" data-testid="time-range">
      {PRESETS.map((p) => (
        <button key={p.from} class={view.from === p.from && view.to === "now" ? "on" : ""} onClick={() => onChange({ from: p.from, to: "now" })}>
          {p.label}
        </button>
      ))}
      <input data-testid="from" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} title="from: RFC 3339, Unix time or now-1h" />
      <span>→</span>
      <input data-testid="to" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} title="to" />
      <button onClick={() => onChange({ from: from.trim(), to: to.trim() || "now" })}>apply</button>
    </div>
  );
}
