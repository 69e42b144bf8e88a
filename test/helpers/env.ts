import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createTenantry, memoryRegistry } from '../../src/index.js';
import type { TenantRecordInput, Tenantry, TenantryOptions } from '../../src/index.js';

/** A temp folder removed by `cleanup()`. */
export function tempDir(prefix = 'tenantry-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A tenantry instance on a memory registry with file databases in a temp folder, plus a
 * helper that creates tenants whose database holds a `marker` table naming the tenant.
 */
export async function testTenantry(options: TenantryOptions = {}, records: TenantRecordInput[] = []) {
  const { dir, cleanup } = tempDir();
  const registry = options.registry ?? memoryRegistry(records);
  const tenantry = createTenantry({
    registry,
    databases: { urlTemplate: `${pathToFileURL(dir).href}/{tenant}.db`, ...options.databases },
    ...withoutKeys(options, ['registry', 'databases']),
  });
  return {
    tenantry,
    registry,
    dir,
    /** Creates a tenant and writes its marker row. */
    async addTenant(id: string, fields: Partial<TenantRecordInput> = {}) {
      await registry.put({ id, ...fields, status: 'active' });
      await tenantry.withTenant(id, async () => {
        const { getTenantClient } = await import('../../src/index.js');
        const db = await getTenantClient();
        await db.execute('create table if not exists marker (tenant text not null)');
        await db.execute({ sql: 'insert into marker (tenant) values (?)', args: [id] });
      });
      if (fields.status !== undefined && fields.status !== 'active') {
        await registry.put({ id, ...fields });
        tenantry.invalidateCache(id);
      }
    },
    async close() {
      await tenantry.close();
      cleanup();
    },
  };
}

function withoutKeys<T extends object>(value: T, keys: (keyof T)[]): Partial<T> {
  const copy = { ...value };
  for (const key of keys) delete copy[key];
  return copy;
}

export type TestTenantry = Awaited<ReturnType<typeof testTenantry>>;
export type { Tenantry };
