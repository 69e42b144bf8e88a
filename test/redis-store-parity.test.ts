import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedWindowStep, slidingWindowStep } from '../src/quota/sliding-window.js';
import type { FixedWindowState, WindowState } from '../src/quota/sliding-window.js';
import { quotaKey } from '../src/quota/types.js';
import type { CounterDecision, CounterRequest } from '../src/quota/types.js';
import { redisQuotaStore } from '../src/redis/index.js';
import type { RedisQuotaStore } from '../src/redis/index.js';
import { decisionFromReply } from '../src/redis/redis-store.js';
import { FIXED_WINDOW, SLIDING_WINDOW } from '../src/redis/scripts.js';
import type { QuotaScript } from '../src/redis/scripts.js';

const HOUR = 3_600_000;
const prefix = `tenantry-test:${randomUUID()}:`;
let redis: Redis;
let store: RedisQuotaStore;
let tenants = 0;

function freshKey(): string {
  tenants += 1;
  return quotaKey(`p${tenants}`, 'apiRateLimit');
}

/** A small seeded PRNG (mulberry32), so a failing sequence can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The reference decision as the Redis reply carries it: the count in thousandths. */
function asReplied(decision: CounterDecision): CounterDecision {
  return { ...decision, count: Math.round(decision.count * 1000) / 1000 };
}

/** Runs `script` at a given instant (the test-only fourth argument replaces the server's TIME). */
async function runAt(script: QuotaScript, request: CounterRequest, now: number): Promise<CounterDecision> {
  const reply = await redis.eval(script.source, 1, prefix + request.key, request.limit, request.windowMs, request.cost, now);
  return decisionFromReply(reply, request.limit);
}

async function keysOf(pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
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
  const keys = await keysOf(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

/** Window shapes that stress the math: tiny, odd, a prime limit, a second, a minute, a day. */
const SHAPES = [
  { limit: 1, windowMs: 7 },
  { limit: 3, windowMs: 1_000 },
  { limit: 7, windowMs: 999 },
  { limit: 60, windowMs: 60_000 },
  { limit: 97, windowMs: 1_234 },
  { limit: 1_000, windowMs: 86_400_000 },
];

describe('the Lua scripts and the TypeScript reference, on the same clock', () => {
  it.each(SHAPES)('slidingWindow decides alike at every step (limit $limit, windowMs $windowMs)', async ({ limit, windowMs }) => {
    const next = random(limit * 31 + windowMs);
    const key = freshKey();
    let state: WindowState | undefined;
    let now = 1_764_000_000_000 + Math.floor(next() * windowMs);
    for (let i = 0; i < 400; i += 1) {
      // Mostly small steps, sometimes a jump of one or several windows.
      const r = next();
      now += r < 0.85 ? Math.floor(next() * (windowMs / 8 + 1)) : Math.floor(next() * 3 * windowMs);
      const cost = next() < 0.1 ? 0 : Math.min(limit, 1 + Math.floor(next() * next() * limit));
      const request = { key, limit, windowMs, cost };
      const reference = slidingWindowStep(state, now, request);
      state = reference.state;
      const lua = await runAt(SLIDING_WINDOW, request, now);
      expect(lua, `step ${i} at ${now}, cost ${cost}`).toEqual(asReplied(reference.decision));
      if (lua.allowed && cost > 0) {
        expect(await redis.hgetall(prefix + key)).toEqual({ window: String(state.window), curr: String(state.curr), prev: String(state.prev) });
      }
    }
  });

  it.each(SHAPES)('fixedWindow decides alike at every step (limit $limit, windowMs $windowMs)', async ({ limit, windowMs }) => {
    const next = random(limit * 17 + windowMs);
    const key = freshKey();
    let state: FixedWindowState | undefined;
    let now = 1_764_000_000_000 + Math.floor(next() * windowMs);
    for (let i = 0; i < 300; i += 1) {
      now += next() < 0.85 ? Math.floor(next() * (windowMs / 8 + 1)) : Math.floor(next() * 3 * windowMs);
      const cost = next() < 0.1 ? 0 : Math.min(limit, 1 + Math.floor(next() * next() * limit));
      const request = { key, limit, windowMs, cost };
      const reference = fixedWindowStep(state, now, request);
      state = reference.state;
      expect(await runAt(FIXED_WINDOW, request, now), `step ${i} at ${now}, cost ${cost}`).toEqual(reference.decision);
    }
  });

  it('agrees on the retry time of a refusal that waits on the previous window, to the ms', async () => {
    const request = { key: freshKey(), limit: 10, windowMs: 1_000, cost: 3 };
    const start = 1_764_000_000_000;
    let state: WindowState | undefined;
    // 10 at the end of one window, then calls every 37 ms through the next one.
    for (let t = start + 990, i = 0; i < 40; t += i === 0 ? 17 : 37, i += 1) {
      const reference = slidingWindowStep(state, t, i === 0 ? { ...request, cost: 10 } : request);
      state = reference.state;
      expect(await runAt(SLIDING_WINDOW, i === 0 ? { ...request, cost: 10 } : request, t)).toEqual(asReplied(reference.decision));
    }
  });
});

describe('redisQuotaStore and the TypeScript reference, at about the same time', () => {
  it('give the same decisions for a sequence of calls in one long window', async () => {
    const key = freshKey();
    const costs = [5, 20, 30, 10, 1, 0, 40, 3, 2, 1, 60, 0];
    let sliding: WindowState | undefined;
    let fixed: FixedWindowState | undefined;
    for (const cost of costs) {
      const request = { key, limit: 60, windowMs: HOUR, cost };
      const fromRedis = await store.slidingWindow(request);
      const reference = slidingWindowStep(sliding, Date.now(), request);
      sliding = reference.state;
      expect({ ...fromRedis, resetMs: 0 }).toEqual({ ...reference.decision, resetMs: 0 });
      expect(Math.abs(fromRedis.resetMs - reference.decision.resetMs)).toBeLessThanOrEqual(100);

      const fixedRequest = { ...request, key: `${key}:day`, windowMs: 86_400_000 };
      const fixedFromRedis = await store.fixedWindow(fixedRequest);
      const fixedReference = fixedWindowStep(fixed, Date.now(), fixedRequest);
      fixed = fixedReference.state;
      expect({ ...fixedFromRedis, resetMs: 0 }).toEqual({ ...fixedReference.decision, resetMs: 0 });
      expect(Math.abs(fixedFromRedis.resetMs - fixedReference.decision.resetMs)).toBeLessThanOrEqual(100);
    }
    expect(sliding?.curr).toBe(60);
  });
});
