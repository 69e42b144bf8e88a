/**
 * tenantry: a tenant-aware runtime for Node.js. One deployment serves many tenants, each
 * with its own libSQL / Turso database.
 *
 * @example
 * import { createTenantry, fromHeader, getTenantClient } from 'tenantry';
 * import { tenancy } from 'tenantry/hono';
 * const tenantry = createTenantry({ resolvers: [fromHeader()] });
 * app.use('*', tenancy(tenantry));
 */
export { createTenantry, Tenantry } from './tenantry.js';
export type { ITenantRouter, MigrateOptions, TenantHandler, TenantSession, TenantryStats } from './tenantry.js';
export type { CacheOptions, DatabaseOptions, TenantryOptions } from './config/index.js';
export { fromTursoMultiTenantConfig } from './config/turso.js';
export type { TursoConfigExtras } from './config/turso.js';
export { getTenant, getTenantClient, tryGetTenant } from './context/index.js';
export type { TenantScope } from './context/index.js';
export { ERROR_STATUS, TenantryError, isTenantryError } from './errors/index.js';
export type { TenantryErrorCode, TenantryErrorOptions } from './errors/index.js';
export type { TenantryEventName, TenantryEvents, TenantryListener } from './events.js';
export { TENANTRY_CHANNELS } from './diagnostics/index.js';
export type {
  PoolEvictMessage,
  PoolOpenMessage,
  ProvisioningStepMessage,
  QuotaCheckMessage,
  QuotaOperation,
  QuotaStoreErrorMessage,
  ResolveMessage,
  ResolveOutcome,
  TenantRejectedMessage,
  TenantryChannelMessages,
  TenantryChannelName,
} from './diagnostics/index.js';
export { fromHeader, fromHost, fromJwt, fromPath, fromSubdomain } from './router/resolvers/index.js';
export type {
  HeaderResolverOptions,
  HostResolverOptions,
  JwtResolverOptions,
  PathResolverOptions,
  SubdomainResolverOptions,
} from './router/resolvers/index.js';
export type { RequestView, ResolverEnv, TenantIdentity, TenantIdentityKind, TenantResolver } from './router/types.js';
export type { ClientLease, DatabaseConnection } from './router/pool.js';
export type { RequestScope } from './router/scope.js';
export { memoryRegistry, libsqlRegistry } from './registry/index.js';
export { encryptedRegistry } from './registry/encrypted.js';
export type { InvalidationBus, InvalidationHandlers } from './registry/invalidation.js';
export type { TenantListFilter, TenantRecordUpdater, TenantRegistry } from './registry/index.js';
export { memoryQuotaStore, QUOTA_NAMES, quotaKey } from './quota/index.js';
export type {
  CounterDecision,
  CounterRequest,
  FailMode,
  MemoryQuotaStoreOptions,
  QuotaCheckOptions,
  QuotaCheckResult,
  QuotaName,
  QuotaOptions,
  QuotaReason,
  QuotaService,
  QuotaStore,
  RateAdmission,
} from './quota/index.js';
export { localPlatform } from './platform/local.js';
export { DATABASE_NAME_PATTERN } from './platform/types.js';
export type { CreateDatabaseInput, CreateTokenOptions, ITursoPlatformService, PlatformDatabase, PlatformUsage } from './platform/types.js';
export { PROVISIONING_STEPS } from './provisioning/service.js';
export type { IProvisioningService, ProvisioningService, ProvisioningStepName } from './provisioning/service.js';
export type { ProvisioningOptions, WarmPoolOptions } from './provisioning/options.js';
export type { WarmPoolStatus } from './provisioning/warm-pool.js';
export { MigrationChecksumError, MigrationError, loadMigrations, migrateDatabase, migrationChecksum } from './provisioning/migrations.js';
export type { Migration, MigrationErrorCode } from './provisioning/migrations.js';
export { migrateTenants } from './provisioning/migration-runner.js';
export type { MigrationProgress, MigrationReport, MigrationTarget } from './provisioning/migration-runner.js';
export {
  DeployBundleSchema,
  DeployManifestSchema,
  FIELD_SQL_TYPES,
  FIELD_STORAGE_TYPES,
  FIELD_TYPES,
  FieldDefinitionSchema,
  FieldTypeSchema,
  ObjectDefinitionSchema,
  ObjectIndexSchema,
  SchemaDefinitionSchema,
  SchemaError,
  applyMigrationPlan,
  diffSchemas,
  generateMigrations,
  introspectDatabase,
  parseBundle,
  parseManifest,
  readSchemaVersion,
  safeParseBundle,
  schemaFingerprint,
  schemaFromManifest,
} from './schema/index.js';
export type {
  ApplyOptions,
  BundleParseResult,
  ColumnDefinition,
  DeployBundle,
  DeployBundleInput,
  DeployDiff,
  DeployManifest,
  DeployManifestInput,
  DesiredSchema,
  FieldChange,
  FieldDefinition,
  FieldType,
  ISchemaDiffService,
  IndexDefinition,
  IntrospectedColumn,
  IntrospectedIndex,
  IntrospectedSchema,
  IntrospectedTable,
  MigrationApplyResult,
  MigrationPlan,
  MigrationStatement,
  MigrationStepKind,
  ObjectDefinition,
  ObjectDiff,
  ObjectIndex,
  SchemaChange,
  SchemaDefinition,
  SchemaErrorCode,
  SchemaIssue,
  SchemaService,
  TableDefinition,
} from './schema/index.js';
export { APPS_TABLE, AppError, AppManifestSchema, parseAppManifest, safeParseAppManifest } from './apps/index.js';
export type {
  AppCompatibilityCheck,
  AppCompatibilityIssue,
  AppDependency,
  AppErrorCode,
  AppInstallResult,
  AppIssueCategory,
  AppManifest,
  AppManifestInput,
  AppManifestParseResult,
  AppService,
  AppUninstallResult,
  AppUpgradeResult,
  IAppLifecycleService,
  InstallAppOptions,
  InstalledApp,
  ListAppsOptions,
  UninstallAppOptions,
  UpgradeAppOptions,
} from './apps/index.js';
export { DEPLOYMENTS_TABLE, DEPLOYMENT_ID_PATTERN, DeployError, DeploymentPlanSchema } from './deploy/index.js';
export type {
  BundleValidationResult,
  DeployErrorCode,
  DeployIssue,
  DeployProgress,
  DeployService,
  DeploymentPlan,
  DeploymentRecord,
  DeploymentResult,
  ExecuteDeploymentOptions,
  IDeployPipelineService,
  PlanDeploymentOptions,
  RollbackDeploymentOptions,
  RollbackInfo,
  RollbackResult,
  SnapshotRetention,
  TenantDeploymentPlan,
  TenantDeploymentResult,
  TenantDeploymentStatus,
  TenantRollbackResult,
  TenantRollbackStatus,
  ValidateBundleOptions,
} from './deploy/index.js';
export { toProblem } from './middleware/problem.js';
export type { Problem, ProblemDetails } from './middleware/problem.js';
export { problemResponse } from './middleware/fetch.js';
export type { QuotaMiddlewareOptions, TenancyOptions } from './middleware/options.js';
export * from './protocol/index.js';
