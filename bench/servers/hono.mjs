/**
 * Hono bench server (`node bench/servers/hono.mjs <variant>`), started by bench/run.ts.
 * Every variant serves `GET /notes` with the same small JSON.
 *
 *   bare            no tenancy
 *   tenancy-header  tenancy(fromHeader()); the handler awaits getTenantClient()
 *   tenancy-rate    tenancy-header, with plans { free: { apiRateLimit: 1e9 }, pro: {}, enterprise: {} }: every
 *                   request passes the rate step (memory quota store); default quota options, so no
 *                   RateLimit headers on allowed responses
 *   tenancy-rate-headers  tenancy-rate with quotas: { headers: true }: RateLimit headers on every
 *                   response too (diagnostic: the cost of the headers)
 *   tenancy-subdomain tenancy(fromSubdomain({ baseDomains: [BENCH_BASE_DOMAIN] })); same handler
 *   tenancy-jwt     tenancy(fromJwt({ secret, HS256, issuer, audience })); same handler
 *   hono-jwt        hono/jwt (HS256, iss, aud), no tenancy; the handler answers at once
 *   context-storage hono/context-storage (Hono's own AsyncLocalStorage middleware), no tenancy;
 *                   the handler reads getContext(): the price of any AsyncLocalStorage on Node 20
 *   bare-query      no tenancy; one client opened at start runs `select 1` per request
 *   tenancy-query   tenancy(fromHeader()); getTenantClient() then `select 1`
 */
import { createAdaptorServer } from '@hono/node-server';
import { createClient } from '@libsql/client';
import { Hono } from 'hono';
import { contextStorage, getContext } from 'hono/context-storage';
import { jwt } from 'hono/jwt';
import { createTenantry, fromHeader, fromJwt, fromSubdomain, getTenantClient, memoryRegistry } from '../../dist/index.js';
import { tenancy } from '../../dist/hono.js';
import { NOTES, dataDir, listenOn, run, settings } from './harness.mjs';

const { variant, jwtSecret, jwtIssuer, jwtAudience, baseDomain } = settings;
/** Every request stays far below this limit, so each passes the rate step (kept equal to RATE_PLANS in bench/quota.ts). */
const RATE_PLANS = { free: { apiRateLimit: 1_000_000_000 }, pro: {}, enterprise: {} };
const folder = dataDir();
const app = new Hono();
let cleanup;

function makeTenantry(resolvers, plans, quotas) {
  const tenantry = createTenantry({
    resolvers,
    registry: memoryRegistry([{ id: 'acme' }]),
    databases: { urlTemplate: `file:${folder}/{tenant}.db` },
    ...(plans === undefined ? {} : { plans }),
    ...(quotas === undefined ? {} : { quotas }),
  });
  cleanup = () => tenantry.close();
  return tenantry;
}

switch (variant) {
  case 'bare':
    app.get('/notes', async (c) => c.json(NOTES));
    break;
  case 'tenancy-header':
    app.use('*', tenancy(makeTenantry([fromHeader()])));
    app.get('/notes', async (c) => {
      await getTenantClient();
      return c.json(NOTES);
    });
    break;
  case 'tenancy-rate':
  case 'tenancy-rate-headers':
    // Kept equal to RATE_PLANS in bench/quota.ts. Tenant acme is on the default plan, free.
    app.use('*', tenancy(makeTenantry([fromHeader()], RATE_PLANS, variant === 'tenancy-rate-headers' ? { headers: true } : undefined)));
    app.get('/notes', async (c) => {
      await getTenantClient();
      return c.json(NOTES);
    });
    break;
  case 'tenancy-subdomain':
    app.use('*', tenancy(makeTenantry([fromSubdomain({ baseDomains: [baseDomain] })])));
    app.get('/notes', async (c) => {
      await getTenantClient();
      return c.json(NOTES);
    });
    break;
  case 'tenancy-jwt':
    app.use('*', tenancy(makeTenantry([fromJwt({ secret: jwtSecret, algorithms: ['HS256'], issuer: jwtIssuer, audience: jwtAudience })])));
    app.get('/notes', async (c) => {
      await getTenantClient();
      return c.json(NOTES);
    });
    break;
  case 'hono-jwt':
    app.use('*', jwt({ secret: jwtSecret, alg: 'HS256', verification: { iss: jwtIssuer, aud: jwtAudience } }));
    app.get('/notes', async (c) => c.json(NOTES));
    break;
  case 'context-storage':
    app.use('*', contextStorage());
    app.get('/notes', async (c) => {
      getContext();
      return c.json(NOTES);
    });
    break;
  case 'bare-query': {
    const client = createClient({ url: `file:${folder}/acme.db` });
    cleanup = async () => client.close();
    app.get('/notes', async (c) => {
      await client.execute('select 1');
      return c.json(NOTES);
    });
    break;
  }
  case 'tenancy-query':
    app.use('*', tenancy(makeTenantry([fromHeader()])));
    app.get('/notes', async (c) => {
      const db = await getTenantClient();
      await db.execute('select 1');
      return c.json(NOTES);
    });
    break;
  default:
    throw new Error(`hono bench server: unknown variant "${variant}"`);
}

await run({
  folder,
  listen: () => listenOn(createAdaptorServer({ fetch: app.fetch })),
  cleanup: () => cleanup?.(),
});
