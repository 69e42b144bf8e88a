/**
 * `npm start`: the notes API on http://localhost:3000 with two demo tenants.
 */
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { createNotesApp, createNotesTenantry, seedDemoTenants } from './app.js';

const port = Number(process.env['PORT'] ?? 3000);
// Dev only: a real deployment verifies tokens from its identity provider (jwksUrl).
const jwtSecret = process.env['NOTES_JWT_SECRET'] ?? 'notes-example-dev-secret-change-me-0123456789';

const tenantry = createNotesTenantry({ jwtSecret, ...(process.env['TENANTRY_DATA_DIR'] ? { dataDir: process.env['TENANTRY_DATA_DIR'] } : {}) });
await seedDemoTenants(tenantry);
const app = createNotesApp(tenantry);

const token = await new SignJWT({ tenant_id: 'acme' })
  .setProtectedHeader({ alg: 'HS256' })
  .setIssuer('notes-example')
  .setAudience('notes-api')
  .setExpirationTime('1h')
  .sign(new TextEncoder().encode(jwtSecret));

const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info: AddressInfo) => {
  const base = `http://localhost:${info.port}`;
  console.log(`notes API on ${base} (data in ${tenantry.dataDir})\n`);
  console.log('Try:');
  console.log(`  curl ${base.replace('localhost', 'acme.localhost')}/notes                  # subdomain`);
  console.log(`  curl -H 'x-tenant-id: globex' ${base}/notes              # header`);
  console.log(`  curl -H 'authorization: Bearer ${token}' ${base}/notes   # JWT (acme, 1 h)`);
  console.log(`  curl -X POST -H 'x-tenant-id: acme' -H 'content-type: application/json' -d '{"text":"hello"}' ${base}/notes`);
  console.log(`  curl -H 'x-tenant-id: nobody' ${base}/notes              # 404 problem+json`);
});

const stop = async (): Promise<void> => {
  server.close();
  await tenantry.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
