// A real, OpenID Certified identity provider (npm `oidc-provider`) on loopback,
// for the upstream sign-in tests (issue 10; IDENTITY.md "Facts for tests").
//
//   node provider.mjs '<config JSON>'
//
// The config names one or more issuers, each served on its own host and port
// (127.0.0.2, 127.0.0.3, … keep their cookies apart from gatehouse's on
// 127.0.0.1, as separate sites would be), and the accounts people can sign in
// as. Once every issuer listens, one line is printed:
//
//   ready {"sso":"http://127.0.0.2:41234", …}
//
// Issuer options:
//   name, host, port (0 = any), clientId, clientSecret
//   idTokenClaims: true   email and name go into the ID token (as Google does);
//                         false: only from userinfo (oidc-provider's default)
//   github: true          a GitHub-shaped OAuth 2.0 server instead: GitHub's
//                         paths (/login/oauth/authorize, /login/oauth/access_token),
//                         no ID token, and /api/v3/user + /api/v3/user/emails
//   clockSkew: seconds    mint tokens with a clock this far behind (expired ID tokens)
//   alg: RS256 | ES256    the signing algorithm
//   accessTokenTtl, refreshTokens: true
//
// Accounts: { "<login>": { "email", "email_verified", "name", "github_id",
//   "emails": [{ "email", "primary", "verified" }] } }
//
// People sign in on a plain HTML form (GET /interaction/:uid, field `login`);
// consent is granted at once (as a returning user's is). Control endpoints for
// tests: POST /__control/rotate (sign with a new key from now on),
// GET /__control/stats (how often discovery, JWKS, token and userinfo were hit).
import http from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2] || '{}');
const accounts = config.accounts || {};

function newKey(alg) {
  const { privateKey } = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: randomBytes(8).toString('hex'), alg: alg || 'RS256', use: 'sig' };
}

function escape(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html><body>${html}</body></html>`);
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => resolve(Object.fromEntries(new URLSearchParams(body))));
    req.on('error', reject);
  });
}

function json(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

/** One issuer: a Provider behind a small router for its interaction pages. */
function issuer(opt, base) {
  const stats = { discovery: 0, jwks: 0, token: 0, userinfo: 0, authorization: 0 };
  const names = { session: `_session_${opt.name}`, interaction: `_interaction_${opt.name}`, resume: `_resume_${opt.name}` };
  let keys = [newKey(opt.alg)];
  const client = {
    client_id: opt.clientId,
    client_secret: opt.clientSecret,
    // native: a loopback redirect URI matches on any port (gatehouse's tests
    // listen on port 0), the way RFC 8252 describes it.
    application_type: 'native',
    redirect_uris: opt.redirectUris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: opt.tokenAuth || 'client_secret_basic',
    id_token_signed_response_alg: opt.alg || 'RS256',
  };

  const build = () => new Provider(base, {
    clients: [client],
    jwks: { keys },
    cookies: { names, keys: [randomBytes(16).toString('hex')] },
    pkce: { required: () => true },
    conformIdTokenClaims: !opt.idTokenClaims,
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    scopes: opt.github ? ['openid', 'offline_access', 'read:user', 'user:email'] : ['openid', 'offline_access'],
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => (opt.github ? `${base}/api/v3` : undefined),
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'read:user user:email',
          accessTokenFormat: 'opaque',
          audience: `${base}/api/v3`,
        }),
      },
    },
    routes: opt.github ? { authorization: '/login/oauth/authorize', token: '/login/oauth/access_token' } : {},
    issueRefreshToken: async () => Boolean(opt.refreshTokens),
    ttl: {
      AccessToken: opt.accessTokenTtl || 3600,
      IdToken: 3600,
      RefreshToken: 86400,
      Interaction: 600,
      Session: 3600,
      Grant: 86400,
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: async (_ctx, id) => {
      const a = accounts[id];
      if (!a) return undefined;
      return {
        accountId: id,
        claims: async () => {
          const claims = { sub: id };
          if (a.email !== undefined) claims.email = a.email;
          if (a.email_verified !== undefined) claims.email_verified = a.email_verified;
          if (a.name !== undefined) claims.name = a.name;
          return claims;
        },
      };
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = `<!doctype html><p>error: ${escape(out.error)}: ${escape(out.error_description || '')}</p>`;
    },
  });
  let provider = build();
  const ref = { get provider() { return provider; } };

  async function interaction(req, res, uid, action) {
    const p = ref.provider;
    const details = await p.interactionDetails(req, res);
    if (details.uid !== uid) return page(res, 400, 'wrong interaction');
    if (action === 'login') {
      const form = await readForm(req);
      if (!accounts[form.login]) {
        return page(res, 200, `<p class="error">No such account</p>${loginForm(uid)}`);
      }
      return p.interactionFinished(req, res, { login: { accountId: form.login } }, { mergeWithLastSubmission: false });
    }
    if (details.prompt.name === 'login') return page(res, 200, loginForm(uid));
    // Consent: granted at once, for whatever was asked.
    const { prompt: { details: missing }, params, session } = details;
    let grant = details.grantId ? await p.Grant.find(details.grantId) : undefined;
    if (!grant) grant = new p.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    if (missing.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    const grantId = await grant.save();
    return p.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  function loginForm(uid) {
    return `<h1>Sign in to ${escape(opt.name)}</h1>
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Login <input name="login" autofocus></label>
<button type="submit">Sign in</button>
</form>`;
  }

  async function githubApi(req, res, url) {
    const auth = req.headers.authorization || '';
    const token = auth.replace(/^(Bearer|token)\s+/i, '');
    const at = token && await ref.provider.AccessToken.find(token);
    if (!at) return json(res, 401, { message: 'Bad credentials' });
    const a = accounts[at.accountId];
    if (!a) return json(res, 401, { message: 'Bad credentials' });
    if (url.pathname === '/api/v3/user') {
      return json(res, 200, { id: a.github_id, login: a.login || at.accountId, name: a.name ?? null, email: a.public_email ?? null });
    }
    return json(res, 200, (a.emails || []).map((e) => ({ visibility: 'private', ...e })));
  }

  const handler = async (req, res) => {
    const url = new URL(req.url, base);
    try {
      if (url.pathname === '/__control/rotate' && req.method === 'POST') {
        keys = [newKey(opt.alg)];
        provider = build();
        return json(res, 200, { kid: keys[0].kid });
      }
      if (url.pathname === '/__control/stats') return json(res, 200, stats);
      const m = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login))?$/);
      if (m) return await interaction(req, res, m[1], m[2]);
      if (opt.github && url.pathname.startsWith('/api/v3/user')) return await githubApi(req, res, url);
      if (url.pathname.endsWith('/.well-known/openid-configuration')) stats.discovery++;
      if (url.pathname === '/jwks') stats.jwks++;
      if (url.pathname === '/token' || url.pathname === '/login/oauth/access_token') stats.token++;
      if (url.pathname === '/me') stats.userinfo++;
      if (url.pathname === '/auth' || url.pathname === '/login/oauth/authorize') stats.authorization++;
      const skewed = opt.clockSkew && (url.pathname === '/token' || url.pathname === '/login/oauth/access_token');
      if (!skewed) return ref.provider.callback()(req, res);
      // A provider whose clock is behind: the tokens it mints have expired already.
      const realNow = Date.now;
      Date.now = () => realNow() - opt.clockSkew * 1000;
      res.on('finish', () => { Date.now = realNow; });
      return ref.provider.callback()(req, res);
    } catch (e) {
      return page(res, 500, `error: ${escape(e.message)}`);
    }
  };
  return { handler };
}

// Each step of the start goes to standard error (shown by the tests when a
// start never announces itself).
const step = (what) => process.stderr.write(`[${new Date().toISOString()}] ${what}\n`);
const ready = {};
for (const opt of config.issuers || []) {
  const server = http.createServer();
  step(`listening for ${opt.name}`);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opt.port || 0, opt.host || '127.0.0.2', resolve);
  });
  const base = `http://${opt.host || '127.0.0.2'}:${server.address().port}`;
  step(`${opt.name} at ${base}`);
  const { handler } = issuer(opt, base);
  server.on('request', handler);
  ready[opt.name] = base;
}
console.log(`ready ${JSON.stringify(ready)}`);
process.on('SIGTERM', () => process.exit(0));
