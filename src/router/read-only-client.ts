/**
 * A libSQL client that can only read. Used for suspended tenants in read-only mode.
 *
 * Every operation runs `PRAGMA query_only = 1` on the connection it uses, inside the same batch or
 * transaction, so SQLite itself refuses writes with `SQLITE_READONLY`. The pragma stays set on
 * that connection afterwards: wrap a client of your own (a separate `createClient`), never one that
 * also serves writes.
 */
import type { Client, InArgs, InStatement, Replicated, ResultSet, Transaction, TransactionMode } from '@libsql/client';
import { TenantryError } from '../errors/index.js';

const QUERY_ONLY = 'PRAGMA query_only = 1';

/**
 * Statements a read-only client refuses before sending them: a pragma could turn `query_only`
 * off again, ATTACH / DETACH reach other database files, VACUUM rewrites files.
 */
const FORBIDDEN = /\b(?:pragma|attach|detach|vacuum)\b/i;

/**
 * Wraps `inner` so that it can only read. `inner` becomes owned by the wrapper: `close()` closes
 * it, and its connections keep `query_only` on, so it must not be used for writes afterwards.
 *
 * - `execute`, `batch` and `transaction` run in a `"read"` transaction (whatever mode is asked for)
 *   after `PRAGMA query_only = 1`; a write fails with the `LibsqlError` code `SQLITE_READONLY`.
 * - Statements containing `PRAGMA`, `ATTACH`, `DETACH` or `VACUUM` (which could lift
 *   `query_only` or touch other files) and `executeMultiple`, `migrate` and `sync` reject with a
 *   `TenantryError` of code `TENANT_SUSPENDED` before anything is sent.
 *
 * @example
 * const db = readOnlyClient(createClient({ url: 'file:tenant.db' }));
 * await db.execute('select * from notes');         // ok
 * await db.execute('delete from notes');           // rejects: code SQLITE_READONLY
 */
export function readOnlyClient(inner: Client): Client {
  return new ReadOnlyClient(inner);
}

class ReadOnlyClient implements Client {
  readonly #inner: Client;

  constructor(inner: Client) {
    this.#inner = inner;
  }

  execute(stmt: InStatement): Promise<ResultSet>;
  execute(sql: string, args?: InArgs): Promise<ResultSet>;
  async execute(stmtOrSql: InStatement, args?: InArgs): Promise<ResultSet> {
    const stmt: InStatement = typeof stmtOrSql === 'string' ? { sql: stmtOrSql, args: args ?? [] } : stmtOrSql;
    guard(stmt);
    try {
      const results = await this.#inner.batch([QUERY_ONLY, stmt], 'read');
      return resultAt(results, 1);
    } catch (err) {
      throw withoutPragmaIndex(err);
    }
  }

  /**
   * `mode` is ignored: the batch always runs as `"read"`. (A `"write"` batch would begin with
   * `BEGIN IMMEDIATE`, which a `query_only` connection refuses even for a batch of reads.)
   */
  async batch(stmts: Array<InStatement | [string, InArgs?]>, _mode?: TransactionMode): Promise<Array<ResultSet>> {
    for (const stmt of stmts) guard(Array.isArray(stmt) ? stmt[0] : stmt);
    try {
      const results = await this.#inner.batch([QUERY_ONLY, ...stmts], 'read');
      return results.slice(1);
    } catch (err) {
      throw withoutPragmaIndex(err);
    }
  }

  async migrate(_stmts: Array<InStatement>): Promise<Array<ResultSet>> {
    throw readOnlyError('migrate');
  }

  transaction(mode?: TransactionMode): Promise<Transaction>;
  transaction(): Promise<Transaction>;
  /** `mode` is ignored: the transaction is always `"read"`. */
  async transaction(_mode?: TransactionMode): Promise<Transaction> {
    const tx = await this.#inner.transaction('read');
    try {
      await tx.execute(QUERY_ONLY);
    } catch (err) {
      tx.close();
      throw err;
    }
    return new ReadOnlyTransaction(tx);
  }

  async executeMultiple(_sql: string): Promise<void> {
    throw readOnlyError('executeMultiple');
  }

  async sync(): Promise<Replicated> {
    throw readOnlyError('sync');
  }

  close(): void {
    this.#inner.close();
  }

  reconnect(): void {
    this.#inner.reconnect();
  }

  get closed(): boolean {
    return this.#inner.closed;
  }

  get protocol(): string {
    return this.#inner.protocol;
  }
}

/** A transaction of a read-only client: the same statement guard on every call. */
class ReadOnlyTransaction implements Transaction {
  readonly #tx: Transaction;

  constructor(tx: Transaction) {
    this.#tx = tx;
  }

  async execute(stmt: InStatement): Promise<ResultSet> {
    guard(stmt);
    return this.#tx.execute(stmt);
  }

  async batch(stmts: Array<InStatement>): Promise<Array<ResultSet>> {
    for (const stmt of stmts) guard(stmt);
    return this.#tx.batch(stmts);
  }

  async executeMultiple(_sql: string): Promise<void> {
    throw readOnlyError('executeMultiple');
  }

  rollback(): Promise<void> {
    return this.#tx.rollback();
  }

  commit(): Promise<void> {
    return this.#tx.commit();
  }

  close(): void {
    this.#tx.close();
  }

  get closed(): boolean {
    return this.#tx.closed;
  }
}

function guard(stmt: InStatement): void {
  const sql = typeof stmt === 'string' ? stmt : stmt.sql;
  if (FORBIDDEN.test(sql)) {
    throw new TenantryError('TENANT_SUSPENDED', 'tenant is read-only: PRAGMA, ATTACH, DETACH and VACUUM are refused');
  }
}

function readOnlyError(method: string): TenantryError {
  return new TenantryError('TENANT_SUSPENDED', `tenant is read-only: ${method}() is not allowed on a read-only client`);
}

function resultAt(results: ResultSet[], index: number): ResultSet {
  const result = results[index];
  if (result === undefined) {
    throw new TypeError(`libSQL batch returned ${results.length} results, expected at least ${index + 1}`);
  }
  return result;
}

/**
 * A failing batch reports the index of the failing statement (`LibsqlBatchError.statementIndex`).
 * The pragma is statement 0 of every batch we send, so the caller's statements are off by one:
 * shift the index back. The error object itself (class, code, message, cause) is kept as is.
 */
function withoutPragmaIndex(err: unknown): unknown {
  if (typeof err === 'object' && err !== null && 'statementIndex' in err) {
    const batchError = err as { statementIndex: unknown };
    if (typeof batchError.statementIndex === 'number' && batchError.statementIndex > 0) {
      batchError.statementIndex -= 1;
    }
  }
  return err;
}
