/**
 * Quota enforcement: the rate step of the request path, inline checks (`check`, `enforce`,
 * `consume`) and usage figures. Counters live in a `QuotaStore`; allocation gauges are measured
 * in the tenant's own database.
 */
import { LRUCache } from 'lru-cache';
import type { TenantScope } from '../context/index.js';
import { quotaCheckChannel, quotaStoreErrorChannel } from '../diagnostics/channels.js';
import type { QuotaOperation } from '../diagnostics/channels.js';
import { TenantryError, isTenantryError } from '../errors/index.js';
import type { QuotaEnforcementResult, TenantRuntimeContext, TenantUsage } from '../protocol/index.js';
import { assertObjectName, measureObjectCount, measureRecordCount, measureStorageBytes, measureTotalRecords } from './gauges.js';
import type { ResolvedQuotaOptions } from './options.js';
import { QUOTA_NAMES } from './options.js';
import { memoryQuotaStore } from './memory-store.js';
import { quotaKey } from './types.js';
import type { CounterDecision, CounterRequest, QuotaName, QuotaStore } from './types.js';

/** `apiRateLimit` is per minute (the protocol's unit). */
export const RATE_WINDOW_MS = 60_000;
/** `maxDeploymentsPerDay` counts per UTC day. */
export const DAY_MS = 86_400_000;
/** `maxStorage` is in megabytes (10^6 bytes); `maxStorageBytes` in bytes. */
const MEGABYTE = 1_000_000;

/** Why a check came out as it did, beyond `allowed`. */
export type QuotaReason = 'within-limit' | 'limit-exceeded' | 'no-limit' | 'store-unavailable';

/** The protocol's `QuotaEnforcementResult`, plus why, and what is left of counters. */
export interface QuotaCheckResult extends QuotaEnforcementResult {
  reason: QuotaReason;
  /** Units left (counters, and gauges with a limit). */
  remaining?: number;
  /** For counters: ms until the window frees up (see `CounterDecision.resetMs`). */
  resetMs?: number;
}

/** Options of `check`, `enforce` and `consume`. */
export interface QuotaCheckOptions {
  /** Table the `maxRecordsPerObject` quota is about. Required for that quota. */
  object?: string;
  /** Units about to be added (rows, tables, bytes, users). Default 1 for `enforce`, 0 for `check`. */
  add?: number;
  /** Weight of a rate or deployment call. Default 1. */
  cost?: number;
  /** Check this tenant instead of the current scope's. */
  tenantId?: string;
}

/** What the rate step of a request hands to the adapter. */
export interface RateAdmission {
  /** `RateLimit` and `RateLimit-Policy` for the response (empty unless `quotas.headers`). */
  headers: Readonly<Record<string, string>>;
  reason: QuotaReason;
}

/** How the service reaches tenant scopes (provided by the tenantry instance). */
export interface ScopeAccess {
  current(): TenantScope | undefined;
  open(tenantId: string): Promise<TenantScope>;
}

interface Gauge {
  measured: number;
  admitted: number;
  measuredAt: number;
  pending: Promise<number> | undefined;
}

/**
 * Quotas of one tenantry instance, available as `tenantry.quota`.
 */
export class QuotaService {
  readonly #options: ResolvedQuotaOptions;
  readonly #store: QuotaStore;
  readonly #ownsStore: boolean;
  readonly #insurance: QuotaStore | undefined;
  readonly #scopes: ScopeAccess;
  readonly #now: () => number;
  readonly #onStoreError: (error: unknown) => void;
  readonly #gauges = new LRUCache<string, Gauge>({ max: 10_000 });
  #storeFailures = 0;

  constructor(options: ResolvedQuotaOptions, scopes: ScopeAccess, now: () => number, onStoreError: (error: unknown) => void) {
    this.#options = options;
    this.#ownsStore = options.store === undefined;
    this.#store = options.store ?? memoryQuotaStore({ now });
    this.#insurance = options.insurance && options.store !== undefined ? memoryQuotaStore({ now }) : undefined;
    this.#scopes = scopes;
    this.#now = now;
    this.#onStoreError = onStoreError;
  }

  /** Name of the counter store (`memory`, `redis`, ...). */
  get storeName(): string {
    return this.#store.name;
  }

  /**
   * The rate step of the request path: consumes one unit of the tenant's `apiRateLimit`.
   * Synchronous with a synchronous store. `undefined` when the tenant has no rate limit.
   *
   * @throws {TenantryError} `RATE_LIMITED` (with `Retry-After` and RateLimit headers) or
   *   `STORE_UNAVAILABLE` when the store fails and the rate quota fails closed.
   */
  admit(context: TenantRuntimeContext): RateAdmission | undefined | Promise<RateAdmission | undefined> {
    const limit = context.tenantQuotas.apiRateLimit;
    if (limit === undefined) return undefined;
    const request: CounterRequest = { key: quotaKey(context.tenantId, 'apiRateLimit'), limit, windowMs: RATE_WINDOW_MS, cost: 1 };
    let decision: CounterDecision | Promise<CounterDecision>;
    try {
      decision = this.#store.slidingWindow(request);
    } catch (err) {
      return this.#admitDegraded(context, request, err);
    }
    if (decision instanceof Promise) {
      return this.#bounded(decision).then(
        (d) => this.#admission(context, d, 'within-limit'),
        (err: unknown) => this.#admitDegraded(context, request, err),
      );
    }
    return this.#admission(context, decision, 'within-limit');
  }

  /**
   * Checks a quota without consuming or reserving anything.
   *
   * @example
   * const r = await tenantry.quota.check('maxRecordsPerObject', { object: 'notes', add: 1 });
   * if (!r.allowed) showUpgradeBanner(r.message);
   */
  async check(name: QuotaName, options: QuotaCheckOptions = {}): Promise<QuotaCheckResult> {
    return this.#evaluate(name, options, false);
  }

  /**
   * Checks a quota and takes what is asked: counters (`apiRateLimit`, `maxDeploymentsPerDay`)
   * consume `cost`; gauges reserve `add` (default 1) until the next measurement, so concurrent
   * calls cannot all pass the last free unit.
   *
   * @throws {TenantryError} `QUOTA_EXCEEDED` (allocation, deployments), `RATE_LIMITED`
   *   (`apiRateLimit`), `STORE_UNAVAILABLE` (store or gauge failed and the quota fails closed).
   * @example
   * await tenantry.quota.enforce('maxRecordsPerObject', { object: 'notes', add: 1 });
   */
  async enforce(name: QuotaName, options: QuotaCheckOptions = {}): Promise<QuotaCheckResult> {
    const result = await this.#evaluate(name, options, true);
    if (result.allowed) return result;
    if (result.reason === 'store-unavailable') {
      throw new TenantryError('STORE_UNAVAILABLE', `the ${name} quota cannot be checked right now`, { retryAfterSeconds: 1 });
    }
    const retryAfterSeconds = result.resetMs === undefined ? undefined : Math.max(1, Math.ceil(result.resetMs / 1000));
    throw new TenantryError(name === 'apiRateLimit' ? 'RATE_LIMITED' : 'QUOTA_EXCEEDED', result.message ?? `${name} exceeded`, {
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    });
  }

  /**
   * Consumes a counter: `maxDeploymentsPerDay` (fixed UTC-day window) or `apiRateLimit`.
   * Same as `enforce` for those two; a `TypeError` for gauges.
   */
  async consume(name: 'maxDeploymentsPerDay' | 'apiRateLimit', options: Omit<QuotaCheckOptions, 'object' | 'add'> = {}): Promise<QuotaCheckResult> {
    if (name !== 'maxDeploymentsPerDay' && name !== 'apiRateLimit') {
      throw new TypeError(`quota.consume: ${String(name)} is not a counter (maxDeploymentsPerDay, apiRateLimit)`);
    }
    return this.enforce(name, options);
  }

  /**
   * The protocol's `TenantUsage` of a tenant (default: the current scope's). Gauges are measured
   * now; `currentUsers` comes from `quotas.users` (0 when no such function is configured).
   *
   * @throws {TenantryError} `STORE_UNAVAILABLE` when the counter store cannot answer.
   */
  async usage(tenantId?: string): Promise<TenantUsage> {
    const scope = await this.#scope(tenantId);
    const context = scope.context;
    const client = await scope.client();
    const [currentObjectCount, currentRecordCount, currentStorageBytes, currentUsers, deployments, requests] = await Promise.all([
      measureObjectCount(client),
      measureTotalRecords(client),
      this.#storageBytes(context, client),
      this.#options.users === undefined ? 0 : Promise.resolve(this.#options.users(context)),
      this.#read('fixed', context.tenantId, 'maxDeploymentsPerDay', DAY_MS),
      this.#read('sliding', context.tenantId, 'apiRateLimit', RATE_WINDOW_MS),
    ]);
    return {
      currentObjectCount,
      currentRecordCount,
      currentStorageBytes,
      deploymentsToday: deployments,
      currentUsers: nonNegativeInteger(currentUsers, 'quotas.users'),
      apiRequestsThisMinute: Math.round(requests),
      lastUpdatedAt: new Date(this.#now()).toISOString(),
    };
  }

  /** Counters of the service: store failures seen, gauges cached. */
  stats(): { store: string; storeFailures: number; gauges: number } {
    return { store: this.#store.name, storeFailures: this.#storeFailures, gauges: this.#gauges.size };
  }

  /** Forgets the cached gauges of a tenant (after its data changed outside tenantry). */
  invalidate(tenantId: string): void {
    const prefix = `${tenantId}\0`;
    for (const key of this.#gauges.keys()) if (key.startsWith(prefix)) this.#gauges.delete(key);
  }

  /** Closes the store when tenantry created it (the memory default), and the insurance limiter. */
  async close(): Promise<void> {
    if (this.#ownsStore) await this.#store.close?.();
    await this.#insurance?.close?.();
  }

  async #evaluate(name: QuotaName, options: QuotaCheckOptions, take: boolean): Promise<QuotaCheckResult> {
    if (!(QUOTA_NAMES as readonly string[]).includes(name)) throw new TypeError(`quota: unknown quota ${JSON.stringify(name)}`);
    if (options === null || typeof options !== 'object') throw new TypeError('quota: options must be an object');
    const cost = units(options.cost, 'cost', 1);
    const add = units(options.add, 'add', take ? 1 : 0);
    const scope = await this.#scope(options.tenantId);
    if (name === 'maxRecordsPerObject') assertObjectName(options.object);
    const result = await this.#decide(name, scope, take, cost, add, options.object);
    if (quotaCheckChannel.hasSubscribers) publishCheck(scope.context.tenantId, name, take ? 'enforce' : 'check', result);
    return result;
  }

  async #decide(name: QuotaName, scope: TenantScope, take: boolean, cost: number, add: number, object: string | undefined): Promise<QuotaCheckResult> {
    const limit = scope.context.tenantQuotas[name];
    if (limit === undefined) return { allowed: true, reason: 'no-limit', message: `no ${name} limit applies to this tenant` };
    if (name === 'apiRateLimit' || name === 'maxDeploymentsPerDay') {
      if (cost > limit) throw new TypeError(`quota: cost ${cost} is larger than the ${name} limit ${limit}`);
      return this.#counter(name, scope.context, limit, take ? cost : 0, cost);
    }
    return this.#gauge(name, scope, limit, add, take, object);
  }

  async #counter(name: 'apiRateLimit' | 'maxDeploymentsPerDay', context: TenantRuntimeContext, limit: number, consume: number, cost: number): Promise<QuotaCheckResult> {
    const sliding = name === 'apiRateLimit';
    const request: CounterRequest = { key: quotaKey(context.tenantId, name), limit, windowMs: sliding ? RATE_WINDOW_MS : DAY_MS, cost: consume };
    let decision: CounterDecision;
    try {
      decision = await this.#bounded(Promise.resolve(sliding ? this.#store.slidingWindow(request) : this.#store.fixedWindow(request)));
    } catch (err) {
      this.#storeFailed(err, context.tenantId, name, 'store');
      if (this.#options.failMode[name] === 'closed') return degraded(name, limit, false);
      if (sliding && this.#insurance !== undefined) {
        const insured = this.#insurance.slidingWindow(request) as CounterDecision;
        return { ...this.#fromDecision(name, insured, consume === 0 ? cost : 0), reason: insured.allowed ? 'store-unavailable' : 'limit-exceeded' };
      }
      return degraded(name, limit, true);
    }
    return this.#fromDecision(name, decision, consume === 0 ? cost : 0);
  }

  /** `extra` is the cost of a read-only check, not yet in `decision.count`. */
  #fromDecision(name: QuotaName, decision: CounterDecision, extra: number): QuotaCheckResult {
    const usage = decision.count;
    const allowed = decision.allowed && usage + extra <= decision.limit;
    const current = Math.ceil(usage);
    return {
      allowed,
      reason: allowed ? 'within-limit' : 'limit-exceeded',
      currentUsage: current,
      limit: decision.limit,
      remaining: Math.max(0, Math.floor(decision.limit - usage - extra)),
      resetMs: decision.resetMs,
      ...(allowed ? {} : { exceededQuota: name, message: `${name} of ${decision.limit} reached (${current} used)` }),
    };
  }

  async #gauge(name: QuotaName, scope: TenantScope, limit: number, add: number, take: boolean, object: string | undefined): Promise<QuotaCheckResult> {
    const key = `${scope.context.tenantId}\0${name}\0${object ?? ''}`;
    let gauge = this.#gauges.get(key);
    const now = this.#now();
    if (gauge === undefined || (gauge.pending === undefined && now - gauge.measuredAt > this.#options.gaugeTtlMs)) {
      const fresh: Gauge = { measured: 0, admitted: 0, measuredAt: now, pending: undefined };
      fresh.pending = this.#measure(name, scope, object);
      this.#gauges.set(key, fresh);
      gauge = fresh;
    }
    if (gauge.pending !== undefined) {
      const pending = gauge.pending;
      try {
        const measured = await pending;
        if (gauge.pending === pending) {
          gauge.measured = measured;
          gauge.measuredAt = this.#now();
          gauge.pending = undefined;
        }
      } catch (err) {
        if (gauge.pending === pending) this.#gauges.delete(key);
        this.#storeFailed(err, scope.context.tenantId, name, 'gauge');
        return degraded(name, limit, this.#options.failMode[name] === 'open');
      }
    }
    const current = gauge.measured + gauge.admitted;
    const allowed = current + add <= limit;
    if (allowed && take) gauge.admitted += add;
    const used = allowed && take ? current + add : current;
    return {
      allowed,
      reason: allowed ? 'within-limit' : 'limit-exceeded',
      currentUsage: used,
      limit,
      remaining: Math.max(0, limit - used - (take ? 0 : add)),
      ...(allowed ? {} : { exceededQuota: name, message: `${name} of ${limit} reached (${current} used, ${add} more asked)` }),
    };
  }

  async #measure(name: QuotaName, scope: TenantScope, object: string | undefined): Promise<number> {
    const context = scope.context;
    switch (name) {
      case 'maxUsers': {
        if (this.#options.users === undefined) throw new TypeError('quota: maxUsers is set but no quotas.users function is configured');
        return nonNegativeInteger(await this.#options.users(context), 'quotas.users');
      }
      case 'maxObjects':
        return measureObjectCount(await scope.client());
      case 'maxRecordsPerObject':
        return measureRecordCount(await scope.client(), object!);
      case 'maxStorageBytes':
        return this.#storageBytes(context, await scope.client());
      case 'maxStorage':
        return Math.ceil((await this.#storageBytes(context, await scope.client())) / MEGABYTE);
      default:
        throw new TypeError(`quota: ${name} is not a gauge`);
    }
  }

  async #storageBytes(context: TenantRuntimeContext, client: Awaited<ReturnType<TenantScope['client']>>): Promise<number> {
    if (this.#options.storageBytes !== undefined) return nonNegativeInteger(await this.#options.storageBytes(context), 'quotas.storageBytes');
    return measureStorageBytes(client);
  }

  async #read(kind: 'fixed' | 'sliding', tenantId: string, name: QuotaName, windowMs: number): Promise<number> {
    const request: CounterRequest = { key: quotaKey(tenantId, name), limit: Number.MAX_SAFE_INTEGER, windowMs, cost: 0 };
    try {
      const decision = await this.#bounded(Promise.resolve(kind === 'fixed' ? this.#store.fixedWindow(request) : this.#store.slidingWindow(request)));
      return decision.count;
    } catch (err) {
      this.#storeFailed(err, tenantId, name, 'store');
      if (isTenantryError(err)) throw err;
      throw new TenantryError('STORE_UNAVAILABLE', 'the quota store is unavailable', { cause: err });
    }
  }

  #admission(context: TenantRuntimeContext, decision: CounterDecision, reason: QuotaReason): RateAdmission {
    if (quotaCheckChannel.hasSubscribers) {
      quotaCheckChannel.publish({
        tenantId: context.tenantId,
        quota: 'apiRateLimit',
        operation: 'request',
        allowed: decision.allowed,
        reason: decision.allowed ? reason : 'limit-exceeded',
        limit: decision.limit,
        remaining: decision.remaining,
        currentUsage: Math.ceil(decision.count),
      });
    }
    if (!decision.allowed) {
      throw new TenantryError('RATE_LIMITED', `the apiRateLimit of ${decision.limit} requests per minute is exhausted`, {
        retryAfterSeconds: Math.max(1, Math.ceil(decision.resetMs / 1000)),
        headers: rateHeaders(context.tenantPlan, decision),
      });
    }
    return { headers: this.#options.headers ? rateHeaders(context.tenantPlan, decision) : NO_HEADERS, reason };
  }

  #admitDegraded(context: TenantRuntimeContext, request: CounterRequest, err: unknown): RateAdmission {
    this.#storeFailed(err, context.tenantId, 'apiRateLimit', 'store');
    if (this.#options.failMode.apiRateLimit === 'closed') {
      if (quotaCheckChannel.hasSubscribers) publishCheck(context.tenantId, 'apiRateLimit', 'request', degraded('apiRateLimit', request.limit, false));
      throw new TenantryError('STORE_UNAVAILABLE', 'the rate limit cannot be checked right now', { cause: err, retryAfterSeconds: 1 });
    }
    if (this.#insurance !== undefined) {
      return this.#admission(context, this.#insurance.slidingWindow(request) as CounterDecision, 'store-unavailable');
    }
    if (quotaCheckChannel.hasSubscribers) publishCheck(context.tenantId, 'apiRateLimit', 'request', degraded('apiRateLimit', request.limit, true));
    return { headers: NO_HEADERS, reason: 'store-unavailable' };
  }

  #storeFailed(err: unknown, tenantId: string, quota: QuotaName, component: 'store' | 'gauge'): void {
    this.#storeFailures++;
    if (quotaStoreErrorChannel.hasSubscribers) {
      quotaStoreErrorChannel.publish({ store: this.#store.name, component, tenantId, quota, message: err instanceof Error ? err.message : String(err) });
    }
    this.#onStoreError(err);
  }

  /** Rejects when `promise` has not settled within `timeoutMs`. */
  #bounded<T>(promise: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TenantryError('STORE_UNAVAILABLE', `the quota store did not answer within ${this.#options.timeoutMs} ms`)),
        this.#options.timeoutMs,
      );
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  async #scope(tenantId: string | undefined): Promise<TenantScope> {
    if (tenantId !== undefined) return this.#scopes.open(tenantId);
    const scope = this.#scopes.current();
    if (scope === undefined) {
      throw new TenantryError('NO_TENANT_CONTEXT', 'quota checks need a tenant scope, or pass { tenantId }');
    }
    return scope;
  }
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** Publishes one decision on `tenantry:quota:check` (call only when it has subscribers). */
function publishCheck(tenantId: string, quota: QuotaName, operation: QuotaOperation, result: QuotaCheckResult): void {
  quotaCheckChannel.publish({
    tenantId,
    quota,
    operation,
    allowed: result.allowed,
    reason: result.reason,
    limit: result.limit,
    remaining: result.remaining,
    currentUsage: result.currentUsage,
  });
}

/** The IETF RateLimit headers (httpapi ratelimit-headers draft syntax). */
export function rateHeaders(policy: string, decision: CounterDecision): Record<string, string> {
  const seconds = Math.max(0, Math.ceil(decision.resetMs / 1000));
  return {
    'ratelimit-policy': `"${policy}";q=${decision.limit};w=${RATE_WINDOW_MS / 1000}`,
    ratelimit: `"${policy}";r=${decision.remaining};t=${seconds}`,
  };
}

function degraded(name: QuotaName, limit: number, allowed: boolean): QuotaCheckResult {
  return {
    allowed,
    reason: 'store-unavailable',
    limit,
    message: `the ${name} quota could not be checked (store unavailable); ${allowed ? 'allowed: fails open' : 'refused: fails closed'}`,
  };
}

function units(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`quota: ${name} must be an integer >= 0`);
  }
  return value;
}

function nonNegativeInteger(value: unknown, source: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`${source} must return an integer >= 0`);
  }
  return value;
}
