// Starts a gatehouse server binary the way an operator would: configuration from
// the environment, a scratch database, the URL it serves read from its first line.
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A fresh database URL: a SQLite file in a temporary directory, or a new
 *  PostgreSQL database created next to `postgresUrl` (dropped by `stop`). */
export async function scratchDatabase(postgresUrl) {
  if (!postgresUrl) {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-interop-'));
    return { url: `sqlite://${dir}/gatehouse.db`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `gatehouse_interop_${process.pid}_${Date.now()}`;
  const admin = new URL(postgresUrl);
  await run('psql', [admin.toString(), '-qc', `CREATE DATABASE ${name}`]);
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => { await run('psql', [admin.toString(), '-qc', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]); },
  };
}

/** Runs `bin` with `args` against `database` (an operator command such as `users add`). */
export async function operator(bin, database, args, env = {}) {
  const { stdout } = await run(bin, args, { env: { ...process.env, DATABASE_URL: database, RUST_LOG: 'warn', ...env } });
  return stdout.trim();
}

/** Starts `bin` serving on a free loopback port; resolves once it listens. */
export async function startServer(bin, database, env = {}) {
  const child = spawn(bin, [], {
    env: { ...process.env, GATEHOUSE_LISTEN: '127.0.0.1:0', DATABASE_URL: database, RUST_LOG: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; if (process.env.INTEROP_VERBOSE) process.stderr.write(d); });
  const mcp = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${bin} did not start within 30 s:\n${stderr}`)), 30_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/^gatehouse: serving .* on (http:\/\/\S+\/mcp)$/m);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${bin} exited with ${code}:\n${stderr}`)); });
  });
  child.removeAllListeners('exit');
  const base = mcp.replace(/\/mcp$/, '');
  return {
    mcp,
    base,
    stderr: () => stderr,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', resolve);
      child.kill('SIGTERM');
    }),
  };
}
