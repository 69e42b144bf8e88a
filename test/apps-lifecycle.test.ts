import { describe, expect, it } from 'vitest';
import { APPS_TABLE, AppError, SchemaError } from '../src/index.js';
import type { AppManifestInput } from '../src/index.js';
import { CRM_1, CRM_1_1, INVOICING, appTenantries, sql, tableNames, tenant } from './helpers/apps.js';

describe('tenantry.apps: install, upgrade, uninstall', () => {
  const make = appTenantries();

  it('installs an app: creates its objects, seeds them and records the app in the tenant database', async () => {
    const tenantry = make();
    const id = await tenant(tenantry);
    const result = await tenantry.apps.installApp(CRM_1, id);
    expect(result).toMatchObject({ success: true, appId: 'crm', version: '1.0.0', installedObjects: ['contacts', 'companies'], seededRecords: 2 });
    expect([...result.createdTables].sort()).toEqual(['companies', 'contacts']);
    expect(result.plan.statements.map((s) => s.kind)).toEqual(['create_table', 'create_table', 'create_index']);
    expect(await tableNames(tenantry, id)).toEqual([APPS_TABLE, 'companies', 'contacts']);
    expect((await sql(tenantry, id, 'select title from companies order by title')).map((r) => r['title'])).toEqual(['Acme Corp', 'Globex']);

    // the record: name, version, manifest JSON, installed_at
    const [row] = await sql(tenantry, id, `select * from ${APPS_TABLE}`);
    expect(row).toMatchObject({ name: 'crm', version: '1.0.0', status: 'installed' });
    expect(JSON.parse(String(row!['manifest']))).toMatchObject({ name: 'crm', label: 'CRM', objects: [{ name: 'contacts' }, { name: 'companies' }] });
    expect(new Date(String(row!['installed_at'])).toISOString()).toBe(row!['installed_at']);
    const [listed] = await tenantry.apps.listApps(id);
    expect(listed).toMatchObject({ name: 'crm', version: '1.0.0', status: 'installed', manifest: { name: 'crm' } });

    // _tenantry_apps is tenantry's: not introspected, not counted as an object
    expect(Object.keys((await tenantry.schema.introspect(id)).tables)).toEqual(['companies', 'contacts']);
    expect((await tenantry.quota.usage(id)).currentObjectCount).toBe(2);
    expect(tenantry.stats().pool.leased).toBe(0);
  });

  it('refuses a dependent app before its dependency, and refuses to uninstall a dependency while its dependent is installed', async () => {
    const tenantry = make();
    const id = await tenant(tenantry);
    const early = await tenantry.apps.installApp(INVOICING, id).catch((err: unknown) => err);
    expect(early).toBeInstanceOf(AppError);
    expect(early).toMatchObject({ code: 'APP_INCOMPATIBLE', app: 'invoicing', tenantId: id, issues: [{ severity: 'error', category: 'dependency_missing', app: 'crm' }] });
    expect((early as Error).message).toMatch(/needs app "crm"@\^1\.0\.0, which is not installed/);
    expect(await tableNames(tenantry, id)).toEqual([]); // nothing changed, not even the record table

    await tenantry.apps.installApp(CRM_1, id);
    await tenantry.apps.installApp(INVOICING, id);
    expect((await tenantry.apps.listApps(id)).map((a) => `${a.name}@${a.version}`)).toEqual(['crm@1.0.0', 'invoicing@1.0.0']);

    const inUse = await tenantry.apps.uninstallApp('crm', id).catch((err: unknown) => err);
    expect(inUse).toMatchObject({ code: 'APP_IN_USE', app: 'crm', dependents: ['invoicing'] });
    expect(await tableNames(tenantry, id)).toEqual([APPS_TABLE, 'companies', 'contacts', 'invoices']);

    const removed = await tenantry.apps.uninstallApp('invoicing', id);
    expect(removed).toMatchObject({ success: true, appId: 'invoicing', version: '1.0.0', droppedTables: ['invoices'], keptTables: [] });
    await tenantry.apps.uninstallApp('crm', id);
    expect(await tableNames(tenantry, id)).toEqual([APPS_TABLE]);
    expect(await tenantry.apps.listApps(id, { includeDetached: true })).toEqual([]);
    await expect(tenantry.apps.uninstallApp('crm', id)).rejects.toMatchObject({ code: 'APP_NOT_INSTALLED' });
  });

  it('upgrades through the schema pipeline: renames and new fields keep every row, and the new version is recorded', async () => {
    const tenantry = make();
    const id = await tenant(tenantry);
    await tenantry.apps.installApp(CRM_1, id);
    await sql(tenantry, id, "insert into contacts (id, email, name) values ('c1', 'a@x.io', 'Ann'), ('c2', 'b@x.io', 'Bob'), ('c3', 'c@x.io', NULL)");

    const result = await tenantry.apps.upgradeApp(CRM_1_1, id);
    expect(result).toMatchObject({ appId: 'crm', version: '1.1.0', previousVersion: '1.0.0', createdTables: [], droppedTables: [], seededRecords: 0 });
    expect(result.plan.statements.map((s) => s.kind)).toEqual(['rename_column', 'add_column']); // SQLite renames the column in its index too
    expect(result.plan.destructive).toBe(false);
    expect(await sql(tenantry, id, 'select id, email, full_name, phone from contacts order by id')).toEqual([
      { id: 'c1', email: 'a@x.io', full_name: 'Ann', phone: null },
      { id: 'c2', email: 'b@x.io', full_name: 'Bob', phone: null },
      { id: 'c3', email: 'c@x.io', full_name: null, phone: null },
    ]);
    expect((await sql(tenantry, id, 'select count(*) as n from companies'))[0]!['n']).toBe(2); // seed rows not inserted again
    expect((await tenantry.apps.listApps(id))[0]).toMatchObject({ version: '1.1.0', manifest: { version: '1.1.0' } });
    const indexes = (await tenantry.schema.introspect(id)).tables['contacts']!.indexes;
    expect(indexes.map((i) => [i.name, i.columns])).toEqual([['contacts_name_idx', ['full_name']]]);
  });

  it('upgrades with a table rebuild (a field becomes unique and required) and every row survives', async () => {
    const tenantry = make();
    const id = await tenant(tenantry);
    await tenantry.apps.installApp(CRM_1, id);
    const values = Array.from({ length: 50 }, (_, i) => `('id-${i}', 'user${i}@x.io', 'User ''${i}''')`).join(', ');
    await sql(tenantry, id, `insert into contacts (id, email, name) values ${values}`);
    const before = await sql(tenantry, id, 'select rowid, id, email, name from contacts order by rowid');
    const v2 = structuredClone(CRM_1) as { version: string; objects: { name: string; fields: Record<string, unknown>[] }[] };
    v2.version = '1.2.0';
    v2.objects[0]!.fields[1] = { name: 'name', type: 'text', required: true, unique: true, default: 'anonymous' };

    const result = await tenantry.apps.upgradeApp(v2 as AppManifestInput, id);
    expect(result.plan.statements.some((s) => s.kind === 'rebuild_copy')).toBe(true);
    expect(await sql(tenantry, id, 'select rowid, id, email, name from contacts order by rowid')).toEqual(before);
    const column = (await tenantry.schema.introspect(id)).tables['contacts']!.columns.find((c) => c.name === 'name');
    expect(column).toMatchObject({ nullable: false, unique: true });
  });

  it('refuses destructive upgrades unless allowDestructive, and upgrades that break an installed dependent', async () => {
    const tenantry = make();
    const id = await tenant(tenantry);
    await tenantry.apps.installApp(CRM_1, id);
    const v2: AppManifestInput = { name: 'crm', version: '2.0.0', objects: [(CRM_1.objects as unknown[])[0]] as AppManifestInput['objects'] };

    const refused = await tenantry.apps.upgradeApp(v2, id).catch((err: unknown) => err);
    expect(refused).toMatchObject({ code: 'DESTRUCTIVE_CHANGE', app: 'crm' });
    expect((refused as Error).message).toMatch(/object "companies" removed/);
    expect((await sql(tenantry, id, 'select count(*) as n from companies'))[0]!['n']).toBe(2);
    expect((await tenantry.apps.listApps(id))[0]!.version).toBe('1.0.0');

    await tenantry.apps.installApp(INVOICING, id);
    const dependent = await tenantry.apps.upgradeApp(v2, id, { allowDestructive: true }).catch((err: unknown) => err);
    expect(dependent).toMatchObject({ code: 'APP_INCOMPATIBLE', issues: [{ category: 'dependent_version', app: 'invoicing' }] });
    await tenantry.apps.uninstallApp('invoicing', id);

    const result = await tenantry.apps.upgradeApp(v2, id, { allowDestructive: true });
    expect(result).toMatchObject({ version: '2.0.0', droppedTables: ['companies'] });
    expect(await tableNames(tenantry, id)).toEqual([APPS_TABLE, 'contacts']);
  });

  it('refuses upgrades to a version that is not newer, of apps not installed, and a second install', async () => {
    const tenantry = make();
    const id = await tenant(tenantry);
    await expect(tenantry.apps.upgradeApp(CRM_1_1, id)).rejects.toMatchObject({ code: 'APP_NOT_INSTALLED' });
    await tenantry.apps.installApp(CRM_1, id);
    await expect(tenantry.apps.installApp(CRM_1_1, id)).rejects.toMatchObject({ code: 'APP_ALREADY_INSTALLED' });
    await expect(tenantry.apps.upgradeApp({ ...CRM_1_1, version: '1.0.0' }, id)).rejects.toMatchObject({
      code: 'APP_INCOMPATIBLE',
      issues: [{ category: 'version_not_newer' }],
    });
    await expect(tenantry.apps.upgradeApp({ ...CRM_1_1, version: '1.0.0-rc.1' }, id)).rejects.toMatchObject({ code: 'APP_INCOMPATIBLE' });
  });

  it('keeps the tables and rows with keepData, and a reinstall of the app takes them back', async () => {
    const tenantry = make();
    const id = await tenant(tenantry);
    await tenantry.apps.installApp(CRM_1, id);
    await sql(tenantry, id, "insert into contacts (id, email, name) values ('c1', 'a@x.io', 'Ann')");

    const result = await tenantry.apps.uninstallApp('crm', id, { keepData: true });
    expect(result).toMatchObject({ droppedTables: [], keptTables: ['contacts', 'companies'] });
    expect(await tableNames(tenantry, id)).toEqual([APPS_TABLE, 'companies', 'contacts']);
    expect(await tenantry.apps.listApps(id)).toEqual([]);
    expect((await tenantry.apps.listApps(id, { includeDetached: true })).map((a) => [a.name, a.status])).toEqual([['crm', 'detached']]);
    // the kept tables are not free for another app
    const other: AppManifestInput = { name: 'other', version: '1.0.0', objects: [{ name: 'contacts', fields: [] }] };
    await expect(tenantry.apps.installApp(other, id)).rejects.toMatchObject({
      code: 'APP_INCOMPATIBLE',
      issues: [{ category: 'object_conflict', object: 'contacts', message: expect.stringMatching(/kept from app "crm"/) }],
    });

    // reinstalling (a newer version) adopts the kept tables: rows kept, no seed rows added again
    const again = await tenantry.apps.installApp(CRM_1_1, id);
    expect(again).toMatchObject({ createdTables: [], seededRecords: 0 });
    expect(await sql(tenantry, id, 'select id, email, full_name from contacts')).toEqual([{ id: 'c1', email: 'a@x.io', full_name: 'Ann' }]);
    expect((await sql(tenantry, id, 'select count(*) as n from companies'))[0]!['n']).toBe(2);
    expect((await tenantry.apps.listApps(id)).map((a) => [a.name, a.version, a.status])).toEqual([['crm', '1.1.0', 'installed']]);
  });

  it('leaves kept tables a reinstall no longer describes to the tenant instead of dropping them', async () => {
    const tenantry = make();
    const id = await tenant(tenantry);
    await tenantry.apps.installApp(CRM_1, id);
    await tenantry.apps.uninstallApp('crm', id, { keepData: true });
    const slim = { name: 'crm', version: '1.5.0', objects: [(CRM_1.objects as object[])[0]] } as AppManifestInput;
    const result = await tenantry.apps.installApp(slim, id);
    expect(result.plan.statements).toEqual([]);
    expect(await tableNames(tenantry, id)).toEqual([APPS_TABLE, 'companies', 'contacts']);
    expect((await sql(tenantry, id, 'select count(*) as n from companies'))[0]!['n']).toBe(2);
    // companies is the tenant's own now: another app cannot claim it
    const claim: AppManifestInput = { name: 'other', version: '1.0.0', objects: [{ name: 'companies', fields: [] }] };
    expect((await tenantry.apps.checkCompatibility(claim, id)).issues[0]!.message).toBe(`object "companies" exists in the tenant's own schema`);
  });

  it('seeds the objects an upgrade creates, and skips seeding with skipSeedData', async () => {
    const tenantry = make();
    const id = await tenant(tenantry);
    await tenantry.apps.installApp(CRM_1, id, { skipSeedData: true });
    expect((await sql(tenantry, id, 'select count(*) as n from companies'))[0]!['n']).toBe(0);
    const v1_3 = {
      ...CRM_1,
      version: '1.3.0',
      objects: [...(CRM_1.objects as object[]), { name: 'stages', fields: [{ name: 'label', type: 'text', required: true }, { name: 'won', type: 'boolean', default: false }] }],
      seed: { companies: [{ title: 'not inserted' }], stages: [{ label: 'lead' }, { label: 'won', won: true }] },
    } as AppManifestInput;
    const result = await tenantry.apps.upgradeApp(v1_3, id);
    expect(result).toMatchObject({ createdTables: ['stages'], seededRecords: 2 });
    expect(await sql(tenantry, id, 'select label, won from stages order by label')).toEqual([
      { label: 'lead', won: 0 },
      { label: 'won', won: 1 },
    ]);
    expect((await sql(tenantry, id, 'select count(*) as n from companies'))[0]!['n']).toBe(0);
  });

  it('changes nothing when a seed row is refused, and says which row', async () => {
    const tenantry = make();
    const id = await tenant(tenantry);
    const bad = { ...CRM_1, seed: { contacts: [{ email: 'same@x.io' }, { email: 'same@x.io' }] } } as AppManifestInput;
    const error = await tenantry.apps.installApp(bad, id).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(SchemaError);
    expect(error).toMatchObject({ code: 'UNIQUE_VIOLATION', object: 'contacts', tenantId: id });
    expect((error as Error).message).toMatch(/seed row 1 of object "contacts" was refused/);
    expect(await tableNames(tenantry, id)).toEqual([]);
    expect(await tenantry.apps.listApps(id)).toEqual([]);
  });

  it('writes seed values and manifest text as literals: quotes and SQL in them stay data', async () => {
    const tenantry = make();
    const id = await tenant(tenantry);
    const hostile = "'); ATTACH DATABASE '/tmp/x.db' AS x; DROP TABLE attachments; --";
    await tenantry.apps.installApp(
      { name: 'files', version: '1.0.0', description: `it's "quoted"; VACUUM INTO 'z'`, objects: [{ name: 'attachments', fields: [{ name: 'note', type: 'text' }] }], seed: { attachments: [{ note: hostile }, {}] } },
      id,
    );
    expect(await sql(tenantry, id, 'select note from attachments order by note')).toEqual([{ note: null }, { note: hostile }]);
    expect((await tenantry.apps.listApps(id))[0]!.manifest.description).toBe(`it's "quoted"; VACUUM INTO 'z'`);
  });

  it('runs concurrent operations on one tenant one after the other', async () => {
    const tenantry = make();
    const id = await tenant(tenantry);
    const apps = Array.from({ length: 4 }, (_, i): AppManifestInput => ({ name: `app_${i}`, version: '1.0.0', objects: [{ name: `things_${i}`, fields: [{ name: 'n', type: 'number' }] }] }));
    const settled = await Promise.allSettled([
      tenantry.apps.installApp(CRM_1, id),
      tenantry.apps.installApp(CRM_1, id),
      ...apps.map((app) => tenantry.apps.installApp(app, id)),
      tenantry.apps.uninstallApp('app_0', id),
      tenantry.apps.upgradeApp(CRM_1_1, id),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'APP_ALREADY_INSTALLED' });
    expect((await tenantry.apps.listApps(id)).map((a) => `${a.name}@${a.version}`)).toEqual(['app_1@1.0.0', 'app_2@1.0.0', 'app_3@1.0.0', 'crm@1.1.0']);
  });

  it('refuses unknown and suspended tenants and bad arguments with coded errors', async () => {
    const tenantry = make({ suspendedAccess: 'read-only' });
    await expect(tenantry.apps.installApp(CRM_1, 'nobody')).rejects.toMatchObject({ code: 'TENANT_NOT_FOUND' });
    const id = await tenant(tenantry);
    await tenantry.apps.installApp(CRM_1, id);
    await tenantry.provisioning.suspendTenant(id);
    await expect(tenantry.apps.uninstallApp('crm', id)).rejects.toMatchObject({ code: 'TENANT_SUSPENDED' });
    expect((await tenantry.apps.listApps(id)).map((a) => a.name)).toEqual(['crm']); // read-only: reads work
    await expect(tenantry.apps.uninstallApp('Not An App', id)).rejects.toThrow(TypeError);
    await expect(tenantry.apps.installApp(CRM_1, id, { keepData: true } as never)).rejects.toThrow(/unknown option "keepData"/);
  });
});
