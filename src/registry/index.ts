/**
 * Where tenant records live (the control plane) and the lookup cache in front of it.
 */
export type { TenantListFilter, TenantRecordUpdater, TenantRegistry } from './types.js';
export { memoryRegistry } from './memory.js';
export type { MemoryRegistryOptions } from './memory.js';
export { libsqlRegistry, LIBSQL_REGISTRY_SCHEMA_VERSION } from './libsql.js';
export type { LibsqlRegistryOptions } from './libsql.js';
export { RegistryCache } from './cache.js';
export type { LookupKind, RegistryCacheOptions, RegistryCacheStats } from './cache.js';
export { normalizeRecord } from './record.js';
