/**
 * Cross-database access: a tenant's client cannot reach another tenant's database file.
 * `ATTACH` (and `VACUUM INTO`, which writes a copy of the database to any path) is refused by
 * the leased-client facade (src/router/leased-client.ts) that every tenant client goes through
 * — `getTenantClient()` in a request or `withTenant` scope, `tenantry.getTenantClient(id)`
 * outside one, and the read-only client of a suspended tenant — in `execute`, `batch`,
 * `migrate`, `executeMultiple` and transactions, whatever the case, comments and whitespace.
 * The refusal is a `LibsqlError` with code `SQLITE_AUTH`, before anything is sent.
 *
 * Each generated statement is also run on a raw libSQL client of the same file, which does
 * attach it: the statements are valid SQL, and only the guard stops them.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@libsql/client';
import type { Client } from '@libsql/client';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fromHeader, getTenantClient } from '../src/index.js';
import { testTenantry } from './helpers/env.js';
import type { TestTenantry } from './helpers/env.js';

// Each property takes about a second alone; with every test file running at once on a loaded
// machine it can take fifty times that, which is not a failure.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

let env: TestTenantry;
let victimFile: string;
let raw: Client;

beforeAll(async () => {
  env = await testTenantry({ resolvers: [fromHeader()], suspendedAccess: 'read-only' });
  await env.addTenant('attacker');
  await env.addTenant('victim');
  await env.addTenant('frozen', { status: 'suspended' });
  await env.tenantry.withTenant('victim', async () => {
    const db = await getTenantClient();
    await db.execute('create table secret (value text)');
    await db.execute("insert into secret values ('victim-secret')");
  });
  victimFile = join(env.dir, 'victim.db');
  expect(existsSync(victimFile)).toBe(true);
  raw = createClient({ url: pathToFileURL(join(env.dir, 'attacker.db')).href });
});
afterAll(async () => {
  raw?.close();
  await env?.close();
});

/** The ways a tenant's code gets its client. */
const CLIENTS: Array<[string, <T>(fn: (db: Client) => Promise<T>) => Promise<T>]> = [
  ['getTenantClient() in a scope', (fn) => env.tenantry.withTenant('attacker', async () => fn(await getTenantClient()))],
  ['tenantry.getTenantClient(id) outside a scope', async (fn) => fn(await env.tenantry.getTenantClient('attacker'))],
];

/** Asserts `run` rejects with the guard's SQLITE_AUTH LibsqlError. */
async function expectRefused(run: () => Promise<unknown>, label: string): Promise<void> {
  const err = await run().then(
    () => undefined,
    (e: unknown) => e as { code?: string; name?: string; message?: string },
  );
  expect(err, `${label} was not refused`).toBeDefined();
  expect(err, label).toMatchObject({ name: 'LibsqlError', code: 'SQLITE_AUTH' });
  expect(err?.message).toMatch(/another database file/);
}

const attach = (alias = 'other') => `ATTACH DATABASE '${victimFile}' AS ${alias}`;

describe('ATTACH on a tenant client', () => {
  for (const [name, use] of CLIENTS) {
    it(`is refused in every method (${name})`, async () => {
      await use(async (db) => {
        await expectRefused(() => db.execute(attach()), 'execute(sql)');
        await expectRefused(() => db.execute({ sql: 'ATTACH ? AS other', args: [victimFile] }), 'execute({ sql, args })');
        await expectRefused(() => db.execute('attach ? as other', [victimFile]), 'execute(sql, args)');
        await expectRefused(() => db.batch(["insert into marker (tenant) values ('batch')", attach()], 'write'), 'batch');
        await expectRefused(() => db.batch([['select 1'], ['ATTACH ? AS other', [victimFile]]], 'write'), 'batch of tuples');
        await expectRefused(() => db.migrate([attach()]), 'migrate');
        await expectRefused(() => db.executeMultiple(`insert into marker (tenant) values ('multi'); ${attach()}; select 1`), 'executeMultiple');
        const tx = await db.transaction('write');
        try {
          await expectRefused(() => tx.execute(attach()), 'transaction execute');
          await expectRefused(() => tx.batch(['select 1', { sql: 'ATTACH ? AS other', args: [victimFile] }]), 'transaction batch');
          await expectRefused(() => tx.executeMultiple(`select 1;${attach()}`), 'transaction executeMultiple');
        } finally {
          await tx.rollback();
        }
        // nothing of a refused batch ran, and the victim's table is out of reach
        const { rows } = await db.execute('select tenant from marker');
        expect(rows.map((r) => r['tenant'])).toEqual(['attacker']);
        await expect(db.execute('select value from other.secret')).rejects.toThrow(/no such table/);
      });
    });
  }

  it('is refused on the read-only client of a suspended tenant too', async () => {
    const scope = await env.tenantry.openScope({ method: 'GET', path: '/', header: (n) => (n === 'x-tenant-id' ? 'frozen' : undefined) });
    expect(scope?.readOnly).toBe(true);
    await env.tenantry.runScope(scope!, async () => {
      const db = await getTenantClient();
      const err = await db.execute(attach()).catch((e: unknown) => e);
      expect(['SQLITE_AUTH', 'TENANT_SUSPENDED']).toContain((err as { code?: string }).code);
      await expect(db.execute('select value from other.secret')).rejects.toThrow(/no such table/);
    });
  });

  it('refuses case, comment and whitespace variants that SQLite itself accepts', async () => {
    const path = `'${victimFile}'`;
    const variants = [
      `attach ${path} as o`,
      `AtTaCh DaTaBaSe ${path} As o`,
      `/**/ATTACH ${path} AS o`,
      `/* ATTACH hidden? */ ATTACH/**/${path}/**/AS/**/o`,
      `-- comment\nATTACH ${path} AS o`,
      `\t\r\n\fATTACH\t${path}\nAS\ro`,
      `;ATTACH ${path} AS o`,
      `select 1;ATTACH ${path} AS o`,
      `ATTACH${path}AS o`,
      `ATTACH (${path}) AS o`,
      `ATTACH ${path} || '' AS o`,
      `ATTACH "${victimFile}" AS o`,
      `ATTACH ${path} AS "attach"`,
    ];
    for (const sql of variants) {
      // SQLite accepts it (a raw client attaches), the tenant client refuses it
      await raw.executeMultiple(sql);
      const attached = await raw.execute('pragma database_list');
      expect(attached.rows.length, sql).toBeGreaterThan(1);
      await raw.execute('DETACH o').catch(() => raw.execute('DETACH "attach"'));
      for (const [name, use] of CLIENTS) {
        await use((db) => expectRefused(() => (sql.includes(';') ? db.executeMultiple(sql) : db.execute(sql)), `${name}: ${JSON.stringify(sql)}`));
      }
    }
  });

  it('refuses every generated spelling of a valid ATTACH, in every method', async () => {
    const gap = fc.array(fc.constantFrom(' ', '\t', '\n', '\r', '\f', '/**/', '/* attach */', '-- x\n', '--\n'), { minLength: 1, maxLength: 3 }).map((parts) => parts.join(''));
    const optionalGap = fc.oneof(fc.constant(''), gap);
    const keyword = (word: string) => fc.array(fc.boolean(), { minLength: word.length, maxLength: word.length }).map((upper) => [...word].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(''));
    const statement = fc
      .record({
        lead: fc.oneof(fc.constant(''), fc.constant(';'), fc.constant('select 1;'), optionalGap),
        attach: keyword('attach'),
        database: fc.option(keyword('database'), { nil: undefined }),
        g1: gap,
        g2: optionalGap,
        g3: optionalGap,
        as: keyword('as'),
        g4: gap,
        method: fc.constantFrom('execute', 'batch', 'migrate', 'executeMultiple', 'tx.execute', 'tx.batch', 'tx.executeMultiple'),
      })
      .map((p) => ({
        sql: `${p.lead}${p.attach}${p.database === undefined ? '' : p.g1 + p.database}${p.g1}'${victimFile}'${p.g2}${p.as}${p.g4}o${p.g3}`,
        method: p.method,
      }));
    await fc.assert(
      fc.asyncProperty(statement, async ({ sql, method }) => {
        await raw.executeMultiple(sql); // valid SQL: SQLite attaches it
        expect((await raw.execute('pragma database_list')).rows.length).toBeGreaterThan(1);
        await raw.execute('DETACH o');
        await CLIENTS[0]![1](async (db) => {
          const single = sql.includes(';') ? undefined : sql;
          const run: Record<string, () => Promise<unknown>> = {
            execute: () => (single === undefined ? db.executeMultiple(sql) : db.execute(single)),
            batch: () => (single === undefined ? db.executeMultiple(sql) : db.batch(['select 1', single])),
            migrate: () => (single === undefined ? db.executeMultiple(sql) : db.migrate([single])),
            executeMultiple: () => db.executeMultiple(sql),
            'tx.execute': async () => txRun(db, (tx) => (single === undefined ? tx.executeMultiple(sql) : tx.execute(single))),
            'tx.batch': async () => txRun(db, (tx) => (single === undefined ? tx.executeMultiple(sql) : tx.batch([single]))),
            'tx.executeMultiple': async () => txRun(db, (tx) => tx.executeMultiple(sql)),
          };
          await expectRefused(run[method]!, `${method}: ${JSON.stringify(sql)}`);
        });
      }),
      { numRuns: 300 },
    );
  });
});

async function txRun(db: Client, fn: (tx: Awaited<ReturnType<Client['transaction']>>) => Promise<unknown>): Promise<unknown> {
  const tx = await db.transaction('write');
  try {
    return await fn(tx);
  } finally {
    await tx.rollback();
  }
}

describe('VACUUM INTO on a tenant client', () => {
  it('is refused: it would write a copy of the database to any path (another tenant-to-be included)', async () => {
    const target = join(env.dir, 'squatted.db');
    for (const sql of [`VACUUM INTO '${target}'`, `vacuum main into '${target}'`, `/**/Vacuum/**/Into/**/'${target}'`, `select 1; VACUUM INTO '${target}'`]) {
      for (const [name, use] of CLIENTS) {
        await use((db) => expectRefused(() => (sql.includes(';') ? db.executeMultiple(sql) : db.execute(sql)), `${name}: ${sql}`));
      }
    }
    expect(existsSync(target)).toBe(false);
  });
});

describe('what the guard lets through', () => {
  it('the words attach and vacuum in strings, quoted identifiers, comments and longer names, and a plain VACUUM', async () => {
    await env.tenantry.withTenant('attacker', async () => {
      const db = await getTenantClient();
      await db.executeMultiple(`
        create table notes (id integer primary key, "attach" text, attachment text, vacuum_into text);
        -- attach and vacuum into are only words here
        insert into notes ("attach", attachment, vacuum_into) values ('please attach the file', 'ATTACH DATABASE x AS y', 'vacuum into');
      `);
      await db.execute({ sql: 'insert into notes ([attach], `attachment`) values (?, ?)', args: ["ATTACH '/etc/passwd' AS p", 'x'] });
      await db.batch([/* attach */ "select 'VACUUM INTO y'", 'select "attach" from notes']);
      await db.execute('VACUUM');
      const { rows } = await db.execute('select count(*) as n from notes');
      expect(rows[0]?.['n']).toBe(2);
    });
  });
});
