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
  try {
    return await chromium.launch({ executablePath: path, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  } catch (e) {
    throw new Error(`chromium at ${path} did not start: ${e.message}`);
  }
}
