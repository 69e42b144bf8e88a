/**
 * Deploys and apps share a tenant database: a deploy's scope is the tenant's own schema. The
 * tables of installed apps are neither planned, dropped, fingerprinted nor restored by a deploy
 * (so a bundle that does not list them leaves them alone, and a rollback of a deploy keeps an
 * app installed after it); a bundle declaring an app's object is blocked (`OBJECT_CONFLICT`);
 * tables kept by `uninstallApp(..., { keepData: true })` are the tenant's from then on.
 */
import { describe, expect, it } from 'vitest';
import { APPS_TABLE, DeployError } from '../src/index.js';
import type { DeployBundle, Tenantry } from '../src/index.js';
import { CRM_1, CRM_1_1, appTenantries, sql, tableNames, tenant } from './helpers/apps.js';

const BASE: DeployBundle = {
  manifest: { version: '1.0.0', objects: [{ name: 'notes', fields: [{ name: 'title', type: 'text', required: true }] }] },
};
/** Adds a field to notes and a new object. */
const NEXT: DeployBundle = {
  manifest: {
    version: '1.1.0',
    objects: [
      { name: 'notes', fields: [{ name: 'title', type: 'text', required: true }, { name: 'body', type: 'text' }] },
      { name: 'tags', fields: [{ name: 'label', type: 'text' }] },
    ],
  },
};

/** Every row of the crm app's tables and its record, to compare before and after. */
async function appData(tenantry: Tenantry, id: string) {
  return {
    contacts: await sql(tenantry, id, 'select rowid as _rowid, * from contacts order by rowid'),
    companies: await sql(tenantry, id, 'select rowid as _rowid, * from companies order by rowid'),
    record: await sql(tenantry, id, `select name, version, status from ${APPS_TABLE}`),
    indexes: (await sql(tenantry, id, "select name from sqlite_master where type = 'index' and tbl_name = 'contacts' order by name")).map((r) => r['name']),
  };
}

/** A tenant with crm installed and a few rows of its own in the app's tables. */
async function withCrm(tenantry: Tenantry): Promise<string> {
  const id = await tenant(tenantry);
  await tenantry.apps.installApp(CRM_1, id);
  await sql(tenantry, id, "insert into contacts (email, name) values ('ann@acme.test', 'Ann'), ('bob@acme.test', 'Bob')");
  await sql(tenantry, id, "insert into companies (title) values ('Initech')");
  return id;
}

describe('deploys beside installed apps', () => {
  const make = appTenantries();

  it("leaves an installed app's tables out of the plan: not dropped, even with allowDestructive", async () => {
    const tenantry = make();
    const id = await withCrm(tenantry);
    const before = await appData(tenantry, id);
    expect(before.contacts).toHaveLength(2);

    const check = await tenantry.deploy.validateBundle(BASE);
    expect(check).toMatchObject({ valid: true, errors: [], warnings: [] });
    for (const allowDestructive of [false, true]) {
      const plan = await tenantry.deploy.planDeployment(BASE, { allowDestructive });
      const t = plan.tenants[0]!;
      expect(t.error).toBeUndefined();
      expect(t).toMatchObject({ status: 'ready', objects: { current: 0, target: 1 } });
      expect(t.sql.join('\n')).not.toMatch(/contacts|companies/);
      expect(t.changes.map((c) => c.description).join('\n')).not.toMatch(/contacts|companies/);
    }
    const result = await tenantry.deploy.executeDeployment(await tenantry.deploy.planDeployment(BASE, { allowDestructive: true }));
    expect(result.status).toBe('succeeded');
    expect(await tableNames(tenantry, id)).toEqual(expect.arrayContaining(['companies', 'contacts', 'notes', APPS_TABLE]));
    expect(await appData(tenantry, id)).toEqual(before);

    // the app's tables change without disturbing the deploy's records: an upgrade, then the next deploy plans only its own
    await tenantry.apps.upgradeApp(CRM_1_1, id);
    const next = await tenantry.deploy.planDeployment(NEXT);
    expect(next.tenants[0]).toMatchObject({ status: 'ready', objects: { current: 1, target: 2 } });
    expect(next.tenants[0]!.plan.statements.map((s) => s.object)).toEqual(['notes', 'tags']);
    expect((await tenantry.deploy.executeDeployment(next)).tenants[0]).toMatchObject({ status: 'applied', replanned: false });
    expect((await tenantry.apps.listApps(id)).map((a) => `${a.name}@${a.version}`)).toEqual(['crm@1.1.0']);
    expect((await sql(tenantry, id, 'select email, full_name from contacts order by rowid')).map((r) => r['full_name'])).toEqual(['Ann', 'Bob']);
  });

  it("blocks a bundle that declares an installed app's object, previous name or index name (OBJECT_CONFLICT)", async () => {
    const tenantry = make();
    const id = await withCrm(tenantry);
    const before = await appData(tenantry, id);
    const taking: DeployBundle = {
      manifest: { version: '2.0.0', objects: [...BASE.manifest.objects, { name: 'contacts', fields: [{ name: 'email', type: 'text' }] }] },
    };
    const plan = await tenantry.deploy.planDeployment(taking, { allowDestructive: true });
    expect(plan.tenants[0]).toMatchObject({ status: 'blocked', sql: [], error: { code: 'OBJECT_CONFLICT' } });
    expect(plan.tenants[0]!.error!.message).toMatch(/object "contacts" belongs to installed app "crm"/);
    expect(plan.summary).toMatchObject({ blocked: 1, ready: 0 });
    const check = await tenantry.deploy.validateBundle(taking);
    expect(check.valid).toBe(false);
    expect(check.errors).toEqual([expect.objectContaining({ code: 'OBJECT_CONFLICT', tenantId: id })]);
    const result = await tenantry.deploy.executeDeployment(plan);
    expect(result.tenants[0]).toMatchObject({ status: 'failed', code: 'OBJECT_CONFLICT' });
    expect(result.tenants[0]!.error).toBeInstanceOf(DeployError);

    const renaming: DeployBundle = { manifest: { version: '2.0.0', objects: [{ name: 'people', renamedFrom: 'companies', fields: [{ name: 'title', type: 'text' }] }] } };
    const renamed = await tenantry.deploy.planDeployment(renaming, { allowDestructive: true });
    expect(renamed.tenants[0]).toMatchObject({ status: 'blocked', error: { code: 'OBJECT_CONFLICT' } });
    expect(renamed.tenants[0]!.error!.message).toMatch(/renamed from "companies", which belongs to installed app "crm"/);

    const indexed: DeployBundle = {
      manifest: { version: '2.0.0', objects: [{ name: 'notes', fields: [{ name: 'title', type: 'text' }], indexes: [{ name: 'contacts_name_idx', fields: ['title'] }] }] },
    };
    const index = await tenantry.deploy.planDeployment(indexed);
    expect(index.tenants[0]).toMatchObject({ status: 'blocked', error: { code: 'OBJECT_CONFLICT' } });
    expect(index.tenants[0]!.error!.message).toMatch(/index "contacts_name_idx" of object "notes" belongs to installed app "crm"/);

    expect(await appData(tenantry, id)).toEqual(before);
    expect(await tableNames(tenantry, id)).not.toContain('notes');
  });

  it('keeps an app installed after a deploy through the rollback of that deploy (snapshot and inverse)', async () => {
    for (const snapshots of [true, false]) {
      const tenantry = make();
      const id = await tenant(tenantry);
      expect((await tenantry.deploy.executeDeployment(await tenantry.deploy.planDeployment(BASE))).status).toBe('succeeded');
      await sql(tenantry, id, "insert into notes (title) values ('kept')");
      const plan = await tenantry.deploy.planDeployment(NEXT, { snapshots });
      expect((await tenantry.deploy.executeDeployment(plan)).tenants[0]).toMatchObject({ status: 'applied', snapshot: snapshots });

      await tenantry.apps.installApp(CRM_1, id);
      await sql(tenantry, id, "insert into contacts (email, name) values ('ann@acme.test', 'Ann')");
      const app = await appData(tenantry, id);

      const rollback = await tenantry.deploy.rollbackDeployment(plan.deploymentId);
      expect(rollback.tenants[0]!.error).toBeUndefined();
      expect(rollback.tenants[0]).toMatchObject({ status: 'rolled_back', strategy: snapshots ? 'snapshot' : 'inverse' });
      // the deploy's changes are undone...
      const schema = await tenantry.schema.introspect(id);
      expect(schema.tables['notes']!.columns.map((c) => c.name)).toEqual(['id', 'title']);
      expect(schema.tables['tags']).toBeUndefined();
      expect((await sql(tenantry, id, 'select title from notes')).map((r) => r['title'])).toEqual(['kept']);
      // ...and the app, its rows, indexes and record are as they were
      expect(await appData(tenantry, id)).toEqual(app);
      expect((await tenantry.apps.listApps(id)).map((a) => a.name)).toEqual(['crm']);
      await tenantry.apps.upgradeApp(CRM_1_1, id); // the app is still whole: it can be upgraded
    }
  });

  it('does not bring back the tables of an app uninstalled after the deploy when rolling it back', async () => {
    const tenantry = make();
    const id = await withCrm(tenantry);
    const plan = await tenantry.deploy.planDeployment(NEXT);
    expect((await tenantry.deploy.executeDeployment(plan)).tenants[0]).toMatchObject({ status: 'applied', snapshot: true });
    await tenantry.apps.uninstallApp('crm', id);
    const rollback = await tenantry.deploy.rollbackDeployment(plan.deploymentId);
    expect(rollback.tenants[0]!.error).toBeUndefined();
    expect(rollback.tenants[0]).toMatchObject({ status: 'rolled_back', strategy: 'snapshot' });
    expect(await tableNames(tenantry, id)).toEqual([APPS_TABLE, '_tenantry_deployments']);
    expect(await tenantry.apps.listApps(id, { includeDetached: true })).toEqual([]);
  });

  it('refuses to roll back a deploy whose dropped table an app installed since holds, changing nothing', async () => {
    const tenantry = make();
    const id = await tenant(tenantry);
    const own: DeployBundle = { manifest: { version: '1.0.0', objects: [...BASE.manifest.objects, { name: 'companies', fields: [{ name: 'title', type: 'text' }] }] } };
    expect((await tenantry.deploy.executeDeployment(await tenantry.deploy.planDeployment(own))).status).toBe('succeeded');
    const drop = await tenantry.deploy.planDeployment(BASE, { allowDestructive: true });
    expect((await tenantry.deploy.executeDeployment(drop)).status).toBe('succeeded');
    await tenantry.apps.installApp(CRM_1, id);
    const app = await appData(tenantry, id);
    const refused = await tenantry.deploy.rollbackDeployment(drop.deploymentId);
    expect(refused.tenants[0]).toMatchObject({ status: 'failed', code: 'SCHEMA_CHANGED' });
    expect(refused.tenants[0]!.error!.message).toMatch(/"companies" \(now app "crm"\)/);
    expect(await appData(tenantry, id)).toEqual(app);
  });

  it("treats the tables an uninstall kept (keepData) as the tenant's: a bundle must list them to keep them", async () => {
    const tenantry = make();
    const id = await withCrm(tenantry);
    expect((await tenantry.deploy.executeDeployment(await tenantry.deploy.planDeployment(BASE))).status).toBe('succeeded');
    await tenantry.apps.uninstallApp('crm', id, { keepData: true });

    const dropping = await tenantry.deploy.planDeployment(BASE);
    expect(dropping.tenants[0]).toMatchObject({ status: 'blocked', objects: { current: 3 }, error: { code: 'DESTRUCTIVE_CHANGE' } });
    expect(dropping.tenants[0]!.error!.message).toMatch(/contacts/);

    const adopting: DeployBundle = {
      manifest: {
        version: '1.1.0',
        objects: [
          ...BASE.manifest.objects,
          { name: 'contacts', fields: [{ name: 'email', type: 'text', required: true, unique: true }, { name: 'name', type: 'text' }], indexes: [{ fields: ['name'] }] },
          { name: 'companies', fields: [{ name: 'title', type: 'text', required: true }] },
        ],
      },
    };
    const adopted = await tenantry.deploy.planDeployment(adopting);
    expect(adopted.tenants[0]!.error).toBeUndefined();
    expect(adopted.tenants[0]).toMatchObject({ status: 'unchanged', objects: { current: 3, target: 3 } });
  });
});
