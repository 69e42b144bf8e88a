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
 * A tenant's database must not reach another database file: SQL with an `ATTACH` keyword, or a
 * `VACUUM ... INTO`, outside string literals, quoted identifiers and comments, is refused before
 * anything is leased or sent, in `execute`, `batch`, `migrate`, `executeMultiple` and the same
 * methods of a transaction. The rejection is a `LibsqlError` with code `SQLITE_AUTH` (what
 * SQLite's own authorizer answers). Quote an identifier named `attach` to use it.
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

  /**
   * Checks the SQL with `guard`, then leases a client for the duration of `operation`. Async, so
   * a throwing guard or acquire rejects.
   */
  async #run<T>(guard: () => void, operation: (client: Client) => Promise<T>): Promise<T> {
    this.#checkAttached();
    guard();
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
    return this.#run(
      () => guardStatement(stmtOrSql),
      (client) => (typeof stmtOrSql === 'string' ? client.execute(stmtOrSql, args) : client.execute(stmtOrSql)),
    );
  }

  batch(stmts: Array<InStatement | [string, InArgs?]>, mode?: TransactionMode): Promise<Array<ResultSet>> {
    return this.#run(
      () => guardStatements(stmts),
      (client) => client.batch(stmts, mode),
    );
  }

  migrate(stmts: Array<InStatement>): Promise<Array<ResultSet>> {
    return this.#run(
      () => guardStatements(stmts),
      (client) => client.migrate(stmts),
    );
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
    return this.#run(
      () => guardSql(sql),
      (client) => client.executeMultiple(sql),
    );
  }

  sync(): Promise<Replicated> {
    return this.#run(noGuard, (client) => client.sync());
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

  async execute(stmt: InStatement): Promise<ResultSet> {
    guardStatement(stmt);
    return this.#tx.execute(stmt);
  }

  async batch(stmts: Array<InStatement>): Promise<Array<ResultSet>> {
    guardStatements(stmts);
    return this.#tx.batch(stmts);
  }

  async executeMultiple(sql: string): Promise<void> {
    guardSql(sql);
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

// ---------------------------------------------------------------------------------------------
// The guard against reaching other database files

function noGuard(): void {}

function guardStatements(stmts: ReadonlyArray<InStatement | [string, InArgs?]>): void {
  if (!Array.isArray(stmts)) return; // the client reports it
  for (const stmt of stmts) guardStatement(Array.isArray(stmt) ? stmt[0] : stmt);
}

function guardStatement(stmt: InStatement): void {
  guardSql(typeof stmt === 'object' && stmt !== null ? stmt.sql : stmt);
}

/** Cheap pre-check: SQL without these letters cannot name either statement. */
const SUSPECT = /attach|vacuum/i;

/** Throws the `SQLITE_AUTH` `LibsqlError` when `sql` would reach another database file. */
function guardSql(sql: unknown): void {
  if (typeof sql !== 'string') {
    // Nothing to check: refuse rather than let the client coerce it to text we never saw.
    if (sql === undefined || sql === null) return; // the client reports the missing statement
    throw new TypeError('tenant client: SQL must be a string');
  }
  if (!SUSPECT.test(sql)) return;
  const found = otherFileStatement(sql);
  if (found !== undefined) {
    throw new LibsqlError(
      `${found} is not allowed on a tenant client: a tenant's database must not reach another database file`,
      'SQLITE_AUTH',
    );
  }
}

const CH_QUOTE = 39; // '
const CH_DQUOTE = 34; // "
const CH_BACKTICK = 96; // `
const CH_LBRACKET = 91; // [
const CH_DASH = 45;
const CH_SLASH = 47;
const CH_STAR = 42;
const CH_SEMICOLON = 59;

/** A character SQLite reads as part of a keyword or identifier: ASCII letters, digits, `_`, `$`, non-ASCII. */
function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 36 || c >= 128;
}

/**
 * `'ATTACH'` when `sql` holds the ATTACH keyword, `'VACUUM INTO'` when a statement holds VACUUM
 * and then INTO, else `undefined`. Scans the text the way SQLite's tokenizer does: string
 * literals (`'...'`), quoted identifiers (`"..."`, `` `...` ``, `[...]`) and comments (`-- ...`,
 * `/* ... *\/`, unterminated ones to the end) are skipped; words are compared case-insensitively.
 * Errs on the side of refusing (an unquoted identifier named `attach` is refused too).
 */
function otherFileStatement(sql: string): 'ATTACH' | 'VACUUM INTO' | undefined {
  const n = sql.length;
  let vacuum = false;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === CH_QUOTE || c === CH_DQUOTE || c === CH_BACKTICK) {
      i = endOfQuoted(sql, i, c);
    } else if (c === CH_LBRACKET) {
      const end = sql.indexOf(']', i + 1);
      i = end === -1 ? n : end + 1;
    } else if (c === CH_DASH && sql.charCodeAt(i + 1) === CH_DASH) {
      const end = sql.indexOf('\n', i + 2);
      i = end === -1 ? n : end + 1;
    } else if (c === CH_SLASH && sql.charCodeAt(i + 1) === CH_STAR) {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
    } else if (isWordChar(c)) {
      const start = i;
      while (i < n && isWordChar(sql.charCodeAt(i))) i++;
      const length = i - start;
      if (length === 6 || length === 4) {
        const word = sql.slice(start, i).toLowerCase();
        if (word === 'attach') return 'ATTACH';
        if (word === 'vacuum') vacuum = true;
        else if (word === 'into' && vacuum) return 'VACUUM INTO';
      }
    } else {
      if (c === CH_SEMICOLON) vacuum = false;
      i++;
    }
  }
  return undefined;
}

/** Index after the quoted text that starts at `start` (a doubled quote is an escaped one). */
function endOfQuoted(sql: string, start: number, quote: number): number {
  let i = start + 1;
  const n = sql.length;
  while (i < n) {
    if (sql.charCodeAt(i) === quote) {
      if (sql.charCodeAt(i + 1) !== quote) return i + 1;
      i += 2;
    } else {
      i++;
    }
  }
  return n;
}
