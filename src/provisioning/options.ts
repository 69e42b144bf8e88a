/**
 * Options of provisioning and lifecycle (`createTenantry({ platform, provisioning })`).
 */
import type { Client } from '@libsql/client';
import { TenantRegionSchema } from '../protocol/index.js';
import type { TenantRegion } from '../protocol/index.js';
import type { Migration } from './migrations.js';

/** Length of the random part of a warm database's name (base36). */
export const WARM_NAME_RANDOM_LENGTH = 12;
/** Longest `warmPool.prefix`: the name (prefix + random part) must stay within 58 characters. */
const MAX_PREFIX_LENGTH = 58 - WARM_NAME_RANDOM_LENGTH;

/**
 * Options of `createTenantry({ provisioning: { warmPool } })`: databases created ahead of
 * signups, so that `provisionTenant` does not wait for the platform to create one.
 *
 * Warm databases get `provisioning.migrations` (not the seed, which is per tenant). The
 * platform is the source of truth: on first use the pool lists the platform's databases named
 * like warm ones and leaves out those a tenant record points at, so unclaimed ones survive
 * restarts. Claims are atomic within one process only: two processes running a pool over the
 * same platform (and prefix) can claim the same warm database. Fill the pool from one process,
 * or give each process its own `prefix`.
 *
 * @example
 * createTenantry({ platform, provisioning: { migrations: './migrations', warmPool: { size: 10 } } })
 */
export interface WarmPoolOptions {
  /** Databases kept ready (an integer >= 1). Required. */
  size: number;
  /**
   * `'background'` (default): the pool is topped up to `size` at startup and after each claim,
   * one database at a time. `'manual'`: only `tenantry.provisioning.refillWarmPool()` fills it.
   */
  refill?: 'background' | 'manual';
  /**
   * Start of warm database names, which are `${prefix}` + 12 random base36 characters.
   * Lowercase letters, digits and dashes, starting with a letter or digit, at most 46
   * characters. Databases named like this on the platform are taken to be the pool's.
   * Default `'warm-'`.
   */
  prefix?: string;
  /**
   * Region the warm databases are created in. Only signups for this region are served from
   * the pool; others get a database created for them, as without a pool. Default `'us-east'`
   * (the protocol's default region).
   */
  region?: TenantRegion;
  /**
   * Called when a background refill (or rebuilding the inventory) fails; the pool tries again
   * after the next claim. Default: `console.error`.
   */
  onError?: (error: unknown) => void;
}

/** Warm pool options after validation and defaults. */
export interface ResolvedWarmPoolOptions {
  size: number;
  refill: 'background' | 'manual';
  prefix: string;
  region: TenantRegion;
  onError: (error: unknown) => void;
}

/** Options of `createTenantry({ provisioning })`. */
export interface ProvisioningOptions {
  /**
   * Migrations every tenant database gets: applied when a tenant is provisioned (the
   * protocol's `applyGroupSchema` step) and the default of `tenantry.migrate()`. A folder of
   * `*.sql` files (ordered by name) or `[{ id, sql }]`. Default: none.
   */
  migrations?: string | readonly Migration[];
  /**
   * Seed data for new tenants (the protocol's `seedData`): SQL, or a function given the client.
   * Runs once per tenant database (recorded in its `_tenantry_seed` table), so a retried
   * provisioning that reuses the database of a failed attempt seeds it only if that attempt had
   * not. Default: none.
   */
  seed?: string | ((client: Client, tenantId: string) => Promise<void>);
  /** Hours a destroyed tenant is kept before `purgeExpired()` deletes it. Default 72. */
  gracePeriodHours?: number;
  /** Lifetime of tenant database tokens, in the platform's syntax. Default `'never'`. */
  tokenExpiration?: string;
  /** Revoke a tenant's database tokens when it is suspended. Default true. */
  revokeTokensOnSuspend?: boolean;
  /**
   * Database name of a tenant. Default: the tenant id. Must return a valid database name
   * (lowercase letters, digits, dashes; at most 58 characters).
   */
  databaseName?: (tenantId: string) => string;
  /** Databases created ahead of signups (see {@link WarmPoolOptions}). Default: none. */
  warmPool?: WarmPoolOptions;
}

/** Provisioning options after validation and defaults. */
export interface ResolvedProvisioningOptions {
  migrations: string | readonly Migration[] | undefined;
  seed: ProvisioningOptions['seed'];
  gracePeriodMs: number;
  tokenExpiration: string;
  revokeTokensOnSuspend: boolean;
  databaseName: (tenantId: string) => string;
  warmPool: ResolvedWarmPoolOptions | undefined;
}

const KEYS: ReadonlySet<string> = new Set([
  'migrations',
  'seed',
  'gracePeriodHours',
  'tokenExpiration',
  'revokeTokensOnSuspend',
  'databaseName',
  'warmPool',
]);
const WARM_POOL_KEYS: ReadonlySet<string> = new Set(['size', 'refill', 'prefix', 'region', 'onError'] satisfies (keyof WarmPoolOptions)[]);
const PREFIX_PATTERN = /^[a-z0-9][a-z0-9-]*$/;

/** Validates provisioning options; throws a `TypeError` naming the option. */
export function resolveProvisioningOptions(options: ProvisioningOptions | undefined): ResolvedProvisioningOptions {
  const o = options ?? {};
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new TypeError('createTenantry: provisioning must be an object');
  for (const key of Object.keys(o)) if (!KEYS.has(key)) throw new TypeError(`createTenantry: unknown option provisioning.${key}`);
  if (o.migrations !== undefined && typeof o.migrations !== 'string' && !Array.isArray(o.migrations)) {
    throw new TypeError('createTenantry: provisioning.migrations must be a folder path or an array of { id, sql }');
  }
  if (o.seed !== undefined && typeof o.seed !== 'string' && typeof o.seed !== 'function') {
    throw new TypeError('createTenantry: provisioning.seed must be SQL or a function');
  }
  const hours = o.gracePeriodHours ?? 72;
  if (typeof hours !== 'number' || !Number.isFinite(hours) || hours < 0) {
    throw new TypeError('createTenantry: provisioning.gracePeriodHours must be a number >= 0');
  }
  const expiration = o.tokenExpiration ?? 'never';
  if (typeof expiration !== 'string' || !/^(?:never|\d+[smhdw])$/.test(expiration)) {
    throw new TypeError("createTenantry: provisioning.tokenExpiration must be 'never' or like '30d', '2w', '12h'");
  }
  if (o.revokeTokensOnSuspend !== undefined && typeof o.revokeTokensOnSuspend !== 'boolean') {
    throw new TypeError('createTenantry: provisioning.revokeTokensOnSuspend must be a boolean');
  }
  if (o.databaseName !== undefined && typeof o.databaseName !== 'function') {
    throw new TypeError('createTenantry: provisioning.databaseName must be a function');
  }
  return {
    migrations: o.migrations,
    seed: o.seed,
    gracePeriodMs: hours * 3_600_000,
    tokenExpiration: expiration,
    revokeTokensOnSuspend: o.revokeTokensOnSuspend ?? true,
    databaseName: o.databaseName ?? ((tenantId) => tenantId),
    warmPool: o.warmPool === undefined ? undefined : resolveWarmPoolOptions(o.warmPool),
  };
}

function resolveWarmPoolOptions(w: WarmPoolOptions): ResolvedWarmPoolOptions {
  if (w === null || typeof w !== 'object' || Array.isArray(w)) throw new TypeError('createTenantry: provisioning.warmPool must be an object like { size: 10 }');
  for (const key of Object.keys(w)) if (!WARM_POOL_KEYS.has(key)) throw new TypeError(`createTenantry: unknown option provisioning.warmPool.${key}`);
  if (typeof w.size !== 'number' || !Number.isSafeInteger(w.size) || w.size < 1) {
    throw new TypeError('createTenantry: provisioning.warmPool.size must be an integer >= 1');
  }
  const refill = w.refill ?? 'background';
  if (refill !== 'background' && refill !== 'manual') {
    throw new TypeError("createTenantry: provisioning.warmPool.refill must be 'background' or 'manual'");
  }
  const prefix = w.prefix ?? 'warm-';
  if (typeof prefix !== 'string' || !PREFIX_PATTERN.test(prefix) || prefix.length > MAX_PREFIX_LENGTH) {
    throw new TypeError(
      `createTenantry: provisioning.warmPool.prefix must be 1 to ${MAX_PREFIX_LENGTH} lowercase letters, digits or dashes, starting with a letter or digit`,
    );
  }
  const region = w.region ?? 'us-east';
  if (!TenantRegionSchema.safeParse(region).success) {
    throw new TypeError(`createTenantry: provisioning.warmPool.region must be one of ${TenantRegionSchema.options.join(', ')}`);
  }
  if (w.onError !== undefined && typeof w.onError !== 'function') {
    throw new TypeError('createTenantry: provisioning.warmPool.onError must be a function');
  }
  return {
    size: w.size,
    refill,
    prefix,
    region,
    onError:
      w.onError ??
      ((error) => {
        console.error('tenantry: warm pool:', error);
      }),
  };
}
