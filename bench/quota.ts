/**
 * The quota benchmarks (scenarios 6 and 8; scenario 7 is a server variant, `hono-tenancy-rate`),
 * run by bench/run.ts unless `BENCH_QUOTA=0`:
 *
 * - 6, in process: one check of the memory limiter, `memoryQuotaStore().slidingWindow()`, as the
 *   rate step calls it (synchronously, a fresh request object per call), beside
 *   rate-limiter-flexible's `RateLimiterMemory.consume()` (a fixed window and a promise API,
 *   measured as it is used: awaited); and the whole rate step of a request: Hono `app.request()`
 *   through `tenancy()` with a plan's `apiRateLimit` against the same without a plan.
 * - 8: Redis limiter throughput: tenantry's `redisQuotaStore().slidingWindow()` against
 *   rate-limiter-flexible's `RateLimiterRedis.consume()`, with `concurrency` callers each
 *   awaiting one check at a time, in alternating rounds.
 *
 * In-process figures are wall-clock nanoseconds per call from `process.hrtime.bigint()`,
 * alternating the sides sample by sample.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { createTenantry, fromHeader, getTenantClient, memoryQuotaStore, memoryRegistry, quotaKey } from '../dist/index.js';
import type { CounterDecision, TenantryOptions } from '../dist/index.js';
import { tenancy } from '../dist/hono.js';
import { redisQuotaStore } from '../dist/redis.js';
import { BenchError } from './http.js';

/** The JSON the bench servers answer (kept equal to bench/servers/harness.mjs). */
const NOTES = Object.freeze({ notes: [{ id: 1, text: 'ship the rocket skates' }] });

/** A limit no bench run comes near: every check is allowed and goes the whole way. */
export const HIGH_LIMIT = 1_000_000_000;
const WINDOW_MS = 60_000;

/** The plans of the rate-limited variants (kept equal to bench/servers/hono.mjs `tenancy-rate`). */
export const RATE_PLANS: NonNullable<TenantryOptions['plans']> = { free: { apiRateLimit: HIGH_LIMIT }, pro: {}, enterprise: {} };

/** Keeps results observable so the loops cannot be optimised away. */
let sink = 0;

export function quotaSinkValue(): number {
  return sink;
}

function nsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start);
}

function tenantKeys(tenants: number): string[] {
  return Array.from({ length: tenants }, (_, i) => quotaKey(`tenant-${i}`, 'apiRateLimit'));
}

// ---------------------------------------------------------------------------------------------
// 6a. The memory limiter, one check

export interface MemoryLimiterResult {
  /** ns per `memoryQuotaStore().slidingWindow()` call, synchronous (as the rate step calls it), per sample. */
  tenantryNs: number[];
  /** ns per `await memoryQuotaStore().slidingWindow()`: the same, as a promise API would be used (orientation). */
  tenantryAwaitedNs: number[];
  /** ns per `await RateLimiterMemory.consume(key)` (fixed window, promise API), per sample. */
  rlfNs: number[];
  iterations: number;
  tenants: number;
}

/**
 * `iterations` checks per sample and side, keys spread round-robin over `tenants` tenants, a
 * limit high enough that every check is allowed (a refusal fails the bench).
 */
export async function benchMemoryLimiter(opts: { iterations: number; samples: number; tenants: number }): Promise<MemoryLimiterResult> {
  const keys = tenantKeys(opts.tenants);
  const tenants = opts.tenants;
  const store = memoryQuotaStore();
  const awaitedStore = memoryQuotaStore();
  const rlf = new RateLimiterMemory({ points: HIGH_LIMIT, duration: WINDOW_MS / 1000 });

  const refused = (side: string, key: string): never => {
    throw new BenchError(`quota micro: ${side} refused a check of ${key}; the limit should be out of reach`);
  };
  const tenantryOnce = (n: number): number => {
    const start = process.hrtime.bigint();
    for (let i = 0, t = 0; i < n; i++, t = t + 1 === tenants ? 0 : t + 1) {
      // A fresh request object per call, as QuotaService.admit() builds one.
      const decision = store.slidingWindow({ key: keys[t]!, limit: HIGH_LIMIT, windowMs: WINDOW_MS, cost: 1 });
      if (!decision.allowed) refused('memoryQuotaStore', keys[t]!);
      sink += decision.remaining;
    }
    return nsSince(start) / n;
  };
  const tenantryAwaitedOnce = async (n: number): Promise<number> => {
    const start = process.hrtime.bigint();
    for (let i = 0, t = 0; i < n; i++, t = t + 1 === tenants ? 0 : t + 1) {
      const decision: CounterDecision = await awaitedStore.slidingWindow({ key: keys[t]!, limit: HIGH_LIMIT, windowMs: WINDOW_MS, cost: 1 });
      if (!decision.allowed) refused('memoryQuotaStore (awaited)', keys[t]!);
      sink += decision.remaining;
    }
    return nsSince(start) / n;
  };
  const rlfOnce = async (n: number): Promise<number> => {
    const start = process.hrtime.bigint();
    try {
      for (let i = 0, t = 0; i < n; i++, t = t + 1 === tenants ? 0 : t + 1) {
        const res = await rlf.consume(keys[t]!);
        sink += res.remainingPoints;
      }
    } catch (err) {
      // consume() rejects with a RateLimiterRes when the points are used up.
      throw new BenchError(`quota micro: RateLimiterMemory refused or failed a check: ${err instanceof Error ? err.message : JSON.stringify(err)}`);
    }
    return nsSince(start) / n;
  };

  // Warm-up (JIT) of every path; every key gets its counter.
  const warm = Math.max(opts.tenants, Math.min(opts.iterations, 200_000));
  tenantryOnce(warm);
  await tenantryAwaitedOnce(warm);
  await rlfOnce(warm);

  const result: MemoryLimiterResult = { tenantryNs: [], tenantryAwaitedNs: [], rlfNs: [], iterations: opts.iterations, tenants: opts.tenants };
  for (let s = 0; s < opts.samples; s++) {
    // Alternate which side goes first, so slow drift of the machine is shared.
    if (s % 2 === 0) {
      result.tenantryNs.push(tenantryOnce(opts.iterations));
      result.rlfNs.push(await rlfOnce(opts.iterations));
      result.tenantryAwaitedNs.push(await tenantryAwaitedOnce(opts.iterations));
    } else {
      result.tenantryAwaitedNs.push(await tenantryAwaitedOnce(opts.iterations));
      result.rlfNs.push(await rlfOnce(opts.iterations));
      result.tenantryNs.push(tenantryOnce(opts.iterations));
    }
  }
  await store.close();
  await awaitedStore.close();
  return result;
}

// ---------------------------------------------------------------------------------------------
// 6b. The rate step of a request, in process

export interface RateAdmissionResult {
  /** ns per `app.request()` through `tenancy()`, the tenant's plan without `apiRateLimit`. */
  noPlanNs: number[];
  /** ns per `app.request()` through `tenancy()`, the plan with `apiRateLimit` (the rate step, default options). */
  planNs: number[];
  iterations: number;
}

/**
 * `iterations` `app.request()` calls per sample and app, `samples` samples, alternating. Both
 * apps are `tenancy(fromHeader())` + a handler that awaits `getTenantClient()`; one tenantry has
 * `plans: RATE_PLANS` (tenant `acme` is on `free`), the other no plans.
 */
export async function benchRateAdmission(opts: { iterations: number; samples: number }): Promise<RateAdmissionResult> {
  const folder = mkdtempSync(join(tmpdir(), 'tenantry-bench-quota-'));
  const make = (name: string, plans: TenantryOptions['plans']) =>
    createTenantry({
      resolvers: [fromHeader()],
      registry: memoryRegistry([{ id: 'acme' }]),
      databases: { urlTemplate: `file:${folder}/${name}-{tenant}.db` },
      ...(plans === undefined ? {} : { plans }),
    });
  const plain = make('plain', undefined);
  const limited = make('limited', RATE_PLANS);
  try {
    const app = (tenantry: ReturnType<typeof createTenantry>): Hono => {
      const a = new Hono();
      a.use('*', tenancy(tenantry));
      a.get('/notes', async (c) => {
        await getTenantClient();
        return c.json(NOTES);
      });
      return a;
    };
    const noPlanApp = app(plain);
    const planApp = app(limited);
    const init = { headers: { 'x-tenant-id': 'acme' } };

    // The rate step must run on one side and not on the other, or the comparison means nothing.
    const probe = async (a: Hono, name: string, expectRateHeaders: boolean): Promise<void> => {
      const res = await a.request('/notes', init);
      const body = await res.text();
      if (res.status !== 200) throw new BenchError(`quota micro (${name}): app.request answered ${res.status}: ${body.slice(0, 300)}`);
      if ((res.headers.get('ratelimit') !== null) !== expectRateHeaders) {
        throw new BenchError(`quota micro (${name}): expected ${expectRateHeaders ? 'a' : 'no'} RateLimit header, got ${String(res.headers.get('ratelimit'))}`);
      }
    };
    await probe(noPlanApp, 'no plan', false);
    await probe(planApp, 'plan apiRateLimit', false); // default options: RateLimit headers only on a 429

    const once = async (a: Hono, n: number): Promise<number> => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        const res = await a.request('/notes', init);
        if (res.status !== 200) throw new BenchError(`quota micro: app.request answered ${res.status}: ${await res.text()}`);
        sink += res.status;
      }
      return nsSince(start) / n;
    };

    const warm = Math.min(opts.iterations, 5_000);
    await once(noPlanApp, warm);
    await once(planApp, warm);
    const result: RateAdmissionResult = { noPlanNs: [], planNs: [], iterations: opts.iterations };
    for (let s = 0; s < opts.samples; s++) {
      if (s % 2 === 0) {
        result.noPlanNs.push(await once(noPlanApp, opts.iterations));
        result.planNs.push(await once(planApp, opts.iterations));
      } else {
        result.planNs.push(await once(planApp, opts.iterations));
        result.noPlanNs.push(await once(noPlanApp, opts.iterations));
      }
    }
    return result;
  } finally {
    await plain.close();
    await limited.close();
    rmSync(folder, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// 8. Redis limiter throughput

export interface RedisSideFigure {
  checks: number;
  durationMs: number;
  checksPerSecond: number;
  /** CPU (user + system) of this Node process per check, µs: the limiter + ioredis + the loops. */
  clientCpuUsPerCheck: number;
  /** CPU of the Redis server per check, µs (`INFO cpu`, used_cpu_user + used_cpu_sys; NaN if unavailable). */
  redisCpuUsPerCheck: number;
  /** Time Redis spent running the limiter's script per call, µs (`INFO commandstats`, evalsha + eval; NaN if unavailable). */
  redisScriptUsPerCall: number;
}

export interface RedisRound {
  round: number;
  /** Which side ran first in the round's first burst. */
  first: 'tenantry' | 'rlf';
  tenantry: RedisSideFigure;
  rlf: RedisSideFigure;
}

export interface RedisLimiterResult {
  url: string;
  redisVersion: string;
  concurrency: number;
  checksPerRound: number;
  /** Bursts per side each round's checks were cut into. */
  slices: number;
  warmup: number;
  tenants: number;
  keyPrefix: string;
  /** Keys the bench created and deleted afterwards. */
  keysDeleted: number;
  rounds: RedisRound[];
}

function connect(url: string, name: string): Promise<Redis> {
  const client = new Redis(url, { enableOfflineQueue: true, maxRetriesPerRequest: 1, lazyConnect: true, connectionName: name });
  return client.connect().then(
    () => client,
    (err: unknown) => {
      client.disconnect();
      throw new BenchError(`Redis at ${url} is not reachable (${err instanceof Error ? err.message : String(err)}); BENCH_QUOTA=0 or BENCH_REDIS=0 skips the Redis rows`, { cause: err });
    },
  );
}

interface RedisCounters {
  /** Server CPU seconds so far (user + sys), from `INFO cpu`. */
  cpuSeconds: number;
  /** Script calls and µs spent in them so far (`evalsha` + `eval`), from `INFO commandstats`. */
  scriptCalls: number;
  scriptUs: number;
}

async function redisCounters(admin: Redis): Promise<RedisCounters> {
  const info = await admin.info('cpu');
  const stats = await admin.info('commandstats');
  const user = /used_cpu_user:([\d.]+)/.exec(info)?.[1];
  const sys = /used_cpu_sys:([\d.]+)/.exec(info)?.[1];
  let scriptCalls = 0;
  let scriptUs = 0;
  for (const m of stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+),usec=(\d+)/g)) {
    scriptCalls += Number(m[1]);
    scriptUs += Number(m[2]);
  }
  return { cpuSeconds: user === undefined || sys === undefined ? Number.NaN : Number(user) + Number(sys), scriptCalls, scriptUs };
}

type Check = (key: string) => Promise<number>;

/**
 * `total` checks by `concurrency` loops, each awaiting one check at a time (keys round-robin).
 * Every check must be allowed; the first failure stops all loops and fails the bench.
 */
async function drive(check: Check, keys: string[], total: number, concurrency: number, side: string): Promise<{ durationMs: number; cpuUs: number }> {
  let issued = 0;
  let failure: unknown;
  let failures = 0;
  const loop = async (): Promise<void> => {
    while (failure === undefined && issued < total) {
      const i = issued++;
      try {
        sink += await check(keys[i % keys.length]!);
      } catch (err) {
        failures++;
        failure ??= err;
      }
    }
  };
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, loop));
  const durationMs = nsSince(start) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  if (failure !== undefined) {
    const what = failure instanceof Error ? `${failure.name}: ${failure.message}${failure.cause instanceof Error ? ` (cause: ${failure.cause.message})` : ''}` : JSON.stringify(failure);
    throw new BenchError(`Redis limiter ${side}: ${failures} check(s) failed; the first: ${what}`, { cause: failure });
  }
  return { durationMs, cpuUs: cpu.user + cpu.system };
}

/**
 * Scenario 8. A warm-up of `warmup` checks per limiter, then `rounds` rounds of `checks` checks
 * per limiter, cut into `slices` bursts per side that take turns (A B, B A, ...). Each limiter has its own ioredis client; a
 * third one reads `INFO cpu` and deletes the bench's keys at the end.
 */
export async function benchRedisLimiters(opts: {
  url: string;
  concurrency: number;
  checks: number;
  /** Bursts per side each round is cut into, the sides taking turns. */
  slices: number;
  warmup: number;
  rounds: number;
  tenants: number;
  /** The store's `timeoutMs`; undefined keeps its default (50 ms), as users get it. */
  timeoutMs?: number;
  log: (line: string) => void;
}): Promise<RedisLimiterResult> {
  const keyPrefix = `tenantry-bench:${process.pid}-${Date.now().toString(36)}:`;
  const clients: Redis[] = [];
  const open = async (name: string): Promise<Redis> => {
    const c = await connect(opts.url, name);
    clients.push(c);
    return c;
  };
  let keysDeleted = 0;
  let admin: Redis | undefined;
  let result: RedisLimiterResult;
  try {
    admin = await open('tenantry-bench-admin');
    const tenantryClient = await open('tenantry-bench-tenantry');
    const rlfClient = await open('tenantry-bench-rlf');
    const redisVersion = /redis_version:([^\r\n]+)/.exec(await admin.info('server'))?.[1] ?? 'unknown';

    // default timeoutMs (50), as users get it, unless BENCH_REDIS_TIMEOUT_MS says otherwise
    const store = redisQuotaStore({ client: tenantryClient, prefix: keyPrefix, ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }) });
    const rlf = new RateLimiterRedis({ storeClient: rlfClient, points: HIGH_LIMIT, duration: WINDOW_MS / 1000, keyPrefix: `${keyPrefix}rlf` });
    const keys = tenantKeys(opts.tenants);

    const tenantryCheck: Check = async (key) => {
      const decision = await store.slidingWindow({ key, limit: HIGH_LIMIT, windowMs: WINDOW_MS, cost: 1 });
      if (!decision.allowed) throw new Error(`refused ${key}; the limit should be out of reach`);
      return decision.remaining;
    };
    const rlfCheck: Check = async (key) => {
      try {
        return (await rlf.consume(key)).remainingPoints;
      } catch (err) {
        // A RateLimiterRes rejection is a refusal, anything else a store error.
        throw err instanceof Error ? err : new Error(`refused ${key}: ${JSON.stringify(err)}`);
      }
    };

    const sides = { tenantry: tenantryCheck, rlf: rlfCheck } as const;
    type Side = keyof typeof sides;
    interface Totals {
      checks: number;
      durationMs: number;
      cpuUs: number;
      redisCpuSeconds: number;
      scriptCalls: number;
      scriptUs: number;
    }
    /** One burst of `amount` checks of one side, added to `into`. */
    const burst = async (side: Side, amount: number, into: Totals, phase: string): Promise<void> => {
      const before = await redisCounters(admin!);
      const { durationMs, cpuUs } = await drive(sides[side], keys, amount, opts.concurrency, phase);
      const after = await redisCounters(admin!);
      into.checks += amount;
      into.durationMs += durationMs;
      into.cpuUs += cpuUs;
      into.redisCpuSeconds += after.cpuSeconds - before.cpuSeconds;
      into.scriptCalls += after.scriptCalls - before.scriptCalls;
      into.scriptUs += after.scriptUs - before.scriptUs;
    };
    const figure = (t: Totals): RedisSideFigure => ({
      checks: t.checks,
      durationMs: t.durationMs,
      checksPerSecond: t.checks / (t.durationMs / 1000),
      clientCpuUsPerCheck: t.cpuUs / t.checks,
      redisCpuUsPerCheck: (t.redisCpuSeconds * 1e6) / t.checks,
      redisScriptUsPerCall: t.scriptCalls > 0 ? t.scriptUs / t.scriptCalls : Number.NaN,
    });

    if (opts.warmup > 0) {
      await drive(tenantryCheck, keys, opts.warmup, opts.concurrency, 'tenantry (warm-up)');
      await drive(rlfCheck, keys, opts.warmup, opts.concurrency, 'rate-limiter-flexible (warm-up)');
    }
    // Each round's checks are cut into `slices` bursts per side, the two sides taking turns
    // (A B, then B A, ...), so that a busy moment of the shared machine falls on both.
    const slices = Math.max(1, Math.min(opts.slices, Math.floor(opts.checks / opts.concurrency)));
    const base = Math.floor(opts.checks / slices);
    const rounds: RedisRound[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
      const first: Side = round % 2 === 1 ? 'tenantry' : 'rlf';
      const totals: Record<Side, Totals> = {
        tenantry: { checks: 0, durationMs: 0, cpuUs: 0, redisCpuSeconds: 0, scriptCalls: 0, scriptUs: 0 },
        rlf: { checks: 0, durationMs: 0, cpuUs: 0, redisCpuSeconds: 0, scriptCalls: 0, scriptUs: 0 },
      };
      for (let slice = 0; slice < slices; slice++) {
        const amount = slice === slices - 1 ? opts.checks - base * (slices - 1) : base;
        const order: Side[] = (slice % 2 === 0) === (first === 'tenantry') ? ['tenantry', 'rlf'] : ['rlf', 'tenantry'];
        for (const side of order) await burst(side, amount, totals[side], `${side} (round ${round}, slice ${slice + 1})`);
      }
      const r: RedisRound = { round, first, tenantry: figure(totals.tenantry), rlf: figure(totals.rlf) };
      rounds.push(r);
      const fmt = (f: RedisSideFigure): string =>
        `${Math.round(f.checksPerSecond).toLocaleString('en-US').padStart(7)} checks/s (client ${f.clientCpuUsPerCheck.toFixed(2)} µs CPU/check; redis ${f.redisCpuUsPerCheck.toFixed(2)} µs CPU/check, script ${f.redisScriptUsPerCall.toFixed(2)} µs)`;
      opts.log(`redis round ${round}/${opts.rounds}  tenantry ${fmt(r.tenantry)}  rate-limiter-flexible ${fmt(r.rlf)}`);
    }
    result = { url: opts.url, redisVersion, concurrency: opts.concurrency, checksPerRound: opts.checks, slices, warmup: opts.warmup, tenants: opts.tenants, keyPrefix, keysDeleted: 0, rounds };
  } finally {
    if (admin !== undefined && admin.status === 'ready') {
      try {
        let cursor = '0';
        do {
          const [next, found] = await admin.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
          cursor = next;
          if (found.length > 0) keysDeleted += await admin.del(...found);
        } while (cursor !== '0');
        opts.log(`redis: deleted ${keysDeleted} bench keys (${keyPrefix}*)`);
      } catch (err) {
        opts.log(`redis: could not delete the bench keys ${keyPrefix}*: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
  }
  result.keysDeleted = keysDeleted;
  return result;
}
