import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, cli, ensureCliBuilt } from './helpers/cli.js';
import { tempDir } from './helpers/env.js';

/** The machine's PostgreSQL (trust auth); override with TENANTRY_TEST_PG_URL. */
const PG_URL = process.env['TENANTRY_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = `tenantry_test_${process.pid}_cli`;
const { dir, cleanup } = tempDir('tenantry-cli-pg-');

async function sql(text: string, args: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await client.query(text, args);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  const dist = (name: string) => JSON.stringify(pathToFileURL(join(ROOT, 'dist', name)).href);
  writeFileSync(
    join(dir, 'tenantry.config.mjs'),
    `import { createTenantry } from ${dist('index.js')};
     import { postgresRegistry } from ${dist('postgres.js')};
     export default createTenantry({
       registry: postgresRegistry({ connectionString: ${JSON.stringify(PG_URL)}, schema: ${JSON.stringify(SCHEMA)} }),
     });`,
  );
  await ensureCliBuilt();
}, 120_000);

afterAll(async () => {
  await sql(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
  cleanup();
});

describe('tenantry migrate-control-plane with a PostgreSQL registry', () => {
  it('creates the registry tables (idempotently), after which the registry serves the other commands', async () => {
    const first = await cli(['migrate-control-plane'], { cwd: dir });
    expect(first).toMatchObject({ code: 0, stdout: 'control plane migrated: the registry tables are up to date\n', stderr: '' });
    const tablesOf = await sql('select table_name from information_schema.tables where table_schema = $1 order by table_name', [SCHEMA]);
    expect(tablesOf.rows.map((r: { table_name: string }) => r.table_name)).toEqual(['tenantry_tenants', 'tenantry_tenants_domains']);

    const again = await cli(['migrate-control-plane', '--json'], { cwd: dir });
    expect(again).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(again.stdout)).toEqual({ migrated: true });

    await sql(`insert into "${SCHEMA}".tenantry_tenants (id, plan, status, created_at, updated_at) values ('acme', 'pro', 'active', now(), now())`);
    const listed = await cli(['list', '--json'], { cwd: dir });
    expect(listed).toMatchObject({ code: 0, stderr: '' }); // and the process ended by itself: the pool was closed
    expect((JSON.parse(listed.stdout) as { id: string; plan: string }[]).map((t) => [t.id, t.plan])).toEqual([['acme', 'pro']]);
  });
});
