/**
 * One instance of the multi-instance example. Start several, each on its own port, with the
 * same settings (see README.md):
 *
 *   PORT=3001 INSTANCE=a npx tsx examples/multi-instance/server.ts
 *   PORT=3002 INSTANCE=b npx tsx examples/multi-instance/server.ts
 *
 * Run `examples/multi-instance/migrate.ts` once before (the deploy step). When started by the
 * demo (with an IPC channel), the instance reports `{ type: 'ready', port }` once it listens and
 * stops when the channel closes.
 */
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createInstance, settingsFromEnv } from './app.js';

const port = Number(process.env['PORT'] ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be a port number (got "${process.env['PORT']}")`);
  process.exit(2);
}
const name = process.env['INSTANCE'] || `pid-${process.pid}`;

let settings: ReturnType<typeof settingsFromEnv>;
try {
  settings = settingsFromEnv();
} catch (err) {
  console.error(`[${name}] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
}

const instance = await createInstance(name, settings);
const server = serve({ fetch: instance.app.fetch, port, hostname: '127.0.0.1' });
server.once('error', (err) => {
  console.error(`[${name}] could not listen on port ${port}:`, err);
  void instance.close().finally(() => process.exit(1));
});
server.once('listening', () => {
  const actual = (server.address() as AddressInfo).port;
  console.log(`[${name}] listening on http://127.0.0.1:${actual} (control plane: schema ${settings.schema}; tenant databases: ${settings.dataDir}/tenants)`);
  process.send?.({ type: 'ready', port: actual });
});

let stopping: Promise<void> | undefined;
function stop(): Promise<void> {
  stopping ??= (async () => {
    // Stop taking requests first, then let tenantry wait for running queries.
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await instance.close();
    process.exit(0);
  })().catch((err: unknown) => {
    console.error(`[${name}] shutdown failed:`, err);
    process.exit(1);
  });
  return stopping;
}
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
process.once('disconnect', () => void stop()); // the demo that started us is gone
