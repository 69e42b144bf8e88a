/**
 * Provisioning and lifecycle: the protocol's `IProvisioningService`, method names kept.
 * Creates tenant databases through the platform client in named steps, undoes what it made
 * when a step fails, and moves tenants through their statuses.
 */
import type { Client } from '@libsql/client';
import { TenantryError, isTenantryError } from '../errors/index.js';
import type { ITursoPlatformService, PlatformDatabase } from '../platform/types.js';
import { assertDatabaseName } from '../platform/types.js';
import { isPlatformConflict, platformErrorStatus } from '../platform/turso.js';
import { TENANT_ID_PATTERN, TenantPlanSchema, TenantProvisioningRequestSchema } from '../protocol/index.js';
import type {
  ProvisioningStep,
  TenantPlan,
  TenantProvisioningRequest,
  TenantProvisioningResult,
  TenantRecord,
  TenantRecordInput,
  TenantRegion,
} from '../protocol/index.js';
import type { TenantRegistry } from '../registry/types.js';
import { loadMigrations, migrateDatabase } from './migrations.js';
import type { Migration } from './migrations.js';
import type { ResolvedProvisioningOptions } from './options.js';
import { WarmPool } from './warm-pool.js';
import type { WarmPoolStatus } from './warm-pool.js';

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
  /** Drops cached records and pooled clients of a tenant, here and (with a bus) in every instance. */
  invalidate: (tenantId: string) => void | Promise<void>;
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
  readonly #warm: WarmPool | undefined;
  #migrations: Promise<Migration[]> | undefined;

  constructor(deps: ProvisioningDeps) {
    this.#deps = deps;
    const warm = deps.options.warmPool;
    if (warm !== undefined) {
      this.#warm = new WarmPool({
        platform: deps.platform,
        registry: deps.registry,
        options: warm,
        migrations: () => this.configuredMigrations(),
        openClient: deps.openClient,
        databaseName: deps.options.databaseName,
      });
    }
  }

  /**
   * Creates a tenant: its database on the platform, a token for that database only, the
   * migrations and seed data, and finally its active record. The tenant id is the `orgId`
   * (lowercase letters, digits, dashes). Provisioning an existing tenant returns it as it is;
   * a tenant left `provisioning` or `failed` by an earlier attempt is finished on retry.
   * When a step fails, everything made so far is undone, the record is marked `failed`, and
   * the result (status `failed`, `error`, the failed step) says what happened.
   *
   * With `provisioning.warmPool`, a signup in the pool's region takes a warm database (already
   * created and migrated) instead of creating one: `create_database` completes without a
   * platform call, the record's `db.url` is the warm database's, and the other steps run as
   * usual (migrations added since the database was made, the seed, a token for it). A
   * provisioning that fails after the claim deletes the claimed database.
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
      const suspendable = (current: TenantRecord): void => {
        if (current.status !== 'active' && current.status !== 'suspended') throw wrongStatus(current, 'suspend');
      };
      const record = await this.#existing(tenantId);
      suspendable(record);
      let token: { authToken?: string } | undefined; // undefined: the token stays as it is
      if (this.#deps.options.revokeTokensOnSuspend && record.db.authToken !== undefined) {
        const name = await this.#databaseNameOf(record);
        await this.#deps.platform.revokeTokens(name);
        token = this.#deps.readOnlyWhenSuspended
          ? { authToken: await this.#deps.platform.createToken(name, { authorization: 'read-only', expiration: this.#deps.options.tokenExpiration }) }
          : {};
      }
      const stored = await this.#change(tenantId, suspendable, (current) => ({ ...current, status: 'suspended', db: withToken(current.db, token) }));
      await this.#deps.invalidate(tenantId);
      return this.#result(stored, []);
    });
  }

  /**
   * Resumes a suspended tenant (or one `destroying` that is not purged yet): a new
   * full-access token, status `active`, caches dropped.
   */
  resumeTenant(tenantId: string): Promise<TenantProvisioningResult> {
    return this.#exclusive(tenantId, async () => {
      const resumable = (current: TenantRecord): void => {
        if (current.status !== 'suspended' && current.status !== 'active' && current.status !== 'destroying') throw wrongStatus(current, 'resume');
      };
      const record = await this.#existing(tenantId);
      resumable(record);
      let token: { authToken?: string } | undefined;
      if (record.db.authToken !== undefined || this.#deps.options.revokeTokensOnSuspend) {
        const name = await this.#databaseNameOf(record);
        await this.#deps.platform.revokeTokens(name);
        token = { authToken: await this.#deps.platform.createToken(name, { authorization: 'full-access', expiration: this.#deps.options.tokenExpiration }) };
      }
      const stored = await this.#change(tenantId, resumable, (current) => ({ ...current, status: 'active', db: withToken(current.db, token) }));
      await this.#deps.invalidate(tenantId);
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
      const stored = record.status === 'destroying' ? record : await this.#change(tenantId, () => {}, (current) => ({ ...current, status: 'destroying' }));
      await this.#deps.invalidate(tenantId);
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
      const changeable = (current: TenantRecord): void => {
        if (current.status === 'destroying') throw wrongStatus(current, 'change the plan of');
      };
      const stored = await this.#change(tenantId, changeable, (current) => ({ ...current, plan }));
      await this.#deps.invalidate(tenantId);
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

  /**
   * The warm pool: names of the unclaimed warm databases, the configured size, and whether a
   * refill is running. The first call (or claim) builds the inventory from the platform.
   * Without `provisioning.warmPool`: `{ available: [], size: 0, refilling: false }`.
   *
   * @example
   * const { available, size } = await tenantry.provisioning.warmPool();
   */
  async warmPool(): Promise<WarmPoolStatus> {
    if (this.#warm === undefined) return { available: [], size: 0, refilling: false };
    return this.#warm.status();
  }

  /**
   * Fills the warm pool up to `warmPool.size` now, one database at a time, and resolves the
   * number of databases created meanwhile. Rejects when a creation fails (what was made
   * stays in the pool) and with a `TypeError` when no warm pool is configured. After
   * `tenantry.close()` it creates nothing and resolves 0.
   *
   * @example
   * await tenantry.provisioning.refillWarmPool(); // e.g. in a deploy step, with refill: 'manual'
   */
  refillWarmPool(): Promise<number> {
    if (this.#warm === undefined) return Promise.reject(noWarmPool('refillWarmPool'));
    return this.#warm.refill();
  }

  /**
   * Deletes unclaimed warm databases from the platform — `names`, or all of them — and
   * resolves the names deleted (names that are not unclaimed warm databases are skipped). A
   * refill in progress is stopped first; in background mode the next claim starts one again.
   * Rejects with the first failed deletion (that database stays in the pool).
   *
   * @example
   * await tenantry.provisioning.removeWarmDatabases(); // before changing warmPool.prefix or region
   */
  removeWarmDatabases(names?: readonly string[]): Promise<string[]> {
    if (this.#warm === undefined) return Promise.reject(noWarmPool('removeWarmDatabases'));
    return this.#warm.remove(names);
  }

  /** Stops refilling the warm pool (a creation in flight finishes). Called by `tenantry.close()`. */
  close(): Promise<void> {
    return this.#warm?.close() ?? Promise.resolve();
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
    const ownName = this.#databaseName(tenantId);
    /** The database's name on the platform: `ownName`, or a claimed warm database's. */
    let name = ownName;
    /** The database this attempt owns (created, claimed, or left by an earlier attempt). */
    let owned: PlatformDatabase | undefined;
    /** True when the database comes from an earlier attempt (which may have seeded it: see `seed_data`). */
    let reused = false;
    let database: PlatformDatabase | undefined;
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
        if (resuming) {
          // left by an earlier attempt of this tenant (a claimed warm one is found by its url)
          const earlier = await this.#findDatabase(ownName, existing?.db.url);
          if (earlier !== undefined) {
            name = earlier.name;
            owned = earlier;
            reused = true;
            return earlier;
          }
        }
        const warm = await this.#warm?.claim(region);
        if (warm !== undefined) {
          name = warm.name;
          owned = warm;
          // On record before anything of the tenant goes into it: after a crash, a retry finds
          // it by this url and the pool's inventory leaves it out.
          await this.#deps.registry.put({ id: tenantId, plan, region, status: 'provisioning', db: { url: warm.url } });
          return warm;
        }
        if (!resuming && (await this.#deps.platform.getDatabase(ownName)) !== undefined) {
          throw new TenantryError('PLATFORM_ERROR', `database "${ownName}" already exists on the platform and belongs to no tenant being provisioned`);
        }
        try {
          owned = await this.#deps.platform.createDatabase({ name: ownName, region });
        } catch (err) {
          // A retried create after a timeout answers 409 for the database its first attempt
          // made, and a create that timed out (or failed with a 5xx) on its last attempt may
          // have been carried out anyway: the name was free a moment ago, so a database by
          // that name is this attempt's. Not looking would leave it behind, known to no record.
          if (!isPlatformConflict(err) && !mayHaveCreated(err)) throw err;
          owned = await this.#deps.platform.getDatabase(ownName).catch((lookup: unknown) => {
            throw new TenantryError('PLATFORM_ERROR', `${describe(err)}; whether the database was created anyway could not be checked: ${describe(lookup)}`, {
              cause: err,
            });
          });
          if (owned === undefined) throw err;
        }
        return owned;
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
        // A database left by an earlier attempt was seeded only if that attempt got that far.
        if (seed === undefined || (reused && (await isSeeded(opened)))) return 'skipped';
        if (typeof seed === 'string') await opened.executeMultiple(seed);
        else await seed(opened, tenantId);
        await markSeeded(opened, this.#deps.now());
        return true;
      });
      const stored = await run('register_tenant', () =>
        this.#deps.registry.put({ id: tenantId, plan, region, status: 'active', db: { url: database!.url, ...(token === undefined ? {} : { authToken: token }) } }),
      );
      await this.#deps.invalidate(tenantId);
      const finished = this.#deps.now();
      return {
        ...this.#result(stored!, steps),
        totalDurationMs: finished - started,
        provisionedAt: new Date(finished).toISOString(),
      };
    } catch (err) {
      const failures = [describe(err)];
      /** Kept in the failed record when the database outlives the failure (a retry reuses it). */
      let leftUrl: string | undefined;
      if (owned !== undefined) {
        try {
          client?.close();
          client = undefined;
          await this.#deps.platform.deleteDatabase(name);
        } catch (cleanup) {
          failures.push(`and the database could not be deleted: ${describe(cleanup)}`);
          leftUrl = owned.url;
        }
      }
      let record: TenantRecord | undefined;
      try {
        record = await this.#deps.registry.put({ id: tenantId, plan, region, status: 'failed', db: leftUrl === undefined ? {} : { url: leftUrl } });
      } catch (markErr) {
        failures.push(`and the record could not be marked failed: ${describe(markErr)}`);
      }
      await this.#deps.invalidate(tenantId);
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
    await this.#deps.platform.deleteDatabase(await this.#databaseNameOf(record));
    await this.#deps.registry.delete(record.id);
    await this.#deps.invalidate(record.id);
  }

  /**
   * Writes `change(current)`, after `check(current)` (which throws when the current record does
   * not allow it). With a registry that has `update` the read and the write are one atomic step,
   * so a change another instance made meanwhile (a plan change during a suspension) is kept and
   * the check sees it; otherwise get then put (the last writer wins).
   */
  async #change(tenantId: string, check: (current: TenantRecord) => void, change: (current: TenantRecord) => TenantRecordInput): Promise<TenantRecord> {
    const registry = this.#deps.registry;
    if (registry.update === undefined) {
      const current = await this.#existing(tenantId);
      check(current);
      return registry.put(change(current));
    }
    const stored = await registry.update(tenantId, (current) => {
      check(current);
      return change(current);
    });
    if (stored === undefined) throw new TenantryError('TENANT_NOT_FOUND', `no tenant "${tenantId}"`);
    return stored;
  }

  async #existing(tenantId: string): Promise<TenantRecord> {
    if (typeof tenantId !== 'string' || !TENANT_ID_PATTERN.test(tenantId)) {
      throw new TenantryError('INVALID_TENANT_ID', 'not a valid tenant id');
    }
    const record = await this.#deps.registry.get(tenantId);
    if (record === undefined) throw new TenantryError('TENANT_NOT_FOUND', `no tenant "${tenantId}"`);
    return record;
  }

  /**
   * The platform database of `ownName`, or — when `url` is given and is not that database's —
   * the database whose url it is (a claimed warm database). `undefined` when neither exists.
   */
  async #findDatabase(ownName: string, url: string | undefined): Promise<PlatformDatabase | undefined> {
    const own = await this.#deps.platform.getDatabase(ownName);
    if (url === undefined || own?.url === url) return own;
    const byUrl = (await this.#deps.platform.listDatabases()).find((db) => db.url === url);
    return byUrl ?? own;
  }

  /** The name of a tenant's database on the platform (not the tenant id's for a claimed warm one). */
  async #databaseNameOf(record: TenantRecord): Promise<string> {
    const ownName = this.#databaseName(record.id);
    if (record.db.url === undefined) return ownName;
    return (await this.#findDatabase(ownName, record.db.url))?.name ?? ownName;
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

/** `db` with its token replaced by `token` (`{}` removes it), or as it is when `token` is undefined. */
function withToken(db: TenantRecord['db'], token: { authToken?: string } | undefined): TenantRecord['db'] {
  if (token === undefined) return db;
  const { authToken: _old, ...rest } = db;
  return { ...rest, ...token };
}

function wrongStatus(record: TenantRecord, action: string): TenantryError {
  return new TenantryError('TENANT_UNAVAILABLE', `cannot ${action} tenant "${record.id}" while it is ${record.status}`);
}

/**
 * A failure after which the platform may have created the database all the same: no answer
 * (timeout, network error, an unreadable response) or a 5xx.
 */
function mayHaveCreated(err: unknown): boolean {
  if (!isTenantryError(err) || err.code !== 'PLATFORM_ERROR') return false;
  const status = platformErrorStatus(err);
  return status === undefined || status >= 500;
}

/** Table, in each tenant database, recording that the seed ran (left out of the gauges, like every `_tenantry_` table). */
const SEED_TABLE = '_tenantry_seed';

async function isSeeded(client: Client): Promise<boolean> {
  const { rows } = await client.execute({ sql: "select 1 from sqlite_master where type = 'table' and name = ?", args: [SEED_TABLE] });
  return rows.length > 0;
}

/** Records that the seed ran (a crash between the seed and this leaves it to run again on retry). */
async function markSeeded(client: Client, now: number): Promise<void> {
  await client.batch(
    [`create table if not exists ${SEED_TABLE} (seeded_at text not null)`, { sql: `insert into ${SEED_TABLE} (seeded_at) values (?)`, args: [new Date(now).toISOString()] }],
    'write',
  );
}

function noWarmPool(method: string): TypeError {
  return new TypeError(`${method}: no warm pool is configured (createTenantry({ provisioning: { warmPool: { size } } }))`);
}

function describe(err: unknown): string {
  if (isTenantryError(err)) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
