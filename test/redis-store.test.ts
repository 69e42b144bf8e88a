import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { quotaKey } from '../src/quota/types.js';
import type { CounterDecision } from '../src/quota/types.js';
import { redisQuotaStore } from '../src/redis/index.js';
import type { RedisQuotaStore } from '../src/redis/index.js';
import { FIXED_WINDOW, SLIDING_WINDOW } from '../src/redis/scripts.js';
import { startPrivateRedis } from './helpers/redis-server.js';
import type { PrivateRedis } from './helpers/redis-server.js';

const HOUR = 3_600_000;
const prefix = `tenantry-test:${randomUUID()}:`;
let redis: Redis;
let store: RedisQuotaStore;
let tenants = 0;

/** A key no other test uses: `tenantry:q:{t<n>}:apiRateLimit`. */
function freshKey(name = 'apiRateLimit'): string {
  tenants += 1;
  return quotaKey(`t${tenants}`, name);
}

/**
 * Waits, when the current window of `windowMs` ends within `needMs`, until the next one has
 * begun; the server clock decides (a cost-0 read reports the time left in the window).
 */
async function atWindowStart(read: () => Promise<CounterDecision>, needMs: number): Promise<void> {
  const probe = await read();
  if (probe.resetMs < needMs) await sleep(probe.resetMs + 5);
}

async function keysOf(client: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

beforeAll(async () => {
  redis = new Redis({ host: '127.0.0.1', port: 6379, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', resolve);
    redis.once('error', reject);
  });
  store = redisQuotaStore({ client: redis, prefix, timeoutMs: 2_000 });
});

afterAll(async () => {
  const keys = await keysOf(redis, `${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe('redisQuotaStore: the sliding window', () => {
  it('takes weighted costs until the limit and then refuses with the units left', async () => {
    const key = freshKey();
    const call = (cost: number) => store.slidingWindow({ key, limit: 10, windowMs: HOUR, cost });

    const first = await call(4);
    expect(first).toMatchObject({ allowed: true, limit: 10, remaining: 6, count: 4 });
    expect(first.resetMs).toBeGreaterThan(0);
    expect(first.resetMs).toBeLessThanOrEqual(HOUR);
    expect(await call(4)).toMatchObject({ allowed: true, remaining: 2, count: 8 });
    const full = await call(2);
    expect(full).toMatchObject({ allowed: true, remaining: 0, count: 10 });

    const refused = await call(1);
    expect(refused).toMatchObject({ allowed: false, limit: 10, remaining: 0, count: 10 });
    // curr (10) + cost (1) > limit: wait for the window end, then until 10 × (1 − t/W) ≤ 9, i.e. W / 10.
    expect(refused.resetMs - full.resetMs).toBeGreaterThanOrEqual(HOUR / 10 - 100);
    expect(refused.resetMs - full.resetMs).toBeLessThanOrEqual(HOUR / 10 + 1);

    // cost 0 only reads: always allowed (even over a lowered limit), and writes nothing.
    expect(await call(0)).toMatchObject({ allowed: true, remaining: 0, count: 10 });
    expect(await store.slidingWindow({ key, limit: 5, windowMs: HOUR, cost: 0 })).toMatchObject({ allowed: true, limit: 5, remaining: 0, count: 10 });
    expect(await redis.hgetall(prefix + key)).toMatchObject({ curr: '10', prev: '0' });
  });

  it('refuses a cost that does not fit while smaller ones still pass', async () => {
    const key = freshKey();
    const call = (cost: number) => store.slidingWindow({ key, limit: 10, windowMs: HOUR, cost });
    await call(7);
    const refused = await call(4);
    expect(refused).toMatchObject({ allowed: false, remaining: 3, count: 7 });
    expect(await call(3)).toMatchObject({ allowed: true, remaining: 0, count: 10 });
  });

  it('on a 1 s window, refuses until resetMs has passed and then weighs the previous window', async () => {
    const key = freshKey();
    const call = (cost: number) => store.slidingWindow({ key, limit: 3, windowMs: 1_000, cost });
    await atWindowStart(() => call(0), 400);

    const decisions = [await call(1), await call(1), await call(1)];
    expect(decisions.map((d) => [d.allowed, d.remaining, d.count])).toEqual([
      [true, 2, 1],
      [true, 1, 2],
      [true, 0, 3],
    ]);
    const last = decisions[2]!;
    const refused = await call(1);
    expect(refused).toMatchObject({ allowed: false, remaining: 0, count: 3 });
    // Window end, then until 3 × (1 − t/1000) + 1 ≤ 3: t ≥ 333.3 ms.
    expect(refused.resetMs - last.resetMs).toBeGreaterThanOrEqual(334 - 50);
    expect(refused.resetMs - last.resetMs).toBeLessThanOrEqual(334);
    const again = await call(1);
    expect(again.allowed).toBe(false);
    expect(again.resetMs).toBeLessThanOrEqual(refused.resetMs);

    await sleep(again.resetMs);
    const after = await call(1);
    expect(after.allowed).toBe(true);
    // 3 of the previous window, weighted by what is left of it, plus this call.
    expect(after.count).toBeGreaterThanOrEqual(1);
    expect(after.count).toBeLessThanOrEqual(3);
    expect(after.remaining).toBe(Math.floor(3 - after.count));
    expect(Number.isInteger(after.count * 1000)).toBe(true);
  });
});

describe('redisQuotaStore: the fixed window', () => {
  it('counts whole units per window and starts again at the window end', async () => {
    const key = freshKey('maxDeploymentsPerDay');
    const call = (cost: number) => store.fixedWindow({ key, limit: 3, windowMs: 1_000, cost });
    await atWindowStart(() => call(0), 400);

    const a = await call(2);
    const b = await call(1);
    expect(a).toMatchObject({ allowed: true, limit: 3, remaining: 1, count: 2 });
    expect(b).toMatchObject({ allowed: true, remaining: 0, count: 3 });
    expect(b.resetMs).toBeLessThanOrEqual(a.resetMs);
    const refused = await call(1);
    expect(refused).toMatchObject({ allowed: false, remaining: 0, count: 3 });
    expect(refused.resetMs).toBeGreaterThanOrEqual(1);
    expect(refused.resetMs).toBeLessThanOrEqual(b.resetMs);

    await sleep(refused.resetMs);
    expect(await call(1)).toMatchObject({ allowed: true, remaining: 2, count: 1 });
    expect(await redis.hgetall(prefix + key)).toMatchObject({ count: '1' });
  });
});

describe('redisQuotaStore: keys', () => {
  it('writes one hash at prefix + key, the {tenant} hash tag intact, expiring after two windows', async () => {
    const key = quotaKey('acme-corp', 'apiRateLimit');
    await store.slidingWindow({ key, limit: 5, windowMs: 60_000, cost: 1 });
    expect(await keysOf(redis, `${prefix}*acme-corp*`)).toEqual([`${prefix}tenantry:q:{acme-corp}:apiRateLimit`]);
    const fields = await redis.hgetall(`${prefix}tenantry:q:{acme-corp}:apiRateLimit`);
    expect(Object.keys(fields).sort()).toEqual(['curr', 'prev', 'window']);
    const [seconds] = await redis.time();
    expect(Number(fields['window'])).toBeGreaterThanOrEqual(Math.floor((Number(seconds) - 2) / 60));
    expect(Number(fields['window'])).toBeLessThanOrEqual(Math.floor(Number(seconds) / 60));
    expect(fields['curr']).toBe('1');
    const ttl = await redis.pttl(`${prefix}tenantry:q:{acme-corp}:apiRateLimit`);
    expect(ttl).toBeGreaterThan(120_000 - 5_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
  });

  it('refuses a prefix that would replace the tenant hash tag', () => {
    expect(() => redisQuotaStore({ client: redis, prefix: '{app}:' })).toThrow(TypeError);
    expect(() => redisQuotaStore({ client: redis, timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => redisQuotaStore({ client: {} as Redis })).toThrow(/client/);
  });
});

describe('redisQuotaStore: requests and errors', () => {
  it('rejects an invalid request with a TypeError before calling Redis', async () => {
    const evalsha = vi.spyOn(redis, 'evalsha');
    try {
      const key = freshKey();
      const bad = [
        { key, limit: 0, windowMs: 1_000, cost: 1 },
        { key, limit: 1.5, windowMs: 1_000, cost: 1 },
        { key, limit: 5, windowMs: 0, cost: 1 },
        { key, limit: 5, windowMs: 10.5, cost: 1 },
        { key, limit: 5, windowMs: 1_000, cost: -1 },
        { key, limit: 5, windowMs: 1_000, cost: 6 },
        { key, limit: 5, windowMs: 1_000, cost: 0.5 },
        { key: '', limit: 5, windowMs: 1_000, cost: 1 },
      ];
      for (const request of bad) {
        await expect(store.slidingWindow(request)).rejects.toThrow(TypeError);
        await expect(store.fixedWindow(request)).rejects.toThrow(TypeError);
      }
      expect(evalsha).not.toHaveBeenCalled();
    } finally {
      evalsha.mockRestore();
    }
  });

  it('reports a Redis error as STORE_UNAVAILABLE with the cause, never as a refusal', async () => {
    const key = freshKey();
    await redis.set(prefix + key, 'not a hash');
    const failure = await store.slidingWindow({ key, limit: 5, windowMs: 1_000, cost: 1 }).catch((err: unknown) => err);
    expect(failure).toMatchObject({ name: 'TenantryError', code: 'STORE_UNAVAILABLE', status: 503 });
    expect((failure as Error).cause).toBeInstanceOf(Error);
    expect(String((failure as Error & { cause: Error }).cause.message)).toMatch(/WRONGTYPE/);
  });

  it('close() resolves and leaves the client open', async () => {
    const own = redisQuotaStore({ client: redis, prefix });
    expect(own.name).toBe('redis');
    await expect(own.close?.()).resolves.toBeUndefined();
    expect(await redis.ping()).toBe('PONG');
  });
});

describe('redisQuotaStore: instances', () => {
  it('shares one limit between two clients: 100 concurrent calls, limit 60, exactly 60 allowed', async () => {
    const other = new Redis({ host: '127.0.0.1', port: 6379, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    await new Promise<void>((resolve) => other.once('ready', resolve));
    try {
      const instances = [store, redisQuotaStore({ client: other, prefix, timeoutMs: 2_000 })];
      const key = freshKey();
      const decisions = await Promise.all(
        Array.from({ length: 100 }, (_, i) => instances[i % 2]!.slidingWindow({ key, limit: 60, windowMs: HOUR, cost: 1 })),
      );
      expect(decisions.filter((d) => d.allowed)).toHaveLength(60);
      expect(decisions.filter((d) => !d.allowed).every((d) => d.remaining === 0 && d.count === 60)).toBe(true);
      // Every allowed call saw a different count: 1..60, none twice.
      expect(decisions.filter((d) => d.allowed).map((d) => d.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      expect(await redis.hget(prefix + key, 'curr')).toBe('60');
    } finally {
      await other.quit();
    }
  });
});

describe('redisQuotaStore: scripts', () => {
  // On a private server: SCRIPT FLUSH on the shared one would race with other test files.
  let server: PrivateRedis;
  let client: Redis;

  beforeAll(async () => {
    server = await startPrivateRedis();
    client = new Redis({ host: server.host, port: server.port, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    await new Promise<void>((resolve) => client.once('ready', resolve));
  });

  afterAll(async () => {
    await client.quit();
    await server.dispose();
  });

  it('falls back to EVAL when the server does not know the script (SCRIPT FLUSH)', async () => {
    const own = redisQuotaStore({ client });
    const key = freshKey();
    const sliding = { key, limit: 5, windowMs: HOUR, cost: 1 };
    const fixed = { ...sliding, key: `${key}:fixed` };
    const evalsha = vi.spyOn(client, 'evalsha');
    const evalSpy = vi.spyOn(client, 'eval');
    try {
      // A new server knows no script: the first call of each is EVALSHA, NOSCRIPT, EVAL.
      await own.slidingWindow(sliding);
      await own.fixedWindow(fixed);
      expect([evalsha.mock.calls.length, evalSpy.mock.calls.length]).toEqual([2, 2]);
      expect(await own.slidingWindow(sliding)).toMatchObject({ allowed: true, count: 2 });
      expect([evalsha.mock.calls.length, evalSpy.mock.calls.length]).toEqual([3, 2]);

      await client.script('FLUSH');
      expect(await client.script('EXISTS', SLIDING_WINDOW.sha, FIXED_WINDOW.sha)).toEqual([0, 0]);
      expect(await own.slidingWindow(sliding)).toMatchObject({ allowed: true, count: 3 });
      expect(await own.fixedWindow(fixed)).toMatchObject({ allowed: true, count: 2 });
      expect([evalsha.mock.calls.length, evalSpy.mock.calls.length]).toEqual([5, 4]);

      // EVAL cached the scripts again: the next calls are EVALSHA only.
      expect(await client.script('EXISTS', SLIDING_WINDOW.sha, FIXED_WINDOW.sha)).toEqual([1, 1]);
      expect(await own.slidingWindow(sliding)).toMatchObject({ allowed: true, count: 4 });
      expect([evalsha.mock.calls.length, evalSpy.mock.calls.length]).toEqual([6, 4]);
    } finally {
      evalsha.mockRestore();
      evalSpy.mockRestore();
    }
  });
});
