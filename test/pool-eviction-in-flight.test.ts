import { createClient } from '@libsql/client';
import { describe, expect, it } from 'vitest';
import type { ClientPoolOptions } from '../src/router/pool.js';
import { poolFixture, type Opened } from './helpers/pool.js';

const fixture = poolFixture();
const { connection } = fixture;

/** Counts to two million: a few hundred milliseconds of work inside SQLite. */
const LONG_QUERY =
  'with recursive c(x) as (select 1 union all select x + 1 from c where x < 2000000) select count(*) as n from c';

/** The shared recording pool, plus `first(tenantId)`: the first client it opened for that tenant. */
function recordingPool(options: ClientPoolOptions = {}) {
  const { pool, opened, evicted } = fixture.recordingPool(options);
  const first = (tenantId: string): Opened => {
    const found = opened.find((o) => o.url === connection(tenantId).url);
    if (found === undefined) throw new Error(`no client opened for ${tenantId}`);
    return found;
  };
  return { pool, evicted, first };
}

describe('ClientPool eviction of a client in use', () => {
  it('(control) closing a libSQL client under a started query makes the query fail', async () => {
    const client = createClient({ url: connection('control').url });
    const query = client.execute(LONG_QUERY);
    client.close();
    await expect(query).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
  });

  it('lets a query finish on a client evicted by LRU pressure, and closes the client right after release', async () => {
    const { pool, evicted, first } = recordingPool({ maxClients: 1 });
    const lease = pool.acquire('a', connection('a'));
    const query = lease.client.execute(LONG_QUERY);

    pool.acquire('b', connection('b')).release(); // the pool holds one client: a is evicted
    expect(evicted).toEqual([['a', 'evict']]);
    expect(first('a').closes).toBe(0);

    const rs = await query;
    expect(rs.rows[0]?.n).toBe(2_000_000);
    expect(first('a').closes).toBe(0);

    lease.release();
    expect(first('a').closes).toBe(1);
    expect(pool.stats()).toMatchObject({ size: 1, leased: 0, evictions: 1, closed: 1 });
    await pool.close();
  });

  it('lets a query finish on a client whose tenant is invalidated, and closes the client right after release', async () => {
    const { pool, evicted, first } = recordingPool();
    const lease = pool.acquire('a', connection('a'));
    const query = lease.client.execute(LONG_QUERY);

    pool.invalidate('a');
    expect(evicted).toEqual([['a', 'invalidate']]);
    expect(pool.stats().size).toBe(0);

    expect((await query).rows[0]?.n).toBe(2_000_000);
    expect(first('a').closes).toBe(0);
    lease.release();
    expect(first('a').closes).toBe(1);

    const next = pool.acquire('a', connection('a')); // a fresh client
    expect(next.client).not.toBe(lease.client);
    next.release();
    await pool.close();
  });

  it('keeps a client with an open transaction alive through eviction and invalidation until release', async () => {
    const { pool, first } = recordingPool({ maxClients: 1 });
    const setup = pool.acquire('tx', connection('tx'));
    await setup.client.execute('create table t (x integer)');
    setup.release();

    const lease = pool.acquire('tx', connection('tx'));
    const tx = await lease.client.transaction('write');
    await tx.execute({ sql: 'insert into t values (?)', args: [1] });

    pool.acquire('other', connection('other')).release(); // evicts tx's client
    pool.invalidate('tx');
    expect(first('tx').closes).toBe(0);

    await tx.execute({ sql: 'insert into t values (?)', args: [2] });
    await tx.commit();
    expect(first('tx').closes).toBe(0);
    lease.release();
    expect(first('tx').closes).toBe(1);

    const check = pool.acquire('tx', connection('tx'));
    expect((await check.client.execute('select sum(x) as s from t')).rows[0]?.s).toBe(3);
    check.release();
    await pool.close();
  });

  it('closes an evicted client that no one leases at once', async () => {
    const { pool, first } = recordingPool({ maxClients: 1 });
    pool.acquire('a', connection('a')).release();
    pool.acquire('b', connection('b')).release();
    expect(first('a').closes).toBe(1);
    await pool.close();
  });

  it('closes an evicted client only when the last of several leases is released', async () => {
    const { pool, first } = recordingPool({ maxClients: 1 });
    const leases = [1, 2, 3].map(() => pool.acquire('a', connection('a')));
    const queries = leases.map((lease) => lease.client.execute('select 1 as one'));
    pool.acquire('b', connection('b')).release();
    await Promise.all(queries);
    leases[0]?.release();
    leases[1]?.release();
    expect(first('a').closes).toBe(0);
    leases[2]?.release();
    expect(first('a').closes).toBe(1);
    await pool.close();
  });
});
