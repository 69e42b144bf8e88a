/**
 * The deploy pipeline (the protocol's `IDeployPipelineService`): validate a bundle, plan it
 * per tenant, execute it across tenants, roll it back.
 */
export { DeployService } from './service.js';
export type { DeployServiceDeps, DeployTenantHandle } from './service.js';
export { DeployError } from './errors.js';
export type { DeployErrorCode } from './errors.js';
export { DEPLOYMENTS_TABLE } from './records.js';
export { deployScope } from './scope.js';
export type { DeployScope } from './scope.js';
export type { DeploymentRecord } from './records.js';
export { DEPLOYMENT_ID_PATTERN, DeploymentPlanSchema, MigrationPlanSchema, RollbackInfoSchema, TenantDeploymentPlanSchema } from './types.js';
export type {
  BundleValidationResult,
  DeployIssue,
  DeployProgress,
  DeploymentPlan,
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
} from './types.js';
