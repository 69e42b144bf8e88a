/**
 * `tenantry.deploy`: plans show the SQL per tenant, execution fans out with bounded
 * concurrency, one transaction per tenant, failures reported per tenant, `stopOnError`,
 * re-planning when a tenant's schema moved, and the record in `_tenantry_deployments`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DeployError, SchemaError, createTenantry, fromHeader, memoryRegistry, schemaFingerprint } from '../src/index.js';
import type { DeployBundle, DeployProgress, Tenantry } from '../src/index.js';
import { tempDir, testTenantry } from './helpers/env.js';

const V1: DeployBundle = {
  manifest: { version: '1.0.0', objects: [{ name: 'notes', fields: [{ name: 'title', type: 'text', required: true }] }] },
  seed: { notes: [{ title: 'Welcome' }] },
};
const V2: DeployBundle = {
  manifest: {
    version: '1.1.0',
    objects: [
      { name: 'notes', fields: [{ name: 'title', type: 'text', required: true, unique: true }, { name: 'done', type: 'boolean', default: false }] },
      { name: 'tags', fields: [{ name: 'label', type: 'text' }] },
    ],
  },
  seed: { notes: [{ title: 'not inserted again' }], tags: [{ label: 'inbox' }] },
};

describe('tenantry.deploy', () => {
  const open: { tenantry: Tenantry; cleanup: () => void }[] = [];
  afterEach(async () => {
    for (const { tenantry, cleanup } of open.splice(0)) {
      await tenantry.close();
      cleanup();
    }
  });
  async function make(tenants: string[], options: Parameters<typeof createTenantry>[0] = {}) {
    const { dir, cleanup } = tempDir('tenantry-deploy-');
    const tenantry = createTenantry({ dataDir: dir, registry: memoryRegistry(), resolvers: [fromHeader()], ...options });
    open.push({ tenantry, cleanup });
    for (const orgId of tenants) await tenantry.provisioning.provisionTenant({ orgId });
    return tenantry;
  }
  const rows = async (tenantry: Tenantry, tenantId: string, sql: string) => (await (await tenantry.getTenantClient(tenantId)).execute(sql)).rows.map((r) => ({ ...r }));

  it('plans every active tenant and shows the SQL each one will run, changing nothing', async () => {
    const tenantry = await make(['acme', 'globex']);
    const plan = await tenantry.deploy.planDeployment(V1);
    expect(plan.deploymentId).toMatch(/^dep_\d{8}T\d{9}Z_[0-9a-f]{8}$/);
    expect(plan.version).toBe('1.0.0');
    expect(plan.tenants.map((t) => [t.tenantId, t.status])).toEqual([
      ['acme', 'ready'],
      ['globex', 'ready'],
    ]);
    const acme = plan.tenants[0]!;
    expect(acme.sql[0]).toMatch(/^CREATE TABLE "notes" \("id" UUID TEXT PRIMARY KEY NOT NULL DEFAULT \(.+\), "title" TEXT NOT NULL\)$/);
    expect(acme.sql.at(-1)).toBe(`INSERT INTO "notes" ("title") VALUES ('Welcome')`);
    expect(acme.seed).toEqual([`INSERT INTO "notes" ("title") VALUES ('Welcome')`]);
    expect(acme.objects).toEqual({ current: 0, target: 1 });
    expect(acme.rollback).toMatchObject({ strategy: 'snapshot', lossless: true });
    expect(plan.summary).toEqual({ tenants: 2, ready: 2, unchanged: 0, blocked: 0, statements: 4 });
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan); // plain JSON: can be stored and executed later
    expect(Object.keys((await tenantry.schema.introspect('acme')).tables)).toEqual([]);

    const only = await tenantry.deploy.planDeployment(V1, { tenants: ['globex'] });
    expect(only.tenants.map((t) => t.tenantId)).toEqual(['globex']);
  });

  it('executes across several tenants with bounded concurrency, seeds new objects, records each tenant and is idempotent', async () => {
    const ids = ['t1', 't2', 't3', 't4', 't5', 't6'];
    const tenantry = await make(ids);
    const plan = await tenantry.deploy.planDeployment(V1);
    const progress: DeployProgress[] = [];
    const result = await tenantry.deploy.executeDeployment(plan, {
      concurrency: 2,
      onProgress: (p) => {
        progress.push(p);
      },
    });
    expect(result.status).toBe('succeeded');
    expect(result.summary).toEqual({ applied: 6, unchanged: 0, failed: 0, notRun: 0 });
    expect(result.tenants.map((t) => t.tenantId)).toEqual(ids);
    expect(result.tenants.every((t) => t.status === 'applied' && t.snapshot && t.statementsExecuted === 2)).toBe(true);
    expect(progress.map((p) => p.done)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(progress.at(-1)).toMatchObject({ total: 6, succeeded: 6, failed: 0 });
    for (const id of ids) {
      expect((await rows(tenantry, id, 'select title from notes')).map((r) => r['title'])).toEqual(['Welcome']);
      const [record] = await rows(tenantry, id, 'select deployment_id, version, status, target_fingerprint, statements from _tenantry_deployments');
      expect(record).toMatchObject({ deployment_id: plan.deploymentId, version: '1.0.0', status: 'applied', target_fingerprint: plan.tenants[0]!.plan.targetFingerprint });
      expect(JSON.parse(String(record!['statements']))).toEqual(plan.tenants[0]!.sql);
    }
    expect(tenantry.stats().pool.leased).toBe(0);

    const again = await tenantry.deploy.executeDeployment(plan);
    expect(again.summary).toEqual({ applied: 0, unchanged: 6, failed: 0, notRun: 0 });
    expect((await rows(tenantry, 't1', 'select count(*) as n from notes'))[0]!['n']).toBe(1);

    // the next version: a rebuild of notes (unique), a new object seeded, notes not seeded again
    const next = await tenantry.deploy.executeDeployment(await tenantry.deploy.planDeployment(V2), { concurrency: 3 });
    expect(next.status).toBe('succeeded');
    expect(await rows(tenantry, 't3', 'select title, done from notes')).toEqual([{ title: 'Welcome', done: 0 }]);
    expect(await rows(tenantry, 't3', 'select label from tags')).toEqual([{ label: 'inbox' }]);
  });

  it('runs at most `concurrency` tenants at once', async () => {
    const ids = ['c1', 'c2', 'c3', 'c4', 'c5'];
    const tenantry = await make(ids);
    const plan = await tenantry.deploy.planDeployment(V1);
    let inFlight = 0;
    let peak = 0;
    const original = tenantry.quota.consume.bind(tenantry.quota);
    tenantry.quota.consume = (async (...args: Parameters<typeof original>) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      try {
        return await original(...args);
      } finally {
        inFlight--;
      }
    }) as typeof original;
    const result = await tenantry.deploy.executeDeployment(plan, { concurrency: 2 });
    expect(result.summary.applied).toBe(5);
    expect(peak).toBe(2);
  });

  it('rolls a failing tenant back alone and reports it; the others are deployed', async () => {
    const tenantry = await make(['acme', 'globex', 'initech']);
    await tenantry.deploy.executeDeployment(await tenantry.deploy.planDeployment(V1));
    await (await tenantry.getTenantClient('globex')).execute("insert into notes (title) values ('Welcome')"); // a duplicate: V2 makes title unique
    const before = await tenantry.schema.introspect('globex');
    const plan = await tenantry.deploy.planDeployment(V2);
    const result = await tenantry.deploy.executeDeployment(plan);
    expect(result.status).toBe('partial');
    expect(result.tenants.map((t) => [t.tenantId, t.status])).toEqual([
      ['acme', 'applied'],
      ['globex', 'failed'],
      ['initech', 'applied'],
    ]);
    const failed = result.tenants[1]!;
    expect(failed.error).toBeInstanceOf(SchemaError);
    expect(failed).toMatchObject({ code: 'UNIQUE_VIOLATION', snapshot: false });
    expect(failed.error).toMatchObject({ tenantId: 'globex', object: 'notes', field: 'title' });
    expect(schemaFingerprint(await tenantry.schema.introspect('globex'))).toBe(schemaFingerprint(before));
    expect(await rows(tenantry, 'globex', 'select count(*) as n from tags where 0').catch((e: unknown) => e)).toBeInstanceOf(Error);
    expect(await rows(tenantry, 'globex', `select status, error from _tenantry_deployments where deployment_id = '${plan.deploymentId}'`)).toEqual([
      { status: 'failed', error: expect.stringMatching(/unique/) },
    ]);
    expect((await tenantry.schema.introspect('acme')).tables['tags']).toBeDefined();
  });

  it('stopOnError starts no tenant after the first failure; the rest are not_run', async () => {
    const tenantry = await make(['a1', 'a2', 'a3', 'a4']);
    await tenantry.deploy.executeDeployment(await tenantry.deploy.planDeployment(V1));
    await (await tenantry.getTenantClient('a2')).execute("insert into notes (title) values ('Welcome')");
    const result = await tenantry.deploy.executeDeployment(await tenantry.deploy.planDeployment(V2), { concurrency: 1, stopOnError: true });
    expect(result.tenants.map((t) => t.status)).toEqual(['applied', 'failed', 'not_run', 'not_run']);
    expect(result.summary).toEqual({ applied: 1, unchanged: 0, failed: 1, notRun: 2 });
    expect(result.status).toBe('partial');
    expect((await tenantry.schema.introspect('a3')).tables['tags']).toBeUndefined();
  });

  it('blocks destructive plans unless allowDestructive, and validateBundle reports them as errors or warnings', async () => {
    const tenantry = await make(['acme']);
    await tenantry.deploy.executeDeployment(await tenantry.deploy.planDeployment(V2));
    const V3: DeployBundle = { manifest: { version: '2.0.0', objects: [{ name: 'notes', fields: [{ name: 'title', type: 'number' }] }] } };
    const strict = await tenantry.deploy.validateBundle(V3);
    expect(strict.valid).toBe(false);
    expect(strict.errors).toEqual([{ code: 'DESTRUCTIVE_CHANGE', tenantId: 'acme', message: expect.stringMatching(/would lose data.*object "tags" removed.*field "notes\.done" removed.*TEXT → REAL \(narrowing\)/) }]);
    const lenient = await tenantry.deploy.validateBundle(V3, { allowDestructive: true });
    expect(lenient.valid).toBe(true);
    expect(lenient.warnings.filter((w) => w.code === 'DESTRUCTIVE_CHANGE').map((w) => w.message)).toEqual([
      'object "tags" removed, with its rows',
      'field "notes.done" removed, with its values',
      'field "notes.title": type TEXT → REAL (narrowing), nullable, unique',
    ]);
    const invalid = await tenantry.deploy.validateBundle({ manifest: { version: '1', objects: [{ name: 'Bad', fields: [] }] } });
    expect(invalid).toMatchObject({ valid: false, errors: [{ code: 'INVALID_BUNDLE', path: 'manifest.objects[0].name' }] });

    const plan = await tenantry.deploy.planDeployment(V3);
    expect(plan.tenants[0]).toMatchObject({ status: 'blocked', error: { code: 'DESTRUCTIVE_CHANGE' } });
    const refused = await tenantry.deploy.executeDeployment(plan);
    expect(refused.tenants[0]!.error).toBeInstanceOf(DeployError);
    expect(refused).toMatchObject({ status: 'failed', tenants: [{ status: 'failed', code: 'DESTRUCTIVE_CHANGE' }] });
    const allowed = await tenantry.deploy.executeDeployment(await tenantry.deploy.planDeployment(V3, { allowDestructive: true }));
    expect(allowed.status).toBe('succeeded');
    expect(Object.keys((await tenantry.schema.introspect('acme')).tables)).toEqual(['notes']);
  });

  it('plans a tenant again when its schema changed since planning, or fails it with SCHEMA_CHANGED when replan is off', async () => {
    const tenantry = await make(['acme', 'globex']);
    const plan = await tenantry.deploy.planDeployment(V1);
    for (const id of ['acme', 'globex']) await (await tenantry.getTenantClient(id)).execute('create table legacy (x text)');
    const strict = await tenantry.deploy.executeDeployment(plan, { replan: false, snapshotRetention: { keep: 5 } });
    expect(strict.tenants.map((t) => t.code)).toEqual(['SCHEMA_CHANGED', 'SCHEMA_CHANGED']);
    expect(strict.tenants[0]!.error).toBeInstanceOf(SchemaError);
    const result = await tenantry.deploy.executeDeployment(await tenantry.deploy.planDeployment(V1, { allowDestructive: true }));
    expect(result.summary.applied).toBe(2);

    const plan2 = await tenantry.deploy.planDeployment(V2);
    await (await tenantry.getTenantClient('acme')).execute('create index notes_by_title on notes (title)'); // not in the bundle: dropped, not destructive
    await (await tenantry.getTenantClient('globex')).execute('alter table notes add column extra text'); // dropping it would be
    const replanned = await tenantry.deploy.executeDeployment(plan2);
    expect(replanned.tenants.map((t) => [t.tenantId, t.status, t.replanned, t.code])).toEqual([
      ['acme', 'applied', true, undefined],
      ['globex', 'failed', true, 'DESTRUCTIVE_CHANGE'],
    ]);
    expect((await tenantry.schema.introspect('acme')).tables['notes']!.indexes).toEqual([]);
    expect(schemaFingerprint(await tenantry.schema.introspect('acme'))).toBe(plan2.tenants[0]!.plan.targetFingerprint);
    expect((await tenantry.schema.introspect('globex')).tables['tags']).toBeUndefined();
  });

  it('blocks local tenants when there is no data folder for their snapshots, unless planned with snapshots: false', async () => {
    const env = await testTenantry({ resolvers: [fromHeader()] });
    try {
      await env.addTenant('acme');
      expect(env.tenantry.dataDir).toBeUndefined();
      const plan = await env.tenantry.deploy.planDeployment(V1, { allowDestructive: true });
      expect(plan.tenants[0]).toMatchObject({ status: 'blocked', error: { code: 'SNAPSHOT_UNAVAILABLE', message: expect.stringMatching(/createTenantry\(\{ dataDir \}\)/) } });
      const result = await env.tenantry.deploy.executeDeployment(await env.tenantry.deploy.planDeployment(V1, { allowDestructive: true, snapshots: false }));
      expect(result.tenants[0]).toMatchObject({ status: 'applied', snapshot: false });
      expect(await env.tenantry.deploy.pruneSnapshots()).toEqual([]);
    } finally {
      await env.close();
    }
  });

  it('refuses what is not a plan, and invalid options, before touching any tenant', async () => {
    const tenantry = await make(['acme']);
    const plan = await tenantry.deploy.planDeployment(V1);
    await expect(tenantry.deploy.executeDeployment({ ...plan, deploymentId: '../x' })).rejects.toMatchObject({ name: 'DeployError', code: 'INVALID_PLAN' });
    await expect(tenantry.deploy.executeDeployment(plan, { concurrency: 0 })).rejects.toThrow(TypeError);
    await expect(tenantry.deploy.executeDeployment(plan, { stopOnError: 'yes' as never })).rejects.toThrow(/stopOnError must be a boolean/);
    await expect(tenantry.deploy.planDeployment({ manifest: { version: '', objects: [] } })).rejects.toMatchObject({ name: 'SchemaError', code: 'INVALID_BUNDLE' });
    await expect(tenantry.deploy.planDeployment(V1, { tenants: 'acme' as never })).rejects.toThrow(/tenants must be an array/);
    const missing = await tenantry.deploy.planDeployment(V1, { tenants: ['nobody'] });
    expect(missing.tenants[0]).toMatchObject({ tenantId: 'nobody', status: 'blocked', error: { code: 'TENANT_NOT_FOUND' } });
    expect(Object.keys((await tenantry.schema.introspect('acme')).tables)).toEqual([]);
  });
});
