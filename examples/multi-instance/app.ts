/**
 * The multi-instance example: one Hono app, run by several processes that share a PostgreSQL
 * control plane, a Redis (quota counters and the invalidation bus) and the tenant databases
 * (local files in a shared folder here, standing in for Turso).
 *
 * Every instance serves the tenant API (`/notes`, the tenant named by `x-tenant-id`) and an
 * admin API (`/admin/tenants...`, behind a bearer token) that provisions, suspends, resumes,
 * re-plans and destroys tenants. A change made through one instance reaches every other one over
 * Redis pub/sub within a second.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { resolve } from 'node:path';
import { Hono } from 'hono';
import type { Context, MiddlewareHandler } from 'hono';
import { Redis } from 'ioredis';
import { TenantPlanSchema, createTenantry, fromHeader, getTenant, getTenantClient } from 'tenantry';
import type { Tenantry } from 'tenantry';
import { tenancy, tenantryErrorHandler } from 'tenantry/hono';
import { postgresRegistry } from 'tenantry/postgres';
import type { PostgresRegistry } from 'tenantry/postgres';
import { redisInvalidationBus, redisQuotaStore } from 'tenantry/redis';

/** What every instance of one deployment must agree on. */
export interface DeploymentSettings {
  /** PostgreSQL of the control plane (env `DATABASE_URL`). */
  databaseUrl: string;
  /** Redis of the quota counters and the invalidation bus (env `REDIS_URL`). */
  redisUrl: string;
  /** Schema of the registry tables (env `TENANTRY_SCHEMA`, default `tenantry_example`). */
  schema: string;
  /** Shared folder of the tenant database files, the stand-in for Turso (env `TENANTRY_DATA_DIR`). */
  dataDir: string;
  /** Key that encrypts tenant database tokens in the registry (env `TENANTRY_SECRET_KEY`, 32 bytes base64url). */
  secretKey: string;
  /** Bearer token of the admin API (env `ADMIN_TOKEN`). */
  adminToken: string;
}

/** `DATABASE_URL` when unset: the machine's PostgreSQL. */
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
/** `REDIS_URL` when unset: the machine's Redis. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** `TENANTRY_SCHEMA` when unset. */
export const DEFAULT_SCHEMA = 'tenantry_example';
/** `TENANTRY_DATA_DIR` when unset (relative to the working directory). */
export const DEFAULT_DATA_DIR = '.tenantry/multi-instance';

/**
 * Reads the settings from the environment. The secret key and the admin token have no default:
 * a missing one is an error that says how to make one, never a silent insecure mode.
 */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): DeploymentSettings {
  const required = (name: string): string => {
    const value = env[name];
    if (value === undefined || value === '') {
      throw new TypeError(
        `${name} is not set. Every instance of the deployment needs the same value; make one with\n` +
          `  node -e "console.log(require('node:crypto').randomBytes(32).toString('base64url'))"`,
      );
    }
    return value;
  };
  return {
    databaseUrl: env['DATABASE_URL'] || DEFAULT_DATABASE_URL,
    redisUrl: env['REDIS_URL'] || DEFAULT_REDIS_URL,
    schema: env['TENANTRY_SCHEMA'] || DEFAULT_SCHEMA,
    dataDir: resolve(env['TENANTRY_DATA_DIR'] || DEFAULT_DATA_DIR),
    secretKey: required('TENANTRY_SECRET_KEY'),
    adminToken: required('ADMIN_TOKEN'),
  };
}

/** The pub/sub channel of a deployment: one per control plane, so two deployments sharing a Redis stay apart. */
export function invalidationChannel(settings: Pick<DeploymentSettings, 'schema'>): string {
  return `tenantry:${settings.schema}:invalidate`;
}

/** The control plane of the deployment. `migrate()` it once at deploy, before instances start. */
export function controlPlane(settings: Pick<DeploymentSettings, 'databaseUrl' | 'schema'>): PostgresRegistry {
  return postgresRegistry({ connectionString: settings.databaseUrl, schema: settings.schema });
}

/** One running instance: its tenantry, its Hono app, and `close()` for shutdown. */
export interface Instance {
  name: string;
  tenantry: Tenantry;
  app: Hono;
  /** Closes tenantry (waits for running queries), then the registry pool and Redis. */
  close(): Promise<void>;
}

/**
 * Connects one instance to the deployment's PostgreSQL and Redis and builds its app. Resolves
 * once Redis is connected and the invalidation bus is subscribed.
 */
export async function createInstance(name: string, settings: DeploymentSettings): Promise<Instance> {
  const registry = controlPlane(settings);
  // Fail fast while Redis is down (quota checks fail open for the rate limit, see the README).
  const redis = new Redis(settings.redisUrl, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  redis.on('error', (err: Error) => console.error(`[${name}] redis: ${err.message}`));
  let tenantry: Tenantry | undefined;
  try {
    await redis.connect();
    tenantry = createTenantry({
      registry,
      dataDir: settings.dataDir, // tenant databases: <dataDir>/tenants/<id>.db, shared by every instance
      secretKey: settings.secretKey,
      resolvers: [fromHeader()], // behind a gateway that sets x-tenant-id; use fromJwt() for end users
      quotaStore: redisQuotaStore({ client: redis }),
      invalidation: redisInvalidationBus({ client: redis, channel: invalidationChannel(settings) }),
      // Long on purpose: what makes a change visible everywhere is the bus, not the cache expiring.
      cache: { ttlMs: 60_000 },
      plans: { free: { apiRateLimit: 120 }, pro: { apiRateLimit: 1_200 }, enterprise: {} },
      provisioning: {
        migrations: [{ id: '0001_notes', sql: 'create table notes (id integer primary key, text text not null, instance text not null);' }],
      },
    });
    await tenantry.ready();
  } catch (err) {
    await tenantry?.close();
    await registry.close();
    redis.disconnect();
    throw err;
  }
  const ready = tenantry;
  return {
    name,
    tenantry: ready,
    app: createApp(name, ready, settings.adminToken),
    async close() {
      try {
        await ready.close();
      } finally {
        await registry.close();
        await redis.quit().catch(() => redis.disconnect());
      }
    },
  };
}

/** The Hono app of one instance. */
export function createApp(name: string, tenantry: Tenantry, adminToken: string): Hono {
  const app = new Hono();
  // problem+json for tenantry's errors; a bad admin request (the provisioning API throws a
  // TypeError naming the field) is the caller's mistake, not a crash.
  app.onError(
    tenantryErrorHandler((err, c) => {
      if (err instanceof TypeError && c.req.path.startsWith('/admin/')) return c.json({ error: err.message }, 400);
      console.error(`[${name}]`, err);
      return c.json({ error: 'internal error' }, 500);
    }),
  );
  app.use('*', async (c, next) => {
    await next();
    c.header('x-instance', name);
  });
  app.get('/health', (c) => c.json({ instance: name, ok: true }));

  // --- the admin API: provisioning through any instance
  app.use('/admin/*', adminAuth(adminToken));
  app.post('/admin/tenants', async (c) => {
    const { orgId, plan } = await jsonBody(c);
    if (typeof orgId !== 'string') return c.json({ error: 'orgId must be a string' }, 400);
    const parsedPlan = TenantPlanSchema.optional().safeParse(plan);
    if (!parsedPlan.success) return c.json({ error: `plan must be one of ${TenantPlanSchema.options.join(', ')}` }, 400);
    const result = await tenantry.provisioning.provisionTenant({ orgId, ...(parsedPlan.data === undefined ? {} : { plan: parsedPlan.data }) });
    return c.json(result, result.status === 'active' ? 201 : 500);
  });
  app.get('/admin/tenants/:id', async (c) => c.json(await tenantry.provisioning.getTenantStatus(c.req.param('id'))));
  app.post('/admin/tenants/:id/suspend', async (c) => c.json(await tenantry.provisioning.suspendTenant(c.req.param('id'))));
  app.post('/admin/tenants/:id/resume', async (c) => c.json(await tenantry.provisioning.resumeTenant(c.req.param('id'))));
  app.put('/admin/tenants/:id/plan', async (c) => {
    const plan = TenantPlanSchema.safeParse((await jsonBody(c))['plan']);
    if (!plan.success) return c.json({ error: `plan must be one of ${TenantPlanSchema.options.join(', ')}` }, 400);
    return c.json(await tenantry.provisioning.migrateTenantPlan(c.req.param('id'), plan.data));
  });
  app.delete('/admin/tenants/:id', async (c) => c.json(await tenantry.provisioning.destroyTenant(c.req.param('id'), { immediate: c.req.query('immediate') === 'true' })));

  // --- the tenant API
  app.use('*', tenancy(tenantry, { exclude: ['/health', '/admin/*'] }));
  app.get('/notes', async (c) => {
    const { tenantId, tenantPlan } = getTenant();
    const db = await getTenantClient();
    const { rows } = await db.execute('select id, text, instance from notes order by id');
    return c.json({ instance: name, tenant: tenantId, plan: tenantPlan, notes: rows });
  });
  app.post('/notes', async (c) => {
    const text = (await jsonBody(c))['text'];
    if (typeof text !== 'string' || text.length === 0 || text.length > 1000) return c.json({ error: 'text must be a string of 1 to 1000 characters' }, 400);
    const db = await getTenantClient();
    const result = await db.execute({ sql: 'insert into notes (text, instance) values (?, ?) returning id', args: [text, name] });
    return c.json({ instance: name, id: result.rows[0]?.['id'] }, 201);
  });
  return app;
}

/** `Authorization: Bearer <adminToken>`, compared in constant time. */
function adminAuth(adminToken: string): MiddlewareHandler {
  if (adminToken.length < 16) throw new TypeError('ADMIN_TOKEN must be at least 16 characters');
  const expected = createHash('sha256').update(adminToken).digest();
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const given = createHash('sha256').update(header.startsWith('Bearer ') ? header.slice(7) : '').digest();
    if (!timingSafeEqual(given, expected)) return c.json({ error: 'admin token required' }, 401);
    await next();
  };
}

/** The request's JSON object body, or `{}` when there is none or it is not an object. */
async function jsonBody(c: Context): Promise<Record<string, unknown>> {
  const body: unknown = await c.req.json().catch(() => undefined);
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
}
