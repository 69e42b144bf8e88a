/**
 * The Redis invalidation bus of a real tenantry instance with its subscriber connection cut
 * and restored through a TCP proxy (the machine's Redis itself is never touched): while the
 * subscriber is cut, messages are lost, so the instance trusts cached records for one second
 * at most; once it has subscribed again, it drops its cache and trusts cached records for the
 * full TTL again. (test/redis-invalidation.test.ts covers the bus's own events with a stopped
 * server; test/invalidation-instances.test.ts the instance's reaction to hand-fired events.)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createTenantry, fromHeader, libsqlRegistry } from '../src/index.js';
import type { Tenantry } from '../src/index.js';
import { redisInvalidationBus } from '../src/redis/index.js';
import { tempDir } from './helpers/env.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';

const REDIS = { host: '127.0.0.1', port: 6379 } as const;

const ask = (tenantry: Tenantry, id: string): Promise<number> =>
  tenantry.handle(new Request('http://app.test/', { headers: { 'x-tenant-id': id } }), async () => new Response('ok')).then((r) => r.status);

/** Polls `check` until it holds (reconnects and pub/sub deliveries take a moment). */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await sleep(10);
}

describe('an instance whose invalidation subscriber is cut and restored', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('serves cached records for one second at most while cut, then drops its cache on resync and trusts the TTL again', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const proxy = await startTcpProxy(REDIS);
    cleanups.push(() => proxy.close());
    const channel = `tenantry:test:faults:${process.pid}:${Date.now()}`;
    const connect = (port: number): Redis => {
      const client = new Redis({ ...REDIS, port, retryStrategy: () => 20 });
      client.on('error', () => {}); // the cut connection reports errors while it reconnects
      cleanups.push(() => client.disconnect());
      return client;
    };

    // A: publishes lifecycle changes. B: its subscriber goes through the proxy; its clock is the test's.
    const a = createTenantry({
      dataDir: dir,
      registry: libsqlRegistry({ url: `file:${dir}/control-plane.db` }),
      resolvers: [fromHeader()],
      invalidation: redisInvalidationBus({ client: connect(REDIS.port), channel }),
    });
    let now = 1_000_000;
    const subscriber = connect(proxy.port);
    const b = createTenantry({
      dataDir: dir,
      registry: libsqlRegistry({ url: `file:${dir}/control-plane.db` }),
      resolvers: [fromHeader()],
      cache: { ttlMs: 60_000 },
      now: () => now,
      invalidation: redisInvalidationBus({ client: connect(REDIS.port), subscriber, channel }),
    });
    cleanups.push(() => a.close(), () => b.close());
    await Promise.all([a.ready(), b.ready()]);

    await a.provisioning.provisionTenant({ orgId: 'acme' });
    expect(await ask(b, 'acme')).toBe(200); // cached by b for a minute
    await a.provisioning.suspendTenant('acme');
    await until(async () => (await ask(b, 'acme')) === 403); // delivered: the bus works
    await a.provisioning.resumeTenant('acme');
    await until(async () => (await ask(b, 'acme')) === 200);

    // Cut b's subscriber. a's suspension is published while b cannot hear it.
    await proxy.cut('reset');
    await until(() => subscriber.status !== 'ready');
    await a.provisioning.suspendTenant('acme');
    now += 500;
    expect(await ask(b, 'acme')).toBe(200); // stale, but within the degraded TTL of one second
    now += 1_000;
    expect(await ask(b, 'acme')).toBe(403); // re-read from the registry: not stale for a minute

    // Still cut: a resumes the tenant, b misses that too and keeps the suspended record for now.
    await a.provisioning.resumeTenant('acme');
    expect(await ask(b, 'acme')).toBe(403);

    // Restored: b resubscribes and drops its cache, with its clock standing still.
    await proxy.restore();
    await until(async () => (await ask(b, 'acme')) === 200);

    // Delivered again, and cached records are trusted for the full TTL again.
    await a.provisioning.suspendTenant('acme');
    await until(async () => (await ask(b, 'acme')) === 403);
    await a.provisioning.resumeTenant('acme');
    await until(async () => (await ask(b, 'acme')) === 200);
    const record = (await a.registry.get('acme'))!;
    await a.registry.put({ ...record, status: 'suspended' }); // a change nobody publishes
    now += 5_000;
    expect(await ask(b, 'acme')).toBe(200); // past the degraded TTL, inside the full one
    now += 60_000;
    expect(await ask(b, 'acme')).toBe(403);
  });
});
