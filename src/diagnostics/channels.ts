/**
 * The `node:diagnostics_channel` channels tenantry publishes on: resolution of a request (a
 * TracingChannel), the client pool, quota decisions, quota store failures, provisioning steps and
 * refused requests. Every publisher checks `hasSubscribers` first, so no message is built while
 * nobody listens. Messages never carry tokens, Authorization headers, request paths or database
 * credentials.
 *
 * Channels are process-wide and named: subscribe by name with `diagnostics_channel.subscribe()`
 * or `diagnostics_channel.tracingChannel(name).subscribe()`; both ESM and CJS copies of tenantry
 * publish on the same channels.
 */
import { channel, tracingChannel } from 'node:diagnostics_channel';
import { ERROR_STATUS, isTenantryError } from '../errors/index.js';
import type { TenantryErrorCode } from '../errors/index.js';
import type { ProvisioningStep } from '../protocol/index.js';
import type { QuotaReason } from '../quota/service.js';
import type { QuotaName } from '../quota/types.js';
import type { ClientEvictReason } from '../router/pool.js';
import type { RequestScope } from '../router/scope.js';

/**
 * Names of tenantry's diagnostics channels. Stable: a rename is a breaking change.
 *
 * @example
 * import diagnostics_channel from 'node:diagnostics_channel';
 * import { TENANTRY_CHANNELS } from 'tenantry';
 * diagnostics_channel.subscribe(TENANTRY_CHANNELS.tenantRejected, (m) => console.warn(m.code));
 */
export const TENANTRY_CHANNELS = Object.freeze({
  /**
   * TracingChannel around the resolution of a request (resolvers, registry lookup, status gate),
   * message {@link ResolveMessage}. Its channels are `tracing:tenantry:resolve:start`, `:end`,
   * `:asyncStart`, `:asyncEnd` and `:error`.
   */
  resolve: 'tenantry:resolve',
  /** The pool opened a client, message {@link PoolOpenMessage}. */
  poolOpen: 'tenantry:pool:open',
  /** A client left the pool, message {@link PoolEvictMessage}. */
  poolEvict: 'tenantry:pool:evict',
  /** A quota was decided (rate step of a request, `quota.check/enforce/consume`), message {@link QuotaCheckMessage}. */
  quotaCheck: 'tenantry:quota:check',
  /** The quota store or a gauge measurement failed, message {@link QuotaStoreErrorMessage}. */
  quotaStoreError: 'tenantry:quota:store-error',
  /** A provisioning step ended, message {@link ProvisioningStepMessage}. */
  provisioningStep: 'tenantry:provisioning:step',
  /** A request or `withTenant` call was refused before its handler, message {@link TenantRejectedMessage}. */
  tenantRejected: 'tenantry:tenant:rejected',
} as const);

/** Name of one of tenantry's diagnostics channels (for the TracingChannel: its base name). */
export type TenantryChannelName = (typeof TENANTRY_CHANNELS)[keyof typeof TENANTRY_CHANNELS];

/** How the resolution of a request ended. `none`: an optional route on which no tenant was found. */
export type ResolveOutcome = 'resolved' | 'rejected' | 'none';

/**
 * The context object of the `tenantry:resolve` TracingChannel. The same object goes to every
 * event of one resolution; tenantry fills in the outcome fields before it publishes `end` (a
 * synchronous resolution: a warm tenant) or `asyncStart` / `asyncEnd` (a registry lookup or a
 * JWKS fetch was awaited). So a subscriber ends its span at `end` when `outcome` is set there,
 * else at `asyncEnd`. tenantry never sets the TracingChannel `result` field (the scope holds
 * credentials); on failure `error` is the `TenantryError` and the `error` event precedes the
 * end event. Published by every adapter and `tenantry.handle()`/`resolveTenant(request)`, not by
 * `withTenant()` (jobs name their tenant).
 */
export interface ResolveMessage {
  /** HTTP method of the request, upper case. */
  readonly method: string;
  /** Names of the configured resolvers in the order they run (all run unless one throws). */
  readonly resolvers: readonly string[];
  /**
   * Sources of the identities the resolvers found, in order (e.g. `['jwt', 'subdomain']`); `[]`
   * when none found one; `undefined` until the resolvers finished or when one threw.
   */
  sources: string[] | undefined;
  /** Set when the resolution ended. */
  outcome: ResolveOutcome | undefined;
  /** The tenant, when resolved. */
  tenantId: string | undefined;
  /** The source that named the tenant (`TenantRuntimeContext.source`; `default` for `defaultTenant`). */
  source: string | undefined;
  /** The request id of the scope (`TenantRuntimeContext.requestId`), when resolved. */
  requestId: string | undefined;
  /** True when a suspended tenant is served read-only. */
  readOnly: boolean | undefined;
  /** The error code the request is answered with, when rejected (`TENANT_UNAVAILABLE` for an uncoded failure). */
  code: TenantryErrorCode | undefined;
  /** The HTTP status of the refusal, when rejected. */
  status: number | undefined;
  /** The `TenantryError`, when rejected (TracingChannel convention). */
  error?: unknown;
}

/** Message of `tenantry:pool:open`: the pool opened a client. */
export interface PoolOpenMessage {
  readonly tenantId: string;
  /** True for the tenant's read-only client (suspended tenants in read-only mode). */
  readonly readOnly: boolean;
  /** Clients in the pool afterwards. */
  readonly size: number;
}

/** Message of `tenantry:pool:evict`: a client left the pool (it closes when its last lease ends). */
export interface PoolEvictMessage {
  readonly tenantId: string;
  readonly readOnly: boolean;
  /** `evict` (LRU), `expire` (idle TTL), `invalidate`, `replace` (record changed), `close`. */
  readonly reason: ClientEvictReason;
  /** Clients in the pool afterwards. */
  readonly size: number;
}

/** Which call decided a quota: the rate step of a request, `quota.check()`, or `quota.enforce()`/`consume()`. */
export type QuotaOperation = 'request' | 'check' | 'enforce';

/** Message of `tenantry:quota:check`: one quota decision. */
export interface QuotaCheckMessage {
  readonly tenantId: string;
  readonly quota: QuotaName;
  readonly operation: QuotaOperation;
  readonly allowed: boolean;
  /** `within-limit`, `limit-exceeded`, `no-limit` or `store-unavailable` (the fail mode decided). */
  readonly reason: QuotaReason;
  /** The limit, when one applies. */
  readonly limit: number | undefined;
  /** Units left, when known. */
  readonly remaining: number | undefined;
  /** Units used (the protocol's `currentUsage`), when known. */
  readonly currentUsage: number | undefined;
}

/** Message of `tenantry:quota:store-error`: the counter store or a gauge measurement failed. */
export interface QuotaStoreErrorMessage {
  /** Name of the counter store (`memory`, `redis`, ...). */
  readonly store: string;
  /** `store`: a counter operation failed; `gauge`: measuring an allocation (tenant database, `quotas.users`) failed. */
  readonly component: 'store' | 'gauge';
  readonly tenantId: string;
  readonly quota: QuotaName;
  /** The error's message. */
  readonly message: string;
}

/** Message of `tenantry:provisioning:step`: a step of `provisionTenant()` ended. */
export interface ProvisioningStepMessage {
  readonly tenantId: string;
  /** A copy of the step (the protocol's shape): `name`, `status`, timestamps, `durationMs`, `error`. */
  readonly step: ProvisioningStep;
}

/** Message of `tenantry:tenant:rejected`: a request (or `withTenant` call) refused before its handler. */
export interface TenantRejectedMessage {
  readonly code: TenantryErrorCode;
  readonly status: number;
  /** The error's message (never a token; a short invalid value may be quoted). */
  readonly message: string;
}

/** Channel name → message type, for typed subscribers. */
export interface TenantryChannelMessages {
  'tenantry:resolve': ResolveMessage;
  'tenantry:pool:open': PoolOpenMessage;
  'tenantry:pool:evict': PoolEvictMessage;
  'tenantry:quota:check': QuotaCheckMessage;
  'tenantry:quota:store-error': QuotaStoreErrorMessage;
  'tenantry:provisioning:step': ProvisioningStepMessage;
  'tenantry:tenant:rejected': TenantRejectedMessage;
}

// ---------------------------------------------------------------------------------------------
// Publishers (internal: not exported from the package)

/** A channel whose `publish` takes one message type. Guard every publish with `hasSubscribers`. */
interface TypedChannel<M> {
  readonly hasSubscribers: boolean;
  publish(message: M): void;
}

/**
 * The channel itself on Node, where `hasSubscribers` is a getter. workerd (Cloudflare Workers with
 * `nodejs_compat`) implements `hasSubscribers` as a method, which a plain truthiness check would
 * always take as "observed": there, a small adapter calls it.
 */
function typed<N extends Exclude<TenantryChannelName, 'tenantry:resolve'>>(name: N): TypedChannel<TenantryChannelMessages[N]> {
  const target = channel(name) as unknown as { readonly hasSubscribers: boolean | (() => boolean); publish(message: unknown): void };
  if (typeof target.hasSubscribers !== 'function') return target as TypedChannel<TenantryChannelMessages[N]>;
  return {
    get hasSubscribers() {
      return (target.hasSubscribers as () => boolean)();
    },
    publish: (message) => target.publish(message),
  };
}

// Module-level references also keep the channels (weakly held by Node) alive.
/** @internal */
export const poolOpenChannel = typed(TENANTRY_CHANNELS.poolOpen);
/** @internal */
export const poolEvictChannel = typed(TENANTRY_CHANNELS.poolEvict);
/** @internal */
export const quotaCheckChannel = typed(TENANTRY_CHANNELS.quotaCheck);
/** @internal */
export const quotaStoreErrorChannel = typed(TENANTRY_CHANNELS.quotaStoreError);
/** @internal */
export const provisioningStepChannel = typed(TENANTRY_CHANNELS.provisioningStep);
/** @internal */
export const tenantRejectedChannel = typed(TENANTRY_CHANNELS.tenantRejected);

const resolveTracing = tracingChannel<ResolveMessage, ResolveMessage>(TENANTRY_CHANNELS.resolve);
const { start, end, asyncStart, asyncEnd, error } = resolveTracing;

const tracingHas = (resolveTracing as unknown as { readonly hasSubscribers?: boolean | (() => boolean) }).hasSubscribers;

/**
 * @internal True when anything listens on `tenantry:resolve`. `TracingChannel#hasSubscribers` is
 * a getter from Node 20.13 (before, the five channels are asked one by one) and a method in
 * workerd.
 */
export const resolveObserved: () => boolean =
  typeof tracingHas === 'boolean'
    ? () => resolveTracing.hasSubscribers
    : typeof tracingHas === 'function'
      ? () => (tracingHas as () => boolean).call(resolveTracing)
      : () => start.hasSubscribers || end.hasSubscribers || asyncStart.hasSubscribers || asyncEnd.hasSubscribers || error.hasSubscribers;

type ScopeResult = RequestScope | undefined;

/**
 * @internal Runs `open` (synchronous for a warm tenant, else a promise) as one traced
 * resolution: `start` (through `runStores`, so stores bound with `bindStore` apply), then `end`,
 * plus `asyncStart`/`asyncEnd` when `open` returned a promise; `error` before the end event on
 * failure. Call only when {@link resolveObserved} is true. Subscriber errors never reach the
 * caller: Node rethrows them on the next tick (`uncaughtException`).
 */
export function traceResolve(message: ResolveMessage, open: () => ScopeResult | Promise<ScopeResult>): ScopeResult | Promise<ScopeResult> {
  return start.runStores(message, () => {
    let result: ScopeResult | Promise<ScopeResult>;
    try {
      result = open();
    } catch (err) {
      rejected(message, err);
      error.publish(message);
      end.publish(message);
      throw err;
    }
    if (!(result instanceof Promise)) {
      settled(message, result);
      end.publish(message);
      return result;
    }
    end.publish(message);
    return result.then(
      (scope) => {
        settled(message, scope);
        asyncStart.publish(message);
        asyncEnd.publish(message);
        return scope;
      },
      (err: unknown) => {
        rejected(message, err);
        error.publish(message);
        asyncStart.publish(message);
        asyncEnd.publish(message);
        throw err;
      },
    );
  });
}

function settled(message: ResolveMessage, scope: ScopeResult): void {
  if (scope === undefined) {
    message.outcome = 'none';
    return;
  }
  const context = scope.context;
  message.outcome = 'resolved';
  message.tenantId = context.tenantId;
  message.source = context.source;
  message.requestId = context.requestId;
  message.readOnly = scope.readOnly;
}

function rejected(message: ResolveMessage, err: unknown): void {
  message.outcome = 'rejected';
  // what the client is answered: an uncoded failure becomes TENANT_UNAVAILABLE (see Tenantry)
  const code: TenantryErrorCode = isTenantryError(err) ? err.code : 'TENANT_UNAVAILABLE';
  message.code = code;
  message.status = isTenantryError(err) ? err.status : ERROR_STATUS[code];
  message.error = err;
}
