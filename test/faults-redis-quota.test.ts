/**
 * Redis gone and back while requests keep coming: the rate quota fails open (with the
 * per-process insurance limit), the counter allocation quota (`maxDeploymentsPerDay`) fails
 * closed with 503 `STORE_UNAVAILABLE`, allocation gauges measured in the tenant database are
 * not affected, nothing else is ever answered, and enforcement resumes once Redis is back.
 *
 * Faults are injected on a private `redis-server` (killed and restarted on its port) and
 * through a TCP proxy in front of it (a dead link: nothing answers), never on the machine's
 * own Redis.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Hono } from 'hono';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHeader, getTenantClient } from '../src/index.js';
import { quota, tenancy, tenantryErrorHandler } from '../src/middleware/hono.js';
import { redisQuotaStore } from '../src/redis/index.js';
import { testTenantry } from './helpers/env.js';
import type { TestTenantry } from './helpers/env.js';
import { startPrivateRedis } from './helpers/redis-server.js';
import type { PrivateRedis } from './helpers/redis-server.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
import type { TcpProxy } from './helpers/tcp-proxy.js';

/** High enough that the load itself never reaches them: the faults decide the answers. */
const RATE = 100_000;
const DEPLOYS = 100_000;
const RECORDS = 3;
/** The limit of the tenant that checks enforcement after recovery (a record override). */
const FRESH_RATE = 5;
const plans = {
  free: { apiRateLimit: RATE, maxDeploymentsPerDay: DEPLOYS, maxRecordsPerObject: RECORDS },
  pro: {},
  enterprise: {},
};
const TENANTS = ['t0', 't1', 't2', 't3', 't4', 't5'];
/**
 * Above the 50 ms default, so that a busy machine (CI runs suites side by side) does not turn a
 * slow answer after recovery into a 503; still short enough that a dead link is noticed quickly.
 */
const STORE_TIMEOUT_MS = 250;

type Phase = 'up' | 'down' | 'recovering' | 'back';
type Route = 'read' | 'deploy' | 'note';
interface Outcome {
  route: Route;
  tenant: string;
  status: number;
  code: string | undefined;
  contentType: string | null;
  started: Phase;
  ended: Phase;
}

/** Resolves once the client can take commands again. */
function ready(client: Redis): Promise<void> {
  return new Promise((resolve) => {
    if (client.status === 'ready') resolve();
    else client.once('ready', () => resolve());
  });
}

/** Polls until `check()` holds (the client noticing an outage takes a moment). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await sleep(5);
}

let redis: PrivateRedis;
let proxy: TcpProxy;
beforeAll(async () => {
  redis = await startPrivateRedis();
  proxy = await startTcpProxy({ host: redis.host, port: redis.port });
});
afterAll(async () => {
  await proxy.close();
  await redis.dispose();
});

describe('Redis gone and back during a load', () => {
  let env: TestTenantry;
  let client: Redis;
  let phase: Phase = 'up';
  const outcomes: Outcome[] = [];
  let app: Hono;

  beforeAll(async () => {
    client = new Redis({ host: proxy.host, port: proxy.port, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 20 });
    client.on('error', () => {}); // reconnect errors are what this test is about
    await ready(client);
    env = await testTenantry({ resolvers: [fromHeader()], plans, quotaStore: redisQuotaStore({ client, prefix: 'faults:', timeoutMs: STORE_TIMEOUT_MS }) });
    for (const id of TENANTS) await env.addTenant(id);
    app = new Hono();
    app.onError(tenantryErrorHandler());
    app.use('*', tenancy(env.tenantry));
    app.get('/read', async (c) => c.json((await (await getTenantClient()).execute('select tenant from marker')).rows));
    app.post('/deploy', quota('maxDeploymentsPerDay'), (c) => c.json({ deployed: true }));
    app.post('/note', quota('maxRecordsPerObject', { object: 'marker' }), async (c) => {
      await (await getTenantClient()).execute({ sql: 'insert into marker (tenant) values (?)', args: ['note'] });
      return c.json({ written: true });
    });
  });
  afterAll(async () => {
    await env.close();
    client.disconnect();
  });

  /** Sends requests from `workers` loops until `stop()` is called. */
  function load(workers: number): { stop(): Promise<void> } {
    let running = true;
    let n = 0;
    const routes: Route[] = ['read', 'read', 'deploy', 'note'];
    const loop = async (): Promise<void> => {
      while (running) {
        const i = n++;
        const route = routes[i % routes.length]!;
        const tenant = TENANTS[Math.floor(i / routes.length) % TENANTS.length]!;
        const started = phase;
        const res = await app.request(`http://app.test/${route}`, { method: route === 'read' ? 'GET' : 'POST', headers: { 'x-tenant-id': tenant } });
        const text = await res.text();
        let code: string | undefined;
        try {
          code = (JSON.parse(text) as { code?: string }).code;
        } catch {
          code = undefined;
        }
        outcomes.push({ route, tenant, status: res.status, code, contentType: res.headers.get('content-type'), started, ended: phase });
        await sleep(1); // a steady load, not a busy loop
      }
    };
    const done = Promise.all(Array.from({ length: workers }, loop));
    return {
      async stop() {
        running = false;
        await done;
      },
    };
  }

  it.each([
    ['killed and restarted (connection refused)', 'kill'],
    ['behind a dead link (nothing answers)', 'blackhole'],
  ] as const)('%s: every request is answered with a documented code; rate fails open, deployments fail closed', async (_, how) => {
    outcomes.length = 0;
    const failuresBefore = env.tenantry.stats().quota.storeFailures;
    phase = 'up';
    const traffic = load(8);
    await until(() => outcomes.length >= 40);

    if (how === 'kill') await redis.stop();
    else await proxy.cut('blackhole');
    // a killed server is noticed at once; a dead link only by the store's timeout
    if (how === 'kill') await until(() => client.status !== 'ready');
    phase = 'down';
    const downFrom = outcomes.length;
    await until(() => outcomes.filter((o) => o.started === 'down' && o.ended === 'down').length >= 60);

    phase = 'recovering';
    if (how === 'kill') {
      await redis.start();
    } else {
      const dropped = new Promise((resolve) => client.once('close', resolve));
      await proxy.restore(); // drops the silent connection: the client reconnects
      await dropped;
    }
    await ready(client);
    phase = 'back';
    await until(() => outcomes.filter((o) => o.started === 'back').length >= 40);
    await traffic.stop();

    // Every answer is one of the documented ones, as problem+json when it is an error.
    const allowed: Record<Route, number[]> = { read: [200, 429], deploy: [200, 429, 503], note: [200, 403, 429] };
    for (const o of outcomes) {
      expect(allowed[o.route], JSON.stringify(o)).toContain(o.status);
      if (o.status !== 200) {
        expect(o.contentType).toBe('application/problem+json');
        expect(o.code).toBe({ 403: 'QUOTA_EXCEEDED', 429: 'RATE_LIMITED', 503: 'STORE_UNAVAILABLE' }[o.status]);
      }
    }

    const inside = outcomes.filter((o) => o.started === 'down' && o.ended === 'down');
    expect(outcomes.length).toBeGreaterThan(downFrom); // answers kept coming during the outage
    // rate: fails open (the per-process insurance limiter is far from its limit here)
    const reads = inside.filter((o) => o.route === 'read');
    expect(reads.length).toBeGreaterThan(0);
    expect(new Set(reads.map((o) => o.status))).toEqual(new Set([200]));
    // maxDeploymentsPerDay: a counter in Redis, fails closed
    const deploys = inside.filter((o) => o.route === 'deploy');
    expect(deploys.length).toBeGreaterThan(0);
    expect(new Set(deploys.map((o) => o.status))).toEqual(new Set([503]));
    // maxRecordsPerObject is measured in the tenant database: Redis has no say in it
    expect(inside.filter((o) => o.route === 'note').some((o) => o.status === 403)).toBe(true);
    expect(env.tenantry.stats().quota.storeFailures).toBeGreaterThan(failuresBefore);

    // once back, deployments are counted in Redis again
    const after = outcomes.filter((o) => o.started === 'back');
    expect(after.filter((o) => o.route === 'deploy').some((o) => o.status === 200)).toBe(true);
    expect(after.some((o) => o.status === 503)).toBe(false);
  });

  it('enforces the shared limits exactly once Redis is back', async () => {
    await env.addTenant('fresh', { quotas: { apiRateLimit: FRESH_RATE } });
    const statuses: number[] = [];
    for (let i = 0; i < FRESH_RATE + 2; i++) {
      statuses.push((await app.request('http://app.test/read', { headers: { 'x-tenant-id': 'fresh' } })).status);
    }
    expect(statuses).toEqual([...Array<number>(FRESH_RATE).fill(200), 429, 429]);
    // the counter lives in Redis, not in the insurance limiter
    const keys = await client.keys('faults:*{fresh}*');
    expect(keys.length).toBeGreaterThan(0);
  });
});
