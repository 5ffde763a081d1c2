// Starts the memory server (with an account) and runs the Python SDK driver,
// python/client.py, against it with the pinned `mcp` from the interop venv;
// then conformance-server (beside it) for python/elicit.py: one tool asking
// the user in both protocol eras.
//   node python-client.mjs MEMORY_SERVER_BIN PYTHON [POSTGRES_URL]
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { operator, scratchDatabase, startServer } from './lib/server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const [bin, python, postgres] = process.argv.slice(2);
const EMAIL = 'python-sdk@example.com';
const PASSWORD = 'correct horse battery staple';

const db = await scratchDatabase(postgres);
await operator(bin, db.url, ['users', 'add', EMAIL, '--password', PASSWORD]);
const server = await startServer(bin, db.url);
try {
  console.log(`(${postgres ? 'PostgreSQL' : 'SQLite'})`);
  const run = spawnSync(python, [join(here, 'python', 'client.py'), server.mcp, EMAIL, PASSWORD], { stdio: 'inherit' });
  process.exitCode = run.status ?? 1;
} finally {
  await server.stop();
  await db.drop();
}

if (process.exitCode === 0) {
  const confDb = await scratchDatabase(postgres);
  const conformance = await startServer(join(dirname(bin), 'conformance-server'), confDb.url);
  try {
    const run = spawnSync(python, [join(here, 'python', 'elicit.py'), conformance.mcp], { stdio: 'inherit' });
    process.exitCode = run.status ?? 1;
  } finally {
    await conformance.stop();
    await confDb.drop();
  }
}
