/**
 * Platform clients: the protocol's `ITursoPlatformService` contract, the local platform
 * (Node only: files and locally minted tokens) and the platform error helpers. The Turso
 * Platform API client is the `tenantry/turso` entry (`src/turso/index.ts`).
 */
export { DATABASE_NAME_PATTERN, assertDatabaseName } from './types.js';
export type { CreateDatabaseInput, CreateTokenOptions, ITursoPlatformService, PlatformDatabase, PlatformUsage } from './types.js';
export { localPlatform } from './local.js';
export type { LocalPlatform, LocalPlatformOptions, LocalPublicKey, LocalTokenClaims } from './local.js';
export { PlatformResponseError, isPlatformConflict, platformErrorStatus } from './turso.js';
