/**
 * Migrating many tenant databases: `migrateTenants` runs `migrateDatabase` over a stream of
 * tenants with bounded concurrency and reports, per tenant, what was applied, skipped or failed.
 */
import type { Client } from '@libsql/client';
import { concurrencyOf, notify } from './fan-out.js';
import { MigrationError, applyPrepared, prepareMigrations, resolveMigrateOptions } from './migrations.js';
import type { Migration } from './migrations.js';

/** One database to migrate. `release` is called once the runner is done with it (success or failure). */
export interface MigrationTarget {
  tenantId: string;
  client: Client;
  release?: () => void;
}

/** Progress after each tenant. */
export interface MigrationProgress {
  /** Tenants finished so far. */
  done: number;
  /**
   * Tenants known so far: the array's length, or for any other iterable the number pulled
   * so far (it grows, and is final once the source is exhausted).
   */
  total: number;
  succeeded: number;
  failed: number;
  skipped: number;
  /** The tenant just finished. */
  tenantId: string;
  /** Since the run started, by `now`. */
  elapsedMs: number;
}

/** What {@link migrateTenants} did, tenants in the order they finished. */
export interface MigrationReport {
  /** Tenants processed. */
  total: number;
  durationMs: number;
  /** Tenants that got at least one migration (in a dry run: would get; `applied` lists them). */
  succeeded: { tenantId: string; applied: string[] }[];
  /** Tenants already up to date. */
  skipped: { tenantId: string }[];
  /** Tenants whose migration failed; `migrationId` when one migration is to blame. */
  failed: { tenantId: string; error: Error; migrationId?: string }[];
}

/** Options of {@link migrateTenants}. */
export interface MigrateTenantsOptions {
  /** Tenants migrated at once, an integer ≥ 1. Default 8. */
  concurrency?: number;
  /** Report what would be applied; change nothing. Default false. */
  dryRun?: boolean;
  /** Called after each tenant. A throwing callback is logged with `console.error`; the run goes on. */
  onProgress?: (progress: MigrationProgress) => void;
  /** Clock in ms since the epoch (durations and `applied_at`). Default `Date.now`. */
  now?: () => number;
}

/**
 * Applies `migrations` to many tenant databases, `concurrency` at a time (default 8). Each
 * tenant is migrated as {@link migrateDatabase} does; one tenant failing never stops the
 * others, and running again resumes where each tenant stopped.
 *
 * `targets` may be an array or a (sync or async) iterable. Targets are pulled lazily, only when
 * a slot is free, so a generator that opens a client per tenant holds at most `concurrency`
 * clients at once; each target's `release` is called when it is done. A target whose
 * `client` getter throws is reported as failed. If the iterable itself throws, no further
 * target is pulled, those in flight finish and are released, and the promise rejects with
 * that error (what was applied stays recorded; run again to resume).
 *
 * Rejects with a `TypeError` for invalid options or migrations, before any target is pulled.
 *
 * @example
 * const report = await migrateTenants(
 *   (async function* () {
 *     for (const id of tenantIds) {
 *       const client = createClient({ url: `file:./tenants/${id}.db` });
 *       yield { tenantId: id, client, release: () => client.close() };
 *     }
 *   })(),
 *   await loadMigrations('./migrations'),
 *   { concurrency: 16, onProgress: (p) => console.log(`${p.done} done`) },
 * );
 * if (report.failed.length > 0) process.exitCode = 1;
 */
export async function migrateTenants(
  targets: Iterable<MigrationTarget> | AsyncIterable<MigrationTarget>,
  migrations: readonly Migration[],
  options: MigrateTenantsOptions = {},
): Promise<MigrationReport> {
  const o = options ?? {};
  const settings = resolveMigrateOptions(o, 'migrateTenants');
  const concurrency = concurrencyOf(o.concurrency, 'migrateTenants');
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new TypeError('migrateTenants: options.onProgress must be a function');
  const open = iteratorOf(targets);
  const prepared = await prepareMigrations(migrations, 'migrateTenants');
  const iterator = open();
  const { now } = settings;
  const knownTotal = Array.isArray(targets) ? targets.length : undefined;
  const started = now();
  const report: MigrationReport = { total: 0, durationMs: 0, succeeded: [], skipped: [], failed: [] };

  let pulled = 0;
  let exhausted = false;
  let sourceError: { error: unknown } | undefined;
  let pulling: Promise<unknown> = Promise.resolve();
  /** The next target, pulls one at a time (iterators need not support concurrent `next()`). */
  const pull = (): Promise<{ target: unknown } | undefined> => {
    const result = pulling.then(async () => {
      if (exhausted) return undefined;
      try {
        const step = await iterator.next();
        if (step.done === true) {
          exhausted = true;
          return undefined;
        }
        pulled++;
        return { target: step.value as unknown };
      } catch (error) {
        exhausted = true;
        sourceError = { error };
        return undefined;
      }
    });
    pulling = result;
    return result;
  };

  const migrateOne = async (target: unknown): Promise<void> => {
    const tenantId = tenantIdOf(target);
    let release: (() => void) | undefined;
    try {
      const { client, release: r } = checkTarget(target, tenantId);
      release = r;
      const result = await applyPrepared(client, prepared, settings);
      const applied = settings.dryRun ? result.pending : result.applied;
      if (applied.length > 0) report.succeeded.push({ tenantId, applied });
      else report.skipped.push({ tenantId });
    } catch (err) {
      const error = asError(err);
      report.failed.push(err instanceof MigrationError ? { tenantId, error, migrationId: err.migrationId } : { tenantId, error });
    } finally {
      if (release !== undefined) {
        try {
          release();
        } catch (err) {
          console.error(`tenantry: migrateTenants: release() of tenant ${tenantId} threw`, err);
        }
      }
    }
    report.total++;
    if (o.onProgress !== undefined) {
      notify(o.onProgress, {
        done: report.total,
        total: knownTotal ?? pulled,
        succeeded: report.succeeded.length,
        failed: report.failed.length,
        skipped: report.skipped.length,
        tenantId,
        elapsedMs: now() - started,
      }, 'migrateTenants');
    }
  };

  const worker = async (): Promise<void> => {
    for (let next = await pull(); next !== undefined; next = await pull()) await migrateOne(next.target);
  };
  const workers = Math.min(concurrency, knownTotal ?? concurrency);
  await Promise.all(Array.from({ length: workers }, worker));
  if (sourceError !== undefined) throw sourceError.error;
  report.durationMs = now() - started;
  return report;
}

/** Checks that `targets` is iterable; the iterator is taken later, once everything is validated. */
function iteratorOf(targets: unknown): () => Iterator<unknown> | AsyncIterator<unknown> {
  if (typeof targets === 'object' && targets !== null) {
    const asyncIt = (targets as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator];
    if (typeof asyncIt === 'function') return () => asyncIt.call(targets);
    const syncIt = (targets as Partial<Iterable<unknown>>)[Symbol.iterator];
    if (typeof syncIt === 'function') return () => syncIt.call(targets);
  }
  throw new TypeError('migrateTenants: targets must be an array or an (async) iterable of { tenantId, client, release? }');
}

function tenantIdOf(target: unknown): string {
  const id = typeof target === 'object' && target !== null ? (target as { tenantId?: unknown }).tenantId : undefined;
  return typeof id === 'string' ? id : String(id);
}

/** Reads `client` and `release` of a target (inside the tenant's try: a getter may throw). */
function checkTarget(target: unknown, tenantId: string): { client: Client; release: (() => void) | undefined } {
  if (typeof target !== 'object' || target === null) throw new TypeError('migrateTenants: a target must be an object { tenantId, client, release? }');
  const { tenantId: id, release } = target as { tenantId?: unknown; release?: unknown };
  if (release !== undefined && typeof release !== 'function') throw new TypeError(`migrateTenants: target ${tenantId}: release must be a function`);
  const bound = release === undefined ? undefined : () => void (release as () => unknown).call(target);
  try {
    if (typeof id !== 'string' || id === '') throw new TypeError(`migrateTenants: a target's tenantId must be a non-empty string (got ${tenantId})`);
    const client = (target as { client?: unknown }).client;
    if (typeof client !== 'object' || client === null || typeof (client as Partial<Client>).transaction !== 'function') {
      throw new TypeError(`migrateTenants: target ${tenantId}: client must be a libSQL client`);
    }
    return { client: client as Client, release: bound };
  } catch (err) {
    // the target is ours now: give it back even though it cannot be migrated
    if (bound !== undefined) {
      try {
        bound();
      } catch (releaseError) {
        console.error(`tenantry: migrateTenants: release() of tenant ${tenantId} threw`, releaseError);
      }
    }
    throw err;
  }
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value), { cause: value });
}
