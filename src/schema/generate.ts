/**
 * SQL generation: a diff into an ordered plan of SQLite statements. `ALTER TABLE` where SQLite
 * can (add, rename and drop a column, rename a table), the table rebuild otherwise (create the
 * new table, copy the rows, drop the old one, rename, recreate the indexes), and a foreign-key
 * check at the end whenever a table was rebuilt or dropped. Every identifier is quoted.
 */
import { SchemaError } from './errors.js';
import { defaultClause, foldName, isLiteralDefault, isNullDefault, normalizeType, quoteIdent, quoteString } from './sql.js';
import type { ColumnDefinition, DeployDiff, IndexDefinition, MigrationPlan, MigrationStatement, MigrationStepKind, ObjectDiff } from './types.js';

/** Prefix of the table a rebuild fills before it takes the old table's name. */
export const REBUILD_PREFIX = '_tenantry_rebuild_';
const GUARD_TABLE = '_tenantry_fk_guard';
const ROWID_NAMES = new Set(['rowid', 'oid', '_rowid_']);

type Step = Omit<MigrationStatement, 'order' | 'reversible'>;

/**
 * The plan that turns the diff's current schema into its desired one. The statements are
 * meant to run in order in one transaction with foreign keys off (`applyMigrations` does so);
 * each says what it does (`kind`, `object`, `field`, `description`) and whether it may lose
 * data (`destructive`). Pure: no database is touched.
 *
 * Throws a `SchemaError`: `UNSUPPORTED_CHANGE` when a table needing a rebuild has parts a
 * rebuild would lose (its `rebuildBlockers`), `INVALID_SCHEMA` when `diff` is not a diff.
 *
 * @example
 * const plan = generateMigrations(diffSchemas(current, manifest));
 * for (const s of plan.statements) console.log(s.destructive ? '!' : ' ', s.sql);
 */
export function generateMigrations(diff: DeployDiff): MigrationPlan {
  checkDiff(diff);
  const steps: Step[] = [];
  const rebuilt = new Set<ObjectDiff>(diff.objects.changed.filter(needsRebuild));
  for (const o of rebuilt) {
    const blockers = o.current.rebuildBlockers ?? [];
    if (blockers.length > 0) {
      throw new SchemaError(
        'UNSUPPORTED_CHANGE',
        `object "${o.name}" needs a table rebuild for this change, but a rebuild would lose its ${blockers.join(', ')}; change it with your own migration instead`,
        { object: o.name },
      );
    }
  }

  // 1. indexes going away (their names may be reused below; dropped columns must be free of them)
  for (const o of diff.objects.changed) {
    if (rebuilt.has(o)) continue; // dropped with the old table
    for (const index of o.indexes.removed) {
      steps.push({
        kind: 'drop_index',
        object: o.name,
        sql: `DROP INDEX ${quoteIdent(index.name)}`,
        rollbackSql: createIndexSql(o.current.name, index),
        destructive: false,
        description: `drop index "${index.name}" of "${o.name}"`,
      });
    }
  }
  // 2. objects going away
  for (const table of diff.objects.removed) {
    steps.push({
      kind: 'drop_table',
      object: table.name,
      sql: `DROP TABLE ${quoteIdent(table.name)}`,
      destructive: true,
      description: `drop object "${table.name}" and all its rows`,
    });
  }
  // 3. renamed objects (a rebuilt one is renamed by its rebuild)
  for (const o of diff.objects.changed) {
    if (o.renamedFrom === undefined || rebuilt.has(o)) continue;
    steps.push({
      kind: 'rename_table',
      object: o.name,
      sql: `ALTER TABLE ${quoteIdent(o.renamedFrom)} RENAME TO ${quoteIdent(o.name)}`,
      rollbackSql: `ALTER TABLE ${quoteIdent(o.name)} RENAME TO ${quoteIdent(o.renamedFrom)}`,
      destructive: false,
      description: `rename object "${o.renamedFrom}" to "${o.name}"`,
    });
  }
  // 4. changed objects
  for (const o of diff.objects.changed) {
    if (rebuilt.has(o)) steps.push(...rebuildSteps(o));
    else steps.push(...alterSteps(o));
  }
  // 5. new objects
  for (const table of diff.objects.added) {
    steps.push({
      kind: 'create_table',
      object: table.name,
      sql: createTableSql(table.name, table.columns),
      rollbackSql: `DROP TABLE ${quoteIdent(table.name)}`,
      destructive: false,
      description: `create object "${table.name}"`,
    });
  }
  // 6. indexes to create
  const creations: { table: string; index: IndexDefinition }[] = [];
  for (const o of diff.objects.changed) {
    for (const index of rebuilt.has(o) ? o.desired.indexes : o.indexes.added) creations.push({ table: o.name, index });
  }
  for (const table of diff.objects.added) for (const index of table.indexes) creations.push({ table: table.name, index });
  for (const { table, index } of creations) {
    steps.push({
      kind: 'create_index',
      object: table,
      sql: createIndexSql(table, index),
      rollbackSql: `DROP INDEX ${quoteIdent(index.name)}`,
      destructive: false,
      description: `create ${index.unique ? 'unique ' : ''}index "${index.name}" on "${table}" (${index.columns.join(', ')})`,
    });
  }
  // 7. foreign keys of, and onto, the tables rebuilt or dropped must still hold
  const touched = [...[...rebuilt].map((o) => o.name), ...[...rebuilt].flatMap((o) => (o.renamedFrom === undefined ? [] : [o.renamedFrom])), ...diff.objects.removed.map((t) => t.name)];
  if (touched.length > 0) steps.push(...foreignKeyGuard(touched));

  const statements = steps.map((step, order): MigrationStatement => ({ ...step, order, reversible: !step.destructive }));
  return {
    statements,
    dialect: 'sqlite',
    reversible: statements.every((s) => s.reversible),
    destructive: statements.some((s) => s.destructive),
    baseFingerprint: diff.baseFingerprint,
    targetFingerprint: diff.targetFingerprint,
  };
}

function checkDiff(diff: DeployDiff): void {
  const o = (diff as Partial<DeployDiff> | null)?.objects;
  if (
    typeof diff !== 'object' ||
    diff === null ||
    typeof o !== 'object' ||
    o === null ||
    !Array.isArray(o.added) ||
    !Array.isArray(o.removed) ||
    !Array.isArray(o.changed) ||
    typeof diff.baseFingerprint !== 'string' ||
    typeof diff.targetFingerprint !== 'string'
  ) {
    throw new SchemaError('INVALID_SCHEMA', 'generateMigrations: pass the result of diff()');
  }
}

/** A column SQLite's `ALTER TABLE ... ADD COLUMN` accepts. */
function canAddColumn(c: ColumnDefinition): boolean {
  if (c.primaryKey || c.unique) return false;
  if (!isNullDefault(c.defaultValue) && !isLiteralDefault(c.defaultValue!)) return false; // expressions need a rebuild
  return c.nullable || !isNullDefault(c.defaultValue);
}

/** Renames whose new name is still held by a current column (only hand-built diffs do that). */
function renameCollides(o: ObjectDiff): boolean {
  const removed = new Set(o.fields.removed.map((c) => foldName(c.name)));
  const renamedAway = new Set(o.fields.changed.flatMap((f) => (f.renamedFrom === undefined ? [] : [foldName(f.renamedFrom)])));
  const held = new Set(o.current.columns.map((c) => foldName(c.name)).filter((n) => !removed.has(n) && !renamedAway.has(n)));
  return o.fields.changed.some((f) => f.renamedFrom !== undefined && held.has(foldName(f.name)));
}

/**
 * SQLite has no `ALTER COLUMN`: a changed column (type, NOT NULL, default, UNIQUE, primary key),
 * an added column `ADD COLUMN` refuses (unique, primary key, required without a default, an
 * expression default) and a dropped column `DROP COLUMN` refuses (unique, primary key) all need
 * the rebuild.
 */
function needsRebuild(o: ObjectDiff): boolean {
  return (
    o.fields.changed.some((f) => f.properties.length > 0) ||
    o.fields.added.some((c) => !canAddColumn(c)) ||
    o.fields.removed.some((c) => c.primaryKey || c.unique) ||
    renameCollides(o)
  );
}

function alterSteps(o: ObjectDiff): Step[] {
  const table = quoteIdent(o.name);
  const steps: Step[] = [];
  for (const c of o.fields.removed) {
    steps.push({
      kind: 'drop_column',
      object: o.name,
      field: c.name,
      sql: `ALTER TABLE ${table} DROP COLUMN ${quoteIdent(c.name)}`,
      destructive: true,
      description: `drop field "${c.name}" of "${o.name}" and its values`,
    });
  }
  for (const f of o.fields.changed) {
    if (f.renamedFrom === undefined) continue;
    steps.push({
      kind: 'rename_column',
      object: o.name,
      field: f.name,
      sql: `ALTER TABLE ${table} RENAME COLUMN ${quoteIdent(f.renamedFrom)} TO ${quoteIdent(f.name)}`,
      rollbackSql: `ALTER TABLE ${table} RENAME COLUMN ${quoteIdent(f.name)} TO ${quoteIdent(f.renamedFrom)}`,
      destructive: false,
      description: `rename field "${f.renamedFrom}" of "${o.name}" to "${f.name}"`,
    });
  }
  for (const c of o.fields.added) {
    steps.push({
      kind: 'add_column',
      object: o.name,
      field: c.name,
      sql: `ALTER TABLE ${table} ADD COLUMN ${columnSql(c, false)}`,
      rollbackSql: `ALTER TABLE ${table} DROP COLUMN ${quoteIdent(c.name)}`,
      destructive: false,
      description: `add field "${c.name}" to "${o.name}"`,
    });
  }
  return steps;
}

/**
 * The rebuild (https://sqlite.org/lang_altertable.html#otheralter): a new table with the
 * desired definition, every row copied (columns matched by name or `renamedFrom`, rowids kept),
 * the old table dropped, the new one renamed into place. The rename runs with
 * `legacy_alter_table` on, so views and triggers naming the table are left as they are instead
 * of being checked while the table is briefly missing. Indexes are created afterwards.
 */
function rebuildSteps(o: ObjectDiff): Step[] {
  const temp = REBUILD_PREFIX + o.name;
  const destructive = o.fields.removed.length > 0 || o.fields.changed.some((f) => f.narrowing);
  const why = rebuildReason(o);
  const currentByName = new Map(o.current.columns.map((c) => [foldName(c.name), c]));
  const added = new Set(o.fields.added);
  const renamedFrom = new Map(o.fields.changed.flatMap((f) => (f.renamedFrom === undefined ? [] : [[foldName(f.name), f.renamedFrom] as const])));
  const targets: string[] = [];
  const sources: string[] = [];
  for (const d of o.desired.columns) {
    if (added.has(d)) continue;
    const source = renamedFrom.get(foldName(d.name)) ?? currentByName.get(foldName(d.name))?.name;
    if (source === undefined) continue;
    targets.push(quoteIdent(d.name));
    sources.push(quoteIdent(source));
  }
  if (keepsRowids(o)) {
    targets.unshift('rowid');
    sources.unshift('rowid');
  }
  const base = { object: o.name, destructive };
  const steps: Step[] = [
    { ...base, kind: 'rebuild_create', sql: createTableSql(temp, o.desired.columns), description: `rebuild "${o.name}" (${why}): create the new table` },
  ];
  // with no column in common (and no rowid to keep) there is nothing to copy: every value was in dropped columns
  if (targets.length > 0) {
    steps.push({
      ...base,
      kind: 'rebuild_copy',
      sql: `INSERT INTO ${quoteIdent(temp)} (${targets.join(', ')}) SELECT ${sources.join(', ')} FROM ${quoteIdent(o.current.name)}`,
      description: `rebuild "${o.name}": copy every row${o.fields.removed.length > 0 ? ` (without ${o.fields.removed.map((c) => `"${c.name}"`).join(', ')})` : ''}`,
    });
  }
  steps.push(
    { ...base, kind: 'rebuild_drop', sql: `DROP TABLE ${quoteIdent(o.current.name)}`, description: `rebuild "${o.name}": drop the old table` },
    { ...base, destructive: false, kind: 'pragma', sql: 'PRAGMA legacy_alter_table = ON', description: 'leave views and triggers untouched while the table is renamed' },
    { ...base, kind: 'rebuild_rename', sql: `ALTER TABLE ${quoteIdent(temp)} RENAME TO ${quoteIdent(o.name)}`, description: `rebuild "${o.name}": put the new table in place` },
    { ...base, destructive: false, kind: 'pragma', sql: 'PRAGMA legacy_alter_table = OFF', description: 'back to checked renames' },
  );
  return steps;
}

/** Rowids are copied too (rows keep their identity), unless a column is named like the rowid or is it. */
function keepsRowids(o: ObjectDiff): boolean {
  const names = [...o.current.columns, ...o.desired.columns].map((c) => foldName(c.name));
  if (names.some((n) => ROWID_NAMES.has(n))) return false;
  const pk = o.desired.columns.filter((c) => c.primaryKey);
  // an INTEGER PRIMARY KEY is the rowid: it is copied as a column
  return !(pk.length === 1 && normalizeType(pk[0]!.type) === 'INTEGER');
}

function rebuildReason(o: ObjectDiff): string {
  const parts: string[] = [];
  for (const f of o.fields.changed) if (f.properties.length > 0) parts.push(`"${f.name}" ${f.properties.join('/')}`);
  for (const c of o.fields.added) if (!canAddColumn(c)) parts.push(`new "${c.name}"`);
  for (const c of o.fields.removed) if (c.primaryKey || c.unique) parts.push(`"${c.name}" removed`);
  return parts.length === 0 ? 'renames' : parts.join(', ');
}

/** `CREATE TABLE` for `columns`: a single primary key inline, a composite one as a table constraint. */
export function createTableSql(name: string, columns: readonly ColumnDefinition[]): string {
  const pk = columns.filter((c) => c.primaryKey);
  const body = columns.map((c) => columnSql(c, pk.length === 1));
  if (pk.length > 1) body.push(`PRIMARY KEY (${pk.map((c) => quoteIdent(c.name)).join(', ')})`);
  return `CREATE TABLE ${quoteIdent(name)} (${body.join(', ')})`;
}

function columnSql(c: ColumnDefinition, inlinePrimaryKey: boolean): string {
  const parts = [quoteIdent(c.name)];
  const type = c.type.trim();
  if (type !== '') parts.push(type);
  if (inlinePrimaryKey && c.primaryKey) parts.push('PRIMARY KEY');
  if (!c.nullable) parts.push('NOT NULL');
  if (c.unique) parts.push('UNIQUE');
  if (!isNullDefault(c.defaultValue)) parts.push(defaultClause(c.defaultValue!));
  return parts.join(' ');
}

/** `CREATE INDEX` from the model, or the introspected statement for a partial / expression index. */
export function createIndexSql(table: string, index: IndexDefinition): string {
  const extra = index as IndexDefinition & { partial?: boolean; expression?: boolean; sql?: string };
  if (extra.partial === true || extra.expression === true) {
    if (extra.sql === undefined) {
      throw new SchemaError('UNSUPPORTED_CHANGE', `index "${index.name}" of "${table}" is partial or indexes an expression, and its CREATE INDEX statement is unknown`, { object: table });
    }
    return extra.sql;
  }
  return `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX ${quoteIdent(index.name)} ON ${quoteIdent(table)} (${index.columns.map(quoteIdent).join(', ')})`;
}

/**
 * Statements that abort the transaction when a row of (or pointing at) one of `tables` breaks
 * a foreign key: `pragma_foreign_key_check` read by a temporary trigger that raises.
 */
function foreignKeyGuard(tables: readonly string[]): Step[] {
  const names = [...new Set(tables.map(foldName))].map(quoteString).join(', ');
  const message = `foreign keys no longer hold after changing ${tables.map((t) => `"${t}"`).join(', ')}`;
  const guard = `temp.${quoteIdent(GUARD_TABLE)}`;
  const base = { kind: 'check_foreign_keys' as MigrationStepKind, object: '', destructive: false };
  return [
    { ...base, sql: `CREATE TEMP TABLE ${quoteIdent(GUARD_TABLE)} (x)`, description: 'foreign key check: prepare' },
    {
      ...base,
      sql: `CREATE TEMP TRIGGER ${quoteIdent(`${GUARD_TABLE}_check`)} BEFORE INSERT ON ${quoteIdent(GUARD_TABLE)} BEGIN SELECT RAISE(ABORT, ${quoteString(message)}) WHERE EXISTS (SELECT 1 FROM pragma_foreign_key_check WHERE lower("table") IN (${names}) OR lower("parent") IN (${names})); END`,
      description: 'foreign key check: prepare',
    },
    { ...base, sql: `INSERT INTO ${guard} VALUES (1)`, description: `foreign key check of ${tables.map((t) => `"${t}"`).join(', ')}` },
    { ...base, sql: `DROP TABLE ${guard}`, description: 'foreign key check: clean up' },
  ];
}

