import { describe, expect, it } from 'vitest';
import { isTenantryError } from '../src/errors/index.js';
import type { TenantRecord } from '../src/protocol/index.js';
import { RegistryCache } from '../src/registry/index.js';
import type { RegistryCacheOptions, TenantRegistry } from '../src/registry/index.js';

function record(id: string, fields: Partial<TenantRecord> = {}): TenantRecord {
  return {
    id,
    domains: [],
    plan: 'free',
    status: 'active',
    db: {},
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    ...fields,
  };
}

/** A fake registry that counts calls, can fail, and can hold answers back until released. */
function fakeRegistry(initial: TenantRecord[] = []) {
  const records = new Map(initial.map((r) => [r.id, r]));
  const calls = { get: 0, findBySlug: 0, findByDomain: 0 };
  let failing = false;
  let gate: Promise<void> | undefined;
  let openGate: (() => void) | undefined;
  const answer = async <T>(value: () => T): Promise<T> => {
    if (gate !== undefined) await gate;
    if (failing) throw new Error('registry down');
    return value();
  };
  const registry: TenantRegistry = {
    get: (id) => {
      calls.get++;
      return answer(() => records.get(id));
    },
    findBySlug: (slug) => {
      calls.findBySlug++;
      return answer(() => [...records.values()].find((r) => r.slug === slug));
    },
    findByDomain: (domain) => {
      calls.findByDomain++;
      return answer(() => [...records.values()].find((r) => r.domains.includes(domain.toLowerCase())));
    },
    list: async () => [...records.values()],
    put: async () => {
      throw new Error('not used');
    },
    delete: async (id) => records.delete(id),
  };
  return {
    registry,
    calls,
    total: () => calls.get + calls.findBySlug + calls.findByDomain,
    set: (r: TenantRecord) => records.set(r.id, r),
    remove: (id: string) => records.delete(id),
    fail: (value: boolean) => {
      failing = value;
    },
    /** Holds every answer until the returned function is called. */
    hold: () => {
      gate = new Promise((resolve) => (openGate = resolve));
      return () => {
        gate = undefined;
        openGate!();
      };
    },
  };
}

function setup(initial: TenantRecord[] = [], options: RegistryCacheOptions = {}) {
  const fake = fakeRegistry(initial);
  const clock = { now: 1_000_000 };
  const cache = new RegistryCache(fake.registry, { ttlMs: 1_000, negativeTtlMs: 500, staleIfErrorMs: 10_000, now: () => clock.now, ...options });
  return { ...fake, clock, cache };
}

const acme = () => record('acme', { slug: 'acme-inc', domains: ['acme.com', 'shop.acme.com'], plan: 'pro', quotas: { maxUsers: 5 } });

describe('RegistryCache', () => {
  describe('hits and misses', () => {
    it('loads on a miss, then answers synchronously from the cache and counts both', async () => {
      const t = setup([acme()]);
      expect(t.cache.peek('id', 'acme')).toBeUndefined();
      const loaded = await t.cache.lookup('id', 'acme');
      expect(loaded?.id).toBe('acme');
      const again = t.cache.lookup('id', 'acme');
      expect(again).not.toBeInstanceOf(Promise);
      expect(again).toBe(loaded);
      expect(t.cache.peek('id', 'acme')).toBe(loaded);
      expect(t.calls.get).toBe(1);
      expect(t.cache.stats()).toMatchObject({ hits: 2, misses: 1, stale: 0, negativeHits: 0, size: 1 });
    });

    it('looks up slugs, then falls back to the id (an id doubles as a slug)', async () => {
      const t = setup([acme(), record('globex')]);
      expect((await t.cache.lookup('slug', 'acme-inc'))?.id).toBe('acme');
      expect((await t.cache.lookup('slug', 'globex'))?.id).toBe('globex');
      expect(t.calls).toEqual({ get: 1, findBySlug: 2, findByDomain: 0 });
      expect(t.cache.peek('slug', 'globex')?.id).toBe('globex');
    });

    it('looks up domains case-insensitively under one key', async () => {
      const t = setup([acme()]);
      expect((await t.cache.lookup('domain', 'Shop.ACME.com'))?.id).toBe('acme');
      expect(t.cache.peek('domain', 'shop.acme.com')?.id).toBe('acme');
      expect(t.calls.findByDomain).toBe(1);
    });

    it('returns frozen records that do not alias what the registry returned', async () => {
      const source = acme();
      const t = setup([source]);
      const cached = (await t.cache.lookup('id', 'acme'))!;
      expect(Object.isFrozen(cached)).toBe(true);
      expect(Object.isFrozen(cached.domains)).toBe(true);
      expect(Object.isFrozen(cached.db)).toBe(true);
      expect(Object.isFrozen(cached.quotas)).toBe(true);
      expect(() => cached.domains.push('evil.com')).toThrow(TypeError);
      expect(Object.isFrozen(source)).toBe(false);
      source.domains.push('later.com');
      expect(cached.domains).toEqual(['acme.com', 'shop.acme.com']);
    });
  });

  describe('ttl', () => {
    it('serves a record until ttlMs, then loads it again and picks up changes', async () => {
      const t = setup([acme()]);
      await t.cache.lookup('id', 'acme');
      t.clock.now += 999;
      expect(t.cache.peek('id', 'acme')?.plan).toBe('pro');
      t.set(record('acme', { plan: 'enterprise' }));
      t.clock.now += 1;
      expect(t.cache.peek('id', 'acme')).toBeUndefined();
      const reloaded = t.cache.lookup('id', 'acme');
      expect(reloaded).toBeInstanceOf(Promise);
      expect((await reloaded)?.plan).toBe('enterprise');
      expect(t.calls.get).toBe(2);
    });

    it('with ttlMs 0 asks the registry every time', async () => {
      const t = setup([acme()], { ttlMs: 0 });
      await t.cache.lookup('id', 'acme');
      expect(t.cache.peek('id', 'acme')).toBeUndefined();
      await t.cache.lookup('id', 'acme');
      expect(t.calls.get).toBe(2);
    });
  });

  describe('negative caching', () => {
    it('remembers an unknown tenant for negativeTtlMs, then asks again', async () => {
      const t = setup();
      expect(await t.cache.lookup('id', 'ghost')).toBeUndefined();
      expect(t.cache.peek('id', 'ghost')).toBeNull();
      expect(t.cache.lookup('id', 'ghost')).toBeUndefined();
      expect(t.calls.get).toBe(1);
      expect(t.cache.stats()).toMatchObject({ negativeHits: 2, hits: 0, misses: 1 });

      t.set(record('ghost'));
      t.clock.now += 499;
      expect(t.cache.peek('id', 'ghost')).toBeNull();
      t.clock.now += 1;
      expect(t.cache.peek('id', 'ghost')).toBeUndefined();
      expect((await t.cache.lookup('id', 'ghost'))?.id).toBe('ghost');
      expect(t.calls.get).toBe(2);
    });

    it('with negativeTtlMs 0 does not remember unknown tenants', async () => {
      const t = setup([], { negativeTtlMs: 0 });
      await t.cache.lookup('domain', 'nope.com');
      expect(t.cache.peek('domain', 'nope.com')).toBeUndefined();
      expect(t.cache.stats().size).toBe(0);
    });

    it('drops a cached record when the tenant turns out to be gone', async () => {
      const t = setup([acme()]);
      await t.cache.lookup('id', 'acme');
      t.remove('acme');
      t.clock.now += 1_000;
      expect(await t.cache.lookup('id', 'acme')).toBeUndefined();
      expect(t.cache.peek('id', 'acme')).toBeNull();
      t.fail(true);
      t.clock.now += 500;
      // No stale record to fall back on: the gone tenant is not resurrected.
      await expect(t.cache.lookup('id', 'acme')).rejects.toMatchObject({ code: 'TENANT_UNAVAILABLE' });
    });
  });

  describe('single flight', () => {
    it('makes one registry call for 1,000 concurrent lookups of a cold key', async () => {
      const t = setup([acme()]);
      const release = t.hold();
      const pending = Array.from({ length: 1_000 }, () => t.cache.lookup('id', 'acme'));
      release();
      const results = await Promise.all(pending);
      expect(t.calls.get).toBe(1);
      expect(new Set(results).size).toBe(1);
      expect(results[0]?.id).toBe('acme');
      expect(t.cache.stats().misses).toBe(1_000);
    });

    it('shares one failure among concurrent lookups and starts afresh after it', async () => {
      const t = setup([acme()]);
      t.fail(true);
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => t.cache.lookup('slug', 'acme-inc')));
      expect(results.every((r) => r.status === 'rejected')).toBe(true);
      expect(t.calls.findBySlug).toBe(1);
      t.fail(false);
      expect((await t.cache.lookup('slug', 'acme-inc'))?.id).toBe('acme');
      expect(t.calls.findBySlug).toBe(2);
    });

    it('keeps loads of different keys apart', async () => {
      const t = setup([acme()]);
      await Promise.all([t.cache.lookup('id', 'acme'), t.cache.lookup('slug', 'acme-inc'), t.cache.lookup('domain', 'acme.com')]);
      expect(t.calls).toEqual({ get: 1, findBySlug: 1, findByDomain: 1 });
    });
  });

  describe('stale-if-error', () => {
    it('serves a cached record past its ttl while the registry fails, within staleIfErrorMs', async () => {
      const t = setup([acme()]);
      const first = await t.cache.lookup('domain', 'acme.com');
      t.fail(true);
      t.clock.now += 1_000 + 10_000; // the last moment of the window
      expect(t.cache.peek('domain', 'acme.com')).toBeUndefined();
      expect(await t.cache.lookup('domain', 'acme.com')).toBe(first);
      expect(t.cache.stats().stale).toBe(1);
      // The entry is kept (not refreshed): each lookup asks the registry again.
      expect(await t.cache.lookup('domain', 'acme.com')).toBe(first);
      expect(t.calls.findByDomain).toBe(3);
      expect(t.cache.stats().stale).toBe(2);
    });

    it('rejects with TENANT_UNAVAILABLE once the window has passed', async () => {
      const t = setup([acme()]);
      await t.cache.lookup('id', 'acme');
      t.fail(true);
      t.clock.now += 1_000 + 10_001;
      const err = await Promise.resolve(t.cache.lookup('id', 'acme')).catch((e: unknown) => e);
      expect(isTenantryError(err)).toBe(true);
      expect(err).toMatchObject({ code: 'TENANT_UNAVAILABLE', status: 503, retryAfterSeconds: 5 });
      expect((err as Error).cause).toBeInstanceOf(Error);
      expect(((err as Error).cause as Error).message).toBe('registry down');
    });

    it('rejects with TENANT_UNAVAILABLE for a key it never cached', async () => {
      const t = setup();
      t.fail(true);
      await expect(t.cache.lookup('slug', 'never-seen')).rejects.toMatchObject({ code: 'TENANT_UNAVAILABLE' });
    });

    it('with staleIfErrorMs 0 serves nothing stale', async () => {
      const t = setup([acme()], { staleIfErrorMs: 0 });
      await t.cache.lookup('id', 'acme');
      t.fail(true);
      t.clock.now += 1_001;
      await expect(t.cache.lookup('id', 'acme')).rejects.toMatchObject({ code: 'TENANT_UNAVAILABLE' });
    });

    it('recovers when the registry comes back: fresh records, cached again', async () => {
      const t = setup([acme()]);
      await t.cache.lookup('id', 'acme');
      t.fail(true);
      t.clock.now += 20_000;
      await expect(t.cache.lookup('id', 'acme')).rejects.toMatchObject({ code: 'TENANT_UNAVAILABLE' });
      t.fail(false);
      t.set(record('acme', { plan: 'enterprise' }));
      expect((await t.cache.lookup('id', 'acme'))?.plan).toBe('enterprise');
      expect(t.cache.peek('id', 'acme')?.plan).toBe('enterprise');
    });

    it('turns a registry that throws synchronously into the same coded rejection', async () => {
      const t = setup();
      const cache = new RegistryCache({
        ...t.registry,
        get: () => {
          throw new Error('sync boom');
        },
      });
      await expect(cache.load('id', 'acme')).rejects.toMatchObject({ code: 'TENANT_UNAVAILABLE' });
    });
  });

  describe('invalidate', () => {
    it("drops the tenant's id, slug and domain keys and no one else's", async () => {
      const t = setup([acme(), record('globex', { domains: ['globex.com'] })]);
      await t.cache.lookup('id', 'acme');
      await t.cache.lookup('slug', 'acme-inc');
      await t.cache.lookup('domain', 'acme.com');
      await t.cache.lookup('domain', 'shop.acme.com');
      await t.cache.lookup('slug', 'acme'); // id used as a slug
      await t.cache.lookup('domain', 'globex.com');
      expect(t.cache.stats().size).toBe(6);

      t.cache.invalidate('acme');
      expect(t.cache.peek('id', 'acme')).toBeUndefined();
      expect(t.cache.peek('slug', 'acme-inc')).toBeUndefined();
      expect(t.cache.peek('slug', 'acme')).toBeUndefined();
      expect(t.cache.peek('domain', 'acme.com')).toBeUndefined();
      expect(t.cache.peek('domain', 'shop.acme.com')).toBeUndefined();
      expect(t.cache.peek('domain', 'globex.com')?.id).toBe('globex');
      expect(t.cache.stats().size).toBe(1);
    });

    it('drops negative entries, so a slug or domain just given to the tenant resolves at once', async () => {
      const t = setup([acme()]);
      expect(await t.cache.lookup('domain', 'acme.org')).toBeUndefined();
      expect(await t.cache.lookup('id', 'acme-two')).toBeUndefined();
      expect(t.cache.peek('domain', 'acme.org')).toBeNull();
      t.set(record('acme', { domains: ['acme.com', 'acme.org'] }));
      t.cache.invalidate('acme');
      expect(t.cache.peek('domain', 'acme.org')).toBeUndefined();
      expect(t.cache.peek('id', 'acme-two')).toBeUndefined();
      expect((await t.cache.lookup('domain', 'acme.org'))?.id).toBe('acme');
    });

    it('does not let a load in flight write back the record it read before the change', async () => {
      const t = setup([acme()]);
      const release = t.hold();
      const before = t.cache.lookup('id', 'acme');
      // The registry has answered with the old record, but the answer is still on its way.
      const oldRecord = acme();
      t.set(record('acme', { status: 'suspended' }));
      t.cache.invalidate('acme');
      t.set(oldRecord); // what the held answer will carry
      release();
      expect((await before)?.status).toBe('active');
      t.set(record('acme', { status: 'suspended' }));
      expect(t.cache.peek('id', 'acme')).toBeUndefined();
      expect((await t.cache.lookup('id', 'acme'))?.status).toBe('suspended');
    });

    it('does not cache an in-flight domain load that turns out to be the invalidated tenant', async () => {
      const t = setup([acme()]);
      const release = t.hold();
      const pending = t.cache.lookup('domain', 'shop.acme.com'); // key not known to belong to acme yet
      t.cache.invalidate('acme');
      release();
      expect((await pending)?.id).toBe('acme');
      expect(t.cache.peek('domain', 'shop.acme.com')).toBeUndefined();
    });

    it('starts a fresh load for a lookup made after invalidate instead of joining the stale one', async () => {
      const t = setup([acme()]);
      const release = t.hold();
      const first = t.cache.lookup('id', 'acme');
      t.cache.invalidate('acme');
      const second = t.cache.lookup('id', 'acme');
      release();
      await Promise.all([first, second]);
      expect(t.calls.get).toBe(2);
      // Only the load that started after the invalidation is cached.
      expect(t.cache.peek('id', 'acme')).toBe(await second);
    });

    it('keeps other tenants cacheable while one is invalidated mid-load', async () => {
      const t = setup([acme(), record('globex')]);
      const release = t.hold();
      const pending = t.cache.lookup('id', 'globex');
      t.cache.invalidate('acme');
      release();
      await pending;
      expect(t.cache.peek('id', 'globex')?.id).toBe('globex');
    });

    it('clear() forgets everything and keeps loads in flight from caching', async () => {
      const t = setup([acme()]);
      await t.cache.lookup('id', 'acme');
      await t.cache.lookup('id', 'ghost');
      const release = t.hold();
      const pending = t.cache.lookup('domain', 'acme.com');
      t.cache.clear();
      release();
      await pending;
      expect(t.cache.stats().size).toBe(0);
      expect(t.cache.peek('id', 'acme')).toBeUndefined();
      expect(t.cache.peek('domain', 'acme.com')).toBeUndefined();
    });
  });

  describe('bounds', () => {
    it('keeps at most max records, least recently used out first, and forgets their index entries', async () => {
      const ids = Array.from({ length: 5 }, (_, i) => `t${i}`);
      const t = setup(ids.map((id) => record(id)), { max: 3 });
      for (const id of ids.slice(0, 3)) await t.cache.lookup('id', id);
      t.cache.peek('id', 't0'); // t0 is now the most recently used
      await t.cache.lookup('id', 't3');
      await t.cache.lookup('id', 't4');
      expect(t.cache.stats().size).toBe(3);
      expect(t.cache.peek('id', 't0')?.id).toBe('t0');
      expect(t.cache.peek('id', 't1')).toBeUndefined();
      expect(t.cache.peek('id', 't2')).toBeUndefined();
      // An evicted key is not resurrected by invalidate bookkeeping.
      t.cache.invalidate('t1');
      expect(t.cache.stats().size).toBe(3);
    });

    it('keeps negative entries in their own bound, so unknown names cannot push out known tenants', async () => {
      const t = setup([acme()], { max: 2 });
      await t.cache.lookup('id', 'acme');
      for (let i = 0; i < 10; i++) await t.cache.lookup('id', `ghost-${i}`);
      expect(t.cache.peek('id', 'acme')?.id).toBe('acme');
      expect(t.cache.stats().size).toBe(3);
    });
  });

  describe('repeated lookups of one tenant (the front entry)', () => {
    it('answers a run of the same lookup without the registry, and still honours ttlMs', async () => {
      const t = setup([acme()]);
      const loaded = await t.cache.lookup('id', 'acme');
      for (let i = 0; i < 5; i++) expect(t.cache.peek('id', 'acme')).toBe(loaded);
      expect(t.cache.stats()).toMatchObject({ hits: 5, misses: 1 });
      t.clock.now += 1_000;
      expect(t.cache.peek('id', 'acme')).toBeUndefined();
    });

    it('does not answer another kind or value with the last entry', async () => {
      const t = setup([acme(), record('globex')]);
      await t.cache.lookup('id', 'acme');
      expect(t.cache.peek('id', 'acme')?.id).toBe('acme');
      expect(t.cache.peek('slug', 'acme')).toBeUndefined();
      expect(t.cache.peek('id', 'globex')).toBeUndefined();
      expect(t.cache.peek('id', 'acme')?.id).toBe('acme');
    });

    it('forgets the entry when the tenant is invalidated, reloaded, cleared or evicted', async () => {
      const t = setup([acme(), record('globex')], { max: 1 });
      await t.cache.lookup('id', 'acme');
      expect(t.cache.peek('id', 'acme')?.plan).toBe('pro');
      t.set(record('acme', { plan: 'enterprise' }));
      t.cache.invalidate('acme');
      expect(t.cache.peek('id', 'acme')).toBeUndefined();
      expect((await t.cache.lookup('id', 'acme'))?.plan).toBe('enterprise');
      expect(t.cache.peek('id', 'acme')?.plan).toBe('enterprise');

      // Past the TTL a reload replaces the entry: the new record is served, not the front's.
      t.clock.now += 1_000;
      t.set(record('acme', { plan: 'free' }));
      expect((await t.cache.lookup('id', 'acme'))?.plan).toBe('free');
      expect(t.cache.peek('id', 'acme')?.plan).toBe('free');

      t.cache.clear();
      expect(t.cache.peek('id', 'acme')).toBeUndefined();
      await t.cache.lookup('id', 'acme');
      expect(t.cache.peek('id', 'acme')?.id).toBe('acme');
      // max 1: loading globex (no lookup of it first) evicts acme, whose entry must not answer any more.
      await t.cache.load('id', 'globex');
      expect(t.cache.peek('id', 'acme')).toBeUndefined();
    });

    it('keeps a tenant looked up between loads of others the most recently used', async () => {
      const ids = ['t0', 't1', 't2', 't3', 't4', 't5'];
      const t = setup([acme(), ...ids.map((id) => record(id))], { max: 3 });
      await t.cache.lookup('id', 'acme');
      for (const id of ids) {
        expect(t.cache.peek('id', 'acme')?.id).toBe('acme');
        await t.cache.lookup('id', id);
      }
      expect(t.cache.peek('id', 'acme')?.id).toBe('acme');
      expect(t.calls.get).toBe(1 + ids.length);
    });
  });

  describe('options', () => {
    const registry = fakeRegistry().registry;
    it('accepts 0 for negativeTtlMs, staleIfErrorMs and ttlMs', () => {
      expect(() => new RegistryCache(registry, { ttlMs: 0, negativeTtlMs: 0, staleIfErrorMs: 0 })).not.toThrow();
    });

    it('throws a TypeError naming the option for invalid values', () => {
      const bad: [RegistryCacheOptions, RegExp][] = [
        [{ max: 0 }, /max/],
        [{ max: 1.5 }, /max/],
        [{ max: Infinity }, /max/],
        [{ ttlMs: -1 }, /ttlMs/],
        [{ ttlMs: Number.NaN }, /ttlMs/],
        [{ negativeTtlMs: -5 }, /negativeTtlMs/],
        [{ staleIfErrorMs: Infinity }, /staleIfErrorMs/],
        [{ staleIfErrorMs: '10' as never }, /staleIfErrorMs/],
        [{ now: 5 as never }, /now/],
      ];
      for (const [options, message] of bad) {
        expect(() => new RegistryCache(registry, options)).toThrow(TypeError);
        expect(() => new RegistryCache(registry, options)).toThrow(message);
      }
      expect(() => new RegistryCache(undefined as never)).toThrow(/registry/);
    });
  });
});
