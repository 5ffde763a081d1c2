// Drives the memory server's sign-in and consent pages in headless Chromium, the
// way a person connecting a client would, and saves screenshots of both pages.
// Usage: node scripts/screenshot-pages.mjs http://127.0.0.1:PORT OUT_DIR
// (scripts/screenshot-pages starts the server and installs playwright-core).
import { chromium } from 'playwright-core';
import { createHash, randomBytes } from 'node:crypto';

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

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 720, height: 700 }, deviceScaleFactor: 2 });
// The last redirect goes to Claude: catch it rather than leave loopback.
await page.route('https://claude.ai/**', (route) => route.abort());
await page.goto(url.toString());
await page.click('text=Create an account');
await page.fill('input[name=email]', 'ada@example.com');
await page.fill('input[name=password]', 'correct horse battery staple');
await page.screenshot({ path: `${out}/sign-in.png` });
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
console.log('sign-in and consent completed in Chromium; screenshots saved');
await browser.close();
