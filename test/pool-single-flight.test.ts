import { createClient, type Client } from '@libsql/client';
import { describe, expect, it } from 'vitest';
import { ClientPool, type PoolClientConfig } from '../src/router/pool.js';
import { poolFixture } from './helpers/pool.js';

const { connection } = poolFixture();

function countingPool() {
  const calls: PoolClientConfig[] = [];
  const pool = new ClientPool({
    createClient: (config): Client => {
      calls.push(config);
      return createClient(config);
    },
  });
  return { pool, calls };
}

/** Runs `count` tasks concurrently; odd ones first yield to the event loop so the starts interleave. */
function concurrently<T>(count: number, task: (i: number) => Promise<T>): Promise<T[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      if (i % 2 === 1) await new Promise<void>((resolve) => setImmediate(resolve));
      return task(i);
    }),
  );
}

describe('ClientPool single flight', () => {
  it('opens one client for 1,000 concurrent first acquires of a cold tenant', async () => {
    const { pool, calls } = countingPool();
    const results = await concurrently(1_000, async (i) => {
      const lease = pool.acquire('cold', connection('cold'));
      try {
        const rs = await lease.client.execute({ sql: 'select ? as i', args: [i] });
        return rs.rows[0]?.i;
      } finally {
        lease.release();
      }
    });

    expect(results).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toEqual({ url: connection('cold').url, intMode: 'number' });
    expect(pool.stats()).toEqual({ size: 1, leased: 0, hits: 999, misses: 1, opens: 1, evictions: 0, closed: 0 });
    await pool.close();
  });

  it('opens one client for 1,000 concurrent operations of a facade on a cold tenant', async () => {
    const { pool, calls } = countingPool();
    const db = pool.client('cold-facade', connection('cold-facade'));
    await concurrently(1_000, (i) => db.execute('select ? as i', [i]));
    expect(calls).toHaveLength(1);
    expect(pool.stats()).toMatchObject({ opens: 1, misses: 1, hits: 999, leased: 0 });
    await pool.close();
  });

  it('opens exactly one read-only client, apart from the read-write one, under concurrent first acquires', async () => {
    const { pool, calls } = countingPool();
    await concurrently(1_000, async (i) => {
      const lease = pool.acquire('cold-ro', connection('cold-ro'), { readOnly: i % 2 === 0 });
      try {
        await lease.client.execute('select 1');
      } finally {
        lease.release();
      }
    });
    expect(calls).toHaveLength(2);
    expect(pool.stats()).toMatchObject({ size: 2, opens: 2, misses: 2, hits: 998 });
    await pool.close();
  });
});
