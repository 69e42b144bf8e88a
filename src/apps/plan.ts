/**
 * An app's schema change through the schema layer: the app's tables as they are (the part of
 * the introspected schema the app owns) diffed against the tables its manifest describes,
 * turned into a plan, plus the seed rows of the tables the plan creates. Other tables are left
 * out of the diff, so nothing outside the app is touched; the plan's base is the whole schema,
 * so `applyMigrations` refuses it if anything changed since.
 */
import { schemaFromManifest } from '../schema/bundle.js';
import type { DeployManifest } from '../schema/bundle.js';
import { schemaFingerprint } from '../schema/definition.js';
import { diffSchemas } from '../schema/diff.js';
import { generateMigrations } from '../schema/generate.js';
import { foldName, quoteIdent, quoteString } from '../schema/sql.js';
import type { DeployDiff, IntrospectedSchema, MigrationPlan, SchemaDefinition } from '../schema/types.js';
import type { AppManifest } from './manifest.js';

/** A planned app change. */
export interface AppPlan {
  diff: DeployDiff;
  /** The schema statements; `baseFingerprint` is the whole database's. */
  plan: MigrationPlan;
  /** Tables the plan creates. */
  created: string[];
  /** Tables the plan drops. */
  dropped: string[];
  /** `INSERT` statements of the seed rows of `created` tables. */
  seed: { object: string; row: number; sql: string }[];
}

/** The tables of `schema` whose names are in `names` (compared as SQLite does). */
function pick(schema: IntrospectedSchema, names: ReadonlySet<string>, keep: boolean): SchemaDefinition {
  const tables: SchemaDefinition['tables'] = {};
  for (const [name, table] of Object.entries(schema.tables)) if (names.has(foldName(name)) === keep) tables[name] = table;
  return { tables };
}

/**
 * Plans the change of an app's tables: `owned` are the (folded) names of the tables the app has
 * now (its installed or kept objects), `desired` the manifest it should have (`undefined` to
 * drop every owned table). Throws the schema layer's `SchemaError` (`UNSUPPORTED_CHANGE`, ...).
 */
export function planApp(schema: IntrospectedSchema, owned: ReadonlySet<string>, desired: AppManifest | undefined, seed: boolean): AppPlan {
  const current = pick(schema, owned, true);
  const want: SchemaDefinition = desired === undefined ? { tables: {} } : schemaFromManifest({ version: desired.version, objects: desired.objects } as DeployManifest);
  const diff = diffSchemas(current, want);
  const generated = generateMigrations(diff);
  const rest = pick(schema, owned, false);
  const plan: MigrationPlan = {
    ...generated,
    baseFingerprint: schemaFingerprint(schema),
    targetFingerprint: schemaFingerprint({ tables: { ...rest.tables, ...want.tables } }),
  };
  const created = diff.objects.added.map((t) => t.name);
  const statements: AppPlan['seed'] = [];
  if (seed && desired?.seed !== undefined) {
    for (const object of created) {
      (desired.seed[object] ?? []).forEach((row, i) => statements.push({ object, row: i, sql: insertSql(object, row) }));
    }
  }
  return { diff, plan, created, dropped: diff.objects.removed.map((t) => t.name), seed: statements };
}

/** `INSERT` of one seed row, values as SQL literals (the statement runs inside the migration). */
function insertSql(object: string, row: Readonly<Record<string, string | number | boolean | null>>): string {
  const fields = Object.keys(row);
  if (fields.length === 0) return `INSERT INTO ${quoteIdent(object)} DEFAULT VALUES`;
  return `INSERT INTO ${quoteIdent(object)} (${fields.map(quoteIdent).join(', ')}) VALUES (${fields.map((f) => literal(row[f]!)).join(', ')})`;
}

function literal(value: string | number | boolean | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return quoteString(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (!Number.isFinite(value)) throw new TypeError('a seed value must be a finite number');
  return Object.is(value, -0) ? '0' : String(value);
}
