import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { PLANS, REGIONS, STATUSES, UsageError, parseCommandLine } from '../src/cli/args.js';
import { formatBytes, formatDuration, json, keyValues, table } from '../src/cli/output.js';
import { MigrationProgressReporter, progressBar, progressLine } from '../src/cli/progress.js';
import { ConfirmationRequiredError, assertCanConfirm, confirm } from '../src/cli/prompt.js';
import { run } from '../src/cli/run.js';
import { TenantPlanSchema, TenantRegionSchema, TenantStatusSchema } from '../src/index.js';
import type { MigrationProgress } from '../src/index.js';
import { tempDir } from './helpers/env.js';

/** A text stream that keeps what is written; a terminal when `tty`. */
function sink(tty = false, columns?: number) {
  const chunks: string[] = [];
  return { isTTY: tty, columns, write: (chunk: string) => chunks.push(chunk), get text() { return chunks.join(''); }, chunks };
}

/** A stdin that claims to be a terminal, answering `answer` (or ending without one). */
function terminalInput(answer?: string) {
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  setImmediate(() => (answer === undefined ? stdin.end() : stdin.write(answer)));
  return stdin;
}

const progress = (done: number, failed: number, elapsedMs: number): MigrationProgress => ({
  done,
  total: done,
  succeeded: done - failed,
  failed,
  skipped: 0,
  tenantId: `t${done}`,
  elapsedMs,
});

describe('tenantry CLI argument parsing', () => {
  it('knows the plans, regions and statuses of the protocol schemas', () => {
    expect([...PLANS]).toEqual(TenantPlanSchema.options);
    expect([...REGIONS]).toEqual(TenantRegionSchema.options);
    expect([...STATUSES]).toEqual(TenantStatusSchema.options);
  });

  it('parses each command with its options, global options before or after the command', () => {
    const cmd = (...argv: string[]) => {
      const parsed = parseCommandLine(argv);
      if (parsed.kind !== 'run') throw new Error('expected a command');
      return parsed.invocation;
    };
    expect(cmd('provision', 'acme', '--plan', 'pro', '--region', 'eu-west')).toEqual({
      command: { name: 'provision', orgId: 'acme', plan: 'pro', region: 'eu-west' },
      json: false,
      config: undefined,
    });
    expect(cmd('--config', 'x.mjs', 'list', '--status', 'active', '--json')).toEqual({
      command: { name: 'list', status: 'active' },
      json: true,
      config: 'x.mjs',
    });
    expect(cmd('destroy', 'acme', '-y').command).toEqual({ name: 'destroy', id: 'acme', immediate: false, yes: true });
    expect(cmd('plan', 'acme', 'enterprise').command).toEqual({ name: 'plan', id: 'acme', plan: 'enterprise' });
    expect(cmd('migrate', '--dir', 'db', '--concurrency=16', '--dry-run').command).toEqual({ name: 'migrate', dir: 'db', concurrency: 16, dryRun: true });
    expect(cmd('purge-expired').command).toEqual({ name: 'purge-expired', yes: false });
    expect(cmd('migrate-control-plane', '-c', 'c.js').config).toBe('c.js');
    for (const name of ['show', 'suspend', 'resume', 'usage'] as const) expect(cmd(name, 'acme').command).toEqual({ name, id: 'acme' });
  });

  it('throws a UsageError naming the command for a bad command line', () => {
    const usage = (...argv: string[]) => {
      try {
        parseCommandLine(argv);
      } catch (err) {
        expect(err).toBeInstanceOf(UsageError);
        return [(err as UsageError).command, (err as UsageError).message];
      }
      throw new Error(`accepted: ${argv.join(' ')}`);
    };
    expect(usage('destroy', 'acme', '--dry-run')).toEqual(['destroy', 'destroy: unknown option --dry-run']);
    expect(usage('migrate', '--concurrency', '1.5')).toEqual(['migrate', 'migrate: --concurrency must be an integer ≥ 1 (got "1.5")']);
    expect(usage('migrate', '--dir', '')).toEqual(['migrate', 'migrate: --dir must not be empty']);
    expect(usage('plan', 'acme')).toEqual(['plan', 'plan: missing <plan>']);
    expect(usage('nope')).toEqual([undefined, 'unknown command "nope"']);
  });
});

describe('tenantry CLI output', () => {
  it('aligns tables and key/value blocks, and prints no control characters', () => {
    expect(table(['id', 'error'], [['acme', 'bad\nthing\u001b[31m'], ['b', undefined]])).toBe('ID    ERROR\nacme  bad thing [31m\nb     -\n');
    expect(keyValues([['id', 'acme'], ['plan', '']])).toBe('id    acme\nplan  -\n');
  });

  it('formats durations and bytes', () => {
    expect([formatDuration(850), formatDuration(12_340), formatDuration(65_000), formatDuration(7_380_000)]).toEqual(['850 ms', '12.3 s', '1m 05s', '2h 03m']);
    expect([formatBytes(512), formatBytes(1536), formatBytes(20 * 1024 * 1024)]).toEqual(['512 B', '1.5 KiB', '20.0 MiB']);
  });
});

describe('tenantry migrate progress', () => {
  it('draws a bar with counts, rate and ETA', () => {
    expect(progressBar(progress(12, 1, 2000), 40)).toBe('migrating [#######.................] 12/40  30% | 1 failed | 6.0/s | ETA 4.7 s');
    expect(progressBar(progress(40, 0, 4000), 40)).toBe('migrating [########################] 40/40 100% | 0 failed | 10.0/s | ETA 0 ms');
    expect(progressBar(progress(0, 0, 0), 40)).toMatch(/ 0\/40 {3}0% \| 0 failed \| -\/s \| ETA -$/);
    expect(progressLine(progress(12, 1, 2000), 40)).toBe('migrate: 12/40 tenants (30%), 11 migrated, 0 up to date, 1 failed, 6.0/s, ETA 4.7 s');
  });

  it('redraws the bar in place on a terminal, at most every redrawMs, always the last state, within the width', () => {
    let now = 0;
    const err = sink(true, 50);
    const reporter = new MigrationProgressReporter(err, { total: 4, now: () => now, redrawMs: 100 });
    reporter.update(progress(1, 0, 10));
    now = 50;
    reporter.update(progress(2, 0, 50)); // held back
    expect(err.chunks).toHaveLength(1);
    now = 60;
    reporter.update(progress(4, 1, 60)); // the last one is always drawn
    reporter.finish();
    expect(err.chunks).toHaveLength(3);
    expect(err.chunks[0]).toMatch(/^\r\u001b\[2Kmigrating \[/);
    expect(err.chunks[1]).toMatch(/^\r\u001b\[2Kmigrating \[#{24}\] 4\/4 100% \| 1/); // cut to the terminal's width
    expect(err.chunks[1]!.length - '\r\u001b[2K'.length).toBeLessThan(50);
    expect(err.chunks[2]).toBe('\n');
  });

  it('prints a line at most every lineMs off a terminal, and the held-back state at the end', () => {
    let now = 0;
    const err = sink(false);
    const reporter = new MigrationProgressReporter(err, { total: 10, now: () => now });
    reporter.update(progress(1, 0, 100));
    now = 500;
    reporter.update(progress(2, 0, 500));
    now = 1200;
    reporter.update(progress(3, 0, 1200));
    now = 1300;
    reporter.update(progress(4, 0, 1300));
    reporter.finish(); // the run ended early (e.g. the list shrank): the last state is still shown
    expect(err.text.split('\n').filter(Boolean).map((l) => l.split(' ')[1])).toEqual(['1/10', '3/10', '4/10']);
    expect(err.text).not.toContain('\r');
  });
});

describe('tenantry CLI confirmation', () => {
  it('asks on stderr and accepts y or yes only', async () => {
    for (const [answer, expected] of [['y\n', true], ['YES\n', true], ['n\n', false], ['\n', false], ['yep\n', false]] as const) {
      const stderr = sink(false);
      expect(await confirm('Destroy tenant "acme"?', { stdin: terminalInput(answer), stderr })).toBe(expected);
      expect(stderr.text).toContain('Destroy tenant "acme"? [y/N] ');
    }
  });

  it('takes the end of input as no', async () => {
    expect(await confirm('Really?', { stdin: terminalInput(), stderr: sink(false) })).toBe(false);
  });

  it('refuses to ask when stdin is not a terminal', () => {
    expect(() => assertCanConfirm('destroy', { stdin: new PassThrough(), stderr: sink() })).toThrow(ConfirmationRequiredError);
    expect(() => assertCanConfirm('destroy', { stdin: terminalInput('y\n'), stderr: sink() })).not.toThrow();
  });
});

describe('tenantry destroy on a terminal', () => {
  const { dir, cleanup } = tempDir('tenantry-cli-tty-');
  afterAll(cleanup);

  it('changes nothing when the answer is no (exit 1), and destroys when it is yes', async () => {
    const io = (answer?: string) => ({ stdin: terminalInput(answer), stdout: sink(), stderr: sink(), cwd: dir });
    expect(await run(['provision', 'acme'], io())).toBe(0);
    expect(existsSync(join(dir, '.tenantry', 'control-plane.db'))).toBe(true); // the data of <cwd>, not of the process's cwd

    const declined = io('n\n');
    expect(await run(['destroy', 'acme', '--immediate'], declined)).toBe(1);
    expect(declined.stderr.text).toMatch(/^Destroy tenant "acme" now\? .* \[y\/N\] destroy: not confirmed; nothing was changed\n$/);
    const listed = io();
    expect(await run(['list', '--json'], listed)).toBe(0);
    expect(JSON.parse(listed.stdout.text)).toHaveLength(1);

    const confirmed = io('y\n');
    expect(await run(['destroy', 'acme', '--immediate'], confirmed)).toBe(0);
    expect(confirmed.stdout.text).toBe('tenant acme: destroyed (database and record deleted)\n');
  });
});

describe('tenantry run() in process', () => {
  const { dir, cleanup } = tempDir('tenantry-cli-inproc-');
  afterAll(cleanup);
  const io = () => ({ stdin: new PassThrough(), stdout: sink(), stderr: sink(), cwd: dir });
  const exec = async (...argv: string[]) => {
    const streams = io();
    const code = await run(argv, streams);
    return { code, stdout: streams.stdout.text, stderr: streams.stderr.text };
  };

  it('prints the usage to stderr and exits 2 for wrong command lines', async () => {
    const cases: [string[], RegExp][] = [
      [[], /^tenantry: missing command\n\nUsage: tenantry <command>/],
      [['list', '--yes'], /^tenantry: list: unknown option --yes\n\nUsage: tenantry list /],
      [['list', '--bogus'], /^tenantry: Unknown option '--bogus'\n\nUsage: tenantry list /],
      [['show', 'a', 'b'], /^tenantry: show: unexpected argument "b"/],
      [['list', '--status', 'sleeping'], /^tenantry: list: --status must be one of provisioning, active/],
      [['provision', 'acme', '--region', 'mars'], /^tenantry: provision: --region must be one of us-east/],
      [['migrate', '--concurrency', '0'], /^tenantry: migrate: --concurrency must be an integer ≥ 1 \(got "0"\)/],
      [['migrate', '--concurrency', 'many'], /--concurrency must be an integer/],
      [['list', '--plan'], /^tenantry: Option '--plan <value>' argument missing/],
      [['help', 'nothing'], /^tenantry: help: unknown command "nothing"/],
      [['purge-expired'], /^tenantry: purge-expired: refusing to run without confirmation: stdin is not a terminal; pass --yes/],
      [['list', '--config', 'missing.mjs'], /^tenantry: --config: no file at .*missing\.mjs\n\nUsage: tenantry <command>/],
      [['migrate', '--dir', 'nowhere'], /^tenantry: migrate: no migrations folder at .*nowhere \(--dir\)\n\nUsage: tenantry migrate/],
    ];
    for (const [argv, message] of cases) {
      const result = await exec(...argv);
      expect({ argv, code: result.code, stdout: result.stdout }).toEqual({ argv, code: 2, stdout: '' });
      expect(result.stderr).toMatch(message);
    }
  });

  it('prints help to stdout with help, help <command>, --help and -h, and exits 0', async () => {
    const general = await exec('help');
    expect(general).toMatchObject({ code: 0, stderr: '' });
    for (const head of ['provision <orgId>', 'list', 'show <id>', 'suspend <id>', 'resume <id>', 'destroy <id>', 'plan <id> <plan>', 'usage <id>', 'migrate', 'purge-expired', 'migrate-control-plane']) {
      expect(general.stdout).toContain(`\n  ${head} `);
    }
    expect((await exec('-h')).stdout).toBe(general.stdout);
    expect((await exec('help', 'destroy')).stdout).toMatch(/^Usage: tenantry destroy <id> \[--immediate\] \[--yes\] \[--json\]\n/);
    expect((await exec('migrate', '--help')).stdout).toMatch(/--dry-run\s+report what each tenant would get/);
  });

  it('shows an existing tenant on a repeated provision, filters lists, prints usage tables, and has nothing to purge', async () => {
    expect((await exec('provision', 'acme')).code).toBe(0);
    expect(await exec('provision', 'acme')).toMatchObject({ code: 0, stdout: expect.stringMatching(/^tenant acme already exists: active \(plan free, region us-east\)\n/) });
    expect((await exec('suspend', 'acme')).code).toBe(0);
    expect(JSON.parse((await exec('list', '--status', 'suspended', '--json')).stdout)).toMatchObject([{ id: 'acme', status: 'suspended' }]);
    expect(await exec('list', '--status', 'active')).toMatchObject({ code: 0, stdout: 'no tenants\n' });
    expect((await exec('usage', 'acme')).stderr).toMatch(/^TENANT_SUSPENDED: /);
    expect((await exec('resume', 'acme')).code).toBe(0);
    expect((await exec('usage', 'acme')).stdout).toMatch(/^objects\s+0\n[\s\S]*^storage\s+\d+(\.\d)? (B|KiB)$/m);
    expect(await exec('purge-expired', '--yes', '--json')).toMatchObject({ code: 0, stdout: json({ purged: [], destroying: [] }) });
    expect(await exec('suspend', 'Not_An_Id')).toMatchObject({ code: 1, stderr: expect.stringMatching(/^INVALID_TENANT_ID: /) });
  });

  it('exits 1 naming the file for invalid createTenantry options in a config', async () => {
    writeFileSync(join(dir, 'invalid.mjs'), 'export default { plans: 7 };');
    const result = await exec('list', '--config', 'invalid.mjs');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: .*invalid\.mjs: createTenantry: .*plans/);
  });
});
