/**
 * A small server on the built package (dist/, imported by the package's own name) that test/
 * shutdown-process.test.ts runs as a child process: Hono on @hono/node-server, a Redis quota
 * store and invalidation bus, a warm pool, the embedded control plane. It sends itself requests
 * that stay in flight, shuts down the way the README says (stop the server, `tenantry.close()`,
 * quit your own Redis client), prints one JSON line per step, and then simply returns: the
 * process must exit by itself. It never calls `process.exit()`.
 *
 * Usage: node shutdown-child.mjs <dataDir> <redisPort> <keyPrefix>
 */
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Redis } from 'ioredis';
import { createTenantry, fromHeader, getTenantClient } from 'tenantry';
import { tenancy, tenantryErrorHandler } from 'tenantry/hono';
import { redisInvalidationBus, redisQuotaStore } from 'tenantry/redis';

const [dataDir, redisPort, prefix] = process.argv.slice(2);
const say = (event, fields = {}) => process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);

/** Handles that would keep the process alive, printed if it has not exited after a while (an unref'd timer keeps nothing alive). */
setTimeout(() => {
  const handles = process._getActiveHandles().map((h) => h?.constructor?.name ?? typeof h);
  const requests = process._getActiveRequests().map((r) => r?.constructor?.name ?? typeof r);
  say('still-alive', { handles, requests });
}, 10_000).unref();

function get(port, path, tenant, method = 'GET') {
  return new Promise((resolve, reject) => {
    // agent: false, so the test's own keep-alive sockets cannot be what keeps the process alive
    const req = httpRequest({ host: '127.0.0.1', port, path, method, agent: false, headers: { 'x-tenant-id': tenant } }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function main() {
  const redis = new Redis({ port: Number(redisPort), enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  await new Promise((resolve) => redis.once('ready', resolve));
  const tenantry = createTenantry({
    dataDir,
    resolvers: [fromHeader()],
    databases: { maxClients: 4, idleTtlMs: 60_000 },
    plans: { free: { apiRateLimit: 1_000, maxDeploymentsPerDay: 100 }, pro: {}, enterprise: {} },
    quotaStore: redisQuotaStore({ client: redis, prefix }),
    invalidation: redisInvalidationBus({ client: redis, channel: `${prefix}invalidate` }),
    provisioning: {
      migrations: [{ id: '0001', sql: 'create table items (n integer not null)' }],
      warmPool: { size: 2 },
    },
  });
  await tenantry.ready();
  const tenants = Array.from({ length: 8 }, (_, i) => `t${i}`);
  for (const orgId of tenants) {
    const result = await tenantry.provisioning.provisionTenant({ orgId });
    if (result.status !== 'active') throw new Error(`provisioning ${orgId}: ${result.error}`);
  }

  let entered = 0;
  let release;
  const gate = new Promise((resolve) => (release = resolve));
  const app = new Hono();
  app.onError(tenantryErrorHandler());
  app.use('*', tenancy(tenantry));
  app.post('/work', async (c) => {
    const tx = await (await getTenantClient()).transaction('write');
    await tx.execute('insert into items (n) values (1)');
    entered++;
    await gate;
    await tx.commit();
    await tenantry.quota.consume('maxDeploymentsPerDay');
    return c.json({ ok: true });
  });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  const port = server.address().port;
  say('listening', { port });

  // more tenants than pooled clients: evicted clients stay open under their transactions
  const inFlight = tenants.map((t) => get(port, '/work', t, 'POST'));
  while (entered < tenants.length) await sleep(5);
  say('in-flight', { requests: entered, stats: tenantry.stats() });

  // Shutdown: stop accepting, let the running requests finish, close tenantry, quit our Redis.
  const serverClosed = new Promise((resolve) => server.close(resolve));
  const closing = tenantry.close();
  release();
  const answers = await Promise.all(inFlight);
  await closing;
  await serverClosed;
  await redis.quit();
  say('closed', { statuses: answers.map((a) => a.status), stats: tenantry.stats() });
}

main().catch((err) => {
  say('error', { message: String(err?.stack ?? err) });
  process.exitCode = 1;
});
