import { Hono } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fromHeader, fromHost, fromSubdomain, getTenantClient, memoryRegistry } from '../src/index.js';
import { tenancy } from '../src/middleware/hono.js';
import { testTenantry } from './helpers/env.js';
import type { TestTenantry } from './helpers/env.js';

describe('edges of tenant isolation', () => {
  const envs: TestTenantry[] = [];
  const make = async (...args: Parameters<typeof testTenantry>) => {
    const env = await testTenantry(...args);
    envs.push(env);
    return env;
  };
  afterEach(async () => {
    await Promise.all(envs.splice(0).map((env) => env.close()));
  });

  it("one instance never hands out another instance's database for the same tenant id", async () => {
    const a = await make({ resolvers: [fromHeader()] });
    const b = await make({ resolvers: [fromHeader()] });
    await a.addTenant('acme');
    await b.addTenant('acme');
    await b.tenantry.withTenant('acme', async () => (await getTenantClient()).execute("update marker set tenant = 'acme-in-b'"));
    const seen = await a.tenantry.withTenant('acme', async () => {
      const fromB = await b.tenantry.getTenantClient('acme');
      const fromA = await a.tenantry.getTenantClient('acme');
      return [
        (await fromA.execute('select tenant from marker')).rows[0]?.['tenant'],
        (await fromB.execute('select tenant from marker')).rows[0]?.['tenant'],
      ];
    });
    expect(seen).toEqual(['acme', 'acme-in-b']);
  });

  it('work a request leaves running keeps its client through eviction', async () => {
    const env = await make({ resolvers: [fromHeader()] });
    await env.addTenant('acme');
    const app = new Hono();
    app.use('*', tenancy(env.tenantry));
    let background: Promise<unknown> | undefined;
    app.get('/', async (c) => {
      const db = await getTenantClient();
      background = (async () => {
        await new Promise((r) => setTimeout(r, 5));
        return (await db.execute('select tenant from marker')).rows[0]?.['tenant'];
      })();
      return c.text('accepted', 202);
    });
    expect((await app.request('/', { headers: { 'x-tenant-id': 'acme' } })).status).toBe(202);
    env.tenantry.invalidateCache('acme');
    expect(await background).toBe('acme');
  });

  it("a domain moved to another tenant follows the move once the new owner's record is fresh", async () => {
    const env = await make({ resolvers: [fromHost()] });
    await env.addTenant('alpha', { domains: ['shop.example.org'] });
    await env.addTenant('beta');
    const ask = () => env.tenantry.resolveTenant(new Request('http://shop.example.org/'));
    expect((await ask()).tenantId).toBe('alpha');
    await env.registry.put({ id: 'alpha', domains: [] });
    await env.registry.put({ id: 'beta', domains: ['shop.example.org'] });
    env.tenantry.invalidateCache('beta'); // only the new owner: the old one's cached claim lingers
    await env.tenantry.resolveTenant({ tenantId: 'beta' }); // beta's fresh record claims the domain
    expect((await ask()).tenantId).toBe('beta');
  });

  it('a throwing event listener is reported and does not break requests', async () => {
    const env = await make({ resolvers: [fromHeader()] });
    await env.addTenant('acme');
    const report = vi.spyOn(console, 'error').mockImplementation(() => {});
    env.tenantry.on('tenant:resolved', () => {
      throw new Error('listener bug');
    });
    const res = await env.tenantry.handle(new Request('http://x/', { headers: { 'x-tenant-id': 'acme' } }), async () => new Response('ok'));
    expect(res.status).toBe(200);
    expect(report).toHaveBeenCalledWith(expect.stringContaining('tenant:resolved'), expect.any(Error));
    report.mockRestore();
  });

  it('a client taken outside a scope is refused once its tenant is suspended, and follows a moved database', async () => {
    const env = await make({ resolvers: [fromHeader()] });
    await env.addTenant('acme');
    await env.addTenant('acme-copy');
    const db = await env.tenantry.getTenantClient('acme');
    expect((await db.execute('select tenant from marker')).rows[0]?.['tenant']).toBe('acme');

    const copyUrl = (await env.tenantry.resolveTenant({ tenantId: 'acme-copy' })).tenantDbUrl;
    await env.registry.put({ id: 'acme', db: { url: copyUrl } });
    env.tenantry.invalidateCache('acme');
    await env.tenantry.resolveTenant({ tenantId: 'acme' }); // the cache learns the new record
    expect((await db.execute('select tenant from marker')).rows[0]?.['tenant']).toBe('acme-copy');

    await env.registry.put({ id: 'acme', status: 'suspended' });
    env.tenantry.invalidateCache('acme');
    await env.tenantry.resolveTenant({ tenantId: 'acme' }).catch(() => undefined);
    await expect(db.execute('select 1')).rejects.toMatchObject({ code: 'TENANT_SUSPENDED' });
  });

  it('finds the host in the URL when a request carries no Host header (Hono)', async () => {
    const env = await make({ resolvers: [fromSubdomain({ baseDomains: ['example.com'] })], registry: memoryRegistry() });
    await env.addTenant('acme');
    const app = new Hono();
    app.use('*', tenancy(env.tenantry));
    app.get('/', (c) => c.text(c.var.tenant.tenantId));
    const res = await app.request('http://acme.example.com/');
    expect(await res.text()).toBe('acme');
  });
});

describe('the client a request gets', () => {
  it('survives a handler calling close() on it: other requests of the tenant keep working', async () => {
    const env = await testTenantry({ resolvers: [fromHeader()] });
    await env.addTenant('acme');
    await env.tenantry.withTenant('acme', async () => (await getTenantClient()).close());
    const marker = await env.tenantry.withTenant('acme', async () => (await (await getTenantClient()).execute('select tenant from marker')).rows[0]?.['tenant']);
    expect(marker).toBe('acme');
    await env.close();
  });
});
