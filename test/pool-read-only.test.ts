import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient, type Client } from '@libsql/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTenantryError } from '../src/errors/index.js';
import { ClientPool, type ClientLease } from '../src/router/pool.js';
import { readOnlyClient } from '../src/router/read-only-client.js';
import { poolFixture } from './helpers/pool.js';

// afterAll hooks run last-registered first: the pool below is closed before the fixture removes dir
const { dir, connection } = poolFixture();
const created: Client[] = [];
const pool = new ClientPool({
  createClient: (config) => {
    const client = createClient(config);
    created.push(client);
    return client;
  },
});
const acme = connection('acme');
let readOnly: ClientLease;

beforeAll(async () => {
  const rw = pool.acquire('acme', acme);
  await rw.client.executeMultiple(`
    create table notes (id integer primary key, body text not null);
    insert into notes (body) values ('first'), ('second');
  `);
  rw.release();
  readOnly = pool.acquire('acme', acme, { readOnly: true });
});

afterAll(async () => {
  readOnly.release();
  await pool.close();
});

const WRITES = [
  'insert into notes (body) values (\'third\')',
  'create table other (x integer)',
  'delete from notes',
  'update notes set body = \'changed\'',
  'drop table notes',
];

describe('read-only tenant client', () => {
  it('is a client of its own, apart from the read-write client of the tenant', () => {
    expect(created).toHaveLength(2);
    const rw = pool.acquire('acme', acme);
    expect(readOnly.client).not.toBe(rw.client);
    rw.release();
  });

  it('reads with execute, batch and transaction', async () => {
    const db = readOnly.client;
    expect((await db.execute('select count(*) as n from notes')).rows[0]?.n).toBe(2);
    expect((await db.execute('select body from notes where id = ?', [2])).rows[0]?.body).toBe('second');
    expect((await db.execute({ sql: 'select body from notes where id = :id', args: { id: 1 } })).rows[0]?.body).toBe(
      'first',
    );

    const results = await db.batch(['select 1 as a', ['select ? as b', [2]]], 'write');
    expect(results).toHaveLength(2); // the pragma's result is not returned
    expect(results[0]?.rows[0]?.a).toBe(1);
    expect(results[1]?.rows[0]?.b).toBe(2);

    const tx = await db.transaction('write');
    try {
      expect((await tx.execute('select count(*) as n from notes')).rows[0]?.n).toBe(2);
    } finally {
      tx.close();
    }
  });

  it.each(WRITES)('rejects %s through execute with SQLITE_READONLY', async (sql) => {
    await expect(readOnly.client.execute(sql)).rejects.toMatchObject({ code: 'SQLITE_READONLY' });
  });

  it('rejects a write in a batch with SQLITE_READONLY, pointing at the caller\'s statement', async () => {
    await expect(
      readOnly.client.batch(['select 1', 'insert into notes (body) values (\'x\')'], 'write'),
    ).rejects.toMatchObject({ code: 'SQLITE_READONLY', statementIndex: 1 });
  });

  it('rejects a write in a transaction with SQLITE_READONLY', async () => {
    const tx = await readOnly.client.transaction('write');
    try {
      await expect(tx.execute('delete from notes')).rejects.toMatchObject({ code: 'SQLITE_READONLY' });
    } finally {
      tx.close();
    }
  });

  it.each([
    ['executeMultiple', (db: Client) => db.executeMultiple('delete from notes;')],
    ['migrate', (db: Client) => db.migrate(['drop table notes'])],
    ['sync', (db: Client) => db.sync()],
  ] as const)('rejects %s with TENANT_SUSPENDED', async (_name, call) => {
    const err: unknown = await call(readOnly.client).catch((e: unknown) => e);
    expect(isTenantryError(err)).toBe(true);
    expect(err).toMatchObject({ code: 'TENANT_SUSPENDED', status: 403 });
  });

  it('leaves the data untouched and the read-write client writing afterwards', async () => {
    const rw = pool.acquire('acme', acme);
    try {
      // concurrent writes use several of the read-write client's connections: none is query-only
      await Promise.all(
        Array.from({ length: 8 }, (_, i) => rw.client.execute({ sql: 'insert into notes (body) values (?)', args: [`rw ${i}`] })),
      );
      await rw.client.batch(['update notes set body = body || \'!\' where id = 1'], 'write');
      expect((await rw.client.execute('select count(*) as n from notes')).rows[0]?.n).toBe(10);
      expect((await readOnly.client.execute('select body from notes where id = 1')).rows[0]?.body).toBe('first!');
    } finally {
      rw.release();
    }
  });

  it('cannot be talked out of read-only mode by a pragma, an attach or a vacuum', async () => {
    const db = readOnly.client;
    const refused = [
      () => db.batch(['PRAGMA query_only = 0', "insert into notes (body) values ('sneaky')"]),
      () => db.execute('pragma   QUERY_ONLY=false'),
      () => db.execute({ sql: "ATTACH DATABASE ? AS other", args: [path.join(dir, 'other.db')] }),
      () => db.execute(`vacuum into '${path.join(dir, 'copy.db')}'`),
      async () => {
        const tx = await db.transaction('read');
        try {
          await tx.execute('PRAGMA query_only = 0');
        } finally {
          tx.close();
        }
      },
      async () => {
        const tx = await db.transaction('read');
        try {
          await tx.batch(["insert into notes (body) values ('x')", 'pragma query_only = 0']);
        } finally {
          tx.close();
        }
      },
    ];
    for (const attempt of refused) {
      await expect(attempt()).rejects.toMatchObject({ code: 'TENANT_SUSPENDED' });
    }
    expect((await db.execute("select count(*) as n from notes where body = 'sneaky'")).rows[0]?.n).toBe(0);
    expect(fs.existsSync(path.join(dir, 'copy.db'))).toBe(false);
  });

  it('passes closed and protocol through and closes the client it wraps', () => {
    const inner = createClient({ url: pathToFileURL(path.join(dir, 'direct.db')).href });
    const db = readOnlyClient(inner);
    expect(db.protocol).toBe('file');
    expect(db.closed).toBe(false);
    db.close();
    expect(inner.closed).toBe(true);
    expect(db.closed).toBe(true);
  });
});
