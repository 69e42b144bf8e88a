/**
 * A libSQL `Client` facade that leases a pooled client for each operation, for code that runs
 * outside a request scope (jobs, scripts, the protocol's `ITenantRouter.getTenantClient(tenantId)`).
 */
import { LibsqlError } from '@libsql/client';
import type { Client, InArgs, InStatement, Replicated, ResultSet, Transaction, TransactionMode } from '@libsql/client';
import type { ClientLease } from './pool.js';

/**
 * A `Client` whose every operation takes a lease from `acquire` for its own duration and releases
 * it when the operation settles. A transaction holds its lease from `transaction()` until
 * `commit()`, `rollback()` or `close()`. So the pool can evict or replace the underlying client at
 * any time: a running operation keeps the old one open until it is done, and the next operation
 * transparently gets a fresh one.
 *
 * `close()` only detaches the facade (later operations reject with the `LibsqlError` code
 * `CLIENT_CLOSED`); the pooled client stays open for others. `reconnect()` re-attaches it.
 * `protocol` is derived from `url` without opening a client.
 *
 * Usually obtained from `ClientPool.client(tenantId, connection)`.
 *
 * @example
 * const db = leasedClient(() => pool.acquire('acme', { url }), url);
 * await db.execute('select 1');  // leases, runs, releases
 */
export function leasedClient(acquire: () => ClientLease, url: string, options: LeasedClientOptions = {}): Client {
  return new LeasedClient(acquire, protocolOf(url), options.shared === true);
}

/** Options of {@link leasedClient}. */
export interface LeasedClientOptions {
  /**
   * The facade is shared by many callers (every request of a tenant): `close()` and
   * `reconnect()` do nothing, so one caller cannot detach it for the others. Default false.
   */
  shared?: boolean;
}

/**
 * The `protocol` a `@libsql/client` client reports for `url`: `file` for `file:`, `ws` for
 * `ws:`/`wss:`, `http` for `http:`/`https:`/`libsql:` (the client prefers HTTP for `libsql:`).
 */
export function protocolOf(url: string): string {
  const colon = url.indexOf(':');
  const scheme = colon === -1 ? '' : url.slice(0, colon).toLowerCase();
  switch (scheme) {
    case 'file':
      return 'file';
    case 'ws':
    case 'wss':
      return 'ws';
    default:
      return 'http';
  }
}

class LeasedClient implements Client {
  readonly #acquire: () => ClientLease;
  readonly #protocol: string;
  readonly #shared: boolean;
  #detached = false;

  constructor(acquire: () => ClientLease, protocol: string, shared: boolean) {
    this.#acquire = acquire;
    this.#protocol = protocol;
    this.#shared = shared;
  }

  /** Leases a client for the duration of `operation`. Async, so a throwing acquire rejects. */
  async #run<T>(operation: (client: Client) => Promise<T>): Promise<T> {
    this.#checkAttached();
    const lease = this.#acquire();
    try {
      return await operation(lease.client);
    } finally {
      lease.release();
    }
  }

  #checkAttached(): void {
    if (this.#detached) {
      throw new LibsqlError('The client is closed', 'CLIENT_CLOSED');
    }
  }

  execute(stmt: InStatement): Promise<ResultSet>;
  execute(sql: string, args?: InArgs): Promise<ResultSet>;
  execute(stmtOrSql: InStatement, args?: InArgs): Promise<ResultSet> {
    return this.#run((client) =>
      typeof stmtOrSql === 'string' ? client.execute(stmtOrSql, args) : client.execute(stmtOrSql),
    );
  }

  batch(stmts: Array<InStatement | [string, InArgs?]>, mode?: TransactionMode): Promise<Array<ResultSet>> {
    return this.#run((client) => client.batch(stmts, mode));
  }

  migrate(stmts: Array<InStatement>): Promise<Array<ResultSet>> {
    return this.#run((client) => client.migrate(stmts));
  }

  transaction(mode?: TransactionMode): Promise<Transaction>;
  transaction(): Promise<Transaction>;
  async transaction(mode?: TransactionMode): Promise<Transaction> {
    this.#checkAttached();
    const lease = this.#acquire();
    let tx: Transaction;
    try {
      tx = await lease.client.transaction(mode);
    } catch (err) {
      lease.release();
      throw err;
    }
    return new LeasedTransaction(tx, lease);
  }

  executeMultiple(sql: string): Promise<void> {
    return this.#run((client) => client.executeMultiple(sql));
  }

  sync(): Promise<Replicated> {
    return this.#run((client) => client.sync());
  }

  /** Detaches this facade (a shared facade ignores it). The pooled client is not closed. */
  close(): void {
    if (!this.#shared) this.#detached = true;
  }

  /** Re-attaches a facade detached by `close()`. */
  reconnect(): void {
    if (!this.#shared) this.#detached = false;
  }

  get closed(): boolean {
    return this.#detached;
  }

  get protocol(): string {
    return this.#protocol;
  }
}

/** A transaction that releases its lease once it is committed, rolled back or closed. */
class LeasedTransaction implements Transaction {
  readonly #tx: Transaction;
  readonly #lease: ClientLease;

  constructor(tx: Transaction, lease: ClientLease) {
    this.#tx = tx;
    this.#lease = lease;
  }

  execute(stmt: InStatement): Promise<ResultSet> {
    return this.#tx.execute(stmt);
  }

  batch(stmts: Array<InStatement>): Promise<Array<ResultSet>> {
    return this.#tx.batch(stmts);
  }

  executeMultiple(sql: string): Promise<void> {
    return this.#tx.executeMultiple(sql);
  }

  rollback(): Promise<void> {
    return this.#settle(() => this.#tx.rollback());
  }

  commit(): Promise<void> {
    return this.#settle(() => this.#tx.commit());
  }

  /**
   * Releases the lease once `ending` succeeds. If it fails but leaves the transaction open, the
   * lease is kept until `close()`, so the client is not closed under a transaction still in use.
   */
  async #settle(ending: () => Promise<void>): Promise<void> {
    try {
      await ending();
    } catch (err) {
      if (this.#tx.closed) this.#lease.release();
      throw err;
    }
    this.#lease.release();
  }

  close(): void {
    try {
      this.#tx.close();
    } finally {
      this.#lease.release();
    }
  }

  get closed(): boolean {
    return this.#tx.closed;
  }
}
