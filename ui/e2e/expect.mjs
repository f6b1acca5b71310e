// Small assertion helpers for canvas pages: waiting on the renderer hook,
// reading pixels, and failing with what was seen.

export function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** Polls `fn` in the page until it returns a truthy value. */
export async function until(page, fn, arg, what, timeout = 10_000) {
  try {
    const handle = await page.waitForFunction(fn, arg, { timeout, polling: 50 });
    return await handle.jsonValue();
  } catch {
    throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
  }
}

/**
 * Waits until the `hook` flame graph drew a frame named `name` and it
 * stays put (charts above may still be mounting); returns its rect.
 */
export async function frame(page, name, hook = "flame", timeout = 10_000) {
  const deadline = Date.now() + timeout;
  // the canvas is brought into view first: rects are in viewport coordinates
  const read = () =>
    page.evaluate(
      ([h, n]) => {
        const canvas = document.querySelector(`[data-testid="${h === "flame" ? "flamegraph" : h}"]`);
        if (!canvas) return null;
        const box = canvas.getBoundingClientRect();
        if (box.top < 0 || box.bottom > window.innerHeight) canvas.scrollIntoView({ block: "center" });
        return window.__flarego?.[h]?.rectOf(n) ?? null;
      },
      [hook, name],
    );
  let last = null;
  while (Date.now() < deadline) {
    const rect = await read();
    if (rect && last && rect.x === last.x && rect.y === last.y && rect.w === last.w) return rect;
    last = rect;
    await page.waitForTimeout(rect ? 150 : 50);
  }
  throw new Error(`timed out after ${timeout} ms waiting for frame ${name} in the ${hook} graph`);
}

export async function stats(page, hook = "flame") {
  return page.evaluate((h) => window.__flarego?.[h]?.stats() ?? null, hook);
}

/** The colour at a point of the main flame graph canvas, as [r, g, b]. */
export async function pixel(page, x, y) {
  return page.evaluate(
    ([cx, cy]) => {
      const canvas = document.querySelector('[data-testid="flamegraph"]');
      const box = canvas.getBoundingClientRect();
      const dpr = window.devicePixelRatio || 1;
      const data = canvas.getContext("2d").getImageData(Math.round((cx - box.left) * dpr), Math.round((cy - box.top) * dpr), 1, 1).data;
      return [data[0], data[1], data[2]];
    },
    [x, y],
  );
}

export async function text(page, testid) {
  return page.locator(`[data-testid="${testid}"]`).first().innerText();
}

/** Hovers a frame until the tooltip shows (the page may still be settling); returns its text. */
export async function hover(page, name, hook = "flame") {
  for (let attempt = 0; attempt < 5; attempt++) {
    const r = await frame(page, name, hook);
    await page.mouse.move(r.x + Math.min(r.w / 2, 40), r.y + r.h / 2);
    const tip = page.locator('[data-testid="tooltip"]');
    try {
      await tip.waitFor({ timeout: 2000 });
      return { rect: r, text: await tip.innerText() };
    } catch {
      await page.mouse.move(0, 0);
    }
  }
  throw new Error(`no tooltip over ${name}`);
}
