// The loopback OpenID provider of the upstream sign-in tests
// (tests/upstream/provider.mjs, npm oidc-provider) for the interop drivers:
// one issuer, `sso`, and a gatehouse server's SSO_* variables for it.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../upstream/provider.mjs', import.meta.url));

/** Starts the provider; resolves with its issuer URL, the env for the server, and stop(). */
export async function startIdp() {
  const config = {
    issuers: [{
      name: 'sso', host: '127.0.0.2', clientId: 'gatehouse-interop', clientSecret: 'interop-secret',
      redirectUris: ['http://127.0.0.1/oauth/callback/sso'], idTokenClaims: true,
    }],
    accounts: { alice: { email: 'alice@example.com', email_verified: true, name: 'Alice' } },
  };
  const child = spawn(process.execPath, [SCRIPT, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'ignore'] });
  const issuer = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the provider did not start within 60 s')), 60_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/^ready (.*)$/m);
      if (m) { clearTimeout(timer); resolve(JSON.parse(m[1]).sso); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the provider exited with ${code}`)); });
  });
  child.removeAllListeners('exit');
  return {
    issuer,
    env: { SSO_ISSUER: issuer, SSO_CLIENT_ID: 'gatehouse-interop', SSO_CLIENT_SECRET: 'interop-secret' },
    login: 'alice',
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', resolve);
      child.kill('SIGTERM');
    }),
  };
}
