/**
 * Compatibility of a manifest with a tenant database: dependencies installed in the versions
 * asked for, installed dependents still satisfied by an upgrade, and no object (or index name)
 * taken by another app or by the tenant's own schema. Pure: works on what was read.
 */
import { defaultIndexName } from '../schema/bundle.js';
import { foldName } from '../schema/sql.js';
import type { IntrospectedSchema } from '../schema/types.js';
import { dependenciesOf } from './manifest.js';
import type { AppManifest } from './manifest.js';
import { compareSemVer, parseRange, parseSemVer, satisfies } from './semver.js';
import type { AppCompatibilityIssue, InstalledApp } from './types.js';

/** What a compatibility check reads from the tenant database. */
export interface AppState {
  /** Recorded apps by name (installed and detached). */
  apps: ReadonlyMap<string, InstalledApp>;
  schema: IntrospectedSchema;
}

/**
 * The (folded) names of the tables app `name` owns in `state`: the objects of its record
 * (installed, or detached with its tables kept) that exist in the database.
 */
export function ownedTables(name: string, state: AppState): Set<string> {
  const record = state.apps.get(name);
  const tables = new Set(Object.keys(state.schema.tables).map(foldName));
  const owned = new Set<string>();
  for (const object of record?.manifest.objects ?? []) if (tables.has(foldName(object.name))) owned.add(foldName(object.name));
  return owned;
}

/**
 * The tables an install of `manifest` takes back from the app's kept data (`keepData`): those
 * the manifest still has, by name or `renamedFrom`. Kept tables it no longer describes stay as
 * they are (the tenant's own from then on), rather than being dropped by an install.
 */
export function adoptedTables(manifest: AppManifest, state: AppState): Set<string> {
  const wanted = new Set(manifest.objects.flatMap((o) => (o.renamedFrom === undefined ? [foldName(o.name)] : [foldName(o.name), foldName(o.renamedFrom)])));
  return new Set([...ownedTables(manifest.name, state)].filter((name) => wanted.has(name)));
}

/** Installed apps whose dependencies name `name`, with the range each asks for. */
export function dependentsOf(name: string, apps: ReadonlyMap<string, InstalledApp>): { app: string; range: string }[] {
  const out: { app: string; range: string }[] = [];
  for (const record of apps.values()) {
    if (record.status !== 'installed' || record.name === name) continue;
    for (const dep of dependenciesOf(record.manifest)) if (dep.name === name) out.push({ app: record.name, range: dep.range });
  }
  return out;
}

/** Every dependency, version and ownership issue of installing or upgrading to `manifest`. */
export function compatibilityIssues(manifest: AppManifest, state: AppState): AppCompatibilityIssue[] {
  const issues: AppCompatibilityIssue[] = [];
  const installed = state.apps.get(manifest.name);
  const version = parseSemVer(manifest.version)!;

  if (installed?.status === 'installed') {
    const from = parseSemVer(installed.version);
    if (from !== undefined && compareSemVer(version, from) <= 0) {
      issues.push({ severity: 'error', category: 'version_not_newer', message: `version ${manifest.version} is not newer than the installed ${installed.version}` });
    }
    for (const { app, range } of dependentsOf(manifest.name, state.apps)) {
      const parsed = parseRange(range);
      if (parsed !== undefined && !satisfies(version, parsed)) {
        issues.push({ severity: 'error', category: 'dependent_version', app, message: `installed app "${app}" needs ${manifest.name}@${range}, which ${manifest.version} is not` });
      }
    }
  }

  for (const dep of dependenciesOf(manifest)) {
    const record = state.apps.get(dep.name);
    if (record === undefined || record.status !== 'installed') {
      const kept = record === undefined ? '' : ' (its data was kept when it was uninstalled, but it is not installed)';
      issues.push({ severity: 'error', category: 'dependency_missing', app: dep.name, message: `needs app "${dep.name}"${dep.range === '*' ? '' : `@${dep.range}`}, which is not installed${kept}; install it first` });
      continue;
    }
    const range = parseRange(dep.range);
    const at = parseSemVer(record.version);
    if (range !== undefined && (at === undefined || !satisfies(at, range))) {
      issues.push({ severity: 'error', category: 'dependency_version', app: dep.name, message: `needs app "${dep.name}"@${dep.range}, but ${record.version} is installed` });
    }
  }

  issues.push(...conflicts(manifest, state));
  return issues;
}

function conflicts(manifest: AppManifest, state: AppState): AppCompatibilityIssue[] {
  const issues: AppCompatibilityIssue[] = [];
  const owned = ownedTables(manifest.name, state);
  const owners = new Map<string, string>();
  const kept = new Map<string, string>();
  for (const record of state.apps.values()) {
    if (record.name === manifest.name) continue;
    for (const object of record.manifest.objects) (record.status === 'installed' ? owners : kept).set(foldName(object.name), record.name);
  }
  const tables = new Map(Object.keys(state.schema.tables).map((name) => [foldName(name), name]));
  const indexes = new Map<string, string>();
  for (const table of Object.values(state.schema.tables)) for (const index of table.indexes) indexes.set(foldName(index.name), table.name);

  /** Why `name` cannot be the app's table, or `undefined` when it can. */
  const taken = (name: string): string | undefined => {
    const key = foldName(name);
    const owner = owners.get(key);
    if (owner !== undefined) return `belongs to installed app "${owner}"`;
    if (tables.has(key) && !owned.has(key)) {
      const keeper = kept.get(key);
      return keeper === undefined ? "exists in the tenant's own schema" : `exists: kept from app "${keeper}" when it was uninstalled with keepData`;
    }
    return undefined;
  };

  for (const object of manifest.objects) {
    const problem = taken(object.name);
    if (problem !== undefined) {
      issues.push({ severity: 'error', category: 'object_conflict', object: object.name, message: `object "${object.name}" ${problem}` });
    }
    if (object.renamedFrom !== undefined) {
      const from = taken(object.renamedFrom);
      if (from !== undefined) {
        issues.push({ severity: 'error', category: 'object_conflict', object: object.name, message: `object "${object.name}" is renamed from "${object.renamedFrom}", which ${from}` });
      }
    }
    for (const index of object.indexes ?? []) {
      const name = index.name ?? defaultIndexName(object.name, index.fields);
      const key = foldName(name);
      const table = indexes.get(key);
      if ((tables.has(key) && !owned.has(key)) || (table !== undefined && !owned.has(foldName(table)))) {
        issues.push({
          severity: 'error',
          category: 'object_conflict',
          object: object.name,
          message: `index "${name}" of object "${object.name}": the name is already used by ${table === undefined ? 'a table' : `an index of "${table}"`} (tables and indexes share one namespace)`,
        });
      }
    }
  }
  return issues;
}
