/**
 * Schema migrations of one tenant database: loading (`loadMigrations`), checksums
 * (`migrationChecksum`) and applying (`migrateDatabase`). Applied migrations are recorded in the
 * tenant's own `_tenantry_migrations` table, so every database knows its schema version.
 *
 * Portable: the only Node-only part, reading a folder, lives in `src/node/migration-files.ts`
 * (the edge build swaps in a twin that refuses with a `TypeError`).
 */
import type { Client } from '@libsql/client';
import { readMigrationFolder } from '../node/migration-files.js';

/**
 * One migration. `id` orders migrations (plain string compare, so zero-pad numbers:
 * `'0001_init'`, `'0002_notes'`); `sql` may hold several statements. A migration must not
 * contain `BEGIN`, `COMMIT`, `END` or `ROLLBACK`: each already runs in its own transaction.
 */
export interface Migration {
  id: string;
  sql: string;
}

/** Codes of {@link MigrationError}. */
export type MigrationErrorCode = 'MIGRATION_FAILED' | 'MIGRATION_CHECKSUM_MISMATCH';

/**
 * A migration could not be applied to a database: its SQL failed (`MIGRATION_FAILED`, the
 * database error as `cause`; nothing of the migration stays) or it was edited after it was
 * applied ({@link MigrationChecksumError}).
 *
 * @example
 * try { await migrateDatabase(db, migrations) } catch (err) {
 *   if (err instanceof MigrationError) console.error(`${err.migrationId}: ${err.code}`, err.cause)
 * }
 */
export class MigrationError extends Error {
  /** Stable machine-readable code. */
  readonly code: MigrationErrorCode;
  /** The migration that failed or was refused. */
  readonly migrationId: string;

  constructor(code: MigrationErrorCode, migrationId: string, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MigrationError';
    this.code = code;
    this.migrationId = migrationId;
  }
}

/**
 * An applied migration's checksum differs from the migration given now: it was edited after
 * it ran. Nothing is applied to that database. Write a new migration instead of editing one.
 */
export class MigrationChecksumError extends MigrationError {
  declare readonly code: 'MIGRATION_CHECKSUM_MISMATCH';
  /** Checksum recorded when the migration was applied. */
  readonly appliedChecksum: string;
  /** Checksum of the migration given now. */
  readonly givenChecksum: string;

  constructor(migrationId: string, appliedChecksum: string, givenChecksum: string) {
    super(
      'MIGRATION_CHECKSUM_MISMATCH',
      migrationId,
      `migration "${migrationId}" was edited after it was applied (checksum ${appliedChecksum.slice(0, 12)}… applied, ${givenChecksum.slice(0, 12)}… now): add a new migration instead`,
    );
    this.name = 'MigrationChecksumError';
    this.appliedChecksum = appliedChecksum;
    this.givenChecksum = givenChecksum;
  }
}

/** The name of the table, in each tenant database, that records applied migrations. */
export const MIGRATIONS_TABLE = '_tenantry_migrations';

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * Loads migrations from an array or a folder, validated and sorted by id.
 *
 * - An array of `{ id, sql }`: ids unique, matching `/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/`;
 *   `sql` not blank and free of transaction statements (`BEGIN`, `COMMIT`, `END`, `ROLLBACK`;
 *   `SAVEPOINT` and `ROLLBACK TO` are fine).
 * - A folder path (Node only): every `*.sql` file in it (not in subfolders), id = the file
 *   name without `.sql`; other files are ignored; an empty folder gives `[]`. A leading UTF-8
 *   byte order mark is dropped.
 *
 * Throws a `TypeError` naming the problem.
 *
 * @example
 * const migrations = await loadMigrations('./migrations'); // 0001_init.sql, 0002_notes.sql
 * const inline = await loadMigrations([{ id: '0001_init', sql: 'create table notes (body text)' }]);
 */
export async function loadMigrations(source: string | readonly Migration[]): Promise<Migration[]> {
  if (typeof source === 'string') return validateMigrations(await readMigrationFolder(source, ID_PATTERN), 'loadMigrations');
  if (!Array.isArray(source)) throw new TypeError('loadMigrations: source must be a folder path or an array of { id, sql }');
  return validateMigrations(source, 'loadMigrations');
}

/**
 * The sha-256 (lowercase hex) of a migration's SQL, exactly as given (no normalisation:
 * changing whitespace or line endings changes it). Uses WebCrypto, so it runs anywhere.
 *
 * @example
 * await migrationChecksum('create table notes (body text)') // '5f0c…'
 */
export async function migrationChecksum(sql: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(sql));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Options of {@link migrateDatabase}. */
export interface MigrateDatabaseOptions {
  /** Report what would be applied; change nothing (not even the migrations table). Default false. */
  dryRun?: boolean;
  /** Clock for `applied_at`, in ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** What {@link migrateDatabase} did. */
export interface MigrateDatabaseResult {
  /** Ids applied by this call, in order (always empty in a dry run). */
  applied: string[];
  /** Ids still to apply: in a dry run, those that would be applied; otherwise empty. */
  pending: string[];
  /** True when the database needed nothing. */
  upToDate: boolean;
}

/**
 * Applies the pending migrations to one database, in id order. Each migration runs in one
 * write transaction together with its row in `_tenantry_migrations` (`id`, `checksum`,
 * `applied_at`): it is applied and recorded entirely, or not at all. Stops at the first that
 * fails (a {@link MigrationError} with the database error as `cause`); those before it stay.
 *
 * - An applied migration whose checksum differs from the given one is refused with a
 *   {@link MigrationChecksumError} before anything is applied.
 * - A migration recorded in the database but absent from `migrations` is ignored (a newer
 *   deployment may have applied it; nothing is undone).
 * - A pending migration whose id sorts before applied ones (a late-merged branch) is applied.
 * - Two runners on the same database are safe: each migration is checked again inside its
 *   write transaction, and one applied meanwhile is skipped.
 * - SQLite ignores `PRAGMA foreign_keys` inside a transaction: do not rely on it in a migration.
 *
 * The client is not closed.
 *
 * @example
 * const { applied } = await migrateDatabase(client, await loadMigrations('./migrations'));
 */
export async function migrateDatabase(
  client: Client,
  migrations: readonly Migration[],
  options: MigrateDatabaseOptions = {},
): Promise<MigrateDatabaseResult> {
  const settings = resolveMigrateOptions(options, 'migrateDatabase');
  const prepared = await prepareMigrations(migrations, 'migrateDatabase');
  return applyPrepared(client, prepared, settings);
}

// ---------------------------------------------------------------------------------------------
// internals shared with the runner (not part of the public API)

/** A validated migration with its checksum. @internal */
export interface PreparedMigration extends Migration {
  checksum: string;
}

/** Options of one database migration after validation. @internal */
export interface ResolvedMigrateOptions {
  dryRun: boolean;
  now: () => number;
}

/** Validates {@link MigrateDatabaseOptions}; throws a `TypeError` naming the option. @internal */
export function resolveMigrateOptions(options: MigrateDatabaseOptions | undefined, where: string): ResolvedMigrateOptions {
  const o = options ?? {};
  if (typeof o !== 'object' || o === null) throw new TypeError(`${where}: options must be an object`);
  if (o.dryRun !== undefined && typeof o.dryRun !== 'boolean') throw new TypeError(`${where}: options.dryRun must be a boolean`);
  if (o.now !== undefined && typeof o.now !== 'function') throw new TypeError(`${where}: options.now must be a function returning ms`);
  return { dryRun: o.dryRun ?? false, now: o.now ?? Date.now };
}

/** Validates, sorts and checksums migrations once, for any number of databases. @internal */
export async function prepareMigrations(migrations: readonly Migration[], where: string): Promise<PreparedMigration[]> {
  if (!Array.isArray(migrations)) throw new TypeError(`${where}: migrations must be an array of { id, sql } (see loadMigrations)`);
  const sorted = validateMigrations(migrations, where);
  return Promise.all(sorted.map(async (m) => ({ ...m, checksum: await migrationChecksum(m.sql) })));
}

/** {@link migrateDatabase} with migrations already prepared. @internal */
export async function applyPrepared(client: Client, migrations: readonly PreparedMigration[], options: ResolvedMigrateOptions): Promise<MigrateDatabaseResult> {
  const applied = await readApplied(client, options.dryRun);
  for (const m of migrations) {
    const recorded = applied.get(m.id);
    if (recorded !== undefined && recorded !== m.checksum) throw new MigrationChecksumError(m.id, recorded, m.checksum);
  }
  const pending = migrations.filter((m) => !applied.has(m.id));
  if (options.dryRun) return { applied: [], pending: pending.map((m) => m.id), upToDate: pending.length === 0 };
  const done: string[] = [];
  for (const m of pending) {
    if (await applyOne(client, m, options.now)) done.push(m.id);
  }
  return { applied: done, pending: [], upToDate: pending.length === 0 };
}

/**
 * Applies one migration and records it in the same write transaction. False when another
 * runner applied it meanwhile. Any failure on the way (the SQL, a deferred foreign key at
 * commit, a busy database) is a `MIGRATION_FAILED` naming this migration.
 */
async function applyOne(client: Client, m: PreparedMigration, now: () => number): Promise<boolean> {
  try {
    const tx = await client.transaction('write');
    try {
      // checked again under the write lock: another runner may have applied it since we read
      const existing = await tx.execute({ sql: `select checksum from ${MIGRATIONS_TABLE} where id = ?`, args: [m.id] });
      const recorded = existing.rows[0]?.['checksum'];
      if (recorded !== undefined && recorded !== null) {
        if (String(recorded) !== m.checksum) throw new MigrationChecksumError(m.id, String(recorded), m.checksum);
        return false;
      }
      await tx.executeMultiple(m.sql);
      await tx.execute({
        sql: `insert into ${MIGRATIONS_TABLE} (id, checksum, applied_at) values (?, ?, ?)`,
        args: [m.id, m.checksum, new Date(now()).toISOString()],
      });
      await tx.commit();
      return true;
    } finally {
      tx.close(); // rolls back unless committed
    }
  } catch (err) {
    if (err instanceof MigrationError) throw err;
    throw new MigrationError('MIGRATION_FAILED', m.id, `migration "${m.id}" failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** Applied ids and their checksums. A dry run never creates the table. */
async function readApplied(client: Client, dryRun: boolean): Promise<Map<string, string>> {
  if (dryRun) {
    const exists = await client.execute({ sql: "select 1 from sqlite_master where type = 'table' and name = ?", args: [MIGRATIONS_TABLE] });
    if (exists.rows.length === 0) return new Map();
  } else {
    await client.execute(`create table if not exists ${MIGRATIONS_TABLE} (id text primary key, checksum text not null, applied_at text not null)`);
  }
  const rows = await client.execute(`select id, checksum from ${MIGRATIONS_TABLE}`);
  return new Map(rows.rows.map((row) => [String(row['id']), String(row['checksum'])]));
}

/** Checks every migration and returns copies sorted by id (code-unit order, not locale). */
function validateMigrations(list: readonly unknown[], where: string): Migration[] {
  const seen = new Set<string>();
  const copies: Migration[] = [];
  list.forEach((item, index) => {
    if (typeof item !== 'object' || item === null) throw new TypeError(`${where}: migrations[${index}] must be an object { id, sql }`);
    const { id, sql } = item as { id?: unknown; sql?: unknown };
    if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
      throw new TypeError(
        `${where}: migrations[${index}].id must be 1 to 128 letters, digits, '_', '.' or '-' starting with a letter or digit (got ${JSON.stringify(id)})`,
      );
    }
    if (seen.has(id)) throw new TypeError(`${where}: migration id "${id}" is used twice`);
    seen.add(id);
    if (typeof sql !== 'string' || sql.trim() === '') throw new TypeError(`${where}: migration "${id}" has no sql`);
    const control = transactionStatement(sql);
    if (control !== undefined) {
      throw new TypeError(`${where}: migration "${id}" contains ${control}: each migration already runs in its own transaction, remove it`);
    }
    copies.push({ id, sql });
  });
  return copies.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * The first transaction-control statement (`BEGIN`, `COMMIT`, `END`, `ROLLBACK` but not
 * `ROLLBACK TO`) of `sql`, or `undefined`. Such a statement inside a migration would end the
 * migration's transaction early and leave it half-applied. Statements are found as SQLite's
 * `sqlite3_complete()` finds them: quotes and comments are skipped, and a trigger body
 * (`CREATE [TEMP] TRIGGER ... BEGIN ...; END;`) is one statement.
 */
export function transactionStatement(sql: string): string | undefined {
  for (const words of statements(sql)) {
    const [first, second, third] = words;
    if (first === 'BEGIN' || first === 'COMMIT' || first === 'END') return first;
    if (first === 'ROLLBACK' && second !== 'TO' && !(second === 'TRANSACTION' && third === 'TO')) return first;
  }
  return undefined;
}

const WORD = /[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/y;

/** The first three tokens (words upper-cased) of each statement of `sql`. */
function statements(sql: string): string[][] {
  const out: string[][] = [];
  let tokens: string[] = []; // first tokens of the current statement
  let count = 0; // tokens in the current statement
  let trigger = false; // inside CREATE [TEMP] TRIGGER ... END
  let sinceSemi = 0; // tokens since the last ';' inside a trigger
  let endAfterSemi = false; // those tokens are exactly END
  const push = (token: string): void => {
    if (count < 3) tokens.push(token);
    count++;
    if (count === 3 || count === 2) {
      const [a, b, c] = tokens;
      trigger = a === 'CREATE' && (b === 'TRIGGER' || ((b === 'TEMP' || b === 'TEMPORARY') && c === 'TRIGGER'));
    }
    sinceSemi++;
    endAfterSemi = sinceSemi === 1 && token === 'END';
  };
  const finish = (): void => {
    if (count > 0) out.push(tokens);
    tokens = [];
    count = 0;
    trigger = false;
  };
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? sql.length : nl + 1;
    } else if (ch === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      i = close === -1 ? sql.length : close + 2;
    } else if (ch === "'" || ch === '"' || ch === '`' || ch === '[') {
      const quote = ch === '[' ? ']' : ch;
      let j = i + 1;
      for (;;) {
        const k = sql.indexOf(quote, j);
        if (k === -1) {
          j = sql.length;
          break;
        }
        if (quote !== ']' && sql[k + 1] === quote) {
          j = k + 2; // doubled quote: an escaped one
          continue;
        }
        j = k + 1;
        break;
      }
      push(ch);
      i = j;
    } else if (ch === ';') {
      i++;
      if (!trigger || endAfterSemi) finish();
      sinceSemi = 0;
      endAfterSemi = false;
    } else {
      WORD.lastIndex = i;
      const word = WORD.exec(sql);
      if (word !== null) {
        push(word[0].toUpperCase());
        i += word[0].length;
      } else {
        push(ch);
        i++;
      }
    }
  }
  finish();
  return out;
}
