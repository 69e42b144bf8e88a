import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { libsqlRegistry, memoryRegistry } from '../src/registry/index.js';
import { encryptedRegistry } from '../src/registry/encrypted.js';
import type { TenantRegistry } from '../src/registry/index.js';
import type { TenantRecordInput } from '../src/protocol/index.js';
import pg from 'pg';
import { postgresRegistry } from '../src/postgres/index.js';

/** A registry under test plus how to dispose of it. */
interface Subject {
  registry: TenantRegistry;
  cleanup(): Promise<void>;
}

const T0 = Date.parse('2025-01-01T00:00:00.000Z');

/**
 * The behaviour every `TenantRegistry` must have. `makeRegistry(now)` builds a fresh, empty
 * registry whose timestamps come from `now`.
 */
function registryContract(name: string, makeRegistry: (now: () => number) => Subject | Promise<Subject>) {
  describe(`${name} registry (contract)`, () => {
    let clock = T0;
    let subject: Subject;
    let registry: TenantRegistry;

    beforeEach(async () => {
      clock = T0;
      subject = await makeRegistry(() => clock);
      registry = subject.registry;
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    describe('put and get', () => {
      it('stores a record with defaults and returns it', async () => {
        const stored = await registry.put({ id: 'acme' });
        const expected = {
          id: 'acme',
          domains: [],
          plan: 'free',
          status: 'active',
          db: {},
          createdAt: '2025-01-01T00:00:00.000Z',
          updatedAt: '2025-01-01T00:00:00.000Z',
        };
        expect(stored).toEqual(expected);
        expect(await registry.get('acme')).toEqual(expected);
      });

      it('round-trips every field', async () => {
        const input: TenantRecordInput = {
          id: 'globex',
          slug: 'globex-corp',
          domains: ['globex.com', 'www.globex.com'],
          plan: 'enterprise',
          region: 'eu-west',
          status: 'suspended',
          db: { url: 'libsql://globex-org.turso.io', authToken: 'tok' },
          quotas: { apiRateLimit: 600, maxStorageBytes: 1_000_000 },
        };
        const stored = await registry.put(input);
        expect(await registry.get('globex')).toEqual(stored);
        expect(stored).toMatchObject({ ...input, createdAt: '2025-01-01T00:00:00.000Z' });
      });

      it('resolves undefined for an unknown id, including ids no tenant can have', async () => {
        expect(await registry.get('nobody')).toBeUndefined();
        expect(await registry.get('Not An Id')).toBeUndefined();
        expect(await registry.get("x' or '1'='1")).toBeUndefined();
      });

      it('keeps createdAt on update and bumps updatedAt from the clock', async () => {
        await registry.put({ id: 'acme', plan: 'free' });
        clock = T0 + 60_000;
        const updated = await registry.put({ id: 'acme', plan: 'pro' });
        expect(updated.createdAt).toBe('2025-01-01T00:00:00.000Z');
        expect(updated.updatedAt).toBe('2025-01-01T00:01:00.000Z');
        expect(updated.plan).toBe('pro');
        expect(await registry.get('acme')).toEqual(updated);
      });

      it('keeps the stored createdAt even when an update passes another one', async () => {
        await registry.put({ id: 'acme' });
        clock = T0 + 1_000;
        const updated = await registry.put({ id: 'acme', createdAt: '2020-01-01T00:00:00.000Z' });
        expect(updated.createdAt).toBe('2025-01-01T00:00:00.000Z');
      });

      it('takes createdAt from the input of a new record (imports keep their history)', async () => {
        const stored = await registry.put({ id: 'old', createdAt: '2020-01-01T00:00:00.000Z' });
        expect(stored.createdAt).toBe('2020-01-01T00:00:00.000Z');
        expect(stored.updatedAt).toBe('2025-01-01T00:00:00.000Z');
      });

      it('replaces optional fields an update leaves out', async () => {
        await registry.put({ id: 'acme', slug: 'acme-inc', region: 'us-west', quotas: { maxUsers: 5 }, db: { url: 'file:/x.db' } });
        const updated = await registry.put({ id: 'acme' });
        expect(updated).not.toHaveProperty('slug');
        expect(updated).not.toHaveProperty('region');
        expect(updated).not.toHaveProperty('quotas');
        expect(updated.db).toEqual({});
        expect(await registry.get('acme')).toEqual(updated);
        expect(await registry.findBySlug('acme-inc')).toBeUndefined();
      });
    });

    describe('slug and domain lookups', () => {
      beforeEach(async () => {
        await registry.put({ id: 'acme', slug: 'acme-inc', domains: ['acme.com', 'Shop.Acme.COM'] });
        await registry.put({ id: 'globex', domains: ['globex.com'] });
      });

      it('finds a tenant by slug', async () => {
        expect((await registry.findBySlug('acme-inc'))?.id).toBe('acme');
        expect(await registry.findBySlug('acme')).toBeUndefined();
        expect(await registry.findBySlug('nobody')).toBeUndefined();
      });

      it('stores domains lowercased, deduplicated and sorted', async () => {
        const stored = await registry.put({ id: 'initech', domains: ['b.initech.com', 'A.initech.com', 'a.INITECH.com'] });
        expect(stored.domains).toEqual(['a.initech.com', 'b.initech.com']);
        expect((await registry.get('initech'))?.domains).toEqual(['a.initech.com', 'b.initech.com']);
      });

      it('finds a tenant by domain, case-insensitively', async () => {
        expect((await registry.findByDomain('acme.com'))?.id).toBe('acme');
        expect((await registry.findByDomain('ACME.com'))?.id).toBe('acme');
        expect((await registry.findByDomain('shop.acme.com'))?.id).toBe('acme');
        expect((await registry.findByDomain('globex.com'))?.id).toBe('globex');
        expect(await registry.findByDomain('unknown.com')).toBeUndefined();
      });

      it('moves lookups when an update changes the slug and domains', async () => {
        await registry.put({ id: 'acme', slug: 'acme-new', domains: ['acme.org'] });
        expect(await registry.findBySlug('acme-inc')).toBeUndefined();
        expect((await registry.findBySlug('acme-new'))?.id).toBe('acme');
        expect(await registry.findByDomain('acme.com')).toBeUndefined();
        expect(await registry.findByDomain('shop.acme.com')).toBeUndefined();
        expect((await registry.findByDomain('acme.org'))?.id).toBe('acme');
      });

      it('lets a domain move to another tenant once its owner gave it up', async () => {
        await registry.put({ id: 'acme', slug: 'acme-inc', domains: ['acme.com'] });
        await registry.put({ id: 'globex', domains: ['globex.com', 'shop.acme.com'] });
        expect((await registry.findByDomain('shop.acme.com'))?.id).toBe('globex');
      });
    });

    describe('uniqueness', () => {
      beforeEach(async () => {
        await registry.put({ id: 'acme', slug: 'acme-inc', domains: ['acme.com'] });
      });

      it('rejects a slug that belongs to another tenant, naming the slug and its owner', async () => {
        const err = await registry.put({ id: 'globex', slug: 'acme-inc' }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TypeError);
        expect((err as Error).message).toMatch(/slug "acme-inc".*tenant "acme"/);
        expect(await registry.get('globex')).toBeUndefined();
      });

      it('rejects a domain that belongs to another tenant, in any case, naming it and its owner', async () => {
        const err = await registry.put({ id: 'globex', domains: ['globex.com', 'ACME.com'] }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TypeError);
        expect((err as Error).message).toMatch(/domain "acme.com".*tenant "acme"/);
        expect(await registry.get('globex')).toBeUndefined();
        expect(await registry.findByDomain('globex.com')).toBeUndefined();
      });

      it('leaves the stored record untouched when an update conflicts', async () => {
        const before = await registry.put({ id: 'globex', domains: ['globex.com'] });
        clock += 1_000;
        await expect(registry.put({ id: 'globex', plan: 'pro', domains: ['acme.com'] })).rejects.toThrow(TypeError);
        expect(await registry.get('globex')).toEqual(before);
        expect((await registry.findByDomain('globex.com'))?.id).toBe('globex');
        expect((await registry.findByDomain('acme.com'))?.id).toBe('acme');
      });

      it("rejects a slug that is another tenant's id (ids double as slugs)", async () => {
        await registry.put({ id: 'globex' });
        const err = await registry.put({ id: 'initech', slug: 'globex' }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TypeError);
        expect((err as Error).message).toMatch(/slug "globex".*tenant "globex"/);
      });

      it("rejects a new id that is another tenant's slug", async () => {
        const err = await registry.put({ id: 'acme-inc' }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TypeError);
        expect((err as Error).message).toMatch(/id "acme-inc".*tenant "acme"/);
        expect(await registry.get('acme-inc')).toBeUndefined();
      });

      it('allows a slug equal to its own id, and keeping its own slug and domains on update', async () => {
        await expect(registry.put({ id: 'globex', slug: 'globex' })).resolves.toMatchObject({ slug: 'globex' });
        await expect(registry.put({ id: 'acme', slug: 'acme-inc', domains: ['acme.com'], plan: 'pro' })).resolves.toMatchObject({
          plan: 'pro',
        });
      });

      it('frees the slug and domains of a deleted tenant', async () => {
        await registry.delete('acme');
        await expect(registry.put({ id: 'globex', slug: 'acme-inc', domains: ['acme.com'] })).resolves.toMatchObject({ id: 'globex' });
      });
    });

    describe('list', () => {
      beforeEach(async () => {
        await registry.put({ id: 'delta', plan: 'pro' });
        await registry.put({ id: 'alpha', plan: 'free' });
        await registry.put({ id: 'charlie', plan: 'pro', status: 'suspended' });
        await registry.put({ id: 'bravo', plan: 'enterprise', domains: ['bravo.io'] });
        await registry.put({ id: 'echo', plan: 'pro' });
      });

      const ids = async (filter?: Parameters<TenantRegistry['list']>[0]) => (await registry.list(filter)).map((r) => r.id);

      it('lists every record ordered by id', async () => {
        expect(await ids()).toEqual(['alpha', 'bravo', 'charlie', 'delta', 'echo']);
        expect((await registry.list()).find((r) => r.id === 'bravo')?.domains).toEqual(['bravo.io']);
      });

      it('filters by status and plan', async () => {
        expect(await ids({ plan: 'pro' })).toEqual(['charlie', 'delta', 'echo']);
        expect(await ids({ status: 'suspended' })).toEqual(['charlie']);
        expect(await ids({ plan: 'pro', status: 'active' })).toEqual(['delta', 'echo']);
        expect(await ids({ plan: 'enterprise', status: 'suspended' })).toEqual([]);
      });

      it('pages with limit and offset after filtering', async () => {
        expect(await ids({ limit: 2 })).toEqual(['alpha', 'bravo']);
        expect(await ids({ limit: 2, offset: 2 })).toEqual(['charlie', 'delta']);
        expect(await ids({ offset: 4 })).toEqual(['echo']);
        expect(await ids({ offset: 10 })).toEqual([]);
        expect(await ids({ limit: 0 })).toEqual([]);
        expect(await ids({ plan: 'pro', limit: 1, offset: 1 })).toEqual(['delta']);
      });

      it('rejects a bad filter with a TypeError naming the field', async () => {
        await expect(registry.list({ limit: -1 })).rejects.toThrow(/limit/);
        await expect(registry.list({ offset: 1.5 })).rejects.toThrow(/offset/);
        await expect(registry.list({ status: 'gone' as never })).rejects.toThrow(/status/);
        await expect(registry.list({ plan: 'gold' as never })).rejects.toBeInstanceOf(TypeError);
      });
    });

    describe('delete', () => {
      it('removes the record and its slug and domain lookups', async () => {
        await registry.put({ id: 'acme', slug: 'acme-inc', domains: ['acme.com'] });
        expect(await registry.delete('acme')).toBe(true);
        expect(await registry.get('acme')).toBeUndefined();
        expect(await registry.findBySlug('acme-inc')).toBeUndefined();
        expect(await registry.findByDomain('acme.com')).toBeUndefined();
        expect(await registry.list()).toEqual([]);
      });

      it('resolves false when there was nothing to delete', async () => {
        expect(await registry.delete('nobody')).toBe(false);
      });
    });

    describe('validation', () => {
      const invalid: [string, unknown, RegExp][] = [
        ['an id with a bad character', { id: 'acme_inc' }, /tenant record: id: not a valid tenant id/],
        ['an upper-case id', { id: 'Acme' }, /tenant record: id: not a valid tenant id/],
        ['an id with a leading dash', { id: '-acme' }, /id: not a valid tenant id/],
        ['an id longer than 63 characters', { id: 'a'.repeat(64) }, /id: not a valid tenant id/],
        ['a missing id', {}, /tenant record: id:/],
        ['an id with a quote', { id: "acme'; drop table tenantry_tenants; --" }, /id: not a valid tenant id/],
        ['a bad slug', { id: 'acme', slug: 'Acme Inc' }, /slug: not a valid tenant id/],
        ['a bad domain', { id: 'acme', domains: ['acme.com', 'not a domain'] }, /domains\[1\]: not a valid domain/],
        ['a domain with a port', { id: 'acme', domains: ['acme.com:8080'] }, /domains\[0\]/],
        ['an unknown plan', { id: 'acme', plan: 'gold' }, /tenant record: plan:/],
        ['an unknown status', { id: 'acme', status: 'deleted' }, /tenant record: status:/],
        ['an unknown region', { id: 'acme', region: 'mars' }, /tenant record: region:/],
        ['a negative quota', { id: 'acme', quotas: { apiRateLimit: -1 } }, /quotas\.apiRateLimit/],
        ['a fractional quota', { id: 'acme', quotas: { maxUsers: 1.5 } }, /quotas\.maxUsers/],
        ['a misspelt quota', { id: 'acme', quotas: { apiRatelimit: 10 } }, /quotas\.apiRatelimit: unknown field/],
        ['an unknown field', { id: 'acme', staus: 'active' }, /staus: unknown field/],
        ['an empty db url', { id: 'acme', db: { url: '' } }, /db\.url/],
        ['a bad createdAt', { id: 'acme', createdAt: 'yesterday' }, /createdAt/],
        ['not an object', 'acme', /tenant record: expected an object/],
      ];
      for (const [what, input, message] of invalid) {
        it(`rejects ${what} with a TypeError naming the field`, async () => {
          const err = await Promise.resolve()
            .then(() => registry.put(input as TenantRecordInput))
            .catch((e: unknown) => e);
          expect(err).toBeInstanceOf(TypeError);
          expect((err as Error).message).toMatch(message);
          expect(await registry.list()).toEqual([]);
        });
      }

      it('stores a domain full of SQL metacharacters nowhere and leaves the tables intact', async () => {
        await registry.put({ id: 'acme', domains: ['acme.com'] });
        await expect(registry.put({ id: 'evil', domains: ["a'; drop table x; --"] })).rejects.toThrow(TypeError);
        expect(await registry.findByDomain("a'; drop table x; --")).toBeUndefined();
        expect(await registry.findBySlug("' or 1=1 --")).toBeUndefined();
        expect(await registry.findByDomain("acme.com' or '1'='1")).toBeUndefined();
        expect((await registry.findByDomain('acme.com'))?.id).toBe('acme');
        expect((await registry.list()).map((r) => r.id)).toEqual(['acme']);
      });

      it('stores SQL metacharacters in free-text fields as plain data', async () => {
        const token = "t'; DROP TABLE tenantry_tenants; --";
        await registry.put({ id: 'acme', db: { url: "libsql://x.turso.io/?q='1'", authToken: token } });
        expect((await registry.get('acme'))?.db).toEqual({ url: "libsql://x.turso.io/?q='1'", authToken: token });
        expect((await registry.list()).length).toBe(1);
      });
    });

    describe('update (atomic read-modify-write)', () => {
      it('stores what fn returns from the current record, keeping createdAt', async () => {
        await registry.put({ id: 'acme', domains: ['acme.com'], quotas: { maxUsers: 5 } });
        clock = T0 + 1000;
        const stored = await registry.update!('acme', (t) => ({ ...t, plan: 'pro', domains: [...t.domains, 'acme.org'] }));
        expect(stored).toMatchObject({ id: 'acme', plan: 'pro', domains: ['acme.com', 'acme.org'], createdAt: new Date(T0).toISOString(), updatedAt: new Date(T0 + 1000).toISOString() });
        expect(await registry.get('acme')).toEqual(stored);
        expect((await registry.findByDomain('acme.org'))?.id).toBe('acme');
      });

      it('resolves undefined for an unknown tenant without calling fn', async () => {
        let calls = 0;
        expect(await registry.update!('nobody', (t) => (calls++, t))).toBeUndefined();
        expect(calls).toBe(0);
        expect(await registry.list()).toEqual([]);
      });

      it('refuses another id, invalid records and taken names, leaving the record as it was', async () => {
        await registry.put({ id: 'acme' });
        await registry.put({ id: 'globex', domains: ['globex.com'] });
        const before = await registry.get('acme');
        await expect(registry.update!('acme', (t) => ({ ...t, id: 'other' }))).rejects.toThrow(/id "other"/);
        await expect(registry.update!('acme', (t) => ({ ...t, plan: 'gold' as never }))).rejects.toBeInstanceOf(TypeError);
        await expect(registry.update!('acme', (t) => ({ ...t, domains: ['globex.com'] }))).rejects.toThrow(/globex/);
        await expect(registry.update!('acme', () => { throw new Error('changed my mind'); })).rejects.toThrow('changed my mind');
        expect(await registry.get('acme')).toEqual(before);
      });

      it('loses no change when plan changes and status changes of one tenant run at once', async () => {
        await registry.put({ id: 'acme', quotas: { maxObjects: 1 } });
        const plans = ['free', 'pro', 'enterprise'] as const;
        const statuses = ['active', 'suspended'] as const;
        const changes = Array.from({ length: 24 }, (_, i) =>
          registry.update!('acme', async (t) => {
            await new Promise((resolve) => setTimeout(resolve, i % 3)); // widen the race window
            const counted = { ...t, quotas: { maxObjects: (t.quotas?.maxObjects ?? 0) + 1 } };
            return i % 2 === 0 ? { ...counted, plan: plans[i % 3]! } : { ...counted, status: statuses[i % 2]! };
          }),
        );
        const results = await Promise.all(changes);
        // Every update saw the one before it: the counter went 1 → 25 and each value 2..25 was written once.
        expect((await registry.get('acme'))?.quotas?.maxObjects).toBe(25);
        expect(results.map((r) => r!.quotas!.maxObjects).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 24 }, (_, i) => i + 2));
      });
    });

    describe('isolation of returned objects', () => {
      it('returns copies: mutating a result changes nothing stored', async () => {
        const put = await registry.put({ id: 'acme', domains: ['acme.com'], quotas: { maxUsers: 5 } });
        put.domains.push('evil.com');
        put.quotas!.maxUsers = 500;
        put.plan = 'enterprise';
        const got = (await registry.get('acme'))!;
        got.domains.push('evil.com');
        got.db.url = 'file:/evil.db';
        (await registry.list())[0]!.status = 'suspended';
        const fresh = (await registry.get('acme'))!;
        expect(fresh).toMatchObject({ plan: 'free', status: 'active', domains: ['acme.com'], db: {}, quotas: { maxUsers: 5 } });
        expect(await registry.findByDomain('evil.com')).toBeUndefined();
      });

      it('does not alias the input: mutating it after put changes nothing stored', async () => {
        const input = { id: 'acme', domains: ['acme.com'], db: { url: 'file:/a.db' }, quotas: { maxUsers: 5 } };
        await registry.put(input);
        input.domains.push('evil.com');
        input.db.url = 'file:/evil.db';
        input.quotas.maxUsers = 500;
        expect(await registry.get('acme')).toMatchObject({ domains: ['acme.com'], db: { url: 'file:/a.db' }, quotas: { maxUsers: 5 } });
      });
    });
  });
}

registryContract('memory', (now) => ({ registry: memoryRegistry([], { now }), cleanup: async () => {} }));

registryContract('encrypted (over memory)', (now) => ({ registry: encryptedRegistry(memoryRegistry([], { now }), new Uint8Array(32).fill(7)), cleanup: async () => {} }));

registryContract('libSQL', (now) => {
  const dir = mkdtempSync(join(tmpdir(), 'tenantry-registry-'));
  const registry = libsqlRegistry({ url: pathToFileURL(join(dir, 'control-plane.db')).href, now });
  return {
    registry,
    cleanup: async () => {
      await registry.close?.();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

/** The machine's PostgreSQL (trust auth); override with TENANTRY_TEST_PG_URL. */
const PG_URL = process.env['TENANTRY_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
let pgSchemas = 0;

registryContract('PostgreSQL', async (now) => {
  // A fresh schema per test, dropped afterwards.
  const schema = `tenantry_test_${process.pid}_${++pgSchemas}`;
  const registry = postgresRegistry({ connectionString: PG_URL, schema, now });
  await registry.migrate();
  return {
    registry,
    cleanup: async () => {
      await registry.close();
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      try {
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
});

describe('memoryRegistry(initialRecords)', () => {
  it('stores the initial records at once', async () => {
    const registry = memoryRegistry([{ id: 'acme', domains: ['acme.com'] }, { id: 'globex' }]);
    expect((await registry.list()).map((r) => r.id)).toEqual(['acme', 'globex']);
    expect((await registry.findByDomain('acme.com'))?.id).toBe('acme');
  });

  it('throws a TypeError at once for an invalid or conflicting initial record', () => {
    expect(() => memoryRegistry([{ id: 'Bad' }])).toThrow(/id: not a valid tenant id/);
    expect(() => memoryRegistry([{ id: 'a', domains: ['x.com'] }, { id: 'b', domains: ['x.com'] }])).toThrow(/domain "x.com".*tenant "a"/);
    expect(() => memoryRegistry({} as never)).toThrow(/initialRecords/);
    expect(() => memoryRegistry([], { now: 5 as never })).toThrow(/now/);
  });
});
