import { describe, expect, it } from 'vitest';
import { APPS_TABLE, SchemaError, TenantryError } from '../src/index.js';
import type { AppManifestInput } from '../src/index.js';
import { CRM_1, CRM_1_1, INVOICING, appTenantries, sql, tableNames, tenant } from './helpers/apps.js';

const NOTES: AppManifestInput = { name: 'notes_app', version: '0.1.0', objects: [{ name: 'notes', fields: [{ name: 'body', type: 'text' }] }] };

describe('tenantry.apps: compatibility, conflicts and quotas', () => {
  const make = appTenantries();

  it('reports an invalid manifest with each path, and installApp refuses it with INVALID_BUNDLE', async () => {
    const tenantry = make();
    const id = await tenant(tenantry);
    const bad = {
      name: 'My CRM',
      version: '1.0',
      dependencies: ['Other', 'crm_core@^one', 'crm_core'],
      objects: [{ name: 'contacts', fields: [{ name: 'id', type: 'text' }] }, { name: 'contacts', fields: [] }],
      seed: { nowhere: [{}] },
    } as unknown as AppManifestInput;
    const check = await tenantry.apps.checkCompatibility(bad, id);
    expect(check.compatible).toBe(false);
    expect(check.issues.every((i) => i.severity === 'error' && i.category === 'invalid_manifest')).toBe(true);
    const paths = ['name', 'version', 'dependencies[0]', 'dependencies[1]', 'dependencies[2]', 'objects[0].fields[0].name', 'objects[1].name', 'seed.nowhere'];
    expect(check.issues.map((i) => i.path)).toEqual(paths);
    expect(check.issues[0]!.message).toMatch(/^name: app names must be snake_case/);

    const error = await tenantry.apps.installApp(bad, id).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(SchemaError);
    expect(error).toMatchObject({ code: 'INVALID_BUNDLE' });
    expect((error as SchemaError).issues.map((i) => i.path)).toEqual(paths);
    await expect(tenantry.apps.installApp({ ...NOTES, dependencies: ['notes_app'] }, id)).rejects.toThrow(/cannot depend on itself/);
    expect(await tableNames(tenantry, id)).toEqual([]);
  });

  it("refuses objects owned by another app or by the tenant's own schema, and index names already taken", async () => {
    const tenantry = make();
    const id = await tenant(tenantry);
    await sql(tenantry, id, 'create table "Notes" (body text)');
    await sql(tenantry, id, 'create table people (name text)');
    await sql(tenantry, id, 'create index contacts_name_idx on people (name)');

    const own = await tenantry.apps.checkCompatibility(NOTES, id);
    expect(own).toMatchObject({ compatible: false, mode: 'install' });
    expect(own.issues).toEqual([{ severity: 'error', category: 'object_conflict', object: 'notes', message: `object "notes" exists in the tenant's own schema` }]);
    await expect(tenantry.apps.installApp(NOTES, id)).rejects.toMatchObject({ code: 'APP_INCOMPATIBLE', issues: own.issues });

    const index = await tenantry.apps.checkCompatibility(CRM_1, id);
    expect(index.issues).toEqual([expect.objectContaining({ category: 'object_conflict', object: 'contacts', message: expect.stringMatching(/index "contacts_name_idx".*an index of "people"/) })]);
    await sql(tenantry, id, 'drop index contacts_name_idx');

    await tenantry.apps.installApp(CRM_1, id);
    const rival: AppManifestInput = { name: 'rival', version: '1.0.0', objects: [{ name: 'companies', fields: [] }, { name: 'leads', fields: [], renamedFrom: 'contacts' }] };
    const check = await tenantry.apps.checkCompatibility(rival, id);
    expect(check.issues.map((i) => i.message)).toEqual([
      'object "companies" belongs to installed app "crm"',
      'object "leads" is renamed from "contacts", which belongs to installed app "crm"',
    ]);
    expect(await tableNames(tenantry, id)).toEqual(['Notes', APPS_TABLE, 'companies', 'contacts', 'people']);
  });

  it('checks dependency versions against the ranges the manifest asks for', async () => {
    const tenantry = make();
    const id = await tenant(tenantry);
    await tenantry.apps.installApp(CRM_1, id);
    const needs = (range: string) => ({ ...INVOICING, dependencies: [`crm@${range}`] }) as AppManifestInput;
    for (const ok of ['^1.0.0', '~1.0.0', '>=1.0.0 <2.0.0', '1.0.0', '=1.0.0', '*', '>0.9.9']) {
      expect((await tenantry.apps.checkCompatibility(needs(ok), id)).compatible, ok).toBe(true);
    }
    for (const no of ['^1.1.0', '~0.9.0', '>=2.0.0', '<1.0.0', '1.0.1', '^0.1.0']) {
      const check = await tenantry.apps.checkCompatibility(needs(no), id);
      expect(check.issues, no).toEqual([{ severity: 'error', category: 'dependency_version', app: 'crm', message: `needs app "crm"@${no}, but 1.0.0 is installed` }]);
    }
    expect((await tenantry.apps.checkCompatibility({ ...INVOICING, dependencies: ['crm'] }, id)).compatible).toBe(true);
  });

  it('checks an installed app as an upgrade: the plan, destructive changes as warnings, the version', async () => {
    const tenantry = make();
    const id = await tenant(tenantry);
    await tenantry.apps.installApp(CRM_1, id);
    const check = await tenantry.apps.checkCompatibility(CRM_1_1, id);
    expect(check).toMatchObject({ compatible: true, mode: 'upgrade', installedVersion: '1.0.0', issues: [] });
    expect(check.plan!.statements.map((s) => s.kind)).toEqual(['rename_column', 'add_column']);

    const dropping = await tenantry.apps.checkCompatibility({ name: 'crm', version: '2.0.0', objects: [] }, id);
    expect(dropping.compatible).toBe(true);
    expect(dropping.issues.map((i) => [i.severity, i.category, i.object])).toEqual([
      ['warning', 'destructive_change', 'companies'],
      ['warning', 'destructive_change', 'contacts'],
    ]);
    const older = await tenantry.apps.checkCompatibility({ ...CRM_1, version: '0.9.0' }, id);
    expect(older.issues).toEqual([{ severity: 'error', category: 'version_not_newer', message: 'version 0.9.0 is not newer than the installed 1.0.0' }]);
    expect((await tenantry.apps.listApps(id))[0]!.version).toBe('1.0.0'); // checks change nothing
  });

  it("enforces the tenant's maxObjects: installs past it are refused with QUOTA_EXCEEDED and change nothing", async () => {
    const tenantry = make({ plans: { free: { maxObjects: 3 }, pro: {}, enterprise: {} } });
    const id = await tenant(tenantry);
    await sql(tenantry, id, 'create table own_table (x text)');
    await sql(tenantry, id, 'create table other_table (x text)');

    const check = await tenantry.apps.checkCompatibility(CRM_1, id);
    expect(check.issues).toEqual([{ severity: 'error', category: 'quota_exceeded', message: `tenant "${id}": maxObjects of 3 reached (2 objects, the app adds 2)` }]);
    const error = await tenantry.apps.installApp(CRM_1, id).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TenantryError);
    expect(error).toMatchObject({ code: 'QUOTA_EXCEEDED', status: 403 });
    expect(await tableNames(tenantry, id)).toEqual(['other_table', 'own_table']);

    await sql(tenantry, id, 'drop table other_table');
    await tenantry.apps.installApp(CRM_1, id); // 1 + 2 = 3: at the limit
    expect((await tenantry.quota.usage(id)).currentObjectCount).toBe(3); // _tenantry_apps not counted
    const more = { ...CRM_1_1, objects: [...(CRM_1_1.objects as object[]), { name: 'deals', fields: [] }] } as AppManifestInput;
    await expect(tenantry.apps.upgradeApp(more, id)).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED' });
    // an upgrade that drops as many objects as it adds is within the quota
    const swap = { name: 'crm', version: '2.0.0', objects: [(CRM_1.objects as object[])[0], { name: 'deals', fields: [] }] } as AppManifestInput;
    await expect(tenantry.apps.upgradeApp(swap, id, { allowDestructive: true })).resolves.toMatchObject({ createdTables: ['deals'], droppedTables: ['companies'] });
    // the quota gauge sees the change at once (tenantry.apps forgets cached gauges)
    await expect(tenantry.quota.check('maxObjects', { tenantId: id, add: 1 })).resolves.toMatchObject({ allowed: false, currentUsage: 3 });
  });
});
