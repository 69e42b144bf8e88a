/**
 * Options of provisioning and lifecycle (`createTenantry({ platform, provisioning })`).
 */
import type { Client } from '@libsql/client';
import type { Migration } from './migrations.js';

/** Options of `createTenantry({ provisioning })`. */
export interface ProvisioningOptions {
  /**
   * Migrations every tenant database gets: applied when a tenant is provisioned (the
   * protocol's `applyGroupSchema` step) and the default of `tenantry.migrate()`. A folder of
   * `*.sql` files (ordered by name) or `[{ id, sql }]`. Default: none.
   */
  migrations?: string | readonly Migration[];
  /** Seed data for new tenants (the protocol's `seedData`): SQL, or a function given the client. Default: none. */
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
}

/** Provisioning options after validation and defaults. */
export interface ResolvedProvisioningOptions {
  migrations: string | readonly Migration[] | undefined;
  seed: ProvisioningOptions['seed'];
  gracePeriodMs: number;
  tokenExpiration: string;
  revokeTokensOnSuspend: boolean;
  databaseName: (tenantId: string) => string;
}

const KEYS: ReadonlySet<string> = new Set(['migrations', 'seed', 'gracePeriodHours', 'tokenExpiration', 'revokeTokensOnSuspend', 'databaseName']);

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
  };
}
