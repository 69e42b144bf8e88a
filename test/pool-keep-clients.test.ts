/**
 * `keepClients: false` (`databases.keepClients`): every lease gets a client of its own, closed
 * when the lease ends, so no client outlives the request that made it (Cloudflare Workers).
 */
import { describe, expect, it } from 'vitest';
import { ClientPool } from '../src/router/pool.js';
import { createTenantry, getTenantClient, memoryRegistry } from '../src/index.js';
import { poolFixture } from './helpers/pool.js';
import { testTenantry } from './helpers/env.js';

const { connection, recordingPool } = poolFixture();

describe('a pool that does not keep clients', () => {
  it('opens a client for each lease and closes it when the lease is released', async () => {
    const { pool, opened } = recordingPool({ keepClients: false });
    const first = pool.acquire('acme', connection('acme'));
    const second = pool.acquire('acme', connection('acme'));
    expect(opened).toHaveLength(2);
    expect(first.client).not.toBe(second.client);
    await first.client.execute('create table if not exists t (x integer)');
    first.release();
    expect(opened[0]!.closes).toBe(1);
    expect(opened[1]!.closes).toBe(0); // the other lease's client stays open
    expect((await second.client.execute('select count(*) as n from t')).rows[0]!['n']).toBe(0);
    second.release();
    second.release(); // idempotent
    expect(opened.map((o) => o.closes)).toEqual([1, 1]);
    expect(pool.stats()).toMatchObject({ size: 0, leased: 0, opens: 2, misses: 2, hits: 0, closed: 2 });
    await pool.close();
  });

  it('gives each operation of a facade its own client, and a transaction one client for its whole life', async () => {
    const { pool, opened } = recordingPool({ keepClients: false });
    const db = pool.client('facade', connection('facade'));
    await db.execute('create table if not exists t (x integer)');
    await db.execute('insert into t values (1)');
    expect(opened).toHaveLength(2);
    expect(opened.every((o) => o.closes === 1)).toBe(true);
    const tx = await db.transaction('write');
    await tx.execute('insert into t values (2)');
    await tx.execute('insert into t values (3)');
    expect(opened).toHaveLength(3);
    expect(opened[2]!.closes).toBe(0);
    await tx.commit();
    expect(opened[2]!.closes).toBe(1);
    expect((await db.execute('select count(*) as n from t')).rows[0]!['n']).toBe(3);
    await pool.close();
  });

  it('close() waits for a client still leased, and acquire() is refused afterwards', async () => {
    const { pool, opened } = recordingPool({ keepClients: false });
    const lease = pool.acquire('late', connection('late'));
    let closed = false;
    const closing = pool.close().then(() => (closed = true));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    expect(opened[0]!.closes).toBe(0);
    lease.release();
    await closing;
    expect(opened[0]!.closes).toBe(1);
    expect(() => pool.acquire('late', connection('late'))).toThrow(TypeError);
  });

  it('refuses a keepClients that is not a boolean', () => {
    expect(() => new ClientPool({ keepClients: 'no' as unknown as boolean })).toThrow(/keepClients.*must be a boolean/);
  });
});

describe('databases.keepClients', () => {
  it('defaults to true on Node: one client serves the tenant across requests', async () => {
    const { tenantry, addTenant, close } = await testTenantry();
    await addTenant('acme');
    for (let i = 0; i < 3; i++) {
      await tenantry.withTenant('acme', async () => (await getTenantClient()).execute('select 1'));
    }
    expect(tenantry.stats().pool).toMatchObject({ size: 1, opens: 1 });
    await close();
  });

  it('false: no client is kept between operations or requests', async () => {
    const { tenantry, addTenant, close } = await testTenantry({ databases: { keepClients: false } });
    await addTenant('acme'); // two operations
    await tenantry.withTenant('acme', async () => {
      const db = await getTenantClient();
      await db.execute('select 1');
      await db.execute('select 2');
    });
    expect(tenantry.stats().pool).toMatchObject({ size: 0, leased: 0, opens: 4, closed: 4 });
    await close();
  });

  it('is refused unless a boolean, naming the option', () => {
    expect(() =>
      createTenantry({ registry: memoryRegistry(), databases: { urlTemplate: 'libsql://{tenant}.example.test', keepClients: 1 as unknown as boolean } }),
    ).toThrow(/databases\.keepClients must be a boolean/);
  });
});
