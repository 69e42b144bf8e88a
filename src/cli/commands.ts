/**
 * The commands of `tenantry`, each on the public API of a tenantry instance
 * (`tenantry.provisioning`, `tenantry.registry`, `tenantry.quota`, `tenantry.migrate`,
 * `tenantry.deploy`).
 * Each writes its result to stdout (a table, or JSON with `--json`) and resolves the exit code.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { TenantryError } from '../errors/index.js';
import { TENANT_ID_PATTERN } from '../protocol/index.js';
import type { TenantProvisioningResult, TenantRecord } from '../protocol/index.js';
import type { Migration } from '../provisioning/migrations.js';
import type { MigrationReport } from '../provisioning/migration-runner.js';
import type { Tenantry } from '../tenantry.js';
import type { DeployProgress } from '../deploy/types.js';
import type { DeployBundleInput } from '../schema/bundle.js';
import { UsageError } from './args.js';
import type { Command } from './args.js';
import { cell, describeError, formatBytes, formatDuration, json, keyValues, printableRecord, table } from './output.js';
import type { TextStream } from './output.js';
import { MigrationProgressReporter } from './progress.js';
import { confirm } from './prompt.js';
import type { PromptIo } from './prompt.js';

/** The streams and working directory of a run. */
export interface CliIo extends PromptIo {
  stdout: TextStream;
  stderr: TextStream;
  /** Working directory: where config files and `./migrations` are looked for. */
  cwd: string;
}

/** What every command gets besides its arguments. */
export interface CommandContext {
  tenantry: Tenantry;
  io: CliIo;
  json: boolean;
}

/** Exit code of a command that declined to go on (the user answered no). */
const DECLINED = 1;

/**
 * Runs `command` on `ctx.tenantry` and resolves the exit code (0, or 1 when something the
 * command did failed). Rejects with the library's errors (`TenantryError`, `TypeError`) and
 * with a `UsageError` for arguments found wrong only now (a missing migrations folder).
 */
export async function runCommand(command: Command, ctx: CommandContext): Promise<number> {
  const { tenantry: t } = ctx;
  switch (command.name) {
    case 'provision': {
      const result = await t.provisioning.provisionTenant({
        orgId: command.orgId,
        ...(command.plan === undefined ? {} : { plan: command.plan }),
        ...(command.region === undefined ? {} : { region: command.region }),
      });
      if (ctx.json) ctx.io.stdout.write(json(result));
      else ctx.io.stdout.write(provisionText(result));
      if (result.status === 'failed') {
        ctx.io.stderr.write(`provision: tenant "${result.tenantId}" could not be provisioned: ${result.error ?? 'unknown error'}\n`);
        return 1;
      }
      return 0;
    }
    case 'list': {
      const records = await t.registry.list({
        ...(command.status === undefined ? {} : { status: command.status }),
        ...(command.plan === undefined ? {} : { plan: command.plan }),
      });
      if (ctx.json) {
        ctx.io.stdout.write(json(records.map(printableRecord)));
      } else if (records.length === 0) {
        ctx.io.stdout.write('no tenants\n');
      } else {
        ctx.io.stdout.write(
          table(
            ['id', 'status', 'plan', 'region', 'slug', 'domains', 'created'],
            records.map((r) => [r.id, r.status, r.plan, r.region, r.slug, r.domains.join(','), r.createdAt]),
          ),
        );
      }
      return 0;
    }
    case 'show': {
      const record = await existing(t, command.id);
      if (ctx.json) {
        ctx.io.stdout.write(json(printableRecord(record)));
      } else {
        ctx.io.stdout.write(
          keyValues([
            ['id', record.id],
            ['status', record.status],
            ['plan', record.plan],
            ['region', record.region],
            ['slug', record.slug],
            ['domains', record.domains.join(', ')],
            ['database', record.db.url ?? '(from databases.urlTemplate)'],
            ['token', record.db.authToken === undefined ? 'none' : 'stored (not shown)'],
            ['quotas', record.quotas === undefined ? undefined : Object.entries(record.quotas).map(([k, v]) => `${k}=${String(v)}`).join(', ')],
            ['created', record.createdAt],
            ['updated', record.updatedAt],
          ]),
        );
      }
      return 0;
    }
    case 'suspend':
      return lifecycle(ctx, await t.provisioning.suspendTenant(command.id));
    case 'resume':
      return lifecycle(ctx, await t.provisioning.resumeTenant(command.id));
    case 'plan':
      return lifecycle(ctx, await t.provisioning.migrateTenantPlan(command.id, command.plan));
    case 'destroy': {
      await existing(t, command.id);
      if (!command.yes) {
        const question = command.immediate
          ? `Destroy tenant "${command.id}" now? Its database and record are deleted; this cannot be undone.`
          : `Destroy tenant "${command.id}"? It stops serving now and is deleted by \`tenantry purge-expired\` after the grace period.`;
        if (!(await confirm(question, ctx.io))) return declined(ctx, 'destroy');
      }
      const result = await t.provisioning.destroyTenant(command.id, { immediate: command.immediate });
      if (ctx.json) {
        ctx.io.stdout.write(json(command.immediate ? { ...result, destroyed: true } : result));
      } else if (command.immediate) {
        ctx.io.stdout.write(`tenant ${result.tenantId}: destroyed (database and record deleted)\n`);
      } else {
        ctx.io.stdout.write(
          `tenant ${result.tenantId}: destroying; \`tenantry purge-expired\` deletes it once the grace period has passed ` +
            `(\`tenantry resume ${result.tenantId}\` brings it back until then)\n`,
        );
      }
      return 0;
    }
    case 'usage': {
      const usage = await t.quota.usage(checkedId(command.id));
      if (ctx.json) {
        ctx.io.stdout.write(json(usage));
      } else {
        ctx.io.stdout.write(
          keyValues([
            ['objects', usage.currentObjectCount],
            ['records', usage.currentRecordCount],
            ['storage', formatBytes(usage.currentStorageBytes)],
            ['users', usage.currentUsers],
            ['deployments today', usage.deploymentsToday],
            ['requests this minute', usage.apiRequestsThisMinute],
            ['measured at', usage.lastUpdatedAt],
          ]),
        );
      }
      return 0;
    }
    case 'purge-expired': {
      const destroying = await t.registry.list({ status: 'destroying' });
      if (destroying.length === 0) {
        ctx.io.stdout.write(ctx.json ? json({ purged: [], destroying: [] }) : 'no tenant is being destroyed\n');
        return 0;
      }
      if (!command.yes) {
        const ids = destroying.map((r) => r.id);
        const shown = ids.length > 10 ? `${ids.slice(0, 10).join(', ')} and ${ids.length - 10} more` : ids.join(', ');
        const question =
          `Purge the destroying tenants whose grace period is over? Their databases and records are deleted; this cannot be undone. ` +
          `(${ids.length} destroying: ${shown})`;
        if (!(await confirm(question, ctx.io))) return declined(ctx, 'purge-expired');
      }
      const purged = await t.provisioning.purgeExpired();
      const waiting = destroying.map((r) => r.id).filter((id) => !purged.includes(id));
      if (ctx.json) {
        ctx.io.stdout.write(json({ purged, destroying: waiting }));
      } else {
        ctx.io.stdout.write(purged.length === 0 ? 'no grace period is over yet: nothing purged\n' : `purged ${count(purged.length, 'tenant')}: ${purged.join(', ')}\n`);
        if (waiting.length > 0) ctx.io.stdout.write(`still in their grace period: ${waiting.join(', ')}\n`);
      }
      return 0;
    }
    case 'migrate':
      return migrate(command, ctx);
    case 'migrate-control-plane': {
      const registry = t.registry;
      if (typeof registry.migrate !== 'function') {
        const reason = 'the registry needs no migration (it creates its tables on first use)';
        ctx.io.stdout.write(ctx.json ? json({ migrated: false, reason }) : `${reason}\n`);
        return 0;
      }
      await registry.migrate();
      ctx.io.stdout.write(ctx.json ? json({ migrated: true }) : 'control plane migrated: the registry tables are up to date\n');
      return 0;
    }
    case 'deploy':
      return deploy(command, ctx);
    case 'rollback':
      return rollback(command, ctx);
  }
}

/** `tenantry deploy <bundle.json>`: plan, then (without `--plan`) execute. */
async function deploy(command: Extract<Command, { name: 'deploy' }>, ctx: CommandContext): Promise<number> {
  const t = ctx.tenantry;
  const path = resolve(ctx.io.cwd, command.bundle);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`deploy: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, 'deploy');
  }
  let bundle: unknown;
  try {
    bundle = JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text);
  } catch (err) {
    throw new UsageError(`deploy: ${path} is not JSON (${err instanceof Error ? err.message : String(err)})`, 'deploy');
  }
  const plan = await t.deploy.planDeployment(bundle as DeployBundleInput, {
    allowDestructive: command.allowDestructive,
    ...(command.concurrency === undefined ? {} : { concurrency: command.concurrency }),
  });
  const blocked = plan.tenants.filter((p) => p.status === 'blocked');
  if (command.planOnly) {
    if (ctx.json) {
      ctx.io.stdout.write(json(plan));
    } else {
      const out = ctx.io.stdout;
      out.write(
        `plan ${plan.deploymentId} (version ${plan.version}) for ${count(plan.summary.tenants, 'tenant')}: ${plan.summary.ready} to change, ` +
          `${plan.summary.unchanged} up to date, ${blocked.length} blocked; nothing was changed\n`,
      );
      for (const tenant of plan.tenants) {
        if (tenant.status === 'unchanged') continue;
        out.write(`\n${tenant.tenantId}: ${tenant.status}${tenant.error === undefined ? '' : ` (${tenant.error.code}: ${cell(tenant.error.message)})`}\n`);
        for (const sql of tenant.sql) out.write(`  ${cell(sql)};\n`);
      }
    }
    return blocked.length > 0 ? 1 : 0;
  }
  const progress = new DeployProgressLines(ctx.io.stderr, 'deploy');
  const result = await t.deploy.executeDeployment(plan, {
    ...(command.concurrency === undefined ? {} : { concurrency: command.concurrency }),
    onProgress: (p) => progress.update(p),
  });
  progress.finish();
  const failed = result.tenants.filter((r) => r.status === 'failed');
  if (ctx.json) {
    ctx.io.stdout.write(json({ ...result, tenants: result.tenants.map(({ error, ...r }) => (error === undefined ? r : { ...r, error: describeError(error) })) }));
  } else {
    const { summary } = result;
    ctx.io.stdout.write(
      `deployment ${result.deploymentId} (version ${result.version}): ${summary.applied} applied, ${summary.unchanged} up to date, ` +
        `${summary.failed} failed, ${summary.notRun} not run, in ${formatDuration(result.durationMs)}\n`,
    );
    if (failed.length > 0) ctx.io.stdout.write(`\n${table(['failed tenant', 'error'], failed.map((f) => [f.tenantId, describeError(f.error!)]))}`);
    if (summary.applied > 0) ctx.io.stdout.write(`\nroll it back with: tenantry rollback ${result.deploymentId}\n`);
  }
  return failed.length > 0 ? 1 : 0;
}

/** `tenantry rollback <deploymentId>`. */
async function rollback(command: Extract<Command, { name: 'rollback' }>, ctx: CommandContext): Promise<number> {
  const progress = new DeployProgressLines(ctx.io.stderr, 'rollback');
  let result: Awaited<ReturnType<Tenantry['deploy']['rollbackDeployment']>>;
  try {
    result = await ctx.tenantry.deploy.rollbackDeployment(command.deploymentId, {
      ...(command.concurrency === undefined ? {} : { concurrency: command.concurrency }),
      onProgress: (p) => progress.update(p),
    });
  } finally {
    progress.finish();
  }
  const failed = result.tenants.filter((r) => r.status === 'failed');
  if (ctx.json) {
    ctx.io.stdout.write(json({ ...result, tenants: result.tenants.map(({ error, ...r }) => (error === undefined ? r : { ...r, error: describeError(error) })) }));
  } else {
    const { summary } = result;
    ctx.io.stdout.write(
      `deployment ${result.deploymentId}: ${summary.rolledBack} rolled back, ${summary.unchanged} already rolled back, ${summary.failed} failed\n\n`,
    );
    ctx.io.stdout.write(table(['tenant', 'status', 'strategy', 'error'], result.tenants.map((r) => [r.tenantId, r.status, r.strategy, r.error === undefined ? undefined : describeError(r.error)])));
  }
  return failed.length > 0 ? 1 : 0;
}

/** Plain progress lines of a deploy or rollback on stderr: at most one a second, and the last. */
class DeployProgressLines {
  readonly #stream: TextStream;
  readonly #what: string;
  #last: DeployProgress | undefined;
  #shownAt = 0;
  #shown: DeployProgress | undefined;

  constructor(stream: TextStream, what: string) {
    this.#stream = stream;
    this.#what = what;
  }

  update(progress: DeployProgress): void {
    this.#last = progress;
    const now = Date.now();
    if (now - this.#shownAt < 1000 && progress.done < progress.total) return;
    this.#shownAt = now;
    this.#write(progress);
  }

  finish(): void {
    if (this.#last !== undefined && this.#last !== this.#shown) this.#write(this.#last);
  }

  #write(p: DeployProgress): void {
    this.#shown = p;
    this.#stream.write(`${this.#what}: ${p.done}/${p.total} tenants, ${p.succeeded} done, ${p.unchanged} up to date, ${p.failed} failed\n`);
  }
}

async function migrate(command: Extract<Command, { name: 'migrate' }>, ctx: CommandContext): Promise<number> {
  const t = ctx.tenantry;
  let migrations: string | Migration[];
  if (command.dir !== undefined) {
    migrations = folder(resolve(ctx.io.cwd, command.dir), ' (--dir)');
  } else {
    const configured = await t.provisioning.configuredMigrations();
    migrations = configured.length > 0 ? configured : folder(resolve(ctx.io.cwd, 'migrations'), '; pass --dir <folder> or set provisioning.migrations in the config');
  }
  const ids = (await t.registry.list({ status: 'active' })).map((r) => r.id);
  const progress = new MigrationProgressReporter(ctx.io.stderr, { total: ids.length });
  let report: MigrationReport;
  try {
    report =
      ids.length === 0
        ? { total: 0, durationMs: 0, succeeded: [], skipped: [], failed: [] }
        : await t.migrate({
            migrations,
            tenants: ids,
            dryRun: command.dryRun,
            ...(command.concurrency === undefined ? {} : { concurrency: command.concurrency }),
            onProgress: (p) => progress.update(p),
          });
  } finally {
    progress.finish();
  }
  const byId = <T extends { tenantId: string }>(rows: T[]): T[] => [...rows].sort((a, b) => (a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : 0));
  const failed = byId(report.failed);
  if (ctx.json) {
    ctx.io.stdout.write(
      json({
        dryRun: command.dryRun,
        total: report.total,
        durationMs: report.durationMs,
        succeeded: byId(report.succeeded),
        skipped: byId(report.skipped),
        failed: failed.map((f) => ({ tenantId: f.tenantId, ...(f.migrationId === undefined ? {} : { migrationId: f.migrationId }), error: describeError(f.error) })),
      }),
    );
  } else {
    const out = ctx.io.stdout;
    if (ids.length === 0) {
      out.write('no active tenants to migrate\n');
    } else if (command.dryRun) {
      out.write(
        `dry run over ${count(report.total, 'tenant')}: ${report.succeeded.length} would be migrated, ${report.skipped.length} up to date, ` +
          `${failed.length} failed; nothing was changed\n`,
      );
      if (report.succeeded.length > 0) {
        out.write('\n');
        out.write(table(['tenant', 'would apply'], byId(report.succeeded).map((s) => [s.tenantId, s.applied.join(', ')])));
      }
    } else {
      out.write(
        `migrated ${count(report.total, 'tenant')} in ${formatDuration(report.durationMs)}: ${report.succeeded.length} migrated, ` +
          `${report.skipped.length} up to date, ${failed.length} failed\n`,
      );
    }
    if (failed.length > 0) {
      out.write('\n');
      out.write(table(['failed tenant', 'migration', 'error'], failed.map((f) => [f.tenantId, f.migrationId, describeError(f.error)])));
    }
  }
  return failed.length > 0 ? 1 : 0;
}

/** `path` when it is a folder; a `UsageError` (its message ending with `hint`) otherwise. */
function folder(path: string, hint: string): string {
  let isDirectory = false;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (!isDirectory) throw new UsageError(`migrate: no migrations folder at ${path}${hint}`, 'migrate');
  return path;
}

function lifecycle(ctx: CommandContext, result: TenantProvisioningResult): number {
  ctx.io.stdout.write(ctx.json ? json(result) : `tenant ${result.tenantId}: ${result.status} (plan ${result.plan}, region ${result.region})\n`);
  return 0;
}

function provisionText(result: TenantProvisioningResult): string {
  const already = result.status !== 'failed' && result.steps.every((s) => s.status === 'skipped');
  const head = already
    ? `tenant ${result.tenantId} already exists: ${result.status} (plan ${result.plan}, region ${result.region})\n`
    : `tenant ${result.tenantId}: ${result.status} (plan ${result.plan}, region ${result.region})` +
      `${result.totalDurationMs === undefined ? '' : ` in ${formatDuration(result.totalDurationMs)}`}\n`;
  const database = result.connectionUrl === '' ? '' : `database ${result.connectionUrl}\n`;
  if (already) return head + database;
  const steps = table(
    ['step', 'status', 'time', 'error'],
    result.steps.map((s) => [s.name, s.status, s.durationMs === undefined ? undefined : formatDuration(s.durationMs), s.error]),
  );
  return `${head}${database}\n${steps}`;
}

function declined(ctx: CommandContext, command: string): number {
  ctx.io.stderr.write(`${command}: not confirmed; nothing was changed\n`);
  return DECLINED;
}

function checkedId(id: string): string {
  if (!TENANT_ID_PATTERN.test(id)) throw new TenantryError('INVALID_TENANT_ID', `not a valid tenant id: "${id}"`);
  return id;
}

/** The record of tenant `id`: `INVALID_TENANT_ID` or `TENANT_NOT_FOUND` otherwise. */
async function existing(t: Tenantry, id: string): Promise<TenantRecord> {
  const record = await t.registry.get(checkedId(id));
  if (record === undefined) throw new TenantryError('TENANT_NOT_FOUND', `no tenant "${id}"`);
  return record;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
