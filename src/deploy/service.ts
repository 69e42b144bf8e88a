/**
 * `tenantry.deploy`: the protocol's `IDeployPipelineService`. Validates a bundle against the
 * tenants' databases, plans each tenant (the SQL that will run there), executes the plans with
 * bounded concurrency (quotas, a snapshot of local databases, one transaction per tenant, a
 * record in the tenant database), and rolls deployments back.
 */
import type { Client, InStatement } from '@libsql/client';
import { readApps } from '../apps/records.js';
import { ERROR_STATUS, TenantryError } from '../errors/index.js';
import type { TenantryErrorCode } from '../errors/index.js';
import { prepareSnapshotFile, pruneSnapshotFolders, removeSnapshot, snapshotExists, snapshotUrl } from '../node/snapshot-files.js';
import type { ClientLease, DatabaseConnection } from '../router/pool.js';
import { applyMigrationPlan, readSchemaVersion } from '../schema/apply.js';
import { parseBundle, safeParseBundle, schemaFromManifest } from '../schema/bundle.js';
import type { DeployBundle, DeployBundleInput } from '../schema/bundle.js';
import { schemaFingerprint } from '../schema/definition.js';
import { SchemaError } from '../schema/errors.js';
import type { SchemaErrorCode } from '../schema/errors.js';
import { foldName, quoteString } from '../schema/sql.js';
import type { SchemaDefinition } from '../schema/types.js';
import { DeployError, asError, errorCode } from './errors.js';
import type { DeployErrorCode } from './errors.js';
import { concurrencyOf, fanOut, notify } from '../provisioning/fan-out.js';
import { planFrom, planTenant, seedStatements } from './plan-tenant.js';
import { DEPLOYMENTS_TABLE, appliedRecordStatements, readRecord, recordFailure } from './records.js';
import type { DeploymentRecord, RecordInput } from './records.js';
import { appTables, deployScope } from './scope.js';
import { readLiveTables, readSnapshotLayout, restoreScript, takeSnapshot } from './snapshot.js';
import { DEPLOYMENT_ID_PATTERN, DeploymentPlanSchema } from './types.js';
import type {
  BundleValidationResult,
  DeployIssue,
  DeploymentPlan,
  DeploymentResult,
  ExecuteDeploymentOptions,
  IDeployPipelineService,
  PlanDeploymentOptions,
  RollbackDeploymentOptions,
  RollbackResult,
  SnapshotRetention,
  TenantDeploymentPlan,
  TenantDeploymentResult,
  TenantRollbackResult,
  ValidateBundleOptions,
} from './types.js';

/** A tenant's database as the deploy service reaches it. */
export interface DeployTenantHandle {
  readonly tenantId: string;
  /** Where its database is (`file:` databases get snapshots). */
  readonly connection: DatabaseConnection;
  /** The tenant may only be read (suspended, served read-only): it cannot be deployed to. */
  readonly readOnly: boolean;
  /** A lease on the pool's own client of the tenant (raw: it can run `VACUUM INTO`). Release it. */
  lease(): ClientLease;
}

/** What a {@link DeployService} needs from its tenantry instance. */
export interface DeployServiceDeps {
  /** Ids of the tenants a deploy goes to by default: every active tenant. */
  listTenants(): Promise<string[]>;
  /** Opens tenant `tenantId`: rejects with the coded errors a request would get. */
  open(tenantId: string): Promise<DeployTenantHandle>;
  /** A client of its own on a database (restores run on it); the caller closes it. */
  openDirect(connection: DatabaseConnection): Client;
  /** The instance's quotas. */
  quota: {
    enforce(name: 'maxObjects', options: { tenantId: string; add: number }): Promise<unknown>;
    consume(name: 'maxDeploymentsPerDay', options: { tenantId: string }): Promise<unknown>;
    invalidate(tenantId: string): void;
  };
  /** Folder of the snapshots (`<dataDir>/snapshots`); without one, `file:` tenants cannot be deployed with snapshots. */
  dataDir: string | undefined;
  /** Millisecond clock. */
  now: () => number;
}

const DEFAULT_RETENTION = { keep: 5, maxAgeHours: 168 };

/**
 * The protocol's `IDeployPipelineService` over the tenants of one tenantry instance:
 * `validateBundle`, `planDeployment`, `executeDeployment`, `rollbackDeployment`, plus
 * `pruneSnapshots`. See the README's "Schema and deploys".
 *
 * @example
 * const plan = await tenantry.deploy.planDeployment(bundle);
 * for (const t of plan.tenants) console.log(t.tenantId, t.status, t.sql);
 * const result = await tenantry.deploy.executeDeployment(plan, { concurrency: 8 });
 * if (result.status !== 'succeeded') await tenantry.deploy.rollbackDeployment(plan.deploymentId);
 */
export class DeployService implements IDeployPipelineService {
  readonly #deps: DeployServiceDeps;

  /** Built by `createTenantry()`; use `tenantry.deploy`. */
  constructor(deps: DeployServiceDeps) {
    this.#deps = deps;
  }

  /**
   * Checks `bundle` (zod: names, types, defaults, seed) and compares it with the databases of
   * `options.tenants` (default: every active tenant). Errors: bundle issues (`INVALID_BUNDLE`,
   * with `path`), destructive changes (`DESTRUCTIVE_CHANGE`: dropped objects or fields,
   * narrowing type changes; warnings instead with `allowDestructive`), changes that cannot be
   * made (`UNSUPPORTED_CHANGE`), tenants that cannot be reached. Warnings: rollbacks that would
   * be refused (`ROLLBACK_NOT_LOSSLESS`). Never rejects for a finding.
   *
   * @example
   * const { valid, errors } = await tenantry.deploy.validateBundle(bundle);
   * if (!valid) for (const e of errors) console.error(e.tenantId ?? '', e.path ?? '', e.message);
   */
  async validateBundle(bundle: DeployBundleInput, options: ValidateBundleOptions = {}): Promise<BundleValidationResult> {
    const o = checkObject(options, 'validateBundle');
    const allowDestructive = checkBoolean(o.allowDestructive, 'validateBundle', 'allowDestructive') ?? false;
    const parsed = safeParseBundle(bundle);
    if (!parsed.success) {
      const errors = parsed.issues.map((i) => ({ code: 'INVALID_BUNDLE', path: i.path, message: i.message }));
      return { valid: false, errors, warnings: [] };
    }
    const seedIssues = seedProblems(parsed.bundle);
    if (seedIssues.length > 0) return { valid: false, errors: seedIssues, warnings: [] };
    const plan = await this.#plan(parsed.bundle, { allowDestructive, ...(o.tenants === undefined ? {} : { tenants: o.tenants }) }, 'validateBundle');
    const errors: DeployIssue[] = [];
    const warnings: DeployIssue[] = [];
    for (const t of plan.tenants) {
      if (t.status === 'blocked') {
        errors.push({ code: t.error!.code, message: t.error!.message, tenantId: t.tenantId });
        continue;
      }
      if (t.status !== 'ready') continue;
      for (const c of t.changes) if (c.breaking) warnings.push({ code: 'DESTRUCTIVE_CHANGE', message: c.description, tenantId: t.tenantId });
      if (t.rollback.strategy === 'inverse' && !t.rollback.lossless) {
        warnings.push({ code: 'ROLLBACK_NOT_LOSSLESS', message: `this deploy could not be rolled back: ${t.rollback.reason ?? ''}`, tenantId: t.tenantId });
      }
    }
    return { valid: errors.length === 0, errors, warnings };
  }

  /**
   * Plans a deployment of `bundle` to `options.tenants` (default: every active tenant): each
   * tenant's own schema is introspected and diffed (the tables of apps installed with
   * `tenantry.apps` are left out: a bundle neither keeps nor drops them), and its plan lists
   * exactly the SQL that will run there (`tenants[i].sql`: the schema statements, then the seed
   * rows for the objects it creates). A tenant is `ready`, `unchanged`, or `blocked` (`error`
   * says why: destructive without `allowDestructive`, a change that cannot be made, a bundle
   * object or index whose name an installed app holds (`OBJECT_CONFLICT`), a tenant that cannot
   * be reached, no `dataDir` for the snapshot of a local database). Nothing is changed. The plan is plain
   * JSON: it can be stored, reviewed and executed later.
   *
   * Rejects with a `SchemaError` `INVALID_BUNDLE` for an invalid bundle, a `TypeError` for
   * invalid options.
   */
  async planDeployment(bundle: DeployBundleInput, options: PlanDeploymentOptions = {}): Promise<DeploymentPlan> {
    const parsed = parseBundle(bundle);
    const seedIssues = seedProblems(parsed);
    if (seedIssues.length > 0) {
      throw new SchemaError('INVALID_BUNDLE', `invalid deploy bundle: ${seedIssues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, {
        issues: seedIssues.map((i) => ({ path: i.path!, message: i.message })),
      });
    }
    return this.#plan(parsed, checkObject(options, 'planDeployment'), 'planDeployment');
  }

  async #plan(bundle: DeployBundle, options: PlanDeploymentOptions, where: string): Promise<DeploymentPlan> {
    const allowDestructive = checkBoolean(options.allowDestructive, where, 'allowDestructive') ?? false;
    const snapshots = checkBoolean(options.snapshots, where, 'snapshots') ?? true;
    const concurrency = concurrencyOf(options.concurrency, where);
    const ids = options.tenants === undefined ? await this.#deps.listTenants() : checkTenants(options.tenants, where);
    const desired = schemaFromManifest(bundle.manifest);
    const at = this.#deps.now();
    const tenants: TenantDeploymentPlan[] = new Array<TenantDeploymentPlan>(ids.length);
    await fanOut(
      ids,
      concurrency,
      async (tenantId, index) => {
        tenants[index] = await this.#planOne(tenantId, bundle, desired, allowDestructive, snapshots);
      },
      () => false,
    );
    return {
      deploymentId: newDeploymentId(at),
      version: bundle.manifest.version,
      createdAt: new Date(at).toISOString(),
      allowDestructive,
      bundle,
      tenants,
      summary: {
        tenants: tenants.length,
        ready: tenants.filter((t) => t.status === 'ready').length,
        unchanged: tenants.filter((t) => t.status === 'unchanged').length,
        blocked: tenants.filter((t) => t.status === 'blocked').length,
        statements: tenants.reduce((n, t) => n + (t.status === 'ready' ? t.sql.length : 0), 0),
      },
    };
  }

  async #planOne(tenantId: string, bundle: DeployBundle, desired: SchemaDefinition, allowDestructive: boolean, snapshots: boolean): Promise<TenantDeploymentPlan> {
    let strategy: 'snapshot' | 'inverse' = 'inverse';
    try {
      const handle = await this.#deps.open(tenantId);
      strategy = snapshots && isFile(handle.connection.url) ? 'snapshot' : 'inverse';
      const lease = handle.lease();
      let plan: TenantDeploymentPlan;
      try {
        plan = (await planTenant(lease.client, { tenantId, bundle, desired, allowDestructive, strategy })).plan;
      } finally {
        lease.release();
      }
      if (plan.status === 'ready' && handle.readOnly) return blocked(plan, 'TENANT_SUSPENDED', `tenant "${tenantId}" is suspended: it cannot be deployed to until it is resumed`);
      if (plan.status === 'ready' && strategy === 'snapshot' && this.#deps.dataDir === undefined) {
        return blocked(plan, 'SNAPSHOT_UNAVAILABLE', `tenant "${tenantId}" has a local database, and its snapshot needs a data folder: pass createTenantry({ dataDir }), or plan with snapshots: false`);
      }
      return plan;
    } catch (err) {
      return {
        tenantId,
        status: 'blocked',
        plan: { statements: [], dialect: 'sqlite', reversible: true, destructive: false, baseFingerprint: '', targetFingerprint: '' },
        seed: [],
        sql: [],
        changes: [],
        objects: { current: 0, target: Object.keys(desired.tables).length },
        rollback: { strategy, lossless: false, reason: 'no plan' },
        error: { code: errorCode(err), message: err instanceof Error ? err.message : String(err) },
      };
    }
  }

  /**
   * Runs `plan` (from `planDeployment`), `concurrency` tenants at a time (default 8). For each
   * tenant: a schema changed since planning is planned again (`replanned`; or `SCHEMA_CHANGED`
   * with `replan: false`); `maxObjects` is enforced for the objects it adds and one
   * `maxDeploymentsPerDay` is consumed (`QUOTA_EXCEEDED`); a local database is copied with
   * `VACUUM INTO`; then the plan, the seed rows and the tenant's record in
   * `_tenantry_deployments` run in one transaction. A tenant that fails is rolled back alone
   * and reported; the others go on, unless `stopOnError`. Blocked tenants are reported failed.
   * Afterwards old snapshots are pruned (`snapshotRetention`).
   *
   * Rejects with a `DeployError` `INVALID_PLAN` for a plan that is not one, a `TypeError` for
   * invalid options; tenant failures are in the result, never a rejection.
   */
  async executeDeployment(plan: DeploymentPlan, options: ExecuteDeploymentOptions = {}): Promise<DeploymentResult> {
    const o = checkObject(options, 'executeDeployment');
    const concurrency = concurrencyOf(o.concurrency, 'executeDeployment');
    if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new TypeError('executeDeployment: options.onProgress must be a function');
    const stopOnError = checkBoolean(o.stopOnError, 'executeDeployment', 'stopOnError') ?? false;
    const replan = checkBoolean(o.replan, 'executeDeployment', 'replan') ?? true;
    const retention = resolveRetention(o.snapshotRetention);
    const parsed = DeploymentPlanSchema.safeParse(plan);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new DeployError('INVALID_PLAN', `executeDeployment: pass the plan returned by planDeployment() (${issue.path.join('.') || 'plan'}: ${issue.message})`);
    }
    const p = parsed.data as DeploymentPlan;
    const desired = schemaFromManifest(p.bundle.manifest);
    const now = this.#deps.now;
    const started = now();
    const results: TenantDeploymentResult[] = new Array<TenantDeploymentResult>(p.tenants.length);
    let stop = false;
    const counts = { done: 0, succeeded: 0, unchanged: 0, failed: 0 };
    const notRun = await fanOut(
      p.tenants,
      concurrency,
      async (tenant, index) => {
        const result = await this.#deployOne(p, tenant, desired, replan);
        results[index] = result;
        counts.done++;
        if (result.status === 'applied') counts.succeeded++;
        else if (result.status === 'unchanged') counts.unchanged++;
        else counts.failed++;
        if (result.status === 'failed' && stopOnError) stop = true;
        notify(o.onProgress, { ...counts, total: p.tenants.length, tenantId: tenant.tenantId, status: result.status, elapsedMs: now() - started }, 'executeDeployment');
      },
      () => stop,
    );
    for (const index of notRun) {
      results[index] = { tenantId: p.tenants[index]!.tenantId, status: 'not_run', replanned: false, statementsExecuted: 0, snapshot: false, durationMs: 0 };
    }
    const prunedSnapshots = await this.#prune(retention);
    const summary = {
      applied: results.filter((r) => r.status === 'applied').length,
      unchanged: results.filter((r) => r.status === 'unchanged').length,
      failed: results.filter((r) => r.status === 'failed').length,
      notRun: notRun.length,
    };
    const status = summary.failed + summary.notRun === 0 ? 'succeeded' : summary.applied === 0 ? 'failed' : 'partial';
    return {
      deploymentId: p.deploymentId,
      version: p.version,
      status,
      startedAt: new Date(started).toISOString(),
      durationMs: Math.max(0, now() - started),
      tenants: results,
      summary,
      prunedSnapshots,
    };
  }

  async #deployOne(plan: DeploymentPlan, planned: TenantDeploymentPlan, desired: SchemaDefinition, replan: boolean): Promise<TenantDeploymentResult> {
    const now = this.#deps.now;
    const started = now();
    const { tenantId } = planned;
    const result: TenantDeploymentResult = { tenantId, status: 'failed', replanned: false, statementsExecuted: 0, snapshot: false, durationMs: 0 };
    const finish = (): TenantDeploymentResult => {
      result.durationMs = Math.max(0, now() - started);
      return result;
    };
    let lease: ClientLease | undefined;
    let snapshot: string | undefined;
    try {
      if (planned.status === 'blocked') throw plannedError(planned.error!.code, planned.error!.message, tenantId, plan.deploymentId);
      const handle = await this.#deps.open(tenantId);
      if (handle.readOnly) throw new TenantryError('TENANT_SUSPENDED', `tenant "${tenantId}" is suspended: its schema cannot be changed until it is resumed`);
      lease = handle.lease();
      const client = lease.client;
      let tenant = planned;
      // Read before the schema is checked: the migration then asserts it, so a deploy that
      // changes this database in between is refused instead of run over.
      const schemaVersion = await readSchemaVersion(client);
      const scope = await deployScope(client);
      const fingerprint = schemaFingerprint(scope.schema);
      if (fingerprint !== planned.plan.baseFingerprint) {
        if (planned.status === 'ready' && fingerprint === planned.plan.targetFingerprint && (await readRecord(client, plan.deploymentId))?.status === 'applied') {
          result.status = 'unchanged'; // this deployment already reached it (an earlier run of the same plan)
          return finish();
        }
        if (!replan) {
          throw new SchemaError('SCHEMA_CHANGED', `tenant "${tenantId}": the database schema is not the one this plan was made from; plan again (nothing was changed)`, { tenantId });
        }
        tenant = planFrom(scope, { tenantId, bundle: plan.bundle, desired, allowDestructive: plan.allowDestructive, strategy: planned.rollback.strategy });
        result.replanned = true;
        if (tenant.status === 'blocked') throw plannedError(tenant.error!.code, tenant.error!.message, tenantId, plan.deploymentId);
      }
      if (tenant.status === 'unchanged') {
        result.status = 'unchanged';
        return finish();
      }
      const grow = tenant.objects.target - tenant.objects.current;
      if (grow > 0) await this.#deps.quota.enforce('maxObjects', { tenantId, add: grow });
      await this.#deps.quota.consume('maxDeploymentsPerDay', { tenantId });
      if (tenant.rollback.strategy === 'snapshot') {
        if (this.#deps.dataDir === undefined) {
          throw new DeployError('SNAPSHOT_UNAVAILABLE', `tenant "${tenantId}" has a local database, and its snapshot needs a data folder: pass createTenantry({ dataDir })`, {
            tenantId,
            deploymentId: plan.deploymentId,
          });
        }
        snapshot = await prepareSnapshotFile(this.#deps.dataDir, plan.deploymentId, tenantId);
        await takeSnapshot(client, snapshot);
        result.snapshot = true;
      }
      const record: RecordInput = {
        deploymentId: plan.deploymentId,
        version: plan.version,
        plan: tenant.plan,
        statements: tenant.sql,
        rollback: tenant.rollback,
        snapshot,
        at: new Date(now()).toISOString(),
      };
      try {
        await applyMigrationPlan(withTrailing(client, [...tenant.seed, ...appliedRecordStatements(record)]), tenant.plan, { checkBase: false, schemaVersion, tenantId });
      } catch (err) {
        await recordFailure(client, record, asError(err)).catch(() => undefined);
        throw err;
      }
      this.#deps.quota.invalidate(tenantId);
      result.status = 'applied';
      result.statementsExecuted = tenant.sql.length;
      return finish();
    } catch (err) {
      if (snapshot !== undefined) {
        await removeSnapshot(snapshot).catch(() => undefined);
        result.snapshot = false;
      }
      this.#deps.quota.invalidate(tenantId); // drops a maxObjects reservation of this attempt
      result.status = 'failed';
      result.error = asError(err);
      result.code = errorCode(err);
      return finish();
    } finally {
      lease?.release();
    }
  }

  /**
   * Rolls deployment `deploymentId` back on every tenant whose database records it as applied
   * (or on `options.tenants`). Local databases are restored from the snapshot taken before the
   * deploy: schema and rows exactly as they were (rows written since are gone), except the
   * tables of installed apps and tenantry's own (`_tenantry_apps`), which are left as they are
   * now (an app installed after the deploy stays, with its rows). Others run the
   * recorded inverse plan, only when it is lossless (rows written since stay). Per tenant,
   * refusals are coded `DeployError`s in the result: `SNAPSHOT_MISSING` (pruned or deleted),
   * `ROLLBACK_NOT_LOSSLESS`, `SCHEMA_CHANGED` (the schema is no longer the deployed one: roll
   * later deployments back first). Each tenant is restored in one transaction.
   *
   * Rejects with a `DeployError` `DEPLOYMENT_NOT_FOUND` when no tenant records the deployment,
   * a `TypeError` for a malformed id or invalid options.
   */
  async rollbackDeployment(deploymentId: string, options: RollbackDeploymentOptions = {}): Promise<RollbackResult> {
    if (typeof deploymentId !== 'string' || !DEPLOYMENT_ID_PATTERN.test(deploymentId)) {
      throw new TypeError(`rollbackDeployment: ${JSON.stringify(deploymentId)} is not a deployment id (dep_<time>_<hex>, as planDeployment makes them)`);
    }
    const o = checkObject(options, 'rollbackDeployment');
    const concurrency = concurrencyOf(o.concurrency, 'rollbackDeployment');
    if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new TypeError('rollbackDeployment: options.onProgress must be a function');
    const strategy = o.strategy ?? 'auto';
    if (strategy !== 'auto' && strategy !== 'inverse') throw new TypeError("rollbackDeployment: options.strategy must be 'auto' or 'inverse'");
    const explicit = o.tenants !== undefined;
    const ids = explicit ? checkTenants(o.tenants!, 'rollbackDeployment') : await this.#deps.listTenants();
    const now = this.#deps.now;
    const started = now();
    const found: (TenantRollbackResult | undefined)[] = new Array<TenantRollbackResult | undefined>(ids.length);
    const counts = { done: 0, succeeded: 0, unchanged: 0, failed: 0 };
    await fanOut(
      ids,
      concurrency,
      async (tenantId, index) => {
        const result = await this.#rollbackOne(deploymentId, tenantId, strategy, explicit);
        found[index] = result;
        if (result === undefined) return;
        counts.done++;
        if (result.status === 'rolled_back') counts.succeeded++;
        else if (result.status === 'unchanged') counts.unchanged++;
        else counts.failed++;
        notify(o.onProgress, { ...counts, total: ids.length, tenantId, status: result.status, elapsedMs: now() - started }, 'rollbackDeployment');
      },
      () => false,
    );
    const tenants = found.filter((r): r is TenantRollbackResult => r !== undefined);
    if (tenants.length === 0 || tenants.every((t) => t.code === 'DEPLOYMENT_NOT_FOUND')) {
      throw new DeployError('DEPLOYMENT_NOT_FOUND', `no tenant database records deployment ${deploymentId}${explicit ? ' (among the tenants given)' : ''}`, { deploymentId });
    }
    const summary = {
      rolledBack: tenants.filter((t) => t.status === 'rolled_back').length,
      unchanged: tenants.filter((t) => t.status === 'unchanged').length,
      failed: tenants.filter((t) => t.status === 'failed').length,
    };
    return {
      deploymentId,
      status: summary.failed === 0 ? 'succeeded' : summary.rolledBack === 0 ? 'failed' : 'partial',
      durationMs: Math.max(0, now() - started),
      tenants,
      summary,
    };
  }

  /** One tenant's rollback; `undefined` when the tenant does not have the deployment and was not named. */
  async #rollbackOne(deploymentId: string, tenantId: string, strategy: 'auto' | 'inverse', explicit: boolean): Promise<TenantRollbackResult | undefined> {
    const now = this.#deps.now;
    const started = now();
    const result: TenantRollbackResult = { tenantId, status: 'failed', strategy: 'inverse', durationMs: 0 };
    const finish = (): TenantRollbackResult => {
      result.durationMs = Math.max(0, now() - started);
      return result;
    };
    let lease: ClientLease | undefined;
    try {
      const handle = await this.#deps.open(tenantId);
      lease = handle.lease();
      const record = await readRecord(lease.client, deploymentId);
      if (record === undefined || record.status === 'failed') {
        if (!explicit) return undefined;
        throw new DeployError('DEPLOYMENT_NOT_FOUND', `tenant "${tenantId}" has no deployment ${deploymentId} to roll back`, { tenantId, deploymentId });
      }
      result.strategy = strategy === 'inverse' ? 'inverse' : record.rollback.strategy;
      if (record.status === 'rolled_back') {
        result.status = 'unchanged';
        return finish();
      }
      if (handle.readOnly) throw new TenantryError('TENANT_SUSPENDED', `tenant "${tenantId}" is suspended: it cannot be rolled back until it is resumed`);
      const fingerprint = schemaFingerprint((await deployScope(lease.client)).schema);
      if (fingerprint !== record.targetFingerprint) {
        throw new DeployError('SCHEMA_CHANGED', `tenant "${tenantId}": the schema changed since deployment ${deploymentId}; roll back the later deployments first`, { tenantId, deploymentId });
      }
      const at = new Date(now()).toISOString();
      if (result.strategy === 'snapshot') await this.#restoreSnapshot(handle, record, at);
      else await rollBackInverse(lease.client, record, at, tenantId);
      this.#deps.quota.invalidate(tenantId);
      result.status = 'rolled_back';
      return finish();
    } catch (err) {
      result.status = 'failed';
      result.error = asError(err);
      result.code = errorCode(err);
      return finish();
    } finally {
      lease?.release();
    }
  }

  async #restoreSnapshot(handle: DeployTenantHandle, record: DeploymentRecord, at: string): Promise<void> {
    const { tenantId } = handle;
    const file = record.snapshot;
    if (file === undefined || !(await snapshotExists(file))) {
      throw new DeployError(
        'SNAPSHOT_MISSING',
        `tenant "${tenantId}": the snapshot taken before deployment ${record.deploymentId} is gone${file === undefined ? '' : ` (${file})`}, pruned by the snapshot retention or deleted; it cannot be restored (rollbackDeployment(id, { strategy: 'inverse' }) uses the inverse plan where that is lossless)`,
        { tenantId, deploymentId: record.deploymentId },
      );
    }
    // Apps' tables are not the deploy's: those of apps installed when the snapshot was taken are
    // not restored, those of apps installed now are not dropped (and `_tenantry_*` never are).
    const reader = this.#deps.openDirect({ url: await snapshotUrl(file) });
    let layout: Awaited<ReturnType<typeof readSnapshotLayout>>;
    try {
      layout = await readSnapshotLayout(reader, appTables(await readApps(reader)));
    } finally {
      reader.close();
    }
    const direct = this.#deps.openDirect(handle.connection);
    try {
      const owned = appTables(await readApps(direct));
      const taken = layout.tables.filter((t) => owned.has(foldName(t.name)));
      if (taken.length > 0) {
        const names = taken.map((t) => `"${t.name}" (now app "${owned.get(foldName(t.name))!}")`).join(', ');
        throw new DeployError(
          'SCHEMA_CHANGED',
          `tenant "${tenantId}": the snapshot of deployment ${record.deploymentId} has tables that installed apps hold now: ${names}; uninstall those apps before rolling back (nothing was changed)`,
          { tenantId, deploymentId: record.deploymentId },
        );
      }
      const live = await readLiveTables(direct, owned);
      const mark = `UPDATE ${DEPLOYMENTS_TABLE} SET status = 'rolled_back', rolled_back_at = ${quoteString(at)} WHERE deployment_id = ${quoteString(record.deploymentId)}`;
      await direct.executeMultiple(restoreScript(file, layout, live, [mark]));
    } catch (err) {
      if (err instanceof DeployError) throw err;
      throw new SchemaError('MIGRATION_FAILED', `tenant "${tenantId}": restoring the snapshot of deployment ${record.deploymentId} failed (${err instanceof Error ? err.message : String(err)}); nothing was changed`, {
        tenantId,
        cause: err,
      });
    } finally {
      direct.close();
    }
  }

  /**
   * Deletes the snapshot folders (`<dataDir>/snapshots/<deploymentId>/`) of deployments beyond
   * the newest `keep` (default 5) or older than `maxAgeHours` (default 168). Runs after every
   * `executeDeployment`. Returns the deployment ids whose snapshots were deleted; their
   * rollbacks are then refused with `SNAPSHOT_MISSING`.
   *
   * @example
   * await tenantry.deploy.pruneSnapshots({ keep: 2, maxAgeHours: 24 });
   */
  async pruneSnapshots(retention: SnapshotRetention = {}): Promise<string[]> {
    const rules = resolveRetention(retention);
    if (this.#deps.dataDir === undefined) return [];
    return pruneSnapshotFolders(this.#deps.dataDir, { keep: rules.keep, maxAgeMs: rules.maxAgeHours * 3_600_000, now: this.#deps.now(), timeOf: deploymentTime });
  }

  async #prune(retention: { keep: number; maxAgeHours: number }): Promise<string[]> {
    try {
      return await this.pruneSnapshots(retention);
    } catch (err) {
      console.error('tenantry: executeDeployment: pruning old snapshots failed', err);
      return [];
    }
  }
}

/** Runs the recorded inverse plan, refusing one that would lose data. */
async function rollBackInverse(client: Client, record: DeploymentRecord, at: string, tenantId: string): Promise<void> {
  const inverse = record.rollback.inverse;
  if (!record.rollback.lossless || inverse === undefined) {
    throw new DeployError('ROLLBACK_NOT_LOSSLESS', `tenant "${tenantId}": deployment ${record.deploymentId} cannot be rolled back without a snapshot: ${record.rollback.reason ?? 'no inverse plan was recorded'}`, {
      tenantId,
      deploymentId: record.deploymentId,
    });
  }
  const mark: InStatement = { sql: `UPDATE ${DEPLOYMENTS_TABLE} SET status = 'rolled_back', rolled_back_at = ? WHERE deployment_id = ?`, args: [at, record.deploymentId] };
  await applyMigrationPlan(withTrailing(client, [mark]), inverse, { checkBase: false, tenantId });
}

/** `client` whose `migrate()` runs `trailing` after the given statements, in the same transaction. */
function withTrailing(client: Client, trailing: readonly InStatement[]): Client {
  return new Proxy(client, {
    get(target, property) {
      if (property === 'migrate') return (stmts: InStatement[]) => target.migrate([...stmts, ...trailing]);
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function blocked(plan: TenantDeploymentPlan, code: string, message: string): TenantDeploymentPlan {
  return { ...plan, status: 'blocked', error: { code, message } };
}

const DEPLOY_CODES: ReadonlySet<string> = new Set<DeployErrorCode>([
  'INVALID_PLAN',
  'DESTRUCTIVE_CHANGE',
  'DEPLOYMENT_NOT_FOUND',
  'SNAPSHOT_MISSING',
  'ROLLBACK_NOT_LOSSLESS',
  'SNAPSHOT_UNAVAILABLE',
  'SCHEMA_CHANGED',
  'OBJECT_CONFLICT',
]);
const SCHEMA_CODES: ReadonlySet<string> = new Set<SchemaErrorCode>([
  'INVALID_BUNDLE',
  'INVALID_SCHEMA',
  'UNSUPPORTED_CHANGE',
  'UNIQUE_VIOLATION',
  'NOT_NULL_VIOLATION',
  'FOREIGN_KEY_VIOLATION',
  'MIGRATION_FAILED',
]);

/** The error a planning problem becomes at execution, with its class kept by its code. */
function plannedError(code: string, message: string, tenantId: string, deploymentId: string): Error {
  if (DEPLOY_CODES.has(code)) return new DeployError(code as DeployErrorCode, message, { tenantId, deploymentId });
  if (SCHEMA_CODES.has(code)) return new SchemaError(code as SchemaErrorCode, message, { tenantId });
  if (code in ERROR_STATUS) return new TenantryError(code as TenantryErrorCode, message);
  return Object.assign(new Error(message), { code });
}

/** Seed values SQL cannot hold (NUL characters, non-finite numbers). */
function seedProblems(bundle: DeployBundle): DeployIssue[] {
  const out: DeployIssue[] = [];
  for (const [object, rows] of Object.entries(bundle.seed ?? {})) {
    rows.forEach((row, r) => {
      for (const [key, value] of Object.entries(row)) {
        if ((typeof value === 'string' && value.includes('\0')) || (typeof value === 'number' && !Number.isFinite(value))) {
          out.push({ code: 'INVALID_BUNDLE', path: `seed.${object}[${r}].${key}`, message: 'a seed value cannot hold a NUL character or a non-finite number' });
        }
      }
    });
  }
  if (out.length === 0) seedStatements(bundle, new Set(Object.keys(bundle.seed ?? {}))); // any other literal problem throws here
  return out;
}

function isFile(url: string): boolean {
  return /^file:/i.test(url);
}

/** A new deployment id: `dep_<yyyymmddThhmmssmmm>Z_<8 hex>`. */
function newDeploymentId(at: number): string {
  const stamp = new Date(at).toISOString().replace(/[-:.]/g, '');
  const random = Array.from(globalThis.crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, '0')).join('');
  return `dep_${stamp}_${random}`;
}

/** When deployment `id` was planned (ms since the epoch), from its id. */
export function deploymentTime(id: string): number | undefined {
  if (!DEPLOYMENT_ID_PATTERN.test(id)) return undefined;
  const s = id.slice(4, 23);
  const iso = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}.${s.slice(15, 18)}Z`;
  const at = Date.parse(iso);
  return Number.isNaN(at) ? undefined : at;
}

function resolveRetention(value: SnapshotRetention | undefined): { keep: number; maxAgeHours: number } {
  if (value === undefined) return DEFAULT_RETENTION;
  if (typeof value !== 'object' || value === null) throw new TypeError('snapshotRetention must be an object { keep?, maxAgeHours? }');
  const keep = value.keep ?? DEFAULT_RETENTION.keep;
  const maxAgeHours = value.maxAgeHours ?? DEFAULT_RETENTION.maxAgeHours;
  if (typeof keep !== 'number' || !Number.isSafeInteger(keep) || keep < 1) throw new TypeError('snapshotRetention.keep must be an integer ≥ 1');
  if (typeof maxAgeHours !== 'number' || !Number.isFinite(maxAgeHours) || maxAgeHours < 0) throw new TypeError('snapshotRetention.maxAgeHours must be a number ≥ 0');
  return { keep, maxAgeHours };
}

function checkObject<T extends object>(options: T, where: string): T {
  if (options === undefined) return {} as T;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new TypeError(`${where}: options must be an object`);
  return options;
}

function checkBoolean(value: unknown, where: string, name: string): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw new TypeError(`${where}: options.${name} must be a boolean`);
  return value as boolean | undefined;
}

function checkTenants(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || value.some((t) => typeof t !== 'string')) throw new TypeError(`${where}: options.tenants must be an array of tenant ids`);
  return [...new Set(value as string[])];
}
