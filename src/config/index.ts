/**
 * Public options of `createTenantry()` and the one function that turns them into a resolved
 * configuration. Every option is checked here, when the factory runs, with a `TypeError` that
 * names the option.
 */
import type { Client } from '@libsql/client';
import { TenantryError } from '../errors/index.js';
import { TENANT_ID_PATTERN, TenantQuotaSchema, TenantPlanSchema } from '../protocol/index.js';
import type { KernelContext, TenantPlan, TenantQuota } from '../protocol/index.js';
import { resolveQuotaOptions } from '../quota/options.js';
import type { QuotaOptions, ResolvedQuotaOptions } from '../quota/options.js';
import type { QuotaStore } from '../quota/types.js';
import type { ITursoPlatformService } from '../platform/types.js';
import { resolveProvisioningOptions } from '../provisioning/options.js';
import type { ProvisioningOptions, ResolvedProvisioningOptions } from '../provisioning/options.js';
import { parseSecretKey } from '../registry/encrypted.js';
import type { InvalidationBus } from '../registry/invalidation.js';
import type { TenantRegistry } from '../registry/types.js';
import type { TenantResolver } from '../router/types.js';
import { KEEP_CLIENTS_DEFAULT, checkRuntimeOptions } from '../node/runtime.js';

/** Options of the database client pool. */
export interface DatabaseOptions {
  /**
   * URL of a tenant's database when its record has no `db.url`; `{tenant}` or `{tenant_id}`
   * stands for the tenant id. Default: `file:<dataDir>/tenants/{tenant}.db`.
   * @example 'libsql://{tenant}-myorg.turso.io'
   */
  urlTemplate?: string;
  /** Auth token used when a record has no `db.authToken` (e.g. a Turso group token). */
  authToken?: string;
  /** Clients kept open at most (idle ones are closed least-recently-used first). Default 100. */
  maxClients?: number;
  /** A client unused for this long is closed. Default 300 000 ms (5 min). */
  idleTtlMs?: number;
  /**
   * Keep clients open between operations and requests (the pool). With `false`, each database
   * operation (a transaction: for its whole life) opens a client of its own and closes it when
   * it ends, so no client outlives the request that made it: what Cloudflare Workers require
   * (I/O must not be shared across requests). Cheap over `libsql:`/`https:` (one HTTP request
   * per operation either way); `maxClients` and `idleTtlMs` then do not apply.
   * Default `true` on Node, `false` in the edge build (`workerd`, `edge-light`, `browser`
   * export conditions).
   */
  keepClients?: boolean;
}

/** Options of the registry lookup cache. */
export interface CacheOptions {
  /** Cached lookups at most. Default 10 000. */
  max?: number;
  /** How long a looked-up record is served without asking the registry. Default 30 000 ms. */
  ttlMs?: number;
  /** How long "no such tenant" is remembered. Default 5 000 ms. */
  negativeTtlMs?: number;
  /**
   * While the registry fails, a cached record is still served for this long past its TTL;
   * after that requests get `TENANT_UNAVAILABLE`. Default 300 000 ms.
   */
  staleIfErrorMs?: number;
}

/** Options of `createTenantry()`. All optional: with none, everything runs embedded. */
export interface TenantryOptions {
  /**
   * Resolvers, run in order on every request; all that find a tenant must agree.
   * Default: `[fromHeader()]` (the `x-tenant-id` header).
   */
  resolvers?: TenantResolver[];
  /**
   * Where tenant records live. Default: a libSQL file registry at
   * `<dataDir>/control-plane.db`.
   */
  registry?: TenantRegistry;
  /** Folder of the embedded defaults (control plane and tenant files). Default `./.tenantry`. */
  dataDir?: string;
  /** Tenant database connections and the client pool. */
  databases?: DatabaseOptions;
  /** The registry lookup cache. */
  cache?: CacheOptions;
  /**
   * Quotas per plan; a tenant record's `quotas` override its plan's. When given, every plan
   * (`free`, `pro`, `enterprise`) must be declared: `{}` means no limits. Default: no limits.
   * `apiRateLimit` is enforced on every request by the adapters; the others by
   * `tenantry.quota.enforce()` and the `quota()` middleware.
   */
  plans?: Partial<Record<TenantPlan, TenantQuota>>;
  /** Where quota counters live. Default `memoryQuotaStore()` (per process). */
  quotaStore?: QuotaStore;
  /** Quota enforcement settings: fail modes, timeouts, gauges, headers. */
  quotas?: QuotaOptions;
  /**
   * The platform client that creates and deletes tenant databases and their tokens:
   * `tursoPlatform(...)` from `tenantry/turso`, or your own `ITursoPlatformService`.
   * Default: `localPlatform()` (files under `<dataDir>/tenants`) when tenant databases use
   * the embedded default; with your own `databases.urlTemplate` and no platform,
   * provisioning is refused with a `TypeError` (nothing is created in the wrong place).
   */
  platform?: ITursoPlatformService;
  /** Provisioning and lifecycle settings: migrations, seed data, grace period, tokens. */
  provisioning?: ProvisioningOptions;
  /**
   * 32-byte key (a `Uint8Array`, or base64 / base64url) that encrypts tenant database tokens
   * in the registry (JWE `dir` + `A256GCM`). Without it tokens are stored as plaintext:
   * anyone who can read the control plane can open every tenant database.
   */
  secretKey?: string | Uint8Array;
  /**
   * Cross-instance invalidation: when any instance changes a tenant, every instance drops its
   * cached record and pooled clients. `redisInvalidationBus({ client })` from `tenantry/redis`.
   * Default: none (changes made elsewhere are seen when cached records expire, `cache.ttlMs`).
   */
  invalidation?: InvalidationBus;
  /** Tenant used when no resolver finds one (instead of `TENANT_NOT_RESOLVED`). */
  defaultTenant?: string;
  /**
   * Trust `X-Forwarded-Host` for host-based resolvers. Only behind a proxy that sets it.
   * Default false.
   */
  trustProxy?: boolean;
  /**
   * What a suspended tenant gets: `'deny'` (403 `TENANT_SUSPENDED`, the default) or
   * `'read-only'` (GET, HEAD and OPTIONS pass with a client that refuses writes).
   */
  suspendedAccess?: 'deny' | 'read-only';
  /** `Retry-After` seconds for tenants being provisioned or destroyed. Default 30. */
  unavailableRetryAfterSeconds?: number;
  /** KernelContext `mode`. Default from `NODE_ENV` (`production`, `test`, else `development`). */
  mode?: KernelContext['mode'];
  /** KernelContext `version`: your application's version. Default `'0.0.0'`. */
  version?: string;
  /** KernelContext `features` flags. Default `{}`. */
  features?: Record<string, boolean>;
  /** Millisecond clock for caches and TTLs (tests drive it). Default `Date.now`. */
  now?: () => number;
  /** Creates a libSQL client (advanced: wrap or instrument clients). Default `@libsql/client`. */
  createClient?: (config: { url: string; authToken?: string }) => Client;
}

/** Options after validation and defaults. */
export interface ResolvedConfig {
  resolvers: readonly TenantResolver[];
  registry: TenantRegistry | undefined;
  dataDir: string | undefined;
  urlTemplate: string | undefined;
  authToken: string | undefined;
  maxClients: number;
  idleTtlMs: number;
  keepClients: boolean;
  cache: Required<CacheOptions>;
  plans: Partial<Record<TenantPlan, TenantQuota>>;
  quota: ResolvedQuotaOptions;
  platform: ITursoPlatformService | undefined;
  provisioning: ResolvedProvisioningOptions;
  secretKey: Uint8Array | undefined;
  invalidation: InvalidationBus | undefined;
  defaultTenant: string | undefined;
  trustProxy: boolean;
  suspendedAccess: 'deny' | 'read-only';
  unavailableRetryAfterSeconds: number;
  mode: KernelContext['mode'];
  version: string;
  features: Record<string, boolean>;
  now: () => number;
  createClient: ((config: { url: string; authToken?: string }) => Client) | undefined;
}

const PLACEHOLDER = /\{tenant(?:_id)?\}/;

const OPTION_KEYS: ReadonlySet<string> = new Set([
  'resolvers', 'registry', 'dataDir', 'databases', 'cache', 'plans', 'defaultTenant', 'trustProxy',
  'suspendedAccess', 'unavailableRetryAfterSeconds', 'mode', 'version', 'features', 'now', 'createClient',
  'quotaStore', 'quotas', 'platform', 'provisioning', 'secretKey', 'invalidation',
] satisfies (keyof TenantryOptions)[]);
const DATABASE_KEYS: ReadonlySet<string> = new Set(['urlTemplate', 'authToken', 'maxClients', 'idleTtlMs', 'keepClients'] satisfies (keyof DatabaseOptions)[]);
const CACHE_KEYS: ReadonlySet<string> = new Set(['max', 'ttlMs', 'negativeTtlMs', 'staleIfErrorMs'] satisfies (keyof CacheOptions)[]);
const URL_SCHEMES = /^(?:file|libsql|http|https|ws|wss):/;

/**
 * Validates `options` and fills in defaults. Throws a `TypeError` naming the bad option;
 * unknown option names are refused too (a misspelt `database` must not silently fall back to
 * the embedded defaults).
 */
export function resolveConfig(options: TenantryOptions, defaultResolvers: () => TenantResolver[]): ResolvedConfig {
  if (options === null || typeof options !== 'object') throw new TypeError('createTenantry: options must be an object');
  refuseUnknownKeys(options, OPTION_KEYS, '');
  const databases = optionalObject(options.databases, 'databases') ?? {};
  refuseUnknownKeys(databases, DATABASE_KEYS, 'databases.');
  const cache = optionalObject(options.cache, 'cache') ?? {};
  refuseUnknownKeys(cache, CACHE_KEYS, 'cache.');
  const mode = options.mode ?? modeFromEnv();
  if (mode !== 'development' && mode !== 'production' && mode !== 'test') {
    throw new TypeError("createTenantry: mode must be 'development', 'production' or 'test'");
  }
  if (mode === 'production' && options.resolvers === undefined) {
    throw new TypeError(
      'createTenantry: resolvers are required in production mode (the default header resolver lets any client name any tenant)',
    );
  }

  const resolvers = options.resolvers ?? defaultResolvers();
  if (!Array.isArray(resolvers)) throw new TypeError('createTenantry: resolvers must be an array of resolvers');
  resolvers.forEach((r, i) => {
    if (r === null || typeof r !== 'object' || typeof r.resolve !== 'function' || typeof r.name !== 'string') {
      throw new TypeError(`createTenantry: resolvers[${i}] must be an object with a name and a resolve() function`);
    }
  });

  const registry = options.registry;
  if (registry !== undefined) {
    for (const method of ['get', 'findBySlug', 'findByDomain', 'list', 'put', 'delete'] as const) {
      if (typeof registry[method] !== 'function') throw new TypeError(`createTenantry: registry.${method} must be a function`);
    }
  }

  const urlTemplate = optionalString(databases.urlTemplate, 'databases.urlTemplate');
  if (urlTemplate !== undefined && !PLACEHOLDER.test(urlTemplate)) {
    throw new TypeError('createTenantry: databases.urlTemplate must contain {tenant} or {tenant_id}');
  }
  if (urlTemplate !== undefined && !URL_SCHEMES.test(urlTemplate)) {
    throw new TypeError('createTenantry: databases.urlTemplate must start with file:, libsql:, http:, https:, ws: or wss:');
  }

  const plans = optionalObject(options.plans, 'plans') ?? {};
  for (const [plan, quota] of Object.entries(plans)) {
    if (!TenantPlanSchema.safeParse(plan).success) {
      throw new TypeError(`createTenantry: plans.${plan} is not a plan (free, pro, enterprise)`);
    }
    const parsed = TenantQuotaSchema.strict().safeParse(quota);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new TypeError(`createTenantry: plans.${plan}.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid quota'}`);
    }
  }

  const planNames = TenantPlanSchema.options;
  if (Object.keys(plans).length > 0) {
    for (const plan of planNames) {
      if (plans[plan] === undefined) {
        throw new TypeError(`createTenantry: plans.${plan} is missing: declare every plan ({} means no limits)`);
      }
    }
  }
  const quota = resolveQuotaOptions(options.quotaStore, options.quotas);
  if (quota.users === undefined && planNames.some((plan) => plans[plan]?.maxUsers !== undefined)) {
    throw new TypeError('createTenantry: a plan sets maxUsers, so quotas.users (a function counting a tenant\'s users) is required');
  }

  const defaultTenant = optionalString(options.defaultTenant, 'defaultTenant');
  if (defaultTenant !== undefined && !TENANT_ID_PATTERN.test(defaultTenant)) {
    throw new TypeError('createTenantry: defaultTenant is not a valid tenant id');
  }

  const suspendedAccess = options.suspendedAccess ?? 'deny';
  if (suspendedAccess !== 'deny' && suspendedAccess !== 'read-only') {
    throw new TypeError("createTenantry: suspendedAccess must be 'deny' or 'read-only'");
  }
  if (options.now !== undefined && typeof options.now !== 'function') throw new TypeError('createTenantry: now must be a function');
  if (options.createClient !== undefined && typeof options.createClient !== 'function') {
    throw new TypeError('createTenantry: createClient must be a function');
  }
  const features = optionalObject(options.features, 'features') ?? {};
  for (const [name, on] of Object.entries(features)) {
    if (typeof on !== 'boolean') throw new TypeError(`createTenantry: features.${name} must be a boolean`);
  }

  // the edge build refuses options that need a file system (a no-op on Node)
  checkRuntimeOptions({
    dataDir: options.dataDir,
    urlTemplate,
    migrationsFolder: typeof options.provisioning?.migrations === 'string' ? options.provisioning.migrations : undefined,
  });

  return {
    resolvers: Object.freeze([...resolvers]),
    registry,
    dataDir: optionalString(options.dataDir, 'dataDir'),
    urlTemplate,
    authToken: optionalString(databases.authToken, 'databases.authToken'),
    maxClients: integer(databases.maxClients, 'databases.maxClients', 100, 1),
    idleTtlMs: integer(databases.idleTtlMs, 'databases.idleTtlMs', 300_000, 1),
    keepClients: boolean(databases.keepClients, 'databases.keepClients', KEEP_CLIENTS_DEFAULT),
    cache: {
      max: integer(cache.max, 'cache.max', 10_000, 1),
      ttlMs: integer(cache.ttlMs, 'cache.ttlMs', 30_000, 0),
      negativeTtlMs: integer(cache.negativeTtlMs, 'cache.negativeTtlMs', 5_000, 0),
      staleIfErrorMs: integer(cache.staleIfErrorMs, 'cache.staleIfErrorMs', 300_000, 0),
    },
    plans,
    quota,
    platform: checkPlatform(options.platform),
    provisioning: resolveProvisioningOptions(options.provisioning),
    secretKey: options.secretKey === undefined ? undefined : parseSecretKey(options.secretKey, 'secretKey'),
    invalidation: checkBus(options.invalidation),
    defaultTenant,
    trustProxy: boolean(options.trustProxy, 'trustProxy', false),
    suspendedAccess,
    unavailableRetryAfterSeconds: integer(options.unavailableRetryAfterSeconds, 'unavailableRetryAfterSeconds', 30, 0),
    mode,
    version: optionalString(options.version, 'version') ?? '0.0.0',
    features: { ...features },
    now: options.now ?? Date.now,
    createClient: options.createClient,
  };
}

/**
 * Replaces `{tenant}` / `{tenant_id}` in a URL template with the id. The id is checked again
 * here, because a record from a custom or tampered registry may carry any id, and libSQL
 * percent-decodes URL paths (`..%2Fx` would leave the folder): an id that is not a valid
 * tenant id throws `TenantryError('TENANT_UNAVAILABLE')`.
 */
export function fillTemplate(template: string, tenantId: string): string {
  if (typeof tenantId !== 'string' || !TENANT_ID_PATTERN.test(tenantId)) {
    throw new TenantryError('TENANT_UNAVAILABLE', 'the tenant record has an id that is not a valid tenant id: no database URL is built from it');
  }
  return template.replace(/\{tenant(?:_id)?\}/g, encodeURIComponent(tenantId));
}

function modeFromEnv(): KernelContext['mode'] {
  const env = typeof process === 'undefined' ? undefined : process.env?.['NODE_ENV'];
  return env === 'production' ? 'production' : env === 'test' ? 'test' : 'development';
}

function checkBus(bus: InvalidationBus | undefined): InvalidationBus | undefined {
  if (bus === undefined) return undefined;
  for (const method of ['publish', 'start', 'close'] as const) {
    if (typeof bus?.[method] !== 'function') throw new TypeError(`createTenantry: invalidation.${method} must be a function`);
  }
  return bus;
}

function checkPlatform(platform: ITursoPlatformService | undefined): ITursoPlatformService | undefined {
  if (platform === undefined) return undefined;
  for (const method of ['createDatabase', 'deleteDatabase', 'listDatabases', 'getDatabase', 'createToken', 'revokeTokens'] as const) {
    if (typeof platform?.[method] !== 'function') throw new TypeError(`createTenantry: platform.${method} must be a function`);
  }
  return platform;
}

function refuseUnknownKeys(value: object, known: ReadonlySet<string>, prefix: string): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) throw new TypeError(`createTenantry: unknown option ${prefix}${key}`);
  }
}

function optionalObject<T>(value: T | undefined, name: string): T | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`createTenantry: ${name} must be an object`);
  }
  return value;
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`createTenantry: ${name} must be a non-empty string`);
  return value;
}

function integer(value: unknown, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new TypeError(`createTenantry: ${name} must be an integer >= ${min}`);
  }
  return value;
}

function boolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`createTenantry: ${name} must be a boolean`);
  return value;
}
