/**
 * Provisioning and lifecycle: the protocol's `IProvisioningService`, method names kept.
 * Creates tenant databases through the platform client in named steps, undoes what it made
 * when a step fails, and moves tenants through their statuses.
 */
import type { Client } from '@libsql/client';
import { TenantryError, isTenantryError } from '../errors/index.js';
import type { ITursoPlatformService, PlatformDatabase } from '../platform/types.js';
import { assertDatabaseName } from '../platform/types.js';
import { isPlatformConflict } from '../platform/turso.js';
import { TENANT_ID_PATTERN, TenantPlanSchema, TenantProvisioningRequestSchema } from '../protocol/index.js';
import type {
  ProvisioningStep,
  TenantPlan,
  TenantProvisioningRequest,
  TenantProvisioningResult,
  TenantRecord,
  TenantRegion,
} from '../protocol/index.js';
import type { TenantRegistry } from '../registry/types.js';
import { loadMigrations, migrateDatabase } from './migrations.js';
import type { Migration } from './migrations.js';
import type { ResolvedProvisioningOptions } from './options.js';

/** Names of the provisioning steps, in order. */
export const PROVISIONING_STEPS = [
  'validate_request',
  'create_database',
  'create_token',
  'apply_migrations',
  'seed_data',
  'register_tenant',
] as const;

/** A provisioning step's name. */
export type ProvisioningStepName = (typeof PROVISIONING_STEPS)[number];

/** The protocol's `IProvisioningService`. */
export interface IProvisioningService {
  provisionTenant(request: TenantProvisioningRequest): Promise<TenantProvisioningResult>;
  suspendTenant(tenantId: string): Promise<TenantProvisioningResult>;
  resumeTenant(tenantId: string): Promise<TenantProvisioningResult>;
  destroyTenant(tenantId: string, options?: { immediate?: boolean }): Promise<TenantProvisioningResult>;
  getTenantStatus(tenantId: string): Promise<TenantProvisioningResult>;
  migrateTenantPlan(tenantId: string, plan: TenantPlan): Promise<TenantProvisioningResult>;
}

/** What the provisioning service needs from its tenantry instance. */
export interface ProvisioningDeps {
  registry: TenantRegistry;
  platform: ITursoPlatformService;
  options: ResolvedProvisioningOptions;
  now: () => number;
  /** Opens a client for a database that is not serving yet (closed by the caller). */
  openClient: (url: string, authToken: string | undefined) => Client;
  /** Drops cached records and pooled clients of a tenant. */
  invalidate: (tenantId: string) => void;
  /** Reports each step as it ends. */
  onStep: (tenantId: string, step: ProvisioningStep) => void;
  /** True when suspended tenants stay readable (then they get a read-only token). */
  readOnlyWhenSuspended: boolean;
}

/**
 * Provisioning and lifecycle of one tenantry instance, available as `tenantry.provisioning`.
 */
export class ProvisioningService implements IProvisioningService {
  readonly #deps: ProvisioningDeps;
  readonly #locks = new Map<string, Promise<unknown>>();
  #migrations: Promise<Migration[]> | undefined;

  constructor(deps: ProvisioningDeps) {
    this.#deps = deps;
  }

  /**
   * Creates a tenant: its database on the platform, a token for that database only, the
   * migrations and seed data, and finally its active record. The tenant id is the `orgId`
   * (lowercase letters, digits, dashes). Provisioning an existing tenant returns it as it is;
   * a tenant left `provisioning` or `failed` by an earlier attempt is finished on retry.
   * When a step fails, everything made so far is undone, the record is marked `failed`, and
   * the result (status `failed`, `error`, the failed step) says what happened.
   *
   * @example
   * const result = await tenantry.provisioning.provisionTenant({ orgId: 'acme', plan: 'pro', region: 'eu-west' });
   */
  provisionTenant(request: TenantProvisioningRequest): Promise<TenantProvisioningResult> {
    const parsed = TenantProvisioningRequestSchema.safeParse(request);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return Promise.reject(new TypeError(`provisionTenant: ${issue?.path.join('.') || 'request'}: ${issue?.message ?? 'invalid'}`));
    }
    const tenantId = parsed.data.orgId;
    if (!TENANT_ID_PATTERN.test(tenantId)) {
      return Promise.reject(
        new TenantryError('INVALID_TENANT_ID', 'orgId must be 1 to 63 lowercase letters, digits or dashes, without a leading or trailing dash'),
      );
    }
    return this.#exclusive(tenantId, () => this.#provision(tenantId, parsed.data.plan, parsed.data.region));
  }

  /**
   * Suspends a tenant: status `suspended` (requests refused, or read-only when configured),
   * its database tokens revoked (a read-only token is issued when suspended tenants stay
   * readable), caches dropped at once.
   */
  suspendTenant(tenantId: string): Promise<TenantProvisioningResult> {
    return this.#exclusive(tenantId, async () => {
      const record = await this.#existing(tenantId);
      if (record.status !== 'active' && record.status !== 'suspended') throw wrongStatus(record, 'suspend');
      const db = { ...record.db };
      if (this.#deps.options.revokeTokensOnSuspend && record.db.authToken !== undefined) {
        const name = this.#databaseName(tenantId);
        await this.#deps.platform.revokeTokens(name);
        if (this.#deps.readOnlyWhenSuspended) {
          db.authToken = await this.#deps.platform.createToken(name, { authorization: 'read-only', expiration: this.#deps.options.tokenExpiration });
        } else {
          delete db.authToken;
        }
      }
      const stored = await this.#deps.registry.put({ ...record, status: 'suspended', db });
      this.#deps.invalidate(tenantId);
      return this.#result(stored, []);
    });
  }

  /**
   * Resumes a suspended tenant (or one `destroying` that is not purged yet): a new
   * full-access token, status `active`, caches dropped.
   */
  resumeTenant(tenantId: string): Promise<TenantProvisioningResult> {
    return this.#exclusive(tenantId, async () => {
      const record = await this.#existing(tenantId);
      if (record.status !== 'suspended' && record.status !== 'active' && record.status !== 'destroying') throw wrongStatus(record, 'resume');
      const db = { ...record.db };
      if (record.db.authToken !== undefined || this.#deps.options.revokeTokensOnSuspend) {
        const name = this.#databaseName(tenantId);
        await this.#deps.platform.revokeTokens(name);
        db.authToken = await this.#deps.platform.createToken(name, { authorization: 'full-access', expiration: this.#deps.options.tokenExpiration });
      }
      const stored = await this.#deps.registry.put({ ...record, status: 'active', db });
      this.#deps.invalidate(tenantId);
      return this.#result(stored, []);
    });
  }

  /**
   * Destroys a tenant. By default it becomes `destroying` (refused with 503) and is deleted by
   * `purgeExpired()` once the grace period (`provisioning.gracePeriodHours`, 72 h) has passed
   * since then; `{ immediate: true }` deletes its database and record now. A destroying
   * tenant can be brought back with `resumeTenant` until it is purged.
   */
  destroyTenant(tenantId: string, options: { immediate?: boolean } = {}): Promise<TenantProvisioningResult> {
    return this.#exclusive(tenantId, async () => {
      const record = await this.#existing(tenantId);
      if (options.immediate === true) {
        await this.#purge(record);
        return { ...this.#result(record, []), status: 'destroying' as const };
      }
      const stored = record.status === 'destroying' ? record : await this.#deps.registry.put({ ...record, status: 'destroying' });
      this.#deps.invalidate(tenantId);
      return this.#result(stored, []);
    });
  }

  /**
   * Deletes every tenant whose grace period is over (database on the platform, then record).
   * Resolves the ids purged. The grace period counts from the record's `updatedAt` when it
   * became `destroying`.
   */
  async purgeExpired(): Promise<string[]> {
    const destroying = await this.#deps.registry.list({ status: 'destroying' });
    const now = this.#deps.now();
    const purged: string[] = [];
    for (const record of destroying) {
      if (now - Date.parse(record.updatedAt) < this.#deps.options.gracePeriodMs) continue;
      await this.#exclusive(record.id, async () => {
        const current = await this.#deps.registry.get(record.id);
        if (current?.status !== 'destroying' || current.updatedAt !== record.updatedAt) return;
        await this.#purge(current);
        purged.push(record.id);
      });
    }
    return purged;
  }

  /** The tenant as a `TenantProvisioningResult` (no steps). `TENANT_NOT_FOUND` when unknown. */
  async getTenantStatus(tenantId: string): Promise<TenantProvisioningResult> {
    return this.#result(await this.#existing(tenantId), []);
  }

  /** Moves a tenant to another plan; its quotas change on its next request. */
  migrateTenantPlan(tenantId: string, plan: TenantPlan): Promise<TenantProvisioningResult> {
    if (!TenantPlanSchema.safeParse(plan).success) {
      return Promise.reject(new TypeError(`migrateTenantPlan: plan must be one of ${TenantPlanSchema.options.join(', ')}`));
    }
    return this.#exclusive(tenantId, async () => {
      const record = await this.#existing(tenantId);
      if (record.status === 'destroying') throw wrongStatus(record, 'change the plan of');
      const stored = await this.#deps.registry.put({ ...record, plan });
      this.#deps.invalidate(tenantId);
      return this.#result(stored, []);
    });
  }

  /** The migrations configured in `provisioning.migrations`, loaded once. */
  configuredMigrations(): Promise<Migration[]> {
    const source = this.#deps.options.migrations;
    if (source === undefined) return Promise.resolve([]);
    const loading =
      this.#migrations ??
      loadMigrations(source).catch((err: unknown) => {
        this.#migrations = undefined;
        throw err;
      });
    this.#migrations = loading;
    return loading;
  }

  async #provision(tenantId: string, plan: TenantPlan, region: TenantRegion): Promise<TenantProvisioningResult> {
    const started = this.#deps.now();
    const steps: ProvisioningStep[] = PROVISIONING_STEPS.map((name) => ({ name, status: 'pending' as const }));
    const existing = await this.#deps.registry.get(tenantId);
    if (existing !== undefined && existing.status !== 'provisioning' && existing.status !== 'failed') {
      // idempotent: the tenant is there already
      return this.#result(existing, steps.map((s) => ({ ...s, status: 'skipped' as const })));
    }
    const resuming = existing !== undefined;
    const name = this.#databaseName(tenantId);
    let database: PlatformDatabase | undefined;
    let createdHere = false;
    let token: string | undefined;
    let client: Client | undefined;
    const run = async <T>(stepName: ProvisioningStepName, work: () => Promise<T | 'skipped'>): Promise<T | undefined> => {
      const step = steps.find((s) => s.name === stepName)!;
      const t0 = this.#deps.now();
      step.status = 'running';
      step.startedAt = new Date(t0).toISOString();
      try {
        const value = await work();
        step.status = value === 'skipped' ? 'skipped' : 'completed';
        return value === 'skipped' ? undefined : value;
      } catch (err) {
        step.status = 'failed';
        step.error = describe(err);
        throw err;
      } finally {
        const t1 = this.#deps.now();
        step.completedAt = new Date(t1).toISOString();
        step.durationMs = t1 - t0;
        this.#deps.onStep(tenantId, { ...step });
      }
    };

    try {
      await run('validate_request', async () => {
        // reserve the id, so a crash from here on leaves a trace that a retry picks up
        await this.#deps.registry.put({ id: tenantId, plan, region, status: 'provisioning', db: {} });
        return true;
      });
      database = await run('create_database', async () => {
        const found = await this.#deps.platform.getDatabase(name);
        if (found !== undefined) {
          if (!resuming) {
            throw new TenantryError('PLATFORM_ERROR', `database "${name}" already exists on the platform and belongs to no tenant being provisioned`);
          }
          return found; // left by an earlier attempt of this tenant
        }
        createdHere = true;
        try {
          return await this.#deps.platform.createDatabase({ name, region });
        } catch (err) {
          // A retried create after a timeout answers 409 for the database its first attempt
          // made: the name was free a moment ago, so the database is this attempt's.
          if (!isPlatformConflict(err)) throw err;
          const made = await this.#deps.platform.getDatabase(name);
          if (made === undefined) throw err;
          return made;
        }
      });
      token = await run('create_token', () =>
        this.#deps.platform.createToken(name, { authorization: 'full-access', expiration: this.#deps.options.tokenExpiration }),
      );
      client = this.#deps.openClient(database!.url, token);
      const opened = client;
      await run('apply_migrations', async () => {
        const migrations = await this.configuredMigrations();
        if (migrations.length === 0) return 'skipped';
        return migrateDatabase(opened, migrations);
      });
      await run('seed_data', async () => {
        const seed = this.#deps.options.seed;
        if (seed === undefined || resuming) return 'skipped';
        if (typeof seed === 'string') await opened.executeMultiple(seed);
        else await seed(opened, tenantId);
        return true;
      });
      const stored = await run('register_tenant', () =>
        this.#deps.registry.put({ id: tenantId, plan, region, status: 'active', db: { url: database!.url, ...(token === undefined ? {} : { authToken: token }) } }),
      );
      this.#deps.invalidate(tenantId);
      const finished = this.#deps.now();
      return {
        ...this.#result(stored!, steps),
        totalDurationMs: finished - started,
        provisionedAt: new Date(finished).toISOString(),
      };
    } catch (err) {
      const failures = [describe(err)];
      if (database !== undefined && (createdHere || resuming)) {
        try {
          client?.close();
          client = undefined;
          await this.#deps.platform.deleteDatabase(name);
        } catch (cleanup) {
          failures.push(`and the database could not be deleted: ${describe(cleanup)}`);
        }
      }
      let record: TenantRecord | undefined;
      try {
        record = await this.#deps.registry.put({ id: tenantId, plan, region, status: 'failed', db: {} });
      } catch (markErr) {
        failures.push(`and the record could not be marked failed: ${describe(markErr)}`);
      }
      this.#deps.invalidate(tenantId);
      for (const step of steps) if (step.status === 'pending') step.status = 'skipped';
      return {
        tenantId,
        connectionUrl: database?.url ?? '',
        status: 'failed',
        region: record?.region ?? region,
        plan,
        steps,
        totalDurationMs: this.#deps.now() - started,
        error: failures.join(' '),
      };
    } finally {
      client?.close();
    }
  }

  async #purge(record: TenantRecord): Promise<void> {
    await this.#deps.platform.deleteDatabase(this.#databaseName(record.id));
    await this.#deps.registry.delete(record.id);
    this.#deps.invalidate(record.id);
  }

  async #existing(tenantId: string): Promise<TenantRecord> {
    if (typeof tenantId !== 'string' || !TENANT_ID_PATTERN.test(tenantId)) {
      throw new TenantryError('INVALID_TENANT_ID', 'not a valid tenant id');
    }
    const record = await this.#deps.registry.get(tenantId);
    if (record === undefined) throw new TenantryError('TENANT_NOT_FOUND', `no tenant "${tenantId}"`);
    return record;
  }

  #databaseName(tenantId: string): string {
    const name = this.#deps.options.databaseName(tenantId);
    assertDatabaseName(name);
    return name;
  }

  #result(record: TenantRecord, steps: ProvisioningStep[]): TenantProvisioningResult {
    return {
      tenantId: record.id,
      connectionUrl: record.db.url ?? '',
      status: record.status,
      region: record.region ?? 'us-east',
      plan: record.plan,
      steps,
    };
  }

  /** Runs lifecycle operations of one tenant one at a time (in this process). */
  #exclusive<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(tenantId) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.#locks.set(tenantId, settled);
    void settled.then(() => {
      if (this.#locks.get(tenantId) === settled) this.#locks.delete(tenantId);
    });
    return next;
  }
}

function wrongStatus(record: TenantRecord, action: string): TenantryError {
  return new TenantryError('TENANT_UNAVAILABLE', `cannot ${action} tenant "${record.id}" while it is ${record.status}`);
}

function describe(err: unknown): string {
  if (isTenantryError(err)) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
