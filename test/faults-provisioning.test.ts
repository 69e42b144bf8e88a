/**
 * The Turso Platform API failing during provisioning (msw, the fake of test/helpers/fake-turso):
 * 500s and timeouts on every attempt of a step, including a timed-out creation that the
 * platform carried out anyway. Whatever fails, no database is left on the platform that no
 * record knows of, the record is a clean `failed` one (or active, when the database turned out
 * to exist), the tenant is refused with 503 meanwhile, and a retry finishes the job.
 * (test/provisioning-lifecycle.test.ts covers each step failing with a stubbed platform.)
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@libsql/client';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TenantProvisioningResultSchema, createTenantry, fromHeader, getTenantClient, memoryRegistry } from '../src/index.js';
import type { Tenantry } from '../src/index.js';
import { tursoPlatform } from '../src/turso/index.js';
import { FakeTurso } from './helpers/fake-turso.js';
import type { Injection } from './helpers/fake-turso.js';
import { tempDir } from './helpers/env.js';

const ORG = 'acme-corp';
const API_TOKEN = 'tk_test_faults-9d2e';
const RETRIES = 2;
const ATTEMPTS = RETRIES + 1;
const TIMEOUT_MS = 100;
/** Longer than an attempt may take: the client gives up first. */
const SLOW_MS = 2 * TIMEOUT_MS;
const MIGRATIONS = [{ id: '0001_notes', sql: 'create table notes (id integer primary key, text text not null);' }];

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());

const open: Tenantry[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const tenantry of open.splice(0)) await tenantry.close();
  for (const cleanup of cleanups.splice(0)) cleanup();
  server.resetHandlers();
});

function setup() {
  const { dir, cleanup } = tempDir('tenantry-faults-prov-');
  cleanups.push(cleanup);
  const fake = new FakeTurso({ organization: ORG, apiToken: API_TOKEN });
  server.use(...fake.handlers);
  const registry = memoryRegistry();
  const tenantry = createTenantry({
    registry,
    resolvers: [fromHeader()],
    // no waiting between retries: the faults, not the backoff, are under test
    platform: tursoPlatform({ organization: ORG, apiToken: API_TOKEN, group: 'default', retries: RETRIES, timeoutMs: TIMEOUT_MS, sleep: async () => {} }),
    databases: { urlTemplate: `libsql://{tenant}-${ORG}.turso.io` },
    provisioning: { migrations: MIGRATIONS, seed: "insert into notes (text) values ('welcome')" },
    // the fake's libsql:// hosts cannot be reached: each host is a local file instead
    createClient: ({ url }) =>
      createClient({ url: url.startsWith('libsql://') ? pathToFileURL(join(dir, `${new URL(url).hostname}.db`)).href : url }),
  });
  open.push(tenantry);
  const ask = async (id: string) => {
    const res = await tenantry.handle(new Request('http://app.test/', { headers: { 'x-tenant-id': id } }), async () =>
      Response.json((await (await getTenantClient()).execute('select text from notes')).rows.map((r) => r['text'])),
    );
    return { status: res.status, body: (await res.json()) as unknown };
  };
  return { fake, registry, tenantry, ask };
}

const every = (injection: Omit<Injection, 'times'>): Injection => ({ ...injection, times: ATTEMPTS });
const createDb = { method: 'POST', route: 'databases' } as const;
const createToken = { method: 'POST', route: /^databases\/[^/]+\/auth\/tokens$/ } as const;
const deleteDb = { method: 'DELETE', route: /^databases\/[^/]+$/ } as const;

describe('the platform API failing during provisioning', () => {
  it.each([
    ['POST /databases answers 500', [every({ ...createDb, status: 500 })], 'create_database', /500/],
    ['POST /databases times out (the platform never creates it)', [every({ ...createDb, delayMs: SLOW_MS, status: 503 })], 'create_database', /timed out/],
    ['the token request answers 500', [every({ ...createToken, status: 500 })], 'create_token', /500/],
    ['the token request times out', [every({ ...createToken, delayMs: SLOW_MS })], 'create_token', /timed out/],
  ] as const)('%s on every attempt: a clean failed record, no orphan database, then a retry succeeds', async (_, injections, step, error) => {
    const { fake, registry, tenantry, ask } = setup();
    for (const injection of injections) fake.inject(injection);

    const result = await tenantry.provisioning.provisionTenant({ orgId: 'acme', plan: 'pro' });
    expect(TenantProvisioningResultSchema.parse(result)).toMatchObject({ tenantId: 'acme', status: 'failed', plan: 'pro' });
    expect(result.steps.find((s) => s.status === 'failed')).toMatchObject({ name: step, error: expect.stringMatching(error) });
    const failedAt = result.steps.findIndex((s) => s.status === 'failed');
    expect(result.steps.slice(failedAt + 1).every((s) => s.status === 'skipped')).toBe(true);
    expect(result.error).toMatch(/PLATFORM_ERROR/);
    expect(JSON.stringify(result)).not.toContain(API_TOKEN);

    expect([...fake.databases.keys()]).toEqual([]); // nothing left on the platform
    const record = await registry.get('acme');
    expect(record).toMatchObject({ id: 'acme', status: 'failed', plan: 'pro', db: {} });
    expect(await ask('acme')).toMatchObject({ status: 503, body: { code: 'TENANT_UNAVAILABLE' } });

    const retried = await tenantry.provisioning.provisionTenant({ orgId: 'acme', plan: 'pro' });
    expect(retried.status).toBe('active');
    expect([...fake.databases.keys()]).toEqual(['acme']);
    expect(await ask('acme')).toEqual({ status: 200, body: ['welcome'] });
  });

  it('a creation that timed out on every attempt but was carried out: the database is found and used, not left behind', async () => {
    const { fake, registry, tenantry, ask } = setup();
    // each attempt is answered after the client gave up; the first one creates the database
    fake.inject(every({ ...createDb, delayMs: SLOW_MS }));

    const result = await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    expect(fake.requestsTo('POST', 'databases')).toHaveLength(ATTEMPTS);
    expect([...fake.databases.keys()]).toEqual(['acme']);
    expect(result.status).toBe('active');
    expect(result.steps.map((s) => s.status)).toEqual(['completed', 'completed', 'completed', 'completed', 'completed', 'completed']);
    expect((await registry.get('acme'))?.db.url).toBe(`libsql://acme-${ORG}.turso.io`);
    expect(await ask('acme')).toEqual({ status: 200, body: ['welcome'] });
  });

  it('when the database cannot be deleted either, the failed record keeps its url and a retry reuses it', async () => {
    const { fake, registry, tenantry, ask } = setup();
    fake.inject(every({ ...createToken, status: 500 }));
    fake.inject(every({ ...deleteDb, status: 500 }));

    const result = await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/could not be deleted/);
    expect([...fake.databases.keys()]).toEqual(['acme']);
    // not an orphan: the failed record names it, so a retry (or an operator) finds it
    const record = await registry.get('acme');
    expect(record).toMatchObject({ status: 'failed', db: { url: `libsql://acme-${ORG}.turso.io` } });
    expect(record?.db.authToken).toBeUndefined();
    expect(await ask('acme')).toMatchObject({ status: 503, body: { code: 'TENANT_UNAVAILABLE' } });

    const retried = await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    expect(retried.status).toBe('active');
    expect([...fake.databases.keys()]).toEqual(['acme']);
    expect(fake.requestsTo('POST', 'databases')).toHaveLength(1); // reused, not created again
    expect(await ask('acme')).toEqual({ status: 200, body: ['welcome'] });
  });

  it('many signups while the platform fails in bursts: no database without a record at any point, all active after retries', async () => {
    const { fake, registry, tenantry } = setup();
    // Bursts of 500s on creations (30 for 12 signups of 3 attempts: at least 6 fail there),
    // timeouts on tokens, 502s on the deletions that undo a signup.
    fake.inject({ ...createDb, status: 500, times: 30 });
    fake.inject({ ...createToken, delayMs: SLOW_MS, times: 12 });
    fake.inject({ ...deleteDb, status: 502, times: 4 });
    const ids = Array.from({ length: 12 }, (_, i) => `org-${i}`);
    /** Every database on the platform is named by a record (active, or failed and kept for a retry). */
    const noOrphans = async () => {
      const known = new Set((await registry.list()).map((r) => r.db.url).filter((url) => url !== undefined));
      for (const name of fake.databases.keys()) expect(known, `orphan database ${name}`).toContain(`libsql://${name}-${ORG}.turso.io`);
    };
    let results = await Promise.all(ids.map((orgId) => tenantry.provisioning.provisionTenant({ orgId })));
    expect(results.every((r) => r.status === 'active' || r.status === 'failed')).toBe(true);
    expect(results.filter((r) => r.status === 'failed').length).toBeGreaterThanOrEqual(6);
    await noOrphans();
    // retry the failed ones until the injected faults are used up
    for (let round = 0; round < 10 && results.some((r) => r.status === 'failed'); round++) {
      results = await Promise.all(results.map((r) => (r.status === 'failed' ? tenantry.provisioning.provisionTenant({ orgId: r.tenantId }) : r)));
      await noOrphans();
    }
    expect(results.map((r) => r.status)).toEqual(ids.map(() => 'active'));
    const active = (await registry.list({ status: 'active' })).map((r) => r.id).sort();
    expect(active).toEqual([...ids].sort());
    expect([...fake.databases.keys()].sort()).toEqual([...ids].sort());
  });
});
