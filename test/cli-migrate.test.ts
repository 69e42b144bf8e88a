import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@libsql/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantry, getTenantClient } from '../src/index.js';
import { cli, ensureCliBuilt } from './helpers/cli.js';
import { tempDir } from './helpers/env.js';

const { dir, cleanup } = tempDir('tenantry-cli-migrate-');
const run = (...args: string[]) => cli(args, { cwd: dir });

async function tables(tenantId: string): Promise<string[]> {
  const db = createClient({ url: pathToFileURL(join(dir, '.tenantry', 'tenants', `${tenantId}.db`)).href });
  try {
    const rows = (await db.execute("select name from sqlite_master where type = 'table' order by name")).rows;
    return rows.map((r) => String(r['name']));
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  // three tenants in the embedded defaults of `dir`; gamma already has a `notes` table, so 0001_init fails there
  const tenantry = createTenantry({ dataDir: join(dir, '.tenantry') });
  for (const orgId of ['alpha', 'beta', 'gamma']) await tenantry.provisioning.provisionTenant({ orgId });
  await tenantry.withTenant('gamma', async () => (await getTenantClient()).execute('create table notes (legacy text)'));
  await tenantry.close();
  mkdirSync(join(dir, 'db', 'migrations'), { recursive: true });
  writeFileSync(join(dir, 'db', 'migrations', '0001_init.sql'), 'create table notes (id integer primary key, body text not null);');
  writeFileSync(join(dir, 'db', 'migrations', '0002_tags.sql'), 'create table tags (name text primary key);');
  await ensureCliBuilt();
}, 120_000);
afterAll(cleanup);

describe('tenantry migrate', () => {
  it('reports in a dry run what each tenant would get, and changes nothing', async () => {
    const result = await run('migrate', '--dir', 'db/migrations', '--dry-run');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^dry run over 3 tenants: 3 would be migrated, 0 up to date, 0 failed; nothing was changed\n/);
    expect(result.stdout).toMatch(/TENANT\s+WOULD APPLY\nalpha\s+0001_init, 0002_tags\nbeta\s+0001_init, 0002_tags\ngamma\s+0001_init, 0002_tags\n/);
    expect(await tables('alpha')).toEqual([]);
  });

  it('migrates every active tenant, prints plain progress lines off a terminal, and exits 1 with a table of failures', async () => {
    const result = await run('migrate', '--dir', 'db/migrations', '--concurrency', '2');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^migrated 3 tenants in .+: 2 migrated, 0 up to date, 1 failed\n\n/);
    expect(result.stdout).toMatch(/FAILED TENANT\s+MIGRATION\s+ERROR\ngamma\s+0001_init\s+MIGRATION_FAILED: migration "0001_init" failed: .*already exists/);
    // not a terminal: lines, not a redrawn bar; the last one always shown
    expect(result.stderr).not.toContain('\r');
    expect(result.stderr.trimEnd().split('\n').at(-1)).toMatch(/^migrate: 3\/3 tenants \(100%\), 2 migrated, 0 up to date, 1 failed, [\d.]+\/s, ETA 0 ms$/);
    expect(await tables('alpha')).toEqual(['_tenantry_migrations', 'notes', 'tags']);
    expect(await tables('gamma')).not.toContain('tags'); // nothing of a failed tenant's run stays

    const again = await run('migrate', '--dir', 'db/migrations', '--json');
    expect(again.code).toBe(1);
    const report = JSON.parse(again.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({
      dryRun: false,
      total: 3,
      succeeded: [],
      skipped: [{ tenantId: 'alpha' }, { tenantId: 'beta' }],
      failed: [{ tenantId: 'gamma', migrationId: '0001_init', error: expect.stringMatching(/^MIGRATION_FAILED: /) }],
    });
  });
});
