import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quotaKey } from '../src/quota/types.js';
import type { CounterRequest } from '../src/quota/types.js';
import { redisQuotaStore } from '../src/redis/index.js';
import { startPrivateRedis, startSilentServer } from './helpers/redis-server.js';
import type { PrivateRedis } from './helpers/redis-server.js';

/** The client settings the store's JSDoc recommends, plus a quick reconnect for the test. */
const RECOMMENDED: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 20 };

let tenants = 0;
/** A request on a key no other test uses. */
function freshRequest(): CounterRequest {
  tenants += 1;
  return { key: quotaKey(`t${tenants}`, 'apiRateLimit'), limit: 100, windowMs: 3_600_000, cost: 1 };
}

/** How long `promise` takes to settle, and its error (or `undefined` when it resolved). */
async function timed(promise: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now();
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  return { ms: performance.now() - started, error };
}

function waitFor(client: Redis, event: 'ready' | 'close'): Promise<void> {
  return new Promise((resolve) => client.once(event, () => resolve()));
}

let server: PrivateRedis;

beforeAll(async () => {
  server = await startPrivateRedis();
});

afterAll(async () => {
  await server.dispose();
});

describe('redisQuotaStore when Redis goes away', () => {
  it('fails fast with STORE_UNAVAILABLE while Redis is stopped and works again once it is back', async () => {
    const client = new Redis({ host: server.host, port: server.port, ...RECOMMENDED });
    client.on('error', () => {}); // reconnect errors are expected here
    await waitFor(client, 'ready');
    const request = freshRequest();
    try {
      const store = redisQuotaStore({ client });
      const patient = redisQuotaStore({ client, timeoutMs: 5_000 });
      expect(await store.slidingWindow(request)).toMatchObject({ allowed: true, count: 1 });

      const closed = waitFor(client, 'close');
      await server.stop();
      // Straight after the crash, whether or not the client has noticed yet.
      const straightAfter = await timed(store.slidingWindow(request));
      expect(straightAfter.error).toMatchObject({ code: 'STORE_UNAVAILABLE' });
      expect(straightAfter.ms).toBeLessThan(200);
      await closed;

      for (const s of [store, patient]) {
        for (const call of [() => s.slidingWindow(request), () => s.fixedWindow(request)]) {
          const { ms, error } = await timed(call());
          expect(error).toMatchObject({ name: 'TenantryError', code: 'STORE_UNAVAILABLE', status: 503 });
          expect((error as Error).cause).toBeInstanceOf(Error);
          // Fast even with a 5 s store timeout: the client does not queue while offline.
          expect(ms).toBeLessThan(200);
        }
      }

      const ready = waitFor(client, 'ready');
      await server.start();
      await ready;
      // A fresh server (no persistence): an empty counter, and NOSCRIPT answered by EVAL.
      expect(await store.slidingWindow(request)).toMatchObject({ allowed: true, count: 1 });
      expect(await store.fixedWindow(request)).toMatchObject({ allowed: true, count: 1 });
      expect(await store.slidingWindow(request)).toMatchObject({ allowed: true, count: 2 });
    } finally {
      client.disconnect();
    }
  });

  it('rejects after about timeoutMs while the server hangs (DEBUG SLEEP), then answers again', async () => {
    if (!server.running) await server.start();
    const client = new Redis({ host: server.host, port: server.port, ...RECOMMENDED });
    const sleeper = new Redis({ host: server.host, port: server.port, ...RECOMMENDED });
    await Promise.all([waitFor(client, 'ready'), waitFor(sleeper, 'ready')]);
    const request = freshRequest();
    try {
      const store = redisQuotaStore({ client, timeoutMs: 50 });
      expect(await store.fixedWindow(request)).toMatchObject({ allowed: true, count: 1 });

      const asleep = sleeper.call('DEBUG', 'SLEEP', '1');
      await sleep(30); // let the server start sleeping
      const { ms, error } = await timed(store.fixedWindow(request));
      expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE' });
      expect(String(((error as Error).cause as Error).message)).toMatch(/did not answer within 50 ms/);
      expect(ms).toBeGreaterThanOrEqual(45);
      expect(ms).toBeLessThan(200);

      await asleep;
      // The timed-out call was still counted once the server woke up (documented).
      expect(await store.fixedWindow(request)).toMatchObject({ allowed: true, count: 3 });
    } finally {
      client.disconnect();
      sleeper.disconnect();
    }
  });

  it('rejects after about timeoutMs on a connection that never answers, even with queueing clients', async () => {
    const silent = await startSilentServer();
    // ioredis defaults: offline queue on, 20 retries per request. The command waits forever
    // for a ready check that never completes; the store's timeout still bounds the call.
    const client = new Redis({ host: '127.0.0.1', port: silent.port, lazyConnect: false });
    client.on('error', () => {});
    const request = freshRequest();
    try {
      const stores = [redisQuotaStore({ client }), redisQuotaStore({ client, timeoutMs: 120 })];
      const [fast, slower] = await Promise.all(stores.map((s) => timed(s.slidingWindow(request))));
      expect(fast!.error).toMatchObject({ code: 'STORE_UNAVAILABLE' });
      expect(fast!.ms).toBeGreaterThanOrEqual(45);
      expect(fast!.ms).toBeLessThan(200);
      expect(slower!.error).toMatchObject({ code: 'STORE_UNAVAILABLE' });
      expect(slower!.ms).toBeGreaterThanOrEqual(115);
      expect(slower!.ms).toBeLessThan(300);
    } finally {
      client.disconnect();
      await silent.close();
    }
  });
});
