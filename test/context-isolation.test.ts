import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHeader, getTenant, getTenantClient, tryGetTenant } from '../src/index.js';
import { harness } from './helpers/adapters.js';
import type { Harness } from './helpers/adapters.js';
import { testTenantry } from './helpers/env.js';
import type { TestTenantry } from './helpers/env.js';

const TENANTS = Array.from({ length: 100 }, (_, i) => `tenant-${String(i).padStart(3, '0')}`);

describe('context isolation under concurrency', () => {
  let env: TestTenantry;
  let hono: Harness;
  let fetchApp: Harness;

  beforeAll(async () => {
    env = await testTenantry({ resolvers: [fromHeader()], databases: { maxClients: 100 } });
    for (const id of TENANTS) await env.addTenant(id);
    hono = await harness('hono', env.tenantry);
    fetchApp = await harness('fetch', env.tenantry);
  }, 60_000);
  afterAll(async () => {
    await env.close();
  });

  it('10,000 interleaved requests across 100 tenants each see only their own tenant and database', async () => {
    const requests = Array.from({ length: 10_000 }, (_, i) => {
      const tenant = TENANTS[Math.floor(Math.random() * TENANTS.length)]!;
      const app = i % 2 === 0 ? hono : fetchApp;
      return app.request('/notes', { headers: { 'x-tenant-id': tenant } }).then((res) => ({ tenant, res }));
    });
    const results = await Promise.all(requests);
    const wrong = results.filter(({ tenant, res }) => res.status !== 200 || res.body.tenant !== tenant || res.body.markers.length !== 1 || res.body.markers[0] !== tenant);
    expect(wrong).toEqual([]);
    const ids = new Set(results.map(({ res }) => res.body.requestId));
    expect(ids.size).toBe(10_000);
  }, 120_000);

  it('keeps the tenant across timers, promise chains and nested async calls', async () => {
    const seen = await env.tenantry.withTenant('tenant-007', async () => {
      const deep = async (n: number): Promise<string> => (n === 0 ? getTenant().tenantId : deep(n - 1));
      const viaTimer = await new Promise<string>((resolve) => setTimeout(() => resolve(getTenant().tenantId), 1));
      const viaImmediate = await new Promise<string>((resolve) => setImmediate(() => resolve(getTenant().tenantId)));
      const db = await getTenantClient();
      const { rows } = await db.execute('select tenant from marker');
      return [await deep(50), viaTimer, viaImmediate, rows[0]?.['tenant']];
    });
    expect(seen).toEqual(['tenant-007', 'tenant-007', 'tenant-007', 'tenant-007']);
  });

  it('nests scopes: the inner tenant wins inside, the outer one is back after', async () => {
    const order: string[] = [];
    await env.tenantry.withTenant('tenant-001', async () => {
      order.push(getTenant().tenantId);
      await env.tenantry.withTenant('tenant-002', async () => {
        order.push(getTenant().tenantId);
      });
      order.push(getTenant().tenantId);
    });
    expect(order).toEqual(['tenant-001', 'tenant-002', 'tenant-001']);
    expect(tryGetTenant()).toBeUndefined();
  });

  it('throws NO_TENANT_CONTEXT outside a scope', async () => {
    expect(() => getTenant()).toThrow(expect.objectContaining({ code: 'NO_TENANT_CONTEXT' }));
    await expect(getTenantClient()).rejects.toMatchObject({ code: 'NO_TENANT_CONTEXT' });
  });
});
