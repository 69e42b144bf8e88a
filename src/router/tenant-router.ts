import { TenantryError } from '../errors/index.js';
import { fillTemplate } from '../config/index.js';
import type { ResolvedConfig } from '../config/index.js';
import { resolveObserved, traceResolve } from '../diagnostics/channels.js';
import type { ResolveMessage } from '../diagnostics/channels.js';
import type { KernelContext, TenantQuota, TenantRecord, TenantRuntimeContext } from '../protocol/index.js';
import type { QuotaService } from '../quota/service.js';
import type { RegistryCache } from '../registry/cache.js';
import { runResolvers, runSingleResolver } from './chain.js';
import type { Client } from '@libsql/client';
import { leasedClient } from './leased-client.js';
import type { ClientLease, ClientPool, DatabaseConnection } from './pool.js';
import { RequestScope, ScopeClients, acquireCoded } from './scope.js';
import type { RequestView, ResolverEnv, TenantIdentity } from './types.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What the status gate needs of a request: its method (a `RequestView` is one). */
interface MethodOf {
  readonly method: string;
}
/** The gate's view of a standalone client's operations: writes. */
const WRITE: MethodOf = Object.freeze({ method: 'POST' });

/**
 * Request ids: a random per-process prefix and a counter (unique, cheap, not a secret). The
 * prefix is made on the first request: Cloudflare Workers refuse random values at module load.
 */
let requestIdPrefix: string | undefined;
let requestSeq = 0;
function nextRequestId(): string {
  requestIdPrefix ??= `${globalThis.crypto.randomUUID().slice(0, 8)}-`;
  return requestIdPrefix + (++requestSeq).toString(36);
}

/** What the router derives once per record object and reuses for every request. */
interface RecordView {
  base: Omit<TenantRuntimeContext, 'requestId' | 'source'>;
  connection: DatabaseConnection;
  /** The tenant's per-operation leasing clients, shared by every scope of this record. */
  clients: ScopeClients;
  /** True when `base` has exactly the keys {@link runtimeContext} copies (always, unless the kernel grew a key). */
  literal: boolean;
}

/**
 * Turns a request into a tenant scope: resolvers → identities → records (cached) → agreement
 * → status gate → scope. Synchronous end to end when the resolvers and the cache answer
 * synchronously, which is the case for a warm tenant.
 */
export class TenantRouter {
  readonly #config: ResolvedConfig;
  readonly #cache: RegistryCache;
  readonly #pool: ClientPool;
  readonly #kernel: KernelContext;
  readonly #env: ResolverEnv;
  readonly #views = new WeakMap<TenantRecord, RecordView>();
  readonly #quota: QuotaService;
  /** Resolver names for `tenantry:resolve` messages. */
  readonly #resolverNames: readonly string[];

  constructor(config: ResolvedConfig, cache: RegistryCache, pool: ClientPool, kernel: KernelContext, quota: QuotaService) {
    this.#config = config;
    this.#quota = quota;
    this.#cache = cache;
    this.#pool = pool;
    this.#kernel = kernel;
    this.#env = Object.freeze({ trustProxy: config.trustProxy });
    this.#resolverNames = Object.freeze(config.resolvers.map((r) => r.name));
  }

  /**
   * Resolves `request` to a scope. With `optional`, a request on which no resolver finds a
   * tenant (and no `defaultTenant` is set) yields `undefined` instead of `TENANT_NOT_RESOLVED`.
   */
  open(request: RequestView, optional: boolean): RequestScope | undefined | Promise<RequestScope | undefined> {
    if (resolveObserved()) return this.#openTraced(request, optional);
    const resolvers = this.#config.resolvers;
    if (resolvers.length === 1) {
      // The usual chain of one resolver: no identity array, straight to the lookup.
      const identity = runSingleResolver(resolvers[0]!, request, this.#env);
      if (identity instanceof Promise) return identity.then((id) => this.#fromIdentity(id, request, optional));
      return this.#fromIdentity(identity, request, optional);
    }
    const identities = runResolvers(resolvers, request, this.#env);
    if (identities instanceof Promise) return identities.then((ids) => this.#fromIdentities(ids, request, optional));
    return this.#fromIdentities(identities, request, optional);
  }

  /** `open`, published on the `tenantry:resolve` TracingChannel. */
  #openTraced(request: RequestView, optional: boolean): RequestScope | undefined | Promise<RequestScope | undefined> {
    const message: ResolveMessage = {
      method: request.method,
      resolvers: this.#resolverNames,
      sources: undefined,
      outcome: undefined,
      tenantId: undefined,
      source: undefined,
      requestId: undefined,
      readOnly: undefined,
      code: undefined,
      status: undefined,
    };
    return traceResolve(message, () => {
      const identities = runResolvers(this.#config.resolvers, request, this.#env);
      if (identities instanceof Promise) {
        return identities.then((ids) => {
          message.sources = ids.map(sourceOf);
          return this.#fromIdentities(ids, request, optional);
        });
      }
      message.sources = identities.map(sourceOf);
      return this.#fromIdentities(identities, request, optional);
    });
  }

  /** Opens a scope for a known tenant id (jobs, scripts, `withTenant`). */
  openById(tenantId: string, source: string): RequestScope | Promise<RequestScope> {
    const identity: TenantIdentity = { kind: 'id', value: tenantId, source };
    const record = this.#cache.lookup('id', tenantId);
    if (record instanceof Promise) return record.then((r) => this.#admit(r, identity, undefined));
    return this.#admit(record, identity, undefined);
  }

  /**
   * A client of an active tenant for use outside any scope (`ITenantRouter.getTenantClient`).
   * Each operation leases the pooled client and re-reads the cached record first: a tenant
   * suspended or moved to another database since is refused or followed at the next operation.
   */
  async standaloneClient(tenantId: string): Promise<Client> {
    const identity: TenantIdentity = { kind: 'id', value: tenantId, source: 'router' };
    let record = this.#found(await this.#cache.lookup('id', tenantId), identity);
    this.#gate(record, WRITE);
    const acquire = (): ClientLease => {
      const fresh = this.#cache.peek('id', tenantId);
      if (fresh === null) throw new TenantryError('TENANT_NOT_FOUND', 'this tenant no longer exists');
      if (fresh === undefined) {
        // Past the cache TTL: keep using the last known record (as stale-if-error would) and
        // refresh it in the background; a registry failure here is the next request's to report.
        this.#cache.load('id', tenantId).then(
          (loaded) => {
            if (loaded !== undefined) record = loaded;
          },
          () => undefined,
        );
      } else {
        record = fresh;
      }
      this.#gate(record, WRITE);
      return acquireCoded(this.#pool, tenantId, this.#view(record).connection, false);
    };
    return leasedClient(acquire, this.#view(record).connection.url);
  }

  /** `#fromIdentities` for the identity (or none) of a single resolver. */
  #fromIdentity(
    identity: TenantIdentity | undefined,
    request: RequestView,
    optional: boolean,
  ): RequestScope | undefined | Promise<RequestScope | undefined> {
    if (identity === undefined) return this.#fromIdentities([], request, optional);
    const record = this.#cache.lookup(identity.kind, identity.value);
    if (record instanceof Promise) return record.then((r) => this.#admit(r, identity, request));
    return this.#admit(record, identity, request);
  }

  #fromIdentities(
    identities: TenantIdentity[],
    request: RequestView,
    optional: boolean,
  ): RequestScope | undefined | Promise<RequestScope | undefined> {
    if (identities.length === 0) {
      const fallback = this.#config.defaultTenant;
      if (fallback === undefined) {
        if (optional) return undefined;
        throw new TenantryError('TENANT_NOT_RESOLVED', 'no tenant was found on this request');
      }
      identities = [{ kind: 'id', value: fallback, source: 'default' }];
    }
    const first = identities[0]!;
    if (identities.length === 1) {
      const record = this.#cache.lookup(first.kind, first.value);
      if (record instanceof Promise) return record.then((r) => this.#admit(r, first, request));
      return this.#admit(record, first, request);
    }
    assertSameWhereComparable(identities);
    const records = identities.map((id) => this.#cache.lookup(id.kind, id.value));
    if (records.some((r) => r instanceof Promise)) {
      return Promise.all(records).then((resolved) => this.#agree(resolved, identities, request));
    }
    return this.#agree(records as (TenantRecord | undefined)[], identities, request);
  }

  #agree(records: (TenantRecord | undefined)[], identities: TenantIdentity[], request: RequestView): RequestScope {
    const first = this.#found(records[0], identities[0]!);
    for (let i = 1; i < records.length; i++) {
      const other = this.#found(records[i], identities[i]!);
      if (other.id !== first.id) {
        throw new TenantryError(
          'TENANT_MISMATCH',
          `the ${identities[0]!.source} and the ${identities[i]!.source} name different tenants`,
        );
      }
    }
    return this.#admit(first, identities[0]!, request);
  }

  #found(record: TenantRecord | undefined, identity: TenantIdentity): TenantRecord {
    if (record === undefined) {
      throw new TenantryError('TENANT_NOT_FOUND', `no tenant matches the ${identity.source}`);
    }
    return record;
  }

  /** The connection a tenant's database is reached with (record url, else the template). */
  connectionOf(record: TenantRecord): DatabaseConnection {
    return this.#view(record).connection;
  }

  /** `request` gives the HTTP method; `undefined` for jobs (treated as reads by read-only mode). */
  #admit(record: TenantRecord | undefined, identity: TenantIdentity, request: MethodOf | undefined): RequestScope {
    const found = this.#found(record, identity);
    const readOnly = this.#gate(found, request);
    const view = this.#view(found);
    const requestId = nextRequestId();
    const context: TenantRuntimeContext = view.literal
      ? runtimeContext(view.base, requestId, identity.source)
      : { ...view.base, requestId, source: identity.source };
    return new RequestScope(context, found, readOnly, this.#pool, view.clients, this.#quota);
  }

  /** Lets active tenants through; returns true when the tenant is served read-only. */
  #gate(record: TenantRecord, request: MethodOf | undefined): boolean {
    switch (record.status) {
      case 'active':
        return false;
      case 'suspended':
        // The method is read only here: an active tenant's request never needs it.
        if (this.#config.suspendedAccess === 'read-only' && (request === undefined || SAFE_METHODS.has(request.method))) {
          return true;
        }
        throw new TenantryError('TENANT_SUSPENDED', 'this tenant is suspended');
      case 'provisioning':
      case 'destroying':
        throw new TenantryError('TENANT_UNAVAILABLE', `this tenant is ${record.status === 'provisioning' ? 'being provisioned' : 'being destroyed'}`, {
          retryAfterSeconds: this.#config.unavailableRetryAfterSeconds,
        });
      default:
        throw new TenantryError('TENANT_UNAVAILABLE', `this tenant is unavailable (status ${record.status})`);
    }
  }

  #view(record: TenantRecord): RecordView {
    let view = this.#views.get(record);
    if (view === undefined) {
      const connection = this.#connection(record);
      const base = this.#baseContext(record);
      view = { base, connection, clients: new ScopeClients(this.#pool, record.id, connection), literal: hasBaseKeys(base) };
      this.#views.set(record, view);
    }
    return view;
  }

  #baseContext(record: TenantRecord): RecordView['base'] {
    const quotas: TenantQuota = Object.freeze({ ...this.#config.plans[record.plan], ...record.quotas });
    const connection = this.#connection(record);
    return Object.freeze({
      ...this.#kernel,
      tenantId: record.id,
      tenantPlan: record.plan,
      tenantRegion: record.region,
      tenantDbUrl: connection.url,
      tenantQuotas: quotas,
    });
  }

  #connection(record: TenantRecord): DatabaseConnection {
    const url = record.db.url ?? (this.#config.urlTemplate === undefined ? undefined : fillTemplate(this.#config.urlTemplate, record.id));
    if (url === undefined) {
      throw new TenantryError('TENANT_UNAVAILABLE', 'this tenant has no database url and no databases.urlTemplate is configured');
    }
    const authToken = record.db.authToken ?? this.#config.authToken;
    return authToken === undefined ? { url } : { url, authToken };
  }
}

/** The keys of a record's base context, in order, as {@link runtimeContext} writes them. */
const BASE_KEYS: readonly string[] = [
  'instanceId',
  'mode',
  'version',
  'cwd',
  'startTime',
  'features',
  'tenantId',
  'tenantPlan',
  'tenantRegion',
  'tenantDbUrl',
  'tenantQuotas',
];

function hasBaseKeys(base: object): boolean {
  const keys = Object.keys(base);
  return keys.length === BASE_KEYS.length && keys.every((key, i) => key === BASE_KEYS[i]);
}

/**
 * The context of one request: the record's base fields and the request's own. Written out
 * field by field: spreading the frozen base costs several times more than the rest of the
 * request's resolution together (a slow generic copy), and every request makes one. The type
 * annotation keeps the list complete: a new required field fails to compile until added here.
 * Same keys, values and order as `{ ...base, requestId, source }` when `base` has
 * {@link BASE_KEYS} (checked once per record: {@link hasBaseKeys}).
 */
function runtimeContext(base: RecordView['base'], requestId: string, source: string): TenantRuntimeContext {
  const context: TenantRuntimeContext = {
    instanceId: base.instanceId,
    mode: base.mode,
    version: base.version,
    cwd: base.cwd,
    startTime: base.startTime,
    features: base.features,
    tenantId: base.tenantId,
    tenantPlan: base.tenantPlan,
    tenantRegion: base.tenantRegion,
    tenantDbUrl: base.tenantDbUrl,
    tenantQuotas: base.tenantQuotas,
    requestId,
    source,
  };
  return context;
}

function sourceOf(identity: TenantIdentity): string {
  return identity.source;
}

/** Two identities of the same kind with different values can never agree: fail before lookups. */
function assertSameWhereComparable(identities: TenantIdentity[]): void {
  for (let i = 0; i < identities.length; i++) {
    for (let j = i + 1; j < identities.length; j++) {
      const a = identities[i]!;
      const b = identities[j]!;
      if (a.kind === b.kind && a.value !== b.value) {
        throw new TenantryError('TENANT_MISMATCH', `the ${a.source} and the ${b.source} name different tenants`);
      }
    }
  }
}
