// A person at the server's sign-in page, played by headless Chromium: signs in,
// allows the client on the consent page (when it is shown) and follows the
// redirect back to the client. Debian's chromium, flags from CONFORMANCE.md.
import { chromium } from 'playwright-core';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * Opens `authorizeUrl`, signs in as `email`/`password` (or, with `provider`,
 * through that sign-in provider's button as `login`) and allows the client.
 * Resolves with the URL the browser was sent back to (starting with
 * `callbackPrefix`). With `intercept`, that last request is answered by the
 * browser itself (for clients that only want the URL); otherwise it goes to the
 * client's own listener (the Inspector, the conformance suite). With `seen`
 * (an array), the text of the sign-in page and of the consent page are pushed
 * onto it.
 */
/** Debian's Chromium, headless, with the flags this machine needs. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ARGS,
  });
}

export async function signIn(authorizeUrl, { email, password, provider, login, callbackPrefix, intercept = true, seen }) {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    if (intercept) {
      await page.route(`${callbackPrefix}**`, (route) =>
        route.fulfill({ status: 200, contentType: 'text/plain', body: 'signed in' }));
    }
    const back = page.waitForRequest((r) => r.url().startsWith(callbackPrefix), { timeout: 60_000 });
    back.catch(() => {});
    await page.goto(authorizeUrl);
    if (seen) seen.push(await page.locator('body').innerText());
    if (provider) {
      // Through a sign-in provider: its button on the sign-in page, then the
      // provider's own login form (the loopback OpenID provider's: `login`).
      await page.click(`a[href^="/oauth/upstream/${provider}?"]`);
      await page.fill('input[name=login]', login);
      await page.click('button[type=submit]');
    } else {
      await page.fill('input[name=email]', email);
      await page.fill('input[name=password]', password);
      await page.click('button[type=submit]');
    }
    // The consent page, unless this user already allowed this client.
    const allow = page.locator('button[value=allow]');
    const outcome = await Promise.race([
      back.then(() => 'back'),
      allow.waitFor({ timeout: 60_000 }).then(() => 'consent'),
    ]);
    if (outcome === 'consent') {
      if (seen) seen.push(await page.locator('body').innerText());
      await allow.click();
    }
    const request = await back;
    // Let the client's own listener answer before the browser goes away.
    if (!intercept) await page.waitForLoadState('load').catch(() => {});
    return request.url();
  } finally {
    await browser.close();
  }
}
