// Drives the memory server's sign-in and consent pages in headless Chromium, the
// way a person connecting Claude would, and saves screenshots: the sign-in page
// with its providers (single sign-on through the loopback OpenID provider,
// Google and GitHub offered) and a password, then the consent page after
// signing in through single sign-on.
// Usage (scripts/screenshot-pages starts the server):
//   node tests/interop/screenshots.mjs http://127.0.0.1:PORT OUT_DIR
import { createHash, randomBytes } from 'node:crypto';
import { launch } from './lib/browser.mjs';

const [base, out] = process.argv.slice(2);
const b64url = (buf) => buf.toString('base64url');
const CALLBACK = 'https://claude.ai/api/mcp/auth_callback';

const reg = await fetch(`${base}/oauth/register`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    client_name: 'Claude', redirect_uris: [CALLBACK],
    grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none',
  }),
}).then((r) => r.json());
const verifier = b64url(randomBytes(32));
const challenge = b64url(createHash('sha256').update(verifier).digest());
const url = new URL(`${base}/oauth/authorize`);
for (const [k, v] of Object.entries({
  response_type: 'code', client_id: reg.client_id, redirect_uri: CALLBACK,
  code_challenge: challenge, code_challenge_method: 'S256', state: 'screenshot', resource: `${base}/mcp`,
  scope: 'memories:read memories:write',
})) url.searchParams.set(k, v);

const browser = await launch();
const page = await browser.newPage({ viewport: { width: 720, height: 860 }, deviceScaleFactor: 2 });
// The last redirect goes to Claude: catch it rather than leave loopback.
await page.route('https://claude.ai/**', (route) => route.abort());
await page.goto(url.toString());
await page.waitForSelector('a[href^="/oauth/upstream/sso?"]');
await page.screenshot({ path: `${out}/sign-in.png` });
await page.click('a[href^="/oauth/upstream/sso?"]');
await page.fill('input[name=login]', 'alice');
await page.click('button[type=submit]');
await page.waitForSelector('button[value=allow]');
await page.screenshot({ path: `${out}/consent.png` });
// Allow, and check the browser is sent back to the client with a code.
const [request] = await Promise.all([
  page.waitForRequest((r) => r.url().startsWith(CALLBACK)),
  page.click('button[value=allow]'),
]);
const back = new URL(request.url());
if (!back.searchParams.get('code') || back.searchParams.get('state') !== 'screenshot') {
  throw new Error(`unexpected redirect ${request.url()}`);
}
console.log('sign-in through single sign-on and consent completed in Chromium; screenshots saved');
await browser.close();
