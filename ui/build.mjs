// Bundles the UI into dist/ (app.js, app.css, index.html) with stable
// names, so the committed bundle diffs cleanly; fails past the size budget.
import { build } from "esbuild";
import { copyFileSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGET_GZIP_BYTES = 200 * 1024;

await build({
  entryPoints: { app: "src/main.tsx" },
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  outdir: "dist",
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  logLevel: "warning",
});
copyFileSync("src/index.html", "dist/index.html");

let total = 0;
for (const file of ["app.js", "app.css", "index.html"]) {
  const gz = gzipSync(readFileSync(`dist/${file}`), { level: 9 }).length;
  total += gz;
  console.log(`dist/${file}: ${gz} bytes gzipped`);
}
console.log(`total ${total} bytes gzipped (budget ${BUDGET_GZIP_BYTES})`);
if (total > BUDGET_GZIP_BYTES) {
  console.error(`the bundle is over its budget of ${BUDGET_GZIP_BYTES} gzipped bytes`);
  process.exit(1);
}
