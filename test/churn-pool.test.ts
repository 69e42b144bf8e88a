/**
 * Churn at scale: many distinct tenants through a pool much smaller than the tenant count, with
 * queries and transactions in flight while the pool evicts. Proves that no query fails because
 * its client was evicted, that memory stays bounded, and that every file descriptor comes back
 * after `close()`.
 *
 * Counts: 10 000 tenants by default and always under `npm run test:soak` (TENANTRY_SOAK=1);
 * 2 500 under `CI=true` (the full count takes more than a minute on a 2-core machine).
 * The figures are printed as one `churn:` line.
 *
 * libsql (0.5, under `@libsql/client` 0.18) frees a closed `file:` client's descriptor and
 * native memory only when V8 collects the statements made on it (see `ClientPool.close()`), so
 * between garbage collections closed clients pile up: the fd and RSS peaks measure that. The
 * test therefore checks what the pool itself holds after a GC at four checkpoints.
 */
import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createTenantry, fromHeader, getTenant, getTenantClient, memoryRegistry } from '../src/index.js';
import type { TenantRecordInput } from '../src/index.js';
import { tempDir } from './helpers/env.js';
import { CAN_COUNT_FDS, collectGarbage, openFileDescriptors, quantile, rssMiB } from './helpers/process-stats.js';

const SOAK = process.env['TENANTRY_SOAK'] === '1';
const CI = process.env['CI'] === 'true';
const TENANTS = SOAK || !CI ? 10_000 : 2_500;
const MAX_CLIENTS = 200;
/** Tenants worked on at once: twice the pool, so clients are evicted while leased. */
const CONCURRENCY = 2 * MAX_CLIENTS;
/** Every WRITE_EVERY-th tenant also writes (and reads back) a marker row. */
const WRITE_EVERY = 10;
/** Cold tenants measured one at a time at the end, for figures without event-loop queueing. */
const SEQUENTIAL = 500;

const { dir, cleanup } = tempDir('tenantry-churn-');
afterAll(cleanup);

interface Failure {
  tenant: string;
  code: string | undefined;
  message: string;
}

/** Runs `work(i)` for i in [0, count) with at most `limit` running at once. */
async function runBounded(count: number, limit: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await work(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/** A few milliseconds at random, so transactions overlap and interleave. */
const jitter = () => sleep(Math.floor(Math.random() * 4));

describe(`churn: ${TENANTS} tenants through a pool of ${MAX_CLIENTS}`, () => {
  it('never fails a query because its client was evicted, keeps RSS bounded, and gives every file descriptor back after close()', async () => {
    const urlTemplate = `${pathToFileURL(dir).href}/{tenant}.db`;
    const ids = Array.from({ length: TENANTS }, (_, i) => `t${i}`);
    const sequentialIds = Array.from({ length: SEQUENTIAL }, (_, i) => `s${i}`);
    const records: TenantRecordInput[] = [...ids, ...sequentialIds].map((id) => ({ id }));

    // Warm up on a throwaway instance: load the native library and whatever it opens once.
    const warm = createTenantry({ registry: memoryRegistry([{ id: 'warm' }]), databases: { urlTemplate } });
    await warm.withTenant('warm', async () => {
      await (await getTenantClient()).execute('create table if not exists w (x integer)');
    });
    await warm.close();
    rmSync(`${dir}/warm.db`, { force: true });
    await collectGarbage();
    const fdBaseline = CAN_COUNT_FDS ? openFileDescriptors() : Number.NaN;
    const rssBefore = rssMiB();
    const heapBefore = process.memoryUsage().heapUsed;

    const tenantry = createTenantry({
      registry: memoryRegistry(records),
      resolvers: [fromHeader()],
      databases: { urlTemplate, maxClients: MAX_CLIENTS },
      // the memory quota store counts every tenant's requests on the request path too
      plans: { free: { apiRateLimit: 1_000 }, pro: {}, enterprise: {} },
    });
    const evictions: Record<string, number> = {};
    tenantry.on('pool:evict', ({ reason }) => {
      evictions[reason] = (evictions[reason] ?? 0) + 1;
    });

    const failures: Failure[] = [];
    const wrongDatabase: string[] = [];
    /** `tenantry.getTenantClient(id)` (cold: registry lookup) and `getTenantClient()` in a request scope. */
    const routerClientMs: number[] = [];
    const scopeClientMs: number[] = [];
    const firstQueryMs: number[] = [];
    let fdPeak = fdBaseline;
    let rssPeak = rssBefore;
    let leasedPeak = 0;
    let sizePeak = 0;
    const sample = (): void => {
      const { leased, size } = tenantry.stats().pool;
      leasedPeak = Math.max(leasedPeak, leased);
      sizePeak = Math.max(sizePeak, size);
    };

    /** Reads `pragma database_list` in a transaction held across a pause; checks the file is the tenant's. */
    const readOwnDatabase = async (id: string, db: Awaited<ReturnType<typeof getTenantClient>>, started: number): Promise<void> => {
      const tx = await db.transaction('read'); // holds its lease (and the client) until commit
      firstQueryMs.push(performance.now() - started);
      try {
        const main = await tx.execute('pragma database_list');
        sample();
        await jitter(); // the pool evicts meanwhile: this client is leased, so it stays open
        const again = await tx.execute({ sql: 'select ? as id', args: [id] });
        const file = String(main.rows.find((r) => r['name'] === 'main')?.['file'] ?? '');
        if (!file.endsWith(`/${id}.db`) || again.rows[0]?.['id'] !== id) wrongDatabase.push(`${id}: ${file}`);
        await tx.commit();
      } finally {
        tx.close();
      }
    };

    const writeMarker = async (id: string, db: Awaited<ReturnType<typeof getTenantClient>>): Promise<void> => {
      const tx = await db.transaction('write');
      try {
        await tx.execute('create table if not exists marker (tenant text not null)');
        await jitter();
        await tx.execute({ sql: 'insert into marker (tenant) values (?)', args: [id] });
        await tx.commit();
      } finally {
        tx.close();
      }
      const { rows } = await db.execute('select tenant from marker');
      if (rows.length !== 1 || rows[0]?.['tenant'] !== id) wrongDatabase.push(`${id}: markers ${JSON.stringify(rows)}`);
    };

    const record = (id: string, err: unknown): void => {
      const e = err as { code?: string; message?: string };
      failures.push({ tenant: id, code: e?.code, message: String(e?.message ?? err) });
    };

    const serve = async (i: number): Promise<void> => {
      const id = ids[i]!;
      sample();
      if (i % 250 === 0) {
        if (CAN_COUNT_FDS) fdPeak = Math.max(fdPeak, openFileDescriptors());
        rssPeak = Math.max(rssPeak, rssMiB());
      }
      try {
        if (i % 2 === 0) {
          // the protocol's ITenantRouter.getTenantClient(tenantId), outside any scope
          const started = performance.now();
          const db = await tenantry.getTenantClient(id);
          routerClientMs.push(performance.now() - started);
          await readOwnDatabase(id, db, started);
          if (i % WRITE_EVERY === 0) await writeMarker(id, db);
        } else {
          // the request path: resolver, registry cache, rate step, scope, getTenantClient()
          const response = await tenantry.handle(new Request('http://app.test/', { headers: { 'x-tenant-id': id } }), async () => {
            if (getTenant().tenantId !== id) wrongDatabase.push(`${id}: scope of ${getTenant().tenantId}`);
            const started = performance.now();
            const db = await getTenantClient();
            scopeClientMs.push(performance.now() - started);
            await readOwnDatabase(id, db, started);
            if (i % WRITE_EVERY === 1) await writeMarker(id, db);
            return new Response('ok');
          });
          if (response.status !== 200) record(id, { code: `HTTP ${response.status}`, message: await response.text() });
        }
      } catch (err) {
        record(id, err);
      }
    };

    // Four batches; after each one a full GC, then the descriptors and RSS at that point.
    // libsql frees a closed client's descriptor and native memory only when V8 collects its
    // statements (see ClientPool.close()), and V8 sees little JS heap growth here, so between
    // GCs closed clients pile up (the peaks). After a GC, what is left is what the pool holds.
    const checkpoints: { tenants: number; fds: number; rssMiB: number }[] = [];
    const batch = TENANTS / 4;
    for (let start = 0; start < TENANTS; start += batch) {
      await runBounded(batch, CONCURRENCY, (i) => serve(start + i));
      if (CAN_COUNT_FDS) fdPeak = Math.max(fdPeak, openFileDescriptors());
      rssPeak = Math.max(rssPeak, rssMiB());
      await collectGarbage();
      checkpoints.push({ tenants: start + batch, fds: CAN_COUNT_FDS ? openFileDescriptors() : Number.NaN, rssMiB: rssMiB() });
    }
    // One cold tenant at a time: getTenantClient (registry miss) and its first query (a pool
    // open that evicts the least recently used client), without 400 tasks queued around them.
    const sequential = { getTenantClientMs: [] as number[], firstQueryMs: [] as number[] };
    for (const id of sequentialIds) {
      const t0 = performance.now();
      const db = await tenantry.getTenantClient(id);
      const t1 = performance.now();
      const { rows } = await db.execute('pragma database_list');
      sequential.firstQueryMs.push(performance.now() - t1);
      sequential.getTenantClientMs.push(t1 - t0);
      if (!String(rows[0]?.['file']).endsWith(`/${id}.db`)) wrongDatabase.push(`${id}: ${String(rows[0]?.['file'])}`);
    }

    const stats = tenantry.stats();
    await tenantry.close();
    const afterClose = tenantry.stats().pool;
    await collectGarbage();
    const fdAfter = CAN_COUNT_FDS ? openFileDescriptors() : Number.NaN;
    const rssAfter = rssMiB();
    const heapAfterMiB = Math.round(((process.memoryUsage().heapUsed - heapBefore) / 1_048_576) * 10) / 10;

    const figures = {
      tenants: TENANTS,
      maxClients: MAX_CLIENTS,
      concurrency: CONCURRENCY,
      fd: { baseline: fdBaseline, peak: fdPeak, after: fdAfter },
      rssMiB: { before: rssBefore, peak: rssPeak, after: rssAfter },
      heapGrowthAfterCloseMiB: heapAfterMiB,
      getTenantClientMs: {
        router: { p50: round(quantile(routerClientMs, 0.5)), p99: round(quantile(routerClientMs, 0.99)) },
        scope: { p50: round(quantile(scopeClientMs, 0.5)), p99: round(quantile(scopeClientMs, 0.99)) },
      },
      firstQueryMs: { p50: round(quantile(firstQueryMs, 0.5)), p99: round(quantile(firstQueryMs, 0.99)) },
      sequential: {
        getTenantClientMs: { p50: round(quantile(sequential.getTenantClientMs, 0.5)), p99: round(quantile(sequential.getTenantClientMs, 0.99)) },
        firstQueryMs: { p50: round(quantile(sequential.firstQueryMs, 0.5)), p99: round(quantile(sequential.firstQueryMs, 0.99)) },
      },
      pool: { opens: stats.pool.opens, evictions, leasedPeak, sizePeak },
      checkpoints,
    };
    console.log(`churn: ${JSON.stringify(figures)}`);

    expect(failures.slice(0, 5)).toEqual([]);
    expect(failures).toHaveLength(0);
    expect(wrongDatabase.slice(0, 5)).toEqual([]);
    expect(routerClientMs.length + scopeClientMs.length).toBe(TENANTS);
    // every tenant got its own client, and the pool stayed at its bound
    expect(stats.pool.opens).toBeGreaterThanOrEqual(TENANTS + SEQUENTIAL);
    expect(sizePeak).toBeLessThanOrEqual(MAX_CLIENTS);
    expect(evictions['evict'] ?? 0).toBeGreaterThanOrEqual(TENANTS + SEQUENTIAL - MAX_CLIENTS);
    // more clients were leased at once than the pool holds: evicted clients stayed open under their queries
    expect(leasedPeak).toBeGreaterThan(MAX_CLIENTS);
    expect(afterClose).toMatchObject({ size: 0, leased: 0 });
    expect(afterClose.closed).toBe(afterClose.opens);

    // Memory does not grow with the number of tenants served: after a GC, the last batch ends
    // where the first one did (freed native memory is reused), and the JS heap is back.
    const first = checkpoints[0]!;
    const last = checkpoints[checkpoints.length - 1]!;
    expect(last.rssMiB).toBeLessThan(first.rssMiB * 1.25 + 64);
    expect(heapAfterMiB).toBeLessThan(64);
    if (CAN_COUNT_FDS) {
      expect(fdPeak).toBeGreaterThan(fdBaseline + MAX_CLIENTS); // the pool really held them
      // once collected, only the pool's clients (and a few journal files) hold descriptors
      for (const c of checkpoints) expect(c.fds).toBeLessThanOrEqual(fdBaseline + MAX_CLIENTS + 16);
      expect(fdAfter).toBe(fdBaseline);
    }
  }, 600_000);
});

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
