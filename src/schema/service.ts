/**
 * `tenantry.schema`: the protocol's `ISchemaDiffService` over the tenant databases of one
 * tenantry instance. Tenant clients come from the instance's pool, leased per operation.
 */
import type { Client } from '@libsql/client';
import { TenantryError } from '../errors/index.js';
import { applyMigrationPlan } from './apply.js';
import { diffSchemas } from './diff.js';
import { generateMigrations } from './generate.js';
import { introspectDatabase } from './introspect.js';
import type { DeployDiff, DesiredSchema, ISchemaDiffService, IntrospectedSchema, MigrationApplyResult, MigrationPlan, SchemaDefinition } from './types.js';

/** A tenant's database as the service reaches it (a tenant scope of the instance). */
export interface SchemaTenantHandle {
  /** True when the tenant may only be read (suspended, served read-only). */
  readonly readOnly: boolean;
  /** The tenant's client; each operation leases the pooled client. */
  client(): Promise<Client>;
}

/** What a {@link SchemaService} needs from its tenantry instance. */
export interface SchemaServiceDeps {
  /** Opens tenant `tenantId`: rejects with the coded errors a request would get (not found, suspended, ...). */
  open(tenantId: string): Promise<SchemaTenantHandle>;
  /** Millisecond clock of `introspectedAt`. Default `Date.now`. */
  now?: () => number;
}

/**
 * The protocol's `ISchemaDiffService`, tenant by tenant: `introspect(tenantId)`,
 * `diff(current, desired)`, `generateMigrations(diff)`, `applyMigrations(tenantId, plan)`.
 * `diff` and `generateMigrations` are pure; the other two use the tenant's pooled client, so
 * the tenant must be active (a suspended tenant served read-only can be introspected).
 *
 * @example
 * const current = await tenantry.schema.introspect('acme');
 * const plan = tenantry.schema.generateMigrations(tenantry.schema.diff(current, bundle));
 * if (!plan.destructive) await tenantry.schema.applyMigrations('acme', plan);
 */
export class SchemaService implements ISchemaDiffService {
  readonly #deps: SchemaServiceDeps;

  /** Built by `createTenantry()`; use `tenantry.schema`. */
  constructor(deps: SchemaServiceDeps) {
    this.#deps = deps;
  }

  /**
   * The schema of tenant `tenantId`'s database: its tables (not `sqlite_*`, `_tenantry_*`,
   * virtual or shadow tables), columns, unique constraints and indexes. One read batch.
   */
  async introspect(tenantId: string): Promise<IntrospectedSchema> {
    const handle = await this.#deps.open(tenantId);
    const options = this.#deps.now === undefined ? {} : { now: this.#deps.now };
    return introspectDatabase(await handle.client(), options);
  }

  /**
   * What differs between `current` (from {@link SchemaService.introspect}) and `desired` (a
   * bundle, a manifest or a schema definition). Renames only where `renamedFrom` says so.
   * Throws a `SchemaError` (`INVALID_BUNDLE` / `INVALID_SCHEMA`) naming each invalid path.
   */
  diff(current: SchemaDefinition, desired: DesiredSchema): DeployDiff {
    return diffSchemas(current, desired);
  }

  /**
   * The ordered statements that carry out `diff`, each with `destructive` and a description.
   * Throws `UNSUPPORTED_CHANGE` when a needed table rebuild would lose parts of the table.
   */
  generateMigrations(diff: DeployDiff): MigrationPlan {
    return generateMigrations(diff);
  }

  /**
   * Runs `plan` on tenant `tenantId`'s database in one transaction, after checking the schema
   * is still the one the plan was made from. On failure nothing is changed and a `SchemaError`
   * names the tenant, object and field (see `applyMigrationPlan`).
   */
  async applyMigrations(tenantId: string, plan: MigrationPlan): Promise<MigrationApplyResult> {
    const handle = await this.#deps.open(tenantId);
    if (handle.readOnly) {
      throw new TenantryError('TENANT_SUSPENDED', `tenant "${tenantId}" is suspended: its schema cannot be changed until it is resumed`);
    }
    return applyMigrationPlan(await handle.client(), plan, { tenantId });
  }
}
