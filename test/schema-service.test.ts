import { afterEach, describe, expect, it } from 'vitest';
import { SchemaError, createTenantry, fromHeader, getTenantClient, memoryRegistry, schemaFingerprint } from '../src/index.js';
import type { DeployBundle, Tenantry } from '../src/index.js';
import { tempDir } from './helpers/env.js';

const V1: DeployBundle = {
  manifest: { version: '1.0.0', objects: [{ name: 'notes', fields: [{ name: 'title', type: 'text', required: true }] }] },
};
const V2: DeployBundle = {
  manifest: {
    version: '1.1.0',
    objects: [{ name: 'notes', fields: [{ name: 'title', type: 'text', required: true, unique: true }, { name: 'done', type: 'boolean', default: false }] }],
  },
};

describe('tenantry.schema', () => {
  const open: { tenantry: Tenantry; cleanup: () => void }[] = [];
  afterEach(async () => {
    for (const { tenantry, cleanup } of open.splice(0)) {
      await tenantry.close();
      cleanup();
    }
  });
  const make = (options: Parameters<typeof createTenantry>[0] = {}) => {
    const { dir, cleanup } = tempDir('tenantry-schema-service-');
    const tenantry = createTenantry({ dataDir: dir, registry: memoryRegistry(), resolvers: [fromHeader()], ...options });
    open.push({ tenantry, cleanup });
    return tenantry;
  };

  /** introspect → diff → generate → apply on one tenant, through the instance's pool. */
  async function deploy(tenantry: Tenantry, tenantId: string, bundle: DeployBundle) {
    const current = await tenantry.schema.introspect(tenantId);
    const diff = tenantry.schema.diff(current, bundle);
    const plan = tenantry.schema.generateMigrations(diff);
    const result = await tenantry.schema.applyMigrations(tenantId, plan);
    return { current, diff, plan, result };
  }

  it("deploys a bundle to a provisioned tenant's database, leaving tenantry's own tables alone", async () => {
    const tenantry = make({ provisioning: { migrations: [{ id: '0001', sql: 'create table audit (at text)' }] } });
    await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    const { current, plan, result } = await deploy(tenantry, 'acme', V1);
    expect(Object.keys(current.tables)).toEqual(['audit']); // not _tenantry_migrations
    expect(plan.statements.map((s) => s.kind)).toEqual(['drop_table', 'create_table', 'check_foreign_keys', 'check_foreign_keys', 'check_foreign_keys', 'check_foreign_keys']);
    expect(result).toMatchObject({ success: true, statementsExecuted: plan.statements.length });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    await tenantry.withTenant('acme', async () => {
      const db = await getTenantClient();
      await db.execute("insert into notes (title) values ('hello')");
      expect((await db.execute("select name from sqlite_master where name = '_tenantry_migrations'")).rows).toHaveLength(1);
    });
    const second = await deploy(tenantry, 'acme', V2);
    expect(second.plan.statements.some((s) => s.kind === 'rebuild_copy')).toBe(true);
    const after = await tenantry.schema.introspect('acme');
    expect(schemaFingerprint(after)).toBe(second.plan.targetFingerprint);
    expect(tenantry.stats().pool.leased).toBe(0);
  });

  it('deploys each tenant in its own transaction: one tenant failing leaves the other changed and itself untouched', async () => {
    const tenantry = make();
    await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    await tenantry.provisioning.provisionTenant({ orgId: 'globex' });
    await deploy(tenantry, 'acme', V1);
    await deploy(tenantry, 'globex', V1);
    await tenantry.withTenant('globex', async () => {
      await (await getTenantClient()).execute("insert into notes (title) values ('dup'), ('dup')");
    });
    await deploy(tenantry, 'acme', V2);
    const before = await tenantry.schema.introspect('globex');
    const error = await deploy(tenantry, 'globex', V2).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(SchemaError);
    expect(error).toMatchObject({ code: 'UNIQUE_VIOLATION', tenantId: 'globex', object: 'notes', field: 'title' });
    expect((error as Error).message).toMatch(/^tenant "globex": cannot make field "title" of object "notes" unique/);
    expect(schemaFingerprint(await tenantry.schema.introspect('globex'))).toBe(schemaFingerprint(before));
    expect((await tenantry.schema.introspect('acme')).tables['notes']!.columns.map((c) => c.name)).toEqual(['id', 'title', 'done']);
    expect(tenantry.stats().pool.leased).toBe(0);
  });

  it('refuses unknown tenants, invalid ids and suspended tenants with coded errors', async () => {
    const tenantry = make({ suspendedAccess: 'read-only' });
    await expect(tenantry.schema.introspect('nobody')).rejects.toMatchObject({ code: 'TENANT_NOT_FOUND' });
    await expect(tenantry.schema.introspect('Not An Id')).rejects.toMatchObject({ code: 'INVALID_TENANT_ID' });
    await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    const plan = tenantry.schema.generateMigrations(tenantry.schema.diff(await tenantry.schema.introspect('acme'), V1));
    await tenantry.provisioning.suspendTenant('acme');
    expect(Object.keys((await tenantry.schema.introspect('acme')).tables)).toEqual([]); // read-only: reads work
    await expect(tenantry.schema.applyMigrations('acme', plan)).rejects.toMatchObject({ code: 'TENANT_SUSPENDED' });
  });

  it('validates bundles in diff, naming the path', () => {
    const tenantry = make();
    expect(() => tenantry.schema.diff({ tables: {} }, { manifest: { version: '1', objects: [{ name: 'Bad', fields: [] }] } })).toThrow(/manifest\.objects\[0\]\.name/);
    expect(() => tenantry.schema.generateMigrations({} as never)).toThrow(SchemaError);
  });
});
