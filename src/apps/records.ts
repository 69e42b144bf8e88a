/**
 * Where a tenant's apps are recorded: the `_tenantry_apps` table of the tenant database
 * (`_tenantry_*` tables are left out of introspection and of the object gauges). Statements that
 * change it run inside the app's migration transaction, so an app and its record change together.
 */
import type { Client } from '@libsql/client';
import { SchemaError } from '../schema/errors.js';
import { quoteIdent, quoteString } from '../schema/sql.js';
import { safeParseAppManifest } from './manifest.js';
import type { AppManifest } from './manifest.js';
import type { InstalledApp } from './types.js';

/** The table of installed (and detached) apps. */
export const APPS_TABLE = '_tenantry_apps';
const T = quoteIdent(APPS_TABLE);

/** Creates the table when missing (inside the transaction that first writes it). */
export const CREATE_APPS_TABLE =
  `CREATE TABLE IF NOT EXISTS ${T} (name TEXT PRIMARY KEY NOT NULL, version TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('installed', 'detached')), ` +
  'manifest TEXT NOT NULL, installed_at TEXT NOT NULL, updated_at TEXT NOT NULL)';

/** Every recorded app of the database behind `client`, by name. Two reads; nothing is created. */
export async function readApps(client: Client): Promise<Map<string, InstalledApp>> {
  const exists = await client.execute({ sql: "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", args: [APPS_TABLE] });
  const apps = new Map<string, InstalledApp>();
  if (exists.rows.length === 0) return apps;
  const { rows } = await client.execute(`SELECT name, version, status, manifest, installed_at, updated_at FROM ${T} ORDER BY name`);
  for (const row of rows) {
    const name = String(row['name']);
    let parsed: unknown;
    try {
      parsed = JSON.parse(String(row['manifest']));
    } catch (err) {
      throw corrupt(name, err);
    }
    const result = safeParseAppManifest(parsed);
    if (!result.success) throw corrupt(name, undefined);
    apps.set(name, {
      name,
      version: String(row['version']),
      status: row['status'] === 'detached' ? 'detached' : 'installed',
      manifest: result.manifest,
      installedAt: String(row['installed_at']),
      updatedAt: String(row['updated_at']),
    });
  }
  return apps;
}

function corrupt(name: string, cause: unknown): SchemaError {
  return new SchemaError('INVALID_SCHEMA', `${APPS_TABLE}: the recorded manifest of app "${name}" is not a valid app manifest (edited by hand?)`, {
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Records `manifest` as installed: replaces a `detached` record of the same app; a row of an
 * installed app of that name makes the insert fail (`UNIQUE`), so a concurrent install loses.
 */
export function recordInstall(manifest: AppManifest, at: string): string[] {
  return [
    CREATE_APPS_TABLE,
    `DELETE FROM ${T} WHERE name = ${quoteString(manifest.name)} AND status = 'detached'`,
    `INSERT INTO ${T} (name, version, status, manifest, installed_at, updated_at) VALUES (${quoteString(manifest.name)}, ${quoteString(manifest.version)}, 'installed', ` +
      `${quoteString(JSON.stringify(manifest))}, ${quoteString(at)}, ${quoteString(at)})`,
  ];
}

/** Records the upgrade of an installed app to `manifest`. */
export function recordUpgrade(manifest: AppManifest, at: string): string[] {
  return [
    `UPDATE ${T} SET version = ${quoteString(manifest.version)}, manifest = ${quoteString(JSON.stringify(manifest))}, updated_at = ${quoteString(at)} ` +
      `WHERE name = ${quoteString(manifest.name)} AND status = 'installed'`,
  ];
}

/** Unregisters an app: its row is removed, or marked `detached` when its tables are kept. */
export function recordUninstall(name: string, keepData: boolean, at: string): string[] {
  return keepData
    ? [`UPDATE ${T} SET status = 'detached', updated_at = ${quoteString(at)} WHERE name = ${quoteString(name)} AND status = 'installed'`]
    : [`DELETE FROM ${T} WHERE name = ${quoteString(name)}`];
}
