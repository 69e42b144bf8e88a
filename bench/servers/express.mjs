/**
 * Express bench server (`node bench/servers/express.mjs <variant>`), started by bench/run.ts.
 * Every variant serves `GET /notes` with the same small JSON.
 *
 *   bare               no tenancy
 *   tenancy-header     tenancy(fromHeader()); the handler awaits getTenantClient()
 *   tenancy-subdomain  tenancy(fromSubdomain({ baseDomains: [BENCH_BASE_DOMAIN] })); same handler
 *   tenancy-jwt        tenancy(fromJwt({ secret, HS256, issuer, audience })); same handler
 *   context-storage    no tenancy; a middleware runs the rest in an AsyncLocalStorage (storage.run) and the
 *                      handler reads getStore(): the floor of any request context on Node 20
 */
import { createServer } from 'node:http';
import { AsyncLocalStorage } from 'node:async_hooks';
import express from 'express';
import { createTenantry, fromHeader, fromJwt, fromSubdomain, getTenantClient, memoryRegistry } from '../../dist/index.js';
import { tenancy } from '../../dist/express.js';
import { NOTES, dataDir, listenOn, run, settings } from './harness.mjs';

const { variant, jwtSecret, jwtIssuer, jwtAudience, baseDomain } = settings;
const folder = dataDir();
const app = express();
let cleanup;

/** The resolver of each tenancy variant. */
const RESOLVERS = {
  'tenancy-header': () => fromHeader(),
  'tenancy-subdomain': () => fromSubdomain({ baseDomains: [baseDomain] }),
  'tenancy-jwt': () => fromJwt({ secret: jwtSecret, algorithms: ['HS256'], issuer: jwtIssuer, audience: jwtAudience }),
};

if (variant === 'bare') {
  app.get('/notes', async (_req, res) => {
    res.json(NOTES);
  });
} else if (variant === 'context-storage') {
  // AsyncLocalStorage alone, no tenancy: what any Express middleware that keeps a request
  // context pays on Node 20 (the storage's async hooks run for every async resource).
  const storage = new AsyncLocalStorage();
  app.use((req, _res, next) => storage.run(req, next));
  app.get('/notes', async (_req, res) => {
    storage.getStore();
    res.json(NOTES);
  });
} else if (Object.hasOwn(RESOLVERS, variant)) {
  const tenantry = createTenantry({
    resolvers: [RESOLVERS[variant]()],
    registry: memoryRegistry([{ id: 'acme' }]),
    databases: { urlTemplate: `file:${folder}/{tenant}.db` },
  });
  cleanup = () => tenantry.close();
  app.use(tenancy(tenantry));
  app.get('/notes', async (_req, res) => {
    await getTenantClient();
    res.json(NOTES);
  });
} else {
  throw new Error(`express bench server: unknown variant "${variant}"`);
}

await run({
  folder,
  listen: () => listenOn(createServer(app)),
  cleanup: () => cleanup?.(),
});
