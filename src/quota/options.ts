/**
 * Options of quota enforcement (`createTenantry({ quotaStore, quotas })`) and their validation.
 */
import type { TenantRuntimeContext } from '../protocol/index.js';
import type { QuotaName, QuotaStore } from './types.js';

/** What happens when the store (or, for allocation quotas, the gauge) cannot answer. */
export type FailMode = 'open' | 'closed';

/** Every quota name of the protocol's `TenantQuota`. */
export const QUOTA_NAMES: readonly QuotaName[] = Object.freeze([
  'maxUsers',
  'maxStorage',
  'apiRateLimit',
  'maxObjects',
  'maxRecordsPerObject',
  'maxDeploymentsPerDay',
  'maxStorageBytes',
]);

/** Options of `createTenantry({ quotas })`. */
export interface QuotaOptions {
  /**
   * Per quota: `'closed'` refuses when the store or gauge fails (`STORE_UNAVAILABLE`, 503),
   * `'open'` lets the call through with `reason: 'store-unavailable'`. Default: `'open'` for
   * `apiRateLimit`, `'closed'` for every allocation quota and `maxDeploymentsPerDay`.
   */
  failMode?: Partial<Record<QuotaName, FailMode>>;
  /**
   * While the store fails and `apiRateLimit` fails open, enforce the rate limit per process with
   * an in-memory limiter instead of not at all. Default `true`.
   */
  insurance?: boolean;
  /** A store call that has not answered by then counts as a failure. Default 50 ms. */
  timeoutMs?: number;
  /** How long a gauge measurement (tables, rows, bytes) is reused. Default 2 000 ms. */
  gaugeTtlMs?: number;
  /**
   * Send `RateLimit` and `RateLimit-Policy` on every allowed response of a rate-limited tenant,
   * not only on the 429. Default `false`: the two extra headers cost about as much as the rate
   * step itself (measured: ~10% of a bare Hono request on Node 20); turn them on when your
   * clients pace themselves by them.
   */
  headers?: boolean;
  /** Current number of users of a tenant; required when any plan or record sets `maxUsers`. */
  users?: (tenant: TenantRuntimeContext) => number | Promise<number>;
  /**
   * Bytes a tenant's database occupies, when the database cannot tell (e.g. a platform usage
   * API). Default: `page_count × page_size` of the tenant database.
   */
  storageBytes?: (tenant: TenantRuntimeContext) => number | Promise<number>;
}

/** Quota options after validation and defaults. */
export interface ResolvedQuotaOptions {
  store: QuotaStore | undefined;
  failMode: Record<QuotaName, FailMode>;
  insurance: boolean;
  timeoutMs: number;
  gaugeTtlMs: number;
  headers: boolean;
  users: QuotaOptions['users'];
  storageBytes: QuotaOptions['storageBytes'];
}

const KEYS: ReadonlySet<string> = new Set(['failMode', 'insurance', 'timeoutMs', 'gaugeTtlMs', 'headers', 'users', 'storageBytes']);

/** Validates quota options; throws a `TypeError` naming the option. */
export function resolveQuotaOptions(store: QuotaStore | undefined, options: QuotaOptions | undefined): ResolvedQuotaOptions {
  if (store !== undefined) {
    if (store === null || typeof store !== 'object' || typeof store.slidingWindow !== 'function' || typeof store.fixedWindow !== 'function') {
      throw new TypeError('createTenantry: quotaStore must implement slidingWindow() and fixedWindow()');
    }
  }
  const o = options ?? {};
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new TypeError('createTenantry: quotas must be an object');
  for (const key of Object.keys(o)) if (!KEYS.has(key)) throw new TypeError(`createTenantry: unknown option quotas.${key}`);
  const failMode = Object.fromEntries(
    QUOTA_NAMES.map((name) => [name, name === 'apiRateLimit' ? 'open' : 'closed']),
  ) as Record<QuotaName, FailMode>;
  if (o.failMode !== undefined) {
    if (o.failMode === null || typeof o.failMode !== 'object') throw new TypeError('createTenantry: quotas.failMode must be an object');
    for (const [name, mode] of Object.entries(o.failMode)) {
      if (!(QUOTA_NAMES as readonly string[]).includes(name)) throw new TypeError(`createTenantry: quotas.failMode.${name} is not a quota name`);
      if (mode !== 'open' && mode !== 'closed') throw new TypeError(`createTenantry: quotas.failMode.${name} must be 'open' or 'closed'`);
      failMode[name as QuotaName] = mode;
    }
  }
  for (const fn of ['users', 'storageBytes'] as const) {
    if (o[fn] !== undefined && typeof o[fn] !== 'function') throw new TypeError(`createTenantry: quotas.${fn} must be a function`);
  }
  return {
    store,
    failMode,
    insurance: bool(o.insurance, 'quotas.insurance', true),
    timeoutMs: int(o.timeoutMs, 'quotas.timeoutMs', 50, 1),
    gaugeTtlMs: int(o.gaugeTtlMs, 'quotas.gaugeTtlMs', 2_000, 0),
    headers: bool(o.headers, 'quotas.headers', false),
    users: o.users,
    storageBytes: o.storageBytes,
  };
}

function bool(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`createTenantry: ${name} must be a boolean`);
  return value;
}

function int(value: unknown, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw new TypeError(`createTenantry: ${name} must be an integer >= ${min}`);
  return value;
}
