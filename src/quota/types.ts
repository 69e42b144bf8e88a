/**
 * The contract between the quota service and its stores. A store keeps counters; it knows
 * nothing of tenants, plans or HTTP. Keys are built by the service (see `quotaKey`).
 */

/** Names of the quotas of the protocol's `TenantQuota`. */
export type QuotaName =
  | 'maxUsers'
  | 'maxStorage'
  | 'apiRateLimit'
  | 'maxObjects'
  | 'maxRecordsPerObject'
  | 'maxDeploymentsPerDay'
  | 'maxStorageBytes';

/** A check-and-consume on a counter. */
export interface CounterRequest {
  /** Store key; contains the tenant id inside `{...}` (a Redis Cluster hash tag). */
  key: string;
  /** Most units allowed per window (an integer ≥ 1). */
  limit: number;
  /** Window length in ms (an integer ≥ 1). */
  windowMs: number;
  /** Units this call consumes (an integer ≥ 0; 0 only reads). Never more than `limit`. */
  cost: number;
}

/**
 * The answer of a store. `count` is the (weighted, for sliding windows) usage after this call
 * when allowed, or the usage that refused it when not.
 */
export interface CounterDecision {
  allowed: boolean;
  limit: number;
  /** Units still available after this call (≥ 0, rounded down). */
  remaining: number;
  /**
   * Milliseconds until the counter frees up: when refused, until a call of the same cost
   * would be allowed (the `Retry-After`); when allowed, until the current window ends.
   */
  resetMs: number;
  /** Usage in the window, as above. */
  count: number;
}

/**
 * Where quota counters live. Implementations: `memoryQuotaStore()` (default) and
 * `redisQuotaStore({ client })` from `tenantry/redis`. Both are atomic per key and use their own
 * clock (the Redis server's `TIME` for Redis), never the caller's.
 *
 * Algorithms (both stores implement exactly these, so they agree):
 * - `slidingWindow`: the sliding-window counter. Windows are aligned on multiples of `windowMs`
 *   since the epoch. With `curr` and `prev` the units of the current and previous windows and
 *   `elapsed` the time into the current one, usage = prev × (windowMs − elapsed) / windowMs +
 *   curr. A call is allowed when usage + cost ≤ limit, and then adds `cost` to `curr`. There
 *   is no 2× burst at a window edge (a full previous window blocks the start of the next); the
 *   estimate assumes the previous window's calls were spread evenly, so an adversary who fills
 *   the limit in the last moment of a window can reach up to 2 × limit − 1 over one window
 *   length (the usual trade-off of this algorithm, measured in test/quota-sliding-window).
 * - `fixedWindow`: a plain counter per aligned window (e.g. a UTC day with 86 400 000 ms).
 */
export interface QuotaStore {
  /** Short name for messages and stats (`memory`, `redis`). */
  readonly name: string;
  slidingWindow(request: CounterRequest): CounterDecision | Promise<CounterDecision>;
  fixedWindow(request: CounterRequest): CounterDecision | Promise<CounterDecision>;
  /** Stops timers and releases what the store created itself. */
  close?(): Promise<void>;
}

/** The store key of a quota of a tenant: `tenantry:q:{<tenantId>}:<name>`. */
export function quotaKey(tenantId: string, name: string): string {
  return `tenantry:q:{${tenantId}}:${name}`;
}
