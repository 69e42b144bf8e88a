import diagnostics_channel from 'node:diagnostics_channel';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TENANTRY_CHANNELS, createTenantry, fromHeader, fromJwt, memoryRegistry } from '../src/index.js';
import type { QuotaStore, ResolveMessage, Tenantry, TenantryChannelMessages, TenantryOptions } from '../src/index.js';
import { harness } from './helpers/adapters.js';
import { tempDir, testTenantry } from './helpers/env.js';
import type { TestTenantry } from './helpers/env.js';
import { NOW_MS, SECRET, signHs256 } from './helpers/jwt.js';

type PlainName = Exclude<keyof TenantryChannelMessages, 'tenantry:resolve'>;
const PLAIN: PlainName[] = [
  TENANTRY_CHANNELS.poolOpen,
  TENANTRY_CHANNELS.poolEvict,
  TENANTRY_CHANNELS.quotaCheck,
  TENANTRY_CHANNELS.quotaStoreError,
  TENANTRY_CHANNELS.provisioningStep,
  TENANTRY_CHANNELS.tenantRejected,
];
const TRACE_EVENTS = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const;
type TraceEvent = (typeof TRACE_EVENTS)[number];

const plans = {
  free: { apiRateLimit: 2, maxObjects: 1 },
  pro: {},
  enterprise: {},
};

/** What a subscriber on every tenantry channel saw; `stop()` unsubscribes. */
interface Recording {
  /** Resolve events in order, each with a snapshot of the (mutated) context at that moment. */
  resolve: { event: TraceEvent; message: ResolveMessage }[];
  plain: { [N in PlainName]: TenantryChannelMessages[N][] };
  stop(): void;
}

const recordings: Recording[] = [];

function record(): Recording {
  const plain = Object.fromEntries(PLAIN.map((name) => [name, []])) as unknown as Recording['plain'];
  const resolve: Recording['resolve'] = [];
  const listeners = PLAIN.map((name) => {
    const listener = (message: unknown) => (plain[name] as unknown[]).push(message);
    diagnostics_channel.subscribe(name, listener);
    return [name, listener] as const;
  });
  const tracing = diagnostics_channel.tracingChannel<ResolveMessage, ResolveMessage>(TENANTRY_CHANNELS.resolve);
  const handlers = Object.fromEntries(
    TRACE_EVENTS.map((event) => [event, (message: ResolveMessage) => resolve.push({ event, message: { ...message } })]),
  ) as unknown as Parameters<typeof tracing.subscribe>[0];
  tracing.subscribe(handlers);
  const recording: Recording = {
    resolve,
    plain,
    stop() {
      for (const [name, listener] of listeners) diagnostics_channel.unsubscribe(name, listener);
      tracing.unsubscribe(handlers);
    },
  };
  recordings.push(recording);
  return recording;
}

function anyTenantryChannelObserved(): boolean {
  return (
    PLAIN.some((name) => diagnostics_channel.hasSubscribers(name)) ||
    TRACE_EVENTS.some((event) => diagnostics_channel.hasSubscribers(`tracing:${TENANTRY_CHANNELS.resolve}:${event}`))
  );
}

describe('diagnostics channels', () => {
  let env: TestTenantry;
  const make = async (options: TenantryOptions = {}) => {
    env = await testTenantry({ resolvers: [fromHeader()], plans, ...options });
    return env;
  };
  afterEach(async () => {
    for (const r of recordings.splice(0)) r.stop();
    await env?.close();
  });

  it('traces a resolved request: start and end for a warm tenant, asyncStart/asyncEnd after a registry lookup', async () => {
    await make();
    await env.addTenant('acme');
    const app = await harness('hono', env.tenantry);
    const seen = record();

    const warm = await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } });
    expect(warm.status).toBe(200);
    expect(seen.resolve.map((e) => e.event)).toEqual(['start', 'end']);
    expect(seen.resolve[0]!.message).toMatchObject({ method: 'GET', resolvers: ['header'], outcome: undefined, tenantId: undefined });
    expect(seen.resolve[1]!.message).toEqual({
      method: 'GET',
      resolvers: ['header'],
      sources: ['header'],
      outcome: 'resolved',
      tenantId: 'acme',
      source: 'header',
      requestId: warm.body.requestId,
      readOnly: false,
      code: undefined,
      status: undefined,
    });

    seen.resolve.length = 0;
    env.tenantry.invalidateCache('acme'); // the next lookup goes to the registry (a promise)
    const cold = await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } });
    expect(cold.status).toBe(200);
    expect(seen.resolve.map((e) => e.event)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(seen.resolve[1]!.message.outcome).toBeUndefined(); // still running at `end`
    expect(seen.resolve[3]!.message).toMatchObject({ outcome: 'resolved', tenantId: 'acme', requestId: cold.body.requestId });
  });

  it('traces a rejected request with the error, and publishes tenantry:tenant:rejected', async () => {
    await make();
    const app = await harness('hono', env.tenantry);
    const seen = record();

    const missing = await app.request('/notes');
    expect(missing.status).toBe(401);
    expect(seen.resolve.map((e) => e.event)).toEqual(['start', 'error', 'end']);
    expect(seen.resolve[2]!.message).toMatchObject({ outcome: 'rejected', code: 'TENANT_NOT_RESOLVED', status: 401, sources: [] });
    expect(seen.resolve[2]!.message.error).toMatchObject({ code: 'TENANT_NOT_RESOLVED' });

    seen.resolve.length = 0;
    const unknown = await app.request('/notes', { headers: { 'x-tenant-id': 'nobody' } });
    expect(unknown.status).toBe(404);
    expect(seen.resolve.map((e) => e.event)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
    expect(seen.resolve[4]!.message).toMatchObject({ outcome: 'rejected', code: 'TENANT_NOT_FOUND', status: 404, sources: ['header'] });

    expect(seen.plain[TENANTRY_CHANNELS.tenantRejected]).toEqual([
      { code: 'TENANT_NOT_RESOLVED', status: 401, message: 'no tenant was found on this request' },
      { code: 'TENANT_NOT_FOUND', status: 404, message: 'no tenant matches the header' },
    ]);
    expect(app.handlerRuns).toBe(0);
  });

  it('reports an optional route without a tenant as outcome none', async () => {
    await make();
    const app = await harness('hono', env.tenantry, { optional: true });
    const seen = record();
    expect((await app.request('/health')).status).toBe(200);
    expect(seen.resolve.map((e) => [e.event, e.message.outcome])).toEqual([
      ['start', undefined],
      ['end', 'none'],
    ]);
  });

  it('never carries the bearer token or the Authorization header', async () => {
    await make({ resolvers: [fromJwt({ secret: SECRET, algorithms: ['HS256'], issuer: false, audience: false, now: () => NOW_MS })] });
    await env.addTenant('acme');
    const app = await harness('hono', env.tenantry);
    const seen = record();
    const token = await signHs256();
    expect((await app.request('/notes', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const forged = `${token.slice(0, -4)}AAAA`;
    expect((await app.request('/notes', { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);

    expect(seen.resolve.at(-1)!.message).toMatchObject({ outcome: 'rejected', code: 'INVALID_TOKEN' });
    const published = JSON.stringify([seen.resolve.map((e) => ({ ...e.message, error: String(e.message.error) })), seen.plain]);
    expect(published).toContain('acme');
    for (const secret of [token, forged, token.split('.')[2]!, 'Bearer', SECRET]) expect(published).not.toContain(secret);
  });

  it('publishes pool open and evict with the reason', async () => {
    await make({ databases: { maxClients: 1 } });
    await env.addTenant('acme');
    await env.addTenant('globex');
    const app = await harness('hono', env.tenantry);
    const seen = record();

    expect((await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } })).status).toBe(200);
    env.tenantry.invalidateCache('acme');

    expect(seen.plain[TENANTRY_CHANNELS.poolOpen]).toEqual([{ tenantId: 'acme', readOnly: false, size: 1 }]);
    expect(seen.plain[TENANTRY_CHANNELS.poolEvict]).toEqual([
      { tenantId: 'globex', readOnly: false, reason: 'evict', size: 1 },
      { tenantId: 'acme', readOnly: false, reason: 'invalidate', size: 0 },
    ]);
  });

  it('publishes each quota decision: the rate step of requests (allowed, then refused) and quota.check / enforce', async () => {
    await make();
    await env.addTenant('acme');
    const app = await harness('hono', env.tenantry);
    const seen = record();
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } })).status);
    expect(statuses).toEqual([200, 200, 429]);

    const rate = { tenantId: 'acme', quota: 'apiRateLimit', operation: 'request', limit: 2 };
    expect(seen.plain[TENANTRY_CHANNELS.quotaCheck]).toEqual([
      { ...rate, allowed: true, reason: 'within-limit', remaining: 1, currentUsage: 1 },
      { ...rate, allowed: true, reason: 'within-limit', remaining: 0, currentUsage: 2 },
      { ...rate, allowed: false, reason: 'limit-exceeded', remaining: 0, currentUsage: 2 },
    ]);
    expect(seen.plain[TENANTRY_CHANNELS.tenantRejected]).toEqual([expect.objectContaining({ code: 'RATE_LIMITED', status: 429 })]);

    seen.plain[TENANTRY_CHANNELS.quotaCheck].length = 0;
    // the marker table is acme's one object: checking passes, adding another is refused
    await expect(env.tenantry.quota.check('maxObjects', { tenantId: 'acme' })).resolves.toMatchObject({ allowed: true });
    await expect(env.tenantry.quota.enforce('maxObjects', { tenantId: 'acme' })).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED' });
    await env.tenantry.quota.check('maxUsers', { tenantId: 'acme' });
    const objects = { tenantId: 'acme', quota: 'maxObjects', limit: 1, currentUsage: 1, remaining: 0 };
    expect(seen.plain[TENANTRY_CHANNELS.quotaCheck]).toEqual([
      { ...objects, operation: 'check', allowed: true, reason: 'within-limit' },
      { ...objects, operation: 'enforce', allowed: false, reason: 'limit-exceeded' },
      { tenantId: 'acme', quota: 'maxUsers', operation: 'check', allowed: true, reason: 'no-limit', limit: undefined, remaining: undefined, currentUsage: undefined },
    ]);
  });

  it('publishes quota store failures and the degraded decision', async () => {
    const broken: QuotaStore = {
      name: 'broken',
      slidingWindow: () => Promise.reject(new Error('connection refused')),
      fixedWindow: () => Promise.reject(new Error('connection refused')),
    };
    await make({ quotaStore: broken, quotas: { insurance: false } });
    await env.addTenant('acme');
    const app = await harness('hono', env.tenantry);
    const seen = record();
    expect((await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } })).status).toBe(200);
    expect(seen.plain[TENANTRY_CHANNELS.quotaStoreError]).toEqual([
      { store: 'broken', component: 'store', tenantId: 'acme', quota: 'apiRateLimit', message: 'connection refused' },
    ]);
    expect(seen.plain[TENANTRY_CHANNELS.quotaCheck]).toEqual([
      { tenantId: 'acme', quota: 'apiRateLimit', operation: 'request', allowed: true, reason: 'store-unavailable', limit: 2, remaining: undefined, currentUsage: undefined },
    ]);
  });

  describe('provisioning', () => {
    const open: { tenantry: Tenantry; cleanup: () => void }[] = [];
    afterEach(async () => {
      for (const { tenantry, cleanup } of open.splice(0)) {
        await tenantry.close();
        cleanup();
      }
    });

    it('publishes every step of a provisioning run, without the database token', async () => {
      const { dir, cleanup } = tempDir();
      const registry = memoryRegistry();
      const tenantry = createTenantry({ dataDir: dir, registry, resolvers: [fromHeader()], provisioning: { migrations: [{ id: '0001', sql: 'create table notes (id integer primary key)' }] } });
      open.push({ tenantry, cleanup });
      const seen = record();
      const result = await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
      const steps = seen.plain[TENANTRY_CHANNELS.provisioningStep];
      expect(steps.map((m) => m.tenantId)).toEqual(result.steps.map(() => 'acme'));
      expect(steps.map((m) => m.step)).toEqual(result.steps);
      expect(steps.every((m) => typeof m.step.durationMs === 'number')).toBe(true);
      const token = (await registry.get('acme'))?.db.authToken;
      if (token !== undefined) expect(JSON.stringify(steps)).not.toContain(token);
    });
  });

  it('publishes nothing and builds no message while nobody subscribes', async () => {
    expect(anyTenantryChannelObserved()).toBe(false);
    // Node's inactive channels have no-op publish/runStores on Channel.prototype: a publisher that
    // skipped its hasSubscribers guard would call them.
    const proto = diagnostics_channel.Channel.prototype as unknown as { publish(m: unknown): void; runStores(...a: unknown[]): unknown };
    const calls: string[] = [];
    const tenantryCall = function (this: { name: string | symbol }) {
      if (String(this.name).includes('tenantry:')) calls.push(String(this.name));
    };
    const publish = vi.spyOn(proto, 'publish').mockImplementation(function (this: { name: string | symbol }) {
      tenantryCall.call(this);
    });
    const runStores = vi.spyOn(proto, 'runStores');
    runStores.mockImplementation(function (this: { name: string | symbol }, _data: unknown, fn: unknown, thisArg: unknown, ...args: unknown[]) {
      tenantryCall.call(this);
      return Reflect.apply(fn as () => unknown, thisArg, args);
    });
    try {
      // the spy sees an unguarded publish
      diagnostics_channel.channel('tenantry:probe').publish({});
      expect(calls).toEqual(['tenantry:probe']);
      calls.length = 0;

      const broken: QuotaStore = { name: 'broken', slidingWindow: () => Promise.reject(new Error('down')), fixedWindow: () => Promise.reject(new Error('down')) };
      await make({ databases: { maxClients: 1 }, quotaStore: broken, quotas: { insurance: false } });
      await env.addTenant('acme');
      await env.addTenant('globex'); // evicts acme's client
      const app = await harness('hono', env.tenantry);
      expect((await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } })).status).toBe(200);
      expect((await app.request('/notes', { headers: { 'x-tenant-id': 'nobody' } })).status).toBe(404);
      expect((await app.request('/notes')).status).toBe(401);
      await env.tenantry.quota.check('maxObjects', { tenantId: 'acme' });
      env.tenantry.invalidateCache('acme');
      expect(env.tenantry.stats().pool.evictions).toBeGreaterThan(0);
      expect(env.tenantry.stats().quota.storeFailures).toBeGreaterThan(0);
      await env.close();

      const { dir, cleanup } = tempDir();
      const tenantry = createTenantry({ dataDir: dir, registry: memoryRegistry(), resolvers: [fromHeader()] });
      try {
        await tenantry.provisioning.provisionTenant({ orgId: 'initech' });
      } finally {
        await tenantry.close();
        cleanup();
      }
      expect(calls).toEqual([]);
    } finally {
      publish.mockRestore();
      runStores.mockRestore();
    }
  });

  it('answers the request when a subscriber throws; Node rethrows the error on the next tick', async () => {
    await make();
    await env.addTenant('acme');
    const app = await harness('hono', env.tenantry);
    const boom = () => {
      throw new Error('subscriber bug');
    };
    const tracing = diagnostics_channel.tracingChannel(TENANTRY_CHANNELS.resolve);
    const handlers = { start: boom, end: boom, asyncStart: boom, asyncEnd: boom, error: boom };
    tracing.subscribe(handlers);
    diagnostics_channel.subscribe(TENANTRY_CHANNELS.quotaCheck, boom);
    const seen = record(); // a second subscriber still receives the messages
    const uncaught: unknown[] = [];
    // Without a handler, 'uncaughtException' would end the process: subscribers must not throw.
    process.setUncaughtExceptionCaptureCallback((err) => uncaught.push(err));
    try {
      const res = await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } });
      expect(res.status).toBe(200);
      expect(res.body.tenant).toBe('acme');
      expect(app.handlerRuns).toBe(1);
      await new Promise((resolve) => setImmediate(resolve));
      expect(uncaught.length).toBe(3); // resolve start, resolve end, quota check
      expect(uncaught.every((e) => (e as Error).message === 'subscriber bug')).toBe(true);
      expect(seen.resolve.map((e) => e.event)).toEqual(['start', 'end']);
      expect(seen.plain[TENANTRY_CHANNELS.quotaCheck]).toHaveLength(1);
    } finally {
      process.setUncaughtExceptionCaptureCallback(null);
      tracing.unsubscribe(handlers);
      diagnostics_channel.unsubscribe(TENANTRY_CHANNELS.quotaCheck, boom);
    }
  });
});
