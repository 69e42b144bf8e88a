import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantry } from '../src/index.js';
import { ROOT, cli, ensureCliBuilt } from './helpers/cli.js';
import { tempDir } from './helpers/env.js';

const { dir, cleanup } = tempDir('tenantry-cli-config-');
const run = (...args: string[]) => cli(args, { cwd: dir });
const distIndex = pathToFileURL(join(ROOT, 'dist', 'index.js')).href;

beforeAll(async () => {
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
  // found in the working directory: options, with no grace period
  writeFileSync(join(dir, 'tenantry.config.js'), `export default { dataDir: 'state', provisioning: { gracePeriodHours: 0 } };`);
  mkdirSync(join(dir, 'conf'));
  mkdirSync(join(dir, 'migrations-b'));
  writeFileSync(join(dir, 'migrations-b', '0001_b.sql'), 'create table b (x text);');
  // chosen with --config: an async function returning an instance, with configured migrations
  writeFileSync(
    join(dir, 'conf', 'instance.mjs'),
    `import { createTenantry } from ${JSON.stringify(distIndex)};
     export default async () => createTenantry({ dataDir: 'state', provisioning: { migrations: './migrations-b' } });`,
  );
  writeFileSync(join(dir, 'conf', 'bad.mjs'), 'export default 42;');
  const tenantry = createTenantry({ dataDir: join(dir, 'state') });
  await tenantry.provisioning.provisionTenant({ orgId: 'beta' });
  await tenantry.close();
  await ensureCliBuilt();
}, 120_000);
afterAll(cleanup);

describe('tenantry CLI config files', () => {
  it('uses tenantry.config.js of the working directory, and purges after the configured grace period', async () => {
    const acme = await run('provision', 'acme', '--json');
    expect(acme.code).toBe(0);
    expect(JSON.parse(acme.stdout).connectionUrl).toContain(join(dir, 'state', 'tenants')); // dataDir of the config
    expect((await run('destroy', 'acme', '--yes')).code).toBe(0);
    const purged = await run('purge-expired', '--yes');
    expect(purged).toMatchObject({ code: 0, stdout: 'purged 1 tenant: acme\n' });
  });

  it('uses the instance of --config <path> (an async function), with its provisioning.migrations when --dir is not given', async () => {
    const result = await run('migrate', '--config', 'conf/instance.mjs', '--json');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ total: 1, succeeded: [{ tenantId: 'beta', applied: ['0001_b'] }], failed: [] });
  });

  it('exits 1 with a message naming the file for a config that is neither an instance nor options', async () => {
    const bad = await run('list', '-c', 'conf/bad.mjs');
    expect(bad).toMatchObject({ code: 1, stdout: '' });
    expect(bad.stderr).toMatch(/^error: .*conf\/bad\.mjs: the default export must be a tenantry instance/);
  });
});
