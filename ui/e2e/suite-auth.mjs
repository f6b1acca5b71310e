// The auth suite: a server with `--auth jwt`. FLAREGO_TOKEN is a valid
// reader token, FLAREGO_EXPIRED_TOKEN one that has expired.

import { assert, until } from "./expect.mjs";

/** A server with `--live-buffer-bytes 1`: every write is gone before a subscriber reads it. */
export const behindSuite = {
  async "live mode says when it fell behind"({ page, base }) {
    await page.goto(`${base}/?service=behind&profile_type=cpu&from=now-5m&live=1`);
    await until(page, () => document.querySelector('[data-testid="live-status"]')?.textContent?.startsWith("connected"), null, "the live connection");
    // writes landing together: the buffer keeps only the newest, so the
    // page's subscription misses the others
    for (let round = 0; round < 10; round++) {
      const writes = Array.from({ length: 20 }, (_, i) => fetch(`${base}/ingest?name=behind.cpu&format=folded`, { method: "POST", body: `main.main;main.f${i} 1\n` }));
      for (const res of await Promise.all(writes)) assert(res.ok, `ingest ${res.status}`);
      const seen = await page.evaluate(() => /fell behind/.test(document.querySelector('[data-testid="live-status"]')?.textContent ?? ""));
      if (seen) break;
      await page.waitForTimeout(300);
    }
    const status = await until(page, () => /fell behind: \d+ writes missed/.exec(document.querySelector('[data-testid="live-status"]')?.textContent ?? "")?.[0], null, "the fell-behind notice");
    assert(Number(/(\d+) writes/.exec(status)[1]) >= 1, status);
  },
};

export const authSuite = {
  async "the page asks for a token, shows an expired one refused, keeps a good one out of the URL"({ page, base }) {
    await page.goto(`${base}/`);
    await until(page, () => document.querySelector('[data-testid="auth-dialog"]'), null, "the token dialog");
    await page.locator('[data-testid="token-input"]').fill(process.env.FLAREGO_EXPIRED_TOKEN);
    await page.locator('[data-testid="token-submit"]').click();
    const reason = await until(page, () => document.querySelector('[data-testid="auth-dialog"]') && document.querySelector('[data-testid="auth-reason"]')?.textContent, null, "the dialog again");
    assert(/expired/i.test(reason), `the refusal names the expiry: ${reason}`);
    await page.locator('[data-testid="token-input"]').fill(process.env.FLAREGO_TOKEN);
    await page.locator('[data-testid="token-submit"]').click();
    await until(page, () => !document.querySelector('[data-testid="auth-dialog"]') && document.querySelector('[data-testid="service"] option'), null, "the page with the token");
    await page.waitForTimeout(500);
    assert(!(await page.locator('[data-testid="auth-dialog"]').count()), "no dialog once the token is good");
    const stored = await page.evaluate(() => sessionStorage.getItem("flarego.token"));
    assert(stored === process.env.FLAREGO_TOKEN, "the token is kept in session storage");
    assert(!page.url().includes(process.env.FLAREGO_TOKEN.slice(0, 20)), "the token is not in the URL");
    // live mode authenticates its WebSocket with the same token
    await page.goto(`${base}/?live=1`);
    await until(page, () => document.querySelector('[data-testid="live-status"]')?.textContent?.startsWith("connected"), null, "the live connection with the token");
  },
};
