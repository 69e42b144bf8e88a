/**
 * The Worker the workerd tests run (bundled by harness.ts the way wrangler bundles a Worker,
 * so `tenantry` resolves through the package's `workerd` export condition to `dist/edge`).
 * Every tenantry instance is created at module load, as Workers users write it.
 *
 * Hosts outside this Worker (`*.turso.test`, `auth.test`, `barrier.test`) are answered by the
 * outbound stub of harness.ts: nothing leaves the machine.
 */
import diagnostics_channel from 'node:diagnostics_channel';
import { Hono } from 'hono';
import {
  TENANTRY_CHANNELS,
  TenantryError,
  createTenantry,
  fromHeader,
  fromJwt,
  fromSubdomain,
  getTenant,
  getTenantClient,
  localPlatform,
  memoryRegistry,
} from 'tenantry';
import type { Tenantry, TenantRecordInput } from 'tenantry';
import { tenancy, tenantryErrorHandler } from 'tenantry/hono';
import { AUDIENCE, GLOBEX_TOKEN, GROUP_TOKEN, ISSUER, JWKS_URL } from './constants.js';


const TENANTS: TenantRecordInput[] = [
  { id: 'acme', plan: 'free' },
  // a record with its own database URL and token wins over the template
  { id: 'globex', plan: 'pro', db: { url: 'https://globex-db.turso.test', authToken: GLOBEX_TOKEN } },
  { id: 'initech', plan: 'free', status: 'suspended' },
  { id: 'umbrella', plan: 'free', status: 'provisioning' },
];
const databases = { urlTemplate: 'libsql://{tenant}-org.turso.test', authToken: GROUP_TOKEN };

const bySubdomain = createTenantry({
  resolvers: [fromSubdomain({ baseDomains: ['app.test'] })],
  registry: memoryRegistry(TENANTS),
  databases,
});
const byHeader = createTenantry({ resolvers: [fromHeader()], registry: memoryRegistry(TENANTS), databases });
const byJwt = createTenantry({
  resolvers: [fromJwt({ jwksUrl: JWKS_URL, issuer: ISSUER, audience: AUDIENCE, claim: 'tenant_id' })],
  registry: memoryRegistry(TENANTS),
  databases,
});
// a token on a tenant subdomain: both must name the same tenant
const byJwtAndSubdomain = createTenantry({
  resolvers: [
    fromJwt({ jwksUrl: JWKS_URL, issuer: ISSUER, audience: AUDIENCE, claim: 'tenant_id' }),
    fromSubdomain({ baseDomains: ['app.test'] }),
  ],
  registry: memoryRegistry(TENANTS),
  databases,
});
const rateLimited = createTenantry({
  resolvers: [fromHeader()],
  registry: memoryRegistry(TENANTS),
  databases,
  plans: { free: { apiRateLimit: 3 }, pro: {}, enterprise: {} },
});

/** What a handler reports about the tenant scope it ran in. */
function whoami(): Response {
  const { tenantId, source, requestId, tenantDbUrl, instanceId, cwd } = getTenant();
  return Response.json({ tenantId, source, requestId, tenantDbUrl, instanceId, cwd });
}

/** One query on the tenant's remote database (the Hrana stub reports what it received). */
async function query(): Promise<Response> {
  const db = await getTenantClient();
  const result = await db.execute({ sql: 'select ? as greeting', args: [`hello ${getTenant().tenantId}`] });
  return Response.json({ tenantId: getTenant().tenantId, columns: result.columns, rows: result.rows.map((row) => ({ ...row })) });
}

/**
 * Holds the request at the barrier (released once every concurrent request arrived, in reverse
 * order), then checks that the scope, and the database the client reaches, are still its own.
 */
async function concurrent(request: Request): Promise<Response> {
  const before = getTenant().tenantId;
  const barrier = await fetch(`https://barrier.test/?tenant=${encodeURIComponent(before)}`);
  await barrier.text();
  const afterBarrier = getTenant().tenantId;
  const db = await getTenantClient();
  const result = await db.execute({ sql: 'select ? as tenant', args: [before] });
  return Response.json({
    asked: request.headers.get('x-tenant-id'),
    before,
    afterBarrier,
    afterQuery: getTenant().tenantId,
    database: result.rows[0]?.['host'],
  });
}

/** Refusals of the Node-only options, as a Worker sees them. */
function refusals(): Response {
  const attempts: Array<[string, () => unknown]> = [
    ['no options', () => createTenantry()],
    ['no urlTemplate', () => createTenantry({ registry: memoryRegistry(), resolvers: [fromHeader()] })],
    ['dataDir', () => createTenantry({ registry: memoryRegistry(), databases, dataDir: './data', resolvers: [fromHeader()] })],
    ['file urlTemplate', () => createTenantry({ registry: memoryRegistry(), databases: { urlTemplate: 'file:./t/{tenant}.db' }, resolvers: [fromHeader()] })],
    ['localPlatform', () => localPlatform({ dir: './tenants' })],
  ];
  return Response.json(
    attempts.map(([name, attempt]) => {
      try {
        attempt();
        return { name, error: null };
      } catch (err) {
        return { name, error: err instanceof Error ? err.name : typeof err, message: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}

/** Messages published on tenantry's diagnostics channels while one refused request ran. */
async function diagnostics(): Promise<Response> {
  const rejected: unknown[] = [];
  const resolveStarts: unknown[] = [];
  const onRejected = (message: unknown) => rejected.push(message);
  const tracing = diagnostics_channel.tracingChannel(TENANTRY_CHANNELS.resolve);
  const ignore = () => undefined;
  const handlers = {
    start: (message: unknown) => void resolveStarts.push({ ...(message as object) }),
    end: ignore,
    asyncStart: ignore,
    asyncEnd: ignore,
    error: ignore,
  };
  diagnostics_channel.subscribe(TENANTRY_CHANNELS.tenantRejected, onRejected);
  tracing.subscribe(handlers);
  try {
    const refused = await byHeader.handle(new Request('https://x.test/', { headers: { 'x-tenant-id': 'nobody' } }), () => whoami());
    const served = await byHeader.handle(new Request('https://x.test/', { headers: { 'x-tenant-id': 'acme' } }), () => whoami());
    return Response.json({ statuses: [refused.status, served.status], rejected, resolveStarts: resolveStarts.length });
  } finally {
    diagnostics_channel.unsubscribe(TENANTRY_CHANNELS.tenantRejected, onRejected);
    tracing.unsubscribe(handlers);
  }
}

const hono = new Hono().basePath('/hono');
hono.use('*', tenancy(byHeader));
hono.get('/whoami', () => whoami());
hono.onError(tenantryErrorHandler());

const instances: Record<string, Tenantry> = { header: byHeader, jwt: byJwt, 'jwt-subdomain': byJwtAndSubdomain, rate: rateLimited };

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const [, section = '', action = 'whoami'] = url.pathname.split('/');
    if (url.hostname.endsWith('.app.test') && section !== 'jwt-subdomain') {
      return bySubdomain.handle(request, () => (section === 'query' ? query() : whoami()));
    }
    switch (section) {
      case 'refusals':
        return refusals();
      case 'diagnostics':
        return diagnostics();
      case 'hono':
        return hono.fetch(request);
      case 'stats':
        return Response.json(byHeader.stats());
    }
    const tenantry = instances[section];
    if (tenantry === undefined) return new Response(`no section ${section}`, { status: 404 });
    return tenantry.handle(request, async (req) => {
      switch (action) {
        case 'query':
          return query();
        case 'concurrent':
          return concurrent(req);
        case 'throw-quota':
          throw new TenantryError('QUOTA_EXCEEDED', 'maxRecordsPerObject of notes is reached');
        default:
          return whoami();
      }
    });
  },
};
