/**
 * Helpers of the schema tests: a fresh libSQL file per test, the introspect → diff → generate →
 * apply → introspect round trip, and a comparable shape of a schema.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@libsql/client';
import type { Client } from '@libsql/client';
import { expect } from 'vitest';
import {
  applyMigrationPlan,
  diffSchemas,
  generateMigrations,
  introspectDatabase,
  schemaFingerprint,
  schemaFromManifest,
} from '../../src/schema/index.js';
import type { DeployDiff, DesiredSchema, MigrationPlan, SchemaDefinition } from '../../src/schema/index.js';
import { desiredDefinition } from '../../src/schema/diff.js';

let count = 0;

/** A client on a new database file in `dir`. */
export function freshDatabase(dir: string): Client {
  return createClient({ url: pathToFileURL(join(dir, `db-${count++}.db`)).href });
}

/**
 * Tables with columns and indexes sorted by name, without `renamedFrom`, `fieldType` or
 * introspection-only fields: what two equal schemas share.
 */
export function shape(schema: SchemaDefinition): unknown {
  return Object.values(schema.tables)
    .map((t) => ({
      name: t.name,
      columns: t.columns
        .map((c) => ({
          name: c.name,
          type: c.type,
          nullable: c.nullable,
          defaultValue: c.defaultValue ?? null,
          primaryKey: c.primaryKey,
          unique: c.unique,
        }))
        .sort((a, b) => a.name.localeCompare(b.name)),
      indexes: t.indexes.map((i) => ({ name: i.name, columns: i.columns, unique: i.unique })).sort((a, b) => a.name.localeCompare(b.name)),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * introspect → diff → generate → apply → introspect, asserting the database then has exactly
 * the desired schema and that a second diff finds nothing to do.
 */
export async function roundTrip(client: Client, desired: DesiredSchema): Promise<{ diff: DeployDiff; plan: MigrationPlan }> {
  const diff = diffSchemas(await introspectDatabase(client), desired);
  const plan = generateMigrations(diff);
  const result = await applyMigrationPlan(client, plan);
  expect(result).toMatchObject({ success: true, statementsExecuted: plan.statements.length });
  const after = await introspectDatabase(client);
  const want = desiredDefinition(desired);
  expect(shape(after)).toEqual(shape(want));
  expect(schemaFingerprint(after)).toBe(diff.targetFingerprint);
  const again = diffSchemas(after, desired);
  expect(again.changes).toEqual([]);
  expect(generateMigrations(again).statements).toEqual([]);
  return { diff, plan };
}

/** A manifest of `objects` (version 1). */
export function manifest(objects: unknown[]): DesiredSchema {
  return { version: '1.0.0', objects } as DesiredSchema;
}

export { schemaFromManifest };
