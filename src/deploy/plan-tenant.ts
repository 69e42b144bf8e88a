/**
 * Planning one tenant: read its deploy scope (its own tables, not those of installed apps),
 * diff it with the bundle, generate the plan, the seed rows for the objects the plan creates,
 * and the way back.
 */
import type { Client } from '@libsql/client';
import type { DeployBundle } from '../schema/bundle.js';
import { schemaFingerprint } from '../schema/definition.js';
import { diffSchemas } from '../schema/diff.js';
import { generateMigrations } from '../schema/generate.js';
import { quoteIdent, quoteString } from '../schema/sql.js';
import type { MigrationPlan, SchemaDefinition } from '../schema/types.js';
import { errorCode } from './errors.js';
import { inverseOf } from './inverse.js';
import { appConflicts, deployScope } from './scope.js';
import type { DeployScope } from './scope.js';
import { changeLines } from './types.js';
import type { TenantDeploymentPlan } from './types.js';

/** What planning a tenant needs besides its database. */
export interface TenantPlanInput {
  tenantId: string;
  bundle: DeployBundle;
  /** The bundle's schema (`schemaFromManifest`), made once per deployment. */
  desired: SchemaDefinition;
  allowDestructive: boolean;
  /** How the tenant will be rolled back. */
  strategy: 'snapshot' | 'inverse';
}

/**
 * The plan of one tenant whose database is behind `client`, made against its deploy scope
 * ({@link deployScope}). Never rejects for a schema problem: the tenant is `blocked`.
 */
export async function planTenant(client: Client, input: TenantPlanInput): Promise<{ plan: TenantDeploymentPlan; scope: DeployScope }> {
  const scope = await deployScope(client);
  return { plan: planFrom(scope, input), scope };
}

/**
 * {@link planTenant} for a scope already read. A bundle declaring a name an installed app holds
 * (object, `renamedFrom`, index) is `blocked` with `OBJECT_CONFLICT`.
 */
export function planFrom(scope: DeployScope, input: TenantPlanInput): TenantDeploymentPlan {
  const current = scope.schema;
  const objects = { current: Object.keys(current.tables).length, target: Object.keys(input.desired.tables).length };
  const base = { tenantId: input.tenantId, objects, seed: [] as string[] };
  const noPlan = (code: string, message: string): TenantDeploymentPlan => {
    const fingerprint = schemaFingerprint(current);
    return {
      ...base,
      status: 'blocked',
      plan: { statements: [], dialect: 'sqlite', reversible: true, destructive: false, baseFingerprint: fingerprint, targetFingerprint: fingerprint },
      sql: [],
      changes: [],
      rollback: { strategy: input.strategy, lossless: false, reason: 'no plan' },
      error: { code, message },
    };
  };
  const conflict = appConflicts(input.desired, scope);
  if (conflict !== undefined) {
    return noPlan(
      'OBJECT_CONFLICT',
      `tenant "${input.tenantId}": ${conflict}; a deploy bundle cannot declare what an app owns: give the bundle's another name, or change the app's through tenantry.apps.upgradeApp`,
    );
  }
  let plan: MigrationPlan;
  let diff: ReturnType<typeof diffSchemas>;
  try {
    diff = diffSchemas(current, input.desired);
    plan = generateMigrations(diff);
  } catch (err) {
    return noPlan(errorCode(err), err instanceof Error ? err.message : String(err));
  }
  const changes = changeLines(diff.changes);
  const sqlOf = plan.statements.map((s) => s.sql);
  if (plan.statements.length === 0) {
    return { ...base, status: 'unchanged', plan, sql: [], changes, rollback: { strategy: input.strategy, lossless: true } };
  }
  const inverse = inverseOf(current, input.desired, diff, plan);
  const rollback = { strategy: input.strategy, ...inverse };
  if (plan.destructive && !input.allowDestructive) {
    const breaking = changes.filter((c) => c.breaking).map((c) => c.description);
    return {
      ...base,
      status: 'blocked',
      plan,
      sql: sqlOf,
      changes,
      rollback,
      error: {
        code: 'DESTRUCTIVE_CHANGE',
        message: `tenant "${input.tenantId}": the bundle would lose data (${breaking.join('; ')}); deploy with allowDestructive to accept it`,
      },
    };
  }
  const seed = seedStatements(input.bundle, new Set(diff.objects.added.map((t) => t.name)));
  return { ...base, status: 'ready', plan, seed, sql: [...sqlOf, ...seed], changes, rollback };
}

/** `INSERT`s of the bundle's seed rows for the objects in `created` (rows of other objects are not inserted again). */
export function seedStatements(bundle: DeployBundle, created: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const [object, rows] of Object.entries(bundle.seed ?? {})) {
    if (!created.has(object)) continue;
    for (const row of rows) {
      const keys = Object.keys(row);
      if (keys.length === 0) {
        out.push(`INSERT INTO ${quoteIdent(object)} DEFAULT VALUES`);
        continue;
      }
      out.push(`INSERT INTO ${quoteIdent(object)} (${keys.map(quoteIdent).join(', ')}) VALUES (${keys.map((k) => literal(row[k]!)).join(', ')})`);
    }
  }
  return out;
}

function literal(value: string | number | boolean | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return quoteString(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (!Number.isFinite(value)) throw new TypeError(`seed values must be finite numbers (got ${String(value)})`);
  return Object.is(value, -0) ? '0' : String(value);
}
