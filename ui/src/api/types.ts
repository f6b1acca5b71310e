// Shapes of the read API's answers (docs/read-api.md).

/** A flame tree, columnar in depth-first pre-order. */
export interface ColumnarTree {
  scale: number;
  names: string[];
  name: number[];
  depth: number[];
  total: number[];
  self: number[];
  total_b?: number[];
  self_b?: number[];
  pruned_nodes?: number;
  pruned_value?: number;
}

export interface FlameGraphAnswer {
  profile_type: string;
  unit: string;
  total: number;
  nodes: number;
  tree: ColumnarTree;
}

export interface DiffAnswer {
  profile_type: string;
  unit: string;
  base_total: number;
  comp_total: number;
  comp_factor: number;
  nodes: number;
  tree: ColumnarTree;
}

export interface Series {
  group: string;
  values: number[];
  total: number;
}

export interface Timeline {
  step_ns: number;
  unit: string;
  times: number[];
  series: Series[];
}

export interface Listed {
  name: string;
  rows: number;
  unit?: string;
}

export interface Listing {
  values: Listed[];
  total: number;
  truncated: boolean;
}

export interface SnapshotEntry {
  id: string;
  tenant: string;
  name: string;
  stored: string;
  profile_type: string;
  unit: string;
  total: number;
  source: string;
  bytes: number;
}

/** An `.fgo` document (docs/fgo.md), version 1. */
export interface FgoDocument {
  format_version: number;
  provenance: { server: string; server_version: string; created: string; source: string };
  selection: { query: string; from: string; to: string; focus?: string; ignore?: string; hide?: string };
  profile_type: string;
  unit: string;
  total: number;
  flamegraph: ColumnarTree;
  top: unknown[];
  timeline?: Timeline;
  goroutine_states?: Timeline;
  metrics?: { name: string; timeline: Timeline }[];
}

export interface LiveMessage {
  type: "subscribed" | "update" | "lagged" | "heartbeat";
  cursor: number;
  profile_type?: string;
  unit?: string;
  total?: number;
  points?: { time: number; value: number }[];
  flamegraph?: ColumnarTree;
  missed?: number;
}

/** One live alert instance (`GET /api/v1/alerts`). */
export interface AlertInstance {
  tenant: string;
  rule: string;
  state: "pending" | "firing";
  labels: Record<string, string>;
  value: number;
  active_since: string;
  fired_at: string | null;
  fingerprint: string;
  summary: string;
}
