/**
 * The inverse of a tenant's plan: the plan that takes the deployed schema back to the one the
 * tenant had, and whether running it loses nothing the tenant had before the deploy.
 */
import { diffSchemas } from '../schema/diff.js';
import { generateMigrations } from '../schema/generate.js';
import { foldName } from '../schema/sql.js';
import type { DeployDiff, IntrospectedSchema, MigrationPlan, SchemaDefinition, TableDefinition } from '../schema/types.js';

/** The inverse plan and whether it is lossless; `reason` says why not. */
export interface InverseInfo {
  lossless: boolean;
  inverse?: MigrationPlan;
  reason?: string;
}

/**
 * The inverse of `forward` (made from `diff` = diff(`current`, `desired`)).
 *
 * Lossless means: run after the deploy, it gives back the schema the tenant had and every value
 * the tenant had before. That holds when the deploy itself lost nothing (`forward` not
 * destructive) and the inverse narrows no type. What the inverse drops — objects, fields and
 * indexes the deploy added — did not exist before, so dropping it takes back only what was
 * written since the deploy.
 */
export function inverseOf(current: IntrospectedSchema, desired: SchemaDefinition, diff: DeployDiff, forward: MigrationPlan): InverseInfo {
  if (forward.destructive) {
    const lost = diff.changes.filter((c) => c.breaking).map((c) => c.description);
    return { lossless: false, reason: `the deploy itself loses data (${lost.join('; ')}), so no plan can bring it back` };
  }
  let inverse: MigrationPlan;
  let inverseDiff: DeployDiff;
  try {
    inverseDiff = diffSchemas(deployedSchema(current, desired, diff), previousSchema(current, diff));
    inverse = generateMigrations(inverseDiff);
  } catch (err) {
    return { lossless: false, reason: `no inverse plan can be made: ${err instanceof Error ? err.message : String(err)}` };
  }
  const narrowing = inverseDiff.objects.changed.flatMap((o) => o.fields.changed.filter((f) => f.narrowing).map((f) => `"${o.name}.${f.name}"`));
  if (narrowing.length > 0) {
    return { lossless: false, inverse, reason: `going back narrows the type of ${narrowing.join(', ')}, which may change values written since` };
  }
  if (inverse.baseFingerprint !== forward.targetFingerprint || inverse.targetFingerprint !== forward.baseFingerprint) {
    return { lossless: false, inverse, reason: 'the inverse plan does not lead back to the schema before the deploy' };
  }
  return { lossless: true, inverse };
}

/** The schema after the deploy: `desired`, carrying the parts of each table a rebuild must not lose. */
function deployedSchema(current: IntrospectedSchema, desired: SchemaDefinition, diff: DeployDiff): SchemaDefinition {
  const before = new Map(Object.values(current.tables).map((t) => [foldName(t.name), t]));
  const renamed = new Map(diff.objects.changed.flatMap((o) => (o.renamedFrom === undefined ? [] : [[foldName(o.name), foldName(o.renamedFrom)] as const])));
  const tables: Record<string, TableDefinition & { rebuildBlockers?: string[] }> = {};
  for (const [name, table] of Object.entries(desired.tables)) {
    const { renamedFrom: _from, ...rest } = table;
    const was = before.get(renamed.get(foldName(name)) ?? foldName(name));
    tables[name] = {
      ...rest,
      columns: rest.columns.map(({ renamedFrom: _c, ...column }) => column),
      ...(was === undefined || was.rebuildBlockers.length === 0 ? {} : { rebuildBlockers: [...was.rebuildBlockers] }),
    };
  }
  return { tables };
}

/** The schema before the deploy, with `renamedFrom` pointing back at the names the deploy gave. */
function previousSchema(current: IntrospectedSchema, diff: DeployDiff): SchemaDefinition {
  const tables: Record<string, TableDefinition> = {};
  const byOldName = new Map(diff.objects.changed.map((o) => [foldName(o.renamedFrom ?? o.current.name), o]));
  for (const [name, table] of Object.entries(current.tables)) {
    const { rebuildBlockers: _blockers, ...rest } = table;
    const o = byOldName.get(foldName(name));
    const fieldRenames = new Map((o?.fields.changed ?? []).flatMap((f) => (f.renamedFrom === undefined ? [] : [[foldName(f.renamedFrom), f.name] as const])));
    tables[name] = {
      ...rest,
      columns: rest.columns.map((c) => {
        const to = fieldRenames.get(foldName(c.name));
        return to === undefined ? { ...c } : { ...c, renamedFrom: to };
      }),
      ...(o?.renamedFrom === undefined ? {} : { renamedFrom: o.name }),
    };
  }
  return { tables };
}
