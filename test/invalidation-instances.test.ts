import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createTenantry, fromHeader, libsqlRegistry } from '../src/index.js';
import type { InvalidationBus, InvalidationHandlers, Tenantry } from '../src/index.js';
import { redisInvalidationBus } from '../src/redis/index.js';
import { tempDir } from './helpers/env.js';

const ask = (tenantry: Tenantry, id: string) =>
  tenantry.handle(new Request('http://x/', { headers: { 'x-tenant-id': id } }), async () => new Response('ok')).then((r) => r.status);

async function until(check: () => Promise<boolean>, limitMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    if (await check()) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`not within ${limitMs} ms`);
}

describe('two instances sharing a control plane and a Redis', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('a suspension on one instance takes effect on the other within a second', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const channel = `tenantry:test:${process.pid}:${Date.now()}`;
    const make = () => {
      const client = new Redis({ host: '127.0.0.1', port: 6379 });
      cleanups.push(() => client.disconnect());
      return createTenantry({
        dataDir: dir,
        registry: libsqlRegistry({ url: `file:${dir}/control-plane.db` }),
        resolvers: [fromHeader()],
        cache: { ttlMs: 60_000 },
        invalidation: redisInvalidationBus({ client, channel }),
      });
    };
    const a = make();
    const b = make();
    cleanups.push(() => a.close(), () => b.close());
    await Promise.all([a.ready(), b.ready()]);
    await a.provisioning.provisionTenant({ orgId: 'acme' });
    expect(await ask(b, 'acme')).toBe(200); // b caches the active record for a minute

    await a.provisioning.suspendTenant('acme');
    const took = await until(async () => (await ask(b, 'acme')) === 403, 1000);
    expect(took).toBeLessThan(1000);

    await a.provisioning.resumeTenant('acme');
    await until(async () => (await ask(b, 'acme')) === 200, 1000);
  });

  it('trusts cached records for one second at most while the bus is disconnected, and drops them when it is back', async () => {
    let handlers: InvalidationHandlers | undefined;
    const bus: InvalidationBus = {
      publish: async () => {},
      start: async (h) => {
        handlers = h;
      },
      close: async () => {},
    };
    let now = 1_000_000;
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const tenantry = createTenantry({ dataDir: dir, resolvers: [fromHeader()], cache: { ttlMs: 60_000 }, invalidation: bus, now: () => now });
    cleanups.push(() => tenantry.close());
    await tenantry.ready();
    await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    expect(await ask(tenantry, 'acme')).toBe(200);
    // another instance suspends acme while our bus is down: we never hear of it
    handlers!.disconnected();
    await tenantry.registry.put({ ...(await tenantry.registry.get('acme'))!, status: 'suspended' });
    now += 500;
    expect(await ask(tenantry, 'acme')).toBe(200); // still within the degraded TTL
    now += 1_000;
    expect(await ask(tenantry, 'acme')).toBe(403); // re-read: not served stale for a minute
    await tenantry.registry.put({ ...(await tenantry.registry.get('acme'))!, status: 'active' });
    handlers!.resynced();
    expect(await ask(tenantry, 'acme')).toBe(200); // the cache was dropped on resync
  });
});
