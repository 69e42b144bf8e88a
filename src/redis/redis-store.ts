/**
 * The Redis quota store: counters shared by every instance of a deployment, one atomic Lua
 * script per call, the window math on the Redis server's clock.
 */
import type { Cluster, Redis } from 'ioredis';
import { TenantryError } from '../errors/index.js';
import type { CounterDecision, CounterRequest, QuotaStore } from '../quota/types.js';
import { FIXED_WINDOW, SLIDING_WINDOW } from './scripts.js';
import type { QuotaScript } from './scripts.js';

/** Options of {@link redisQuotaStore}. */
export interface RedisQuotaStoreOptions {
  /**
   * The ioredis connection (`Redis` or `Cluster`) the counters live on. It stays yours: the
   * store never connects, quits or disconnects it.
   *
   * Recommended settings, so that a Redis outage fails a request at once instead of queueing
   * commands until the timeout: `enableOfflineQueue: false` and `maxRetriesPerRequest: 1`.
   */
  client: Redis | Cluster;
  /**
   * Prepended to every key (`tenantry:q:{tenant}:name`), e.g. `'myapp:'`. Default `''`. It may
   * not contain `{` or `}`: the tenant's `{...}` must stay the key's Redis Cluster hash tag.
   */
  prefix?: string;
  /**
   * A call that has not answered after this many ms rejects with `STORE_UNAVAILABLE`, so a
   * slow or unreachable Redis never hangs a request. Default `50`.
   */
  timeoutMs?: number;
}

/** The store {@link redisQuotaStore} returns: a {@link QuotaStore} whose calls always return promises. */
export interface RedisQuotaStore extends QuotaStore {
  readonly name: 'redis';
  slidingWindow(request: CounterRequest): Promise<CounterDecision>;
  fixedWindow(request: CounterRequest): Promise<CounterDecision>;
  /** Resolves at once; the client is not touched. */
  close(): Promise<void>;
}

interface ResolvedRedisQuotaStoreOptions {
  client: Pick<Redis, 'evalsha' | 'eval'>;
  prefix: string;
  timeoutMs: number;
}

const DEFAULT_TIMEOUT_MS = 50;

function resolveOptions(options: RedisQuotaStoreOptions): ResolvedRedisQuotaStoreOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('redisQuotaStore: options must be an object with a `client`');
  }
  const client: unknown = options.client;
  if (
    typeof client !== 'object' ||
    client === null ||
    typeof (client as Partial<Redis>).evalsha !== 'function' ||
    typeof (client as Partial<Redis>).eval !== 'function'
  ) {
    throw new TypeError('redisQuotaStore: options.client must be an ioredis Redis or Cluster client');
  }
  const prefix = options.prefix ?? '';
  if (typeof prefix !== 'string' || /[{}]/.test(prefix)) {
    throw new TypeError('redisQuotaStore: options.prefix must be a string without `{` or `}` (they would replace the tenant hash tag)');
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError('redisQuotaStore: options.timeoutMs must be a finite number of ms greater than 0');
  }
  return { client: client as Pick<Redis, 'evalsha' | 'eval'>, prefix, timeoutMs };
}

function assertRequest(method: string, request: CounterRequest): void {
  if (typeof request !== 'object' || request === null) throw new TypeError(`${method}: the request must be an object`);
  const { key, limit, windowMs, cost } = request;
  if (typeof key !== 'string' || key.length === 0) throw new TypeError(`${method}: key must be a non-empty string`);
  if (!Number.isSafeInteger(limit) || limit < 1) throw new TypeError(`${method}: limit must be an integer ≥ 1 (got ${String(limit)})`);
  if (!Number.isSafeInteger(windowMs) || windowMs < 1) {
    throw new TypeError(`${method}: windowMs must be an integer ≥ 1 (got ${String(windowMs)})`);
  }
  if (!Number.isSafeInteger(cost) || cost < 0 || cost > limit) {
    throw new TypeError(`${method}: cost must be an integer from 0 to limit (${limit}) (got ${String(cost)})`);
  }
}

/**
 * Turns the script's reply `[allowed, remaining, resetMs, count × 1000]` into a decision.
 * Internal (exported for the parity tests).
 */
export function decisionFromReply(reply: unknown, limit: number): CounterDecision {
  if (!Array.isArray(reply) || reply.length !== 4 || !reply.every((n) => typeof n === 'number' && Number.isSafeInteger(n))) {
    throw new Error(`unexpected reply from the quota script: ${JSON.stringify(reply)}`);
  }
  const [allowed, remaining, resetMs, milliCount] = reply as [number, number, number, number];
  return { allowed: allowed === 1, limit, remaining, resetMs, count: milliCount / 1000 };
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

function storeUnavailable(cause: unknown): TenantryError {
  return new TenantryError('STORE_UNAVAILABLE', 'the quota store is unavailable', { cause });
}

/**
 * Runs `script` on `key`: `EVALSHA`, and on `NOSCRIPT` (a restarted server, `SCRIPT FLUSH`, a
 * failover to a replica that never saw the script) `EVAL`, which also caches it again.
 */
async function evaluate(client: ResolvedRedisQuotaStoreOptions['client'], script: QuotaScript, key: string, args: number[]): Promise<unknown> {
  try {
    return await client.evalsha(script.sha, 1, key, ...args);
  } catch (err) {
    if (!isNoScript(err)) throw err;
    return await client.eval(script.source, 1, key, ...args);
  }
}

/**
 * A {@link QuotaStore} on Redis, shared by every instance that uses the same Redis. Each call is
 * one Lua script (`EVALSHA`, falling back to `EVAL` on `NOSCRIPT`) that checks and consumes
 * atomically, on the Redis server's clock. The keys keep the tenant's `{...}` hash tag, so it
 * works on Redis Cluster too. A counter hash expires two windows after its last change.
 *
 * Failures never look like refusals: a Redis error, or no answer within `timeoutMs`, rejects
 * with `TenantryError` `STORE_UNAVAILABLE` (the original error as `cause`); the quota's fail
 * mode decides what happens next. A call that timed out may still have been counted once Redis
 * answers.
 *
 * `close()` resolves and does nothing: the client is yours to `quit()`.
 *
 * @example
 * import Redis from 'ioredis';
 * import { redisQuotaStore } from 'tenantry/redis';
 * const redis = new Redis(process.env.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
 * const tenantry = createTenantry({ quotaStore: redisQuotaStore({ client: redis, prefix: 'myapp:' }) });
 */
export function redisQuotaStore(options: RedisQuotaStoreOptions): RedisQuotaStore {
  const { client, prefix, timeoutMs } = resolveOptions(options);

  async function run(method: string, script: QuotaScript, request: CounterRequest): Promise<CounterDecision> {
    assertRequest(method, request);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const reply = await Promise.race([evaluate(client, script, prefix + request.key, [request.limit, request.windowMs, request.cost]), deadline]);
      return decisionFromReply(reply, request.limit);
    } catch (err) {
      throw storeUnavailable(err);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    name: 'redis',
    slidingWindow: (request) => run('slidingWindow', SLIDING_WINDOW, request),
    fixedWindow: (request) => run('fixedWindow', FIXED_WINDOW, request),
    close: async () => {},
  };
}
