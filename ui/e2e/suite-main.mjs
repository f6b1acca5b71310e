// The main suite: a server loaded by the Go test service through the
// agent (goroutine profiles of service FLAREGO_SERVICE) and a known diff
// (service FLAREGO_DIFF_SERVICE: `main.grows` 4× larger in the comparison
// range FLAREGO_COMP_FROM..TO than in FLAREGO_BASE_FROM..TO, Unix seconds).

import { assert, frame, hover, pixel, stats, text, until } from "./expect.mjs";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};

async function api(base, path) {
  const res = await fetch(`${base}/api/v1/${path}`);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

function pct(part, whole) {
  const p = (100 * part) / whole;
  return `${p >= 10 ? p.toFixed(1) : p.toFixed(2)}%`;
}

const goroutines = () => `?service=${env("FLAREGO_SERVICE")}&profile_type=goroutine&from=now-30m`;

async function center(rect) {
  return { x: rect.x + Math.min(rect.w / 2, 40), y: rect.y + rect.h / 2 };
}

export const mainSuite = {
  async "flame graph: top frames, tooltip, zoom, Esc, search share"({ page, base, out }) {
    const top = await api(base, `top${goroutines()}&limit=100000`);
    const wait = top.rows.find((r) => r.function === "main.waitOnChan");
    assert(wait, `main.waitOnChan missing from /api/v1/top: ${JSON.stringify(top.rows.slice(0, 5))}`);
    await page.goto(`${base}/${goroutines()}`);
    for (const fn of ["main.waitOnChan", "main.lockHeld", "main.nap", "sync.(*Mutex).Lock"]) await frame(page, fn);
    const { rect, text: tip } = await hover(page, "main.waitOnChan");
    const at = await center(rect);
    assert(tip.includes("main.waitOnChan"), `tooltip names the function: ${tip}`);
    assert(tip.includes(`${wait.total}`) && tip.includes(pct(wait.total, top.total)), `tooltip shows total ${wait.total} (${pct(wait.total, top.total)}): ${tip}`);
    assert(/of parent/.test(tip), `tooltip shows the share of the parent: ${tip}`);
    if (process.env.FLAREGO_SCREENSHOTS) await page.screenshot({ path: `${process.env.FLAREGO_SCREENSHOTS}/ui-flamegraph.png`, fullPage: true });

    await page.mouse.click(at.x, at.y);
    let s = await until(page, () => window.__flarego.flame.stats().zoom === "main.waitOnChan" && window.__flarego.flame.stats(), null, "zoom on click");
    const zoomed = await frame(page, "main.waitOnChan");
    const width = await page.locator('[data-testid="flamegraph"]').evaluate((c) => c.getBoundingClientRect().width);
    assert(Math.abs(zoomed.w - width) < 2, `the zoomed frame fills the width: ${zoomed.w} of ${width}`);
    assert(await page.locator('[data-testid="flame-reset"]').isVisible(), "breadcrumbs offer a reset");
    await page.keyboard.press("Escape");
    s = await until(page, () => window.__flarego.flame.stats().zoom === "total", null, "Esc resets the zoom");

    // flame (root at the bottom) → icicle (root at the top)
    const rootFlame = await frame(page, "total");
    const leafFlame = await frame(page, "main.waitOnChan");
    assert(rootFlame.y > leafFlame.y, "flame view: the root is below its children");
    await page.locator('[data-testid="orientation"]').click();
    await until(page, () => location.search.includes("orientation=icicle"), null, "the orientation in the URL");
    const rootIcicle = await frame(page, "total");
    const leafIcicle = await frame(page, "main.waitOnChan");
    assert(rootIcicle.y < leafIcicle.y, "icicle view: the root is above its children");

    await page.keyboard.press("/");
    assert(await page.locator('[data-testid="search"]').evaluate((el) => el === document.activeElement), "/ focuses the search box");
    await page.keyboard.type("waitOnChan");
    const share = await until(page, () => document.querySelector('[data-testid="search-share"]')?.textContent, null, "the search share");
    assert(share.includes(pct(wait.total, top.total)), `search reports the share ${pct(wait.total, top.total)}: ${share}`);
    const hit = await frame(page, "main.waitOnChan");
    const [r, g, b] = await pixel(page, hit.x + hit.w - 4, hit.y + 2);
    assert(b > g && r > g, `a match is highlighted (purple), got rgb(${r},${g},${b})`);
    const other = await frame(page, "main.lockHeld");
    const [r2, g2, b2] = await pixel(page, other.x + other.w - 4, other.y + 2);
    assert(Math.abs(r2 - g2) < 12 && Math.abs(g2 - b2) < 12, `a non-match is dimmed (grey), got rgb(${r2},${g2},${b2})`);
    await until(page, () => location.search.includes("search=waitOnChan"), null, "the search in the URL");
  },

  async "top table sorts and opens the sandwich"({ page, base }) {
    await page.goto(`${base}/${goroutines()}`);
    await frame(page, "main.waitOnChan");
    const table = page.locator('[data-testid="top-table"]');
    await table.locator('th[data-sort="name"]').click();
    const names = await table.locator("tbody tr td.fn").allInnerTexts();
    assert(names.length > 3 && names.join("\n") === [...names].sort().join("\n"), `sorted by name: ${names.slice(0, 6)}`);
    await table.locator('th[data-sort="self"]').click();
    const selfs = await table.locator("tbody tr td:nth-child(2)").allInnerTexts();
    assert(selfs.length > 3, `rows by self: ${selfs.slice(0, 4)}`);
    // a row opens the sandwich of its function
    await table.locator("tbody tr", { hasText: "main.waitOnChan" }).first().click();
    await until(page, () => location.search.includes("mode=sandwich") && location.search.includes("fn=main.waitOnChan"), null, "sandwich in the URL");
    await frame(page, "main.waitOnChan", "callees");
    await page.locator('[data-testid="sandwich"] button', { hasText: "close" }).click();
    // right-click on a frame opens its sandwich: callers above, callees below
    const { rect: lock } = await hover(page, "sync.(*Mutex).Lock");
    await page.mouse.click(lock.x + 5, lock.y + lock.h / 2, { button: "right" });
    await until(page, () => location.search.includes("fn=sync.%28*Mutex%29.Lock") || location.search.includes("fn=sync.(*Mutex).Lock"), null, "the sandwich of sync.(*Mutex).Lock");
    await frame(page, "main.lockHeld", "callers");
    await frame(page, "sync.(*Mutex).lockSlow", "callees");
    const callers = await stats(page, "callers");
    assert(callers.nodes >= 2 && !(await page.evaluate(() => window.__flarego.callers.rectOf("main.waitOnChan"))), `callers hold only its callers: ${JSON.stringify(callers)}`);
  },

  async "timeline brush changes the range, the URL and the flame graph; back restores"({ page, base }) {
    await page.goto(`${base}/${goroutines()}`);
    await frame(page, "main.waitOnChan");
    const over = page.locator('[data-testid="timeline"] .u-over');
    await over.scrollIntoViewIfNeeded();
    const box = await over.boundingBox();
    const flameRequest = page.waitForRequest((r) => /\/api\/v1\/flamegraph\?.*from=\d{13}/.test(r.url()), { timeout: 10_000 });
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.7, box.y + box.height / 2, { steps: 5 });
    // To the last pixel: the agent's windows are the newest data, and a
    // brush ending earlier can leave them out.
    await page.mouse.move(box.x + box.width - 1, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    const req = await flameRequest;
    const url = new URL(page.url());
    const from = Number(url.searchParams.get("from"));
    const to = Number(url.searchParams.get("to"));
    assert(from > 1e12 && to > from, `the URL holds the brushed range: ${url.search}`);
    assert(new URL(req.url()).searchParams.get("from") === String(from), `the flame graph asked for the brushed range: ${req.url()}`);
    await frame(page, "main.waitOnChan");
    await page.goBack();
    await until(page, () => new URLSearchParams(location.search).get("from") === "now-30m", null, "back restores the range");
  },

  async "playback steps the flame graph window by window"({ page, base }) {
    await page.goto(`${base}/${goroutines()}`);
    await frame(page, "main.waitOnChan");
    const tl = await api(base, `timeline${goroutines()}`);
    const step = page.waitForRequest((r) => /\/api\/v1\/flamegraph\?.*from=\d{13}/.test(r.url()));
    await page.locator('[data-testid="step"]').click();
    const q = new URL((await step).url()).searchParams;
    const width = Number(q.get("to")) - Number(q.get("from"));
    // the page's range ended at its own "now": its first step is this one or a neighbour
    const first = Number(q.get("from"));
    assert(width === tl.step_ns / 1e6 && first % width === 0 && Math.abs(first - tl.times[0] / 1e6) <= width, `the first window [${q.get("from")}, ${q.get("to")}) is one step of ${tl.step_ns / 1e6} ms near ${tl.times[0] / 1e6}`);
    const next = page.waitForRequest((r) => /\/api\/v1\/flamegraph\?.*from=\d{13}/.test(r.url()));
    await page.locator('[data-testid="step"]').click();
    const q2 = new URL((await next).url()).searchParams;
    assert(Number(q2.get("from")) === Number(q.get("from")) + width, `the next window follows: ${q2.get("from")}`);
  },

  async "clicking chan receive filters the flame graph to those goroutines"({ page, base }) {
    await page.goto(`${base}/${goroutines()}`);
    await frame(page, "main.lockHeld");
    await page.locator('[data-testid="states-legend"] [data-state="chan receive"]').click();
    await until(page, () => new URLSearchParams(location.search).get("state") === "chan receive", null, "the state in the URL");
    await until(page, () => window.__flarego.flame.rectOf("main.waitOnChan") && !window.__flarego.flame.rectOf("main.lockHeld"), null, "only chan receive stacks");
    const chip = await text(page, "state-filter");
    assert(chip.includes("chan receive"), `the filter is shown: ${chip}`);
  },

  async "the metrics view lists the firing alert"({ page, base }) {
    await page.goto(`${base}/${goroutines()}`);
    const row = page.locator('[data-testid="alert-row"]', { hasText: "waiting-goroutines" });
    await row.waitFor({ timeout: 20_000 });
    const cells = await row.locator("td").allTextContents();
    assert(cells[0] === "firing", `the alert fires: ${cells}`);
    assert(cells[2].includes(`service=${env("FLAREGO_SERVICE")}`), `its labels: ${cells}`);
    const api_ = await api(base, "alerts");
    const fired = api_.alerts.find((a) => a.rule === "waiting-goroutines");
    assert(fired && String(fired.value) === cells[3], `the value shown is the API's: ${cells[3]} vs ${fired?.value}`);
  },

  async "a live window appears within 2 s of its ingest"({ page, base }) {
    const service = "live-ui";
    await page.goto(`${base}/?service=${service}&profile_type=cpu&from=now-5m&live=1`);
    await until(page, () => document.querySelector('[data-testid="live-status"]')?.textContent?.startsWith("connected"), null, "the live connection");
    const fn = `main.fresh${Date.now()}`;
    const res = await fetch(`${base}/ingest?name=${service}.cpu&format=folded&from=${Math.floor(Date.now() / 1000)}&spyName=gospy`, { method: "POST", body: `main.main;${fn} 100\n` });
    const acked = Date.now();
    assert(res.ok, `ingest: ${res.status} ${await res.text()}`);
    await until(page, (n) => window.__flarego?.flame?.rectOf(n), fn, `frame ${fn} on screen`, 2000);
    const took = Date.now() - acked;
    console.log(`     live: frame on screen ${took} ms after the ack`);
    assert(took <= 2000, `on screen ${took} ms after the ack`);
    await page.locator('[data-testid="live-pause"]').click();
    const fn2 = `main.paused${Date.now()}`;
    await fetch(`${base}/ingest?name=${service}.cpu&format=folded&from=${Math.floor(Date.now() / 1000)}&spyName=gospy`, { method: "POST", body: `main.main;${fn2} 100\n` });
    await page.waitForTimeout(2500);
    assert(!(await page.evaluate((n) => window.__flarego.flame.rectOf(n), fn2)), "paused: the view does not change");
    await page.locator('[data-testid="live-pause"]').click();
    await frame(page, fn2, "flame", 3000);
  },

  async "an .fgo downloads and opens again with no server data behind it"({ page, base, out }) {
    await page.goto(`${base}/${goroutines()}`);
    await frame(page, "main.waitOnChan");
    const [dl] = await Promise.all([page.waitForEvent("download"), page.locator('[data-testid="download-fgo"]').click()]);
    const path = `${out}/view.fgo`;
    await dl.saveAs(path);
    await page.goto(`${base}/?mode=snapshots`);
    await page.locator('[data-testid="open-fgo"]').setInputFiles(path);
    await until(page, () => document.querySelector('[data-testid="snapshot-view"]'), null, "the snapshot view");
    const before = await page.evaluate(() => performance.getEntriesByType("resource").filter((e) => e.name.includes("/api/v1/flamegraph")).length);
    await frame(page, "main.waitOnChan");
    await frame(page, "main.lockHeld");
    const after = await page.evaluate(() => performance.getEntriesByType("resource").filter((e) => e.name.includes("/api/v1/flamegraph")).length);
    assert(before === 0 && after === 0, "the snapshot is drawn from the file, not the server");
    assert((await text(page, "snapshot-name")).includes("view.fgo"), "the snapshot's name is shown");
  },

  async "diff colours the grown frame red and the shrunk one green"({ page, base }) {
    const q = new URLSearchParams({
      mode: "diff",
      service: env("FLAREGO_DIFF_SERVICE"),
      profile_type: "cpu",
      from: env("FLAREGO_BASE_FROM"),
      to: env("FLAREGO_BASE_TO"),
      comp_from: env("FLAREGO_COMP_FROM"),
      comp_to: env("FLAREGO_COMP_TO"),
    });
    await page.goto(`${base}/?${q}`);
    const grown = await frame(page, "main.grows");
    const shrunk = await frame(page, "main.steady");
    // sampled beside the label, near the bar's right end
    const [r, g, b] = await pixel(page, grown.x + grown.w - 4, grown.y + 2);
    assert(r > 180 && g < 120 && b < 120, `main.grows is red: rgb(${r},${g},${b})`);
    const [r2, g2] = await pixel(page, shrunk.x + shrunk.w - 4, shrunk.y + 2);
    assert(g2 > r2 + 30, `main.steady is green: rgb(${r2},${g2})`);
    assert((await text(page, "diff-legend")).includes("grew"), "a legend explains the colours");
    // base: grows 100 of 200 (50%); comparison: 400 of 500 (80%): +30 points
    const table = await text(page, "diff-table");
    assert(/main\.grows[^\n]*\+30\.0 pp/.test(table) && /main\.steady[^\n]*-30\.0 pp/.test(table), `the table gives each function's change in share: ${table}`);
    await page.locator('[data-testid="palette"]').selectOption("blue-red");
    await page.waitForTimeout(200);
    const [r3, g3, b3] = await pixel(page, shrunk.x + shrunk.w - 4, shrunk.y + 2);
    assert(b3 > r3 + 30 && b3 > g3, `colour-blind palette: main.steady is blue: rgb(${r3},${g3},${b3})`);
    if (process.env.FLAREGO_SCREENSHOTS) await page.screenshot({ path: `${process.env.FLAREGO_SCREENSHOTS}/ui-diff.png` });
  },

  async "an API error is shown to the user"({ page, base }) {
    await page.goto(`${base}/?from=soon`);
    const err = await until(page, () => document.querySelector('[data-testid="error"]')?.textContent, null, "an error banner");
    assert(err.includes("invalid parameter from") && err.includes("soon"), `the server's reason is shown: ${err}`);
  },

  async "the SQL console runs a query and shows errors"({ page, base }) {
    await page.goto(`${base}/?mode=sql`);
    await page.locator('[data-testid="sql-input"]').fill(`SELECT profile_type, count(*) AS n FROM profiles WHERE service = '${env("FLAREGO_SERVICE")}' GROUP BY profile_type ORDER BY profile_type`);
    await page.locator('[data-testid="sql-run"]').click();
    const result = await until(page, () => document.querySelector('[data-testid="sql-result"] table')?.innerText, null, "a result table");
    assert(result.includes("goroutine") && result.includes("n"), `rows shown: ${result}`);
    await page.locator('[data-testid="sql-input"]').fill("SELECT nope FROM profiles");
    await page.locator('[data-testid="sql-run"]').click();
    const err = await until(page, () => document.querySelector('[data-testid="sql-result"] .error-inline')?.textContent, null, "the SQL error");
    assert(/nope/i.test(err), `the error names the column: ${err}`);
  },
};
