import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fromHeader, memoryRegistry } from '../src/index.js';
import { redisQuotaStore } from '../src/redis/index.js';
import { harness } from './helpers/adapters.js';
import { testTenantry } from './helpers/env.js';
import type { TestTenantry } from './helpers/env.js';
import { startPrivateRedis } from './helpers/redis-server.js';
import type { PrivateRedis } from './helpers/redis-server.js';

const plans = { free: { apiRateLimit: 30 }, pro: {}, enterprise: {} };
const fastFailing = { enableOfflineQueue: false, maxRetriesPerRequest: 1 } as const;

/** Resolves once the client can take commands (with no offline queue, earlier ones fail). */
function ready(client: Redis): Promise<void> {
  return new Promise((resolve) => {
    if (client.status === 'ready') resolve();
    else client.once('ready', () => resolve());
  });
}

describe('the Redis quota store behind tenantry', () => {
  const envs: TestTenantry[] = [];
  const clients: Redis[] = [];
  afterEach(async () => {
    await Promise.all(envs.splice(0).map((e) => e.close()));
    clients.splice(0).forEach((c) => c.disconnect());
  });

  it('two tenantry instances sharing one Redis enforce one limit between them', async () => {
    const prefix = `test:${process.pid}:${Date.now()}:`;
    const registry = memoryRegistry();
    const instances = [];
    for (let i = 0; i < 2; i++) {
      const client = new Redis({ host: '127.0.0.1', port: 6379, ...fastFailing });
      clients.push(client);
      await ready(client);
      // both instances serve the same tenant databases (the first one's folder)
      const databases = instances[0] === undefined ? {} : { urlTemplate: `${pathToFileURL(instances[0].dir).href}/{tenant}.db` };
      const env = await testTenantry({ resolvers: [fromHeader()], registry, plans, databases, quotaStore: redisQuotaStore({ client, prefix }) });
      envs.push(env);
      instances.push(env);
    }
    await instances[0]!.addTenant('shared');
    const apps = await Promise.all([harness('hono', instances[0]!.tenantry), harness('express', instances[1]!.tenantry)]);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => apps[i % 2]!.request('/notes', { headers: { 'x-tenant-id': 'shared' } })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200), JSON.stringify(statuses)).toHaveLength(30);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);
    await apps[1]!.close();
    const cleanup = new Redis({ host: '127.0.0.1', port: 6379 });
    const keys = await cleanup.keys(`${prefix}*`);
    if (keys.length > 0) await cleanup.del(...keys);
    cleanup.disconnect();
  });

  describe('a Redis that stops mid-test and comes back', () => {
    let redis: PrivateRedis;
    beforeAll(async () => {
      redis = await startPrivateRedis();
    });
    afterAll(async () => {
      await redis.dispose();
    });

    it.each([
      ['open', [200, 200, 200]],
      ['closed', [503, 503, 503]],
    ] as const)('fail mode %s: answers %j while it is down, enforces again once it is back', async (mode, whileDown) => {
      const client = new Redis({ host: '127.0.0.1', port: redis.port, ...fastFailing, retryStrategy: () => 50 });
      client.on('error', () => undefined); // reconnect attempts while the server is down are expected
      clients.push(client);
      await ready(client);
      const env = await testTenantry({
        resolvers: [fromHeader()],
        plans: { free: { apiRateLimit: 5 }, pro: {}, enterprise: {} },
        quotaStore: redisQuotaStore({ client }),
        quotas: { failMode: { apiRateLimit: mode } },
      });
      envs.push(env);
      await env.addTenant(`t-${mode}`);
      const app = await harness('hono', env.tenantry);
      const ask = async () => (await app.request('/notes', { headers: { 'x-tenant-id': `t-${mode}` } })).status;
      expect(await ask()).toBe(200);

      await redis.stop();
      const down = [];
      for (let i = 0; i < 3; i++) down.push(await ask());
      expect(down).toEqual(whileDown);
      expect(env.tenantry.stats().quota.storeFailures).toBeGreaterThanOrEqual(3);

      await redis.start();
      await ready(client);
      const back = [];
      for (let i = 0; i < 6; i++) back.push(await ask());
      // the restarted server is empty: 5 allowed, then the limit holds again
      expect(back).toEqual([200, 200, 200, 200, 200, 429]);
    });
  });
});
