/**
 * Shapes of the ObjectStack multi-tenant provisioning protocol, with names and fields kept
 * exactly (DESIGN.md, "Shapes from the protocol"), plus tenantry's own `TenantRecord`.
 * Each shape is a zod schema and a TypeScript type of the same name without `Schema`.
 */
import { z } from 'zod';

/** Plans named by the protocol. */
export const TenantPlanSchema = z.enum(['free', 'pro', 'enterprise']);
/** A tenant's plan. */
export type TenantPlan = z.infer<typeof TenantPlanSchema>;

/** Regions named by the protocol. */
export const TenantRegionSchema = z.enum([
  'us-east',
  'us-west',
  'eu-west',
  'eu-central',
  'ap-southeast',
  'ap-northeast',
]);
/** A tenant's region. */
export type TenantRegion = z.infer<typeof TenantRegionSchema>;

/** Provisioning status of a tenant (the protocol's `TenantProvisioningResult.status`). */
export const TenantStatusSchema = z.enum(['provisioning', 'active', 'suspended', 'failed', 'destroying']);
/** A tenant's lifecycle status. Only `active` tenants reach handlers. */
export type TenantStatus = z.infer<typeof TenantStatusSchema>;

const positiveInt = z.number().int().positive();

/** The protocol's `TenantQuota`: every limit optional; an absent limit is no limit. */
export const TenantQuotaSchema = z.object({
  maxUsers: positiveInt.optional(),
  maxStorage: positiveInt.optional(),
  apiRateLimit: positiveInt.optional(),
  maxObjects: positiveInt.optional(),
  maxRecordsPerObject: positiveInt.optional(),
  maxDeploymentsPerDay: positiveInt.optional(),
  maxStorageBytes: positiveInt.optional(),
});
/** Quotas of a tenant (`apiRateLimit` is per minute). */
export type TenantQuota = z.infer<typeof TenantQuotaSchema>;

/** The protocol's `TenantUsage`. */
export const TenantUsageSchema = z.object({
  currentObjectCount: z.number().int().nonnegative(),
  currentRecordCount: z.number().int().nonnegative(),
  currentStorageBytes: z.number().int().nonnegative(),
  deploymentsToday: z.number().int().nonnegative(),
  currentUsers: z.number().int().nonnegative(),
  apiRequestsThisMinute: z.number().int().nonnegative(),
  lastUpdatedAt: z.iso.datetime(),
});
/** Usage figures of a tenant. */
export type TenantUsage = z.infer<typeof TenantUsageSchema>;

/** The protocol's `QuotaEnforcementResult`. */
export const QuotaEnforcementResultSchema = z.object({
  allowed: z.boolean(),
  exceededQuota: z.string().optional(),
  currentUsage: z.number().optional(),
  limit: z.number().optional(),
  message: z.string().optional(),
});
/** Result of a quota check. */
export type QuotaEnforcementResult = z.infer<typeof QuotaEnforcementResultSchema>;

/** The KernelContext fields the protocol's runtime context extends. */
export const KernelContextSchema = z.object({
  instanceId: z.uuid(),
  mode: z.enum(['development', 'production', 'test']),
  version: z.string(),
  cwd: z.string(),
  startTime: z.number(),
  features: z.record(z.string(), z.boolean()),
});
/** Process-level fields shared by every tenant context of one tenantry instance. */
export type KernelContext = z.infer<typeof KernelContextSchema>;

/** Where the tenant of a request was found (`jwt`, `subdomain`, `host`, `header`, `path`, ...). */
export const TenantSourceSchema = z.string();

/**
 * The protocol's `TenantRuntimeContext`, plus tenantry's `requestId` and `source` (which
 * resolver named the tenant; `withTenant` for jobs and scripts).
 */
export const TenantRuntimeContextSchema = KernelContextSchema.extend({
  tenantId: z.string(),
  tenantPlan: TenantPlanSchema,
  tenantRegion: TenantRegionSchema.optional(),
  tenantDbUrl: z.string(),
  tenantQuotas: TenantQuotaSchema,
  requestId: z.string(),
  source: TenantSourceSchema,
});
/** What `getTenant()` returns inside a tenant scope. */
export type TenantRuntimeContext = z.infer<typeof TenantRuntimeContextSchema>;

/**
 * Tenant ids: lowercase letters, digits and dashes, no leading or trailing dash, 1–63
 * characters. The same rule as a DNS label and a Turso database name, so an id is safe in a
 * hostname, a URL, a file name and a database name.
 */
export const TENANT_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A tenant id (see {@link TENANT_ID_PATTERN}). */
export const TenantIdSchema = z.string().regex(TENANT_ID_PATTERN, 'not a valid tenant id');

/** A lowercase ASCII hostname (punycode for IDNs), without port, at most 253 characters. */
export const DomainSchema = z
  .string()
  .max(253)
  .regex(/^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/, 'not a valid domain');

/** Where a tenant's database lives. With no `url`, the configured `urlTemplate` is used. */
export const TenantDatabaseSchema = z.object({
  url: z.string().min(1).optional(),
  authToken: z.string().min(1).optional(),
});

/** A tenant as the registry (control plane) stores it. */
export const TenantRecordSchema = z.object({
  id: TenantIdSchema,
  slug: TenantIdSchema.optional(),
  domains: z.array(DomainSchema),
  plan: TenantPlanSchema,
  region: TenantRegionSchema.optional(),
  status: TenantStatusSchema,
  db: TenantDatabaseSchema,
  quotas: TenantQuotaSchema.optional(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
/** A stored tenant. */
export type TenantRecord = z.infer<typeof TenantRecordSchema>;

/**
 * What `registry.put()` accepts: a record whose `domains`, `plan`, `status`, `db`, `createdAt`
 * and `updatedAt` may be left out (defaults: `[]`, `free`, `active`, `{}`, now, now).
 */
export const TenantRecordInputSchema = TenantRecordSchema.extend({
  domains: z.array(DomainSchema).optional(),
  plan: TenantPlanSchema.optional(),
  status: TenantStatusSchema.optional(),
  db: TenantDatabaseSchema.optional(),
  createdAt: z.iso.datetime().optional(),
  updatedAt: z.iso.datetime().optional(),
});
/** Input of `registry.put()`. */
export type TenantRecordInput = z.input<typeof TenantRecordInputSchema>;

/** The protocol's `TenantProvisioningRequest`. */
export const TenantProvisioningRequestSchema = z.object({
  orgId: z.string().min(1),
  plan: TenantPlanSchema.default('free'),
  region: TenantRegionSchema.default('us-east'),
  displayName: z.string().optional(),
  adminEmail: z.email().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
/** A request to provision a tenant. */
export type TenantProvisioningRequest = z.input<typeof TenantProvisioningRequestSchema>;

/** The protocol's `ProvisioningStep`. */
export const ProvisioningStepSchema = z.object({
  name: z.string(),
  status: z.enum(['pending', 'running', 'completed', 'failed', 'skipped']),
  startedAt: z.iso.datetime().optional(),
  completedAt: z.iso.datetime().optional(),
  durationMs: z.number().nonnegative().optional(),
  error: z.string().optional(),
});
/** One step of provisioning. */
export type ProvisioningStep = z.infer<typeof ProvisioningStepSchema>;

/** The protocol's `TenantProvisioningResult`. */
export const TenantProvisioningResultSchema = z.object({
  tenantId: z.string(),
  connectionUrl: z.string(),
  status: TenantStatusSchema,
  region: TenantRegionSchema,
  plan: TenantPlanSchema,
  steps: z.array(ProvisioningStepSchema),
  totalDurationMs: z.number().nonnegative().optional(),
  provisionedAt: z.iso.datetime().optional(),
  error: z.string().optional(),
});
/** The outcome of provisioning a tenant. */
export type TenantProvisioningResult = z.infer<typeof TenantProvisioningResultSchema>;

/** The protocol's `TursoMultiTenantConfig`. */
export const TursoMultiTenantConfigSchema = z.object({
  organizationSlug: z.string().min(1),
  urlTemplate: z.string().min(1),
  groupAuthToken: z.string().min(1),
  tenantResolverStrategy: z.enum(['header', 'subdomain', 'path', 'token', 'lookup']).default('header'),
  group: z
    .object({
      name: z.string().min(1),
      primaryLocation: z.string().min(1),
      replicaLocations: z.array(z.string()).default([]),
      schemaDatabase: z.string().optional(),
    })
    .optional(),
  lifecycle: z
    .object({
      onTenantCreate: z
        .object({
          autoCreate: z.boolean().default(true),
          group: z.string().optional(),
          applyGroupSchema: z.boolean().default(true),
          seedData: z.boolean().default(false),
        })
        .optional(),
      onTenantDelete: z
        .object({
          immediate: z.boolean().default(false),
          gracePeriodHours: z.number().int().nonnegative().default(72),
          createBackup: z.boolean().default(true),
        })
        .optional(),
      onTenantSuspend: z
        .object({
          revokeTokens: z.boolean().default(true),
          readOnly: z.boolean().default(true),
        })
        .optional(),
    })
    .optional(),
  maxCachedConnections: z.number().int().positive().default(100),
  connectionCacheTTL: z.number().int().positive().default(300),
});
/** The protocol's Turso multi-tenant configuration, as a user writes it. */
export type TursoMultiTenantConfig = z.input<typeof TursoMultiTenantConfigSchema>;
