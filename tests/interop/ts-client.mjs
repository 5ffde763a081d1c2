// The official TypeScript SDK client (@modelcontextprotocol/sdk 1.x) through the
// whole OAuth flow against the memory server: 401 → protected-resource metadata →
// authorization-server metadata → dynamic registration → PKCE authorize with the
// sign-in page (headless Chromium) → token → initialize → tools/list → add_memory
// → search_memories finds it → refresh (after the server rejects the access
// token) → call again; then the v2 client (@modelcontextprotocol/client 2.4)
// with version negotiation on, which must end up on 2026-07-28 with the same
// tokens.
//   node ts-client.mjs MEMORY_SERVER_BIN [--sso] [POSTGRES_URL]
// With --sso the person signs in through the memory server's single sign-on
// provider (the loopback OpenID provider of tests/upstream) instead of a
// password.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { signIn } from './lib/browser.mjs';
import { check, checkSequence, recordingFetch, toolText } from './lib/check.mjs';
import { startIdp } from './lib/idp.mjs';
import { operator, scratchDatabase, startServer } from './lib/server.mjs';

const [bin, ...rest] = process.argv.slice(2);
const sso = rest.includes('--sso');
const postgres = rest.find((a) => a !== '--sso');
const EMAIL = 'ts-sdk@example.com';
const PASSWORD = 'correct horse battery staple';
const REDIRECT = 'http://127.0.0.1:8976/oauth/callback';

/** What a desktop app would keep in its settings: client, tokens, verifier. */
class Provider {
  constructor() { this.saved = {}; this.tokenSaves = 0; this.authorizeUrl = null; }
  get redirectUrl() { return REDIRECT; }
  get clientMetadata() {
    return {
      client_name: 'gatehouse interop (TypeScript SDK)', redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() { return 'ts-sdk-state-' + Math.random().toString(36).slice(2); }
  clientInformation() { return this.saved.client; }
  saveClientInformation(info) { this.saved.client = info; }
  tokens() { return this.saved.tokens; }
  saveTokens(tokens) { this.saved.tokens = tokens; this.tokenSaves++; }
  saveCodeVerifier(v) { this.saved.verifier = v; }
  codeVerifier() { return this.saved.verifier; }
  redirectToAuthorization(url) { this.authorizeUrl = url; }
}

const db = await scratchDatabase(postgres);
const idp = sso ? await startIdp() : null;
if (!sso) await operator(bin, db.url, ['users', 'add', EMAIL, '--password', PASSWORD]);
const server = await startServer(bin, db.url, idp ? idp.env : {});
try {
  console.log(`TypeScript SDK client against ${server.mcp} (${postgres ? 'PostgreSQL' : 'SQLite'}${sso ? `, signing in through ${idp.issuer}` : ''})`);
  const log = [];
  const fetchFn = recordingFetch(log);
  const provider = new Provider();
  const url = new URL(server.mcp);

  // 1. The first connect meets the 401, discovers, registers and asks for a sign-in.
  let transport = new StreamableHTTPClientTransport(url, { authProvider: provider, fetch: fetchFn });
  let client = new Client({ name: 'gatehouse-interop-ts', version: '1.0.0' });
  await client.connect(transport).then(
    () => { throw new Error('connect succeeded without signing in'); },
    (e) => check(e instanceof UnauthorizedError, `connect without a token fails with UnauthorizedError (${e.message})`),
  );
  checkSequence(log, [
    'POST /mcp 401',
    'GET /.well-known/oauth-protected-resource/mcp 200',
    'GET /.well-known/oauth-authorization-server 200',
    'POST /oauth/register 201',
  ], 'discovery and registration');
  const authorize = provider.authorizeUrl;
  check(authorize && authorize.pathname === '/oauth/authorize', `sent to the authorize endpoint ${authorize}`);
  check(authorize.searchParams.get('code_challenge_method') === 'S256', 'PKCE S256');
  check(authorize.searchParams.get('resource') === server.mcp, `resource=${authorize.searchParams.get('resource')}`);

  // 2. A person signs in on the page; the browser comes back with the code.
  const person = sso ? { provider: 'sso', login: idp.login } : { email: EMAIL, password: PASSWORD };
  const back = new URL(await signIn(authorize.toString(), { ...person, callbackPrefix: REDIRECT }));
  check(back.searchParams.get('state') === authorize.searchParams.get('state'), 'state returned unchanged');
  check(back.searchParams.get('iss'), `iss returned (${back.searchParams.get('iss')})`);
  await transport.finishAuth(back.searchParams.get('code'));
  check(provider.tokens()?.access_token && provider.tokens()?.refresh_token, 'access and refresh tokens saved');
  checkSequence(log, ['POST /oauth/token 200'], 'code exchanged');

  // 3. Connected: initialize, list, call.
  transport = new StreamableHTTPClientTransport(url, { authProvider: provider, fetch: fetchFn });
  client = new Client({ name: 'gatehouse-interop-ts', version: '1.0.0' });
  await client.connect(transport);
  check(transport.sessionId, `initialized, session ${transport.sessionId}`);
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  check(names.includes('add_memory') && names.includes('search_memories'), `tools/list: ${names.join(', ')}`);
  const added = await client.callTool({ name: 'add_memory', arguments: { text: 'The TypeScript SDK remembers the harbour at dawn', tags: ['interop'] } });
  check(!added.isError && added.structuredContent?.id, `add_memory → id ${added.structuredContent?.id}`);
  const found = await client.callTool({ name: 'search_memories', arguments: { query: 'harbour' } });
  check(found.structuredContent?.memories?.some((m) => m.id === added.structuredContent.id), 'search_memories finds it');

  // 4. The access token stops being accepted (as when it expires): the SDK meets
  //    a 401, refreshes with its refresh token and repeats the call.
  const before = provider.tokens();
  provider.saved.tokens = { ...before, access_token: before.access_token.slice(0, -4) + 'AAAA' };
  const again = await client.callTool({ name: 'search_memories', arguments: { query: 'dawn' } });
  check(again.structuredContent?.memories?.length === 1, `search_memories after refresh: ${toolText(again).slice(0, 60)}…`);
  const after = provider.tokens();
  check(after.access_token !== before.access_token, 'a new access token');
  check(after.refresh_token && after.refresh_token !== before.refresh_token, 'the refresh token rotated');
  checkSequence(log, ['POST /mcp 401', 'POST /oauth/token 200', 'POST /mcp 200'], 'refresh on 401');

  await client.close();

  // 5. The v2 client with version negotiation on: it probes server/discover
  //    and stays on the 2026-07-28 revision (no session, each request
  //    authorized on its own) with the tokens the person already granted.
  if (!sso) {
    const v2 = await import('@modelcontextprotocol/client');
    log.length = 0;
    const modern = new v2.Client({ name: 'gatehouse-interop-ts-v2', version: '1.0.0' },
      { versionNegotiation: { mode: 'auto' } });
    const t2 = new v2.StreamableHTTPClientTransport(url, { authProvider: provider, fetch: fetchFn });
    await modern.connect(t2);
    check(modern.getProtocolEra() === 'modern' && modern.getNegotiatedProtocolVersion() === '2026-07-28',
      `v2 client: ${modern.getProtocolEra()} era, ${modern.getNegotiatedProtocolVersion()}`);
    const listed = await modern.listTools();
    check(listed.tools.some((t) => t.name === 'search_memories'), 'v2 tools/list');
    const seen = await modern.callTool({ name: 'search_memories', arguments: { query: 'harbour' } });
    check(seen.structuredContent?.memories?.some((m) => m.id === added.structuredContent.id), 'v2 search_memories finds the memory');
    check(!t2.sessionId, 'no session');
    check(log.length > 0 && log.every((l) => l.startsWith('POST /mcp 200')), `only POSTs to /mcp, all 200: ${log.join(', ')}`);
    await modern.close();
  }
  console.log(`TypeScript SDK client: the whole flow passed${sso ? ' (single sign-on)' : ''}`);
} finally {
  await server.stop();
  if (idp) await idp.stop();
  await db.drop();
}
