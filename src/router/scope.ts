import type { Client } from '@libsql/client';
import { TenantryError, isTenantryError } from '../errors/index.js';
import type { TenantScope } from '../context/index.js';
import type { TenantRecord, TenantRuntimeContext } from '../protocol/index.js';
import type { QuotaService, RateAdmission } from '../quota/service.js';
import { leasedClient } from './leased-client.js';
import type { ClientLease, ClientPool, DatabaseConnection } from './pool.js';

const READ_WRITE = Object.freeze({ readOnly: false });
const READ_ONLY = Object.freeze({ readOnly: true });

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
  readonly #connection: DatabaseConnection;
  #client: Client | undefined;

  constructor(
    context: TenantRuntimeContext,
    record: TenantRecord,
    readOnly: boolean,
    pool: ClientPool,
    connection: DatabaseConnection,
    quota: QuotaService,
  ) {
    this.context = context;
    this.record = record;
    this.readOnly = readOnly;
    this.owner = pool;
    this.quota = quota;
    this.rate = undefined;
    this.#connection = connection;
  }

  client(): Promise<Client> {
    this.#client ??= leasedClient(() => this.#acquire(), this.#connection.url);
    return Promise.resolve(this.#client);
  }

  #acquire(): ClientLease {
    return acquireCoded(this.owner, this.record.id, this.#connection, this.readOnly);
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
