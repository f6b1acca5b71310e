// The view state lives in the URL's query string, so a link reproduces
// what is on screen and back/forward move through views.

export type Mode = "single" | "diff" | "sandwich" | "sql" | "snapshots";

export interface ViewState {
  service: string;
  profile_type: string;
  /** Prometheus label selector, e.g. `{env="prod"}`. */
  query: string;
  state: string;
  from: string;
  to: string;
  search: string;
  focus: string;
  mode: Mode;
  /** Sandwich view: the function. */
  fn: string;
  /** Diff: the comparison range. */
  comp_from: string;
  comp_to: string;
  orientation: "flame" | "icicle";
  live: boolean;
  /** An opened snapshot's id (server-side) — local files are not in the URL. */
  snapshot: string;
}

export const DEFAULT_VIEW: ViewState = {
  service: "",
  profile_type: "cpu",
  query: "",
  state: "",
  from: "now-1h",
  to: "now",
  search: "",
  focus: "",
  mode: "single",
  fn: "",
  comp_from: "",
  comp_to: "",
  orientation: "flame",
  live: false,
  snapshot: "",
};

export function readView(search = location.search): ViewState {
  const q = new URLSearchParams(search);
  const v: ViewState = { ...DEFAULT_VIEW };
  for (const key of Object.keys(DEFAULT_VIEW) as (keyof ViewState)[]) {
    const raw = q.get(key);
    if (raw === null) continue;
    if (key === "live") v.live = raw === "1" || raw === "true";
    else (v as unknown as Record<string, string>)[key] = raw;
  }
  if (!["single", "diff", "sandwich", "sql", "snapshots"].includes(v.mode)) v.mode = "single";
  if (v.orientation !== "icicle") v.orientation = "flame";
  return v;
}

export function viewSearch(v: ViewState): string {
  const q = new URLSearchParams();
  for (const key of Object.keys(DEFAULT_VIEW) as (keyof ViewState)[]) {
    const value = v[key];
    if (value === DEFAULT_VIEW[key]) continue;
    q.set(key, key === "live" ? (value ? "1" : "0") : String(value));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** Pushes a new history entry unless the URL is unchanged. */
export function pushView(v: ViewState): void {
  const search = viewSearch(v);
  if (search !== location.search) history.pushState(null, "", `${location.pathname}${search}`);
}

/** The read API's selection parameters for a view. */
export function selectionParams(v: ViewState): Record<string, string> {
  const p: Record<string, string> = { profile_type: v.profile_type, from: v.from, to: v.to };
  if (v.service) p.service = v.service;
  if (v.query) p.query = v.query;
  if (v.state) p.state = v.state;
  if (v.focus) p.focus = v.focus;
  return p;
}
