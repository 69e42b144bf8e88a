/**
 * `tenantry.close()` while requests, jobs and standalone clients are in the middle of their
 * work: a transaction that holds its client commits, an operation started after the close is
 * refused with a coded error (503 `TENANT_UNAVAILABLE` over HTTP), requests arriving during the
 * shutdown are answered, `close()` resolves once the last lease is released, and nothing ends
 * as an unhandled rejection.
 */
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '@libsql/client';
import express from 'express';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTenantry, fromHeader, getTenantClient } from '../src/index.js';
import type { Tenantry } from '../src/index.js';
import { tenancy, tenantryErrorHandler } from '../src/middleware/express.js';
import { tempDir } from './helpers/env.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

/** Whether `promise` has settled once pending callbacks ran. */
async function hasSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise<void>((resolve) => setImmediate(resolve));
  return settled;
}

interface Reply {
  status: number;
  body: { code?: string; rows?: number; steps?: number };
  contentType: string | undefined;
}

function get(port: number, path: string, tenant: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers: { 'x-tenant-id': tenant } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Reply['body'], contentType: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('close() during in-flight work', () => {
  it('lets open transactions commit, refuses later operations with a coded error, and leaves no unhandled rejection', async () => {
    const { dir, cleanup } = tempDir();
    const tenantry: Tenantry = createTenantry({
      dataDir: dir, // the embedded control plane, closed by close() too
      resolvers: [fromHeader()],
      provisioning: { migrations: [{ id: '0001', sql: 'create table items (n integer not null)' }] },
    });
    const writers = Array.from({ length: 8 }, (_, i) => `tx-${i}`);
    const readers = Array.from({ length: 4 }, (_, i) => `r-${i}`);
    const jobs = Array.from({ length: 4 }, (_, i) => `job-${i}`);
    const standalone = Array.from({ length: 4 }, (_, i) => `sa-${i}`);
    for (const orgId of [...writers, ...readers, ...jobs, ...standalone]) {
      expect((await tenantry.provisioning.provisionTenant({ orgId })).status).toBe('active');
    }

    // in-flight work waits here until the test has called close()
    let entered = 0;
    let releaseGate!: () => void;
    const gate = new Promise<void>((resolve) => (releaseGate = resolve));

    const app = express();
    app.use(tenancy(tenantry));
    app.post('/tx', async (_req, res, next) => {
      try {
        const db = await getTenantClient();
        const tx = await db.transaction('write'); // holds the client until commit
        await tx.execute('insert into items (n) values (1)');
        entered++;
        await gate;
        await tx.execute('insert into items (n) values (2)');
        await tx.commit();
        res.json({ rows: 2 });
      } catch (err) {
        next(err);
      }
    });
    app.get('/steps', async (_req, res, next) => {
      try {
        const db = await getTenantClient();
        await db.execute('select count(*) from items');
        entered++;
        await gate;
        await db.execute('select count(*) from items'); // after close() began: refused
        res.json({ steps: 2 });
      } catch (err) {
        next(err);
      }
    });
    app.use(tenantryErrorHandler());
    const server: Server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;

    try {
      const requests = [
        ...writers.map((t) => get(port, '/tx', t, 'POST')),
        ...readers.flatMap((t) => [get(port, '/steps', t), get(port, '/steps', t)]),
      ];
      const jobRuns = jobs.map((t) =>
        tenantry.withTenant(t, async () => {
          const tx = await (await getTenantClient()).transaction('write');
          await tx.execute('insert into items (n) values (1)');
          entered++;
          await gate;
          await tx.commit();
          return 'committed';
        }),
      );
      const standaloneRuns = standalone.map(async (t) => {
        const db = await tenantry.getTenantClient(t);
        const tx = await db.transaction('write');
        await tx.execute('insert into items (n) values (1)');
        entered++;
        await gate;
        await tx.commit();
        // a new operation after close() began: refused with a coded error, not a crash
        return db.execute('select 1').then(
          () => 'ran',
          (err: { code?: string }) => err.code,
        );
      });
      const inFlight = requests.length + jobRuns.length + standaloneRuns.length;
      while (entered < inFlight) await sleep(5);

      const closing = tenantry.close();
      expect(await hasSettled(closing)).toBe(false); // transactions still hold their clients
      // requests arriving during the shutdown are answered
      const late = [...readers, ...writers].map((t) => get(port, '/steps', t));
      releaseGate();

      const [answers, lateAnswers, jobResults, standaloneResults] = await Promise.all([
        Promise.all(requests),
        Promise.all(late),
        Promise.all(jobRuns),
        Promise.all(standaloneRuns),
      ]);
      await closing;

      // open transactions committed
      expect(answers.slice(0, writers.length).map((a) => a.status)).toEqual(writers.map(() => 200));
      expect(jobResults).toEqual(jobs.map(() => 'committed'));
      // operations that started after close() began were refused cleanly
      for (const answer of [...answers.slice(writers.length), ...lateAnswers]) {
        expect(answer).toMatchObject({ status: 503, contentType: expect.stringMatching(/^application\/problem\+json/), body: { code: 'TENANT_UNAVAILABLE' } });
      }
      expect(standaloneResults).toEqual(standalone.map(() => 'TENANT_UNAVAILABLE'));

      expect(tenantry.stats().pool).toMatchObject({ size: 0, leased: 0 });
      expect(tenantry.stats().pool.closed).toBe(tenantry.stats().pool.opens);
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);

      // what the transactions wrote is on disk
      for (const [tenant, rows] of [...writers.map((t) => [t, 2] as const), ...jobs.map((t) => [t, 1] as const), ...standalone.map((t) => [t, 1] as const)]) {
        const file = createClient({ url: `file:${dir}/tenants/${tenant}.db` });
        expect((await file.execute('select count(*) as n from items')).rows[0]?.['n'], tenant).toBe(rows);
        file.close();
      }
    } finally {
      releaseGate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await tenantry.close();
      cleanup();
    }
  });

  it('close() twice, or with nothing in flight, resolves and stays resolved', async () => {
    const { dir, cleanup } = tempDir();
    const tenantry = createTenantry({ dataDir: dir, resolvers: [fromHeader()] });
    await tenantry.provisioning.provisionTenant({ orgId: 'acme' });
    await tenantry.withTenant('acme', async () => (await getTenantClient()).execute('select 1'));
    const first = tenantry.close();
    expect(tenantry.close()).toBe(first);
    await first;
    await expect(tenantry.withTenant('acme', async () => (await getTenantClient()).execute('select 1'))).rejects.toMatchObject({
      code: 'TENANT_UNAVAILABLE',
    });
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
    cleanup();
  });
});
