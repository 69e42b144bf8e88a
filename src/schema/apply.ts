/**
 * Applying a plan to one database: every statement in one transaction with foreign keys off
 * (`client.migrate()`: one round trip to a remote database), after checking that the database
 * still has the schema the plan was made for. A failure rolls everything back and is reported
 * as a `SchemaError` naming the object and field.
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
  if (options.checkBase !== false) {
    const fingerprint = schemaFingerprint(await introspectDatabase(client));
    if (fingerprint !== plan.baseFingerprint) {
      throw new SchemaError('SCHEMA_CHANGED', `${where}the database schema is not the one this plan was generated from; introspect and plan again (nothing was changed)`, {
        ...(options.tenantId === undefined ? {} : { tenantId: options.tenantId }),
      });
    }
  }
  try {
    await client.migrate(plan.statements.map((s) => s.sql));
  } catch (err) {
    if (isTenantryError(err)) throw err; // the database could not be reached (pool, status)
    throw failure(err, plan, options.tenantId);
  }
  return { success: true, statementsExecuted: plan.statements.length, durationMs: Math.max(0, now() - started) };
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

/** The `SchemaError` for a failed migration: which statement, object and field, and why. */
function failure(err: unknown, plan: MigrationPlan, tenantId: string | undefined): SchemaError {
  const e = err as { statementIndex?: unknown; code?: unknown; extendedCode?: unknown; message?: unknown };
  const index = typeof e.statementIndex === 'number' ? e.statementIndex : undefined;
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
