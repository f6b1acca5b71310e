// UI benchmarks in headless Chromium:
//   node bench/ui.mjs flame [--nodes 100000] [--zooms 50]
//     FlareGo's canvas renderer against d3-flame-graph on the same tree:
//     text → painted first frame, and redraw after a zoom.
//   node bench/ui.mjs page --bin PATH [--minutes 30]
//     a real server: page load → flame graph drawn, then live mode for
//     N minutes under steady ingest, sampling the page's JS heap.

import { build } from "esbuild";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launch } from "../e2e/browser.mjs";
import { generateTree, nested } from "./tree.mjs";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function flame() {
  const nodes = Number(opt("nodes", "100000"));
  const zoomCount = Number(opt("zooms", "50"));
  const runs = Number(opt("runs", "3"));
  const dir = mkdtempSync(join(tmpdir(), "flarego-bench-"));
  await build({ entryPoints: ["bench/page.ts"], bundle: true, format: "iife", outfile: join(dir, "page.js"), logLevel: "warning" });
  const script = readFileSync(join(dir, "page.js"), "utf8");
  const tree = generateTree(nodes);
  const columnar = JSON.stringify(tree);
  const nest = JSON.stringify(nested(tree));
  const zooms = Array.from({ length: zoomCount }, (_, i) => 1 + ((i * 7919) % (tree.name.length - 1)));
  console.log(`tree: ${tree.name.length} nodes, max depth ${Math.max(...tree.depth)}, columnar JSON ${(columnar.length / 1e6).toFixed(1)} MB, nested JSON ${(nest.length / 1e6).toFixed(1)} MB`);
  const browser = await launch();
  const results = { ours: [], d3: [] };
  for (let r = 0; r < runs; r++) {
    for (const which of opt("only", "ours,d3").split(",")) {
      const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
      await page.setContent(`<!doctype html><body></body>`);
      await page.addScriptTag({ content: script });
      // d3-flame-graph takes seconds per zoom at this size: it gets the first few
      const z = which === "ours" ? zooms : zooms.slice(0, Number(opt("d3-zooms", "5")));
      const res = await page.evaluate(([w, text, zs]) => window.bench[w](text, zs), [which, which === "ours" ? columnar : nest, z]);
      results[which].push(res);
      await page.close();
    }
  }
  await browser.close();
  for (const which of opt("only", "ours,d3").split(",")) {
    const rs = results[which];
    console.log(
      `${which === "ours" ? `flarego canvas (parse ${median(rs.map((x) => x.parse_ms)).toFixed(1)} ms, layout ${median(rs.map((x) => x.layout_ms)).toFixed(1)} ms, draw ${median(rs.map((x) => x.draw_ms)).toFixed(1)} ms, redraw of the whole tree ${median(rs.map((x) => x.redraw_root_ms)).toFixed(1)} ms)` : "d3-flame-graph "}  first frame median ${median(rs.map((x) => x.first_frame_ms)).toFixed(1)} ms   zoom redraw median ${median(rs.map((x) => x.zoom_median_ms)).toFixed(2)} ms (max ${Math.max(...rs.map((x) => x.zoom_max_ms)).toFixed(1)} ms)   nodes ${rs[0].nodes}`,
    );
  }
}

async function pageBench() {
  const bin = opt("bin");
  if (!bin) throw new Error("--bin PATH: the flarego binary to start");
  const minutes = Number(opt("minutes", "30"));
  const dir = mkdtempSync(join(tmpdir(), "flarego-ui-bench-"));
  const server = spawn(bin, ["server", "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--print-addr", "--data-dir", join(dir, "data"), "--ui-dir", "dist"], { stdio: ["ignore", "pipe", "inherit"] });
  const base = await new Promise((resolve, reject) => {
    let buf = "";
    server.stdout.on("data", (d) => {
      buf += d;
      const m = /listening on (http:\/\/\S+)/.exec(buf);
      if (m) resolve(m[1]);
    });
    server.on("exit", (c) => reject(new Error(`server exited ${c}`)));
  });
  try {
    const ingest = async (fn) => {
      const body = Array.from({ length: 200 }, (_, i) => `main.main;pkg${i % 20}.handler;pkg${i % 20}.work${i};${fn} ${1 + (i % 7)}`).join("\n");
      const res = await fetch(`${base}/ingest?name=bench.cpu&format=folded&from=${Math.floor(Date.now() / 1000)}&spyName=gospy`, { method: "POST", body });
      if (!res.ok) throw new Error(`ingest ${res.status}`);
    };
    for (let i = 0; i < 30; i++) await ingest(`leaf${i % 5}`);
    const browser = await launch();
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const loads = [];
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      await page.goto(`${base}/?service=bench&from=now-15m`);
      await page.waitForFunction(() => window.__flarego?.flame?.stats().nodes > 1, null, { polling: 10 });
      loads.push(Date.now() - t0);
    }
    console.log(`page load → flame graph drawn: median ${median(loads)} ms (runs ${loads.join(", ")} ms)`);
    await page.goto(`${base}/?service=bench&from=now-15m&live=1`);
    await page.waitForFunction(() => document.querySelector('[data-testid="live-status"]')?.textContent?.startsWith("connected"));
    const cdp = await page.context().newCDPSession(page);
    const heap = async () => {
      await cdp.send("HeapProfiler.collectGarbage");
      const { usedSize } = await cdp.send("Runtime.getHeapUsage");
      return usedSize / 1048576;
    };
    const samples = [];
    const end = Date.now() + minutes * 60e3;
    let n = 0;
    while (Date.now() < end) {
      await ingest(`leaf${n++ % 5}`);
      if (n % 60 === 1) {
        const mb = await heap();
        const updates = await page.locator('[data-testid="live-status"]').innerText();
        samples.push(mb);
        console.log(`  ${((minutes * 60e3 - (end - Date.now())) / 60e3).toFixed(1)} min: JS heap ${mb.toFixed(1)} MiB · ${updates}`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    samples.push(await heap());
    console.log(`live mode ${minutes} min: JS heap first ${samples[0].toFixed(1)} MiB, last ${samples[samples.length - 1].toFixed(1)} MiB, max ${Math.max(...samples).toFixed(1)} MiB`);
    await browser.close();
  } finally {
    server.kill();
  }
}

const which = args[0];
if (which === "flame") await flame();
else if (which === "page") await pageBench();
else {
  console.error("usage: node bench/ui.mjs flame|page [options]");
  process.exit(2);
}
