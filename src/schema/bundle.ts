/**
 * Deploy bundles: the zod schemas of `{ manifest: { version, objects }, seed? }`, their
 * validation (errors name the path), the field types and their SQLite mapping, and the
 * translation of a manifest into the SQL-level schema model.
 */
import { z } from 'zod';
import { SchemaError, formatPath, issuesMessage } from './errors.js';
import type { SchemaIssue } from './errors.js';
import { SQLITE_KEYWORDS, quoteString } from './sql.js';
import type { ColumnDefinition, SchemaDefinition, TableDefinition } from './types.js';

/** The protocol's field types. */
export const FIELD_TYPES = ['text', 'number', 'boolean', 'date', 'datetime', 'json', 'uuid', 'binary'] as const;
/** A field type (see {@link FIELD_SQL_TYPES}). */
export const FieldTypeSchema = z.enum(FIELD_TYPES);
/** A field type of a manifest. */
export type FieldType = z.infer<typeof FieldTypeSchema>;

/**
 * The protocol's SQLite mapping: the storage type (column affinity) of each field type.
 *
 * text → TEXT, number → REAL, boolean → INTEGER, date → TEXT, datetime → TEXT, json → TEXT,
 * uuid → TEXT, binary → BLOB.
 */
export const FIELD_STORAGE_TYPES: Readonly<Record<FieldType, 'TEXT' | 'REAL' | 'INTEGER' | 'BLOB'>> = Object.freeze({
  text: 'TEXT',
  number: 'REAL',
  boolean: 'INTEGER',
  date: 'TEXT',
  datetime: 'TEXT',
  json: 'TEXT',
  uuid: 'TEXT',
  binary: 'BLOB',
});

/**
 * The declared type tenantry writes for each field type. Its affinity is exactly the
 * protocol's storage type ({@link FIELD_STORAGE_TYPES}); the four TEXT types that the storage
 * type alone cannot tell apart carry their name in front (`DATE TEXT` has TEXT affinity), so
 * the database itself says which field type a column has and introspection needs no side table.
 */
export const FIELD_SQL_TYPES: Readonly<Record<FieldType, string>> = Object.freeze({
  text: 'TEXT',
  number: 'REAL',
  boolean: 'INTEGER',
  date: 'DATE TEXT',
  datetime: 'DATETIME TEXT',
  json: 'JSON TEXT',
  uuid: 'UUID TEXT',
  binary: 'BLOB',
});

/** The field type whose declared type is `type` (normalized, upper case), if any. */
export function fieldTypeOf(type: string): FieldType | undefined {
  for (const t of FIELD_TYPES) if (FIELD_SQL_TYPES[t] === type) return t;
  return undefined;
}

/** The implicit primary key every object gets: a `uuid` field named `id`. */
export const ID_FIELD = 'id';

/**
 * The default of `id`: a random UUID v4 made by SQLite, so rows inserted without an id get one.
 */
export const ID_DEFAULT =
  "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || " +
  "substr('89ab', 1 + (random() & 3), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))";

/** The `id` column of every object table. */
export function idColumn(): ColumnDefinition {
  return { name: ID_FIELD, type: FIELD_SQL_TYPES.uuid, fieldType: 'uuid', nullable: false, defaultValue: ID_DEFAULT, primaryKey: true, unique: false };
}

const SNAKE_CASE = /^[a-z][a-z0-9_]*$/;
const MAX_NAME_LENGTH = 63;
/** Field names tenantry or SQLite already use in every table. */
const RESERVED_FIELDS = new Set([ID_FIELD, 'rowid', 'oid', '_rowid_']);
const RESERVED_WORDS = new Set(['true', 'false']);

/** Why `name` cannot be an object, field or index name, or `undefined` when it can. */
function nameProblem(name: string, kind: 'object' | 'field' | 'index'): string | undefined {
  if (name.startsWith('_tenantry_')) return `names starting with "_tenantry_" are reserved for tenantry (got "${name}")`;
  if (!SNAKE_CASE.test(name)) {
    return `${kind} names must be snake_case: lowercase letters, digits and "_", starting with a letter (got ${JSON.stringify(name)})`;
  }
  if (name.length > MAX_NAME_LENGTH) return `${kind} names are at most ${MAX_NAME_LENGTH} characters (got ${name.length})`;
  if (SQLITE_KEYWORDS.has(name.toUpperCase()) || RESERVED_WORDS.has(name)) return `"${name}" is a reserved SQL word`;
  if (name.startsWith('sqlite_')) return `names starting with "sqlite_" are reserved by SQLite (got "${name}")`;
  if (kind === 'field' && RESERVED_FIELDS.has(name)) {
    return name === ID_FIELD ? '"id" is reserved: every object has an implicit uuid primary key named id' : `"${name}" is reserved by SQLite`;
  }
  return undefined;
}

function nameSchema(kind: 'object' | 'field' | 'index') {
  return z.string().superRefine((name, ctx) => {
    const problem = nameProblem(name, kind);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });
}

/** A previous name (`renamedFrom`): the name the object or field has in databases today. */
const previousName = z.string().min(1).max(128).refine((s) => !s.includes('\0'), 'cannot contain a NUL character');

const DATE = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])$/;
const DATETIME = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Why `value` cannot be the default of a `type` field, or `undefined` when it can. */
function defaultProblem(type: FieldType, value: string | number | boolean): string | undefined {
  switch (type) {
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : 'the default of a number field must be a finite number';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'the default of a boolean field must be true or false';
    case 'binary':
      return 'binary fields cannot have a default';
    case 'text':
      return typeof value === 'string' ? undefined : 'the default of a text field must be a string';
    case 'date':
      return typeof value === 'string' && DATE.test(value) ? undefined : 'the default of a date field must be a YYYY-MM-DD string';
    case 'datetime':
      return typeof value === 'string' && DATETIME.test(value) ? undefined : 'the default of a datetime field must be an ISO 8601 date-time string';
    case 'uuid':
      return typeof value === 'string' && UUID.test(value) ? undefined : 'the default of a uuid field must be a UUID string';
    case 'json':
      if (typeof value !== 'string') return 'the default of a json field must be a string holding JSON text';
      try {
        JSON.parse(value);
        return undefined;
      } catch {
        return 'the default of a json field must be valid JSON text';
      }
  }
}

/**
 * A field of an object. `required` makes it `NOT NULL`, `unique` adds a `UNIQUE` constraint,
 * `default` is a literal of the field's type. `renamedFrom` declares a rename: the field's
 * current name in the databases (tenantry's addition to the protocol; see the README).
 */
export const FieldDefinitionSchema = z
  .strictObject({
    name: nameSchema('field'),
    type: FieldTypeSchema,
    required: z.boolean().optional(),
    unique: z.boolean().optional(),
    default: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
    renamedFrom: previousName.optional(),
  })
  .superRefine((field, ctx) => {
    if (field.default === undefined || field.default === null) {
      if (field.default === null && field.required === true) {
        ctx.addIssue({ code: 'custom', path: ['default'], message: 'a required field cannot default to null' });
      }
      return;
    }
    const problem = defaultProblem(field.type, field.default);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['default'], message: problem });
    if (typeof field.default === 'string' && field.default.includes('\0')) {
      ctx.addIssue({ code: 'custom', path: ['default'], message: 'a default cannot contain a NUL character' });
    }
  });
/** A field of a manifest object. */
export type FieldDefinition = z.infer<typeof FieldDefinitionSchema>;

/** An index of an object. Without `name`, it is named `<object>_<field>_..._idx`. */
export const ObjectIndexSchema = z.strictObject({
  name: nameSchema('index').optional(),
  fields: z.array(z.string()).min(1, 'an index needs at least one field'),
  unique: z.boolean().optional(),
});
/** An index of a manifest object. */
export type ObjectIndex = z.infer<typeof ObjectIndexSchema>;

/** An object (one table). Every object also has an implicit `id` uuid primary key. */
export const ObjectDefinitionSchema = z.strictObject({
  name: nameSchema('object'),
  fields: z.array(FieldDefinitionSchema),
  indexes: z.array(ObjectIndexSchema).optional(),
  renamedFrom: previousName.optional(),
});
/** An object of a manifest. */
export type ObjectDefinition = z.infer<typeof ObjectDefinitionSchema>;

/** The name an index gets when the manifest gives none. */
export function defaultIndexName(object: string, fields: readonly string[]): string {
  return `${object}_${fields.join('_')}_idx`;
}

/** The manifest of a deploy bundle: its version and the desired objects. */
export const DeployManifestSchema = z
  .strictObject({
    version: z.string().min(1, 'the manifest needs a version').max(128),
    objects: z.array(ObjectDefinitionSchema),
  })
  .superRefine((manifest, ctx) => {
    const objectAt = new Map<string, number>();
    const previousObjects = new Map<string, number>();
    manifest.objects.forEach((object, i) => {
      if (objectAt.has(object.name)) {
        ctx.addIssue({ code: 'custom', path: ['objects', i, 'name'], message: `object "${object.name}" is declared twice (also objects[${objectAt.get(object.name)}])` });
      } else {
        objectAt.set(object.name, i);
      }
    });
    const indexAt = new Map<string, string>();
    manifest.objects.forEach((object, i) => {
      if (object.renamedFrom !== undefined) {
        const at = ['objects', i, 'renamedFrom'];
        if (object.renamedFrom === object.name) ctx.addIssue({ code: 'custom', path: at, message: 'an object cannot be renamed from its own name' });
        else if (objectAt.has(object.renamedFrom)) {
          ctx.addIssue({ code: 'custom', path: at, message: `"${object.renamedFrom}" is another object of this manifest: it cannot also be renamed` });
        } else if (previousObjects.has(object.renamedFrom)) {
          ctx.addIssue({ code: 'custom', path: at, message: `objects[${previousObjects.get(object.renamedFrom)}] is already renamed from "${object.renamedFrom}"` });
        } else previousObjects.set(object.renamedFrom, i);
      }
      const fieldAt = new Map<string, number>();
      object.fields.forEach((field, j) => {
        if (fieldAt.has(field.name)) {
          ctx.addIssue({ code: 'custom', path: ['objects', i, 'fields', j, 'name'], message: `field "${field.name}" is declared twice in object "${object.name}"` });
        } else fieldAt.set(field.name, j);
      });
      const previousFields = new Set<string>();
      object.fields.forEach((field, j) => {
        if (field.renamedFrom === undefined) return;
        const at = ['objects', i, 'fields', j, 'renamedFrom'];
        if (field.renamedFrom === field.name) ctx.addIssue({ code: 'custom', path: at, message: 'a field cannot be renamed from its own name' });
        else if (fieldAt.has(field.renamedFrom) || field.renamedFrom === ID_FIELD) {
          ctx.addIssue({ code: 'custom', path: at, message: `"${field.renamedFrom}" is another field of "${object.name}": it cannot also be renamed` });
        } else if (previousFields.has(field.renamedFrom)) {
          ctx.addIssue({ code: 'custom', path: at, message: `another field of "${object.name}" is already renamed from "${field.renamedFrom}"` });
        } else previousFields.add(field.renamedFrom);
      });
      (object.indexes ?? []).forEach((index, k) => {
        const seen = new Set<string>();
        index.fields.forEach((name, f) => {
          const at = ['objects', i, 'indexes', k, 'fields', f];
          if (name !== ID_FIELD && !fieldAt.has(name)) ctx.addIssue({ code: 'custom', path: at, message: `object "${object.name}" has no field "${name}"` });
          if (seen.has(name)) ctx.addIssue({ code: 'custom', path: at, message: `field "${name}" is listed twice in this index` });
          seen.add(name);
        });
        const name = index.name ?? defaultIndexName(object.name, index.fields);
        const at = index.name === undefined ? ['objects', i, 'indexes', k] : ['objects', i, 'indexes', k, 'name'];
        if (indexAt.has(name)) {
          ctx.addIssue({ code: 'custom', path: at, message: `index name "${name}" is used twice (also by object "${indexAt.get(name)}"); index names are shared by the whole database` });
        } else if (objectAt.has(name)) {
          ctx.addIssue({ code: 'custom', path: at, message: `index name "${name}" is also an object name; SQLite shares one namespace between tables and indexes` });
        } else indexAt.set(name, object.name);
      });
    });
  });
/** A deploy manifest. */
export type DeployManifest = z.infer<typeof DeployManifestSchema>;
/** A deploy manifest as written (the same shape: nothing is defaulted). */
export type DeployManifestInput = z.input<typeof DeployManifestSchema>;

const SeedValueSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/**
 * A deploy bundle: `{ manifest, seed? }`. `seed` maps object names to rows (field → value) to
 * insert after the schema is applied; its objects and fields must exist in the manifest.
 *
 * @example
 * const bundle = parseBundle({
 *   manifest: { version: '1.0.0', objects: [{ name: 'notes', fields: [{ name: 'title', type: 'text', required: true }] }] },
 *   seed: { notes: [{ title: 'Welcome' }] },
 * });
 */
export const DeployBundleSchema = z
  .strictObject({
    manifest: DeployManifestSchema,
    seed: z.record(z.string(), z.array(z.record(z.string(), SeedValueSchema))).optional(),
  })
  .superRefine((bundle, ctx) => {
    if (bundle.seed === undefined) return;
    const objects = new Map(bundle.manifest.objects.map((o) => [o.name, new Set([ID_FIELD, ...o.fields.map((f) => f.name)])]));
    for (const [object, rows] of Object.entries(bundle.seed)) {
      const fields = objects.get(object);
      if (fields === undefined) {
        ctx.addIssue({ code: 'custom', path: ['seed', object], message: `the manifest has no object "${object}"` });
        continue;
      }
      rows.forEach((row, r) => {
        for (const key of Object.keys(row)) {
          if (!fields.has(key)) ctx.addIssue({ code: 'custom', path: ['seed', object, r, key], message: `object "${object}" has no field "${key}"` });
        }
      });
    }
  });
/** A deploy bundle. */
export type DeployBundle = z.infer<typeof DeployBundleSchema>;
/** A deploy bundle as written (the same shape: nothing is defaulted). */
export type DeployBundleInput = z.input<typeof DeployBundleSchema>;

/** The outcome of {@link safeParseBundle}. */
export type BundleParseResult = { success: true; bundle: DeployBundle } | { success: false; issues: SchemaIssue[] };

/**
 * Validates a bundle without throwing: every problem, each with its path.
 *
 * @example
 * const result = safeParseBundle(JSON.parse(text));
 * if (!result.success) for (const issue of result.issues) console.error(`${issue.path}: ${issue.message}`);
 */
export function safeParseBundle(input: unknown): BundleParseResult {
  const result = DeployBundleSchema.safeParse(input);
  if (result.success) return { success: true, bundle: result.data };
  return { success: false, issues: toIssues(result.error) };
}

/**
 * Validates a bundle; throws a `SchemaError` with code `INVALID_BUNDLE` whose `issues` name
 * every path (`manifest.objects[0].fields[1].name: ...`).
 */
export function parseBundle(input: unknown): DeployBundle {
  const result = safeParseBundle(input);
  if (!result.success) throw invalid('invalid deploy bundle', result.issues);
  return result.bundle;
}

/** {@link parseBundle} for a manifest alone; paths start at `manifest`. */
export function parseManifest(input: unknown): DeployManifest {
  const result = DeployManifestSchema.safeParse(input);
  if (!result.success) throw invalid('invalid deploy manifest', toIssues(result.error, ['manifest']));
  return result.data;
}

function toIssues(error: z.ZodError, prefix: PropertyKey[] = []): SchemaIssue[] {
  return error.issues.map((issue) => ({ path: formatPath([...prefix, ...issue.path]), message: issue.message }));
}

function invalid(intro: string, issues: SchemaIssue[]): SchemaError {
  return new SchemaError('INVALID_BUNDLE', issuesMessage(intro, issues), { issues });
}

/** A manifest default as an SQL literal. */
function defaultLiteral(value: string | number | boolean): string {
  if (typeof value === 'string') return quoteString(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  return Object.is(value, -0) ? '0' : String(value);
}

/**
 * The SQL-level schema a manifest describes: one table per object, its implicit `id` first,
 * then its fields in order, then its indexes. `renamedFrom` is carried over.
 *
 * @example
 * const desired = schemaFromManifest(parseBundle(bundle).manifest);
 */
export function schemaFromManifest(manifest: DeployManifest): SchemaDefinition {
  const tables: Record<string, TableDefinition> = {};
  for (const object of manifest.objects) {
    const columns: ColumnDefinition[] = [idColumn()];
    for (const field of object.fields) {
      const column: ColumnDefinition = {
        name: field.name,
        type: FIELD_SQL_TYPES[field.type],
        fieldType: field.type,
        nullable: field.required !== true,
        primaryKey: false,
        unique: field.unique === true,
      };
      if (field.default !== undefined && field.default !== null) column.defaultValue = defaultLiteral(field.default);
      if (field.renamedFrom !== undefined) column.renamedFrom = field.renamedFrom;
      columns.push(column);
    }
    const table: TableDefinition = {
      name: object.name,
      columns,
      indexes: (object.indexes ?? []).map((index) => ({
        name: index.name ?? defaultIndexName(object.name, index.fields),
        columns: [...index.fields],
        unique: index.unique === true,
      })),
    };
    if (object.renamedFrom !== undefined) table.renamedFrom = object.renamedFrom;
    tables[object.name] = table;
  }
  return { tables };
}
