import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTenantry, getTenantClient } from '../src/index.js';
import { tempDir } from './helpers/env.js';

describe('createTenantry() with no options', () => {
  const cwd = process.cwd();
  let cleanup = () => {};
  afterEach(() => {
    process.chdir(cwd);
    cleanup();
  });

  it('keeps the control plane and tenant databases in ./.tenantry and persists them', async () => {
    const tmp = tempDir();
    cleanup = tmp.cleanup;
    process.chdir(tmp.dir);
    const first = createTenantry();
    expect(first.dataDir).toBe(join(tmp.dir, '.tenantry'));
    await first.registry.put({ id: 'acme' });
    await first.withTenant('acme', async () => {
      const db = await getTenantClient();
      await db.execute('create table notes (text text)');
      await db.execute("insert into notes values ('kept')");
    });
    await first.close();
    expect(existsSync(join(tmp.dir, '.tenantry', 'control-plane.db'))).toBe(true);
    expect(existsSync(join(tmp.dir, '.tenantry', 'tenants', 'acme.db'))).toBe(true);

    const second = createTenantry();
    const res = await second.handle(new Request('http://localhost/', { headers: { 'x-tenant-id': 'acme' } }), async () => {
      const db = await getTenantClient();
      return Response.json((await db.execute('select text from notes')).rows);
    });
    expect(await res.json()).toEqual([{ text: 'kept' }]);
    await second.close();
  });

  it('honours dataDir, even with spaces in the path', async () => {
    const tmp = tempDir('tenantry with space-');
    cleanup = tmp.cleanup;
    const t = createTenantry({ dataDir: join(tmp.dir, 'data dir') });
    await t.registry.put({ id: 'globex' });
    await t.withTenant('globex', async () => {
      await (await getTenantClient()).execute('create table x (a)');
    });
    await t.close();
    expect(existsSync(join(tmp.dir, 'data dir', 'tenants', 'globex.db'))).toBe(true);
  });
});
