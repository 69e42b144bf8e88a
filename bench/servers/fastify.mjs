/**
 * Fastify bench server (`node bench/servers/fastify.mjs <variant>`), started by bench/run.ts.
 * Every variant serves `GET /notes` with the same small JSON (Fastify's own serializer).
 *
 *   bare               no tenancy
 *   tenancy-header     tenancy(fromHeader()); the handler awaits getTenantClient()
 *   tenancy-subdomain  tenancy(fromSubdomain({ baseDomains: [BENCH_BASE_DOMAIN] })); same handler
 *   tenancy-jwt        tenancy(fromJwt({ secret, HS256, issuer, audience })); same handler
 */
import Fastify from 'fastify';
import { createTenantry, fromHeader, fromJwt, fromSubdomain, getTenantClient, memoryRegistry } from '../../dist/index.js';
import { tenancy } from '../../dist/fastify.js';
import { NOTES, dataDir, run, settings } from './harness.mjs';

const { variant, jwtSecret, jwtIssuer, jwtAudience, baseDomain } = settings;
const folder = dataDir();
const app = Fastify({ logger: false });
let cleanup;

/** The resolver of each tenancy variant. */
const RESOLVERS = {
  'tenancy-header': () => fromHeader(),
  'tenancy-subdomain': () => fromSubdomain({ baseDomains: [baseDomain] }),
  'tenancy-jwt': () => fromJwt({ secret: jwtSecret, algorithms: ['HS256'], issuer: jwtIssuer, audience: jwtAudience }),
};

if (variant === 'bare') {
  app.get('/notes', async () => NOTES);
} else if (Object.hasOwn(RESOLVERS, variant)) {
  const tenantry = createTenantry({
    resolvers: [RESOLVERS[variant]()],
    registry: memoryRegistry([{ id: 'acme' }]),
    databases: { urlTemplate: `file:${folder}/{tenant}.db` },
  });
  cleanup = () => tenantry.close();
  await app.register(tenancy(tenantry));
  app.get('/notes', async () => {
    await getTenantClient();
    return NOTES;
  });
} else {
  throw new Error(`fastify bench server: unknown variant "${variant}"`);
}

await run({
  folder,
  listen: async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { port: app.server.address().port, close: () => app.close() };
  },
  cleanup: () => cleanup?.(),
});
