import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '@libsql/client';
import { fromHeader, memoryRegistry } from '../src/index.js';
import type { TenantRegistry } from '../src/index.js';
import { harness } from './helpers/adapters.js';
import { testTenantry } from './helpers/env.js';
import type { TestTenantry } from './helpers/env.js';

function countingRegistry(inner: TenantRegistry) {
  const calls = { get: 0, findBySlug: 0, findByDomain: 0 };
  const registry: TenantRegistry = {
    ...inner,
    get: async (id) => {
      calls.get++;
      await new Promise((r) => setTimeout(r, 5));
      return inner.get(id);
    },
    findBySlug: async (slug) => {
      calls.findBySlug++;
      return inner.findBySlug(slug);
    },
    findByDomain: async (domain) => {
      calls.findByDomain++;
      return inner.findByDomain(domain);
    },
    list: (f) => inner.list(f),
    put: (r) => inner.put(r),
    delete: (id) => inner.delete(id),
  };
  return { registry, calls };
}

describe('a cold tenant under a burst of first requests', () => {
  let env: TestTenantry;
  afterEach(() => env.close());

  it('opens exactly one client and does one registry lookup for 1,000 concurrent requests', async () => {
    const inner = memoryRegistry();
    const { registry, calls } = countingRegistry(inner);
    let opened = 0;
    env = await testTenantry({
      registry,
      resolvers: [fromHeader()],
      createClient: (config) => {
        opened++;
        return createClient(config);
      },
    });
    const setup = createClient({ url: `file:${env.dir}/cold.db` });
    await setup.execute('create table if not exists marker (tenant text)');
    await setup.execute("insert into marker values ('cold')");
    setup.close();
    await inner.put({ id: 'cold' });
    const app = await harness('hono', env.tenantry);

    const results = await Promise.all(Array.from({ length: 1000 }, () => app.request('/notes', { headers: { 'x-tenant-id': 'cold' } })));
    expect(results.every((r) => r.status === 200 && r.body.tenant === 'cold')).toBe(true);
    expect(calls.get).toBe(1);
    expect(opened).toBe(1);
    const stats = env.tenantry.stats();
    expect(stats.pool.opens).toBeGreaterThanOrEqual(1);
    expect(stats.registry.hits + stats.registry.misses).toBeGreaterThanOrEqual(1000);
  });
});
