/**
 * A tenant's database file corrupted, deleted, or turned into something that cannot be opened,
 * while other tenants are being served: that tenant gets an error that says what is wrong (a
 * coded `LibsqlError` from its query, or 503 `TENANT_UNAVAILABLE` when its database cannot be
 * opened at all), every other tenant keeps getting its own rows, no lease is left behind, and
 * the tenant is served again once its file is restored, without a restart.
 */
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { fromHeader, getTenantClient } from '../src/index.js';
import { testTenantry } from './helpers/env.js';
import type { TestTenantry } from './helpers/env.js';

const TENANTS = ['a', 'b', 'c', 'd'];

interface Answer {
  tenant: string;
  status: number | undefined;
  /** `code` of a problem+json body, or of the error the handler's query threw. */
  code: string | undefined;
  message: string | undefined;
  rows: unknown;
}

describe('a damaged tenant database', () => {
  let env: TestTenantry;
  afterEach(() => env.close());

  async function setup(): Promise<(tenant: string) => Promise<Answer>> {
    env = await testTenantry({ resolvers: [fromHeader()] });
    for (const id of TENANTS) await env.addTenant(id);
    return async (tenant) => {
      try {
        const res = await env.tenantry.handle(new Request('http://app.test/', { headers: { 'x-tenant-id': tenant } }), async () =>
          Response.json((await (await getTenantClient()).execute('select tenant from marker')).rows.map((r) => r['tenant'])),
        );
        const body = (await res.json()) as { code?: string; detail?: string };
        return { tenant, status: res.status, code: body.code, message: body.detail, rows: res.ok ? body : undefined };
      } catch (err) {
        // not a tenancy error: handle() passes it on to the caller, as the framework adapters do
        const e = err as { code?: string; message?: string };
        return { tenant, status: undefined, code: e.code, message: e.message, rows: undefined };
      }
    };
  }

  /** 200 interleaved requests across every tenant. */
  const load = (ask: (tenant: string) => Promise<Answer>): Promise<Answer[]> =>
    Promise.all(Array.from({ length: 200 }, (_, i) => ask(TENANTS[i % TENANTS.length]!)));

  const healthy = (answers: Answer[], tenants: string[]): void => {
    for (const answer of answers.filter((a) => tenants.includes(a.tenant))) {
      expect(answer).toMatchObject({ status: 200, rows: [answer.tenant] });
    }
  };

  it('corrupted: that tenant gets SQLITE_NOTADB, the others their own rows, and it is served again once the file is restored', async () => {
    const ask = await setup();
    expect((await load(ask)).every((a) => a.status === 200)).toBe(true); // every client is pooled now
    const backup = `${env.dir}/b.db.backup`;
    copyFileSync(`${env.dir}/b.db`, backup);

    writeFileSync(`${env.dir}/b.db`, Buffer.alloc(16_384, 0x41)); // under its pooled, open client
    const answers = await load(ask);
    healthy(answers, ['a', 'c', 'd']);
    for (const answer of answers.filter((a) => a.tenant === 'b')) {
      expect(answer).toMatchObject({ status: undefined, code: 'SQLITE_NOTADB', message: expect.stringMatching(/file is not a database/) });
    }
    // a fresh client says the same: the file, not the pool, is broken
    env.tenantry.invalidateCache('b');
    expect(await ask('b')).toMatchObject({ code: 'SQLITE_NOTADB' });
    expect(env.tenantry.stats().pool.leased).toBe(0); // failed queries released their leases

    copyFileSync(backup, `${env.dir}/b.db`);
    expect(await ask('b')).toMatchObject({ status: 200, rows: ['b'] });
    healthy(await load(ask), TENANTS);
  });

  it('deleted: that tenant gets "no such table" once its client leaves the pool (libsql recreates the file empty), the others are unaffected', async () => {
    const ask = await setup();
    await load(ask);

    rmSync(`${env.dir}/c.db`);
    // SQLite keeps reading the unlinked file through the client that has it open
    expect(await ask('c')).toMatchObject({ status: 200, rows: ['c'] });
    env.tenantry.invalidateCache('c'); // as eviction or the idle TTL would
    const answers = await load(ask);
    healthy(answers, ['a', 'b', 'd']);
    for (const answer of answers.filter((a) => a.tenant === 'c')) {
      expect(answer).toMatchObject({ status: undefined, code: 'SQLITE_ERROR', message: expect.stringMatching(/no such table: marker/) });
    }
    expect(env.tenantry.stats().pool.leased).toBe(0);
  });

  it('cannot be opened: that tenant gets 503 TENANT_UNAVAILABLE as problem+json, the others are unaffected, and it recovers', async () => {
    const ask = await setup();
    await load(ask);

    rmSync(`${env.dir}/d.db`);
    mkdirSync(`${env.dir}/d.db`); // a directory where the database file should be
    env.tenantry.invalidateCache('d');
    const answers = await load(ask);
    healthy(answers, ['a', 'b', 'c']);
    for (const answer of answers.filter((a) => a.tenant === 'd')) {
      expect(answer).toMatchObject({ status: 503, code: 'TENANT_UNAVAILABLE', message: "this tenant's database cannot be opened" });
    }
    expect(env.tenantry.stats().pool.leased).toBe(0);

    rmSync(`${env.dir}/d.db`, { recursive: true });
    await env.addTenant('d'); // recreated, e.g. from a backup
    healthy(await load(ask), TENANTS);
  });
});
