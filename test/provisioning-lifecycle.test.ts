import { afterEach, describe, expect, it } from 'vitest';
import {
  TenantProvisioningResultSchema,
  createTenantry,
  fromHeader,
  getTenantClient,
  memoryRegistry,
} from '../src/index.js';
import type { ITursoPlatformService, TenantRegistry, Tenantry, TenantryOptions } from '../src/index.js';
import { localPlatform } from '../src/platform/local.js';
import { harness } from './helpers/adapters.js';
import { tempDir } from './helpers/env.js';

const MIGRATIONS = [
  { id: '0001_notes', sql: 'create table notes (id integer primary key, text text not null);' },
  { id: '0002_tags', sql: 'create table tags (name text primary key);' },
];

describe('provisioning and lifecycle', () => {
  const open: { tenantry: Tenantry; cleanup: () => void }[] = [];
  afterEach(async () => {
    for (const { tenantry, cleanup } of open.splice(0)) {
      await tenantry.close();
      cleanup();
    }
  });
  const make = (options: TenantryOptions = {}) => {
    const { dir, cleanup } = tempDir();
    const tenantry = createTenantry({
      dataDir: dir,
      registry: memoryRegistry(),
      resolvers: [fromHeader()],
      provisioning: { migrations: MIGRATIONS, seed: "insert into notes (text) values ('welcome')" },
      ...options,
    });
    open.push({ tenantry, cleanup });
    return { tenantry, dir };
  };

  it('provisions a tenant that serves requests at once, with every step recorded', async () => {
    const { tenantry } = make();
    const steps: string[] = [];
    tenantry.on('provisioning:step', ({ step }) => steps.push(`${step.name}:${step.status}`));
    const result = await tenantry.provisioning.provisionTenant({ orgId: 'acme', plan: 'pro', region: 'eu-west' });
    expect(TenantProvisioningResultSchema.parse(result)).toMatchObject({ tenantId: 'acme', status: 'active', plan: 'pro', region: 'eu-west' });
    expect(result.connectionUrl).toMatch(/^file:.*acme\.db$/);
    expect(result.steps.map((s) => `${s.name}:${s.status}`)).toEqual([
      'validate_request:completed',
      'create_database:completed',
      'create_token:completed',
      'apply_migrations:completed',
      'seed_data:completed',
      'register_tenant:completed',
    ]);
    expect(steps).toEqual(result.steps.map((s) => `${s.name}:${s.status}`));
    expect(result.totalDurationMs).toBeGreaterThanOrEqual(0);
    expect(result.provisionedAt).toBeDefined();
    const app = await harness('fetch', tenantry);
    const res = await tenantry.handle(new Request('http://x/', { headers: { 'x-tenant-id': 'acme' } }), async () => {
      const db = await getTenantClient();
      return Response.json((await db.execute('select text from notes')).rows);
    });
    expect(await res.json()).toEqual([{ text: 'welcome' }]);
    await app.close();
  });

  it('is idempotent: provisioning the same orgId again returns the existing tenant', async () => {
    const { tenantry } = make();
    await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    const again = await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    expect(again.status).toBe('active');
    expect(again.steps.every((s) => s.status === 'skipped')).toBe(true);
  });

  it('refuses an invalid orgId before anything is created', async () => {
    const { tenantry, dir } = make();
    await expect(tenantry.provisioning.provisionTenant({ orgId: 'Acme Corp' })).rejects.toMatchObject({ code: 'INVALID_TENANT_ID' });
    await expect(tenantry.provisioning.provisionTenant({ orgId: '' })).rejects.toThrow(TypeError);
    expect(await tenantry.registry.list()).toEqual([]);
    expect(await localPlatform({ dir: `${dir}/tenants` }).listDatabases()).toEqual([]);
  });

  const failures: [string, (p: ITursoPlatformService, r: TenantRegistry) => { platform?: ITursoPlatformService; registry?: TenantRegistry; options?: TenantryOptions }][] = [
    ['create_database', (p) => ({ platform: { ...bind(p), createDatabase: () => Promise.reject(new Error('platform down')) } })],
    ['create_token', (p) => ({ platform: { ...bind(p), createToken: () => Promise.reject(new Error('token service down')) } })],
    ['apply_migrations', () => ({ options: { provisioning: { migrations: [{ id: '0001', sql: 'create table broken (' }] } } })],
    ['seed_data', () => ({ options: { provisioning: { seed: 'insert into nowhere values (1)' } } })],
    [
      'register_tenant',
      (_p, r) => ({
        registry: { ...bind(r), put: (record) => (record.status === 'active' ? Promise.reject(new Error('control plane down')) : r.put(record)) },
      }),
    ],
  ];
  it.each(failures)('undoes everything when %s fails: no orphan database, record failed', async (failing, inject) => {
    const { dir, cleanup } = tempDir();
    const platform = localPlatform({ dir: `${dir}/tenants` });
    const registry = memoryRegistry();
    const injected = inject(platform, registry);
    const tenantry = createTenantry({
      dataDir: dir,
      registry: injected.registry ?? registry,
      platform: injected.platform ?? platform,
      resolvers: [fromHeader()],
      provisioning: { migrations: MIGRATIONS },
      ...injected.options,
    });
    open.push({ tenantry, cleanup });
    const result = await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    expect(result.status).toBe('failed');
    expect(result.error).toBeTruthy();
    expect(result.steps.find((s) => s.status === 'failed')?.name).toBe(failing);
    expect(await platform.listDatabases()).toEqual([]);
    expect((await registry.get('acme'))?.status).toBe('failed');
  });

  it('finishes on retry a provisioning that crashed half-way', async () => {
    const { tenantry, dir } = make();
    const platform = localPlatform({ dir: `${dir}/tenants` });
    await tenantry.registry.put({ id: 'acme', status: 'provisioning' });
    await platform.createDatabase({ name: 'acme' }); // left by the crashed attempt
    const result = await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    expect(result.status).toBe('active');
    expect((await platform.listDatabases()).map((d) => d.name)).toEqual(['acme']);
  });

  it('suspends (requests refused, tokens revoked) and resumes (served again)', async () => {
    const { tenantry } = make();
    await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    const before = (await tenantry.registry.get('acme'))!.db.authToken;
    const app = await harness('hono', tenantry);
    expect((await app.request('/whoami', { headers: { 'x-tenant-id': 'acme' } })).status).toBe(200);
    expect((await tenantry.provisioning.suspendTenant('acme')).status).toBe('suspended');
    expect((await app.request('/whoami', { headers: { 'x-tenant-id': 'acme' } })).body.code).toBe('TENANT_SUSPENDED');
    expect((await tenantry.registry.get('acme'))!.db.authToken).toBeUndefined();
    expect((await tenantry.provisioning.resumeTenant('acme')).status).toBe('active');
    expect((await app.request('/whoami', { headers: { 'x-tenant-id': 'acme' } })).status).toBe(200);
    const after = (await tenantry.registry.get('acme'))!.db.authToken;
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
  });

  it('keeps suspended tenants readable with a read-only token in read-only mode', async () => {
    const { tenantry, dir } = make({ suspendedAccess: 'read-only' });
    await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    await tenantry.provisioning.suspendTenant('acme');
    const token = (await tenantry.registry.get('acme'))!.db.authToken!;
    const platform = localPlatform({ dir: `${dir}/tenants` });
    const claims = await platform.verifyToken('acme', token);
    expect(claims).toMatchObject({ a: 'ro' });
    const res = await tenantry.handle(new Request('http://x/', { headers: { 'x-tenant-id': 'acme' } }), async () =>
      Response.json((await (await getTenantClient()).execute('select count(*) as n from notes')).rows[0]),
    );
    expect(await res.json()).toEqual({ n: 1 });
  });

  it('destroys after the grace period, or immediately', async () => {
    let now = Date.UTC(2026, 11, 1);
    const { tenantry, dir } = make({ now: () => now, registry: memoryRegistry([], { now: () => now }), provisioning: { gracePeriodHours: 72 } });
    const platform = localPlatform({ dir: `${dir}/tenants` });
    await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    await tenantry.provisioning.provisionTenant({ orgId: 'globex' });
    expect((await tenantry.provisioning.destroyTenant('acme')).status).toBe('destroying');
    const app = await harness('fetch', tenantry);
    expect((await app.request('/whoami', { headers: { 'x-tenant-id': 'acme' } })).status).toBe(503);
    now += 71 * 3_600_000;
    expect(await tenantry.provisioning.purgeExpired()).toEqual([]);
    now += 2 * 3_600_000;
    expect(await tenantry.provisioning.purgeExpired()).toEqual(['acme']);
    expect(await tenantry.registry.get('acme')).toBeUndefined();
    expect((await platform.listDatabases()).map((d) => d.name)).toEqual(['globex']);
    await tenantry.provisioning.destroyTenant('globex', { immediate: true });
    expect(await platform.listDatabases()).toEqual([]);
    await expect(tenantry.provisioning.getTenantStatus('globex')).rejects.toMatchObject({ code: 'TENANT_NOT_FOUND' });
  });

  it('changes quotas on the next request after a plan migration', async () => {
    const { tenantry } = make({ plans: { free: { apiRateLimit: 10 }, pro: { apiRateLimit: 1000 }, enterprise: {} } });
    await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    expect((await tenantry.resolveTenant({ tenantId: 'acme' })).tenantQuotas.apiRateLimit).toBe(10);
    expect((await tenantry.provisioning.migrateTenantPlan('acme', 'pro')).plan).toBe('pro');
    expect((await tenantry.resolveTenant({ tenantId: 'acme' })).tenantQuotas.apiRateLimit).toBe(1000);
    await expect(tenantry.provisioning.migrateTenantPlan('acme', 'gold' as never)).rejects.toThrow(TypeError);
  });

  it('refuses to provision without a platform when tenant databases are not the embedded default', async () => {
    const tenantry = createTenantry({ registry: memoryRegistry(), databases: { urlTemplate: 'libsql://{tenant}-org.turso.io' } });
    open.push({ tenantry, cleanup: () => {} });
    const result = await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/no platform configured/);
  });
});

describe('tenantry.migrate()', () => {
  it('migrates every active tenant, reports a broken one, resumes, and refuses edited migrations', async () => {
    const { dir, cleanup } = tempDir();
    const tenantry = createTenantry({ dataDir: dir, registry: memoryRegistry(), resolvers: [fromHeader()] });
    for (let i = 0; i < 20; i++) await tenantry.provisioning.provisionTenant({ orgId: `t-${i}` });
    await tenantry.withTenant('t-7', async () => (await getTenantClient()).execute('create table notes (x)'));
    const first = await tenantry.migrate({ migrations: MIGRATIONS, concurrency: 4 });
    expect(first.succeeded).toHaveLength(19);
    expect(first.failed.map((f) => f.tenantId)).toEqual(['t-7']);
    await tenantry.withTenant('t-7', async () => (await getTenantClient()).execute('drop table notes'));
    const second = await tenantry.migrate({ migrations: MIGRATIONS });
    expect(second.skipped).toHaveLength(19);
    expect(second.succeeded.map((s) => s.tenantId)).toEqual(['t-7']);
    const edited = await tenantry.migrate({ migrations: [{ ...MIGRATIONS[0]!, sql: 'create table notes (changed);' }, MIGRATIONS[1]!] });
    expect(edited.failed).toHaveLength(20);
    expect(edited.failed[0]!.error.message).toMatch(/checksum/i);
    await tenantry.close();
    cleanup();
  });
});

/** An object's methods bound to it, so a spread copy keeps working. */
function bind<T extends object>(target: T): T {
  const out: Record<string, unknown> = {};
  let proto: object | null = target;
  while (proto !== null && proto !== Object.prototype) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const value = (target as Record<string, unknown>)[key];
      if (key !== 'constructor' && typeof value === 'function' && !(key in out)) out[key] = value.bind(target);
    }
    proto = Object.getPrototypeOf(proto);
  }
  for (const key of Object.keys(target)) if (!(key in out)) out[key] = (target as Record<string, unknown>)[key];
  return out as T;
}
