import { afterEach, describe, expect, it } from 'vitest';
import { QuotaEnforcementResultSchema, TenantUsageSchema, fromHeader, getTenantClient, memoryQuotaStore } from '../src/index.js';
import type { QuotaStore, TenantryOptions } from '../src/index.js';
import { ADAPTERS, harness } from './helpers/adapters.js';
import { testTenantry } from './helpers/env.js';
import type { TestTenantry } from './helpers/env.js';

const plans = {
  free: { apiRateLimit: 3, maxRecordsPerObject: 5, maxObjects: 3, maxStorageBytes: 10_000_000, maxDeploymentsPerDay: 2 },
  pro: { apiRateLimit: 600 },
  enterprise: {},
};

describe('quotas', () => {
  let env: TestTenantry;
  let now = Date.UTC(2026, 11, 1, 10, 0, 30);
  const clock = () => now;
  const make = async (options: TenantryOptions = {}) => {
    env = await testTenantry({ resolvers: [fromHeader()], plans, now: clock, ...options });
    return env;
  };
  afterEach(() => env.close());

  describe.each(ADAPTERS)('the rate quota through %s', (kind) => {
    it('admits apiRateLimit requests a minute with RateLimit headers, then answers 429 without running the handler', async () => {
      await make({ quotas: { headers: true } });
      await env.addTenant('acme');
      const app = await harness(kind, env.tenantry);
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } }));
      expect(answers.slice(0, 3).map((a) => a.status)).toEqual([200, 200, 200]);
      expect(answers[0]!.headers.get('ratelimit-policy')).toBe('"free";q=3;w=60');
      expect(answers[0]!.headers.get('ratelimit')).toBe('"free";r=2;t=30');
      expect(answers[2]!.headers.get('ratelimit')).toBe('"free";r=0;t=30');
      const limited = answers[3]!;
      expect(limited.status).toBe(429);
      expect(limited.body.code).toBe('RATE_LIMITED');
      expect(limited.headers.get('ratelimit')).toMatch(/^"free";r=0;t=\d+$/);
      expect(limited.headers.get('ratelimit-policy')).toBe('"free";q=3;w=60');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(app.handlerRuns).toBe(3);
      await app.close();
    });
  });

  it('sends RateLimit headers only on the 429 by default', async () => {
    await make();
    await env.addTenant('acme');
    const app = await harness('hono', env.tenantry);
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } }));
    expect(answers.slice(0, 3).map((a) => a.headers.get('ratelimit'))).toEqual([null, null, null]);
    expect(answers[3]!.status).toBe(429);
    expect(answers[3]!.headers.get('ratelimit')).toMatch(/^"free";r=0;t=\d+$/);
    expect(answers[3]!.headers.get('ratelimit-policy')).toBe('"free";q=3;w=60');
  });

  it('lets a record override its plan (enterprise custom limits) and shows the result in the context', async () => {
    await make();
    await env.addTenant('bigco', { plan: 'enterprise', quotas: { apiRateLimit: 1000, maxObjects: 500 } });
    const ctx = await env.tenantry.resolveTenant({ tenantId: 'bigco' });
    expect(ctx.tenantQuotas).toEqual({ apiRateLimit: 1000, maxObjects: 500 });
  });

  it('enforces maxRecordsPerObject against the real table and returns protocol-shaped results', async () => {
    await make();
    await env.addTenant('acme');
    await env.tenantry.withTenant('acme', async () => {
      const db = await getTenantClient();
      await db.execute('create table notes (text text)');
      for (let i = 0; i < 4; i++) await db.execute("insert into notes values ('x')");
      const ok = await env.tenantry.quota.check('maxRecordsPerObject', { object: 'notes', add: 1 });
      expect(QuotaEnforcementResultSchema.parse(ok)).toMatchObject({ allowed: true, currentUsage: 4, limit: 5 });
      await env.tenantry.quota.enforce('maxRecordsPerObject', { object: 'notes', add: 1 });
      const full = await env.tenantry.quota.check('maxRecordsPerObject', { object: 'notes', add: 1 });
      expect(QuotaEnforcementResultSchema.parse(full)).toMatchObject({ allowed: false, exceededQuota: 'maxRecordsPerObject', currentUsage: 5, limit: 5 });
      await expect(env.tenantry.quota.enforce('maxRecordsPerObject', { object: 'notes' })).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED', status: 403 });
    });
  });

  it('admits exactly the free units when 200 concurrent adds arrive at limit − 10', async () => {
    await make({ plans: { ...plans, free: { maxRecordsPerObject: 100 } } });
    await env.addTenant('acme');
    const admitted = await env.tenantry.withTenant('acme', async () => {
      const db = await getTenantClient();
      await db.execute('create table items (n integer)');
      await db.batch(Array.from({ length: 90 }, (_, i) => ({ sql: 'insert into items values (?)', args: [i] })), 'write');
      const outcomes = await Promise.allSettled(
        Array.from({ length: 200 }, () => env.tenantry.quota.enforce('maxRecordsPerObject', { object: 'items', add: 1 })),
      );
      return outcomes.filter((o) => o.status === 'fulfilled').length;
    });
    expect(admitted).toBe(10);
  });

  it('measures every allocation gauge in the tenant database, with identifiers quoted', async () => {
    await make({
      plans: { ...plans, free: { maxObjects: 3, maxStorageBytes: 10_000_000, maxStorage: 10, maxUsers: 2, maxRecordsPerObject: 5 } },
      quotas: { users: () => 2 },
    });
    await env.addTenant('acme'); // has the marker table (1 object)
    await env.tenantry.withTenant('acme', async () => {
      const db = await getTenantClient();
      await db.execute('create table "weird ""name""; drop table marker; --" (a)');
      await db.execute('insert into "weird ""name""; drop table marker; --" values (1), (2)');
      const q = env.tenantry.quota;
      expect(await q.check('maxObjects')).toMatchObject({ allowed: true, currentUsage: 2 });
      expect(await q.check('maxRecordsPerObject', { object: 'weird "name"; drop table marker; --' })).toMatchObject({ currentUsage: 2 });
      expect(await q.check('maxRecordsPerObject', { object: 'no_such_table' })).toMatchObject({ currentUsage: 0 });
      const bytes = (await db.execute('select page_count * page_size as b from pragma_page_count(), pragma_page_size()')).rows[0]?.['b'];
      expect(await q.check('maxStorageBytes')).toMatchObject({ allowed: true, currentUsage: bytes });
      expect(await q.check('maxStorage')).toMatchObject({ currentUsage: Math.ceil(Number(bytes) / 1e6) });
      expect(await q.check('maxUsers', { add: 1 })).toMatchObject({ allowed: false, currentUsage: 2, limit: 2 });
      expect((await db.execute('select count(*) as n from marker')).rows[0]?.['n']).toBe(1);
    });
  });

  it('counts deployments per UTC day', async () => {
    now = Date.UTC(2026, 11, 1, 23, 59, 0);
    await make();
    await env.addTenant('acme');
    await env.tenantry.withTenant('acme', async () => {
      await env.tenantry.quota.consume('maxDeploymentsPerDay');
      await env.tenantry.quota.consume('maxDeploymentsPerDay');
      await expect(env.tenantry.quota.consume('maxDeploymentsPerDay')).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED' });
      now = Date.UTC(2026, 11, 2, 0, 0, 1);
      await expect(env.tenantry.quota.consume('maxDeploymentsPerDay')).resolves.toMatchObject({ allowed: true });
    });
  });

  it('reports the protocol TenantUsage, inside a scope and by tenant id', async () => {
    await make({ quotas: { users: () => 7 } });
    await env.addTenant('acme');
    await env.tenantry.withTenant('acme', () => env.tenantry.quota.consume('maxDeploymentsPerDay'));
    const app = await harness('fetch', env.tenantry);
    await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } });
    const usage = await env.tenantry.quota.usage('acme');
    expect(TenantUsageSchema.parse(usage)).toMatchObject({
      currentObjectCount: 1,
      currentRecordCount: 1,
      deploymentsToday: 1,
      currentUsers: 7,
      apiRequestsThisMinute: 1,
    });
    expect(usage.currentStorageBytes).toBeGreaterThan(0);
    await expect(env.tenantry.quota.usage()).rejects.toMatchObject({ code: 'NO_TENANT_CONTEXT' });
  });

  it('refuses bad calls with TypeErrors', async () => {
    await make();
    await env.addTenant('acme');
    await env.tenantry.withTenant('acme', async () => {
      const q = env.tenantry.quota;
      await expect(q.check('maxWidgets' as never)).rejects.toThrow(TypeError);
      await expect(q.enforce('apiRateLimit', { cost: -1 })).rejects.toThrow(TypeError);
      await expect(q.enforce('apiRateLimit', { cost: 4 })).rejects.toThrow(/larger than the apiRateLimit limit/);
      await expect(q.check('maxRecordsPerObject')).rejects.toThrow(TypeError);
      await expect(q.consume('maxObjects' as never)).rejects.toThrow(TypeError);
    });
  });
});

describe('quota middleware', () => {
  describe.each(['hono', 'express', 'fastify'] as const)('in %s', (kind) => {
    it('guards the listed methods only, and answers QUOTA_EXCEEDED as problem+json', async () => {
      const env = await testTenantry({ resolvers: [fromHeader()], plans: { free: { maxRecordsPerObject: 1 }, pro: {}, enterprise: {} } });
      await env.addTenant('acme'); // marker has 1 row
      const { Hono } = await import('hono');
      const express = (await import('express')).default;
      const { createServer } = await import('node:http');
      let runs = 0;
      let request: (method: string) => Promise<{ status: number; body: any }>;
      let stop = async () => {};
      if (kind === 'hono') {
        const { tenancy, quota } = await import('../src/middleware/hono.js');
        const app = new Hono();
        app.use('*', tenancy(env.tenantry));
        app.all('/marker', quota('maxRecordsPerObject', { object: 'marker' }), (c) => {
          runs++;
          return c.json({ ok: true });
        });
        request = async (method) => {
          const res = await app.request('/marker', { method, headers: { 'x-tenant-id': 'acme' } });
          return { status: res.status, body: await res.json() };
        };
      } else if (kind === 'fastify') {
        const { tenancy, quota } = await import('../src/middleware/fastify.js');
        const app = (await import('fastify')).default();
        await app.register(tenancy(env.tenantry));
        app.all('/marker', { preHandler: quota('maxRecordsPerObject', { object: 'marker' }) }, async () => {
          runs++;
          return { ok: true };
        });
        await app.listen({ port: 0, host: '127.0.0.1' });
        const port = (app.server.address() as { port: number }).port;
        request = async (method) => {
          const res = await fetch(`http://127.0.0.1:${port}/marker`, { method, headers: { 'x-tenant-id': 'acme' } });
          return { status: res.status, body: await res.json() };
        };
        stop = () => app.close();
      } else {
        const { tenancy, quota } = await import('../src/middleware/express.js');
        const app = express();
        app.use(tenancy(env.tenantry));
        app.all('/marker', quota('maxRecordsPerObject', { object: 'marker' }), (_req, res) => {
          runs++;
          res.json({ ok: true });
        });
        const server = createServer(app);
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        const port = (server.address() as { port: number }).port;
        request = async (method) => {
          const res = await fetch(`http://127.0.0.1:${port}/marker`, { method, headers: { 'x-tenant-id': 'acme' } });
          return { status: res.status, body: await res.json() };
        };
        stop = () => new Promise((r) => server.close(() => r()));
      }
      expect((await request('GET')).status).toBe(200);
      const refused = await request('POST');
      expect(refused.status).toBe(403);
      expect(refused.body.code).toBe('QUOTA_EXCEEDED');
      expect(runs).toBe(1);
      await stop();
      await env.close();
    });
  });
});

describe('when the quota store fails', () => {
  const broken = (behaviour: 'throw' | 'hang'): QuotaStore => ({
    name: 'broken',
    slidingWindow: () => (behaviour === 'throw' ? Promise.reject(new Error('connection refused')) : new Promise(() => {})),
    fixedWindow: () => (behaviour === 'throw' ? Promise.reject(new Error('connection refused')) : new Promise(() => {})),
  });

  it.each(['throw', 'hang'] as const)('rate fails open by default, with the in-memory insurance limit (store that %ss)', async (behaviour) => {
    const env = await testTenantry({ resolvers: [fromHeader()], plans, quotaStore: broken(behaviour), quotas: { timeoutMs: 20 } });
    await env.addTenant('acme');
    const errors: string[] = [];
    env.tenantry.on('quota:store-error', ({ message }) => errors.push(message));
    const app = await harness('hono', env.tenantry);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(errors.length).toBe(4);
    expect(env.tenantry.stats().quota.storeFailures).toBe(4);
    await env.close();
  });

  it('rate fails closed when configured: 503 STORE_UNAVAILABLE, never 429', async () => {
    const env = await testTenantry({ resolvers: [fromHeader()], plans, quotaStore: broken('throw'), quotas: { failMode: { apiRateLimit: 'closed' } } });
    await env.addTenant('acme');
    const app = await harness('express', env.tenantry);
    const res = await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } });
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('STORE_UNAVAILABLE');
    await app.close();
    await env.close();
  });

  it('rate fails open without insurance when asked: allowed, reason store-unavailable', async () => {
    const env = await testTenantry({ resolvers: [fromHeader()], plans, quotaStore: broken('throw'), quotas: { insurance: false } });
    await env.addTenant('acme');
    await env.tenantry.withTenant('acme', async () => {
      const result = await env.tenantry.quota.enforce('apiRateLimit');
      expect(result).toMatchObject({ allowed: true, reason: 'store-unavailable' });
    });
    await env.close();
  });

  it('allocation quotas fail closed by default, and open when configured', async () => {
    const failingUsers = () => {
      throw new Error('user service down');
    };
    const closed = await testTenantry({ resolvers: [fromHeader()], plans: { free: { maxUsers: 5 }, pro: {}, enterprise: {} }, quotas: { users: failingUsers } });
    await closed.addTenant('acme');
    await closed.tenantry.withTenant('acme', async () => {
      expect(await closed.tenantry.quota.check('maxUsers')).toMatchObject({ allowed: false, reason: 'store-unavailable' });
      await expect(closed.tenantry.quota.enforce('maxUsers')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503 });
    });
    await closed.close();
    const open = await testTenantry({
      resolvers: [fromHeader()],
      plans: { free: { maxUsers: 5 }, pro: {}, enterprise: {} },
      quotas: { users: failingUsers, failMode: { maxUsers: 'open' } },
    });
    await open.addTenant('acme');
    await open.tenantry.withTenant('acme', async () => {
      expect(await open.tenantry.quota.enforce('maxUsers')).toMatchObject({ allowed: true, reason: 'store-unavailable' });
    });
    await open.close();
  });

  it('a memory store answers synchronously', () => {
    const store = memoryQuotaStore();
    const decision = store.slidingWindow({ key: 'k', limit: 1, windowMs: 1000, cost: 1 });
    expect(decision).not.toBeInstanceOf(Promise);
  });
});
