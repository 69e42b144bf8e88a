import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTenantry, fromHeader, getTenant } from '../src/index.js';
import { postgresRegistry } from '../src/postgres/index.js';
import type { PostgresRegistry } from '../src/postgres/index.js';

/** The machine's PostgreSQL (trust auth); override with TENANTRY_TEST_PG_URL. */
const PG_URL = process.env['TENANTRY_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const PG_HOST = new URL(PG_URL).hostname;
const PG_PORT = Number(new URL(PG_URL).port || 5432);

let schemas = 0;
/** A schema name of this test run; dropped by `dropSchema`. */
const freshSchema = () => `tenantry_test_${process.pid}_pg_${++schemas}`;

async function sql(text: string, args: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await client.query(text, args);
  } finally {
    await client.end();
  }
}

const dropSchema = (schema: string) => sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);

describe('postgresRegistry options', () => {
  it('needs exactly one of pool and connectionString, named in the TypeError', () => {
    expect(() => postgresRegistry({})).toThrow(TypeError);
    expect(() => postgresRegistry({})).toThrow(/pool.*connectionString/);
    const pool = new pg.Pool({ connectionString: PG_URL });
    expect(() => postgresRegistry({ pool, connectionString: PG_URL })).toThrow(/exactly one of pool and connectionString/);
    expect(() => postgresRegistry({ pool: {} as never })).toThrow(/pool must be a pg.Pool/);
    expect(() => postgresRegistry({ connectionString: '' })).toThrow(/connectionString/);
    expect(() => postgresRegistry(undefined as never)).toThrow(TypeError);
    return pool.end();
  });

  it('refuses schema and table names that are not plain lowercase identifiers', () => {
    for (const schema of ['Public', 'a"b', 'x; drop table y', '', '1abc', 'a'.repeat(64)]) {
      expect(() => postgresRegistry({ connectionString: PG_URL, schema })).toThrow(/schema must match/);
    }
    expect(() => postgresRegistry({ connectionString: PG_URL, table: 'tenants"--' })).toThrow(/table must match/);
    expect(() => postgresRegistry({ connectionString: PG_URL, table: 't'.repeat(46) })).toThrow(/table must be at most 45/);
    expect(() => postgresRegistry({ connectionString: PG_URL, now: 5 as never })).toThrow(/now/);
  });

  it('ends a pool it created on close, and leaves a passed pool open', async () => {
    const own = postgresRegistry({ connectionString: PG_URL, schema: freshSchema() });
    await own.close();
    await expect(own.list()).rejects.toThrow(/end on the pool/);
    await own.close(); // idempotent

    const pool = new pg.Pool({ connectionString: PG_URL });
    const shared = postgresRegistry({ pool });
    await shared.close();
    await expect(pool.query('select 1 as one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
    await pool.end();
  });
});

describe('postgresRegistry migrate()', () => {
  let schema: string;
  let registry: PostgresRegistry;
  beforeEach(() => {
    schema = freshSchema();
    registry = postgresRegistry({ connectionString: PG_URL, schema });
  });
  afterEach(async () => {
    await registry.close();
    await dropSchema(schema);
  });

  it('rejects every call before migrate() with an error that names migrate()', async () => {
    await expect(registry.get('acme')).rejects.toThrow(/run await registry\.migrate\(\) first/);
    await expect(registry.findBySlug('acme')).rejects.toThrow(/migrate\(\)/);
    await expect(registry.findByDomain('acme.com')).rejects.toThrow(/migrate\(\)/);
    await expect(registry.list()).rejects.toThrow(/migrate\(\)/);
    await expect(registry.put({ id: 'acme' })).rejects.toThrow(/migrate\(\)/);
    await expect(registry.update('acme', (t) => t)).rejects.toThrow(/migrate\(\)/);
    await expect(registry.delete('acme')).rejects.toThrow(/migrate\(\)/);
    const err = (await registry.get('acme').catch((e: unknown) => e)) as Error & { cause?: { code?: string } };
    expect(err.cause?.code).toBe('42P01'); // PostgreSQL reports a table in a missing schema as a missing relation
    // Nothing was created implicitly.
    expect((await sql('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount).toBe(0);
  });

  it('names migrate() when the schema exists but the tables do not (42P01)', async () => {
    await sql(`CREATE SCHEMA "${schema}"`);
    const err = (await registry.get('acme').catch((e: unknown) => e)) as Error & { cause?: { code?: string } };
    expect(err.message).toMatch(/migrate\(\)/);
    expect(err.cause?.code).toBe('42P01');
  });

  it('is idempotent: twice in a row, and concurrently from several registries', async () => {
    await registry.migrate();
    await registry.put({ id: 'acme', domains: ['acme.com'] });
    await registry.migrate();
    const others = [0, 1, 2].map(() => postgresRegistry({ connectionString: PG_URL, schema }));
    await Promise.all(others.map((r) => r.migrate()));
    await Promise.all(others.map((r) => r.close()));
    expect((await registry.findByDomain('acme.com'))?.id).toBe('acme');
    const tables = await sql('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [schema]);
    expect(tables.rows.map((r) => r['table_name'])).toEqual(['tenantry_tenants', 'tenantry_tenants_domains']);
  });

  it('uses the configured table name', async () => {
    const custom = postgresRegistry({ connectionString: PG_URL, schema, table: 'control_plane' });
    await custom.migrate();
    await custom.put({ id: 'acme', domains: ['acme.com'] });
    expect((await sql(`SELECT tenant_id FROM "${schema}".control_plane_domains`)).rows).toEqual([{ tenant_id: 'acme' }]);
    await custom.close();
  });
});

describe('postgresRegistry writes', () => {
  let schema: string;
  let registry: PostgresRegistry;
  beforeEach(async () => {
    schema = freshSchema();
    registry = postgresRegistry({ connectionString: PG_URL, schema });
    await registry.migrate();
  });
  afterEach(async () => {
    await registry.close();
    await dropSchema(schema);
  });

  const version = async (id: string) =>
    (await sql(`SELECT version FROM "${schema}".tenantry_tenants WHERE id = $1`, [id])).rows[0]?.['version'] as number | undefined;

  it('bumps version on every write and stores quotas as jsonb', async () => {
    await registry.put({ id: 'acme', quotas: { maxUsers: 5 } });
    expect(await version('acme')).toBe(1);
    await registry.put({ id: 'acme', plan: 'pro', quotas: { maxUsers: 6 } });
    expect(await version('acme')).toBe(2);
    const row = await sql(`SELECT quotas->'maxUsers' AS max_users, jsonb_typeof(quotas) AS kind FROM "${schema}".tenantry_tenants`);
    expect(row.rows[0]).toEqual({ max_users: 6, kind: 'object' });
  });

  it('loses no change when 40 updates of one tenant run at once', async () => {
    await registry.put({ id: 'acme', plan: 'free', status: 'active', quotas: { maxObjects: 100 } });
    const plans = ['free', 'pro', 'enterprise'] as const;
    const statuses = ['active', 'suspended', 'provisioning'] as const;
    const planChanges = Array.from({ length: 20 }, (_, i) =>
      registry.update('acme', (t) => ({ ...t, plan: plans[i % 3]!, quotas: { ...t.quotas, maxObjects: (t.quotas?.maxObjects ?? 0) + 1 } })),
    );
    const statusChanges = Array.from({ length: 20 }, (_, i) =>
      registry.update('acme', (t) => ({ ...t, status: statuses[i % 3]!, quotas: { ...t.quotas, maxObjects: (t.quotas?.maxObjects ?? 0) + 1 } })),
    );
    const results = await Promise.all([...planChanges, ...statusChanges]);
    expect(results.every((r) => r?.id === 'acme')).toBe(true);
    const final = (await registry.get('acme'))!;
    expect(final.quotas?.maxObjects).toBe(140);
    expect(await version('acme')).toBe(41);
    // Each update saw the previous one's counter: the 40 results hold 101..140 once each.
    expect(results.map((r) => r!.quotas!.maxObjects).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 40 }, (_, i) => 101 + i));
  });

  it('update() resolves undefined for an unknown tenant without calling fn, and keeps the id', async () => {
    let calls = 0;
    expect(await registry.update('nobody', (t) => (calls++, t))).toBeUndefined();
    expect(calls).toBe(0);
    await registry.put({ id: 'acme' });
    await expect(registry.update('acme', (t) => ({ ...t, id: 'globex' }))).rejects.toThrow(/id "globex" for tenant "acme"/);
    await expect(registry.update('acme', (t) => ({ ...t, plan: 'gold' as never }))).rejects.toThrow(/tenant record: plan/);
    expect(await registry.get('globex')).toBeUndefined();
    expect(await version('acme')).toBe(1);
  });

  it('update() applies the uniqueness rules of put and leaves the record untouched on conflict', async () => {
    await registry.put({ id: 'acme', slug: 'acme-inc', domains: ['acme.com'] });
    const before = await registry.put({ id: 'globex', domains: ['globex.com'] });
    await expect(registry.update('globex', (t) => ({ ...t, domains: ['ACME.com'] }))).rejects.toThrow(/domain "acme.com".*tenant "acme"/);
    await expect(registry.update('globex', (t) => ({ ...t, slug: 'acme' }))).rejects.toThrow(/slug "acme".*tenant "acme"/);
    expect(await registry.get('globex')).toEqual(before);
  });

  it('keeps slugs and domains unique in the tables themselves', async () => {
    await registry.put({ id: 'acme', slug: 'acme-inc', domains: ['acme.com'] });
    await registry.put({ id: 'globex' });
    const slug = await sql(`UPDATE "${schema}".tenantry_tenants SET slug = 'acme-inc' WHERE id = 'globex'`).catch((e: unknown) => e);
    expect(slug).toMatchObject({ code: '23505' });
    const domain = await sql(`INSERT INTO "${schema}".tenantry_tenants_domains (domain, tenant_id) VALUES ('acme.com', 'globex')`).catch(
      (e: unknown) => e,
    );
    expect(domain).toMatchObject({ code: '23505' });
  });

  it('lets exactly one of several tenants claiming one slug or one domain at once win', async () => {
    const ids = ['t1', 't2', 't3', 't4', 't5', 't6'];
    const slugRace = await Promise.allSettled(ids.map((id) => registry.put({ id, slug: 'shared' })));
    expect(slugRace.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of slugRace) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(TypeError);

    const domainRace = await Promise.allSettled(ids.map((id) => registry.put({ id: `${id}-d`, domains: [`www.shared.com`, `${id}.com`] })));
    expect(domainRace.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of domainRace) if (r.status === 'rejected') expect((r.reason as Error).message).toMatch(/domain "www.shared.com"/);
    expect((await sql(`SELECT count(*)::int AS n FROM "${schema}".tenantry_tenants_domains WHERE domain = 'www.shared.com'`)).rows[0]).toEqual({
      n: 1,
    });
  });

  it('keeps ids and slugs apart under concurrent writers (a new id vs the same name as a slug)', async () => {
    for (let round = 0; round < 10; round++) {
      const name = `name-${round}`;
      await registry.put({ id: `owner-${round}` });
      const [asId, asSlug] = await Promise.allSettled([
        registry.put({ id: name }),
        registry.put({ id: `owner-${round}`, slug: name }),
      ]);
      // Never both: one tenant's id would be another's slug.
      expect([asId.status, asSlug.status].filter((s) => s === 'fulfilled')).toHaveLength(1);
      const clash = await sql(`SELECT count(*)::int AS n FROM "${schema}".tenantry_tenants a JOIN "${schema}".tenantry_tenants b ON a.slug = b.id AND a.id <> b.id`);
      expect(clash.rows[0]).toEqual({ n: 0 });
    }
  });
});

/** A TCP proxy to PostgreSQL that a test can cut (connections hang, as behind a dead link) and restore. */
async function pgProxy(): Promise<{ port: number; cut(): void; restore(): void; close(): Promise<void> }> {
  let down = false;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server: Server = createServer((client) => {
    track(client);
    if (down) return; // accept and never answer: the client's connectionTimeoutMillis decides
    const upstream = connect(PG_PORT, PG_HOST);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      down = true;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      down = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('a PostgreSQL outage', () => {
  it('serves a cached tenant while stale-if-error allows, then answers 503, then recovers without a restart', async () => {
    const proxy = await pgProxy();
    const schema = freshSchema();
    const dir = mkdtempSync(join(tmpdir(), 'tenantry-pg-outage-'));
    const pool = new pg.Pool({ host: '127.0.0.1', port: proxy.port, user: new URL(PG_URL).username, database: 'test', connectionTimeoutMillis: 200 });
    const poolErrors: Error[] = [];
    pool.on('error', (err) => poolErrors.push(err)); // idle connections cut by the proxy
    const registry = postgresRegistry({ pool, schema });
    let now = 1_000_000;
    const tenantry = createTenantry({
      registry,
      resolvers: [fromHeader()],
      databases: { urlTemplate: `${pathToFileURL(dir).href}/{tenant}.db` },
      cache: { ttlMs: 50, staleIfErrorMs: 500 },
      now: () => now,
    });
    const request = async (tenant: string) => {
      const response = await tenantry.handle(new Request('http://app.test/whoami', { headers: { 'x-tenant-id': tenant } }), () =>
        Response.json({ tenant: getTenant().tenantId }),
      );
      return { status: response.status, body: (await response.json()) as { tenant?: string; code?: string } };
    };
    try {
      await registry.migrate();
      await registry.put({ id: 'acme' });
      expect(await request('acme')).toEqual({ status: 200, body: { tenant: 'acme' } });

      proxy.cut();
      // The registry itself rejects (nothing swallowed), quickly, thanks to connectionTimeoutMillis.
      const started = Date.now();
      await expect(registry.get('acme')).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(2_000);

      now += 100; // past the TTL, inside stale-if-error
      expect(await request('acme')).toEqual({ status: 200, body: { tenant: 'acme' } });
      expect(tenantry.stats().registry.stale).toBeGreaterThanOrEqual(1);

      now += 1_000; // past stale-if-error
      const gone = await request('acme');
      expect(gone.status).toBe(503);
      expect(gone.body.code).toBe('TENANT_UNAVAILABLE');

      proxy.restore();
      now += 100;
      expect(await request('acme')).toEqual({ status: 200, body: { tenant: 'acme' } });
      await registry.put({ id: 'globex' });
      expect(await request('globex')).toEqual({ status: 200, body: { tenant: 'globex' } });
    } finally {
      await tenantry.close();
      await registry.close();
      await pool.end();
      await proxy.close();
      await dropSchema(schema);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
