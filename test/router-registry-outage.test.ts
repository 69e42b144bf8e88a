import { afterEach, describe, expect, it } from 'vitest';
import { fromHeader, memoryRegistry } from '../src/index.js';
import type { TenantRegistry } from '../src/index.js';
import { harness } from './helpers/adapters.js';
import { testTenantry } from './helpers/env.js';
import type { TestTenantry } from './helpers/env.js';

describe('a registry outage', () => {
  let env: TestTenantry;
  afterEach(() => env.close());

  it('serves cached records while stale-if-error allows, then answers 503, then recovers', async () => {
    let now = 1_000_000;
    let down = false;
    const inner = memoryRegistry();
    const flaky: TenantRegistry = {
      get: (id) => (down ? Promise.reject(new Error('connection refused')) : inner.get(id)),
      findBySlug: (s) => (down ? Promise.reject(new Error('connection refused')) : inner.findBySlug(s)),
      findByDomain: (d) => (down ? Promise.reject(new Error('connection refused')) : inner.findByDomain(d)),
      list: (f) => inner.list(f),
      put: (r) => inner.put(r),
      delete: (id) => inner.delete(id),
    };
    env = await testTenantry({
      registry: flaky,
      resolvers: [fromHeader()],
      now: () => now,
      cache: { ttlMs: 1_000, staleIfErrorMs: 10_000 },
    });
    await env.addTenant('acme');
    const app = await harness('hono', env.tenantry);
    expect((await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } })).status).toBe(200);

    down = true;
    now += 5_000; // past the ttl, inside stale-if-error
    const stale = await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } });
    expect(stale.status).toBe(200);
    expect(env.tenantry.stats().registry.stale).toBeGreaterThanOrEqual(1);

    now += 20_000; // past stale-if-error
    const gone = await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } });
    expect(gone.status).toBe(503);
    expect(gone.body.code).toBe('TENANT_UNAVAILABLE');

    const unknown = await app.request('/notes', { headers: { 'x-tenant-id': 'never-seen' } });
    expect(unknown.status).toBe(503);

    down = false;
    const back = await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } });
    expect(back.status).toBe(200);
  });
});
