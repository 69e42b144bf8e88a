/**
 * Client pool benchmarks, on the built package (`npm run build` first; `npm run bench` runs it):
 *
 *   npx tsx bench/pool.ts
 *
 * P1. Churn: `BENCH_CHURN_TENANTS` (10,000) distinct tenants through a pool of `maxClients: 200`.
 *     a) first, in a process that has opened no tenant client yet: every tenant, 400 at a time
 *        (twice the pool: clients are evicted while leased), a read inside its scope (and a write
 *        in every 50th):
 *        throughput, failures (must be 0), RSS peak, and RSS and open file descriptors after
 *        `tenantry.close()` and a GC;
 *     b) one tenant at a time (no queueing in the figures), on a fresh instance whose registry
 *        cache is warm: inside `tenantry.withTenant(id)`, `await getTenantClient()` and the first
 *        `select 1` on it, against the same without tenantry: `createClient()` of @libsql/client
 *        on the same file, `select 1`, `close()`. The sides take turns every 500 tenants. Every
 *        tenant is cold in the pool (10,000 ≫ 200), so every first statement opens a client and
 *        evicts one: the worst case for a pool.
 * P2. Single-flight: 1,000 concurrent first requests (Hono `app.request()`) for one cold tenant
 *     on a libSQL file registry: registry lookups and client opens (both must be 1) and the time
 *     to answer all, against the same 1,000 requests one after another on another cold tenant.
 *
 * Prints a Markdown table and writes `bench/results/scenarios/pool.json` (bench/scenarios.ts).
 * Exits 1 when a request or a query fails; missed targets are reported, not asserted.
 *
 * Environment:
 *   BENCH_CHURN_TENANTS   tenants of P1            (default 10000; quick 1000)
 *   BENCH_QUICK=1         smoke run: small counts (figures are not meaningful)
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createClient } from '@libsql/client';
import { Hono } from 'hono';
import { createTenantry, fromHeader, getTenantClient, libsqlRegistry, memoryRegistry } from '../dist/index.js';
import type { TenantRegistry } from '../dist/index.js';
import { tenancy } from '../dist/hono.js';
import { machineNotes, ratioOf, writeScenarios } from './scenarios.js';
import type { Scenario } from './scenarios.js';
import { intEnv } from './stats.js';

const quick = process.env['BENCH_QUICK'] === '1';
const config = {
  churnTenants: intEnv('BENCH_CHURN_TENANTS', quick ? 1_000 : 10_000, 400),
  maxClients: 200,
  chunk: 500,
  concurrency: 400,
  singleFlight: { requests: 1_000, samples: quick ? 2 : 5 },
};

/** Every WRITE_EVERY-th tenant of the concurrent churn writes (a commit, an fsync) besides reading. */
const WRITE_EVERY = 50;

class BenchFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BenchFailure';
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics, process figures

/** Nearest-rank quantile q (0..1). */
function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
const median = (values: readonly number[]): number => quantile(values, 0.5);
const mib = (bytes: number): number => Math.round((bytes / 1_048_576) * 10) / 10;
const fmt = (v: number, digits = 2): string => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

/** Full GCs with finalizers run in between: libsql frees a closed file client's descriptor only then. */
async function collectGarbage(rounds = 3): Promise<void> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  for (let i = 0; i < rounds; i++) {
    gc();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

const FD_DIR = '/proc/self/fd';
const openFds = (): number | null => (existsSync(FD_DIR) ? readdirSync(FD_DIR).length : null);

/** Samples RSS every 50 ms (and on demand) and keeps the peak. */
class RssPeak {
  peak = process.memoryUsage.rss();
  readonly #timer: NodeJS.Timeout;
  constructor() {
    this.#timer = setInterval(() => this.sample(), 50);
  }
  sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
  }
  stop(): number {
    clearInterval(this.#timer);
    this.sample();
    return this.peak;
  }
}

/** Runs `work(i)` for i in [0, count) with at most `limit` at once. */
async function runBounded(count: number, limit: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

// ---------------------------------------------------------------------------------------------
// P1. Churn

interface ChurnResult {
  tenants: number;
  /** ms per call, one per tenant. */
  getClientMs: number[];
  tenantryOpenQueryMs: number[];
  bareOpenMs: number[];
  bareOpenQueryMs: number[];
  concurrent: { wallMs: number; failures: number; tenantsPerSecond: number; evictions: number; opens: number };
  rss: { beforeMiB: number; peakMiB: number; afterCloseMiB: number };
  fds: { before: number | null; afterClose: number | null };
}

async function benchChurn(dir: string): Promise<ChurnResult> {
  const n = config.churnTenants;
  const ids = Array.from({ length: n }, (_, i) => `churn-${i}`);
  const urlOf = (id: string): string => `${pathToFileURL(dir).href}/${id}.db`;
  const options = {
    resolvers: [fromHeader()],
    registry: memoryRegistry(ids.map((id) => ({ id }))),
    databases: { urlTemplate: `${pathToFileURL(dir).href}/{tenant}.db`, maxClients: config.maxClients },
  };

  // Every tenant's database: one file with a marker table, copied, then its row written by the
  // first query of the concurrent pass (not timed).
  const t0 = process.hrtime.bigint();
  const template = join(dir, 'template.db');
  const setup = createClient({ url: pathToFileURL(template).href });
  await setup.execute('create table marker (tenant text)');
  setup.close();
  for (const id of ids) copyFileSync(template, join(dir, `${id}.db`));
  console.log(`P1: ${n.toLocaleString('en-US')} tenant databases copied in ${(ms(t0) / 1000).toFixed(1)} s`);

  const result: ChurnResult = {
    tenants: n,
    getClientMs: [],
    tenantryOpenQueryMs: [],
    bareOpenMs: [],
    bareOpenQueryMs: [],
    concurrent: { wallMs: 0, failures: 0, tenantsPerSecond: 0, evictions: 0, opens: 0 },
    rss: { beforeMiB: 0, peakMiB: 0, afterCloseMiB: 0 },
    fds: { before: null, afterClose: null },
  };

  // a) first, in a process that has opened no tenant client yet: every tenant, 400 at a time
  // (twice the pool: clients are evicted while leased), a read in each scope (a write too in every WRITE_EVERY-th).
  await collectGarbage();
  result.fds.before = openFds();
  const rssBefore = process.memoryUsage.rss();
  result.rss.beforeMiB = mib(rssBefore);
  const churning = createTenantry(options);
  const peak = new RssPeak();
  try {
    const failures: string[] = [];
    const start = process.hrtime.bigint();
    await runBounded(n, config.concurrency, async (i) => {
      const id = ids[i]!;
      try {
        await churning.withTenant(id, async () => {
          const db = await getTenantClient();
          // Every WRITE_EVERY-th tenant writes its marker and reads it back; the others read.
          if (i % WRITE_EVERY === 0) await db.execute({ sql: 'insert into marker values (?)', args: [id] });
          const rs = await db.execute('select tenant from marker');
          const expected = i % WRITE_EVERY === 0 ? [id] : [];
          const got = rs.rows.map((row) => row['tenant']);
          if (JSON.stringify(got) !== JSON.stringify(expected)) failures.push(`${id}: read ${JSON.stringify(got)}`);
        });
      } catch (err) {
        failures.push(`${id}: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
    const wallMs = ms(start);
    const stats = churning.stats().pool;
    result.concurrent = { wallMs, failures: failures.length, tenantsPerSecond: n / (wallMs / 1000), evictions: stats.evictions, opens: stats.opens };
    if (failures.length > 0) throw new BenchFailure(`P1: ${failures.length} of ${n} tenants failed under churn (first: ${failures[0]})`);
  } finally {
    await churning.close();
    result.rss.peakMiB = mib(peak.stop());
  }
  await collectGarbage();
  result.rss.afterCloseMiB = mib(process.memoryUsage.rss());
  result.fds.afterClose = openFds();
  console.log(`P1: concurrent pass done in ${(result.concurrent.wallMs / 1000).toFixed(1)} s`);

  // b) latency, one tenant at a time, against bare clients; the registry cache is warmed first
  // (one lookup per tenant), so what is measured is the pool.
  const tenantry = createTenantry(options);
  try {
    for (const id of ids) await tenantry.resolveTenant({ tenantId: id });
    const tenantrySide = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i++) {
        const id = ids[i]!;
        await tenantry.withTenant(id, async () => {
          const start = process.hrtime.bigint();
          const db = await getTenantClient();
          const got = process.hrtime.bigint();
          const rs = await db.execute('select 1 as one');
          const done = process.hrtime.bigint();
          if (rs.rows[0]?.['one'] !== 1) throw new BenchFailure(`P1: select 1 on ${id} answered ${JSON.stringify(rs.rows)}`);
          result.getClientMs.push(Number(got - start) / 1e6);
          result.tenantryOpenQueryMs.push(Number(done - start) / 1e6);
        });
      }
    };
    const bareSide = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i++) {
        const start = process.hrtime.bigint();
        const client = createClient({ url: urlOf(ids[i]!) });
        const opened = process.hrtime.bigint();
        const rs = await client.execute('select 1 as one');
        const done = process.hrtime.bigint();
        client.close();
        if (rs.rows[0]?.['one'] !== 1) throw new BenchFailure(`P1: bare select 1 answered ${JSON.stringify(rs.rows)}`);
        result.bareOpenMs.push(Number(opened - start) / 1e6);
        result.bareOpenQueryMs.push(Number(done - start) / 1e6);
      }
    };
    // Warm-up of both paths (JIT) on the first chunk, not counted.
    await tenantrySide(0, config.chunk);
    await bareSide(0, config.chunk);
    await collectGarbage(1);
    result.getClientMs.length = 0;
    result.tenantryOpenQueryMs.length = 0;
    result.bareOpenMs.length = 0;
    result.bareOpenQueryMs.length = 0;
    for (let from = 0, k = 0; from < n; from += config.chunk, k++) {
      const to = Math.min(n, from + config.chunk);
      if (k % 2 === 0) {
        await tenantrySide(from, to);
        await bareSide(from, to);
      } else {
        await bareSide(from, to);
        await tenantrySide(from, to);
      }
      // libsql frees a closed client's descriptor only when V8 collects it: without a GC now and
      // then, 20,000 opens one after another exhaust the descriptors (EMFILE). Not timed.
      await collectGarbage(1);
    }
    console.log(`P1: sequential pass done (${result.getClientMs.length.toLocaleString('en-US')} tenants per side)`);
  } finally {
    await tenantry.close();
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// P2. Single-flight

interface SingleFlightSample {
  concurrentMs: number;
  sequentialMs: number;
  concurrentLookups: number;
  concurrentOpens: number;
  sequentialLookups: number;
  sequentialOpens: number;
}

/** A registry that counts lookups per tenant id / slug, around `inner`. */
function countingRegistry(inner: TenantRegistry): { registry: TenantRegistry; lookups: Map<string, number> } {
  const lookups = new Map<string, number>();
  const count = (key: string): void => {
    lookups.set(key, (lookups.get(key) ?? 0) + 1);
  };
  const registry: TenantRegistry = {
    get: (id) => {
      count(id);
      return inner.get(id);
    },
    findBySlug: (slug) => {
      count(slug);
      return inner.findBySlug(slug);
    },
    findByDomain: (domain) => {
      count(domain);
      return inner.findByDomain(domain);
    },
    list: (filter) => inner.list(filter),
    put: (record) => inner.put(record),
    delete: (id) => inner.delete(id),
    close: async () => {
      await inner.close?.();
    },
  };
  return { registry, lookups };
}

async function benchSingleFlight(dir: string): Promise<SingleFlightSample[]> {
  const { requests, samples } = config.singleFlight;
  const inner = libsqlRegistry({ url: `${pathToFileURL(dir).href}/control-plane.db` });
  const { registry, lookups } = countingRegistry(inner);
  const opens = new Map<string, number>();
  const tenantry = createTenantry({
    resolvers: [fromHeader()],
    registry,
    databases: { urlTemplate: `${pathToFileURL(dir).href}/{tenant}.db` },
  });
  tenantry.on('pool:open', ({ tenantId }) => opens.set(tenantId, (opens.get(tenantId) ?? 0) + 1));
  const app = new Hono();
  app.use('*', tenancy(tenantry));
  app.get('/notes', async (c) => {
    const db = await getTenantClient();
    const rs = await db.execute('select tenant from marker');
    return c.json({ tenant: rs.rows[0]?.['tenant'] });
  });
  const prepare = async (id: string): Promise<void> => {
    const client = createClient({ url: `${pathToFileURL(dir).href}/${id}.db` });
    await client.execute('create table marker (tenant text not null)');
    await client.execute({ sql: 'insert into marker values (?)', args: [id] });
    client.close();
    await registry.put({ id });
  };
  const check = async (res: Response, id: string): Promise<void> => {
    const body = await res.text();
    if (res.status !== 200 || body !== JSON.stringify({ tenant: id })) throw new BenchFailure(`P2: ${id} answered ${res.status} ${body.slice(0, 200)}`);
  };
  const request = (id: string): Promise<Response> => Promise.resolve(app.request('/notes', { headers: { 'x-tenant-id': id } }));

  const out: SingleFlightSample[] = [];
  try {
    // Sample 0 is the warm-up (JIT), not counted.
    for (let s = 0; s <= samples; s++) {
      const concurrentId = `sf-c-${s}`;
      const sequentialId = `sf-s-${s}`;
      await prepare(concurrentId);
      await prepare(sequentialId);
      const concurrent = async (): Promise<number> => {
        const start = process.hrtime.bigint();
        const responses = await Promise.all(Array.from({ length: requests }, () => request(concurrentId)));
        const wall = ms(start);
        for (const res of responses) await check(res, concurrentId);
        return wall;
      };
      const sequential = async (): Promise<number> => {
        let wall = 0;
        for (let i = 0; i < requests; i++) {
          const start = process.hrtime.bigint();
          const res = await request(sequentialId);
          wall += ms(start);
          await check(res, sequentialId);
        }
        return wall;
      };
      let concurrentMs: number;
      let sequentialMs: number;
      if (s % 2 === 0) {
        concurrentMs = await concurrent();
        sequentialMs = await sequential();
      } else {
        sequentialMs = await sequential();
        concurrentMs = await concurrent();
      }
      if (s === 0) continue;
      out.push({
        concurrentMs,
        sequentialMs,
        concurrentLookups: lookups.get(concurrentId) ?? 0,
        concurrentOpens: opens.get(concurrentId) ?? 0,
        sequentialLookups: lookups.get(sequentialId) ?? 0,
        sequentialOpens: opens.get(sequentialId) ?? 0,
      });
    }
    return out;
  } finally {
    await tenantry.close();
    await registry.close?.();
  }
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const startedAt = new Date();
  const load0 = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'tenantry-bench-pool-'));
  console.log(
    `tenantry pool bench${quick ? ' (QUICK smoke run: figures are not meaningful)' : ''}: churn ${config.churnTenants.toLocaleString('en-US')} tenants through maxClients ${config.maxClients}; ` +
      `single-flight ${config.singleFlight.requests} concurrent cold requests × ${config.singleFlight.samples}; node ${process.version}, load ${load0.toFixed(2)}`,
  );
  let churn: ChurnResult;
  let flights: SingleFlightSample[];
  try {
    churn = await benchChurn(subfolder(dir, 'churn'));
    flights = await benchSingleFlight(subfolder(dir, 'single-flight'));
  } finally {
    await collectGarbage(); // closed clients' descriptors, so that the folder can be removed
    rmSync(dir, { recursive: true, force: true });
  }

  const scenarios: Scenario[] = [];
  const c = churn;
  const nStr = c.tenants.toLocaleString('en-US');
  const getP50 = median(c.getClientMs);
  const getP99 = quantile(c.getClientMs, 0.99);
  const openP50 = median(c.bareOpenMs);
  const openP99 = quantile(c.bareOpenMs, 0.99);
  const tqP50 = median(c.tenantryOpenQueryMs);
  const tqP99 = quantile(c.tenantryOpenQueryMs, 0.99);
  const bqP50 = median(c.bareOpenQueryMs);
  const bqP99 = quantile(c.bareOpenQueryMs, 0.99);
  const how = `${nStr} distinct tenants one at a time, maxClients ${config.maxClients}, so every tenant is cold in the pool; sides take turns every ${config.chunk} tenants`;
  scenarios.push(
    {
      id: 'P1',
      scenario: 'churn: getTenantClient() + first `select 1` of a tenant cold in the pool (opens a client, evicts the least recently used), p50',
      baseline: 'createClient() of @libsql/client + `select 1` (+ close(), untimed), p50',
      baselineValue: bqP50 * 1000,
      tenantryValue: tqP50 * 1000,
      unit: 'µs',
      ratio: ratioOf(tqP50, bqP50),
      notes: `${how}; createClient() alone: p50 ${fmt(openP50 * 1000, 0)} µs, p99 ${fmt(openP99 * 1000, 0)} µs`,
    },
    {
      id: 'P1',
      scenario: 'churn: getTenantClient() + first `select 1`, p99',
      baseline: 'createClient() + `select 1`, p99',
      baselineValue: bqP99 * 1000,
      tenantryValue: tqP99 * 1000,
      unit: 'µs',
      ratio: ratioOf(tqP99, bqP99),
      notes: 'same run',
    },
    {
      id: 'P1',
      scenario: 'churn: `await getTenantClient()` alone, p50 (p99 in notes)',
      baseline: '',
      baselineValue: null,
      tenantryValue: getP50 * 1000,
      unit: 'µs',
      ratio: null,
      notes: `p99 ${fmt(getP99 * 1000)} µs; it returns the scope's client, which leases the pooled connection per statement: the open happens at the first statement (rows above)`,
    },
    {
      id: 'P1',
      scenario: `churn with queries in flight: ${nStr} tenants, ${config.concurrency} at a time (twice the pool), a read in each scope, a write too in every ${WRITE_EVERY}th`,
      baseline: '',
      baselineValue: null,
      tenantryValue: c.concurrent.tenantsPerSecond,
      unit: 'tenants/s',
      ratio: null,
      target: '0 failed queries',
      pass: c.concurrent.failures === 0,
      notes: `${c.concurrent.failures} failures; ${c.concurrent.opens.toLocaleString('en-US')} clients opened, ${c.concurrent.evictions.toLocaleString('en-US')} evicted; ${(c.concurrent.wallMs / 1000).toFixed(1)} s`,
    },
    {
      id: 'P1',
      scenario: 'churn with queries in flight: RSS peak',
      baseline: 'RSS before (no tenant client opened yet)',
      baselineValue: c.rss.beforeMiB,
      tenantryValue: c.rss.peakMiB,
      unit: 'MiB',
      ratio: ratioOf(c.rss.peakMiB, c.rss.beforeMiB),
      notes: 'sampled every 50 ms; libsql frees a closed file client only when V8 collects it, so closed clients pile up between GCs',
    },
    {
      id: 'P1',
      scenario: 'churn with queries in flight: RSS after `tenantry.close()` and a full GC',
      baseline: 'RSS before',
      baselineValue: c.rss.beforeMiB,
      tenantryValue: c.rss.afterCloseMiB,
      unit: 'MiB',
      ratio: ratioOf(c.rss.afterCloseMiB, c.rss.beforeMiB),
      notes: 'what stays is memory of the closed libsql clients that neither close() nor a GC gave back to the OS (native or allocator; not investigated here)',
    },
  );
  if (c.fds.before !== null && c.fds.afterClose !== null) {
    scenarios.push({
      id: 'P1',
      scenario: 'churn with queries in flight: open file descriptors after `tenantry.close()` and a GC',
      baseline: 'before (no tenant client opened yet)',
      baselineValue: c.fds.before,
      tenantryValue: c.fds.afterClose,
      unit: 'fds',
      ratio: ratioOf(c.fds.afterClose, c.fds.before),
      target: '≤ the count before',
      pass: c.fds.afterClose <= c.fds.before,
      notes: '/proc/self/fd',
    });
  }

  const f = flights;
  const cMs = median(f.map((x) => x.concurrentMs));
  const sMs = median(f.map((x) => x.sequentialMs));
  const maxLookups = Math.max(...f.map((x) => x.concurrentLookups));
  const maxOpens = Math.max(...f.map((x) => x.concurrentOpens));
  const req = config.singleFlight.requests.toLocaleString('en-US');
  scenarios.push(
    {
      id: 'P2',
      scenario: `single-flight: ${req} concurrent first requests for one cold tenant (Hono app.request(), libSQL file registry): registry lookups`,
      baseline: '',
      baselineValue: null,
      tenantryValue: maxLookups,
      unit: 'lookups',
      ratio: null,
      target: '= 1',
      pass: f.every((x) => x.concurrentLookups === 1),
      notes: `most in any of ${f.length} samples (${f.map((x) => x.concurrentLookups).join(', ')})`,
    },
    {
      id: 'P2',
      scenario: `single-flight: the same ${req} requests: client opens`,
      baseline: '',
      baselineValue: null,
      tenantryValue: maxOpens,
      unit: 'opens',
      ratio: null,
      target: '= 1',
      pass: f.every((x) => x.concurrentOpens === 1),
      notes: `most in any of ${f.length} samples (${f.map((x) => x.concurrentOpens).join(', ')}); counted with tenantry.on('pool:open')`,
    },
    {
      id: 'P2',
      scenario: `single-flight: time to answer all ${req} concurrent cold requests`,
      baseline: `the same ${req} requests one after another on another cold tenant`,
      baselineValue: sMs,
      tenantryValue: cMs,
      unit: 'ms',
      ratio: ratioOf(cMs, sMs),
      notes: `median of ${f.length} samples taking turns (concurrent ${f.map((x) => fmt(x.concurrentMs, 0)).join(', ')} ms; sequential ${f.map((x) => fmt(x.sequentialMs, 0)).join(', ')} ms); each handler runs a query`,
    },
  );

  console.log(`\n| # | scenario | baseline | tenantry | ratio | target |\n| --- | --- | ---: | ---: | ---: | --- |`);
  for (const s of scenarios) {
    const v = (x: number | null): string => (x === null ? '' : `${fmt(x, x >= 100 ? 0 : 2)} ${s.unit}`);
    console.log(`| ${s.id} | ${s.scenario} | ${v(s.baselineValue)} | ${v(s.tenantryValue)} | ${s.ratio === null ? '' : `${fmt(s.ratio)}×`} | ${s.target === undefined ? '' : `${s.target} ${s.pass ? 'PASS' : 'FAIL'}`} |`);
  }
  const file = writeScenarios({
    script: 'pool',
    title: 'Client pool: churn and single-flight (bench/pool.ts)',
    startedAt: startedAt.toISOString(),
    quick,
    machine: machineNotes(load0),
    method:
      `P1: ${nStr} tenant databases (libSQL files copied from a template with a marker table) behind a memory registry, pool maxClients ${config.maxClients}. ` +
      'The concurrent churn runs first, in a process that has opened no tenant client yet (its RSS and descriptor figures are its own); ' +
      'then, on a fresh instance whose registry cache is warmed first (so the rows measure the pool), one tenant at a time: wall time per call, p50/p99 by nearest rank; ' +
      'a full GC (untimed) after every chunk of 500 tenants per side, since libsql frees a closed client’s descriptor only when V8 collects it. ' +
      `P2: Hono app.request() in process, ${req} requests started at once on a tenant never seen before, a libSQL file registry counting its lookups; ` +
      `${config.singleFlight.samples} samples after a warm-up sample, concurrent and sequential taking turns.`,
    scenarios,
  });
  console.log(`\nscenarios written to ${file}`);
  return 0;
}

/** `dir/name`, created. */
function subfolder(dir: string, name: string): string {
  const path = join(dir, name);
  mkdirSync(path, { recursive: true });
  return path;
}

try {
  process.exitCode = await main();
} catch (err) {
  console.error(`\nbench failed: ${err instanceof BenchFailure ? err.message : ''}`, err instanceof BenchFailure ? '' : err);
  process.exitCode = 1;
}
