/**
 * App lifecycle (the protocol's `IAppLifecycleService`): installable packages of objects,
 * with versions and dependencies, recorded in each tenant database.
 */
export { AppError } from './errors.js';
export type { AppErrorCode } from './errors.js';
export { AppManifestSchema, parseAppManifest, safeParseAppManifest } from './manifest.js';
export type { AppDependency, AppManifest, AppManifestInput, AppManifestParseResult } from './manifest.js';
export { compareSemVer, parseRange, parseSemVer, satisfies } from './semver.js';
export type { SemVer, SemVerRange } from './semver.js';
export { APPS_TABLE } from './records.js';
export { AppService } from './service.js';
export type { AppServiceDeps, AppTenantHandle } from './service.js';
export type {
  AppCompatibilityCheck,
  AppCompatibilityIssue,
  AppInstallResult,
  AppIssueCategory,
  AppUninstallResult,
  AppUpgradeResult,
  IAppLifecycleService,
  InstallAppOptions,
  InstalledApp,
  ListAppsOptions,
  UninstallAppOptions,
  UpgradeAppOptions,
} from './types.js';
