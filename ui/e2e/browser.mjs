// Starts Debian's chromium headless through playwright-core. A browser
// that cannot start fails the run with how to get one; nothing is skipped.

import { chromium } from "playwright-core";
import { existsSync } from "node:fs";

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

export async function launch() {
  const path = process.env.FLAREGO_CHROMIUM || CANDIDATES.find((p) => existsSync(p));
  if (!path) {
    throw new Error("no chromium found: install it (apt-get install chromium) or set FLAREGO_CHROMIUM to a Chromium binary");
  }
  // The GPU runs in the browser process: one fork fewer at start, where a
  // loaded machine has failed it ("Zygote could not fork … gpu-process").
  const args = ["--no-sandbox", "--disable-gpu", "--in-process-gpu", "--disable-dev-shm-usage"];
  // A start that fails is tried twice more (each failure is printed); a
  // browser that never starts fails the run.
  let last;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await chromium.launch({ executablePath: path, headless: true, args });
    } catch (e) {
      last = e;
      console.error(`chromium at ${path} did not start (attempt ${attempt} of 3): ${e.message.split("\n")[0]}`);
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
  throw new Error(`chromium at ${path} did not start: ${last.message}`);
}
