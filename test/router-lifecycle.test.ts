import { afterEach, describe, expect, it } from 'vitest';
import { fromHeader, getTenant, getTenantClient } from '../src/index.js';
import type { TenantryEvents } from '../src/index.js';
import { harness } from './helpers/adapters.js';
import { testTenantry } from './helpers/env.js';
import type { TestTenantry } from './helpers/env.js';

describe('the tenant router (ITenantRouter)', () => {
  let env: TestTenantry;
  afterEach(() => env.close());

  it('resolveTenant accepts a fetch Request, a tenant id, and answers with the runtime context', async () => {
    env = await testTenantry({ resolvers: [fromHeader()], plans: { free: {}, pro: { apiRateLimit: 600, maxObjects: 10 }, enterprise: {} } });
    await env.addTenant('acme', { plan: 'pro', quotas: { maxObjects: 50 }, region: 'eu-west' });
    const byRequest = await env.tenantry.resolveTenant(new Request('http://x/', { headers: { 'x-tenant-id': 'acme' } }));
    expect(byRequest).toMatchObject({
      tenantId: 'acme',
      tenantPlan: 'pro',
      tenantRegion: 'eu-west',
      tenantQuotas: { apiRateLimit: 600, maxObjects: 50 },
      source: 'header',
    });
    expect(byRequest.tenantDbUrl).toMatch(/acme\.db$/);
    expect(byRequest.instanceId).toMatch(/^[0-9a-f-]{36}$/);
    const byId = await env.tenantry.resolveTenant({ tenantId: 'acme' });
    expect(byId.tenantId).toBe('acme');
    expect(byId.instanceId).toBe(byRequest.instanceId);
    await expect(env.tenantry.resolveTenant({ tenantId: 'ghost' })).rejects.toMatchObject({ code: 'TENANT_NOT_FOUND' });
    await expect(env.tenantry.resolveTenant({ tenantId: '../etc' })).rejects.toMatchObject({ code: 'INVALID_TENANT_ID' });
  });

  it('getTenantClient(id) works outside a scope and survives invalidation', async () => {
    env = await testTenantry({ resolvers: [fromHeader()] });
    await env.addTenant('acme');
    const db = await env.tenantry.getTenantClient('acme');
    expect((await db.execute('select tenant from marker')).rows[0]?.['tenant']).toBe('acme');
    env.tenantry.invalidateCache('acme');
    expect((await db.execute('select tenant from marker')).rows[0]?.['tenant']).toBe('acme');
  });

  it('invalidateCache makes a changed record visible at once', async () => {
    env = await testTenantry({ resolvers: [fromHeader()] });
    await env.addTenant('acme');
    const app = await harness('hono', env.tenantry);
    expect((await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } })).status).toBe(200);
    await env.registry.put({ id: 'acme', status: 'suspended' });
    // still cached
    expect((await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } })).status).toBe(200);
    env.tenantry.invalidateCache('acme');
    expect((await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } })).body.code).toBe('TENANT_SUSPENDED');
  });

  it('emits events and counts cache and pool figures', async () => {
    env = await testTenantry({ resolvers: [fromHeader()] });
    await env.addTenant('acme');
    const seen: { event: string; payload: unknown }[] = [];
    const events: (keyof TenantryEvents)[] = ['tenant:resolved', 'tenant:rejected', 'pool:open', 'pool:evict'];
    const offs = events.map((event) => env.tenantry.on(event, (payload) => seen.push({ event, payload })));
    env.tenantry.invalidateCache('acme');
    const app = await harness('hono', env.tenantry);
    await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } });
    await app.request('/notes', { headers: { 'x-tenant-id': 'nobody' } });
    env.tenantry.invalidateCache('acme');
    offs.forEach((off) => off());
    const count = seen.length;
    await app.request('/notes', { headers: { 'x-tenant-id': 'nobody' } });
    expect(seen.length).toBe(count);
    expect(new Set(seen.map((s) => s.event))).toEqual(new Set(events));
    expect(seen.find((s) => s.event === 'tenant:rejected')?.payload).toMatchObject({ code: 'TENANT_NOT_FOUND', status: 404 });
    expect(seen.find((s) => s.event === 'tenant:resolved')?.payload).toMatchObject({ tenantId: 'acme', source: 'header' });
    const stats = env.tenantry.stats();
    expect(stats.pool).toMatchObject({ size: expect.any(Number), hits: expect.any(Number), misses: expect.any(Number), opens: expect.any(Number), evictions: expect.any(Number) });
    expect(stats.registry).toMatchObject({ hits: expect.any(Number), misses: expect.any(Number) });
  });

  it('withTenant refuses unknown, invalid and unavailable tenants with coded errors', async () => {
    env = await testTenantry({ resolvers: [fromHeader()] });
    await env.addTenant('baking', { status: 'provisioning' });
    await expect(env.tenantry.withTenant('ghost', () => 1)).rejects.toMatchObject({ code: 'TENANT_NOT_FOUND' });
    await expect(env.tenantry.withTenant('Bad Id', () => 1)).rejects.toMatchObject({ code: 'INVALID_TENANT_ID' });
    await expect(env.tenantry.withTenant('baking', () => 1)).rejects.toMatchObject({ code: 'TENANT_UNAVAILABLE' });
  });

  it('uses defaultTenant when no resolver finds one', async () => {
    env = await testTenantry({ resolvers: [fromHeader()], defaultTenant: 'acme' });
    await env.addTenant('acme');
    const app = await harness('fetch', env.tenantry);
    expect((await app.request('/notes')).body).toMatchObject({ tenant: 'acme', source: 'default' });
  });

  it('close() lets a running query finish, then refuses new ones with a coded error', async () => {
    env = await testTenantry({ resolvers: [fromHeader()] });
    await env.addTenant('acme');
    const outcome = await env.tenantry.withTenant('acme', async () => {
      const db = await getTenantClient();
      const running = db.execute(
        'with recursive n(i) as (select 1 union all select i + 1 from n where i < 300000) select count(*) as c from n',
      );
      const closing = env.tenantry.close();
      const counted = (await running).rows[0]?.['c'];
      await closing;
      const after = await db.execute('select 1').catch((err: unknown) => err);
      return { counted, after };
    });
    expect(outcome.counted).toBe(300000);
    expect(outcome.after).toMatchObject({ code: 'TENANT_UNAVAILABLE' });
    expect(env.tenantry.stats().pool.size).toBe(0);
    expect(() => getTenant()).toThrow();
  });
;
});
