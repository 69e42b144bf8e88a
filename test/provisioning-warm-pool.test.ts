import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@libsql/client';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTenantry, fromHeader, getTenantClient, memoryRegistry } from '../src/index.js';
import type { CreateDatabaseInput, ITursoPlatformService, PlatformDatabase, ProvisioningOptions, TenantRegistry, Tenantry, TenantryOptions } from '../src/index.js';
import { localPlatform } from '../src/platform/local.js';
import { tursoPlatform } from '../src/turso/index.js';
import { FakeTurso } from './helpers/fake-turso.js';
import { tempDir } from './helpers/env.js';

const ORG = 'acme-corp';
const API_TOKEN = 'tk_test_warm';
/** What a database creation costs on the slow platforms below. */
const CREATE_DELAY_MS = 300;
const WARM_NAME = /^warm-[a-z0-9]{12}$/;
const MIGRATIONS = [
  { id: '0001_notes', sql: 'create table notes (id integer primary key, text text not null);' },
  { id: '0002_tags', sql: 'create table tags (name text primary key);' },
];
const SEED = "insert into notes (text) values ('welcome')";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());

/** A platform whose `createDatabase` calls are counted and can be held, slowed or failed. */
interface Instrumented {
  platform: ITursoPlatformService;
  /** `createDatabase` calls so far. */
  creates: number;
  /** Most `createDatabase` calls running at once. */
  maxInFlight: number;
  /** While set, creations wait for it. */
  gate: Promise<void> | undefined;
  /** The next creation fails with this. */
  failNext: Error | undefined;
}

function instrument(platform: ITursoPlatformService): Instrumented {
  let inFlight = 0;
  const state: Instrumented = {
    creates: 0,
    maxInFlight: 0,
    gate: undefined,
    failNext: undefined,
    platform: {
      ...platform,
      async createDatabase(input: CreateDatabaseInput): Promise<PlatformDatabase> {
        state.creates += 1;
        inFlight += 1;
        state.maxInFlight = Math.max(state.maxInFlight, inFlight);
        try {
          if (state.gate !== undefined) await state.gate;
          const failure = state.failNext;
          state.failNext = undefined;
          if (failure !== undefined) throw failure;
          return await platform.createDatabase(input);
        } finally {
          inFlight -= 1;
        }
      },
    },
  };
  return state;
}

/**
 * One platform under test, shared by the tenantry instances of a test (a "restart" is a new
 * instance over the same platform and control plane).
 */
interface Backend {
  kind: 'local' | 'turso';
  dir: string;
  counter: Instrumented;
  /** Every creation from now on takes `CREATE_DELAY_MS` more. */
  slowDown(): void;
  /** Database names on the platform, sorted. */
  names(): Promise<string[]>;
  /** Options of every tenantry instance on this backend. */
  options: TenantryOptions;
}

function localBackend(dir: string): Backend {
  const raw = localPlatform({ dir: join(dir, 'tenants') });
  let delayMs = 0;
  const slow: ITursoPlatformService = {
    ...raw,
    createDatabase: async (input) => {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      return raw.createDatabase(input);
    },
  };
  const counter = instrument(slow);
  return {
    kind: 'local',
    dir,
    counter,
    slowDown: () => {
      delayMs = CREATE_DELAY_MS;
    },
    names: async () => (await raw.listDatabases()).map((d) => d.name).sort(),
    // the embedded control plane (a libSQL file in `dir`): a restart reads the same one
    options: { dataDir: dir, platform: counter.platform },
  };
}

function tursoBackend(dir: string): Backend {
  const fake = new FakeTurso({ organization: ORG, apiToken: API_TOKEN });
  server.use(...fake.handlers);
  const counter = instrument(tursoPlatform({ organization: ORG, apiToken: API_TOKEN, group: 'default' }));
  const registry = memoryRegistry();
  return {
    kind: 'turso',
    dir,
    counter,
    slowDown: () => {
      fake.inject({ method: 'POST', route: 'databases', delayMs: CREATE_DELAY_MS, times: Number.POSITIVE_INFINITY });
    },
    names: async () => [...fake.databases.keys()].sort(),
    options: {
      registry,
      platform: counter.platform,
      databases: { urlTemplate: `libsql://{tenant}-${ORG}.turso.io` },
      // libsql:// hosts of the fake cannot be reached: each host is a local file instead
      createClient: ({ url }) => {
        const target = url.startsWith('libsql://') ? pathToFileURL(join(dir, `${new URL(url).hostname}.db`)).href : url;
        return createClient({ url: target });
      },
    },
  };
}

const open: Tenantry[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const tenantry of open.splice(0)) await tenantry.close();
  for (const cleanup of cleanups.splice(0)) cleanup();
  server.resetHandlers();
});

function backendOf(kind: Backend['kind']): Backend {
  const { dir, cleanup } = tempDir('tenantry-warm-');
  cleanups.push(cleanup);
  return kind === 'local' ? localBackend(dir) : tursoBackend(dir);
}

function make(backend: Backend, provisioning: ProvisioningOptions = {}, extra: TenantryOptions = {}): Tenantry {
  const tenantry = createTenantry({
    resolvers: [fromHeader()],
    ...backend.options,
    provisioning: { migrations: MIGRATIONS, seed: SEED, ...provisioning },
    ...extra,
  });
  open.push(tenantry);
  return tenantry;
}

async function notes(tenantry: Tenantry, tenantId: string): Promise<unknown[]> {
  return tenantry.withTenant(tenantId, async () => (await (await getTenantClient()).execute('select text from notes')).rows.map((r) => r.text));
}

async function appliedMigrations(tenantry: Tenantry, tenantId: string): Promise<unknown[]> {
  return tenantry.withTenant(tenantId, async () =>
    (await (await getTenantClient()).execute('select id from _tenantry_migrations order by id')).rows.map((r) => r.id),
  );
}

const manual = (size: number) => ({ warmPool: { size, refill: 'manual' as const } });

describe.each(['local', 'turso'] as const)('warm pool on the %s platform', (kind) => {
  it('serves a signup from the pool without waiting for a database to be created', async () => {
    const backend = backendOf(kind);
    const tenantry = make(backend, manual(2));
    expect(await tenantry.provisioning.refillWarmPool()).toBe(2);
    const { available, size, refilling } = await tenantry.provisioning.warmPool();
    expect({ size, refilling, count: available.length }).toEqual({ size: 2, refilling: false, count: 2 });
    expect(available.every((name) => WARM_NAME.test(name))).toBe(true);

    backend.slowDown();
    const createsBefore = backend.counter.creates;
    const t0 = performance.now();
    const result = await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    const elapsed = performance.now() - t0;

    expect(result.status).toBe('active');
    expect(backend.counter.creates).toBe(createsBefore); // nothing created during the claim
    expect(elapsed).toBeLessThan(CREATE_DELAY_MS);
    expect(result.steps.map((s) => `${s.name}:${s.status}`)).toEqual([
      'validate_request:completed',
      'create_database:completed',
      'create_token:completed',
      'apply_migrations:completed',
      'seed_data:completed',
      'register_tenant:completed',
    ]);
    const claimed = available[0]!;
    expect(result.connectionUrl).toContain(claimed);
    expect((await tenantry.registry.get('acme'))!.db.url).toBe(result.connectionUrl);
    expect((await tenantry.provisioning.warmPool()).available).toEqual([available[1]]);
  });

  it('makes warm databases with the migrations applied and without the seed', async () => {
    const backend = backendOf(kind);
    const tenantry = make(backend, manual(1));
    await tenantry.provisioning.refillWarmPool();
    const [name] = (await tenantry.provisioning.warmPool()).available;
    const db = (await backend.counter.platform.getDatabase(name!))!;
    const client = (backend.options.createClient ?? createClient)({ url: db.url });
    try {
      expect((await client.execute('select id from _tenantry_migrations order by id')).rows.map((r) => r.id)).toEqual(['0001_notes', '0002_tags']);
      expect((await client.execute('select count(*) as n from notes')).rows[0]).toMatchObject({ n: 0 });
    } finally {
      client.close();
    }
  });

  it('gives the claimed database the migrations and the seed of the tenant', async () => {
    const backend = backendOf(kind);
    const tenantry = make(backend, manual(1));
    await tenantry.provisioning.refillWarmPool();
    await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    expect(await notes(tenantry, 'acme')).toEqual(['welcome']);
    expect(await appliedMigrations(tenantry, 'acme')).toEqual(['0001_notes', '0002_tags']);
  });

  it('never gives two concurrent signups the same database (50 signups, pool of 20)', async () => {
    const backend = backendOf(kind);
    const tenantry = make(backend, manual(20));
    await tenantry.provisioning.refillWarmPool();
    const warm = (await tenantry.provisioning.warmPool()).available;
    expect(warm).toHaveLength(20);
    backend.slowDown();
    const createsBefore = backend.counter.creates;

    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => tenantry.provisioning.provisionTenant({ orgId: `t-${i}` })));

    expect(results.every((r) => r.status === 'active')).toBe(true);
    const urls = results.map((r) => r.connectionUrl);
    expect(new Set(urls).size).toBe(50);
    const claimed = warm.filter((name) => urls.some((url) => url.includes(name)));
    expect(claimed).toHaveLength(20);
    expect(backend.counter.creates - createsBefore).toBe(30);
    expect((await tenantry.provisioning.warmPool()).available).toEqual([]);
    expect(await backend.names()).toHaveLength(50);
    // every tenant writes to its own database
    for (const r of results) expect(await notes(tenantry, r.tenantId)).toEqual(['welcome']);
  });

  it('only serves signups of the pool region from it', async () => {
    const backend = backendOf(kind);
    const tenantry = make(backend, { warmPool: { size: 1, refill: 'manual', region: 'us-east' } });
    await tenantry.provisioning.refillWarmPool();
    const result = await tenantry.provisioning.provisionTenant({ orgId: 'acme', region: 'eu-west' });
    expect(result.status).toBe('active');
    expect((await tenantry.provisioning.warmPool()).available).toHaveLength(1);
    expect(await backend.names()).toContain('acme');
  });

  it('deletes the claimed database when the provisioning fails after the claim', async () => {
    const backend = backendOf(kind);
    const tenantry = make(backend, { ...manual(1), seed: 'insert into nowhere values (1)' });
    await tenantry.provisioning.refillWarmPool();
    const [claimed] = (await tenantry.provisioning.warmPool()).available;
    const createsBefore = backend.counter.creates;

    const result = await tenantry.provisioning.provisionTenant({ orgId: 'acme' });

    expect(result.status).toBe('failed');
    expect(result.steps.find((s) => s.status === 'failed')?.name).toBe('seed_data');
    expect(await backend.names()).toEqual([]); // not returned to the pool: deleted
    expect(backend.counter.creates).toBe(createsBefore);
    expect((await tenantry.provisioning.warmPool()).available).toEqual([]);
    expect(await tenantry.registry.get('acme')).toMatchObject({ status: 'failed', db: {} });
    expect(claimed).toMatch(WARM_NAME);
  });

  it('rebuilds the inventory after a restart without the claimed databases, and migrates what was added since', async () => {
    const backend = backendOf(kind);
    const first = make(backend, { ...manual(3), migrations: MIGRATIONS.slice(0, 1), seed: "insert into notes (text) values ('hi')" });
    await first.provisioning.refillWarmPool();
    const warm = (await first.provisioning.warmPool()).available;
    const acme = await first.provisioning.provisionTenant({ orgId: 'acme' });
    await first.close();

    const second = make(backend, manual(3));
    const rebuilt = (await second.provisioning.warmPool()).available;
    expect([...rebuilt].sort()).toEqual(warm.filter((name) => !acme.connectionUrl.includes(name)).sort());

    const globex = await second.provisioning.provisionTenant({ orgId: 'globex' });
    expect(rebuilt.some((name) => globex.connectionUrl.includes(name))).toBe(true);
    expect(await appliedMigrations(second, 'globex')).toEqual(['0001_notes', '0002_tags']);
    expect(await notes(second, 'acme')).toEqual(['hi']);
  });

  it('finishes on retry a provisioning that crashed after its claim, with the claimed database', async () => {
    const backend = backendOf(kind);
    const first = make(backend, manual(2));
    await first.provisioning.refillWarmPool();
    const [crashed] = (await first.provisioning.warmPool()).available;
    const url = (await backend.counter.platform.getDatabase(crashed!))!.url;
    await first.close();
    const second = make(backend, manual(2));
    // what a crash right after the claim leaves behind
    await second.registry.put({ id: 'acme', status: 'provisioning', db: { url } });
    expect((await second.provisioning.warmPool()).available).not.toContain(crashed);

    const result = await second.provisioning.provisionTenant({ orgId: 'acme' });

    expect(result.status).toBe('active');
    expect(result.connectionUrl).toBe(url);
    expect((await second.provisioning.warmPool()).available).toHaveLength(1);
  });

  it('suspends, resumes and destroys a tenant on its claimed database', async () => {
    const backend = backendOf(kind);
    const tenantry = make(backend, manual(1));
    await tenantry.provisioning.refillWarmPool();
    const [claimed] = (await tenantry.provisioning.warmPool()).available;
    await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    expect((await tenantry.provisioning.suspendTenant('acme')).status).toBe('suspended');
    expect((await tenantry.provisioning.resumeTenant('acme')).status).toBe('active');
    expect(await notes(tenantry, 'acme')).toEqual(['welcome']);
    expect(await backend.names()).toEqual([claimed]);
    await tenantry.provisioning.destroyTenant('acme', { immediate: true });
    expect(await backend.names()).toEqual([]);
  });

  it('tops the pool back up in the background after claims, one creation at a time', async () => {
    const backend = backendOf(kind);
    const tenantry = make(backend, { warmPool: { size: 3 } });
    await vi.waitFor(async () => expect((await tenantry.provisioning.warmPool()).available).toHaveLength(3), { timeout: 10_000 });
    await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    await tenantry.provisioning.provisionTenant({ orgId: 'globex' });
    await vi.waitFor(
      async () => {
        const status = await tenantry.provisioning.warmPool();
        expect({ count: status.available.length, refilling: status.refilling }).toEqual({ count: 3, refilling: false });
      },
      { timeout: 10_000 },
    );
    expect(backend.counter.creates).toBe(5);
    expect(backend.counter.maxInFlight).toBe(1);
    expect(await backend.names()).toHaveLength(5);
  });

  it('removes unclaimed warm databases, and only those', async () => {
    const backend = backendOf(kind);
    const tenantry = make(backend, manual(3));
    await tenantry.provisioning.refillWarmPool();
    const [first, ...rest] = (await tenantry.provisioning.warmPool()).available;
    const acme = await tenantry.provisioning.provisionTenant({ orgId: 'acme' }); // claims `first`
    expect(acme.connectionUrl).toContain(first);

    expect(await tenantry.provisioning.removeWarmDatabases([rest[0]!, first!, 'unknown'])).toEqual([rest[0]]);
    expect(await tenantry.provisioning.removeWarmDatabases()).toEqual([rest[1]]);
    expect(await backend.names()).toEqual([first]);
    expect((await tenantry.provisioning.warmPool()).available).toEqual([]);
    expect(await notes(tenantry, 'acme')).toEqual(['welcome']);
  });

  it('stops refilling on close(): the creation in flight finishes, no new one starts', async () => {
    const backend = backendOf(kind);
    let release!: () => void;
    backend.counter.gate = new Promise((resolve) => {
      release = resolve;
    });
    const tenantry = make(backend, { warmPool: { size: 5 } });
    await vi.waitFor(() => expect(backend.counter.creates).toBe(1));
    let closed = false;
    const closing = tenantry.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closed).toBe(false); // waits for the creation in flight
    release();
    await closing;
    const after = await backend.names();
    expect(after).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(backend.counter.creates).toBe(1);
    expect(await backend.names()).toEqual(after);
    expect(await tenantry.provisioning.refillWarmPool()).toBe(0);
  });

  it('reports a failed background refill and tries again after the next claim', async () => {
    const backend = backendOf(kind);
    const errors: unknown[] = [];
    backend.counter.failNext = new Error('platform down');
    const tenantry = make(backend, { warmPool: { size: 1, onError: (err) => errors.push(err) } });
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect(errors[0]).toMatchObject({ message: 'platform down' });
    expect((await tenantry.provisioning.warmPool()).available).toEqual([]);

    await tenantry.provisioning.provisionTenant({ orgId: 'acme' }); // nothing to claim: created, and a refill starts
    await vi.waitFor(async () => expect((await tenantry.provisioning.warmPool()).available).toHaveLength(1));
    expect(errors).toHaveLength(1);
  });
});

describe('warm pool options', () => {
  const bad: [string, unknown][] = [
    ['size', { size: 0 }],
    ['size', { size: 1.5 }],
    ['size', {}],
    ['refill', { size: 1, refill: 'sometimes' }],
    ['prefix', { size: 1, prefix: 'Warm-' }],
    ['prefix', { size: 1, prefix: '-warm' }],
    ['prefix', { size: 1, prefix: '' }],
    ['prefix', { size: 1, prefix: 'w'.repeat(47) }],
    ['region', { size: 1, region: 'mars' }],
    ['onError', { size: 1, onError: 'log' }],
    ['colour', { size: 1, colour: 'red' }],
  ];
  it.each(bad)('refuses an invalid provisioning.warmPool.%s at createTenantry() time', (option, warmPool) => {
    expect(() => createTenantry({ registry: memoryRegistry(), provisioning: { warmPool: warmPool as never } })).toThrow(
      new RegExp(`provisioning\\.warmPool\\.${option}`),
    );
    expect(() => createTenantry({ registry: memoryRegistry(), provisioning: { warmPool: warmPool as never } })).toThrow(TypeError);
  });

  it('refuses a warmPool that is not an object', () => {
    expect(() => createTenantry({ registry: memoryRegistry(), provisioning: { warmPool: 5 as never } })).toThrow(/provisioning\.warmPool/);
  });

  it('has an empty status and refuses refills and removals without a pool', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const registry: TenantRegistry = memoryRegistry();
    const tenantry = createTenantry({ dataDir: dir, registry });
    open.push(tenantry);
    expect(await tenantry.provisioning.warmPool()).toEqual({ available: [], size: 0, refilling: false });
    await expect(tenantry.provisioning.refillWarmPool()).rejects.toThrow(TypeError);
    await expect(tenantry.provisioning.removeWarmDatabases()).rejects.toThrow(/no warm pool/);
  });
});
