import type { Client } from '@libsql/client';
import { TenantryError, isTenantryError } from '../errors/index.js';
import type { TenantScope } from '../context/index.js';
import type { TenantRecord, TenantRuntimeContext } from '../protocol/index.js';
import type { ClientLease, ClientPool, DatabaseConnection } from './pool.js';

/**
 * The scope of one request or `withTenant` call. Leases the tenant's pooled client on the
 * first `client()` call and gives it back on `release()`. Work the request started and left
 * running after it ended (fire-and-forget) still gets a working client: one that leases per
 * operation instead.
 */
export class RequestScope implements TenantScope {
  readonly context: TenantRuntimeContext;
  readonly record: TenantRecord;
  readonly readOnly: boolean;
  readonly #pool: ClientPool;
  readonly #connection: DatabaseConnection;
  #lease: ClientLease | undefined;
  #released = false;

  constructor(
    context: TenantRuntimeContext,
    record: TenantRecord,
    readOnly: boolean,
    pool: ClientPool,
    connection: DatabaseConnection,
  ) {
    this.context = context;
    this.record = record;
    this.readOnly = readOnly;
    this.#pool = pool;
    this.#connection = connection;
  }

  client(): Promise<Client> {
    try {
      if (this.#lease !== undefined) return Promise.resolve(this.#lease.client);
      if (this.#released) {
        return Promise.resolve(this.#pool.client(this.record.id, this.#connection, { readOnly: this.readOnly }));
      }
      this.#lease = this.#pool.acquire(this.record.id, this.#connection, { readOnly: this.readOnly });
      return Promise.resolve(this.#lease.client);
    } catch (err) {
      if (isTenantryError(err)) return Promise.reject(err);
      return Promise.reject(new TenantryError('TENANT_UNAVAILABLE', "this tenant's database cannot be opened", { cause: err }));
    }
  }

  /** Ends the scope's lease. Idempotent. */
  release(): void {
    this.#released = true;
    const lease = this.#lease;
    this.#lease = undefined;
    lease?.release();
  }
}
