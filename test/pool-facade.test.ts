import { describe, expect, it } from 'vitest';
import { protocolOf } from '../src/router/leased-client.js';
import { poolFixture } from './helpers/pool.js';

const { connection, recordingPool } = poolFixture();

const LONG_QUERY =
  'with recursive c(x) as (select 1 union all select x + 1 from c where x < 1000000) select count(*) as n from c';

describe('pool client facade', () => {
  it('runs every kind of operation on a leased client and holds no lease afterwards', async () => {
    const { pool } = recordingPool();
    const db = pool.client('ops', connection('ops'));
    await db.executeMultiple('create table t (x integer); insert into t values (1);');
    await db.migrate(['insert into t values (2)']);
    await db.batch(['insert into t values (3)', ['insert into t values (?)', [4]]], 'write');
    await db.execute({ sql: 'insert into t values (?)', args: [5] });
    expect((await db.execute('select sum(x) as s from t where x > ?', [0])).rows[0]?.s).toBe(15);
    expect(pool.stats()).toMatchObject({ leased: 0, opens: 1 });
    await pool.close();
  });

  it('keeps working across an invalidate, on a fresh client', async () => {
    const { pool, opened } = recordingPool();
    const db = pool.client('inv', connection('inv'));
    await db.execute('create table t (x integer)');
    await db.execute('insert into t values (1)');

    pool.invalidate('inv');
    expect(opened[0]?.closes).toBe(1); // not leased: closed at once

    await db.execute('insert into t values (2)');
    expect((await db.execute('select count(*) as n from t')).rows[0]?.n).toBe(2);
    expect(opened).toHaveLength(2);
    expect(pool.stats()).toMatchObject({ opens: 2, leased: 0, evictions: 1 });
    await pool.close();
  });

  it('finishes a query started before an invalidate on the old client, then closes it', async () => {
    const { pool, opened } = recordingPool();
    const db = pool.client('mid', connection('mid'));
    const query = db.execute(LONG_QUERY);
    pool.invalidate('mid');
    const next = db.execute('select 2 as two');
    expect((await query).rows[0]?.n).toBe(1_000_000);
    expect((await next).rows[0]?.two).toBe(2);
    expect(opened).toHaveLength(2);
    expect(opened[0]?.closes).toBe(1);
    expect(opened[1]?.closes).toBe(0);
    await pool.close();
  });

  it('holds the lease of a transaction until commit', async () => {
    const { pool, opened } = recordingPool();
    const db = pool.client('tx', connection('tx'));
    await db.execute('create table t (x integer)');

    const tx = await db.transaction('write');
    expect(pool.stats().leased).toBe(1);
    await tx.execute('insert into t values (1)');
    pool.invalidate('tx');
    expect(opened[0]?.closes).toBe(0);
    await tx.batch(['insert into t values (2)']);
    await tx.commit();
    expect(pool.stats().leased).toBe(0);
    expect(opened[0]?.closes).toBe(1);
    tx.close(); // after commit: nothing to release twice
    expect(pool.stats().leased).toBe(0);

    expect((await db.execute('select count(*) as n from t')).rows[0]?.n).toBe(2);
    await pool.close();
  });

  it('releases the lease of a transaction on rollback and on close', async () => {
    const { pool } = recordingPool();
    const db = pool.client('tx-end', connection('tx-end'));
    await db.execute('create table t (x integer)');

    const rolledBack = await db.transaction('write');
    await rolledBack.execute('insert into t values (1)');
    await rolledBack.rollback();
    expect(pool.stats().leased).toBe(0);

    const closed = await db.transaction('write');
    await closed.execute('insert into t values (2)');
    expect(closed.closed).toBe(false);
    closed.close();
    expect(closed.closed).toBe(true);
    expect(pool.stats().leased).toBe(0);

    expect((await db.execute('select count(*) as n from t')).rows[0]?.n).toBe(0);
    await pool.close();
  });

  it('releases the lease when a transaction cannot start', async () => {
    const { pool } = recordingPool();
    const db = pool.client('tx-bad', connection('tx-bad'));
    await expect(db.transaction('sideways' as 'write')).rejects.toThrow(RangeError);
    expect(pool.stats().leased).toBe(0);
    await pool.close();
  });

  it('detaches only the facade on close(), and re-attaches on reconnect()', async () => {
    const { pool, opened } = recordingPool();
    const db = pool.client('detach', connection('detach'));
    await db.execute('select 1');
    db.close();
    expect(db.closed).toBe(true);
    await expect(db.execute('select 1')).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
    await expect(db.transaction('read')).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
    expect(opened[0]?.closes).toBe(0);

    const other = pool.client('detach', connection('detach'));
    expect((await other.execute('select 1 as one')).rows[0]?.one).toBe(1);
    expect(opened).toHaveLength(1);

    db.reconnect();
    expect(db.closed).toBe(false);
    await db.execute('select 1');
    await pool.close();
  });

  it('serves the read-only client of a tenant when asked', async () => {
    const { pool } = recordingPool();
    const rw = pool.client('ro', connection('ro'));
    await rw.execute('create table t (x integer)');
    const ro = pool.client('ro', connection('ro'), { readOnly: true });
    expect((await ro.execute('select count(*) as n from t')).rows[0]?.n).toBe(0);
    await expect(ro.execute('insert into t values (1)')).rejects.toMatchObject({ code: 'SQLITE_READONLY' });
    await rw.execute('insert into t values (1)');
    expect(pool.stats().opens).toBe(2);
    await pool.close();
  });

  it('reports the protocol of its url without opening a client', async () => {
    const { pool, opened } = recordingPool();
    expect(pool.client('p', connection('p')).protocol).toBe('file');
    expect(opened).toHaveLength(0);
    expect(protocolOf('libsql://acme-org.turso.io')).toBe('http');
    expect(protocolOf('https://acme-org.turso.io')).toBe('http');
    expect(protocolOf('wss://acme-org.turso.io')).toBe('ws');
    expect(protocolOf('FILE:local.db')).toBe('file');
    await pool.close();
  });

  it('rejects operations with a TypeError once the pool is closed', async () => {
    const { pool } = recordingPool();
    const db = pool.client('late', connection('late'));
    await pool.close();
    await expect(db.execute('select 1')).rejects.toThrow(TypeError);
  });
});
