/**
 * What every bench server shares: listen on an ephemeral port of 127.0.0.1, report it to the
 * parent over IPC, answer `{ cmd: 'cpu' }` with `process.cpuUsage()` and stop on `{ cmd: 'stop' }`.
 * Plain `.mjs` so it runs under plain `node` (no TypeScript loader in the measured process).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

/** The small JSON every variant answers. */
export const NOTES = Object.freeze({ notes: [{ id: 1, text: 'ship the rocket skates' }] });

/** Settings the parent passes through the environment. */
export const settings = {
  variant: process.argv[2] ?? '',
  jwtSecret: process.env.BENCH_JWT_SECRET ?? '',
  jwtIssuer: process.env.BENCH_JWT_ISSUER ?? 'tenantry-bench',
  jwtAudience: process.env.BENCH_JWT_AUDIENCE ?? 'tenantry-bench-api',
  /** Base domain of the subdomain variants: requests come with `Host: acme.<baseDomain>`. */
  baseDomain: process.env.BENCH_BASE_DOMAIN ?? 'bench.test',
};

/** A private folder for this process's tenant database files, removed on stop. */
export function dataDir() {
  const base = process.env.BENCH_TMP ?? tmpdir();
  return mkdtempSync(join(base, `${settings.variant}-`));
}

/**
 * Connects the server to the parent.
 * @param {{ listen: () => Promise<{ port: number, close: () => Promise<void> }>, cleanup?: () => Promise<void>, folder?: string }} hooks
 */
export async function run(hooks) {
  if (typeof process.send !== 'function') {
    console.error('bench server: start me with child_process.fork (I need an IPC channel)');
    process.exit(2);
  }
  let server;
  try {
    server = await hooks.listen();
  } catch (err) {
    process.send({ type: 'failed', message: String(err?.stack ?? err) });
    process.exitCode = 1;
    process.disconnect();
    return;
  }
  process.on('message', async (msg) => {
    if (msg?.cmd === 'cpu') {
      process.send({ type: 'cpu', id: msg.id, usage: process.cpuUsage(), memory: process.memoryUsage().rss });
    } else if (msg?.cmd === 'stop') {
      try {
        await server.close();
        await hooks.cleanup?.();
      } finally {
        if (hooks.folder !== undefined) rmSync(hooks.folder, { recursive: true, force: true });
        process.send({ type: 'stopped' }, () => process.exit(0));
      }
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ type: 'ready', port: server.port });
}

/** Wraps a Node `http.Server` listening on 127.0.0.1:0. */
export function listenOn(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.keepAliveTimeout = 30_000;
      resolve({
        port: server.address().port,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
  });
}
