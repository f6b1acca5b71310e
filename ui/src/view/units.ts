// Values in their units: durations, bytes, counts.

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

function trim(n: number): string {
  if (n >= 100) return n.toFixed(0);
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** One value of a profile or metric unit as a person reads it. */
export function formatValue(value: number, unit: string): string {
  const v = Math.abs(value);
  const sign = value < 0 ? "-" : "";
  switch (unit) {
    case "nanoseconds":
    case "ns": {
      if (v >= 3600e9) return `${sign}${trim(v / 3600e9)} h`;
      if (v >= 60e9) return `${sign}${trim(v / 60e9)} min`;
      if (v >= 1e9) return `${sign}${trim(v / 1e9)} s`;
      if (v >= 1e6) return `${sign}${trim(v / 1e6)} ms`;
      if (v >= 1e3) return `${sign}${trim(v / 1e3)} µs`;
      return `${sign}${v} ns`;
    }
    case "bytes": {
      let i = 0;
      let x = v;
      while (x >= 1024 && i < BYTE_UNITS.length - 1) {
        x /= 1024;
        i++;
      }
      return `${sign}${i === 0 ? x : trim(x)} ${BYTE_UNITS[i]}`;
    }
    default: {
      if (v >= 1e9) return `${sign}${trim(v / 1e9)} G`;
      if (v >= 1e6) return `${sign}${trim(v / 1e6)} M`;
      if (v >= 1e4) return `${sign}${trim(v / 1e3)} k`;
      return `${sign}${Number.isInteger(v) ? v : trim(v)}`;
    }
  }
}

/** A share as a percentage with one or two decimals. */
export function percent(part: number, whole: number): string {
  if (!whole) return "0%";
  const p = (100 * part) / whole;
  return `${p >= 10 ? p.toFixed(1) : p.toFixed(2)}%`;
}

/** The unit of a metric from its name (`_bytes`, `_ns`), else a count. */
export function metricUnit(name: string): string {
  if (name.endsWith("_bytes")) return "bytes";
  if (name.endsWith("_ns")) return "nanoseconds";
  return "count";
}
