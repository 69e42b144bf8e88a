/**
 * `tenantry.deploy.rollbackDeployment`: local databases are restored from the `VACUUM INTO`
 * snapshot taken before the deploy (schema and every row, rowids included); the inverse plan is
 * the way back for other backends (forced here on file databases with `snapshots: false` or
 * `strategy: 'inverse'`, which run exactly the code path a `libsql:` tenant takes) and is
 * refused when it would lose data; a pruned snapshot is refused clearly.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@libsql/client';
import { afterEach, describe, expect, it } from 'vitest';
import { DeployError, createTenantry, fromHeader, memoryRegistry, schemaFingerprint } from '../src/index.js';
import type { DeployBundle, Tenantry } from '../src/index.js';
import { tempDir } from './helpers/env.js';

const BASE: DeployBundle = {
  manifest: {
    version: '1.0.0',
    objects: [
      { name: 'notes', fields: [{ name: 'title', type: 'text', required: true }, { name: 'score', type: 'number' }, { name: 'done', type: 'boolean' }] },
      { name: 'people', fields: [{ name: 'email', type: 'text' }], indexes: [{ fields: ['email'] }] },
    ],
  },
};
/** Adds a field (ALTER TABLE ADD COLUMN) and an object. */
const ADD_FIELD: DeployBundle = {
  manifest: {
    version: '1.1.0',
    objects: [
      { name: 'notes', fields: [...BASE.manifest.objects[0]!.fields, { name: 'body', type: 'text' }] },
      BASE.manifest.objects[1]!,
      { name: 'tags', fields: [{ name: 'label', type: 'text' }] },
    ],
  },
  seed: { tags: [{ label: 'seeded' }] },
};
/** Rebuilds notes (title unique, done required with a default, boolean → number widening). */
const REBUILD: DeployBundle = {
  manifest: {
    version: '2.0.0',
    objects: [
      {
        name: 'notes',
        fields: [
          { name: 'title', type: 'text', required: true, unique: true },
          { name: 'score', type: 'number' },
          { name: 'done', type: 'number', required: true, default: 0 },
        ],
      },
      BASE.manifest.objects[1]!,
    ],
  },
};

describe('rollbackDeployment', () => {
  const open: { tenantry: Tenantry; cleanup: () => void }[] = [];
  afterEach(async () => {
    for (const { tenantry, cleanup } of open.splice(0)) {
      await tenantry.close();
      cleanup();
    }
  });
  async function make(tenants: string[]) {
    const { dir, cleanup } = tempDir('tenantry-deploy-rollback-');
    const tenantry = createTenantry({ dataDir: dir, registry: memoryRegistry(), resolvers: [fromHeader()] });
    open.push({ tenantry, cleanup });
    for (const orgId of tenants) await tenantry.provisioning.provisionTenant({ orgId });
    const result = await tenantry.deploy.executeDeployment(await tenantry.deploy.planDeployment(BASE, { allowDestructive: true }));
    expect(result.status).toBe('succeeded');
    for (const [i, id] of tenants.entries()) {
      const db = await tenantry.getTenantClient(id);
      for (let n = 0; n < 50; n++) {
        await db.execute({ sql: 'insert into notes (title, score, done) values (?, ?, ?)', args: [`${id} note ${n} "quoted" 'x'`, n % 7 === 0 ? null : n * 1.5 + i, n % 3 === 0 ? 1 : n % 3 === 1 ? 0 : null] });
      }
      await db.execute({ sql: 'delete from notes where title like ?', args: ['% note 1_ %'] }); // gaps in the rowids
      await db.execute({ sql: 'insert into people (email) values (?), (?)', args: [`a@${id}.test`, null] });
    }
    return { tenantry, dir };
  }

  /** Every row of every user table, with its rowid, in rowid order. */
  async function snapshotOf(tenantry: Tenantry, tenantId: string) {
    const db = await tenantry.getTenantClient(tenantId);
    const schema = await tenantry.schema.introspect(tenantId);
    const out: Record<string, unknown[]> = {};
    for (const name of Object.keys(schema.tables)) {
      out[name] = (await db.execute(`select rowid as _rowid, * from "${name}" order by rowid`)).rows.map((r) => ({ ...r }));
    }
    return { fingerprint: schemaFingerprint(schema), schema: schema.tables, rows: out };
  }
  const withoutTime = (s: Awaited<ReturnType<typeof snapshotOf>>) => ({ ...s });

  it('restores schema and every row from the snapshot after an added field and object', async () => {
    const { tenantry } = await make(['acme', 'globex']);
    const before = { acme: await snapshotOf(tenantry, 'acme'), globex: await snapshotOf(tenantry, 'globex') };
    const plan = await tenantry.deploy.planDeployment(ADD_FIELD);
    expect(plan.tenants[0]!.plan.statements.map((s) => s.kind)).toEqual(['add_column', 'create_table']);
    const result = await tenantry.deploy.executeDeployment(plan);
    expect(result.status).toBe('succeeded');
    const db = await tenantry.getTenantClient('acme');
    await db.execute("update notes set body = 'written after the deploy', title = 'changed' where rowid = 1");
    await db.execute("insert into notes (title, body) values ('new', 'new')");

    const rollback = await tenantry.deploy.rollbackDeployment(plan.deploymentId);
    expect(rollback.tenants[0]!.error).toBeUndefined();
    expect(rollback).toMatchObject({ deploymentId: plan.deploymentId, status: 'succeeded', summary: { rolledBack: 2, unchanged: 0, failed: 0 } });
    expect(rollback.tenants.map((t) => [t.tenantId, t.status, t.strategy])).toEqual([
      ['acme', 'rolled_back', 'snapshot'],
      ['globex', 'rolled_back', 'snapshot'],
    ]);
    expect(withoutTime(await snapshotOf(tenantry, 'acme'))).toEqual(withoutTime(before.acme));
    expect(withoutTime(await snapshotOf(tenantry, 'globex'))).toEqual(withoutTime(before.globex));
    expect((await db.execute(`select status, rolled_back_at is not null as done from _tenantry_deployments where deployment_id = '${plan.deploymentId}'`)).rows.map((r) => ({ ...r }))).toEqual([
      { status: 'rolled_back', done: 1 },
    ]);
    // the pooled client keeps working, and a second rollback changes nothing
    await db.execute("insert into notes (title) values ('after the rollback')");
    const again = await tenantry.deploy.rollbackDeployment(plan.deploymentId);
    expect(again.tenants.map((t) => t.status)).toEqual(['unchanged', 'unchanged']);
    expect(tenantry.stats().pool.leased).toBe(0);
  });

  it('restores schema and every row from the snapshot after a table rebuild', async () => {
    const { tenantry } = await make(['acme']);
    const before = await snapshotOf(tenantry, 'acme');
    const plan = await tenantry.deploy.planDeployment(REBUILD);
    expect(plan.tenants[0]!.plan.statements.some((s) => s.kind === 'rebuild_copy')).toBe(true);
    await (await tenantry.getTenantClient('acme')).execute('update notes set done = 0 where done is null');
    const fixed = await snapshotOf(tenantry, 'acme');
    const result = await tenantry.deploy.executeDeployment(plan);
    expect(result.tenants[0]).toMatchObject({ status: 'applied', replanned: false, snapshot: true });
    expect((await tenantry.schema.introspect('acme')).tables['notes']!.columns.find((c) => c.name === 'title')!.unique).toBe(true);
    await (await tenantry.getTenantClient('acme')).execute('delete from notes where rowid % 2 = 0');

    const rollback = await tenantry.deploy.rollbackDeployment(plan.deploymentId);
    expect(rollback.status).toBe('succeeded');
    expect(await snapshotOf(tenantry, 'acme')).toEqual(fixed);
    expect(fixed.fingerprint).toBe(before.fingerprint);
    expect((await tenantry.schema.introspect('acme')).tables['people']!.indexes.map((i) => i.name)).toEqual(['people_email_idx']);
  });

  it('refuses clearly when the snapshot is gone, by retention or by hand', async () => {
    const { tenantry, dir } = await make(['acme']);
    const first = await tenantry.deploy.planDeployment(ADD_FIELD);
    await tenantry.deploy.executeDeployment(first);
    const file = join(dir, 'snapshots', first.deploymentId, 'acme.db');
    expect(existsSync(file)).toBe(true);
    rmSync(file);
    const refused = await tenantry.deploy.rollbackDeployment(first.deploymentId);
    expect(refused.status).toBe('failed');
    expect(refused.tenants[0]!.error).toBeInstanceOf(DeployError);
    expect(refused.tenants[0]).toMatchObject({ status: 'failed', strategy: 'snapshot', code: 'SNAPSHOT_MISSING' });
    expect(refused.tenants[0]!.error!.message).toMatch(/snapshot taken before deployment .* is gone/);
    expect(Object.keys((await tenantry.schema.introspect('acme')).tables).sort()).toEqual(['notes', 'people', 'tags']);

    // retention: the snapshots of deployments beyond the newest `keep` are deleted after a deploy
    const second = await tenantry.deploy.planDeployment(BASE, { allowDestructive: true });
    await new Promise((resolve) => setTimeout(resolve, 2));
    const result = await tenantry.deploy.executeDeployment(second, { snapshotRetention: { keep: 1 } });
    expect(result.prunedSnapshots).toContain(first.deploymentId);
    expect(existsSync(join(dir, 'snapshots', first.deploymentId))).toBe(false);
    expect(existsSync(join(dir, 'snapshots', second.deploymentId, 'acme.db'))).toBe(true);
    expect(await tenantry.deploy.pruneSnapshots({ keep: 1, maxAgeHours: 0 })).toEqual([second.deploymentId]);
    const gone = await tenantry.deploy.rollbackDeployment(second.deploymentId);
    expect(gone.tenants[0]).toMatchObject({ code: 'SNAPSHOT_MISSING' });
  });

  it('refuses a rollback once a later deployment changed the schema; rolling back newest first works', async () => {
    const { tenantry } = await make(['acme']);
    const before = await snapshotOf(tenantry, 'acme');
    const first = await tenantry.deploy.planDeployment(ADD_FIELD);
    await tenantry.deploy.executeDeployment(first);
    const afterFirst = await snapshotOf(tenantry, 'acme');
    const second = await tenantry.deploy.planDeployment(REBUILD, { allowDestructive: true });
    await (await tenantry.getTenantClient('acme')).execute('update notes set done = 0 where done is null');
    const afterFix = await snapshotOf(tenantry, 'acme');
    expect((await tenantry.deploy.executeDeployment(second)).status).toBe('succeeded');
    const refused = await tenantry.deploy.rollbackDeployment(first.deploymentId);
    expect(refused.tenants[0]).toMatchObject({ status: 'failed', code: 'SCHEMA_CHANGED' });
    expect((await tenantry.deploy.rollbackDeployment(second.deploymentId)).status).toBe('succeeded');
    expect(await snapshotOf(tenantry, 'acme')).toEqual(afterFix);
    expect(afterFix.fingerprint).toBe(afterFirst.fingerprint);
    expect((await tenantry.deploy.rollbackDeployment(first.deploymentId)).status).toBe('succeeded');
    const restored = await snapshotOf(tenantry, 'acme');
    expect(restored.fingerprint).toBe(before.fingerprint);
  });

  it('rolls back with the lossless inverse plan where no snapshot is taken (the path of libsql: and https: tenants)', async () => {
    const { tenantry } = await make(['acme']);
    const before = await snapshotOf(tenantry, 'acme');
    const plan = await tenantry.deploy.planDeployment(ADD_FIELD, { snapshots: false });
    expect(plan.tenants[0]!.rollback).toMatchObject({ strategy: 'inverse', lossless: true });
    expect(plan.tenants[0]!.rollback.inverse!.statements.map((s) => s.sql).slice(0, 2)).toEqual(['DROP TABLE "tags"', 'ALTER TABLE "notes" DROP COLUMN "body"']);
    const result = await tenantry.deploy.executeDeployment(plan);
    expect(result.tenants[0]).toMatchObject({ status: 'applied', snapshot: false });
    await (await tenantry.getTenantClient('acme')).execute("insert into notes (title, body) values ('written since', 'gone with the column')");
    const rollback = await tenantry.deploy.rollbackDeployment(plan.deploymentId);
    expect(rollback.tenants[0]).toMatchObject({ status: 'rolled_back', strategy: 'inverse' });
    const after = await snapshotOf(tenantry, 'acme');
    expect(after.fingerprint).toBe(before.fingerprint);
    // every row the tenant had is there unchanged; the row written since stays (without the dropped column)
    expect(after.rows['notes']!.slice(0, before.rows['notes']!.length)).toEqual(before.rows['notes']);
    expect(after.rows['notes']!.slice(before.rows['notes']!.length)).toEqual([expect.objectContaining({ title: 'written since' })]);
    expect(after.rows['people']).toEqual(before.rows['people']);
  });

  it('renames back with the inverse plan, and a snapshot deployment can be rolled back with strategy inverse', async () => {
    const { tenantry } = await make(['acme']);
    const before = await snapshotOf(tenantry, 'acme');
    const RENAME: DeployBundle = {
      manifest: {
        version: '1.2.0',
        objects: [
          { name: 'memos', renamedFrom: 'notes', fields: [{ name: 'heading', type: 'text', required: true, renamedFrom: 'title' }, { name: 'score', type: 'number' }, { name: 'done', type: 'boolean' }] },
          BASE.manifest.objects[1]!,
        ],
      },
    };
    const plan = await tenantry.deploy.planDeployment(RENAME);
    expect(plan.tenants[0]!.rollback).toMatchObject({ strategy: 'snapshot', lossless: true });
    await tenantry.deploy.executeDeployment(plan);
    expect(Object.keys((await tenantry.schema.introspect('acme')).tables).sort()).toEqual(['memos', 'people']);
    const rollback = await tenantry.deploy.rollbackDeployment(plan.deploymentId, { strategy: 'inverse' });
    expect(rollback.tenants[0]).toMatchObject({ status: 'rolled_back', strategy: 'inverse' });
    expect(await snapshotOf(tenantry, 'acme')).toEqual(before);
  });

  it('refuses the inverse plan when it would lose data: a destructive deploy, or a way back that narrows a type', async () => {
    const { tenantry } = await make(['acme']);
    const DROP: DeployBundle = { manifest: { version: '3.0.0', objects: [BASE.manifest.objects[0]!] } };
    const dropPlan = await tenantry.deploy.planDeployment(DROP, { snapshots: false, allowDestructive: true });
    expect(dropPlan.tenants[0]!.rollback).toMatchObject({ strategy: 'inverse', lossless: false, reason: expect.stringMatching(/object "people" removed/) });
    const warned = await tenantry.deploy.validateBundle(DROP, { allowDestructive: true });
    expect(warned.warnings.map((w) => w.code)).toEqual(['DESTRUCTIVE_CHANGE']);
    const WIDEN: DeployBundle = {
      manifest: { version: '3.1.0', objects: [{ name: 'notes', fields: [{ name: 'title', type: 'text', required: true }, { name: 'score', type: 'number' }, { name: 'done', type: 'text' }] }, BASE.manifest.objects[1]!] },
    };
    const widen = await tenantry.deploy.planDeployment(WIDEN, { snapshots: false });
    expect(widen.tenants[0]!.plan.destructive).toBe(false);
    expect(widen.tenants[0]!.rollback).toMatchObject({ lossless: false, reason: expect.stringMatching(/narrows the type of "notes.done"/) });
    const before = await snapshotOf(tenantry, 'acme');
    await tenantry.deploy.executeDeployment(widen);
    const refused = await tenantry.deploy.rollbackDeployment(widen.deploymentId);
    expect(refused.tenants[0]).toMatchObject({ status: 'failed', strategy: 'inverse', code: 'ROLLBACK_NOT_LOSSLESS' });
    expect(refused.tenants[0]!.error!.message).toMatch(/cannot be rolled back without a snapshot: going back narrows/);
    expect((await snapshotOf(tenantry, 'acme')).fingerprint).not.toBe(before.fingerprint);
  });

  it('takes no snapshot of a libsql: tenant and rolls it back with the inverse plan (a libsql: URL served by a local file client)', async () => {
    const { dir, cleanup } = tempDir('tenantry-deploy-remote-');
    // the libSQL engine on a file stands in for the server behind libsql:// URLs: the tenant's connection URL is the remote one
    const tenantry = createTenantry({
      registry: memoryRegistry([{ id: 'remote', status: 'active' }]),
      resolvers: [fromHeader()],
      databases: { urlTemplate: 'libsql://{tenant}-myorg.turso.io' },
      createClient: ({ url, ...rest }) => createClient({ ...rest, url: url.startsWith('libsql://') ? pathToFileURL(join(dir, `${new URL(url).hostname}.db`)).href : url }),
    });
    open.push({ tenantry, cleanup });
    expect(tenantry.dataDir).toBeUndefined();
    await tenantry.deploy.executeDeployment(await tenantry.deploy.planDeployment(BASE));
    await (await tenantry.getTenantClient('remote')).execute("insert into notes (title, score) values ('kept', 1.5)");
    const before = await snapshotOf(tenantry, 'remote');
    const plan = await tenantry.deploy.planDeployment(ADD_FIELD);
    expect(plan.tenants[0]).toMatchObject({ status: 'ready', rollback: { strategy: 'inverse', lossless: true } });
    const result = await tenantry.deploy.executeDeployment(plan);
    expect(result.tenants[0]).toMatchObject({ status: 'applied', snapshot: false });
    const rollback = await tenantry.deploy.rollbackDeployment(plan.deploymentId);
    expect(rollback.tenants[0]).toMatchObject({ status: 'rolled_back', strategy: 'inverse' });
    expect(await snapshotOf(tenantry, 'remote')).toEqual(before);

    const destructive = await tenantry.deploy.planDeployment({ manifest: { version: '9', objects: [BASE.manifest.objects[0]!] } }, { allowDestructive: true });
    await tenantry.deploy.executeDeployment(destructive);
    const refused = await tenantry.deploy.rollbackDeployment(destructive.deploymentId);
    expect(refused.tenants[0]).toMatchObject({ status: 'failed', strategy: 'inverse', code: 'ROLLBACK_NOT_LOSSLESS' });
    expect(refused.tenants[0]!.error!.message).toMatch(/the deploy itself loses data \(object "people" removed, with its rows\)/);
  });

  it('says when a deployment is unknown, and refuses ids that are not deployment ids', async () => {
    const { tenantry } = await make(['acme']);
    await expect(tenantry.deploy.rollbackDeployment('dep_20260101T000000000Z_00000000')).rejects.toMatchObject({ name: 'DeployError', code: 'DEPLOYMENT_NOT_FOUND' });
    await expect(tenantry.deploy.rollbackDeployment('../../etc/passwd')).rejects.toThrow(TypeError);
    await expect(tenantry.deploy.rollbackDeployment('dep_20260101T000000000Z_00000000', { tenants: ['acme'] })).rejects.toMatchObject({ code: 'DEPLOYMENT_NOT_FOUND' });
  });
});
