/**
 * The warm pool: tenant databases created (and migrated) ahead of signups, so that
 * `provisionTenant` takes one instead of waiting seconds for the platform to create one.
 *
 * The platform is the source of truth of the inventory: on first use the pool lists the
 * platform's databases named `${prefix}<12 base36 characters>` and leaves out those a tenant
 * record points at (`record.db.url`) or that carry a tenant's own database name. So unclaimed
 * warm databases survive restarts, and claimed ones are never offered again.
 *
 * Claims are atomic within one process: a claim takes a database out of the in-memory
 * inventory with no `await` between looking and taking. Across processes they are not: two
 * instances that rebuilt their inventories from the same platform can claim the same warm
 * database (making that safe needs a claim in the control plane, a later issue). Run the pool
 * in one process (for example the one that serves signups), or give each process its own
 * `prefix`.
 */
import type { Client } from '@libsql/client';
import type { ITursoPlatformService, PlatformDatabase } from '../platform/types.js';
import { isPlatformConflict } from '../platform/turso.js';
import type { TenantRegion } from '../protocol/index.js';
import type { TenantRegistry } from '../registry/types.js';
import { migrateDatabase } from './migrations.js';
import type { Migration } from './migrations.js';
import { WARM_NAME_RANDOM_LENGTH } from './options.js';
import type { ResolvedWarmPoolOptions } from './options.js';

/** What `tenantry.provisioning.warmPool()` resolves. */
export interface WarmPoolStatus {
  /** Names of the warm databases ready to be claimed, oldest first. */
  available: string[];
  /** The configured `warmPool.size` (0 when no pool is configured). */
  size: number;
  /** True while a refill run is creating databases. */
  refilling: boolean;
}

/** What a {@link WarmPool} needs. */
export interface WarmPoolDeps {
  platform: ITursoPlatformService;
  registry: TenantRegistry;
  options: ResolvedWarmPoolOptions;
  /** The migrations every tenant database gets (applied to warm databases when made). */
  migrations: () => Promise<Migration[]>;
  /** Opens a client for a database that is not serving yet (closed by the caller). */
  openClient: (url: string, authToken: string | undefined) => Client;
  /** The database name a tenant gets without the pool (such databases are never warm). */
  databaseName: (tenantId: string) => string;
}

/**
 * Lifetime of the token a warm database is migrated with. It is never stored; a short life
 * keeps it from opening the database once a tenant owns it.
 */
const PREPARE_TOKEN_EXPIRATION = '1h';
const BASE36 = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** The warm pool of one tenantry instance (internal: reached through `tenantry.provisioning`). */
export class WarmPool {
  readonly #deps: WarmPoolDeps;
  readonly #namePattern: RegExp;
  /** Unclaimed warm databases by name, in creation (or listing) order. */
  readonly #inventory = new Map<string, PlatformDatabase>();
  #loading: Promise<void> | undefined;
  #run: Promise<void> | undefined;
  /** Ends the current run after its creation in flight (set by `remove`). */
  #stopRun = false;
  #closed = false;
  /** Databases created since the instance started, for `refill()`'s count. */
  #created = 0;

  constructor(deps: WarmPoolDeps) {
    this.#deps = deps;
    // the prefix is [a-z0-9-] only (checked by the options): nothing in it needs escaping
    this.#namePattern = new RegExp(`^${deps.options.prefix}[a-z0-9]{${WARM_NAME_RANDOM_LENGTH}}$`);
    if (deps.options.refill === 'background') this.#schedule();
  }

  /**
   * Takes a warm database for a signup in `region`, or resolves `undefined` (another region,
   * an empty pool, or an inventory that cannot be read: the error is reported and the signup
   * gets a new database instead). Schedules a refill in background mode.
   */
  async claim(region: TenantRegion): Promise<PlatformDatabase | undefined> {
    if (region !== this.#deps.options.region) return undefined;
    try {
      await this.#ready();
    } catch (err) {
      this.#report(err);
      return undefined;
    }
    // Synchronous from here: two claims never take the same database.
    const next = this.#inventory.values().next();
    if (next.done === true) {
      this.#schedule();
      return undefined;
    }
    this.#inventory.delete(next.value.name);
    this.#schedule();
    return next.value;
  }

  /** The inventory and whether a refill is running. Rejects when the inventory cannot be read. */
  async status(): Promise<WarmPoolStatus> {
    await this.#ready();
    return { available: [...this.#inventory.keys()], size: this.#deps.options.size, refilling: this.#run !== undefined };
  }

  /**
   * Fills the pool up to `size` now, one database at a time, and resolves the number of
   * databases created meanwhile (by this call or a refill already running). Rejects with the
   * first creation that fails. After `close()` it creates nothing and resolves 0.
   */
  async refill(): Promise<number> {
    const before = this.#created;
    if (this.#closed) return 0;
    for (;;) {
      const running = this.#run;
      if (running === undefined) break;
      await running.catch(() => undefined); // its failure was reported to its own caller
    }
    if (!this.#closed) await this.#start();
    return this.#created - before;
  }

  /**
   * Deletes unclaimed warm databases (`names`, or all) from the platform and resolves the
   * names deleted; names that are not unclaimed warm databases are left alone. A refill in
   * progress is stopped first (after its creation in flight); in background mode the next
   * claim starts one again. When a deletion fails, the database stays in the pool, the others
   * are still deleted, and the call rejects with the first failure.
   */
  async remove(names?: readonly string[]): Promise<string[]> {
    if (names !== undefined && (!Array.isArray(names) || names.some((n) => typeof n !== 'string'))) {
      throw new TypeError('removeWarmDatabases: names must be an array of database names');
    }
    this.#stopRun = true;
    for (;;) {
      const running = this.#run;
      if (running === undefined) break;
      await running.catch(() => undefined);
    }
    await this.#ready();
    const wanted = names === undefined ? [...this.#inventory.keys()] : [...new Set(names)].filter((n) => this.#inventory.has(n));
    const targets = wanted.map((name) => this.#inventory.get(name)!);
    for (const db of targets) this.#inventory.delete(db.name); // out of reach of claims at once
    const removed: string[] = [];
    let failure: unknown;
    for (const db of targets) {
      try {
        await this.#deps.platform.deleteDatabase(db.name);
        removed.push(db.name);
      } catch (err) {
        failure ??= err;
        this.#inventory.set(db.name, db);
      }
    }
    if (failure !== undefined) throw failure;
    return removed;
  }

  /** Stops refilling: a creation in flight finishes, no new one starts. */
  async close(): Promise<void> {
    this.#closed = true;
    for (;;) {
      const running = this.#run;
      if (running === undefined) return;
      await running.catch(() => undefined);
    }
  }

  /** Starts a background refill unless one runs, the pool is manual, or closed. */
  #schedule(): void {
    if (this.#closed || this.#deps.options.refill !== 'background' || this.#run !== undefined) return;
    this.#start().catch((err: unknown) => this.#report(err));
  }

  /** Hands a background failure to `warmPool.onError` (a throwing handler is logged, not thrown). */
  #report(err: unknown): void {
    try {
      this.#deps.options.onError(err);
    } catch (handlerError) {
      console.error('tenantry: warmPool.onError threw', handlerError, 'while reporting', err);
    }
  }

  /** Starts a run (the caller checked that none is running). */
  #start(): Promise<void> {
    this.#stopRun = false;
    const run = this.#fill().finally(() => {
      if (this.#run === run) this.#run = undefined;
    });
    this.#run = run;
    return run;
  }

  async #fill(): Promise<void> {
    await this.#ready();
    while (!this.#closed && !this.#stopRun && this.#inventory.size < this.#deps.options.size) {
      const db = await this.#createOne();
      this.#inventory.set(db.name, db);
      this.#created += 1;
    }
  }

  /** Creates one warm database with the migrations applied (and deleted again if they fail). */
  async #createOne(): Promise<PlatformDatabase> {
    const { platform } = this.#deps;
    const name = `${this.#deps.options.prefix}${randomBase36(WARM_NAME_RANDOM_LENGTH)}`;
    let db: PlatformDatabase;
    try {
      db = await platform.createDatabase({ name, region: this.#deps.options.region });
    } catch (err) {
      // A random name is free: a 409 answers a retried create whose first attempt succeeded.
      const made = isPlatformConflict(err) ? await platform.getDatabase(name) : undefined;
      if (made === undefined) throw err;
      db = made;
    }
    try {
      const migrations = await this.#deps.migrations();
      if (migrations.length > 0) {
        const token = await platform.createToken(db.name, { authorization: 'full-access', expiration: PREPARE_TOKEN_EXPIRATION });
        const client = this.#deps.openClient(db.url, token);
        try {
          await migrateDatabase(client, migrations);
        } finally {
          client.close();
        }
      }
    } catch (err) {
      await platform.deleteDatabase(db.name).catch((cleanup: unknown) => this.#report(cleanup));
      throw err;
    }
    return db;
  }

  /** Builds the inventory from the platform once (again after a failure). */
  #ready(): Promise<void> {
    this.#loading ??= this.#load().catch((err: unknown) => {
      this.#loading = undefined;
      throw err;
    });
    return this.#loading;
  }

  async #load(): Promise<void> {
    const [databases, records] = await Promise.all([this.#deps.platform.listDatabases(), this.#deps.registry.list()]);
    const claimedUrls = new Set<string>();
    const tenantNames = new Set<string>();
    for (const record of records) {
      if (record.db.url !== undefined) claimedUrls.add(record.db.url);
      try {
        tenantNames.add(this.#deps.databaseName(record.id));
      } catch {
        // a databaseName function that refuses an old id: that id names no warm database
      }
    }
    for (const db of databases) {
      if (this.#namePattern.test(db.name) && !claimedUrls.has(db.url) && !tenantNames.has(db.name)) this.#inventory.set(db.name, db);
    }
  }
}

/** `length` random characters of `[a-z0-9]` (Web Crypto, so the module stays portable). */
function randomBase36(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of globalThis.crypto.getRandomValues(new Uint8Array(length))) {
      // 252 = 7 × 36: bytes above it are dropped, so every character is equally likely
      if (byte < 252 && out.length < length) out += BASE36[byte % 36];
    }
  }
  return out;
}
