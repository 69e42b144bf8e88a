/**
 * The per-tenant client pool: one pooled libSQL client per tenant (and one more per tenant for
 * read-only use), bounded by an LRU, closed after an idle TTL, and never closed under a running
 * query: every use of a client is a lease, and a client that leaves the pool closes when its last
 * lease ends.
 */
import { createClient as createLibsqlClient } from '@libsql/client';
import type { Client, InArgs, InStatement, Replicated, ResultSet, Transaction, TransactionMode } from '@libsql/client';
import { LRUCache } from 'lru-cache';
import { poolEvictChannel, poolOpenChannel } from '../diagnostics/channels.js';
import { leasedClient } from './leased-client.js';
import { readOnlyClient } from './read-only-client.js';

/** Where a tenant's database is: a libSQL URL (`libsql:`, `https:`, `wss:`, `file:`) and a token. */
export interface DatabaseConnection {
  url: string;
  authToken?: string;
}

/** Why a client left the pool (see {@link ClientPoolOptions.onEvict}). */
export type ClientEvictReason = 'evict' | 'expire' | 'invalidate' | 'replace' | 'close';

/** What the pool passes to {@link ClientPoolOptions.createClient}. */
export interface PoolClientConfig {
  url: string;
  authToken?: string;
  intMode?: 'number';
}

/** Options of a {@link ClientPool}. Every option is optional. */
export interface ClientPoolOptions {
  /**
   * How many clients the pool keeps (read-write and read-only clients both count). The least
   * recently used one leaves when a new one is needed. A client that leaves while leased stays
   * open until its last lease ends, so clients in use can briefly exceed this number.
   * Integer >= 1. Default `100` (the protocol's `maxCachedConnections`).
   */
  maxClients?: number;
  /**
   * A client not used for this many milliseconds is closed (by the sweeper, or when next looked
   * up). A leased client does not expire. Integer >= 1. Default `300_000` (the protocol's
   * `connectionCacheTTL`, 300 s).
   */
  idleTtlMs?: number;
  /**
   * Creates a client. Default: `createClient` of `@libsql/client`. The pool passes
   * `intMode: 'number'`.
   */
  createClient?: (config: PoolClientConfig) => Client;
  /**
   * Millisecond clock for the idle TTL; only differences between readings matter. Default: the
   * clock of `lru-cache` (`performance.now()`). Tests pass a fake clock.
   */
  now?: () => number;
  /**
   * How often one `unref()`ed interval timer purges idle clients. It starts with the first
   * client the pool opens (never at construction, so a pool can be built in a Workers global
   * scope). Integer >= 1. Default `min(idleTtlMs, 60_000)`.
   */
  sweepIntervalMs?: number;
  /**
   * Keep clients open between leases (pooling). With `false`, every `acquire()` opens a client
   * of its own that closes when that lease is released: nothing is kept across requests, as
   * Cloudflare Workers require. `maxClients`, `idleTtlMs` and the sweeper then do not apply.
   * Default `true`.
   */
  keepClients?: boolean;
  /** Called after the pool opened a client for `tenantId`. Errors are passed to `onError`. */
  onOpen?: (tenantId: string) => void;
  /**
   * Called when one of `tenantId`'s clients leaves the pool, with why. The client itself closes
   * then, or when its last lease ends. Runs after the cache operation completed, so it may call
   * back into the pool. Errors are passed to `onError`.
   */
  onEvict?: (tenantId: string, reason: ClientEvictReason) => void;
  /**
   * Receives errors the pool swallows: `client.close()` failures and errors thrown by `onOpen` /
   * `onEvict`. Default: `console.error`.
   */
  onError?: (err: unknown) => void;
}

/** Options of {@link ClientPool.acquire}. */
export interface AcquireOptions {
  /**
   * Lease the tenant's read-only client instead: a separate client (separate connections) whose
   * every operation runs with `PRAGMA query_only = 1`, so writes fail with `SQLITE_READONLY`.
   * Default `false`.
   */
  readOnly?: boolean;
}

/**
 * A lease on a pooled client. The client stays open at least until `release()`.
 * `client.close()` on a leased client does nothing (the client is shared); release instead.
 */
export interface ClientLease {
  readonly client: Client;
  /** Ends the lease. Idempotent. */
  release(): void;
}

/** Counters of a {@link ClientPool}. */
export interface ClientPoolStats {
  /** Clients in the pool (leased or idle; not those that left but are still leased). */
  size: number;
  /** Active leases. */
  leased: number;
  /** Acquires that found a usable client in the pool. */
  hits: number;
  /** Acquires that had to open a client. */
  misses: number;
  /** Clients opened. */
  opens: number;
  /** Clients that left the pool for any reason but `close()`. */
  evictions: number;
  /** `client.close()` calls made by the pool. */
  closed: number;
}

/** Options after validation and defaults (see {@link ClientPoolOptions}). */
interface ResolvedPoolConfig {
  maxClients: number;
  idleTtlMs: number;
  sweepIntervalMs: number;
  keepClients: boolean;
  createClient: (config: PoolClientConfig) => Client;
  now: (() => number) | undefined;
  onOpen: ((tenantId: string) => void) | undefined;
  onEvict: ((tenantId: string, reason: ClientEvictReason) => void) | undefined;
  onError: (err: unknown) => void;
}

interface PoolEntry {
  readonly key: string;
  readonly tenantId: string;
  readonly url: string;
  readonly authToken: string | undefined;
  readonly readOnly: boolean;
  /** The client the pool owns and closes (wrapped by `readOnlyClient` for read-only entries). */
  readonly owned: Client;
  /** What leases hand out: `owned` with `close()` and `reconnect()` disabled. */
  readonly shared: Client;
  leases: number;
  /** Out of the pool: close once `leases` is 0. */
  retired: boolean;
  /** Why it left the pool. */
  retiredFor: ClientEvictReason | undefined;
  /** `owned.close()` was called. */
  closed: boolean;
}

const DEFAULT_MAX_CLIENTS = 100;
const DEFAULT_IDLE_TTL_MS = 300_000;
const MAX_SWEEP_INTERVAL_MS = 60_000;

/**
 * Validates {@link ClientPoolOptions} and fills in defaults. Throws a `TypeError` naming the
 * option.
 */
function parsePoolOptions(options: ClientPoolOptions): ResolvedPoolConfig {
  const maxClients = positiveInt(options.maxClients, 'maxClients', DEFAULT_MAX_CLIENTS);
  const idleTtlMs = positiveInt(options.idleTtlMs, 'idleTtlMs', DEFAULT_IDLE_TTL_MS);
  const sweepIntervalMs = positiveInt(
    options.sweepIntervalMs,
    'sweepIntervalMs',
    Math.min(idleTtlMs, MAX_SWEEP_INTERVAL_MS),
  );
  if (options.keepClients !== undefined && typeof options.keepClients !== 'boolean') {
    throw new TypeError(`ClientPool option \`keepClients\` must be a boolean, got ${String(options.keepClients)}`);
  }
  return {
    maxClients,
    idleTtlMs,
    sweepIntervalMs,
    keepClients: options.keepClients ?? true,
    createClient: optionalFunction(options.createClient, 'createClient') ?? createLibsqlClient,
    now: optionalFunction(options.now, 'now'),
    onOpen: optionalFunction(options.onOpen, 'onOpen'),
    onEvict: optionalFunction(options.onEvict, 'onEvict'),
    onError:
      optionalFunction(options.onError, 'onError') ??
      ((err: unknown) => {
        console.error('[tenantry] client pool:', err);
      }),
  };
}

function positiveInt(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(`ClientPool option \`${name}\` must be an integer >= 1, got ${String(value)}`);
  }
  return value;
}

function optionalFunction<F>(value: F | undefined, name: string): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    throw new TypeError(`ClientPool option \`${name}\` must be a function`);
  }
  return value;
}

/**
 * A pool of libSQL clients, one per tenant (plus one read-only client per tenant when asked
 * for), built on `lru-cache`. Use a client through a lease:
 *
 * @example
 * const pool = new ClientPool({ maxClients: 100, idleTtlMs: 300_000 });
 * const lease = pool.acquire('acme', { url: 'libsql://acme-myorg.turso.io', authToken });
 * try {
 *   await lease.client.execute('select * from notes');
 * } finally {
 *   lease.release();
 * }
 * // outside a request scope: a facade that leases per operation
 * const db = pool.client('acme', { url, authToken });
 * await db.execute('select 1');
 * await pool.close();
 */
export class ClientPool {
  readonly #config: ResolvedPoolConfig;
  readonly #cache: LRUCache<string, PoolEntry>;
  /** Entries whose client is not closed yet (in the pool, or out of it but still leased). */
  readonly #open = new Set<PoolEntry>();
  /** Entries with at least one lease. */
  readonly #leasedEntries = new Set<PoolEntry>();
  /** What an explicit `cache.delete` / `cache.clear` means to `onEvict`. */
  #deleteReason: 'invalidate' | 'close' = 'invalidate';
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #closing = false;
  #closePromise: Promise<void> | undefined;
  #resolveClosed: (() => void) | undefined;
  #leased = 0;
  #hits = 0;
  #misses = 0;
  #opens = 0;
  #evictions = 0;
  #closedCount = 0;

  /** @throws TypeError naming the option when an option is invalid. */
  constructor(options: ClientPoolOptions = {}) {
    this.#config = parsePoolOptions(options);
    const now = this.#config.now;
    // lru-cache treats an entry started at time 0 as never stale, so shift the clock to start at 1.
    const origin = now?.();
    this.#cache = new LRUCache<string, PoolEntry>({
      max: this.#config.maxClients,
      ttl: this.#config.idleTtlMs,
      updateAgeOnGet: true,
      // read the clock on every check instead of caching it for 1 ms (a fake clock moves in jumps)
      ttlResolution: 0,
      ...(now === undefined || origin === undefined ? {} : { perf: { now: () => now() - origin + 1 } }),
      // Bookkeeping only inside the cache operation; hooks and close() run in disposeAfter, once
      // the entry is out of the cache, so they may call back into the pool.
      dispose: (entry, _key, reason) => {
        this.#retire(
          entry,
          reason === 'evict' ? 'evict' : reason === 'expire' ? 'expire' : reason === 'set' ? 'replace' : this.#deleteReason,
        );
      },
      disposeAfter: (entry) => {
        this.#afterRetire(entry);
      },
    });
  }

  /**
   * Leases the tenant's pooled client, opening it on first use. Synchronous, so concurrent first
   * acquires of a tenant open exactly one client. When the pooled client was opened for another
   * `url` or `authToken` (the tenant's record changed), or has been closed, it is replaced; the
   * old one closes when its last lease ends.
   *
   * Errors of the client factory (e.g. a `LibsqlError` for an invalid URL or an unreadable file)
   * propagate as they are.
   *
   * @throws TypeError after `close()`, or when `connection.url` is not a non-empty string.
   * @example
   * const lease = pool.acquire('acme', { url: 'file:./.tenantry/acme.db' }, { readOnly: true });
   * try { await lease.client.execute('select 1') } finally { lease.release() }
   */
  acquire(tenantId: string, connection: DatabaseConnection, options?: AcquireOptions): ClientLease {
    if (this.#closing) {
      throw new TypeError('ClientPool is closed: acquire() was called after close()');
    }
    if (typeof connection?.url !== 'string' || connection.url === '') {
      throw new TypeError(`ClientPool.acquire(): connection.url of tenant "${tenantId}" must be a non-empty string`);
    }
    const readOnly = options?.readOnly === true;
    const key = (readOnly ? 'ro:' : 'rw:') + tenantId;
    if (!this.#config.keepClients) return this.#acquireUnpooled(key, tenantId, connection, readOnly);

    let entry = this.#lookup(key);
    if (
      entry !== undefined &&
      (entry.url !== connection.url || entry.authToken !== connection.authToken || entry.owned.closed)
    ) {
      entry = undefined; // replaced below: set() disposes the old entry with reason 'replace'
    }
    const openedNow = entry === undefined;
    if (entry === undefined) {
      this.#misses++;
      entry = this.#openEntry(key, tenantId, connection, readOnly);
    } else {
      this.#hits++;
    }

    this.#take(entry);
    // Hooks run only once the lease is taken, so one that calls back into the pool cannot close
    // this client under the caller.
    if (openedNow) {
      this.#cache.set(key, entry); // may evict the LRU client or replace the stale one: onEvict runs
      this.#announceOpen(tenantId, readOnly);
    }
    return this.#leaseOf(entry);
  }

  /**
   * A `Client` facade for use outside a request scope (the protocol's
   * `ITenantRouter.getTenantClient(tenantId)`). Every operation leases the pooled client for its
   * own duration, and a transaction holds its lease until commit, rollback or close, so eviction
   * never closes a client under a running query; after an eviction the next operation uses a
   * fresh client. Its `close()` only detaches the facade. Operations after the pool is closed
   * reject with a `TypeError`.
   *
   * @example
   * const db = pool.client('acme', { url: 'libsql://acme-myorg.turso.io', authToken });
   * const { rows } = await db.execute('select * from notes');
   */
  client(tenantId: string, connection: DatabaseConnection, options?: AcquireOptions): Client {
    const target: DatabaseConnection = { url: connection.url };
    if (connection.authToken !== undefined) target.authToken = connection.authToken;
    const acquireOptions: AcquireOptions = { readOnly: options?.readOnly === true };
    return leasedClient(() => this.acquire(tenantId, target, acquireOptions), target.url);
  }

  /**
   * Drops the tenant's clients (read-write and read-only) from the pool. Each closes now if it is
   * not leased, else when its last lease ends. The next acquire opens a new client.
   *
   * @example
   * registry.on('change', (tenantId) => pool.invalidate(tenantId));
   */
  invalidate(tenantId: string): void {
    this.#deleteReason = 'invalidate';
    this.#cache.delete('rw:' + tenantId);
    this.#cache.delete('ro:' + tenantId);
  }

  /**
   * Closes the clients that have been idle for `idleTtlMs` now; returns how many left the pool.
   * The sweeper calls this every `sweepIntervalMs`; leased clients never expire.
   *
   * @example
   * clock.advance(300_000); pool.purgeStale(); // → number of expired clients
   */
  purgeStale(): number {
    // A lease in progress is use: refresh the age of leased clients so they do not expire.
    for (const entry of this.#leasedEntries) {
      if (!entry.retired) this.#cache.set(entry.key, entry);
    }
    const before = this.#evictions;
    this.#cache.purgeStale();
    return this.#evictions - before;
  }

  /**
   * Counters since the pool was created.
   *
   * @example
   * const { hits, misses } = pool.stats(); const hitRate = hits / (hits + misses);
   */
  stats(): ClientPoolStats {
    return {
      size: this.#cache.size,
      leased: this.#leased,
      hits: this.#hits,
      misses: this.#misses,
      opens: this.#opens,
      evictions: this.#evictions,
      closed: this.#closedCount,
    };
  }

  /**
   * Stops the sweeper, closes idle clients now, and closes each leased client when its last lease
   * ends. Resolves when every client the pool opened is closed (so it waits for every lease to be
   * released). Idempotent: later calls return the same promise. `acquire()` throws afterwards.
   *
   * Note for `file:` URLs: libsql (0.5, under `@libsql/client` 0.18) keeps a connection's file
   * descriptor until the prepared statements made on it are garbage collected, so descriptors
   * return to the OS at the next GC after `close()`, not during it.
   *
   * @example
   * process.on('SIGTERM', () => void pool.close());
   */
  close(): Promise<void> {
    if (this.#closePromise !== undefined) return this.#closePromise;
    this.#closing = true;
    if (this.#sweeper !== undefined) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
    this.#closePromise = new Promise<void>((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#deleteReason = 'close';
    this.#cache.clear();
    this.#checkAllClosed();
    return this.#closePromise;
  }

  /** `keepClients: false`: a client of its own for this one lease, closed when it is released. */
  #acquireUnpooled(key: string, tenantId: string, connection: DatabaseConnection, readOnly: boolean): ClientLease {
    this.#misses++;
    const entry = this.#openEntry(key, tenantId, connection, readOnly);
    entry.retired = true; // never in the pool: #release closes it when its lease ends
    this.#take(entry);
    this.#announceOpen(tenantId, readOnly);
    return this.#leaseOf(entry);
  }

  /** Counts a lease of `entry` (it cannot be closed while leased). */
  #take(entry: PoolEntry): void {
    entry.leases++;
    this.#leased++;
    this.#leasedEntries.add(entry);
  }

  /** The lease handed to the caller of a taken `entry`: `release()` counts once, however often called. */
  #leaseOf(entry: PoolEntry): ClientLease {
    let released = false;
    return {
      client: entry.shared,
      release: () => {
        if (released) return;
        released = true;
        this.#release(entry);
      },
    };
  }

  /** A client was opened: the `tenantry:pool:open` channel and the `onOpen` hook (a throwing hook is reported). */
  #announceOpen(tenantId: string, readOnly: boolean): void {
    if (poolOpenChannel.hasSubscribers) poolOpenChannel.publish({ tenantId, readOnly, size: this.#cache.size });
    if (this.#config.onOpen === undefined) return;
    try {
      this.#config.onOpen(tenantId);
    } catch (err) {
      this.#reportError(err);
    }
  }

  /** Finds the pooled entry of `key`. A leased entry is never treated as expired. */
  #lookup(key: string): PoolEntry | undefined {
    const found = this.#cache.peek(key, { allowStale: true });
    if (found !== undefined && found.leases > 0) {
      this.#cache.set(key, found); // same value: refreshes age and recency, no dispose
      return found;
    }
    return this.#cache.get(key); // a stale entry is disposed here with reason 'expire'
  }

  #openEntry(key: string, tenantId: string, connection: DatabaseConnection, readOnly: boolean): PoolEntry {
    const config: PoolClientConfig = { url: connection.url, intMode: 'number' };
    if (connection.authToken !== undefined) config.authToken = connection.authToken;
    const created = this.#config.createClient(config);
    const owned = readOnly ? readOnlyClient(created) : created;
    const entry: PoolEntry = {
      key,
      tenantId,
      url: connection.url,
      authToken: connection.authToken,
      readOnly,
      owned,
      shared: new SharedClient(owned),
      leases: 0,
      retired: false,
      retiredFor: undefined,
      closed: false,
    };
    this.#open.add(entry);
    this.#opens++;
    this.#startSweeper();
    return entry;
  }

  #startSweeper(): void {
    if (this.#sweeper !== undefined || this.#closing || !this.#config.keepClients) return;
    const timer = setInterval(() => {
      this.purgeStale();
    }, this.#config.sweepIntervalMs);
    // unref() is missing on some runtimes (a number in browsers and Workers)
    if (typeof timer === 'object' && timer !== null && 'unref' in timer && typeof timer.unref === 'function') {
      timer.unref();
    }
    this.#sweeper = timer;
  }

  #release(entry: PoolEntry): void {
    entry.leases--;
    this.#leased--;
    if (entry.leases === 0) this.#leasedEntries.delete(entry);
    if (entry.retired) {
      if (entry.leases === 0) this.#closeClient(entry);
    } else {
      this.#cache.set(entry.key, entry); // the end of a use refreshes the idle TTL
    }
  }

  /** Called from `dispose`, inside a cache operation: bookkeeping only, no user code. */
  #retire(entry: PoolEntry, reason: ClientEvictReason): void {
    if (entry.retired) return;
    entry.retired = true;
    entry.retiredFor = reason;
    if (reason !== 'close') this.#evictions++;
  }

  /** Called from `disposeAfter`, once the entry is out of the cache. Must not throw. */
  #afterRetire(entry: PoolEntry): void {
    if (poolEvictChannel.hasSubscribers && entry.retiredFor !== undefined) {
      poolEvictChannel.publish({ tenantId: entry.tenantId, readOnly: entry.readOnly, reason: entry.retiredFor, size: this.#cache.size });
    }
    if (this.#config.onEvict !== undefined && entry.retiredFor !== undefined) {
      try {
        this.#config.onEvict(entry.tenantId, entry.retiredFor);
      } catch (err) {
        this.#reportError(err);
      }
    }
    if (entry.leases === 0) this.#closeClient(entry);
  }

  #closeClient(entry: PoolEntry): void {
    if (entry.closed) return;
    entry.closed = true;
    this.#closedCount++;
    this.#open.delete(entry);
    try {
      entry.owned.close();
    } catch (err) {
      this.#reportError(err);
    }
    this.#checkAllClosed();
  }

  #reportError(err: unknown): void {
    try {
      this.#config.onError(err);
    } catch {
      // onError itself failed: nowhere left to report, and dispose must not throw
    }
  }

  #checkAllClosed(): void {
    if (this.#closing && this.#open.size === 0 && this.#resolveClosed !== undefined) {
      const resolve = this.#resolveClosed;
      this.#resolveClosed = undefined;
      resolve();
    }
  }
}

/**
 * The view of a pooled client that leases hand out: everything forwards to the pooled client,
 * but `close()` and `reconnect()` do nothing, because the client is shared with other leases and
 * its life belongs to the pool.
 */
class SharedClient implements Client {
  readonly #inner: Client;

  constructor(inner: Client) {
    this.#inner = inner;
  }

  execute(stmt: InStatement): Promise<ResultSet>;
  execute(sql: string, args?: InArgs): Promise<ResultSet>;
  execute(stmtOrSql: InStatement, args?: InArgs): Promise<ResultSet> {
    return typeof stmtOrSql === 'string' ? this.#inner.execute(stmtOrSql, args) : this.#inner.execute(stmtOrSql);
  }

  batch(stmts: Array<InStatement | [string, InArgs?]>, mode?: TransactionMode): Promise<Array<ResultSet>> {
    return this.#inner.batch(stmts, mode);
  }

  migrate(stmts: Array<InStatement>): Promise<Array<ResultSet>> {
    return this.#inner.migrate(stmts);
  }

  transaction(mode?: TransactionMode): Promise<Transaction>;
  transaction(): Promise<Transaction>;
  transaction(mode?: TransactionMode): Promise<Transaction> {
    return this.#inner.transaction(mode);
  }

  executeMultiple(sql: string): Promise<void> {
    return this.#inner.executeMultiple(sql);
  }

  sync(): Promise<Replicated> {
    return this.#inner.sync();
  }

  /** Does nothing: the pool closes this client. Release the lease instead. */
  close(): void {}

  /** Does nothing: the pool replaces a closed client on the next acquire. */
  reconnect(): void {}

  get closed(): boolean {
    return this.#inner.closed;
  }

  get protocol(): string {
    return this.#inner.protocol;
  }
}
