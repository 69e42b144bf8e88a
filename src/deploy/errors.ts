/**
 * The error of the deploy pipeline: refusals that are about deployments, snapshots and
 * rollbacks (schema failures stay `SchemaError`s, tenant and quota refusals `TenantryError`s).
 */

/** Stable codes of {@link DeployError}. */
export type DeployErrorCode =
  /** A deployment plan (or its options) is malformed: pass what `planDeployment` returned. */
  | 'INVALID_PLAN'
  /** The tenant's plan drops objects or fields, or narrows a type, and `allowDestructive` is off. */
  | 'DESTRUCTIVE_CHANGE'
  /** No tenant database records this deployment (or not for the tenants asked). */
  | 'DEPLOYMENT_NOT_FOUND'
  /** The snapshot taken before the deploy is gone (pruned by the retention, or deleted). */
  | 'SNAPSHOT_MISSING'
  /** No snapshot, and the inverse plan would lose data (the deploy dropped or narrowed something). */
  | 'ROLLBACK_NOT_LOSSLESS'
  /** File databases need a data folder for their snapshots (`createTenantry({ dataDir })`). */
  | 'SNAPSHOT_UNAVAILABLE'
  /** The tenant's schema is not the one the deployment produced: something changed it since. */
  | 'SCHEMA_CHANGED'
  /** The bundle declares an object or index whose name an installed app holds (see `tenantry.apps`). */
  | 'OBJECT_CONFLICT';

/** Options of a {@link DeployError}. */
export interface DeployErrorOptions {
  cause?: unknown;
  tenantId?: string;
  deploymentId?: string;
}

/**
 * A deploy, a plan or a rollback was refused. Switch on `code`; `tenantId` and `deploymentId`
 * say where when known.
 *
 * @example
 * const result = await tenantry.deploy.rollbackDeployment(id);
 * for (const t of result.tenants) if (t.error instanceof DeployError && t.error.code === 'SNAPSHOT_MISSING') alert(t.tenantId);
 */
export class DeployError extends Error {
  /** Stable machine-readable code. */
  readonly code: DeployErrorCode;
  /** The tenant concerned, when one is. */
  readonly tenantId: string | undefined;
  /** The deployment concerned, when known. */
  readonly deploymentId: string | undefined;

  constructor(code: DeployErrorCode, message: string, options: DeployErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeployError';
    this.code = code;
    this.tenantId = options.tenantId;
    this.deploymentId = options.deploymentId;
  }
}

/** The `code` of any coded error (DeployError, SchemaError, TenantryError, MigrationError), else `ERROR`. */
export function errorCode(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code !== '' ? code : 'ERROR';
}

/** `value` as an `Error`. */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value), { cause: value });
}
