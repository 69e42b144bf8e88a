/**
 * What a deploy sees of a tenant database: the tenant's own schema. Apps installed with
 * `tenantry.apps` share the database and record their objects in `_tenantry_apps`; the tables
 * of installed apps (with their indexes and triggers) are theirs, so a deploy leaves them out of
 * what it introspects, diffs, fingerprints and restores, and a bundle may not declare one of
 * their names. Tables kept by `uninstallApp(..., { keepData: true })` (a `detached` app) belong
 * to the tenant from then on: they are in a deploy's scope like any table of its own (until an
 * install of the same app takes them back).
 */
import type { Client } from '@libsql/client';
import { readApps } from '../apps/records.js';
import type { InstalledApp } from '../apps/types.js';
import { introspectDatabase } from '../schema/introspect.js';
import { foldName } from '../schema/sql.js';
import type { IntrospectedSchema, IntrospectedTable, SchemaDefinition } from '../schema/types.js';

/** A tenant database as a deploy sees it. */
export interface DeployScope {
  /** The tenant's own tables: the introspected schema without the tables of installed apps. */
  schema: IntrospectedSchema;
  /**
   * Names (folded as SQLite compares them) an installed app holds, with the app's name: the
   * objects of its manifest, and the indexes of its tables (tables and indexes share one namespace).
   */
  appNames: ReadonlyMap<string, string>;
}

/**
 * The deploy scope of the database behind `client`: introspects it, reads `_tenantry_apps`,
 * and leaves out the tables of installed apps. The schema is read first, then the app records,
 * so an app installed in between only adds names the scope already refuses. Rejects with a
 * `SchemaError` `INVALID_SCHEMA` when an app record is corrupt.
 *
 * @example
 * const { schema, appNames } = await deployScope(client);
 * schemaFingerprint(schema) // what a deploy's plan and record are checked against
 */
export async function deployScope(client: Client): Promise<DeployScope> {
  const whole = await introspectDatabase(client);
  return scopeOf(whole, await readApps(client));
}

/** {@link deployScope} of a schema and app records already read. */
export function scopeOf(whole: IntrospectedSchema, apps: ReadonlyMap<string, InstalledApp>): DeployScope {
  const owned = appTables(apps);
  const appNames = new Map(owned);
  const tables: Record<string, IntrospectedTable> = {};
  for (const [name, table] of Object.entries(whole.tables)) {
    const owner = owned.get(foldName(name));
    if (owner === undefined) tables[name] = table;
    else for (const index of table.indexes) appNames.set(foldName(index.name), owner);
  }
  return { schema: { ...whole, tables }, appNames };
}

/** The (folded) object names of the installed apps among `apps`, with the owning app's name. Detached apps own nothing. */
export function appTables(apps: ReadonlyMap<string, InstalledApp>): Map<string, string> {
  const owned = new Map<string, string>();
  for (const app of apps.values()) {
    if (app.status !== 'installed') continue;
    for (const object of app.manifest.objects) owned.set(foldName(object.name), app.name);
  }
  return owned;
}

/**
 * Why `desired` cannot be deployed beside the installed apps of `scope`: the objects, previous
 * names (`renamedFrom`) and index names of the bundle that an installed app holds; `undefined`
 * when there are none.
 */
export function appConflicts(desired: SchemaDefinition, scope: DeployScope): string | undefined {
  const problems: string[] = [];
  const check = (name: string, what: string): void => {
    const owner = scope.appNames.get(foldName(name));
    if (owner !== undefined) problems.push(`${what} belongs to installed app "${owner}"`);
  };
  for (const table of Object.values(desired.tables)) {
    check(table.name, `object "${table.name}"`);
    if (table.renamedFrom !== undefined) check(table.renamedFrom, `object "${table.name}" is renamed from "${table.renamedFrom}", which`);
    for (const index of table.indexes) check(index.name, `index "${index.name}" of object "${table.name}"`);
  }
  return problems.length === 0 ? undefined : problems.join('; ');
}
