/**
 * The deploy step of the multi-instance example: creates (or upgrades) the registry tables in
 * PostgreSQL. Idempotent, and safe when several deploys run it at once.
 *
 *   npx tsx examples/multi-instance/migrate.ts
 */
import { DEFAULT_DATABASE_URL, DEFAULT_SCHEMA, controlPlane } from './app.js';

const settings = { databaseUrl: process.env['DATABASE_URL'] || DEFAULT_DATABASE_URL, schema: process.env['TENANTRY_SCHEMA'] || DEFAULT_SCHEMA };
const registry = controlPlane(settings);
try {
  await registry.migrate();
  console.log(`control plane ready: schema ${settings.schema}`);
} finally {
  await registry.close();
}
