// The MCP Inspector CLI (@modelcontextprotocol/inspector --cli) through the whole
// OAuth flow against the memory server. Each CLI run is one method, as a person
// at a terminal would use it; the first meets the 401, discovers, registers,
// prints the authorize URL (read from its standard error, as a person would
// click it) and listens for the callback, while headless Chromium signs in.
// Its tokens persist between runs in a fresh HOME (the file secret store).
// The last run uses the 2026-07-28 era (`--protocol-era modern`).
//   node inspector.mjs MEMORY_SERVER_BIN [POSTGRES_URL]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signIn } from './lib/browser.mjs';
import { check } from './lib/check.mjs';
import { operator, scratchDatabase, startServer } from './lib/server.mjs';

const [bin, postgres] = process.argv.slice(2);
const EMAIL = 'inspector@example.com';
const PASSWORD = 'correct horse battery staple';
const CALLBACK = 'http://127.0.0.1:8979/oauth/callback';
const home = mkdtempSync(join(tmpdir(), 'gatehouse-inspector-home-'));
const secrets = join(home, '.mcp-inspector', 'secrets.json');

/** One `mcp-inspector --cli` run; signs in when it asks. Resolves with the method's result
 *  (`--format json` prints `{"result": …}`). */
function inspector(mcp, args, { expectSignIn = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('mcp-inspector', ['--cli', mcp, '--format', 'json', '--callback-url', CALLBACK, ...args], {
      env: {
        ...process.env, HOME: home, MCP_AUTO_OPEN_ENABLED: 'true', BROWSER: '/bin/true',
        MCP_INSPECTOR_SECRET_STORE: 'file',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let signedIn = null;
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = stderr.match(/Please navigate to: (\S+)/);
      if (m && !signedIn) {
        if (!expectSignIn) { child.kill('SIGKILL'); return; }
        signedIn = signIn(m[1], { email: EMAIL, password: PASSWORD, callbackPrefix: CALLBACK, intercept: false });
        signedIn.catch((e) => { child.kill('SIGKILL'); reject(e); });
      }
    });
    child.on('exit', async (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`mcp-inspector ${args.join(' ')} exited ${code}${!expectSignIn && /Please navigate/.test(stderr) ? ' (it asked for a new sign-in)' : ''}:\n${stderr}`));
      if (expectSignIn && !signedIn) return reject(new Error('mcp-inspector never asked for a sign-in'));
      const authorize = signedIn ? new URL(stderr.match(/Please navigate to: (\S+)/)[1]) : null;
      if (signedIn) await signedIn;
      try { resolve({ result: JSON.parse(stdout).result, authorize }); } catch (e) { reject(new Error(`not JSON: ${stdout}\n${stderr}`)); }
    });
  });
}

const db = await scratchDatabase(postgres);
await operator(bin, db.url, ['users', 'add', EMAIL, '--password', PASSWORD]);
const server = await startServer(bin, db.url);
try {
  console.log(`MCP Inspector CLI against ${server.mcp} (${postgres ? 'PostgreSQL' : 'SQLite'})`);
  const { result: listed, authorize } = await inspector(server.mcp, ['--method', 'tools/list'], { expectSignIn: true });
  check(authorize.searchParams.get('code_challenge_method') === 'S256', 'registered and sent to the authorize endpoint with PKCE S256');
  check(authorize.searchParams.get('resource') === server.mcp, `resource=${authorize.searchParams.get('resource')}`);
  const names = listed.tools.map((t) => t.name);
  check(names.includes('add_memory') && names.includes('search_memories'), `signed in, initialized, tools/list: ${names.join(', ')}`);

  const { result: added } = await inspector(server.mcp, ['--method', 'tools/call', '--tool-name', 'add_memory',
    '--tool-args-json', JSON.stringify({ text: 'The Inspector remembers the night ferry', tags: ['interop'] })]);
  const id = added.structuredContent?.id;
  check(!added.isError && id, `add_memory with the stored token → id ${id}`);
  const { result: found } = await inspector(server.mcp, ['--method', 'tools/call', '--tool-name', 'search_memories',
    '--tool-args-json', JSON.stringify({ query: 'ferry' })]);
  check(found.structuredContent?.memories?.some((m) => m.id === id), 'search_memories finds it');

  // The stored access token stops being accepted (as when it expires): the CLI
  // must refresh with its refresh token, not ask for a new sign-in.
  const tokens = () => {
    const file = JSON.parse(readFileSync(secrets, 'utf8'));
    const key = Object.keys(file.secrets).find((k) => k.includes(':tokens:'));
    return { file, key, tokens: key && JSON.parse(file.secrets[key]) };
  };
  const before = tokens();
  check(before.tokens?.access_token && before.tokens?.refresh_token, 'access and refresh tokens stored');
  before.file.secrets[before.key] = JSON.stringify({ ...before.tokens, access_token: before.tokens.access_token.slice(0, -4) + 'AAAA' });
  writeFileSync(secrets, JSON.stringify(before.file));
  const { result: again } = await inspector(server.mcp, ['--method', 'tools/call', '--tool-name', 'search_memories',
    '--tool-args-json', JSON.stringify({ query: 'night' })]);
  check(again.structuredContent?.memories?.some((m) => m.id === id), 'search_memories after refresh finds it');
  const after = tokens().tokens;
  check(after.access_token !== before.tokens.access_token, 'a new access token');
  check(after.refresh_token && after.refresh_token !== before.tokens.refresh_token, 'the refresh token rotated');

  // The 2026-07-28 era, pinned (`--protocol-era modern` has no fallback to
  // initialize: it succeeds only on a server that serves the revision).
  const { result: modern } = await inspector(server.mcp, ['--protocol-era', 'modern', '--method', 'tools/call',
    '--tool-name', 'search_memories', '--tool-args-json', JSON.stringify({ query: 'ferry' })]);
  check(modern.structuredContent?.memories?.some((m) => m.id === id), 'with --protocol-era modern, search_memories finds it');
  console.log('MCP Inspector CLI: the whole flow passed');
} finally {
  await server.stop();
  await db.drop();
  rmSync(home, { recursive: true, force: true });
}
