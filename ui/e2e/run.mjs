// Browser tests of the web UI against a running server:
//   node e2e/run.mjs SUITE
// with FLAREGO_URL (the server) and the suite's variables (see the
// suites). Each check runs in a fresh page; a failing check saves a
// screenshot under FLAREGO_E2E_OUT. Exits non-zero when any check fails.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { launch } from "./browser.mjs";
import { authSuite, behindSuite } from "./suite-auth.mjs";
import { mainSuite } from "./suite-main.mjs";

const SUITES = { main: mainSuite, auth: authSuite, behind: behindSuite };

const name = process.argv[2];
const suite = SUITES[name];
if (!suite) {
  console.error(`unknown suite ${name}; one of ${Object.keys(SUITES).join(", ")}`);
  process.exit(2);
}
const base = process.env.FLAREGO_URL;
if (!base) {
  console.error("FLAREGO_URL is not set: the server to test, e.g. http://127.0.0.1:4040");
  process.exit(2);
}
const out = process.env.FLAREGO_E2E_OUT || "e2e-out";
mkdirSync(out, { recursive: true });

const browser = await launch();
let failed = 0;
for (const [title, check] of Object.entries(suite)) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on("pageerror", (e) => consoleErrors.push(e.message));
  const started = Date.now();
  try {
    await check({ page, base, out });
    if (consoleErrors.length) throw new Error(`uncaught errors in the page: ${consoleErrors.join("; ")}`);
    console.log(`ok   ${title} (${Date.now() - started} ms)`);
  } catch (e) {
    failed++;
    const shot = join(out, `${title.replace(/[^a-z0-9]+/gi, "-")}.png`);
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.log(`FAIL ${title}: ${e.stack || e.message}\n     screenshot: ${shot}`);
  } finally {
    await context.close();
  }
}
await browser.close();
console.log(failed ? `${failed} check(s) failed` : "all checks passed");
process.exit(failed ? 1 : 0);
