/**
 * `tenantry/turso`: the Turso Platform API client, for provisioning tenant databases and
 * their tokens on Turso.
 *
 * @example
 * import { createTenantry } from 'tenantry';
 * import { tursoPlatform } from 'tenantry/turso';
 *
 * const platform = tursoPlatform({
 *   organization: 'acme-corp',
 *   apiToken: process.env.TURSO_API_TOKEN!,
 *   group: 'default',
 * });
 * const tenantry = createTenantry({ platform });
 */
export { tursoPlatform, PlatformResponseError, isPlatformConflict, platformErrorStatus } from '../platform/turso.js';
export type { TursoPlatform, TursoPlatformOptions } from '../platform/turso.js';
export { DATABASE_NAME_PATTERN, assertDatabaseName } from '../platform/types.js';
export type {
  CreateDatabaseInput,
  CreateTokenOptions,
  ITursoPlatformService,
  PlatformDatabase,
  PlatformUsage,
} from '../platform/types.js';
