/**
 * The lookup cache in front of a registry, consulted on every request: an LRU of records with
 * a TTL, a negative cache for unknown tenants, one in-flight load per key, and stale-if-error
 * while the registry is down. Freshness is judged with the injected clock; no timers.
 */
import { LRUCache } from 'lru-cache';
import { TenantryError } from '../errors/index.js';
import type { TenantRecord } from '../protocol/index.js';
import type { TenantRegistry } from './types.js';

/** What a lookup value names: a tenant id, a slug, or a (custom) domain. */
export type LookupKind = 'id' | 'slug' | 'domain';

/** Options of {@link RegistryCache}. All optional. */
export interface RegistryCacheOptions {
  /**
   * Cached records at most (least recently used go first). Negative entries ("no such
   * tenant") are kept in a second LRU of the same bound, so a flood of unknown names cannot
   * push out known tenants. Default 10 000.
   */
  max?: number;
  /** How long a loaded record is served without asking the registry, in ms. Default 30 000. */
  ttlMs?: number;
  /** How long "no such tenant" is remembered, in ms; `0` disables negative caching. Default 5 000. */
  negativeTtlMs?: number;
  /**
   * How long past `ttlMs` a cached record may still be served while the registry fails, in ms;
   * `0` disables stale-if-error. Default 300 000.
   */
  staleIfErrorMs?: number;
  /** Millisecond clock (tests drive it). Default `Date.now`. */
  now?: () => number;
}

/** Counters of {@link RegistryCache.stats}. */
export interface RegistryCacheStats {
  /** Cached entries: records plus negative entries. */
  size: number;
  /** Lookups answered with a fresh cached record. */
  hits: number;
  /** Lookups that needed a load (joined or started); one registry call may serve many. */
  misses: number;
  /** Loads answered with a record past its TTL because the registry failed. */
  stale: number;
  /** Lookups answered with a fresh negative entry (a known unknown tenant). */
  negativeHits: number;
}

interface Entry {
  record: TenantRecord;
  fetchedAt: number;
}

interface Flight {
  promise: Promise<TenantRecord | undefined>;
  /** Set when the key was invalidated (or the cache cleared) during the load. */
  discard: boolean;
  /** Tenants invalidated during the load; a result for one of them is not cached. */
  invalidated: Set<string> | undefined;
}

interface ResolvedOptions {
  max: number;
  ttlMs: number;
  negativeTtlMs: number;
  staleIfErrorMs: number;
  now: () => number;
}

/**
 * A cache of registry lookups by id, slug and domain.
 *
 * The records it returns are shared and frozen (the record, its `domains`, `db` and `quotas`):
 * do not mutate them; copy first. Sharing is the point — a warm lookup is a map read and
 * returns the same object every time, so callers can memoize per record object.
 *
 * Throws a `TypeError` naming the option when an option is invalid.
 *
 * @example
 * const cache = new RegistryCache(registry, { ttlMs: 10_000 });
 * const record = cache.lookup('domain', 'acme.com');
 * const tenant = record instanceof Promise ? await record : record;  // sync when warm
 * // after changing acme's record:
 * cache.invalidate('acme');
 */
export class RegistryCache {
  readonly #registry: TenantRegistry;
  readonly #options: ResolvedOptions;
  readonly #records: LRUCache<string, Entry>;
  /** key → fetchedAt of the "no such tenant" answer. */
  readonly #negatives: LRUCache<string, number>;
  /** tenant id → keys of #records that hold it. Cleaned in `dispose`, so never larger than #records. */
  readonly #keysByTenant = new Map<string, Set<string>>();
  readonly #flights = new Map<string, Flight>();
  /**
   * The last entry `peek` found, so that a run of lookups of the same tenant (the usual case
   * on a warm instance) skips building the key and touching the LRU. Dropped as soon as a lookup
   * asks for anything else (the next lookup of this tenant then refreshes its LRU position) and
   * whenever its entry leaves the LRU (`dispose`: deleted, replaced, evicted, cleared).
   */
  #front: Entry | undefined;
  /** The kind and value {@link RegistryCache.#front} was found under. */
  #frontKind: LookupKind = 'id';
  #frontValue = '';
  #configuredTtlMs: number;
  #hits = 0;
  #misses = 0;
  #stale = 0;
  #negativeHits = 0;

  constructor(registry: TenantRegistry, options: RegistryCacheOptions = {}) {
    if (typeof registry !== 'object' || registry === null || typeof registry.get !== 'function') {
      throw new TypeError('RegistryCache: registry must be a TenantRegistry');
    }
    this.#registry = registry;
    this.#options = resolveOptions(options);
    this.#configuredTtlMs = this.#options.ttlMs;
    this.#records = new LRUCache<string, Entry>({
      max: this.#options.max,
      dispose: (entry, key) => {
        if (this.#front === entry) this.#front = undefined;
        this.#unindex(entry.record.id, key);
      },
    });
    this.#negatives = new LRUCache<string, number>({ max: this.#options.max });
  }

  /**
   * Sync fast path: a fresh record, `null` for a fresh negative entry (a known unknown tenant),
   * `undefined` when a load is needed (missing, or past its TTL). Counts hits and negative hits.
   */
  peek(kind: LookupKind, value: string): TenantRecord | null | undefined {
    const now = this.#options.now();
    const front = this.#front;
    if (front !== undefined && this.#frontValue === value && this.#frontKind === kind && now - front.fetchedAt < this.#options.ttlMs) {
      this.#hits++;
      return front.record;
    }
    this.#front = undefined;
    const key = keyOf(kind, value);
    const entry = this.#records.get(key);
    if (entry !== undefined) {
      const age = now - entry.fetchedAt;
      if (age < this.#options.ttlMs) {
        this.#hits++;
        this.#front = entry;
        this.#frontKind = kind;
        this.#frontValue = value;
        return entry.record;
      }
      // Kept for stale-if-error until that window closes too.
      if (age > this.#options.ttlMs + this.#options.staleIfErrorMs) this.#records.delete(key);
      return undefined;
    }
    const negativeAt = this.#negatives.get(key);
    if (negativeAt !== undefined) {
      if (now - negativeAt < this.#options.negativeTtlMs) {
        this.#negativeHits++;
        return null;
      }
      this.#negatives.delete(key);
    }
    return undefined;
  }

  /**
   * Loads through the registry, with one in-flight load per key: 'id' → `registry.get`,
   * 'slug' → `registry.findBySlug` then `registry.get` (a tenant's id doubles as its slug),
   * 'domain' → `registry.findByDomain`. Resolves the record, or `undefined` (remembered for
   * `negativeTtlMs`). When the registry fails, a cached record of that key still within
   * `ttlMs + staleIfErrorMs` is served (counted as `stale`); otherwise it rejects with
   * `TenantryError('TENANT_UNAVAILABLE')` (503, `retryAfterSeconds: 5`, the registry's error
   * as `cause`). Counts a miss.
   */
  load(kind: LookupKind, value: string): Promise<TenantRecord | undefined> {
    this.#misses++;
    const key = keyOf(kind, value);
    const current = this.#flights.get(key);
    if (current !== undefined) return current.promise;
    const flight: Flight = { promise: undefined as never, discard: false, invalidated: undefined };
    flight.promise = this.#fetch(kind, value).then(
      (found) => {
        this.#land(key, flight);
        return this.#store(key, flight, found);
      },
      (err: unknown) => {
        this.#land(key, flight);
        return this.#fallback(key, err);
      },
    );
    this.#flights.set(key, flight);
    return flight.promise;
  }

  /**
   * `peek`, then `load`: a value when the cache answers (a record, or `undefined` for a known
   * unknown tenant), else a promise.
   *
   * @example
   * const found = cache.lookup('slug', 'acme');
   * const record = found instanceof Promise ? await found : found;
   */
  lookup(kind: LookupKind, value: string): TenantRecord | undefined | Promise<TenantRecord | undefined> {
    const cached = this.peek(kind, value);
    if (cached !== undefined) return cached ?? undefined;
    return this.load(kind, value);
  }

  /**
   * Forgets tenant `id`: every cached key that holds it (its id, slug and domain keys), its
   * id and id-as-slug keys, and all negative entries (a new slug or domain of the tenant may
   * be among them, and they are cheap to learn again). Loads in flight for those keys, or
   * that turn out to return this tenant, still answer their callers but are not cached; the
   * next lookup starts a fresh load.
   */
  invalidate(id: string): void {
    const keys = new Set(this.#keysByTenant.get(id));
    keys.add(keyOf('id', id));
    keys.add(keyOf('slug', id));
    for (const key of keys) {
      this.#records.delete(key);
      const flight = this.#flights.get(key);
      if (flight !== undefined) {
        flight.discard = true;
        this.#flights.delete(key);
      }
    }
    this.#negatives.clear();
    for (const flight of this.#flights.values()) (flight.invalidated ??= new Set()).add(id);
  }

  /**
   * Caps how long records are trusted (e.g. while cross-instance invalidations may be missed);
   * `undefined` restores the configured `ttlMs`. Entries older than the cap count as expired.
   */
  limitTtl(maxTtlMs: number | undefined): void {
    if (maxTtlMs !== undefined && (!Number.isFinite(maxTtlMs) || maxTtlMs < 0)) {
      throw new TypeError('RegistryCache.limitTtl: maxTtlMs must be a number >= 0');
    }
    this.#options.ttlMs = maxTtlMs === undefined ? this.#configuredTtlMs : Math.min(maxTtlMs, this.#configuredTtlMs);
  }

  /** Forgets everything; loads in flight answer their callers but are not cached. Counters stay. */
  clear(): void {
    this.#front = undefined;
    this.#records.clear();
    this.#negatives.clear();
    this.#keysByTenant.clear();
    for (const flight of this.#flights.values()) flight.discard = true;
    this.#flights.clear();
  }

  /** Cache size and counters (see {@link RegistryCacheStats}). */
  stats(): RegistryCacheStats {
    return {
      size: this.#records.size + this.#negatives.size,
      hits: this.#hits,
      misses: this.#misses,
      stale: this.#stale,
      negativeHits: this.#negativeHits,
    };
  }

  /** Calls the registry; a synchronous throw becomes a rejection. */
  #fetch(kind: LookupKind, value: string): Promise<TenantRecord | undefined> {
    const registry = this.#registry;
    return new Promise<TenantRecord | undefined>((resolve) => {
      switch (kind) {
        case 'id':
          resolve(registry.get(value));
          break;
        case 'slug':
          resolve(registry.findBySlug(value).then((found) => found ?? registry.get(value)));
          break;
        case 'domain':
          resolve(registry.findByDomain(value));
          break;
        default:
          throw new TypeError(`RegistryCache: unknown lookup kind ${JSON.stringify(kind)}`);
      }
    });
  }

  #land(key: string, flight: Flight): void {
    if (this.#flights.get(key) === flight) this.#flights.delete(key);
  }

  #store(key: string, flight: Flight, found: TenantRecord | undefined): TenantRecord | undefined {
    if (found === undefined || found === null) {
      // A negative answer is not cached when any tenant changed meanwhile: it may have just
      // gained this slug or domain.
      if (!flight.discard && flight.invalidated === undefined) {
        this.#records.delete(key);
        if (this.#options.negativeTtlMs > 0) this.#negatives.set(key, this.#options.now());
      }
      return undefined;
    }
    const record = frozenCopy(found);
    if (!flight.discard && !flight.invalidated?.has(record.id)) {
      this.#dropConflictingClaims(record);
      this.#negatives.delete(key);
      this.#records.set(key, { record, fetchedAt: this.#options.now() });
      let keys = this.#keysByTenant.get(record.id);
      if (keys === undefined) this.#keysByTenant.set(record.id, (keys = new Set()));
      keys.add(key);
    }
    return record;
  }

  /**
   * A fresh record is the truth about its own slug and domains: cached keys of those names that
   * still point at another tenant (the slug or domain moved) are dropped.
   */
  #dropConflictingClaims(record: TenantRecord): void {
    const claimed = record.domains.map((domain) => keyOf('domain', domain));
    if (record.slug !== undefined) claimed.push(keyOf('slug', record.slug));
    for (const key of claimed) {
      const entry = this.#records.peek(key);
      if (entry !== undefined && entry.record.id !== record.id) this.#records.delete(key);
    }
  }

  #fallback(key: string, cause: unknown): TenantRecord {
    const entry = this.#records.peek(key);
    if (entry !== undefined && this.#options.now() - entry.fetchedAt <= this.#options.ttlMs + this.#options.staleIfErrorMs) {
      this.#stale++;
      return entry.record;
    }
    throw new TenantryError('TENANT_UNAVAILABLE', 'the tenant registry is unavailable', { cause, retryAfterSeconds: 5 });
  }

  #unindex(id: string, key: string): void {
    const keys = this.#keysByTenant.get(id);
    if (keys === undefined) return;
    keys.delete(key);
    if (keys.size === 0) this.#keysByTenant.delete(id);
  }
}

/** Domains are matched case-insensitively, so their keys are lowercase. */
function keyOf(kind: LookupKind, value: string): string {
  return kind === 'domain' ? `domain:${value.toLowerCase()}` : `${kind}:${value}`;
}

/** A shallow copy, frozen, with frozen copies of `domains`, `db` and `quotas`. */
function frozenCopy(record: TenantRecord): TenantRecord {
  const copy: TenantRecord = {
    ...record,
    domains: Object.freeze([...record.domains]) as string[],
    db: Object.freeze({ ...record.db }),
  };
  if (record.quotas !== undefined) copy.quotas = Object.freeze({ ...record.quotas });
  return Object.freeze(copy);
}

function resolveOptions(options: RegistryCacheOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('RegistryCache: options must be an object');
  const { max, ttlMs, negativeTtlMs, staleIfErrorMs, now } = options;
  if (max !== undefined && !(Number.isSafeInteger(max) && max >= 1)) {
    throw new TypeError('RegistryCache: max must be an integer >= 1');
  }
  if (now !== undefined && typeof now !== 'function') throw new TypeError('RegistryCache: now must be a function returning milliseconds');
  return {
    max: max ?? 10_000,
    ttlMs: duration(ttlMs, 'ttlMs', 30_000),
    negativeTtlMs: duration(negativeTtlMs, 'negativeTtlMs', 5_000),
    staleIfErrorMs: duration(staleIfErrorMs, 'staleIfErrorMs', 300_000),
    now: now ?? Date.now,
  };
}

function duration(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`RegistryCache: ${name} must be a finite number of milliseconds >= 0`);
  }
  return value;
}
