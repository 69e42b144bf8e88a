/**
 * `tenantry.apps`: the protocol's `IAppLifecycleService` over the tenant databases of one
 * tenantry instance. Each operation reads the tenant's schema and app records, checks, plans
 * through the schema layer, and applies the plan together with the app's record (and seed rows)
 * in one transaction. Operations on one tenant run one at a time in this process.
 */
import type { Client } from '@libsql/client';
import { TenantryError } from '../errors/index.js';
import { measureObjectCount } from '../quota/gauges.js';
import { applyMigrationPlan } from '../schema/apply.js';
import { SchemaError } from '../schema/errors.js';
import { introspectDatabase } from '../schema/introspect.js';
import { foldName } from '../schema/sql.js';
import type { MigrationPlan, MigrationStatement } from '../schema/types.js';
import { adoptedTables, compatibilityIssues, dependentsOf, ownedTables } from './compatibility.js';
import type { AppState } from './compatibility.js';
import { AppError } from './errors.js';
import { appNameProblem, parseAppManifest, safeParseAppManifest } from './manifest.js';
import type { AppManifest, AppManifestInput } from './manifest.js';
import { planApp } from './plan.js';
import type { AppPlan } from './plan.js';
import { readApps, recordInstall, recordUninstall, recordUpgrade } from './records.js';
import type {
  AppCompatibilityCheck,
  AppCompatibilityIssue,
  AppInstallResult,
  AppUninstallResult,
  AppUpgradeResult,
  IAppLifecycleService,
  InstallAppOptions,
  InstalledApp,
  ListAppsOptions,
  UninstallAppOptions,
  UpgradeAppOptions,
} from './types.js';

/** A tenant's database as the service reaches it (a tenant scope of the instance). */
export interface AppTenantHandle {
  /** True when the tenant may only be read (suspended, served read-only). */
  readonly readOnly: boolean;
  /** The tenant's id (normalized) and effective quotas. */
  readonly context: { readonly tenantId: string; readonly tenantQuotas: { readonly maxObjects?: number | undefined } };
  /** The tenant's client; each operation leases the pooled client. */
  client(): Promise<Client>;
}

/** What an {@link AppService} needs from its tenantry instance. */
export interface AppServiceDeps {
  /** Opens tenant `tenantId`: rejects with the coded errors a request would get (not found, suspended, ...). */
  open(tenantId: string): Promise<AppTenantHandle>;
  /** Called after a tenant's objects changed (tenantry forgets the tenant's cached quota gauges). */
  changed?: (tenantId: string) => void;
  /** Millisecond clock (ISO times of the records, `durationMs`). Default `Date.now`. */
  now?: () => number;
}

interface Opened {
  handle: AppTenantHandle;
  client: Client;
  state: AppState;
}

/**
 * The protocol's `IAppLifecycleService`: `checkCompatibility`, `installApp`, `uninstallApp`,
 * `upgradeApp`, plus `listApps`. Apps are recorded in each tenant's `_tenantry_apps` table.
 *
 * @example
 * const check = await tenantry.apps.checkCompatibility(invoicing, 'acme');
 * if (check.compatible) await tenantry.apps.installApp(invoicing, 'acme');
 */
export class AppService implements IAppLifecycleService {
  readonly #deps: AppServiceDeps;
  readonly #now: () => number;
  /** The tail of each tenant's queue of operations (removed when the queue empties). */
  readonly #queues = new Map<string, Promise<void>>();

  /** Built by `createTenantry()`; use `tenantry.apps`. */
  constructor(deps: AppServiceDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  /**
   * Whether `manifest` can be installed on tenant `tenantId` (or, when the app is installed,
   * upgraded to): a valid manifest (name snake_case, version semver, ...), its dependencies
   * installed in the versions asked for, installed apps depending on it still satisfied, no
   * object or index name owned by another app or the tenant's own schema, `maxObjects` not
   * exceeded, and a plan the schema layer can make. Destructive changes are warnings. Changes
   * nothing; rejects only for the tenant (not found, unavailable, ...).
   */
  async checkCompatibility(manifest: AppManifestInput, tenantId: string): Promise<AppCompatibilityCheck> {
    const opened = await this.#open(tenantId, false);
    const parsed = safeParseAppManifest(manifest);
    if (!parsed.success) {
      const issues = parsed.issues.map((i): AppCompatibilityIssue => ({ severity: 'error', category: 'invalid_manifest', path: i.path, message: `${i.path}: ${i.message}` }));
      return { compatible: false, issues, mode: 'install' };
    }
    const m = parsed.manifest;
    const installed = opened.state.apps.get(m.name);
    const upgrade = installed?.status === 'installed';
    const issues = compatibilityIssues(m, opened.state);
    let plan: MigrationPlan | undefined;
    try {
      const planned = planApp(opened.state.schema, upgrade ? ownedTables(m.name, opened.state) : adoptedTables(m, opened.state), m, false);
      plan = planned.plan;
      for (const change of planned.diff.changes.filter((c) => c.breaking)) {
        issues.push({ severity: 'warning', category: 'destructive_change', object: change.parentEntity ?? change.entityName, message: `${change.description} (needs allowDestructive)` });
      }
      const quota = await objectQuota(opened, planned);
      if (quota !== undefined) issues.push({ severity: 'error', category: 'quota_exceeded', message: quota.message });
    } catch (err) {
      if (!(err instanceof SchemaError)) throw err;
      issues.push({ severity: 'error', category: 'unsupported_change', message: err.message, ...(err.object === undefined ? {} : { object: err.object }) });
    }
    return {
      compatible: !issues.some((i) => i.severity === 'error'),
      issues,
      mode: upgrade ? 'upgrade' : 'install',
      ...(upgrade ? { installedVersion: installed.version } : {}),
      ...(plan === undefined ? {} : { plan }),
    };
  }

  /**
   * Installs `manifest` on tenant `tenantId`: creates its objects through the schema layer and
   * records the app, with its seed rows, in one transaction. An app uninstalled with `keepData`
   * takes its kept tables back (changed to the manifest's shape).
   *
   * Rejects, changing nothing: `SchemaError` `INVALID_BUNDLE` (invalid manifest), `AppError`
   * `APP_ALREADY_INSTALLED`, `APP_INCOMPATIBLE` (see `issues`), `DESTRUCTIVE_CHANGE`,
   * `TenantryError` `QUOTA_EXCEEDED` (`maxObjects`), a `SchemaError` from the migration.
   *
   * @example
   * const result = await tenantry.apps.installApp({ name: 'crm', version: '1.0.0', objects: [...] }, 'acme');
   */
  async installApp(manifest: AppManifestInput, tenantId: string, options: InstallAppOptions = {}): Promise<AppInstallResult> {
    checkOptions(options, 'installApp', ['skipSeedData', 'allowDestructive']);
    const m = parseAppManifest(manifest);
    return this.#exclusive(tenantId, async () => {
      const started = this.#now();
      const opened = await this.#open(tenantId, true);
      const id = opened.handle.context.tenantId;
      if (opened.state.apps.get(m.name)?.status === 'installed') {
        throw new AppError('APP_ALREADY_INSTALLED', `tenant "${id}": app "${m.name}" is already installed (${opened.state.apps.get(m.name)!.version}); use upgradeApp`, { tenantId: id, app: m.name });
      }
      refuseIncompatible(m, opened.state, id, 'installed');
      const planned = planApp(opened.state.schema, adoptedTables(m, opened.state), m, options.skipSeedData !== true);
      refuseDestructive(planned, options.allowDestructive === true, id, m.name);
      await enforceObjects(opened, planned);
      await this.#apply(opened, planned, recordInstall(m, this.#iso()), m.name);
      return {
        success: true,
        appId: m.name,
        version: m.version,
        installedObjects: m.objects.map((o) => o.name),
        createdTables: planned.created,
        seededRecords: planned.seed.length,
        durationMs: Math.max(0, this.#now() - started),
        plan: planned.plan,
      };
    });
  }

  /**
   * Upgrades installed app `manifest.name` on tenant `tenantId` to `manifest`: the app's tables
   * are diffed against the new manifest through the schema layer (renames with `renamedFrom`,
   * the table rebuild where needed, rows kept), seed rows go into objects the upgrade creates,
   * and the new version is recorded, all in one transaction.
   *
   * Rejects, changing nothing: `SchemaError` `INVALID_BUNDLE`, `AppError` `APP_NOT_INSTALLED`,
   * `APP_INCOMPATIBLE` (version not newer, dependencies, dependents' ranges, conflicts),
   * `DESTRUCTIVE_CHANGE` (without `allowDestructive`), `TenantryError` `QUOTA_EXCEEDED`, a
   * `SchemaError` from the migration (`UNIQUE_VIOLATION`, ...).
   */
  async upgradeApp(manifest: AppManifestInput, tenantId: string, options: UpgradeAppOptions = {}): Promise<AppUpgradeResult> {
    checkOptions(options, 'upgradeApp', ['allowDestructive', 'skipSeedData']);
    const m = parseAppManifest(manifest);
    return this.#exclusive(tenantId, async () => {
      const started = this.#now();
      const opened = await this.#open(tenantId, true);
      const id = opened.handle.context.tenantId;
      const installed = opened.state.apps.get(m.name);
      if (installed?.status !== 'installed') throw new AppError('APP_NOT_INSTALLED', `tenant "${id}": app "${m.name}" is not installed; use installApp`, { tenantId: id, app: m.name });
      refuseIncompatible(m, opened.state, id, 'upgraded');
      const planned = planApp(opened.state.schema, ownedTables(m.name, opened.state), m, options.skipSeedData !== true);
      refuseDestructive(planned, options.allowDestructive === true, id, m.name);
      await enforceObjects(opened, planned);
      await this.#apply(opened, planned, recordUpgrade(m, this.#iso()), m.name);
      return {
        success: true,
        appId: m.name,
        version: m.version,
        previousVersion: installed.version,
        installedObjects: m.objects.map((o) => o.name),
        createdTables: planned.created,
        droppedTables: planned.dropped,
        seededRecords: planned.seed.length,
        durationMs: Math.max(0, this.#now() - started),
        plan: planned.plan,
      };
    });
  }

  /**
   * Uninstalls app `appName` from tenant `tenantId`: drops its tables and its record in one
   * transaction, or with `keepData` keeps the tables and rows and only unregisters the app.
   *
   * Rejects, changing nothing: `AppError` `APP_NOT_INSTALLED`, `APP_IN_USE` (installed apps
   * depend on it; `dependents` names them), a `SchemaError` from the migration. A `TypeError`
   * when `appName` cannot be an app name.
   */
  async uninstallApp(appName: string, tenantId: string, options: UninstallAppOptions = {}): Promise<AppUninstallResult> {
    checkOptions(options, 'uninstallApp', ['keepData']);
    const problem = appNameProblem(appName);
    if (problem !== undefined) throw new TypeError(`uninstallApp: ${problem}`);
    const keepData = options.keepData === true;
    return this.#exclusive(tenantId, async () => {
      const started = this.#now();
      const opened = await this.#open(tenantId, true);
      const id = opened.handle.context.tenantId;
      const installed = opened.state.apps.get(appName);
      if (installed?.status !== 'installed') throw new AppError('APP_NOT_INSTALLED', `tenant "${id}": app "${appName}" is not installed`, { tenantId: id, app: appName });
      const dependents = [...new Set(dependentsOf(appName, opened.state.apps).map((d) => d.app))];
      if (dependents.length > 0) {
        throw new AppError('APP_IN_USE', `tenant "${id}": app "${appName}" is needed by ${dependents.map((d) => `"${d}"`).join(', ')}; uninstall ${dependents.length === 1 ? 'it' : 'them'} first`, {
          tenantId: id,
          app: appName,
          dependents,
        });
      }
      const owned = ownedTables(appName, opened.state);
      const planned = planApp(opened.state.schema, keepData ? new Set() : owned, undefined, false);
      await this.#apply(opened, planned, recordUninstall(appName, keepData, this.#iso()), appName);
      const names = new Map(Object.keys(opened.state.schema.tables).map((n) => [foldName(n), n]));
      return {
        success: true,
        appId: appName,
        version: installed.version,
        droppedTables: planned.dropped,
        keptTables: keepData ? [...owned].map((n) => names.get(n) ?? n) : [],
        durationMs: Math.max(0, this.#now() - started),
      };
    });
  }

  /**
   * The apps recorded in tenant `tenantId`'s database, by name: installed ones, and with
   * `includeDetached` those uninstalled with `keepData` too.
   */
  async listApps(tenantId: string, options: ListAppsOptions = {}): Promise<InstalledApp[]> {
    checkOptions(options, 'listApps', ['includeDetached']);
    const handle = await this.#deps.open(tenantId);
    const apps = await readApps(await handle.client());
    return [...apps.values()].filter((a) => a.status === 'installed' || options.includeDetached === true);
  }

  async #open(tenantId: string, write: boolean): Promise<Opened> {
    const handle = await this.#deps.open(tenantId);
    if (write && handle.readOnly) {
      throw new TenantryError('TENANT_SUSPENDED', `tenant "${handle.context.tenantId}" is suspended: its apps cannot be changed until it is resumed`);
    }
    const client = await handle.client();
    const schema = await introspectDatabase(client, { now: this.#now });
    const apps = await readApps(client);
    return { handle, client, state: { schema, apps } };
  }

  /**
   * Runs the plan, then the seed rows and the record statements, in one transaction
   * (`applyMigrationPlan`, which first checks the schema is still the one planned against).
   */
  async #apply(opened: Opened, planned: AppPlan, records: string[], app: string): Promise<void> {
    const id = opened.handle.context.tenantId;
    const base = planned.plan.statements;
    // Not schema steps: the error of one is re-described below; 'pragma' is the plan's kind for
    // statements outside the object model.
    const extra = (sql: string, object: string, description: string): MigrationStatement => ({
      sql,
      order: 0,
      reversible: false,
      destructive: false,
      kind: 'pragma',
      object,
      description,
    });
    const statements = [
      ...base,
      ...planned.seed.map((s) => extra(s.sql, s.object, `seed row ${s.row} of "${s.object}"`)),
      ...records.map((sql) => extra(sql, '', `record app "${app}"`)),
    ].map((s, order) => ({ ...s, order }));
    try {
      await applyMigrationPlan(opened.client, { ...planned.plan, statements }, { tenantId: id, now: this.#now });
    } catch (err) {
      throw describeFailure(err, base.length, planned, app, id);
    } finally {
      this.#deps.changed?.(id);
    }
  }

  /** Runs `fn` after every earlier operation on `tenantId` settled. */
  async #exclusive<T>(tenantId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(tenantId) ?? Promise.resolve();
    const run = previous.then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.#queues.set(tenantId, tail);
    try {
      return await run;
    } finally {
      if (this.#queues.get(tenantId) === tail) this.#queues.delete(tenantId);
    }
  }

  #iso(): string {
    return new Date(this.#now()).toISOString();
  }
}

/** Refuses when `options` is not an object or names an unknown option. */
function checkOptions(options: unknown, method: string, known: readonly string[]): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new TypeError(`${method}: options must be an object`);
  for (const [key, value] of Object.entries(options)) {
    if (!known.includes(key)) throw new TypeError(`${method}: unknown option "${key}" (known: ${known.join(', ')})`);
    if (value !== undefined && typeof value !== 'boolean') throw new TypeError(`${method}: options.${key} must be a boolean`);
  }
}

function refuseIncompatible(m: AppManifest, state: AppState, tenantId: string, verb: string): void {
  const issues = compatibilityIssues(m, state);
  const errors = issues.filter((i) => i.severity === 'error');
  if (errors.length === 0) return;
  throw new AppError('APP_INCOMPATIBLE', `tenant "${tenantId}": app "${m.name}" ${m.version} cannot be ${verb}: ${errors.map((e) => e.message).join('; ')}`, {
    tenantId,
    app: m.name,
    issues,
  });
}

function refuseDestructive(planned: AppPlan, allowed: boolean, tenantId: string, app: string): void {
  if (allowed || !planned.diff.hasBreakingChanges) return;
  const breaking = planned.diff.changes.filter((c) => c.breaking).map((c) => c.description);
  throw new AppError('DESTRUCTIVE_CHANGE', `tenant "${tenantId}": app "${app}": ${breaking.join('; ')}; pass { allowDestructive: true } to accept losing this data`, {
    tenantId,
    app,
  });
}

/** The `maxObjects` refusal the plan would run into, if any (measured now, in the tenant database). */
async function objectQuota(opened: Opened, planned: AppPlan): Promise<TenantryError | undefined> {
  const limit = opened.handle.context.tenantQuotas.maxObjects;
  const adds = planned.created.length - planned.dropped.length;
  if (limit === undefined || adds <= 0) return undefined;
  const count = await measureObjectCount(opened.client);
  if (count + adds <= limit) return undefined;
  return new TenantryError(
    'QUOTA_EXCEEDED',
    `tenant "${opened.handle.context.tenantId}": maxObjects of ${limit} reached (${count} objects, the app adds ${adds})`,
  );
}

async function enforceObjects(opened: Opened, planned: AppPlan): Promise<void> {
  const refusal = await objectQuota(opened, planned);
  if (refusal !== undefined) throw refusal;
}

/** A failed app migration, described: seed rows and records by what they are. */
function describeFailure(err: unknown, schemaSteps: number, planned: AppPlan, app: string, tenantId: string): unknown {
  if (!(err instanceof SchemaError) || err.statementIndex === undefined || err.statementIndex < schemaSteps) return err;
  const cause = err.cause instanceof Error ? err.cause.message.replace(/^(?:SQLITE_[A-Z_]+: )+/, '') : err.message;
  const seed = planned.seed[err.statementIndex - schemaSteps];
  if (seed !== undefined) {
    return new SchemaError(err.code, `tenant "${tenantId}": app "${app}": seed row ${seed.row} of object "${seed.object}" was refused (${cause}); nothing was changed`, {
      cause: err.cause,
      tenantId,
      object: seed.object,
      statementIndex: err.statementIndex,
    });
  }
  if (err.code === 'UNIQUE_VIOLATION') {
    return new AppError('APP_ALREADY_INSTALLED', `tenant "${tenantId}": app "${app}" was installed meanwhile (by another process); nothing was changed`, { tenantId, app, cause: err });
  }
  return err;
}
