/**
 * Applying a plan to one database: every statement in one transaction with foreign keys off
 * (`client.migrate()`: one round trip to a remote database), after checking that the database
 * still has the schema the plan was made for — and, inside the transaction, that nothing changed
 * the schema since that check. A failure rolls everything back and is reported as a
 * `SchemaError` naming the object and field.
 */
import type { Client } from '@libsql/client';
import { isTenantryError } from '../errors/index.js';
import { schemaFingerprint } from './definition.js';
import { SchemaError } from './errors.js';
import type { SchemaErrorCode } from './errors.js';
import { REBUILD_PREFIX } from './generate.js';
import { introspectDatabase } from './introspect.js';
import type { MigrationApplyResult, MigrationPlan, MigrationStatement } from './types.js';

/** Options of {@link applyMigrationPlan}. */
export interface ApplyOptions {
  /**
   * Introspect first and refuse (`SCHEMA_CHANGED`) when the database's schema is not the one
   * the plan was generated from (`plan.baseFingerprint`). Default true.
   */
  checkBase?: boolean;
  /**
   * The database's `PRAGMA schema_version` (see {@link readSchemaVersion}) read before the
   * caller checked the schema itself (with `checkBase: false`): the transaction first asserts
   * that it is unchanged and refuses with `SCHEMA_CHANGED` (nothing changed) when another
   * migration ran in between. With `checkBase` on, the version is read before that check and
   * asserted the same way; this option then overrides it.
   */
  schemaVersion?: number;
  /** Named in error messages and set on errors. */
  tenantId?: string;
  /** Millisecond clock for `durationMs`. Default `performance.now`. */
  now?: () => number;
}

/**
 * Runs `plan` on the database behind `client`: all statements in order in one transaction with
 * foreign keys off, so the database gets all of it or none of it. The client is not closed.
 *
 * Rejects with a `SchemaError`: `SCHEMA_CHANGED` (nothing ran), `UNIQUE_VIOLATION` or
 * `NOT_NULL_VIOLATION` (existing rows do not fit a new constraint; `object` and `field` say
 * which), `FOREIGN_KEY_VIOLATION`, or `MIGRATION_FAILED` with the database error as `cause`; in
 * every case the transaction was rolled back. `statementIndex` points into `plan.statements`.
 *
 * @example
 * await applyMigrationPlan(client, generateMigrations(diffSchemas(await introspectDatabase(client), manifest)));
 */
export async function applyMigrationPlan(client: Client, plan: MigrationPlan, options: ApplyOptions = {}): Promise<MigrationApplyResult> {
  checkPlan(plan);
  const now = options.now ?? (() => performance.now());
  const where = options.tenantId === undefined ? '' : `tenant "${options.tenantId}": `;
  const started = now();
  if (plan.statements.length === 0) return { success: true, statementsExecuted: 0, durationMs: 0 };
  const changed = (): SchemaError =>
    new SchemaError('SCHEMA_CHANGED', `${where}the database schema is not the one this plan was generated from; introspect and plan again (nothing was changed)`, {
      ...(options.tenantId === undefined ? {} : { tenantId: options.tenantId }),
    });
  let version = options.schemaVersion;
  if (version !== undefined && !Number.isSafeInteger(version)) {
    throw new SchemaError('INVALID_SCHEMA', 'applyMigrations: schemaVersion must be the integer readSchemaVersion() returned');
  }
  if (options.checkBase !== false) {
    // Read first: a change between this read and the introspection fails the guard below.
    version ??= await readSchemaVersion(client);
    if (schemaFingerprint(await introspectDatabase(client)) !== plan.baseFingerprint) throw changed();
  }
  const sql = plan.statements.map((s) => s.sql);
  if (version !== undefined) sql.unshift(schemaVersionGuard(version));
  try {
    await client.migrate(sql);
  } catch (err) {
    if (isTenantryError(err)) throw err; // the database could not be reached (pool, status)
    const offset = version === undefined ? 0 : 1;
    // The guard's deliberate overflow: the version moved. Any other failure of it is a plain one.
    const { statementIndex, message } = err as { statementIndex?: unknown; message?: unknown };
    if (offset === 1 && statementIndex === 0 && typeof message === 'string' && /integer overflow/i.test(message)) throw changed();
    throw failure(err, plan, options.tenantId, offset);
  }
  return { success: true, statementsExecuted: plan.statements.length, durationMs: Math.max(0, now() - started) };
}

/**
 * The database's schema version (`PRAGMA schema_version`): a counter SQLite raises on every
 * schema change. Read it before checking a database's schema and pass it to
 * {@link applyMigrationPlan} as `schemaVersion`, so that a change between the check and the
 * migration is refused.
 */
export async function readSchemaVersion(client: Client): Promise<number> {
  // The table-valued form, as introspection reads its pragmas: a plain SELECT to every server.
  const result = await client.execute('SELECT schema_version FROM pragma_schema_version');
  const value = result.rows[0]?.[0];
  const version = typeof value === 'bigint' ? Number(value) : value;
  if (typeof version !== 'number' || !Number.isSafeInteger(version)) {
    throw new SchemaError('MIGRATION_FAILED', `PRAGMA schema_version answered ${String(value)}, not an integer`);
  }
  return version;
}

/**
 * The first statement of a guarded migration: fails (an integer overflow: SQLite's only way to
 * raise an error from a plain SELECT) unless the schema version is still `version`, so the
 * transaction stops before any change. The overflow depends on the column, so SQLite cannot
 * evaluate it ahead of the comparison.
 */
function schemaVersionGuard(version: number): string {
  return `SELECT CASE WHEN schema_version = ${version} THEN 0 ELSE abs(-9223372036854775807 - 1 + 0 * schema_version) END FROM pragma_schema_version`;
}

function checkPlan(plan: MigrationPlan): void {
  if (
    typeof plan !== 'object' ||
    plan === null ||
    !Array.isArray(plan.statements) ||
    plan.statements.some((s) => typeof s !== 'object' || s === null || typeof s.sql !== 'string' || s.sql.trim() === '') ||
    typeof plan.baseFingerprint !== 'string'
  ) {
    throw new SchemaError('INVALID_SCHEMA', 'applyMigrations: pass the plan returned by generateMigrations()');
  }
}

/**
 * The `SchemaError` for a failed migration: which statement, object and field, and why.
 * `offset`: statements that ran before the plan's own (the schema version guard).
 */
function failure(err: unknown, plan: MigrationPlan, tenantId: string | undefined, offset: number): SchemaError {
  const e = err as { statementIndex?: unknown; code?: unknown; extendedCode?: unknown; message?: unknown };
  // A failure of a statement before the plan's own (the guard) names no plan statement.
  const index = typeof e.statementIndex === 'number' && e.statementIndex >= offset ? e.statementIndex - offset : undefined;
  const statement = index === undefined ? undefined : plan.statements[index];
  const raw = typeof e.message === 'string' ? e.message.replace(/^(?:SQLITE_[A-Z_]+: )+/, '') : String(err);
  const extended = typeof e.extendedCode === 'string' ? e.extendedCode : typeof e.code === 'string' ? e.code : '';
  const where = tenantId === undefined ? '' : `tenant "${tenantId}": `;
  const base = {
    cause: err,
    ...(tenantId === undefined ? {} : { tenantId }),
    ...(index === undefined ? {} : { statementIndex: index }),
    ...(statement === undefined || statement.object === '' ? {} : { object: statement.object }),
  };
  const done = 'nothing was changed';
  if (statement === undefined) return new SchemaError('MIGRATION_FAILED', `${where}the migration failed (${raw}); ${done}`, base);

  const field = statement.field ?? constrainedColumn(raw, statement);
  const withField = field === undefined ? base : { ...base, field };
  const target = field === undefined ? `object "${statement.object}"` : `field "${field}" of object "${statement.object}"`;
  let code: SchemaErrorCode = 'MIGRATION_FAILED';
  let message = `${where}statement ${index} (${statement.description}) failed: ${raw}; ${done}`;
  if (statement.kind === 'check_foreign_keys' && /constraint/i.test(extended)) {
    code = 'FOREIGN_KEY_VIOLATION';
    message = `${where}${raw}: rows reference rows or columns that would no longer exist; ${done}`;
  } else if (/UNIQUE|PRIMARYKEY/.test(extended) || /UNIQUE constraint failed/.test(raw)) {
    code = 'UNIQUE_VIOLATION';
    message =
      statement.kind === 'create_index'
        ? `${where}cannot create unique index on ${target}: existing rows have duplicate values (${statement.description}); ${done}`
        : `${where}cannot make ${target} unique: existing rows have duplicate values; remove the duplicates first; ${done}`;
  } else if (/NOTNULL/.test(extended) || /NOT NULL constraint failed/.test(raw)) {
    code = 'NOT_NULL_VIOLATION';
    message = `${where}cannot make ${target} required: existing rows have no value for it; give it a default or fill it first; ${done}`;
  }
  return new SchemaError(code, message, withField);
}

/** The column in `UNIQUE constraint failed: table.column` when the table is the statement's. */
function constrainedColumn(message: string, statement: MigrationStatement): string | undefined {
  const match = /constraint failed: (.+)$/.exec(message);
  if (match === null) return undefined;
  const columns: string[] = [];
  for (const part of match[1]!.split(', ')) {
    for (const table of [REBUILD_PREFIX + statement.object, statement.object]) {
      if (part.startsWith(`${table}.`)) {
        columns.push(part.slice(table.length + 1));
        break;
      }
    }
  }
  return columns.length === 1 ? columns[0] : undefined;
}
