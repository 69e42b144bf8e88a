/**
 * Tenant ids in SQL and URLs: ids, slugs and names with quotes, slashes, `..`, `%2f`, NUL,
 * unicode and SQL fragments are fed to the resolvers, the entry points that take a tenant id,
 * the registries (memory, libSQL, PostgreSQL), the URL template (`{tenant}`), the local
 * platform and the Turso Platform API client. Each is either refused with a clear error or
 * handled safely: never a path outside the data folder, never a SQL error, never an unencoded
 * platform URL.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  DomainSchema,
  TENANT_ID_PATTERN,
  createTenantry,
  fromHeader,
  fromPath,
  fromSubdomain,
  isTenantryError,
  libsqlRegistry,
  localPlatform,
  memoryRegistry,
} from '../src/index.js';
import type { TenantRecord, TenantRegistry } from '../src/index.js';
import { fillTemplate } from '../src/config/index.js';
import { postgresRegistry } from '../src/postgres/index.js';
import { tursoPlatform } from '../src/turso/index.js';
import { tempDir, testTenantry } from './helpers/env.js';
import { DIRECT, requestView } from './helpers/request.js';
import { expectTenantryError } from './helpers/security.js';

// Each property takes about a second alone; with every test file running at once on a loaded
// machine it can take fifty times that, which is not a failure.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

/** Values no tenant id, slug or database name can be. */
const HOSTILE = [
  "acme'",
  'acme"',
  "'; drop table tenantry_tenants; --",
  '"; drop table tenantry_tenants; --',
  "' or '1'='1",
  'acme/beta',
  '../acme',
  '..',
  '.',
  'acme/../beta',
  '..%2facme',
  'acme%2fbeta',
  '%2e%2e',
  'acme\0',
  '\0',
  'ac\0me',
  'acme\\beta',
  'ACME',
  'acme ',
  ' acme',
  '',
  'аcme',
  'acme\r\nx',
  'acme?x=1',
  'acme#x',
  'acme@evil.test',
  '{tenant}',
  '$1',
  '?',
  ':id',
  '-acme',
  'acme-',
  'a'.repeat(64),
  '\ud800',
  'acme;',
];
/** Any string at all, weighted towards the characters that matter here. */
const anyString = fc.oneof(
  fc.constantFrom(...HOSTILE),
  fc.string({ unit: fc.constantFrom("'", '"', '/', '\\', '.', '%', '2', 'f', '\0', ';', '-', ' ', 'a', 'Z', '\u0430', '\n', '?', '#', '$'), maxLength: 16 }),
  fc.string({ unit: 'binary', maxLength: 16 }),
);

/** The rejection of `run` (fails when it resolves). */
async function rejection(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** Every file and folder under `dir`, relative to it. */
function tree(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    out.push(entry.name);
    if (entry.isDirectory()) out.push(...tree(join(dir, entry.name)).map((name) => join(entry.name, name)));
  }
  return out.sort();
}

// ---------------------------------------------------------------------------------------------

describe('resolvers', () => {
  const resolvers = [fromHeader(), fromHeader({ kind: 'slug' }), fromPath(), fromPath({ kind: 'slug' }), fromSubdomain({ baseDomains: ['app.example.com'] })];

  it('only ever yield values that match the tenant id pattern, and refuse the rest with INVALID_TENANT_ID', () => {
    fc.assert(
      fc.property(anyString, (value) => {
        const requests = [
          requestView({ headers: { 'x-tenant-id': value } }),
          requestView({ path: `/t/${value}/notes` }),
          requestView({ headers: { host: `${value}.app.example.com` } }),
        ];
        for (const resolver of resolvers) {
          for (const request of requests) {
            let identity;
            try {
              identity = resolver.resolve(request, DIRECT);
            } catch (err) {
              expectTenantryError(err, ['INVALID_TENANT_ID']);
              continue;
            }
            if (identity !== undefined && !(identity instanceof Promise)) expect(TENANT_ID_PATTERN.test(identity.value)).toBe(true);
          }
        }
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('entry points that take a tenant id', () => {
  it('refuse every hostile id with INVALID_TENANT_ID before any lookup or file access', async () => {
    const env = await testTenantry({ resolvers: [fromHeader()] });
    try {
      await env.addTenant('acme');
      const before = tree(env.dir);
      for (const id of HOSTILE) {
        expectTenantryError(await rejection(() => env.tenantry.withTenant(id, () => undefined)), ['INVALID_TENANT_ID']);
        expectTenantryError(await rejection(() => env.tenantry.getTenantClient(id)), ['INVALID_TENANT_ID']);
        expectTenantryError(await rejection(() => env.tenantry.resolveTenant({ tenantId: id })), ['INVALID_TENANT_ID']);
        env.tenantry.invalidateCache(id); // harmless
      }
      expect(tree(env.dir)).toEqual(before);
    } finally {
      await env.close();
    }
  });

  it('provisioning and lifecycle calls refuse hostile ids and create nothing, inside or outside the data folder', async () => {
    const { dir, cleanup } = tempDir();
    const dataDir = join(dir, 'data');
    const tenantry = createTenantry({ dataDir, resolvers: [fromHeader()] });
    try {
      await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
      const before = tree(dir);
      for (const id of HOSTILE) {
        const err = await rejection(() => tenantry.provisioning.provisionTenant({ orgId: id }));
        expect(err instanceof TypeError || (isTenantryError(err) && err.code === 'INVALID_TENANT_ID'), `${JSON.stringify(id)}: ${String(err)}`).toBe(true);
        for (const call of [
          () => tenantry.provisioning.suspendTenant(id),
          () => tenantry.provisioning.resumeTenant(id),
          () => tenantry.provisioning.destroyTenant(id),
          () => tenantry.provisioning.getTenantStatus(id),
          () => tenantry.provisioning.migrateTenantPlan(id, 'pro'),
        ]) {
          const failure = await rejection(call);
          expect(failure instanceof TypeError || isTenantryError(failure), `${JSON.stringify(id)}: ${String(failure)}`).toBe(true);
          if (isTenantryError(failure)) expect(['INVALID_TENANT_ID', 'TENANT_NOT_FOUND']).toContain(failure.code);
        }
      }
      expect(tree(dir)).toEqual(before);
      expect((await tenantry.registry.list()).map((r) => r.id)).toEqual(['acme']);
    } finally {
      await tenantry.close();
      cleanup();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Registries

const PG_URL = process.env['TENANTRY_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const PG_SCHEMA = `tenantry_test_${process.pid}_security`;

async function pgQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

describe.each([
  { name: 'memory', make: async () => ({ registry: memoryRegistry(), done: async () => {} }) },
  {
    name: 'libSQL',
    make: async () => {
      const { dir, cleanup } = tempDir();
      const registry = libsqlRegistry({ url: pathToFileURL(join(dir, 'control-plane.db')).href });
      return { registry, done: async () => { await registry.close?.(); cleanup(); } };
    },
  },
  {
    name: 'PostgreSQL',
    make: async () => {
      await pgQuery(`DROP SCHEMA IF EXISTS "${PG_SCHEMA}" CASCADE`);
      const registry = postgresRegistry({ connectionString: PG_URL, schema: PG_SCHEMA });
      await registry.migrate();
      return { registry, done: async () => { await registry.close(); await pgQuery(`DROP SCHEMA IF EXISTS "${PG_SCHEMA}" CASCADE`); } };
    },
  },
])('$name registry', ({ make }) => {
  let registry: TenantRegistry;
  let done: () => Promise<void>;
  let seeded: TenantRecord;

  beforeAll(async () => {
    ({ registry, done } = await make());
    seeded = await registry.put({ id: 'acme', slug: 'acme-co', domains: ['acme.example.org'] });
  });
  afterAll(() => done());

  it('answers lookups, deletes and updates of any string without a SQL error: nothing found, nothing changed', async () => {
    await fc.assert(
      fc.asyncProperty(anyString, async (value) => {
        expect(await registry.get(value)).toBeUndefined();
        expect(await registry.findBySlug(value)).toBeUndefined();
        const byDomain = await registry.findByDomain(value);
        if (byDomain !== undefined) expect(value.toLowerCase()).toBe('acme.example.org');
        expect(await registry.delete(value)).toBe(false);
        if (registry.update !== undefined) expect(await registry.update(value, (r) => r)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
    expect(await registry.list()).toEqual([seeded]);
  });

  it('refuses to store a hostile id, slug or domain with a TypeError naming the field, before any SQL', async () => {
    for (const value of HOSTILE) {
      await expect(registry.put({ id: value }), JSON.stringify(value)).rejects.toThrow(/tenant record: id/);
      await expect(registry.put({ id: 'beta', slug: value }), JSON.stringify(value)).rejects.toThrow(/tenant record: slug/);
      if (DomainSchema.safeParse(value.toLowerCase()).success) continue; // `ACME`: domains are stored lowercased
      await expect(registry.put({ id: 'beta', domains: [value] }), JSON.stringify(value)).rejects.toThrow(/tenant record: domains/);
    }
    expect(await registry.list()).toEqual([seeded]);
  });

  it('keeps quotes and SQL in free-text fields as plain data', async () => {
    const url = "file:///tmp/it's \"quoted\"; drop table tenantry_tenants; --.db";
    const stored = await registry.put({ id: 'beta', db: { url, authToken: "x'); delete from tenantry_tenants; --" } });
    expect((await registry.get('beta'))?.db).toEqual(stored.db);
    expect(await registry.delete('beta')).toBe(true);
    expect(await registry.list()).toEqual([seeded]);
  });
});

// ---------------------------------------------------------------------------------------------
// URL templates

describe('URL templates', () => {
  it('refuse to build a database URL from an id that is not a tenant id', () => {
    for (const template of ['file:///data/tenants/{tenant}.db', 'file:///data/{tenant}/db.sqlite', 'libsql://{tenant_id}-org.turso.io']) {
      for (const id of HOSTILE) {
        expectTenantryError(rejectionSync(() => fillTemplate(template, id)), ['TENANT_UNAVAILABLE']);
      }
      expect(fillTemplate(template, 'acme-2')).toBe(template.replace(/\{tenant(?:_id)?\}/, 'acme-2'));
    }
  });

  it('a record with a hostile id from a custom registry never opens a file outside the data folder', async () => {
    const { dir, cleanup } = tempDir();
    const tenants = join(dir, 'tenants');
    mkdirSync(tenants);
    try {
      for (const id of ['../escape', '..%2fescape', '..%2Fescape', '%2e%2e%2fescape', 'a/../../escape', '..', 'x\0y']) {
        const record: TenantRecord = { id, domains: [], plan: 'free', status: 'active', db: {}, createdAt: new Date(0).toISOString(), updatedAt: new Date(0).toISOString() };
        // a registry that answers every lookup with this record (a bug, or a tampered row)
        const registry: TenantRegistry = {
          get: async () => record,
          findBySlug: async () => record,
          findByDomain: async () => record,
          list: async () => [record],
          put: async () => record,
          delete: async () => false,
        };
        const tenantry = createTenantry({ registry, resolvers: [fromHeader()], databases: { urlTemplate: `${pathToFileURL(tenants).href}/{tenant}.db` } });
        try {
          expectTenantryError(await rejection(() => tenantry.withTenant('victim', async () => (await tenantry.getTenantClient('victim')).execute('create table t (x)'))), ['TENANT_UNAVAILABLE']);
          expectTenantryError(await rejection(() => tenantry.openScope(requestView({ headers: { 'x-tenant-id': 'victim' } }))), ['TENANT_UNAVAILABLE']);
          expectTenantryError(await rejection(() => tenantry.getTenantClient('victim')), ['TENANT_UNAVAILABLE']);
        } finally {
          await tenantry.close();
        }
      }
      expect(tree(dir)).toEqual(['tenants']);
    } finally {
      cleanup();
    }
  });
});

function rejectionSync(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

// ---------------------------------------------------------------------------------------------
// Platforms

describe('local platform', () => {
  it('refuses every name that is not a database name with a TypeError, and never touches a path outside its folder', async () => {
    const { dir, cleanup } = tempDir();
    const platformDir = join(dir, 'tenants');
    const platform = localPlatform({ dir: platformDir });
    try {
      await platform.createDatabase({ name: 'acme' });
      const calls = (name: string) => [
        () => platform.createDatabase({ name }),
        () => platform.deleteDatabase(name),
        () => platform.getDatabase(name),
        () => platform.createToken(name),
        () => platform.revokeTokens(name),
        () => platform.getUsage(name),
        () => platform.publicKey(name),
        () => platform.verifyToken(name, 'a.b.c'),
      ];
      await fc.assert(
        fc.asyncProperty(anyString, async (name) => {
          const valid = /^[a-z0-9](?:[a-z0-9-]{0,56}[a-z0-9])?$/.test(name);
          for (const call of calls(name)) {
            try {
              await call();
            } catch (err) {
              if (!valid) expect(err, JSON.stringify(name)).toBeInstanceOf(TypeError);
              else expect(err instanceof TypeError, JSON.stringify(name)).toBe(false);
            }
          }
        }),
        { numRuns: 300 },
      );
      // everything the platform wrote is inside its folder, and nothing else appeared
      expect(readdirSync(dir)).toEqual(['tenants']);
      for (const entry of tree(platformDir)) expect(relative(platformDir, resolve(platformDir, entry)).startsWith('..')).toBe(false);
      expect(existsSync(join(platformDir, 'acme.db'))).toBe(true);
    } finally {
      cleanup();
    }
  });
});

describe('Turso platform client', () => {
  const BASE_URL = 'https://api.turso.tech';
  const server = setupServer();
  /** Every request the API saw: method and raw (still encoded) URL. */
  const seen: Array<{ method: string; url: string; body: string }> = [];
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
  afterEach(() => {
    seen.length = 0;
  });
  afterAll(() => server.close());
  beforeAll(() => {
    server.use(
      http.all(`${BASE_URL}/*`, async ({ request }) => {
        seen.push({ method: request.method, url: request.url, body: await request.text() });
        const name = 'acme';
        const database = { Name: name, DbId: 'db-1', Hostname: `${name}-org.turso.io` };
        if (request.url.includes('/auth/tokens')) return HttpResponse.json({ jwt: 'token' });
        if (request.url.endsWith('/usage')) return HttpResponse.json({ database: { total: { storage_bytes: 1 } } });
        if (request.method === 'GET' && new URL(request.url).pathname.endsWith('/databases')) return HttpResponse.json({ databases: [database] });
        return HttpResponse.json({ database });
      }),
    );
  });

  const platformFor = (organization = 'org') => tursoPlatform({ organization, apiToken: 'tk_test', group: 'default', retries: 0, sleep: async () => {} });

  it('refuses a hostile database name with a TypeError before sending anything', async () => {
    const platform = platformFor();
    for (const name of HOSTILE) {
      for (const call of [
        () => platform.createDatabase({ name }),
        () => platform.deleteDatabase(name),
        () => platform.getDatabase(name),
        () => platform.createToken(name),
        () => platform.revokeTokens(name),
        () => platform.getUsage(name),
      ]) {
        expect(await rejection(call), JSON.stringify(name)).toBeInstanceOf(TypeError);
      }
    }
    expect(seen).toEqual([]);
  });

  it('sends a valid name as exactly one path segment of the documented paths', async () => {
    const platform = platformFor();
    await platform.getDatabase('acme-2');
    await platform.createToken('acme-2', { authorization: 'read-only', expiration: '1h' });
    await platform.revokeTokens('acme-2');
    await platform.getUsage('acme-2');
    await platform.deleteDatabase('acme-2');
    expect(seen.map((r) => `${r.method} ${new URL(r.url).pathname}${new URL(r.url).search}`)).toEqual([
      'GET /v1/organizations/org/databases/acme-2',
      'POST /v1/organizations/org/databases/acme-2/auth/tokens?expiration=1h&authorization=read-only',
      'POST /v1/organizations/org/databases/acme-2/auth/rotate',
      'GET /v1/organizations/org/databases/acme-2/usage',
      'DELETE /v1/organizations/org/databases/acme-2',
    ]);
  });

  it('encodes the organization as one path segment, and a group in the query and body as data', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: fc.constantFrom('a', '/', '?', '#', '%', '2', 'f', '.', ' ', '&', '=', '\u0430', '\\', '@'), minLength: 1, maxLength: 10 }).filter((o) => o.trim() !== '' && o !== '.' && o !== '..'),
        fc.string({ unit: fc.constantFrom('a', '&', '=', '?', '#', '/', '%', ' ', '+'), minLength: 1, maxLength: 8 }).filter((g) => g.trim() !== ''),
        async (organization, group) => {
          seen.length = 0;
          const platform = platformFor(organization);
          await platform.listDatabases({ group });
          await platform.createDatabase({ name: 'acme', group });
          const prefix = `/v1/organizations/${encodeURIComponent(organization)}/databases`;
          const [list, create] = seen;
          expect(new URL(list!.url).pathname).toBe(prefix);
          expect(new URL(list!.url).searchParams.getAll('group')).toEqual([group]);
          expect([...new URL(list!.url).searchParams.keys()]).toEqual(['group']);
          expect(new URL(create!.url).pathname).toBe(prefix);
          expect(JSON.parse(create!.body)).toEqual({ name: 'acme', group });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses an organization that is a dot segment (it would move the request path)', () => {
    for (const organization of ['.', '..']) expect(() => platformFor(organization)).toThrow(TypeError);
  });
});
