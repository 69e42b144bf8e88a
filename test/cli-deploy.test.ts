/**
 * `tenantry deploy <bundle.json> [--plan] [--allow-destructive]` and `tenantry rollback <id>`
 * on the embedded defaults, through the built CLI.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCommandLine } from '../src/cli/args.js';
import { createTenantry, getTenantClient } from '../src/index.js';
import { cli, ensureCliBuilt } from './helpers/cli.js';
import { tempDir } from './helpers/env.js';

const { dir, cleanup } = tempDir('tenantry-cli-deploy-');
const run = (...args: string[]) => cli(args, { cwd: dir });
const V1 = { manifest: { version: '1.0.0', objects: [{ name: 'notes', fields: [{ name: 'title', type: 'text', required: true }] }] }, seed: { notes: [{ title: 'hi' }] } };
const V2 = { manifest: { version: '2.0.0', objects: [{ name: 'notes', fields: [{ name: 'title', type: 'text', required: true }, { name: 'body', type: 'text' }] }] } };
const DROP = { manifest: { version: '3.0.0', objects: [] } };

async function tables(tenantId: string): Promise<{ tables: string[]; notes: unknown[] }> {
  const tenantry = createTenantry({ dataDir: join(dir, '.tenantry') });
  try {
    return await tenantry.withTenant(tenantId, async () => {
      const db = await getTenantClient();
      const names = (await db.execute("select name from sqlite_master where type = 'table' and name not like '\\_%' escape '\\' order by name")).rows.map((r) => String(r['name']));
      const notes = names.includes('notes') ? (await db.execute('select * from notes')).rows.map((r) => ({ ...r })) : [];
      return { tables: names, notes };
    });
  } finally {
    await tenantry.close();
  }
}

beforeAll(async () => {
  const tenantry = createTenantry({ dataDir: join(dir, '.tenantry') });
  for (const orgId of ['alpha', 'beta']) await tenantry.provisioning.provisionTenant({ orgId });
  await tenantry.close();
  for (const [name, bundle] of Object.entries({ v1: V1, v2: V2, drop: DROP })) writeFileSync(join(dir, `${name}.json`), JSON.stringify(bundle));
  writeFileSync(join(dir, 'broken.json'), '{ "manifest": ');
  await ensureCliBuilt();
}, 120_000);
afterAll(cleanup);

describe('tenantry deploy and rollback', () => {
  it('reads --plan as a flag for deploy only', () => {
    expect(parseCommandLine(['deploy', 'b.json', '--plan', '--allow-destructive'])).toMatchObject({
      kind: 'run',
      invocation: { command: { name: 'deploy', bundle: 'b.json', planOnly: true, allowDestructive: true } },
    });
    expect(parseCommandLine(['-c', 'deploy', 'list', '--plan', 'pro'])).toMatchObject({ invocation: { command: { name: 'list', plan: 'pro' }, config: 'deploy' } });
  });

  it('prints the plan with the SQL per tenant and changes nothing', async () => {
    const result = await run('deploy', 'v1.json', '--plan');
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^plan dep_\d{8}T\d{9}Z_[0-9a-f]{8} \(version 1\.0\.0\) for 2 tenants: 2 to change, 0 up to date, 0 blocked; nothing was changed\n/);
    expect(result.stdout).toMatch(/\nalpha: ready\n {2}CREATE TABLE "notes" \(.+\);\n {2}INSERT INTO "notes" \("title"\) VALUES \('hi'\);\n/);
    expect((await tables('alpha')).tables).toEqual([]);
    const asJson = JSON.parse((await run('deploy', 'v1.json', '--plan', '--json')).stdout);
    expect(asJson.tenants.map((t: { tenantId: string; status: string }) => [t.tenantId, t.status])).toEqual([
      ['alpha', 'ready'],
      ['beta', 'ready'],
    ]);
  });

  it('deploys, prints the deployment id, and rolls it back', async () => {
    expect((await run('deploy', 'v1.json')).code).toBe(0);
    const result = await run('deploy', 'v2.json', '--concurrency', '2');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^deployment (dep_\S+) \(version 2\.0\.0\): 2 applied, 0 up to date, 0 failed, 0 not run, in .+\n\nroll it back with: tenantry rollback dep_\S+\n$/);
    expect(result.stderr).toMatch(/deploy: 2\/2 tenants, 2 done, 0 up to date, 0 failed\n$/);
    const id = /deployment (dep_\S+)/.exec(result.stdout)![1]!;
    expect((await tables('beta')).notes).toEqual([{ id: expect.any(String), title: 'hi', body: null }]);

    const rolled = await run('rollback', id);
    expect(rolled.code).toBe(0);
    expect(rolled.stdout).toMatch(/^deployment dep_\S+: 2 rolled back, 0 already rolled back, 0 failed\n\nTENANT\s+STATUS\s+STRATEGY\s+ERROR\nalpha\s+rolled_back\s+snapshot\s+-\nbeta\s+rolled_back\s+snapshot\s+-\n$/);
    expect((await tables('beta')).notes).toEqual([{ id: expect.any(String), title: 'hi' }]);
    const again = JSON.parse((await run('rollback', id, '--json')).stdout);
    expect(again.tenants.map((t: { status: string }) => t.status)).toEqual(['unchanged', 'unchanged']);
  });

  it('exits 1 for blocked or refused tenants, and 2 for a bundle it cannot read', async () => {
    const blocked = await run('deploy', 'drop.json', '--plan');
    expect(blocked.code).toBe(1);
    expect(blocked.stdout).toMatch(/\nalpha: blocked \(DESTRUCTIVE_CHANGE: tenant "alpha": the bundle would lose data \(object "notes" removed, with its rows\).*\)\n {2}DROP TABLE "notes";\n/);
    const refused = await run('deploy', 'drop.json');
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/FAILED TENANT\s+ERROR\nalpha\s+DESTRUCTIVE_CHANGE: /);
    const forced = await run('deploy', 'drop.json', '--allow-destructive', '--json');
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ status: 'succeeded', summary: { applied: 2 } });
    expect((await tables('alpha')).tables).toEqual([]);

    const broken = await run('deploy', 'broken.json');
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/^tenantry: deploy: .*broken\.json is not JSON/);
    expect((await run('deploy', 'missing.json')).stderr).toMatch(/deploy: cannot read .*missing\.json \(ENOENT\)/);
    const invalid = await run('rollback', 'nope');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/is not a deployment id/);
    const unknown = await run('rollback', 'dep_20260101T000000000Z_00000000');
    expect(unknown).toMatchObject({ code: 1, stderr: expect.stringMatching(/^DEPLOYMENT_NOT_FOUND: no tenant database records deployment/) });
  });
});
