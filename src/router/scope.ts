import type { Client } from '@libsql/client';
import { TenantryError, isTenantryError } from '../errors/index.js';
import type { TenantScope } from '../context/index.js';
import type { TenantRecord, TenantRuntimeContext } from '../protocol/index.js';
import type { QuotaService, RateAdmission } from '../quota/service.js';
import { leasedClient } from './leased-client.js';
import type { ClientLease, ClientPool, DatabaseConnection } from './pool.js';

const READ_WRITE = Object.freeze({ readOnly: false });
const READ_ONLY = Object.freeze({ readOnly: true });
const SHARED = Object.freeze({ shared: true });

/**
 * The scope of one request or `withTenant` call. Its client leases the tenant's pooled client
 * for each operation (a transaction for its whole life), so the pool can never close a client
 * under a running query — also for work the request started and left running after it ended.
 */
export class RequestScope implements TenantScope {
  readonly context: TenantRuntimeContext;
  readonly record: TenantRecord;
  readonly readOnly: boolean;
  /** The pool of the tenantry instance that opened this scope. */
  readonly owner: ClientPool;
  /** The quotas of the tenantry instance that opened this scope. */
  readonly quota: QuotaService;
  /** The outcome of the request's rate step (headers for the response), when one ran. */
  rate: RateAdmission | undefined;
  readonly #clients: ScopeClients;

  constructor(
    context: TenantRuntimeContext,
    record: TenantRecord,
    readOnly: boolean,
    pool: ClientPool,
    clients: ScopeClients,
    quota: QuotaService,
  ) {
    this.context = context;
    this.record = record;
    this.readOnly = readOnly;
    this.owner = pool;
    this.quota = quota;
    this.rate = undefined;
    this.#clients = clients;
  }

  client(): Promise<Client> {
    return this.readOnly ? this.#clients.readOnlyResolved() : this.#clients.readWriteResolved();
  }
}

/**
 * The clients of one tenant record: a read-write and a read-only client that each lease the
 * pooled client per operation. They hold no per-request state, so every scope of the record
 * shares them (no allocation per request).
 */
export class ScopeClients {
  readonly #pool: ClientPool;
  readonly #tenantId: string;
  readonly #connection: DatabaseConnection;
  #readWrite: Client | undefined;
  #readOnly: Client | undefined;
  #readWriteResolved: Promise<Client> | undefined;
  #readOnlyResolved: Promise<Client> | undefined;

  constructor(pool: ClientPool, tenantId: string, connection: DatabaseConnection) {
    this.#pool = pool;
    this.#tenantId = tenantId;
    this.#connection = connection;
  }

  readWrite(): Client {
    this.#readWrite ??= leasedClient(() => acquireCoded(this.#pool, this.#tenantId, this.#connection, false), this.#connection.url, SHARED);
    return this.#readWrite;
  }

  readOnly(): Client {
    this.#readOnly ??= leasedClient(() => acquireCoded(this.#pool, this.#tenantId, this.#connection, true), this.#connection.url, SHARED);
    return this.#readOnly;
  }

  /**
   * `Promise.resolve(readWrite())`, made once: `getTenantClient()` hands out the same settled
   * promise on every request instead of a new one (a promise is an allocation, and with
   * AsyncLocalStorage on Node 20 every new promise also runs the async-hooks init hook).
   * Awaiting a shared settled promise resumes in the awaiting request's own context.
   */
  readWriteResolved(): Promise<Client> {
    this.#readWriteResolved ??= Promise.resolve(this.readWrite());
    return this.#readWriteResolved;
  }

  /** `Promise.resolve(readOnly())`, made once (see {@link ScopeClients.readWriteResolved}). */
  readOnlyResolved(): Promise<Client> {
    this.#readOnlyResolved ??= Promise.resolve(this.readOnly());
    return this.#readOnlyResolved;
  }
}

/**
 * `pool.acquire` whose failures are coded: a database that cannot be opened (bad URL, missing
 * native engine, pool closed) is `TENANT_UNAVAILABLE` with the original error as `cause`.
 */
export function acquireCoded(pool: ClientPool, tenantId: string, connection: DatabaseConnection, readOnly: boolean): ClientLease {
  try {
    return pool.acquire(tenantId, connection, readOnly ? READ_ONLY : READ_WRITE);
  } catch (err) {
    if (isTenantryError(err)) throw err;
    throw new TenantryError('TENANT_UNAVAILABLE', "this tenant's database cannot be opened", { cause: err });
  }
}
