import { TenantryError } from '../errors/index.js';
import { fillTemplate } from '../config/index.js';
import type { ResolvedConfig } from '../config/index.js';
import type { KernelContext, TenantQuota, TenantRecord, TenantRuntimeContext } from '../protocol/index.js';
import type { RegistryCache } from '../registry/cache.js';
import { runResolvers } from './chain.js';
import type { ClientPool, DatabaseConnection } from './pool.js';
import { RequestScope } from './scope.js';
import type { RequestView, ResolverEnv, TenantIdentity } from './types.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What the router derives once per record object and reuses for every request. */
interface RecordView {
  base: Omit<TenantRuntimeContext, 'requestId' | 'source'>;
  connection: DatabaseConnection;
}

/** How a scope is being opened: for an HTTP request (with its method) or for a job. */
export interface AdmitOptions {
  /** HTTP method; `undefined` for jobs and scripts (treated as reads when read-only applies). */
  method: string | undefined;
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

  constructor(config: ResolvedConfig, cache: RegistryCache, pool: ClientPool, kernel: KernelContext) {
    this.#config = config;
    this.#cache = cache;
    this.#pool = pool;
    this.#kernel = kernel;
    this.#env = Object.freeze({ trustProxy: config.trustProxy });
  }

  /**
   * Resolves `request` to a scope. With `optional`, a request on which no resolver finds a
   * tenant (and no `defaultTenant` is set) yields `undefined` instead of `TENANT_NOT_RESOLVED`.
   */
  open(request: RequestView, optional: boolean): RequestScope | undefined | Promise<RequestScope | undefined> {
    const identities = runResolvers(this.#config.resolvers, request, this.#env);
    if (identities instanceof Promise) return identities.then((ids) => this.#fromIdentities(ids, request, optional));
    return this.#fromIdentities(identities, request, optional);
  }

  /** Opens a scope for a known tenant id (jobs, scripts, `withTenant`). */
  openById(tenantId: string, source: string): RequestScope | Promise<RequestScope> {
    const identity: TenantIdentity = { kind: 'id', value: tenantId, source };
    const record = this.#cache.lookup('id', tenantId);
    const options: AdmitOptions = { method: undefined };
    if (record instanceof Promise) return record.then((r) => this.#admit(r, identity, options));
    return this.#admit(record, identity, options);
  }

  /** The record of an active (or, when allowed, suspended) tenant, for `getTenantClient(id)`. */
  lookupActive(tenantId: string): Promise<{ record: TenantRecord; connection: DatabaseConnection }> {
    return Promise.resolve(this.#cache.lookup('id', tenantId)).then((record) => {
      const identity: TenantIdentity = { kind: 'id', value: tenantId, source: 'router' };
      this.#gate(this.#found(record, identity), { method: 'POST' });
      return { record: record!, connection: this.#view(record!).connection };
    });
  }

  /** The connection a tenant's database is reached with (record url, else the template). */
  connectionOf(record: TenantRecord): DatabaseConnection {
    return this.#view(record).connection;
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
    const options: AdmitOptions = { method: request.method };
    const first = identities[0]!;
    if (identities.length === 1) {
      const record = this.#cache.lookup(first.kind, first.value);
      if (record instanceof Promise) return record.then((r) => this.#admit(r, first, options));
      return this.#admit(record, first, options);
    }
    assertSameWhereComparable(identities);
    const records = identities.map((id) => this.#cache.lookup(id.kind, id.value));
    if (records.some((r) => r instanceof Promise)) {
      return Promise.all(records).then((resolved) => this.#agree(resolved, identities, options));
    }
    return this.#agree(records as (TenantRecord | undefined)[], identities, options);
  }

  #agree(records: (TenantRecord | undefined)[], identities: TenantIdentity[], options: AdmitOptions): RequestScope {
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
    return this.#admit(first, identities[0]!, options);
  }

  #found(record: TenantRecord | undefined, identity: TenantIdentity): TenantRecord {
    if (record === undefined) {
      throw new TenantryError('TENANT_NOT_FOUND', `no tenant matches the ${identity.source}`);
    }
    return record;
  }

  #admit(record: TenantRecord | undefined, identity: TenantIdentity, options: AdmitOptions): RequestScope {
    const found = this.#found(record, identity);
    const readOnly = this.#gate(found, options);
    const view = this.#view(found);
    const context: TenantRuntimeContext = {
      ...view.base,
      requestId: globalThis.crypto.randomUUID(),
      source: identity.source,
    };
    return new RequestScope(context, found, readOnly, this.#pool, view.connection);
  }

  /** Lets active tenants through; returns true when the tenant is served read-only. */
  #gate(record: TenantRecord, options: AdmitOptions): boolean {
    switch (record.status) {
      case 'active':
        return false;
      case 'suspended':
        if (this.#config.suspendedAccess === 'read-only' && (options.method === undefined || SAFE_METHODS.has(options.method))) {
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
      view = { base: this.#baseContext(record), connection: this.#connection(record) };
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
