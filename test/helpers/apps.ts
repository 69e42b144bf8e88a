/**
 * Fixtures of the app tests: tenantry instances on a memory registry with libSQL tenant files in
 * a temp dataDir, provisioned tenants, and a few app manifests (crm ← invoicing).
 */
import { afterEach } from 'vitest';
import { createTenantry, fromHeader, getTenantClient, memoryRegistry } from '../../src/index.js';
import type { AppManifestInput, Tenantry, TenantryOptions } from '../../src/index.js';
import { tempDir } from './env.js';

/** Instances made by `makeTenantry`, closed (and their folders removed) after each test. */
export function appTenantries(): (options?: TenantryOptions) => Tenantry {
  const open: { tenantry: Tenantry; cleanup: () => void }[] = [];
  afterEach(async () => {
    for (const { tenantry, cleanup } of open.splice(0)) {
      await tenantry.close();
      cleanup();
    }
  });
  return (options = {}) => {
    const { dir, cleanup } = tempDir('tenantry-apps-');
    const tenantry = createTenantry({ dataDir: dir, registry: memoryRegistry(), resolvers: [fromHeader()], ...options });
    open.push({ tenantry, cleanup });
    return tenantry;
  };
}

/** Provisions tenant `id` (its own libSQL file) and returns the id. */
export async function tenant(tenantry: Tenantry, id = 'acme'): Promise<string> {
  const result = await tenantry.provisioning.provisionTenant({ orgId: id });
  return result.tenantId;
}

/** Runs `sql` on the tenant's database and returns its rows. */
export async function sql(tenantry: Tenantry, tenantId: string, statement: string): Promise<Record<string, unknown>[]> {
  return tenantry.withTenant(tenantId, async () => {
    const result = await (await getTenantClient()).execute(statement);
    return result.rows.map((r) => ({ ...r }));
  });
}

/** Names of the tables in the tenant's database (every table, tenantry's own included). */
export async function tableNames(tenantry: Tenantry, tenantId: string): Promise<string[]> {
  const rows = await sql(tenantry, tenantId, "select name from sqlite_master where type = 'table' and name not like 'sqlite%' order by name");
  return rows.map((r) => String(r['name']));
}

/** The crm app, version 1.0.0: contacts (+ an index) and companies, with seed rows. */
export const CRM_1: AppManifestInput = {
  name: 'crm',
  label: 'CRM',
  version: '1.0.0',
  objects: [
    {
      name: 'contacts',
      fields: [
        { name: 'email', type: 'text', required: true, unique: true },
        { name: 'name', type: 'text' },
      ],
      indexes: [{ fields: ['name'] }],
    },
    { name: 'companies', fields: [{ name: 'title', type: 'text', required: true }] },
  ],
  seed: { companies: [{ title: 'Acme Corp' }, { title: 'Globex' }] },
};

/** crm 1.1.0: contacts gains `phone`, `name` becomes `full_name` (rename), companies unchanged. */
export const CRM_1_1: AppManifestInput = {
  name: 'crm',
  version: '1.1.0',
  objects: [
    {
      name: 'contacts',
      fields: [
        { name: 'email', type: 'text', required: true, unique: true },
        { name: 'full_name', type: 'text', renamedFrom: 'name' },
        { name: 'phone', type: 'text' },
      ],
      indexes: [{ name: 'contacts_name_idx', fields: ['full_name'] }],
    },
    { name: 'companies', fields: [{ name: 'title', type: 'text', required: true }] },
  ],
};

/** invoicing 1.0.0, which needs crm 1.x. */
export const INVOICING: AppManifestInput = {
  name: 'invoicing',
  version: '1.0.0',
  dependencies: ['crm@^1.0.0'],
  objects: [{ name: 'invoices', fields: [{ name: 'total', type: 'number', required: true }, { name: 'contact_id', type: 'uuid' }] }],
};
