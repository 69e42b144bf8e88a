/**
 * The notes API: a small Hono app on tenantry's embedded defaults. Each tenant's notes live
 * in that tenant's own libSQL database file.
 */
import { Hono } from 'hono';
import { createTenantry, fromHeader, fromJwt, fromSubdomain, getTenant, getTenantClient } from 'tenantry';
import type { Tenantry } from 'tenantry';
import { quota, tenancy, tenantryErrorHandler } from 'tenantry/hono';

/** Demo tenants created on first run. */
export const DEMO_TENANTS = [
  { id: 'acme', plan: 'pro' as const, note: 'Acme: ship the rocket skates' },
  { id: 'globex', plan: 'free' as const, note: 'Globex: hire a new henchman' },
];

/** Options of the notes example. */
export interface NotesOptions {
  /** Where the control plane and tenant databases live. Default `./.tenantry`. */
  dataDir?: string;
  /** HS256 secret of the demo tokens (dev only). */
  jwtSecret: string;
}

/** Creates the tenantry instance of the example: JWT, subdomain and header, all must agree. */
export function createNotesTenantry(options: NotesOptions): Tenantry {
  return createTenantry({
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    resolvers: [
      // required: false, so that the subdomain and header examples work without a token too;
      // an app whose users always sign in keeps the default (a missing token is INVALID_TOKEN).
      fromJwt({ secret: options.jwtSecret, algorithms: ['HS256'], issuer: 'notes-example', audience: 'notes-api', required: false }),
      fromSubdomain({ baseDomains: ['localhost'] }),
      fromHeader(),
    ],
    // free: 30 requests a minute and 10 notes; pro: more; enterprise: no limits
    // every tenant database gets the notes table, and a first note of its own
    provisioning: {
      migrations: [{ id: '0001_notes', sql: "create table notes (id integer primary key, text text not null, created_at text not null default (datetime()));" }],
      seed: async (db, tenantId) => {
        const note = DEMO_TENANTS.find((t) => t.id === tenantId)?.note ?? `Welcome, ${tenantId}`;
        await db.execute({ sql: 'insert into notes (text) values (?)', args: [note] });
      },
    },
    plans: {
      free: { apiRateLimit: 30, maxRecordsPerObject: 10 },
      pro: { apiRateLimit: 600, maxRecordsPerObject: 10_000 },
      enterprise: {},
    },
  });
}

/** Creates the two demo tenants through provisioning, once: database, migrations, seed note. */
export async function seedDemoTenants(tenantry: Tenantry): Promise<void> {
  for (const tenant of DEMO_TENANTS) {
    const result = await tenantry.provisioning.provisionTenant({ orgId: tenant.id, plan: tenant.plan });
    if (result.status !== 'active') throw new Error(`provisioning ${tenant.id} failed: ${result.error ?? result.status}`);
  }
}

/** The Hono app. */
export function createNotesApp(tenantry: Tenantry): Hono {
  const app = new Hono();
  app.onError(tenantryErrorHandler());
  app.get('/health', (c) => c.json({ ok: true }));
  app.use('*', tenancy(tenantry, { exclude: ['/health'] }));

  app.get('/me', (c) => {
    const { tenantId, tenantPlan, tenantQuotas, source } = getTenant();
    return c.json({ tenantId, tenantPlan, tenantQuotas, source });
  });

  app.get('/notes', async (c) => {
    const db = await getTenantClient();
    const { rows } = await db.execute('select id, text, created_at from notes order by id');
    return c.json({ tenant: c.var.tenant.tenantId, notes: rows });
  });

  app.get('/usage', async (c) => c.json(await tenantry.quota.usage()));

  // the 11th note of a free tenant is refused with 403 QUOTA_EXCEEDED before the handler runs
  app.post('/notes', quota('maxRecordsPerObject', { object: 'notes' }), async (c) => {
    const body = await c.req.json<{ text?: unknown }>().catch(() => ({ text: undefined }));
    if (typeof body.text !== 'string' || body.text.length === 0 || body.text.length > 1000) {
      return c.json({ error: 'text must be a string of 1 to 1000 characters' }, 400);
    }
    const db = await getTenantClient();
    const result = await db.execute({ sql: 'insert into notes (text) values (?) returning id', args: [body.text] });
    return c.json({ id: result.rows[0]?.['id'] }, 201);
  });

  return app;
}
