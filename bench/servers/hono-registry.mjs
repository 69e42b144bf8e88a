/**
 * Hono bench server of bench/registry.ts (`node bench/servers/hono-registry.mjs <variant>`,
 * started by the bench under `fork`). Both variants are the `tenancy-header` server of hono.mjs
 * — `tenancy(fromHeader())`, a handler that awaits `getTenantClient()` and answers the same
 * small JSON — on another registry:
 *
 *   libsql    libsqlRegistry on a file of this process's folder (tenant acme put at start)
 *   postgres  postgresRegistry on BENCH_PG_URL, schema BENCH_PG_SCHEMA (migrated, tenant acme
 *             put by the bench before it starts any server)
 *
 * With the default lookup cache (30 s TTL) both serve a warm tenant from the cache; what differs
 * is the registry behind it (its pool, its timers, a reload every 30 s).
 */
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { pathToFileURL } from 'node:url';
import { createTenantry, fromHeader, getTenantClient, libsqlRegistry } from '../../dist/index.js';
import { tenancy } from '../../dist/hono.js';
import { postgresRegistry } from '../../dist/postgres.js';
import { NOTES, dataDir, listenOn, run, settings } from './harness.mjs';

const folder = dataDir();
const folderUrl = pathToFileURL(folder).href;

let registry;
switch (settings.variant) {
  case 'libsql':
    registry = libsqlRegistry({ url: `${folderUrl}/control-plane.db` });
    await registry.put({ id: 'acme' });
    break;
  case 'postgres': {
    const connectionString = process.env.BENCH_PG_URL;
    const schema = process.env.BENCH_PG_SCHEMA;
    if (!connectionString || !schema) throw new Error('hono-registry bench server: BENCH_PG_URL and BENCH_PG_SCHEMA are required');
    registry = postgresRegistry({ connectionString, schema });
    break;
  }
  default:
    throw new Error(`hono-registry bench server: unknown variant "${settings.variant}"`);
}

const tenantry = createTenantry({
  resolvers: [fromHeader()],
  registry,
  databases: { urlTemplate: `${folderUrl}/{tenant}.db` },
});
const app = new Hono();
app.use('*', tenancy(tenantry));
app.get('/notes', async (c) => {
  await getTenantClient();
  return c.json(NOTES);
});

await run({
  folder,
  listen: () => listenOn(createAdaptorServer({ fetch: app.fetch })),
  cleanup: async () => {
    await tenantry.close();
    await registry.close(); // a registry passed in stays open after tenantry.close()
  },
});
