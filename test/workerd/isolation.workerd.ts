/**
 * Context isolation inside workerd: many requests for different tenants suspended at the same
 * time in one isolate each keep their own tenant scope and reach their own tenant database.
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

interface Seen {
  asked: string;
  before: string;
  afterBarrier: string;
  afterQuery: string;
  database: string;
}

describe('concurrent requests in one workerd isolate', () => {
  it('each see their own tenant across awaits, with every request in flight at once', async () => {
    const tenants = Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? 'acme' : 'globex'));
    // the barrier releases nobody until all 24 requests wait on it inside the Worker, then last-first
    worker.holdBarrier(tenants.length);
    const responses = await Promise.all(
      tenants.map((tenant) => worker.fetch('https://api.example.test/header/concurrent', { headers: { 'x-tenant-id': tenant } })),
    );
    const seen = (await Promise.all(responses.map((res) => res.json()))) as Seen[];
    const database = { acme: 'acme-org.turso.test', globex: 'globex-db.turso.test' } as const;
    seen.forEach((s, i) => {
      const tenant = tenants[i] as keyof typeof database;
      expect(s).toEqual({ asked: tenant, before: tenant, afterBarrier: tenant, afterQuery: tenant, database: database[tenant] });
    });
    // each query went to the tenant's own database with that database's token
    const byHost = new Map(worker.pipelines.map((p) => [p.host, p.authorization]));
    expect(byHost).toEqual(
      new Map([
        ['acme-org.turso.test', 'Bearer group-token'],
        ['globex-db.turso.test', 'Bearer globex-own-token'],
      ]),
    );
    for (const call of worker.pipelines) {
      const tenant = call.host.startsWith('acme') ? 'acme' : 'globex';
      expect(call.statements).toEqual([{ sql: 'select ? as tenant', args: [tenant] }]);
    }
  });
});
