/**
 * Shapes of the app lifecycle. Where the protocol (ObjectStack `AppCompatibilityCheck`,
 * `AppInstallResult`) names a field, the name is kept; tenantry's additions are marked as such.
 */
import type { MigrationPlan } from '../schema/types.js';
import type { AppManifest, AppManifestInput } from './manifest.js';

/** What a compatibility issue is about. */
export type AppIssueCategory =
  /** Protocol: an object of the app already exists (owned by another app or by the tenant's own schema). */
  | 'object_conflict'
  /** Protocol: a dependency is not installed. */
  | 'dependency_missing'
  /** Protocol: the tenant's `maxObjects` would be exceeded. */
  | 'quota_exceeded'
  /** tenantry: the manifest is invalid (`path` says where). */
  | 'invalid_manifest'
  /** tenantry: a dependency is installed, but in a version outside the range the manifest asks for. */
  | 'dependency_version'
  /** tenantry, upgrades: an installed app depends on this one with a range the new version is outside of. */
  | 'dependent_version'
  /** tenantry, upgrades: the new version is not newer than the installed one. */
  | 'version_not_newer'
  /** tenantry: the change drops objects or fields or narrows a type (an error only without `allowDestructive`). */
  | 'destructive_change'
  /** tenantry: the schema layer cannot make the change (a table rebuild would lose parts of the table). */
  | 'unsupported_change';

/** One problem found by `checkCompatibility`. */
export interface AppCompatibilityIssue {
  /** Protocol: `error` blocks the install or upgrade; `warning` does not. */
  severity: 'error' | 'warning';
  /** Protocol. */
  message: string;
  /** Protocol's categories plus tenantry's (see {@link AppIssueCategory}). */
  category: AppIssueCategory;
  /** tenantry: the manifest path, for `invalid_manifest`. */
  path?: string;
  /** tenantry: the object concerned, when one is. */
  object?: string;
  /** tenantry: the other app concerned (dependency, dependent or owner), when one is. */
  app?: string;
}

/** The protocol's `AppCompatibilityCheck`, plus what tenantry would do. */
export interface AppCompatibilityCheck {
  /** Protocol: no issue is an error. */
  compatible: boolean;
  /** Protocol. */
  issues: AppCompatibilityIssue[];
  /** tenantry: `install` when the app is not installed, `upgrade` when it is. */
  mode: 'install' | 'upgrade';
  /** tenantry: the installed version, for an upgrade. */
  installedVersion?: string;
  /** tenantry: the schema plan the install or upgrade would run (absent when the manifest is invalid or the plan cannot be made). */
  plan?: MigrationPlan;
}

/** An app as recorded in a tenant database (`_tenantry_apps`). */
export interface InstalledApp {
  name: string;
  version: string;
  /** `installed`, or `detached` after `uninstallApp(..., { keepData: true })` (its tables kept, unowned). */
  status: 'installed' | 'detached';
  manifest: AppManifest;
  /** ISO 8601: first installed. */
  installedAt: string;
  /** ISO 8601: last installed, upgraded or detached. */
  updatedAt: string;
}

/** Options of `installApp`. */
export interface InstallAppOptions {
  /** Protocol: do not insert the manifest's `seed` rows. Default false. */
  skipSeedData?: boolean;
  /**
   * Allow destructive changes. They only arise when reinstalling an app whose tables were kept
   * (`keepData`) with a manifest that drops or narrows some of them. Default false.
   */
  allowDestructive?: boolean;
}

/** Options of `upgradeApp`. */
export interface UpgradeAppOptions {
  /** Allow dropping objects or fields and narrowing types (data in them is lost). Default false. */
  allowDestructive?: boolean;
  /** Do not insert the `seed` rows of objects the upgrade creates. Default false. */
  skipSeedData?: boolean;
}

/** Options of `uninstallApp`. */
export interface UninstallAppOptions {
  /**
   * Keep the app's tables and rows; only unregister the app (recorded as `detached`). Installing
   * the same app again takes its tables back. Default false: the tables are dropped.
   */
  keepData?: boolean;
}

/** Options of `listApps`. */
export interface ListAppsOptions {
  /** Also list apps uninstalled with `keepData`. Default false. */
  includeDetached?: boolean;
}

/** The protocol's `AppInstallResult`. A failure rejects instead (nothing was changed). */
export interface AppInstallResult {
  success: true;
  /** Protocol: the app's name. */
  appId: string;
  version: string;
  /** Protocol: the app's objects. */
  installedObjects: string[];
  /** Protocol: tables created (objects taken back from kept data are not created). */
  createdTables: string[];
  /** Protocol: seed rows inserted. */
  seededRecords: number;
  durationMs: number;
  /** tenantry: the schema plan that ran (the app's own bookkeeping statements are not listed). */
  plan: MigrationPlan;
}

/** What `upgradeApp` did. */
export interface AppUpgradeResult extends AppInstallResult {
  /** The version that was installed before. */
  previousVersion: string;
  /** Tables dropped (objects the new version no longer has; only with `allowDestructive`). */
  droppedTables: string[];
}

/** What `uninstallApp` did. */
export interface AppUninstallResult {
  success: true;
  appId: string;
  version: string;
  /** Tables dropped (none with `keepData`). */
  droppedTables: string[];
  /** Tables kept (`keepData`). */
  keptTables: string[];
  durationMs: number;
}

/**
 * The protocol's `IAppLifecycleService`, tenant by tenant. Method names kept; a tenant id stands
 * for the protocol's target.
 */
export interface IAppLifecycleService {
  checkCompatibility(manifest: AppManifestInput, tenantId: string): Promise<AppCompatibilityCheck>;
  installApp(manifest: AppManifestInput, tenantId: string, options?: InstallAppOptions): Promise<AppInstallResult>;
  uninstallApp(appName: string, tenantId: string, options?: UninstallAppOptions): Promise<AppUninstallResult>;
  upgradeApp(manifest: AppManifestInput, tenantId: string, options?: UpgradeAppOptions): Promise<AppUpgradeResult>;
}
