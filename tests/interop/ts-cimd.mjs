// The TypeScript SDK v2 client (@modelcontextprotocol/client 2.4) signing in
// with a Client ID Metadata Document instead of registering (issue 13, item 5;
// MODERN.md M-1 to M-6): its `clientMetadataUrl` is the https URL of a
// document served here from loopback, which the server fetches, checks and
// names on its pages. Then version negotiation on: 2026-07-28, a tool call,
// and a refresh after the access token stops being accepted.
//   node ts-cimd.mjs DOCUMENTS_SERVER_BIN [POSTGRES_URL]
// DOCUMENTS_SERVER_BIN is the test kit with OAuth whose test-only settings let
// it fetch documents from loopback and trust the test certificate authority
// made here with openssl (tests/src/bin/documents-server.rs); the SDK accepts
// only https document URLs, and no shipped server fetches from loopback.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { signIn } from './lib/browser.mjs';
import { check, checkSequence, recordingFetch } from './lib/check.mjs';
import { operator, scratchDatabase, startServer } from './lib/server.mjs';

const [bin, postgres] = process.argv.slice(2);
const EMAIL = 'ts-cimd@example.com';
const PASSWORD = 'correct horse battery staple';
const REDIRECT = 'http://127.0.0.1:8977/oauth/callback';
const run = promisify(execFile);

/** A test certificate authority and a certificate for 127.0.0.1 signed by it. */
async function makeCertificates(dir) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const authority = (name, cn) => run('openssl', ['req', '-x509', ...ec,
    '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`), '-days', '1', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  await authority('ca', 'gatehouse interop test CA');
  await run('openssl', ['req', ...ec, '-keyout', join(dir, 'leaf.key'), '-out', join(dir, 'leaf.csr'),
    '-subj', '/CN=127.0.0.1']);
  writeFileSync(join(dir, 'leaf.ext'),
    'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['x509', '-req', '-in', join(dir, 'leaf.csr'), '-CA', join(dir, 'ca.pem'),
    '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-days', '1', '-out', join(dir, 'leaf.pem'),
    '-extfile', join(dir, 'leaf.ext')]);
  // A second authority that signed nothing here: a server trusting only it
  // must refuse the document server's certificate.
  await authority('other', 'gatehouse interop other CA');
  return { ca: join(dir, 'ca.pem'), other: join(dir, 'other.pem'), key: readFileSync(join(dir, 'leaf.key')), cert: readFileSync(join(dir, 'leaf.pem')) };
}

/** Serves the client's metadata document over https on loopback, counting fetches. */
async function startDocumentServer({ key, cert }) {
  const served = { fetches: 0, url: null };
  const server = createServer({ key, cert }, (req, res) => {
    if (req.method === 'GET' && req.url === '/clients/ts-sdk.json') {
      served.fetches++;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' });
      res.end(JSON.stringify({
        client_id: served.url, client_name: 'gatehouse interop (TypeScript SDK, CIMD)',
        redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'], token_endpoint_auth_method: 'none',
      }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  served.url = `https://127.0.0.1:${server.address().port}/clients/ts-sdk.json`;
  served.stop = () => new Promise((resolve) => server.close(resolve));
  return served;
}

/** A desktop app's settings, with a document URL instead of a registration. */
class Provider {
  constructor(documentUrl) { this.saved = {}; this.authorizeUrl = null; this.documentUrl = documentUrl; }
  get redirectUrl() { return REDIRECT; }
  get clientMetadataUrl() { return this.documentUrl; }
  get clientMetadata() {
    return {
      client_name: 'gatehouse interop (TypeScript SDK, CIMD)', redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() { return this.saved.client; }
  saveClientInformation(info) { this.saved.client = info; }
  tokens() { return this.saved.tokens; }
  saveTokens(tokens) { this.saved.tokens = tokens; }
  saveCodeVerifier(v) { this.saved.verifier = v; }
  codeVerifier() { return this.saved.verifier; }
  saveDiscoveryState(state) { this.saved.discovery = state; }
  discoveryState() { return this.saved.discovery; }
  redirectToAuthorization(url) { this.authorizeUrl = url; }
}

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cimd-'));
const certs = await makeCertificates(dir);
const documents = await startDocumentServer(certs);
const env = { GATEHOUSE_TEST_DOCUMENT_CA: certs.ca };
const db = await scratchDatabase(postgres);

// 0. The certificate is checked: a server that trusts another authority does
//    not take the document: a page saying so, and nothing served to it.
{
  const distrust = await startServer(bin, db.url, { GATEHOUSE_TEST_DOCUMENT_CA: certs.other });
  try {
    const authorize = new URL('/oauth/authorize', distrust.base);
    for (const [k, v] of Object.entries({ response_type: 'code', client_id: documents.url, redirect_uri: REDIRECT,
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
      state: 'distrust', resource: distrust.mcp })) authorize.searchParams.set(k, v);
    const res = await fetch(authorize, { redirect: 'manual' });
    const page = await res.text();
    check(res.status === 400 && page.includes('127.0.0.1'), `an untrusted certificate is refused with a page: ${res.status}`);
    check(documents.fetches === 0, 'no document was served over the refused connection');
  } finally {
    await distrust.stop();
  }
}
await operator(bin, db.url, ['users', 'add', EMAIL, '--password', PASSWORD], env);
const server = await startServer(bin, db.url, env);
try {
  console.log(`TypeScript SDK v2 client with a metadata document (${documents.url}) against ${server.mcp} (${postgres ? 'PostgreSQL' : 'SQLite'})`);
  const v2 = await import('@modelcontextprotocol/client');
  const log = [];
  const fetchFn = recordingFetch(log);
  const provider = new Provider(documents.url);
  const url = new URL(server.mcp);
  const connectModern = () => {
    const client = new v2.Client({ name: 'gatehouse-interop-ts-cimd', version: '1.0.0' },
      { versionNegotiation: { mode: 'auto' } });
    const transport = new v2.StreamableHTTPClientTransport(url, { authProvider: provider, fetch: fetchFn });
    return { client, transport };
  };

  // 1. The first connect meets the 401 and discovers; the server advertises
  //    URL client ids, so the client uses its document URL and registers nothing.
  let { client, transport } = connectModern();
  await client.connect(transport).then(
    () => { throw new Error('connect succeeded without signing in'); },
    (e) => check(e instanceof v2.UnauthorizedError || /unauthori/i.test(e.message), `connect without a token fails (${e.message})`),
  );
  const metadata = await (await fetch(new URL('/.well-known/oauth-authorization-server', server.base))).json();
  check(metadata.client_id_metadata_document_supported === true, 'metadata: client_id_metadata_document_supported');
  check(metadata.token_endpoint_auth_methods_supported.includes('none'), 'metadata: token auth method none');
  check(!log.some((l) => l.startsWith('POST /oauth/register')), `no dynamic registration: ${log.join(', ')}`);
  const authorize = provider.authorizeUrl;
  check(authorize?.searchParams.get('client_id') === documents.url, `client_id is the document URL (${authorize?.searchParams.get('client_id')})`);
  check(documents.fetches === 0, 'the document is not fetched before the authorization request');

  // 2. The person signs in; the pages name the app and the host publishing it.
  const seen = [];
  const back = new URL(await signIn(authorize.toString(), { email: EMAIL, password: PASSWORD, callbackPrefix: REDIRECT, seen }));
  check(seen.some((t) => t.includes('gatehouse interop (TypeScript SDK, CIMD)') && t.includes('published by 127.0.0.1')),
    `the pages name the app and its publishing host: ${JSON.stringify(seen[0]?.slice(0, 160))}`);
  check(documents.fetches === 1, `the server fetched the document once (${documents.fetches})`);
  check(back.searchParams.get('state') === authorize.searchParams.get('state'), 'state returned unchanged');
  // The callback's parameters as they came: the SDK checks `iss` (RFC 9207)
  // against the issuer it discovered before redeeming the code.
  check(back.searchParams.get('iss') === metadata.issuer, `iss returned (${back.searchParams.get('iss')})`);
  await transport.finishAuth(back.searchParams);
  check(provider.tokens()?.access_token && provider.tokens()?.refresh_token, 'access and refresh tokens for the document client');
  checkSequence(log, ['POST /oauth/token 200'], 'code exchanged without a client secret');

  // 3. Connected on 2026-07-28 with the document client's tokens.
  ({ client, transport } = connectModern());
  log.length = 0;
  await client.connect(transport);
  check(client.getProtocolEra() === 'modern' && client.getNegotiatedProtocolVersion() === '2026-07-28',
    `${client.getProtocolEra()} era, ${client.getNegotiatedProtocolVersion()}`);
  const echoed = await client.callTool({ name: 'echo', arguments: { text: 'metadata documents' } });
  check(echoed.content?.[0]?.text === 'metadata documents', `echo → ${JSON.stringify(echoed.content)}`);
  check(!transport.sessionId, 'no session');

  // 4. The access token stops being accepted: a refresh by the document client.
  const before = provider.tokens();
  provider.saved.tokens = { ...before, access_token: before.access_token.slice(0, -4) + 'AAAA' };
  const again = await client.callTool({ name: 'echo', arguments: { text: 'after refresh' } });
  check(again.content?.[0]?.text === 'after refresh', 'echo after the refresh');
  const after = provider.tokens();
  check(after.refresh_token && after.refresh_token !== before.refresh_token, 'the refresh token rotated');
  checkSequence(log, ['POST /mcp 401', 'POST /oauth/token 200', 'POST /mcp 200'], 'refresh on 401');
  check(documents.fetches === 1, `the document was not fetched again within its max-age (${documents.fetches})`);
  await client.close();
  console.log('TypeScript SDK client with a metadata document: the whole flow passed');
} finally {
  await server.stop();
  await documents.stop();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
}
