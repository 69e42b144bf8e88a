/**
 * The error of the schema layer: invalid bundles and definitions, changes that cannot be
 * generated, and migrations that failed (and were rolled back) on a tenant database.
 */

/** Stable codes of {@link SchemaError}. */
export type SchemaErrorCode =
  /** A deploy bundle or manifest failed validation; `issues` names each path. */
  | 'INVALID_BUNDLE'
  /** A hand-built schema definition (or a diff / plan passed back in) is malformed. */
  | 'INVALID_SCHEMA'
  /** A change needs a table rebuild, but the table has parts a rebuild would lose. */
  | 'UNSUPPORTED_CHANGE'
  /** The tenant's schema is no longer the one the plan was generated from. */
  | 'SCHEMA_CHANGED'
  /** Existing rows hold duplicate values for a field (or index) that is becoming unique. */
  | 'UNIQUE_VIOLATION'
  /** Existing rows hold NULL in a field that is becoming required. */
  | 'NOT_NULL_VIOLATION'
  /** A rebuild or a dropped object left rows whose foreign keys no longer hold. */
  | 'FOREIGN_KEY_VIOLATION'
  /** Any other statement failure (the database error is the `cause`). */
  | 'MIGRATION_FAILED';

/** One problem found while validating a bundle or a definition. */
export interface SchemaIssue {
  /** Where, as a dotted path: `manifest.objects[0].fields[2].name`. */
  path: string;
  message: string;
}

/** Options of a {@link SchemaError}. */
export interface SchemaErrorOptions {
  cause?: unknown;
  issues?: readonly SchemaIssue[];
  tenantId?: string;
  object?: string;
  field?: string;
  statementIndex?: number;
}

/**
 * A schema operation failed. Switch on `code`; `object`, `field` and `statementIndex` say
 * where when known. A failed `applyMigrations` changed nothing (its transaction was rolled back).
 *
 * @example
 * try { await tenantry.schema.applyMigrations('acme', plan) } catch (err) {
 *   if (err instanceof SchemaError && err.code === 'UNIQUE_VIOLATION') console.error(`${err.object}.${err.field} has duplicates`)
 * }
 */
export class SchemaError extends Error {
  /** Stable machine-readable code. */
  readonly code: SchemaErrorCode;
  /** Validation problems (`INVALID_BUNDLE`, `INVALID_SCHEMA`); empty otherwise. */
  readonly issues: readonly SchemaIssue[];
  /** The tenant, when the error happened on a tenant database. */
  readonly tenantId: string | undefined;
  /** The object (table) concerned, when known. */
  readonly object: string | undefined;
  /** The field (column) concerned, when known. */
  readonly field: string | undefined;
  /** Index in `plan.statements` of the statement that failed, when one did. */
  readonly statementIndex: number | undefined;

  constructor(code: SchemaErrorCode, message: string, options: SchemaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SchemaError';
    this.code = code;
    this.issues = options.issues ?? [];
    this.tenantId = options.tenantId;
    this.object = options.object;
    this.field = options.field;
    this.statementIndex = options.statementIndex;
  }
}

/** `path` as `a.b[0].c`. @internal */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(root)' : out;
}

/** A message listing `issues` after `intro`. @internal */
export function issuesMessage(intro: string, issues: readonly SchemaIssue[]): string {
  const shown = issues.slice(0, 10).map((i) => `${i.path}: ${i.message}`);
  const more = issues.length > 10 ? `; and ${issues.length - 10} more` : '';
  return `${intro}: ${shown.join('; ')}${more}`;
}
