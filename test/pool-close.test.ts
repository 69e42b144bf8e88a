import fs from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createClient } from '@libsql/client';
import { describe, expect, it } from 'vitest';
import { ClientPool } from '../src/router/pool.js';
import { poolFixture } from './helpers/pool.js';

const { connection, recordingPool } = poolFixture();

/** Whether `promise` has settled, checked after the pending microtasks and I/O callbacks ran. */
async function hasSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise<void>((resolve) => setImmediate(resolve));
  return settled;
}

const FD_DIR = '/proc/self/fd';
function openFileDescriptors(): number {
  return fs.readdirSync(FD_DIR).length;
}

/**
 * Runs a full garbage collection and lets finalizers run. Needed because libsql 0.5 (under
 * @libsql/client 0.18) keeps a connection's file open after `close()` until the prepared
 * statements made on it are garbage collected, and `@libsql/client` never finalizes them.
 */
async function collectGarbage(): Promise<void> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

describe('ClientPool close', () => {
  it('closes idle clients at once, waits for leased ones, and resolves when every client is closed', async () => {
    const { pool, opened, evicted } = recordingPool();
    const busy = pool.acquire('busy', connection('busy'));
    pool.acquire('idle', connection('idle')).release();
    const query = busy.client.execute('select 1 as one');

    const closing = pool.close();
    expect(opened.map((o) => o.closes)).toEqual([0, 1]);
    expect(await hasSettled(closing)).toBe(false);

    expect((await query).rows[0]?.one).toBe(1); // a running query is not cut off
    expect(await hasSettled(closing)).toBe(false);
    busy.release();
    await closing;

    expect(opened.map((o) => o.closes)).toEqual([1, 1]);
    expect(evicted.sort()).toEqual([
      ['busy', 'close'],
      ['idle', 'close'],
    ]);
    expect(pool.stats()).toMatchObject({ size: 0, leased: 0, evictions: 0, closed: 2 });
  });

  it('also waits for clients that left the pool earlier but are still leased', async () => {
    const { pool, opened } = recordingPool({ maxClients: 1 });
    const lingering = pool.acquire('a', connection('a'));
    pool.acquire('b', connection('b')).release(); // a leaves the pool, still leased
    const closing = pool.close();
    expect(await hasSettled(closing)).toBe(false);
    lingering.release();
    await closing;
    expect(opened.map((o) => o.closes)).toEqual([1, 1]);
  });

  it('is idempotent', async () => {
    const { pool, opened } = recordingPool();
    pool.acquire('a', connection('a')).release();
    const first = pool.close();
    expect(pool.close()).toBe(first);
    await first;
    await pool.close();
    expect(opened[0]?.closes).toBe(1);
  });

  it('resolves at once when the pool never opened a client', async () => {
    await new ClientPool().close();
  });

  it('makes acquire throw a TypeError afterwards', async () => {
    const { pool } = recordingPool();
    await pool.close();
    expect(() => pool.acquire('a', connection('a'))).toThrow(TypeError);
  });

  it('reports a failing client.close() to onError and still resolves', async () => {
    const errors: unknown[] = [];
    const failure = new Error('close failed');
    const pool = new ClientPool({
      onError: (err) => errors.push(err),
      createClient: (config) => {
        const client = createClient(config);
        const close = client.close.bind(client);
        client.close = () => {
          close();
          throw failure;
        };
        return client;
      },
    });
    pool.acquire('a', connection('a')).release();
    pool.acquire('b', connection('b')).release();
    await pool.close();
    expect(errors).toEqual([failure, failure]);
    expect(pool.stats().closed).toBe(2);
  });

  it('reports errors thrown by onOpen and onEvict to onError', async () => {
    const errors: unknown[] = [];
    const pool = new ClientPool({
      onError: (err) => errors.push(err),
      onOpen: () => {
        throw new Error('open hook');
      },
      onEvict: () => {
        throw new Error('evict hook');
      },
    });
    const lease = pool.acquire('a', connection('a'));
    expect((await lease.client.execute('select 1 as one')).rows[0]?.one).toBe(1);
    lease.release();
    await pool.close();
    expect(errors.map((e) => (e as Error).message)).toEqual(['open hook', 'evict hook']);
  });

  it.skipIf(!fs.existsSync(FD_DIR))('returns open file descriptors to their baseline after 50 tenants', async () => {
    // warm up: load the native library and whatever it opens once per process
    const warm = new ClientPool();
    const warmLease = warm.acquire('warm', connection('warm'));
    await warmLease.client.execute('create table if not exists t (x integer)');
    warmLease.release();
    await warm.close();
    await collectGarbage();

    const baseline = openFileDescriptors();
    const pool = new ClientPool();
    await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const id = `fd-${i}`;
        const rw = pool.acquire(id, connection(id));
        const ro = pool.acquire(id, connection(id), { readOnly: true });
        try {
          await rw.client.execute('create table if not exists t (x integer)');
          await rw.client.execute({ sql: 'insert into t values (?)', args: [i] });
          await ro.client.execute('select count(*) from t');
        } finally {
          rw.release();
          ro.release();
        }
      }),
    );
    expect(pool.stats()).toMatchObject({ size: 100, opens: 100 });
    await collectGarbage();
    expect(openFileDescriptors()).toBeGreaterThanOrEqual(baseline + 100); // the pool holds them

    await pool.close();
    expect(pool.stats()).toMatchObject({ size: 0, leased: 0, closed: 100 });
    await collectGarbage();
    expect(openFileDescriptors()).toBe(baseline);
  });
});
