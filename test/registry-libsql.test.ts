import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createClient } from '@libsql/client';
import type { Client, InStatement, TransactionMode } from '@libsql/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LIBSQL_REGISTRY_SCHEMA_VERSION, libsqlRegistry } from '../src/registry/index.js';

let dir: string;
let url: string;
const open: { close(): unknown }[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tenantry-libsql-'));
  url = pathToFileURL(join(dir, 'control-plane.db')).href;
});
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
  rmSync(dir, { recursive: true, force: true });
});

function registryAt(u = url, now?: () => number) {
  const registry = libsqlRegistry(now === undefined ? { url: u } : { url: u, now });
  open.push({ close: () => registry.close?.() });
  return registry;
}

function rawClient(): Client {
  const client = createClient({ url });
  open.push(client);
  return client;
}

/** A real client whose `batch` calls are recorded and can be made to fail. */
function spyClient(inner: Client) {
  const batches: string[][] = [];
  let failNext = 0;
  const client = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'batch') {
        return async (stmts: InStatement[], mode?: TransactionMode) => {
          batches.push(stmts.map((s) => (typeof s === 'string' ? s : s.sql)));
          if (failNext > 0) {
            failNext--;
            throw new Error('network down');
          }
          return target.batch(stmts, mode);
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return {
    client,
    /** Batches that created the schema. */
    schemaBatches: () => batches.filter((b) => b.some((sql) => sql.includes('CREATE TABLE'))).length,
    failNextBatches: (n: number) => {
      failNext = n;
    },
  };
}

describe('libsqlRegistry', () => {
  it('keeps records in the file: a registry reopened on it sees them', async () => {
    const first = libsqlRegistry({ url });
    await first.put({ id: 'acme', slug: 'acme-inc', domains: ['acme.com'], plan: 'pro', quotas: { apiRateLimit: 100 } });
    await first.put({ id: 'globex' });
    await first.close!();

    const reopened = registryAt();
    expect(await reopened.get('acme')).toMatchObject({ id: 'acme', slug: 'acme-inc', plan: 'pro', quotas: { apiRateLimit: 100 } });
    expect((await reopened.findByDomain('acme.com'))?.id).toBe('acme');
    expect((await reopened.list()).map((r) => r.id)).toEqual(['acme', 'globex']);
  });

  it('creates the schema once for concurrent first calls', async () => {
    const spy = spyClient(rawClient());
    const registry = libsqlRegistry({ client: spy.client });
    await Promise.all([
      registry.get('a'),
      registry.findBySlug('b'),
      registry.findByDomain('c.com'),
      registry.list(),
      registry.put({ id: 'd' }),
      registry.delete('e'),
    ]);
    await registry.put({ id: 'f' });
    expect(spy.schemaBatches()).toBe(1);
  });

  it('retries a failed schema creation on the next call instead of caching the failure', async () => {
    const spy = spyClient(rawClient());
    const registry = libsqlRegistry({ client: spy.client });
    spy.failNextBatches(1);
    await expect(registry.get('acme')).rejects.toThrow('network down');
    await expect(registry.put({ id: 'acme' })).resolves.toMatchObject({ id: 'acme' });
    expect(spy.schemaBatches()).toBe(2);
  });

  it('rejects invalid input before any SQL, and answers impossible lookups without SQL', async () => {
    const spy = spyClient(rawClient());
    let executes = 0;
    const counting = new Proxy(spy.client, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (prop !== 'execute') return value;
        return (...args: unknown[]) => {
          executes++;
          return (value as (...a: unknown[]) => unknown)(...args);
        };
      },
    });
    const registry = libsqlRegistry({ client: counting });
    await expect(registry.put({ id: "acme'); DROP TABLE tenantry_tenants; --" })).rejects.toThrow(/id: not a valid tenant id/);
    await expect(registry.put({ id: 'acme', domains: ["a'; drop table x; --"] })).rejects.toThrow(/domains\[0\]: not a valid domain/);
    expect(await registry.get("x' OR '1'='1")).toBeUndefined();
    expect(await registry.findBySlug('Not A Slug')).toBeUndefined();
    expect(await registry.findByDomain("a'; drop table x; --")).toBeUndefined();
    expect(spy.schemaBatches()).toBe(0);
    expect(executes).toBe(0);
  });

  it('records the schema version in tenantry_meta', async () => {
    await registryAt().list();
    const rows = (await rawClient().execute("SELECT value FROM tenantry_meta WHERE key = 'schema_version'")).rows;
    expect(rows[0]?.['value']).toBe(String(LIBSQL_REGISTRY_SCHEMA_VERSION));
  });

  it('upgrades version-1 tables in place: rows kept, versions start at 1, update() works', async () => {
    const raw = rawClient();
    // The tables as tenantry 0.1 created them (schema version 1).
    await raw.batch(
      [
        'CREATE TABLE tenantry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)',
        `CREATE TABLE tenantry_tenants (id TEXT PRIMARY KEY, slug TEXT UNIQUE, plan TEXT NOT NULL, region TEXT, status TEXT NOT NULL,
          db_url TEXT, db_auth_token TEXT, quotas TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)`,
        'CREATE TABLE tenantry_tenant_domains (domain TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenantry_tenants(id) ON DELETE CASCADE)',
        "INSERT INTO tenantry_meta VALUES ('schema_version', '1')",
        "INSERT INTO tenantry_tenants VALUES ('acme', NULL, 'pro', NULL, 'active', NULL, NULL, NULL, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
        "INSERT INTO tenantry_tenant_domains VALUES ('acme.com', 'acme')",
      ],
      'write',
    );
    const [a, b] = [registryAt(), registryAt()];
    // Two registries upgrading at once: one ALTER wins, the other reads the new version.
    const [viaA, viaB] = await Promise.all([a.get('acme'), b.findByDomain('acme.com')]);
    expect(viaA).toMatchObject({ id: 'acme', plan: 'pro', domains: ['acme.com'] });
    expect(viaB?.id).toBe('acme');
    expect((await raw.execute("SELECT value FROM tenantry_meta WHERE key = 'schema_version'")).rows[0]?.['value']).toBe('2');
    await Promise.all([a.update!('acme', (t) => ({ ...t, status: 'suspended' })), b.update!('acme', (t) => ({ ...t, plan: 'enterprise' }))]);
    expect(await a.get('acme')).toMatchObject({ status: 'suspended', plan: 'enterprise', createdAt: '2026-01-01T00:00:00.000Z' });
    expect((await raw.execute("SELECT version FROM tenantry_tenants WHERE id = 'acme'")).rows[0]?.['version']).toBe(3);
  });

  it('refuses tables of a newer schema version', async () => {
    await registryAt().list();
    await rawClient().execute("UPDATE tenantry_meta SET value = '99' WHERE key = 'schema_version'");
    await expect(registryAt().get('acme')).rejects.toThrow(/schema version 99/);
  });

  it('lets two registries share one file', async () => {
    const a = registryAt();
    const b = registryAt();
    await Promise.all([a.put({ id: 'acme', domains: ['acme.com'] }), b.put({ id: 'globex', domains: ['globex.com'] })]);
    expect((await b.findByDomain('acme.com'))?.id).toBe('acme');
    expect((await a.findByDomain('globex.com'))?.id).toBe('globex');
    await expect(b.put({ id: 'initech', domains: ['acme.com'] })).rejects.toThrow(/domain "acme.com".*tenant "acme"/);
    expect(await a.delete('globex')).toBe(true);
    expect(await b.get('globex')).toBeUndefined();
  });

  it('lands 50 concurrent puts to different ids', async () => {
    const registry = registryAt();
    const ids = Array.from({ length: 50 }, (_, i) => `tenant-${String(i).padStart(2, '0')}`);
    const stored = await Promise.all(ids.map((id, i) => registry.put({ id, domains: [`${id}.example.com`], plan: i % 2 ? 'pro' : 'free' })));
    expect(stored.map((r) => r.id)).toEqual(ids);
    expect((await registry.list()).map((r) => r.id)).toEqual(ids);
    expect((await registry.list({ plan: 'pro' })).length).toBe(25);
    expect((await registry.findByDomain('tenant-49.example.com'))?.id).toBe('tenant-49');
  });

  it('lets exactly one of two concurrent claims of a domain win (the constraint, mapped to a TypeError)', async () => {
    const a = registryAt();
    const b = registryAt();
    const results = await Promise.allSettled([a.put({ id: 'acme', domains: ['shared.com'] }), b.put({ id: 'globex', domains: ['shared.com'] })]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(TypeError);
    expect(String(rejected.reason.message)).toMatch(/domain "shared.com" already belongs to tenant/);
    expect(rejected.reason.cause).toBeDefined();
  });

  it('enforces id/slug separation in the database itself, not only in put', async () => {
    await registryAt().put({ id: 'acme' });
    const client = rawClient();
    await expect(
      client.execute({
        sql: "INSERT INTO tenantry_tenants (id, slug, plan, status, created_at, updated_at) VALUES ('globex', 'acme', 'free', 'active', 'x', 'x')",
        args: [],
      }),
    ).rejects.toThrow(/a tenant id and a slug clash/);
  });

  it('rejects a row with corrupt quotas JSON with an Error whose cause is the parse error', async () => {
    const registry = registryAt();
    await registry.put({ id: 'acme', quotas: { maxUsers: 5 } });
    await rawClient().execute({ sql: 'UPDATE tenantry_tenants SET quotas = ? WHERE id = ?', args: ['{"maxUsers": 5', 'acme'] });
    const err = await registry.get('acme').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(/tenant "acme".*quotas/);
    expect((err as Error).cause).toBeInstanceOf(SyntaxError);
    await expect(registry.list()).rejects.toThrow(/quotas/);
  });

  it('rejects a row that is not a valid record rather than returning it', async () => {
    const registry = registryAt();
    await registry.put({ id: 'acme' });
    await rawClient().execute("UPDATE tenantry_tenants SET status = 'gone' WHERE id = 'acme'");
    const err = await registry.get('acme').catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/tenant "acme".*not a valid tenant record/);
    expect((err as Error).cause).toBeDefined();
  });

  it('closes a client it created but never one it was given', async () => {
    const owned = libsqlRegistry({ url });
    await owned.put({ id: 'acme' });
    await owned.close!();
    await owned.close!();
    await expect(owned.get('acme')).rejects.toThrow();

    const client = rawClient();
    const borrowed = libsqlRegistry({ client });
    await borrowed.get('acme');
    await borrowed.close!();
    expect(client.closed).toBe(false);
    expect((await client.execute("SELECT id FROM tenantry_tenants")).rows.length).toBe(1);
  });

  it('throws a TypeError naming the option for invalid options', () => {
    expect(() => libsqlRegistry({})).toThrow(/url or client is required/);
    expect(() => libsqlRegistry({ url, client: rawClient() })).toThrow(/either url or client/);
    expect(() => libsqlRegistry({ url: '' })).toThrow(/url must be/);
    expect(() => libsqlRegistry({ url: 'ftp://example.com/db' })).toThrow(TypeError);
    expect(() => libsqlRegistry({ url: 'ftp://example.com/db' })).toThrow(/url/);
    expect(() => libsqlRegistry({ client: rawClient(), authToken: 'x' })).toThrow(/authToken/);
    expect(() => libsqlRegistry({ client: {} as Client })).toThrow(/client must be/);
    expect(() => libsqlRegistry({ url, now: 'later' as never })).toThrow(/now must be a function/);
    expect(() => libsqlRegistry(undefined as never)).toThrow(TypeError);
  });

  it('does not import Node-only modules (it must run on edge runtimes)', () => {
    const source = readFileSync(fileURLToPath(new URL('../src/registry/libsql.ts', import.meta.url)), 'utf8');
    expect(source).not.toMatch(/from ['"](node:)?(fs|path|os)['"]/);
    expect(source).not.toMatch(/mkdir/);
  });
});
