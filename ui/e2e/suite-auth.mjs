// The auth suite: a server with `--auth jwt`. FLAREGO_TOKEN is a valid
// reader token, FLAREGO_EXPIRED_TOKEN one that has expired.

import { assert, until } from "./expect.mjs";

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
