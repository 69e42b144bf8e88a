/**
 * Hono bench server of bench/tenants.ts (`node bench/servers/hono-tenants.mjs <tenants>`, started
 * by the bench under `fork`): `tenancy(fromHeader())` over `<tenants>` tenants (`t-0` … `t-<n-1>`,
 * a memory registry), a pool of `maxClients: 200`, and a handler that runs `select 1` on the
 * tenant's client before answering the same small JSON as every bench server.
 * Each tenant's database is a file of this process's folder, made by libsql on first use.
 */
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { pathToFileURL } from 'node:url';
import { createTenantry, fromHeader, getTenantClient, memoryRegistry } from '../../dist/index.js';
import { tenancy } from '../../dist/hono.js';
import { NOTES, dataDir, listenOn, run, settings } from './harness.mjs';

const tenants = Number(settings.variant);
if (!Number.isInteger(tenants) || tenants < 1) throw new Error(`hono-tenants bench server: "${settings.variant}" is not a tenant count`);
const MAX_CLIENTS = 200;

const folder = dataDir();
const tenantry = createTenantry({
  resolvers: [fromHeader()],
  registry: memoryRegistry(Array.from({ length: tenants }, (_, i) => ({ id: `t-${i}` }))),
  databases: { urlTemplate: `${pathToFileURL(folder).href}/{tenant}.db`, maxClients: MAX_CLIENTS },
});
const app = new Hono();
app.use('*', tenancy(tenantry));
app.get('/notes', async (c) => {
  const db = await getTenantClient();
  await db.execute('select 1');
  return c.json(NOTES);
});

await run({
  folder,
  listen: () => listenOn(createAdaptorServer({ fetch: app.fetch })),
  cleanup: () => tenantry.close(),
});
