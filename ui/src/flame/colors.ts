// Frame colours: by Go package for a single profile, by growth and
// shrinkage for a diff (with a colour-blind palette).

/** `github.com/x/y/z.(*T).M` → `github.com/x/y/z`; `runtime.main` → `runtime`. */
export function goPackage(name: string): string {
  const slash = name.lastIndexOf("/");
  const dot = name.indexOf(".", slash + 1);
  return dot > 0 ? name.slice(0, dot) : name;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const PALETTE_SIZE = 24;
const PACKAGE_PALETTE: string[] = Array.from({ length: PALETTE_SIZE }, (_, i) => {
  // warm hues (red → yellow) with varied lightness, as flame graphs are read
  const hue = 8 + ((i * 37) % 48);
  const light = 55 + ((i * 7) % 4) * 5;
  return `hsl(${hue} 78% ${light}%)`;
});

/** The colour of every name of a tree, computed once. */
export function packageColors(names: string[]): string[] {
  return names.map((n) => {
    if (n === "other") return "hsl(0 0% 72%)";
    if (n === "total") return "hsl(30 10% 62%)";
    return PACKAGE_PALETTE[fnv1a(goPackage(n)) % PALETTE_SIZE];
  });
}

export type DiffPalette = "red-green" | "blue-red";

/** Steps from -100% (shrunk) to +100% (grown): colours are bucketed so draws batch. */
export const DIFF_STEPS = 41;

function mix(a: number[], b: number[], t: number): string {
  const c = a.map((x, i) => Math.round(x + (b[i] - x) * t));
  return `rgb(${c[0]} ${c[1]} ${c[2]})`;
}

const NEUTRAL = [190, 190, 190];
const ENDS: Record<DiffPalette, { shrunk: number[]; grown: number[] }> = {
  "red-green": { shrunk: [40, 170, 70], grown: [220, 40, 40] },
  "blue-red": { shrunk: [30, 110, 220], grown: [220, 40, 40] },
};

export function diffColors(palette: DiffPalette): string[] {
  const { shrunk, grown } = ENDS[palette];
  const half = (DIFF_STEPS - 1) / 2;
  return Array.from({ length: DIFF_STEPS }, (_, i) =>
    i < half ? mix(NEUTRAL, shrunk, (half - i) / half) : mix(NEUTRAL, grown, (i - half) / half),
  );
}

/**
 * The bucket of a node: each side as a share of its own total, change
 * `(b - a) / a` in percent, clamped to ±100 (new frames are +100).
 */
export function diffBucket(a: number, b: number, totalA: number, totalB: number): number {
  const pa = totalA ? a / totalA : 0;
  const pb = totalB ? b / totalB : 0;
  let change: number;
  if (pa === 0) change = pb > 0 ? 100 : 0;
  else change = ((pb - pa) / pa) * 100;
  change = Math.max(-100, Math.min(100, change));
  const half = (DIFF_STEPS - 1) / 2;
  return Math.round(half + (change / 100) * half);
}

export const DIMMED = "hsl(0 0% 86%)";
export const MUTED_ANCESTOR = "hsl(30 12% 78%)";
export const MATCHED = "hsl(285 70% 62%)";
export const TINY = "hsl(0 0% 80%)";
