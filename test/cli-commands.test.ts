import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, cli, ensureCliBuilt } from './helpers/cli.js';
import { tempDir } from './helpers/env.js';

beforeAll(ensureCliBuilt, 120_000);

describe('tenantry CLI with the embedded defaults', () => {
  const { dir, cleanup } = tempDir('tenantry-cli-');
  afterAll(cleanup);
  const run = (...args: string[]) => cli(args, { cwd: dir });

  it('provisions, lists, shows, suspends, resumes, changes the plan, measures and destroys tenants', async () => {
    const acme = await run('provision', 'acme', '--plan', 'pro', '--region', 'eu-west', '--json');
    expect(acme).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(acme.stdout)).toMatchObject({ tenantId: 'acme', status: 'active', plan: 'pro', region: 'eu-west' });
    expect(JSON.parse(acme.stdout).connectionUrl).toContain(join(dir, '.tenantry', 'tenants'));

    const beta = await run('provision', 'beta');
    expect(beta.code).toBe(0);
    expect(beta.stdout).toMatch(/^tenant beta: active \(plan free, region us-east\)/);
    expect(beta.stdout).toMatch(/STEP\s+STATUS\s+TIME\s+ERROR\n/);
    expect(beta.stdout).toMatch(/create_database\s+completed/);

    const listed = await run('list');
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n')[0]).toMatch(/^ID\s+STATUS\s+PLAN\s+REGION\s+SLUG\s+DOMAINS\s+CREATED$/);
    expect(listed.stdout).toMatch(/\nacme\s+active\s+pro\s+eu-west\s/);
    expect(listed.stdout).toMatch(/\nbeta\s+active\s+free\s+us-east\s/);

    const shown = await run('show', 'acme');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^id\s+acme$/m);
    expect(shown.stdout).toMatch(/^token\s+stored \(not shown\)$/m);

    expect(await run('suspend', 'acme')).toMatchObject({ code: 0, stdout: 'tenant acme: suspended (plan pro, region eu-west)\n' });
    const resumed = await run('resume', 'acme', '--json');
    expect(JSON.parse(resumed.stdout)).toMatchObject({ tenantId: 'acme', status: 'active' });
    const planned = await run('plan', 'acme', 'enterprise', '--json');
    expect(JSON.parse(planned.stdout)).toMatchObject({ tenantId: 'acme', plan: 'enterprise' });

    const usage = await run('usage', 'acme', '--json');
    expect(usage.code).toBe(0);
    expect(JSON.parse(usage.stdout)).toMatchObject({ currentObjectCount: 0, currentRecordCount: 0, apiRequestsThisMinute: 0, deploymentsToday: 0 });

    const refused = await run('destroy', 'beta');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/destroy: refusing to run without confirmation: stdin is not a terminal; pass --yes/);
    const destroying = await run('destroy', 'beta', '--yes');
    expect(destroying).toMatchObject({ code: 0 });
    expect(destroying.stdout).toMatch(/^tenant beta: destroying; `tenantry purge-expired` deletes it/);
    const gone = await run('destroy', 'acme', '--immediate', '--yes');
    expect(gone).toMatchObject({ code: 0, stdout: 'tenant acme: destroyed (database and record deleted)\n' });

    const left = JSON.parse((await run('list', '--json')).stdout) as { id: string; status: string; db: Record<string, unknown> }[];
    expect(left.map((t) => [t.id, t.status])).toEqual([['beta', 'destroying']]);
    expect(left[0]!.db).not.toHaveProperty('authToken'); // tokens are never printed
  });

  it('prints TenantryErrors as code: message and exits 1', async () => {
    const missing = await run('show', 'nope');
    expect(missing).toMatchObject({ code: 1, stdout: '', stderr: 'TENANT_NOT_FOUND: no tenant "nope"\n' });
  });

  it('says that the libSQL registry needs no control-plane migration, and exits 0', async () => {
    expect(await run('migrate-control-plane')).toMatchObject({
      code: 0,
      stdout: 'the registry needs no migration (it creates its tables on first use)\n',
    });
  });
});

describe('tenantry CLI arguments', () => {
  const { dir, cleanup } = tempDir('tenantry-cli-args-');
  afterAll(cleanup);
  const run = (...args: string[]) => cli(args, { cwd: dir });

  it('prints the usage to stderr and exits 2 for wrong command lines (more cases in cli-units)', async () => {
    const [unknown, missing, badPlan] = await Promise.all([run('frobnicate'), run('show'), run('plan', 'acme', 'gold')]);
    expect(unknown).toMatchObject({ code: 2, stdout: '' });
    expect(unknown.stderr).toMatch(/^tenantry: unknown command "frobnicate"\n\nUsage: tenantry <command>/);
    expect(missing).toMatchObject({ code: 2, stdout: '' });
    expect(missing.stderr).toMatch(/^tenantry: show: missing <id>\n\nUsage: tenantry show <id>/);
    expect(badPlan).toMatchObject({ code: 2, stdout: '' });
    expect(badPlan.stderr).toMatch(/^tenantry: plan: <plan> must be one of free, pro, enterprise \(got "gold"\)/);
  });

  it('runs as an executable (shebang, mode 755), as npx runs the bin link of an installed package', async () => {
    const project = join(dir, 'app');
    mkdirSync(join(project, 'node_modules', '.bin'), { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    symlinkSync(ROOT, join(project, 'node_modules', 'tenantry'), 'dir');
    symlinkSync(join('..', 'tenantry', 'dist', 'cli.js'), join(project, 'node_modules', '.bin', 'tenantry'));
    // the config imports the installed package by name and exports an instance
    writeFileSync(
      join(project, 'tenantry.config.mjs'),
      `import { createTenantry, memoryRegistry } from 'tenantry';
       export default createTenantry({ registry: memoryRegistry([{ id: 'acme', plan: 'pro' }]), dataDir: 'data' });`,
    );
    const bin = join(project, 'node_modules', '.bin', 'tenantry');
    const [result, help] = await Promise.all([cli(['list', '--json'], { cwd: project, executable: bin }), cli(['--help'], { cwd: project, executable: bin })]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect((JSON.parse(result.stdout) as { id: string; plan: string }[]).map((t) => [t.id, t.plan])).toEqual([['acme', 'pro']]);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: tenantry <command> \[options\]\n/);
    expect(statSync(CLI).mode & 0o111).toBe(0o111);
  });
});
