/**
 * Shapes of the deploy pipeline (the protocol's `IDeployPipelineService`). DESIGN.md names the
 * service and its methods but no shapes for them, so these are tenantry's; plans are zod-checked
 * when they come back to `executeDeployment` (they may have been stored as JSON in between).
 */
import { z } from 'zod';
import { DeployBundleSchema } from '../schema/bundle.js';
import type { DeployBundle, DeployBundleInput } from '../schema/bundle.js';
import type { MigrationPlan, SchemaChange } from '../schema/types.js';

/** Deployment ids: `dep_<UTC time to the ms>_<8 hex>`, so they sort by time and are safe in file names. */
export const DEPLOYMENT_ID_PATTERN = /^dep_\d{8}T\d{9}Z_[0-9a-f]{8}$/;

const STEP_KINDS = [
  'create_table',
  'drop_table',
  'rename_table',
  'add_column',
  'rename_column',
  'drop_column',
  'rebuild_create',
  'rebuild_copy',
  'rebuild_drop',
  'rebuild_rename',
  'create_index',
  'drop_index',
  'pragma',
  'check_foreign_keys',
] as const;

/** A `MigrationPlan` as `generateMigrations` makes it. */
export const MigrationPlanSchema = z.object({
  statements: z.array(
    z.object({
      sql: z.string().min(1),
      order: z.number().int().nonnegative(),
      reversible: z.boolean(),
      rollbackSql: z.string().optional(),
      destructive: z.boolean(),
      kind: z.enum(STEP_KINDS),
      object: z.string(),
      field: z.string().optional(),
      description: z.string(),
    }),
  ),
  dialect: z.literal('sqlite'),
  reversible: z.boolean(),
  destructive: z.boolean(),
  baseFingerprint: z.string(),
  targetFingerprint: z.string(),
});

/** How a tenant can be rolled back, decided when its plan is made. */
export const RollbackInfoSchema = z.object({
  /**
   * `snapshot`: a `VACUUM INTO` copy is taken before the deploy (local `file:` databases);
   * `inverse`: the inverse plan is run (other backends, or `snapshots: false`).
   */
  strategy: z.enum(['snapshot', 'inverse']),
  /** The inverse plan restores the schema without losing data (see the README). */
  lossless: z.boolean(),
  /** The plan that undoes this tenant's plan, when one could be made. */
  inverse: MigrationPlanSchema.optional(),
  /** Why the inverse plan is not lossless (or could not be made). */
  reason: z.string().optional(),
});

/** One tenant's part of a deployment plan. */
export const TenantDeploymentPlanSchema = z.object({
  tenantId: z.string().min(1),
  /** `ready`: has statements; `unchanged`: already has the bundle's schema; `blocked`: see `error`. */
  status: z.enum(['ready', 'unchanged', 'blocked']),
  /** The schema plan (the protocol's `MigrationPlan`). */
  plan: MigrationPlanSchema,
  /** Seed rows inserted (in the same transaction) into the objects this plan creates. */
  seed: z.array(z.string()),
  /** Every SQL statement that will run for this tenant, in order: `plan.statements`, then `seed`. */
  sql: z.array(z.string()),
  /** Descriptions of the changes, as the diff reports them (`breaking` ones first). */
  changes: z.array(z.object({ description: z.string(), breaking: z.boolean() })),
  /** Objects (tables) now, and after the deploy: `maxObjects` is checked against the growth. */
  objects: z.object({ current: z.number().int().nonnegative(), target: z.number().int().nonnegative() }),
  rollback: RollbackInfoSchema,
  /** Why the tenant is `blocked`: `{ code, message }` of the error. */
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

/** A deployment plan, as `planDeployment` returns it and `executeDeployment` takes it. */
export const DeploymentPlanSchema = z.object({
  deploymentId: z.string().regex(DEPLOYMENT_ID_PATTERN, 'not a deployment id made by planDeployment'),
  /** The manifest's version. */
  version: z.string(),
  /** ISO 8601. */
  createdAt: z.string(),
  allowDestructive: z.boolean(),
  /** The bundle (validated), kept so tenants whose schema changed since can be planned again. */
  bundle: DeployBundleSchema,
  tenants: z.array(TenantDeploymentPlanSchema),
  summary: z.object({
    tenants: z.number().int().nonnegative(),
    ready: z.number().int().nonnegative(),
    unchanged: z.number().int().nonnegative(),
    blocked: z.number().int().nonnegative(),
    statements: z.number().int().nonnegative(),
  }),
});

/** How a tenant can be rolled back (see {@link RollbackInfoSchema}). */
export type RollbackInfo = z.infer<typeof RollbackInfoSchema>;
/** One tenant's part of a deployment plan (see {@link TenantDeploymentPlanSchema}). */
export type TenantDeploymentPlan = Omit<z.infer<typeof TenantDeploymentPlanSchema>, 'plan'> & { plan: MigrationPlan };
/** A deployment plan (see {@link DeploymentPlanSchema}). */
export type DeploymentPlan = Omit<z.infer<typeof DeploymentPlanSchema>, 'tenants' | 'bundle'> & { bundle: DeployBundle; tenants: TenantDeploymentPlan[] };

/** One finding of `validateBundle`. */
export interface DeployIssue {
  /** `INVALID_BUNDLE`, `DESTRUCTIVE_CHANGE`, `UNSUPPORTED_CHANGE`, a tenant error code, ... */
  code: string;
  message: string;
  /** Where in the bundle (`manifest.objects[0].fields[1].name`), for bundle issues. */
  path?: string;
  /** The tenant whose database the finding is about. */
  tenantId?: string;
}

/** What `validateBundle` found. `valid` is `errors.length === 0`. */
export interface BundleValidationResult {
  valid: boolean;
  errors: DeployIssue[];
  warnings: DeployIssue[];
}

/** Options of `validateBundle`. */
export interface ValidateBundleOptions {
  /** Destructive changes (dropped objects or fields, narrowing type changes) are warnings instead of errors. Default false. */
  allowDestructive?: boolean;
  /** Tenants whose databases the bundle is compared with. Default: every active tenant. */
  tenants?: readonly string[];
}

/** Options of `planDeployment`. */
export interface PlanDeploymentOptions {
  /** Only these tenants (ids). Default: every active tenant. */
  tenants?: readonly string[];
  /** Let plans drop objects or fields and narrow types; otherwise such tenants are `blocked`. Default false. */
  allowDestructive?: boolean;
  /** Tenants introspected at once. Default 8. */
  concurrency?: number;
  /**
   * `false`: local `file:` databases are rolled back with the inverse plan too (no snapshot is
   * taken at deploy time). Default true.
   */
  snapshots?: boolean;
}

/** Progress after each tenant of `executeDeployment` / `rollbackDeployment`. */
export interface DeployProgress {
  /** Tenants finished so far. */
  done: number;
  total: number;
  /** Tenants changed (rolled back, for a rollback) so far. */
  succeeded: number;
  /** Tenants left as they were: already up to date (nothing to roll back). */
  unchanged: number;
  failed: number;
  /** The tenant just finished, and how. */
  tenantId: string;
  status: TenantDeploymentStatus | TenantRollbackStatus;
  elapsedMs: number;
}

/** Snapshot retention: snapshots of a deployment are deleted once either rule says so. */
export interface SnapshotRetention {
  /** Keep the snapshots of the newest `keep` deployments. Integer ≥ 1. Default 5. */
  keep?: number;
  /** Delete snapshots older than this many hours. Default 168 (7 days). */
  maxAgeHours?: number;
}

/** Options of `executeDeployment`. */
export interface ExecuteDeploymentOptions {
  /** Tenants deployed at once, an integer ≥ 1. Default 8. */
  concurrency?: number;
  /** Called after each tenant. A throwing callback is logged with `console.error`; the deploy goes on. */
  onProgress?: (progress: DeployProgress) => void;
  /** After the first failed tenant, start no other (those running finish); the rest are `not_run`. Default false. */
  stopOnError?: boolean;
  /**
   * A tenant whose schema changed since planning is planned again (`replanned: true`); with
   * `false` it fails with `SCHEMA_CHANGED`. Default true.
   */
  replan?: boolean;
  /** Snapshot retention applied after the deploy (see {@link SnapshotRetention}). */
  snapshotRetention?: SnapshotRetention;
}

/** How one tenant's deploy ended. */
export type TenantDeploymentStatus = 'applied' | 'unchanged' | 'failed' | 'not_run';

/** One tenant's outcome of `executeDeployment`. */
export interface TenantDeploymentResult {
  tenantId: string;
  status: TenantDeploymentStatus;
  /** The tenant's schema changed since planning, and it was planned again. */
  replanned: boolean;
  /** Statements run (plan and seed). */
  statementsExecuted: number;
  /** A snapshot was taken (local databases). */
  snapshot: boolean;
  durationMs: number;
  /** Why it failed: a `SchemaError`, `TenantryError` (`QUOTA_EXCEEDED`, ...) or `DeployError`. */
  error?: Error;
  /** `error`'s code. */
  code?: string;
}

/** What `executeDeployment` did; tenants in plan order. */
export interface DeploymentResult {
  deploymentId: string;
  version: string;
  /** `succeeded`: no tenant failed; `partial`: some did; `failed`: every tenant that had work failed. */
  status: 'succeeded' | 'partial' | 'failed';
  startedAt: string;
  durationMs: number;
  tenants: TenantDeploymentResult[];
  summary: { applied: number; unchanged: number; failed: number; notRun: number };
  /** Snapshot folders the retention deleted afterwards (deployment ids). */
  prunedSnapshots: string[];
}

/** Options of `rollbackDeployment`. */
export interface RollbackDeploymentOptions {
  /** Only these tenants. Default: every active tenant whose database records the deployment as applied. */
  tenants?: readonly string[];
  /**
   * `'auto'`: the strategy recorded at deploy time (snapshot for local databases); `'inverse'`:
   * the inverse plan even where a snapshot exists (refused unless lossless). Default `'auto'`.
   */
  strategy?: 'auto' | 'inverse';
  /** Tenants rolled back at once. Default 8. */
  concurrency?: number;
  onProgress?: (progress: DeployProgress) => void;
}

/** How one tenant's rollback ended. */
export type TenantRollbackStatus = 'rolled_back' | 'failed' | 'unchanged';

/** One tenant's outcome of `rollbackDeployment`. */
export interface TenantRollbackResult {
  tenantId: string;
  status: TenantRollbackStatus;
  strategy: 'snapshot' | 'inverse';
  durationMs: number;
  error?: Error;
  code?: string;
}

/** What `rollbackDeployment` did. */
export interface RollbackResult {
  deploymentId: string;
  status: 'succeeded' | 'partial' | 'failed';
  durationMs: number;
  tenants: TenantRollbackResult[];
  summary: { rolledBack: number; unchanged: number; failed: number };
}

/** The protocol's `IDeployPipelineService`, method names kept. */
export interface IDeployPipelineService {
  validateBundle(bundle: DeployBundleInput, options?: ValidateBundleOptions): Promise<BundleValidationResult>;
  planDeployment(bundle: DeployBundleInput, options?: PlanDeploymentOptions): Promise<DeploymentPlan>;
  executeDeployment(plan: DeploymentPlan, options?: ExecuteDeploymentOptions): Promise<DeploymentResult>;
  rollbackDeployment(deploymentId: string, options?: RollbackDeploymentOptions): Promise<RollbackResult>;
}

/** The changes of a diff for a plan: breaking ones first. @internal */
export function changeLines(changes: readonly SchemaChange[]): { description: string; breaking: boolean }[] {
  return [...changes.filter((c) => c.breaking), ...changes.filter((c) => !c.breaking)].map((c) => ({ description: c.description, breaking: c.breaking }));
}
