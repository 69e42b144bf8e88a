/**
 * Remote tenant databases inside workerd: `getTenantClient()` reaches the tenant's `libsql://`
 * (or the record's `https://`) database through `@libsql/client/web` and the Worker's outbound
 * fetch, here answered by the Hrana stub of harness.ts; clients are not kept across requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker } from './harness.js';
import type { WorkerHarness } from './harness.js';

let worker: WorkerHarness;
beforeAll(async () => {
  worker = await startWorker();
});
afterAll(async () => {
  expect(worker.unexpected).toEqual([]);
  await worker.dispose();
});

describe('a remote tenant database in workerd', () => {
  it('runs the query on the database of the URL template with the group token', async () => {
    const res = await worker.fetch('https://acme.app.test/query');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      tenantId: 'acme',
      columns: ['host', 'sql', 'arg'],
      rows: [{ host: 'acme-org.turso.test', sql: 'select ? as greeting', arg: 'hello acme' }],
    });
    expect(worker.pipelines.at(-1)).toEqual({
      host: 'acme-org.turso.test',
      authorization: 'Bearer group-token',
      statements: [{ sql: 'select ? as greeting', args: ['hello acme'] }],
    });
  });

  it("uses the record's own https:// URL and token when it has one", async () => {
    const res = await worker.fetch('https://api.example.test/header/query', { headers: { 'x-tenant-id': 'globex' } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { rows: Array<{ host: string }> }).rows[0]!.host).toBe('globex-db.turso.test');
    expect(worker.pipelines.at(-1)).toMatchObject({ host: 'globex-db.turso.test', authorization: 'Bearer globex-own-token' });
  });

  it('keeps no client between requests by default in the edge build', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await worker.fetch('https://api.example.test/header/query', { headers: { 'x-tenant-id': 'acme' } });
      await res.arrayBuffer();
    }
    const stats = (await (await worker.fetch('https://api.example.test/stats')).json()) as { pool: Record<string, number> };
    expect(stats.pool).toMatchObject({ size: 0, leased: 0 });
    expect(stats.pool['opens']).toBe(stats.pool['closed']);
    expect(stats.pool['opens']).toBeGreaterThanOrEqual(4); // the globex query above and these three
  });
});
