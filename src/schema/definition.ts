/**
 * The SQL-level schema model: validating a hand-built {@link SchemaDefinition} and the
 * fingerprint that says whether two schemas are the same.
 */
import { z } from 'zod';
import { FieldTypeSchema } from './bundle.js';
import { SchemaError, formatPath, issuesMessage } from './errors.js';
import { DECLARED_TYPE_PATTERN, foldName, isEnclosableExpression, isNullDefault, normalizeType } from './sql.js';
import type { SchemaDefinition, TableDefinition } from './types.js';

const identifier = z
  .string()
  .min(1, 'a name cannot be empty')
  .max(1024)
  .refine((s) => !s.includes('\0'), 'a name cannot contain a NUL character');

const ColumnDefinitionSchema = z.object({
  name: identifier,
  type: z.string().regex(DECLARED_TYPE_PATTERN, 'a declared type is words with an optional size, as VARCHAR(20) or DATE TEXT'),
  fieldType: FieldTypeSchema.optional(),
  nullable: z.boolean().default(true),
  defaultValue: z
    .string()
    .refine(isEnclosableExpression, 'a default must be one SQL expression (balanced parentheses and quotes, no ";" or comments)')
    .optional(),
  primaryKey: z.boolean().default(false),
  unique: z.boolean().default(false),
  renamedFrom: identifier.optional(),
});

const IndexDefinitionSchema = z.object({
  name: identifier,
  columns: z.array(identifier),
  unique: z.boolean().default(false),
  partial: z.boolean().optional(),
  expression: z.boolean().optional(),
  sql: z.string().optional(),
});

const TableDefinitionSchema = z.object({
  name: identifier,
  columns: z.array(ColumnDefinitionSchema).min(1, 'a table needs at least one column'),
  indexes: z.array(IndexDefinitionSchema).default([]),
  renamedFrom: identifier.optional(),
  rebuildBlockers: z.array(z.string()).optional(),
});

/**
 * A hand-built schema definition (what `diff` accepts besides a manifest): tables keyed by
 * name, names unique in SQLite's case-insensitive sense, index columns existing.
 */
export const SchemaDefinitionSchema = z
  .object({ tables: z.record(z.string(), TableDefinitionSchema) })
  .superRefine((schema, ctx) => {
    const tables = new Map<string, string>();
    const indexes = new Map<string, string>();
    for (const [key, table] of Object.entries(schema.tables)) {
      if (key !== table.name) ctx.addIssue({ code: 'custom', path: ['tables', key, 'name'], message: `the table is keyed "${key}" but named "${table.name}"` });
      const folded = foldName(table.name);
      if (tables.has(folded)) ctx.addIssue({ code: 'custom', path: ['tables', key], message: `table "${table.name}" is the same SQLite name as "${tables.get(folded)}"` });
      tables.set(folded, table.name);
    }
    for (const [key, table] of Object.entries(schema.tables)) {
      if (table.renamedFrom !== undefined && tables.has(foldName(table.renamedFrom))) {
        ctx.addIssue({ code: 'custom', path: ['tables', key, 'renamedFrom'], message: `"${table.renamedFrom}" is another table of this schema: it cannot also be renamed` });
      }
      const columns = new Map<string, string>();
      table.columns.forEach((column, i) => {
        const folded = foldName(column.name);
        if (columns.has(folded)) ctx.addIssue({ code: 'custom', path: ['tables', key, 'columns', i, 'name'], message: `column "${column.name}" is declared twice` });
        columns.set(folded, column.name);
      });
      table.columns.forEach((column, i) => {
        if (column.renamedFrom !== undefined && columns.has(foldName(column.renamedFrom))) {
          ctx.addIssue({ code: 'custom', path: ['tables', key, 'columns', i, 'renamedFrom'], message: `"${column.renamedFrom}" is another column of "${table.name}": it cannot also be renamed` });
        }
      });
      table.indexes.forEach((index, i) => {
        const folded = foldName(index.name);
        if (indexes.has(folded) || tables.has(folded)) {
          ctx.addIssue({ code: 'custom', path: ['tables', key, 'indexes', i, 'name'], message: `index name "${index.name}" is used twice (SQLite shares one namespace between tables and indexes)` });
        }
        indexes.set(folded, index.name);
        if (index.columns.length === 0 && index.expression !== true) {
          ctx.addIssue({ code: 'custom', path: ['tables', key, 'indexes', i, 'columns'], message: 'an index needs at least one column' });
        }
        index.columns.forEach((name, c) => {
          if (!columns.has(foldName(name))) ctx.addIssue({ code: 'custom', path: ['tables', key, 'indexes', i, 'columns', c], message: `table "${table.name}" has no column "${name}"` });
        });
      });
    }
  });

/**
 * Validates a schema definition and returns a normalized copy (defaults filled in). Throws a
 * `SchemaError` with code `INVALID_SCHEMA` naming each path.
 */
export function parseSchemaDefinition(input: unknown, where = 'schema'): SchemaDefinition & { tables: Record<string, TableDefinition & { rebuildBlockers?: string[] }> } {
  const result = SchemaDefinitionSchema.safeParse(input);
  if (result.success) return result.data as SchemaDefinition & { tables: Record<string, TableDefinition & { rebuildBlockers?: string[] }> };
  const issues = result.error.issues.map((issue) => ({ path: formatPath([where, ...issue.path]), message: issue.message }));
  throw new SchemaError('INVALID_SCHEMA', issuesMessage(`invalid ${where} definition`, issues), { issues });
}

/** The canonical form two equal schemas share (names folded, order of tables and columns ignored). */
function canonical(schema: SchemaDefinition): unknown {
  const tables = Object.values(schema.tables).map((table) => [
    foldName(table.name),
    table.columns
      .map((c) => [foldName(c.name), normalizeType(c.type), c.nullable, isNullDefault(c.defaultValue) ? null : c.defaultValue!.trim(), c.primaryKey, c.unique])
      .sort(byFirst),
    table.indexes
      .map((i) => {
        const extra = i as { partial?: boolean; expression?: boolean };
        return [foldName(i.name), i.columns.map(foldName), i.unique, extra.partial === true, extra.expression === true];
      })
      .sort(byFirst),
  ]);
  return tables.sort(byFirst);
}

function byFirst(a: unknown[], b: unknown[]): number {
  const x = a[0] as string;
  const y = b[0] as string;
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * A short hash of a schema's structure: equal for schemas SQLite cannot tell apart (table,
 * column and index names compared case-insensitively; column order, `fieldType` and
 * `renamedFrom` ignored). Plans carry the fingerprint of the schema they were made for, and
 * `applyMigrations` refuses a plan whose base is no longer the tenant's schema.
 *
 * @example
 * schemaFingerprint(await tenantry.schema.introspect('acme')) === schemaFingerprint(desired)
 */
export function schemaFingerprint(schema: SchemaDefinition): string {
  const text = JSON.stringify(canonical(schema));
  // two 32-bit FNV-1a passes with different offsets: not cryptographic, only a change detector
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x01000193) ^ (h1 >>> 15);
  }
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}
