// Time ranges as the URL holds them (`now-1h`, RFC 3339, Unix ms) and
// their resolution to instants.

export const PRESETS: { label: string; from: string }[] = [
  { label: "15 min", from: "now-15m" },
  { label: "1 h", from: "now-1h" },
  { label: "6 h", from: "now-6h" },
  { label: "24 h", from: "now-24h" },
  { label: "7 d", from: "now-7d" },
];

const UNIT_MS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

/** Milliseconds since the epoch for a time as the read API accepts it. */
export function resolveMs(t: string, now = Date.now()): number {
  if (t === "now" || t === "") return now;
  const rel = /^now-(\d+)([smhdw])$/.exec(t);
  if (rel) return now - Number(rel[1]) * UNIT_MS[rel[2]];
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n < 1e11) return n * 1e3; // seconds
    if (n < 1e14) return n; // ms
    if (n < 1e17) return n / 1e3; // µs
    return n / 1e6; // ns
  }
  const parsed = Date.parse(t);
  return Number.isNaN(parsed) ? now : parsed;
}

/** A duration in ms as `15m`, `1h`, `2d`. */
export function shortDuration(ms: number): string {
  for (const [u, f] of [["d", 86400e3], ["h", 3600e3], ["m", 60e3], ["s", 1e3]] as const) {
    if (ms >= f && ms % f === 0) return `${ms / f}${u}`;
  }
  return `${Math.round(ms)}ms`;
}

/** A wall-clock label for an instant in ms. */
export function clock(ms: number): string {
  const d = new Date(ms);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** Whether a range follows the clock (ends at `now`). */
export function isRelative(to: string): boolean {
  return to === "" || to === "now";
}
