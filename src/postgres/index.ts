/**
 * `tenantry/postgres`: the tenant registry (control plane) in PostgreSQL.
 * Needs the optional peer dependency `pg` (≥ 8). Only this entry imports `pg`.
 *
 * @example
 * import { createTenantry } from 'tenantry';
 * import { postgresRegistry } from 'tenantry/postgres';
 *
 * const registry = postgresRegistry({ connectionString: process.env.DATABASE_URL });
 * await registry.migrate(); // once, at deploy or start-up
 * const tenantry = createTenantry({ registry });
 */
export { postgresRegistry } from './registry.js';
export type { PostgresRegistry, PostgresRegistryOptions } from './registry.js';
