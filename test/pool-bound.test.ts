import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ClientPool, type ClientPoolOptions } from '../src/router/pool.js';
import { poolFixture } from './helpers/pool.js';

const fixture = poolFixture();
const { dir, connection } = fixture;

/** The shared recording pool, plus `of(tenantId)`: the clients it opened for that tenant. */
function recordingPool(options: ClientPoolOptions = {}) {
  const recording = fixture.recordingPool(options);
  const of = (tenantId: string) => recording.opened.filter((o) => o.url === connection(tenantId).url);
  return { ...recording, of };
}

function use(pool: ClientPool, tenantId: string): void {
  pool.acquire(tenantId, connection(tenantId)).release();
}

describe('ClientPool bound', () => {
  it('keeps at most maxClients clients and evicts the least recently used one', async () => {
    const { pool, of, evicted } = recordingPool({ maxClients: 3 });
    use(pool, 'a');
    use(pool, 'b');
    use(pool, 'c');
    use(pool, 'a'); // a is now the most recently used; b the least
    use(pool, 'd');

    expect(pool.stats().size).toBe(3);
    expect(evicted).toEqual([['b', 'evict']]);
    expect(of('b')[0]?.closes).toBe(1);
    expect(of('a')[0]?.closes).toBe(0);
    expect(of('c')[0]?.closes).toBe(0);

    use(pool, 'c'); // order now: a, d, c → next eviction takes a
    use(pool, 'e');
    expect(evicted).toEqual([
      ['b', 'evict'],
      ['a', 'evict'],
    ]);
    await pool.close();
  });

  it('counts hits, misses, opens, evictions, closes and active leases', async () => {
    const { pool } = recordingPool({ maxClients: 2 });
    const first = pool.acquire('a', connection('a'));
    const second = pool.acquire('a', connection('a'));
    expect(second.client).toBe(first.client);
    expect(pool.stats()).toEqual({ size: 1, leased: 2, hits: 1, misses: 1, opens: 1, evictions: 0, closed: 0 });

    first.release();
    first.release(); // idempotent
    expect(pool.stats().leased).toBe(1);
    second.release();

    use(pool, 'b');
    use(pool, 'c'); // evicts a
    expect(pool.stats()).toEqual({ size: 2, leased: 0, hits: 1, misses: 3, opens: 3, evictions: 1, closed: 1 });
    await pool.close();
    expect(pool.stats()).toMatchObject({ size: 0, evictions: 1, closed: 3 });
  });

  it('lets in-flight clients exceed maxClients until they are released', async () => {
    const { pool, of, evicted } = recordingPool({ maxClients: 2 });
    const a = pool.acquire('a', connection('a'));
    const b = pool.acquire('b', connection('b'));
    const c = pool.acquire('c', connection('c')); // the pool is full of leased clients: a leaves but stays open

    expect(evicted).toEqual([['a', 'evict']]);
    expect(pool.stats()).toMatchObject({ size: 2, leased: 3, opens: 3 });
    expect(of('a')[0]?.closes).toBe(0);
    expect((await a.client.execute('select 1 as one')).rows[0]?.one).toBe(1);

    a.release();
    expect(of('a')[0]?.closes).toBe(1);
    b.release();
    c.release();
    expect(of('b')[0]?.closes).toBe(0);
    await pool.close();
  });

  it('counts read-write and read-only clients of a tenant as two clients', async () => {
    const { pool, opened } = recordingPool({ maxClients: 2 });
    pool.acquire('a', connection('a')).release();
    pool.acquire('a', connection('a'), { readOnly: true }).release();
    expect(pool.stats()).toMatchObject({ size: 2, opens: 2, evictions: 0 });
    use(pool, 'b');
    expect(pool.stats()).toMatchObject({ size: 2, opens: 3, evictions: 1 });
    expect(opened[0]?.closes).toBe(1); // the read-write client of a was the least recently used
    await pool.close();
  });

  it('replaces a client opened for another url or auth token, closing the old one after its last lease', async () => {
    const { pool, opened, evicted } = recordingPool();
    const old = pool.acquire('a', connection('a'));
    const moved = { url: pathToFileURL(path.join(dir, 'a-moved.db')).href };
    const fresh = pool.acquire('a', moved);

    expect(fresh.client).not.toBe(old.client);
    expect(evicted).toEqual([['a', 'replace']]);
    expect(opened[0]?.closes).toBe(0);
    old.release();
    expect(opened[0]?.closes).toBe(1);
    fresh.release();

    pool.acquire('a', { ...moved, authToken: 'rotated' }).release();
    expect(evicted).toEqual([
      ['a', 'replace'],
      ['a', 'replace'],
    ]);
    expect(pool.stats()).toMatchObject({ size: 1, opens: 3, misses: 3, hits: 0 });
    await pool.close();
  });

  it('replaces a pooled client that was closed outside the pool', async () => {
    const { pool, opened } = recordingPool();
    use(pool, 'a');
    opened[0]?.client.close();
    const lease = pool.acquire('a', connection('a'));
    expect((await lease.client.execute('select 1 as one')).rows[0]?.one).toBe(1);
    expect(pool.stats().opens).toBe(2);
    lease.release();
    await pool.close();
  });

  it('hands out a shared view whose close() leaves the pooled client open', async () => {
    const { pool, opened } = recordingPool();
    const lease = pool.acquire('a', connection('a'));
    lease.client.close();
    expect(lease.client.closed).toBe(false);
    expect(opened[0]?.closes).toBe(0);
    expect((await lease.client.execute('select 1 as one')).rows[0]?.one).toBe(1);
    lease.release();
    await pool.close();
  });

  it('lets onEvict call back into the pool', async () => {
    let pool: ClientPool | undefined;
    const reopened: string[] = [];
    pool = new ClientPool({
      maxClients: 2,
      onEvict: (tenantId, reason) => {
        if (reason !== 'invalidate' || pool === undefined) return;
        pool.acquire(tenantId, connection(tenantId)).release(); // warm a fresh client at once
        reopened.push(tenantId);
      },
    });
    use(pool, 'a');
    use(pool, 'b');
    pool.invalidate('a');
    expect(reopened).toEqual(['a']);
    expect(pool.stats()).toMatchObject({ size: 2, opens: 3, evictions: 1, closed: 1 });
    const lease = pool.acquire('a', connection('a'));
    expect((await lease.client.execute('select 1 as one')).rows[0]?.one).toBe(1);
    lease.release();
    expect(pool.stats().hits).toBe(1);
    await pool.close();
  });

  it.each([
    ['maxClients', { maxClients: 0 }],
    ['maxClients', { maxClients: 1.5 }],
    ['maxClients', { maxClients: Number.NaN }],
    ['idleTtlMs', { idleTtlMs: -1 }],
    ['idleTtlMs', { idleTtlMs: 0 }],
    ['sweepIntervalMs', { sweepIntervalMs: 0 }],
    ['createClient', { createClient: 'libsql' as unknown as ClientPoolOptions['createClient'] }],
    ['now', { now: 5 as unknown as ClientPoolOptions['now'] }],
  ] as const)('rejects an invalid %s with a TypeError naming it', (name, options) => {
    expect(() => new ClientPool(options)).toThrow(TypeError);
    expect(() => new ClientPool(options)).toThrow(name);
  });

  it('accepts options left undefined as defaults', async () => {
    const pool = new ClientPool({ maxClients: undefined, idleTtlMs: undefined, now: undefined });
    await pool.close();
  });
});
