/**
 * The in-process quota store: counters in a bounded LRU, decisions computed synchronously by
 * the reference math of `sliding-window.ts`. The default store, and the per-process insurance
 * limiter while a shared store is down.
 */
import { LRUCache } from 'lru-cache';
import { applyFixedWindow, applySlidingWindow } from './sliding-window.js';
import type { CounterDecision, CounterRequest, QuotaStore } from './types.js';

/** Options of `memoryQuotaStore()`. */
export interface MemoryQuotaStoreOptions {
  /**
   * Most counters kept (sliding and fixed together, one per key). The least recently used is
   * dropped beyond that, and its key simply starts over from zero the next time it is used.
   * Default 100 000.
   */
  maxKeys?: number;
  /** Clock in ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** The memory store: a `QuotaStore` whose methods answer synchronously. */
export interface MemoryQuotaStore extends QuotaStore {
  readonly name: 'memory';
  /** Number of counters currently kept (at most `maxKeys`). */
  readonly size: number;
  slidingWindow(request: CounterRequest): CounterDecision;
  fixedWindow(request: CounterRequest): CounterDecision;
  /** Forgets every counter. The store remains usable (everything starts over). */
  close(): Promise<void>;
}

const DEFAULT_MAX_KEYS = 100_000;
const SLIDING = 0;
const FIXED = 1;

/** One counter; one shape for both algorithms, so property access stays monomorphic. */
class Counter {
  kind: typeof SLIDING | typeof FIXED;
  /** NaN matches no window: a new counter rolls to zero on its first call. */
  window = Number.NaN;
  curr = 0;
  prev = 0;
  count = 0;
  constructor(kind: typeof SLIDING | typeof FIXED) {
    this.kind = kind;
  }
}

/**
 * Creates an in-memory quota store. Both methods are synchronous (they return the decision, not
 * a promise) and atomic per key, since they run to completion on the event loop. Memory is bounded
 * by `maxKeys` counters in an LRU; there are no timers: a stale counter costs its slot until it
 * is reused (and then rolls over) or evicted. An evicted key starts over from zero, so with more
 * active keys than `maxKeys` a limit can be exceeded; size it above the number of active tenants
 * times the quotas counted per tenant. A read (`cost: 0`) of an unknown key stores nothing.
 * Counters are per process: with several instances, each enforces its own.
 *
 * @throws {TypeError} when `maxKeys` is not an integer ≥ 1 or `now` not a function.
 *
 * @example
 * const store = memoryQuotaStore({ maxKeys: 10_000 });
 * const d = store.slidingWindow({ key: quotaKey('acme', 'apiRateLimit'), limit: 60, windowMs: 60_000, cost: 1 });
 * if (!d.allowed) res.setHeader('Retry-After', Math.ceil(d.resetMs / 1000));
 */
export function memoryQuotaStore(options: MemoryQuotaStoreOptions = {}): MemoryQuotaStore {
  if (options === null || typeof options !== 'object') throw new TypeError('memoryQuotaStore: options must be an object');
  const { maxKeys = DEFAULT_MAX_KEYS, now = Date.now } = options;
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) throw new TypeError(`memoryQuotaStore: maxKeys must be an integer ≥ 1, got ${String(maxKeys)}`);
  if (typeof now !== 'function') throw new TypeError('memoryQuotaStore: now must be a function returning ms since the epoch');

  const counters = new LRUCache<string, Counter>({ max: maxKeys });

  function run(request: CounterRequest, kind: typeof SLIDING | typeof FIXED): CounterDecision {
    const key = request.key;
    if (typeof key !== 'string') throw new TypeError(`memoryQuotaStore: key must be a string, got ${typeof key}`);
    const time = now();
    let entry = counters.get(key);
    if (entry !== undefined && entry.kind === kind) return apply(entry, time, request);
    // A new key, or one last used by the other algorithm (the service never does that): start over.
    entry = new Counter(kind);
    const decision = apply(entry, time, request); // validates first: a bad request stores nothing
    if (request.cost > 0) counters.set(key, entry);
    return decision;
  }

  return {
    name: 'memory',
    get size() {
      return counters.size;
    },
    slidingWindow(request) {
      return run(request, SLIDING);
    },
    fixedWindow(request) {
      return run(request, FIXED);
    },
    close() {
      counters.clear();
      return Promise.resolve();
    },
  };
}

function apply(entry: Counter, time: number, request: CounterRequest): CounterDecision {
  return entry.kind === SLIDING ? applySlidingWindow(entry, time, request) : applyFixedWindow(entry, time, request);
}
