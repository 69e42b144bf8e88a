/**
 * Registry and scale-out benchmarks, on the built package (`npm run build` first; `npm run bench`
 * runs this after bench/run.ts and bench/provisioning.ts):
 *
 *   npx tsx bench/registry.ts
 *
 * R1. Lookup cost, in process: a warm tenant resolved through tenantry (`openScope()`: header
 *     resolver, cache hit, status gate, context) against one `registry.get()` on PostgreSQL (a
 *     round trip to the machine's server) and on a libSQL file: what a cache hit saves.
 * R2. Server CPU time per request, Hono + `tenancy(fromHeader())`, PostgreSQL registry (cached)
 *     against the libSQL registry: measured as bench/run.ts measures (fresh server processes per
 *     round, pinned, warm-up, bursts taking turns, CPU read over IPC). Target ≤ 1.05×.
 * R3. Invalidation latency across two instances over the real Redis: instance A (this process)
 *     suspends or resumes a tenant; instance B (another process) has its record cached for 10
 *     minutes. From A's call returning to B having dropped the record (median, p99).
 *
 * Prints a Markdown table and writes everything to `bench/results/registry.json`. Exits 1 when
 * something fails (a server that does not start, a non-2xx answer, a drop that never comes or a
 * wrong state after it); missed targets are reported, not asserted (exit 0).
 *
 * Environment:
 *   BENCH_PG_URL          PostgreSQL          (default postgres://postgres@127.0.0.1:5432/test; a schema of its own, dropped at the end)
 *   BENCH_REDIS_URL       Redis of R3         (default redis://127.0.0.1:6379)
 *   BENCH_REQUESTS        R2: measured requests per server and round (default 20000; quick 3000)
 *   BENCH_WARMUP          R2: warm-up requests                       (default 2000; quick 500)
 *   BENCH_ROUNDS          R2: rounds                                 (default 7; quick 2)
 *   BENCH_SLICES          R2: bursts per round                       (default 5; quick 2)
 *   BENCH_CONNECTIONS     R2: autocannon connections                 (default 50)
 *   BENCH_INVALIDATIONS   R3: suspensions + resumptions              (default 200; quick 20)
 *   BENCH_PIN=0           R2: do not pin the servers (CPU 0) and autocannon (CPU 1)
 *   BENCH_QUICK=1         smoke run: small counts everywhere (figures are not meaningful)
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createTenantry, fromHeader, libsqlRegistry } from '../dist/index.js';
import type { RequestView, TenantRegistry, Tenantry } from '../dist/index.js';
import { postgresRegistry } from '../dist/postgres.js';
import { redisInvalidationBus } from '../dist/redis.js';
import { BenchError, BenchServer, checkRoute, killAll, load, pin } from './http.js';
import { machineNotes, ratioOf, writeScenarios } from './scenarios.js';
import { intEnv, median, percentile } from './stats.js';

// ---------------------------------------------------------------------------------------------
// Configuration

const quick = process.env['BENCH_QUICK'] === '1';
const pgUrl = process.env['BENCH_PG_URL'] || 'postgres://postgres@127.0.0.1:5432/test';
const redisUrl = process.env['BENCH_REDIS_URL'] || 'redis://127.0.0.1:6379';
const runId = `${process.pid}_${Date.now().toString(36)}`;
const config = {
  quick,
  schema: `tenantry_bench_${runId}`,
  lookup: {
    samples: quick ? 3 : 7,
    cachedIterations: quick ? 20_000 : 200_000,
    postgresIterations: quick ? 200 : 2_000,
    libsqlIterations: quick ? 2_000 : 20_000,
  },
  servers: {
    requests: intEnv('BENCH_REQUESTS', quick ? 3_000 : 20_000),
    warmup: intEnv('BENCH_WARMUP', quick ? 500 : 2_000, 0),
    rounds: intEnv('BENCH_ROUNDS', quick ? 2 : 7),
    slices: intEnv('BENCH_SLICES', quick ? 2 : 5),
    connections: intEnv('BENCH_CONNECTIONS', 50),
    pin: process.env['BENCH_PIN'] !== '0' && process.platform === 'linux' && cpus().length >= 2,
  },
  invalidation: {
    operations: intEnv('BENCH_INVALIDATIONS', quick ? 20 : 200),
    /** How long B may take to drop a record before the bench fails (far above the 1 s promise). */
    timeoutMs: 5_000,
  },
};
const CPU_TARGET = 1.05;
const INVALIDATION_TARGET_MS = 1_000;

if (Math.floor(config.servers.requests / config.servers.slices) < config.servers.connections || (config.servers.warmup > 0 && config.servers.warmup < config.servers.connections)) {
  console.error('BENCH_REQUESTS / BENCH_SLICES and BENCH_WARMUP (unless 0) must each be at least BENCH_CONNECTIONS');
  process.exit(2);
}

/** The URL without a password, for the log and the JSON. */
function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return '(unparsable URL)';
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting

const us = (v: number): string => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2)) : 'n/a');
const ms = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(Math.abs(v) >= 100 ? 0 : 2)} ms` : 'n/a');
const ratio = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(v >= 100 ? 0 : 2)}×` : 'n/a');
const range = (values: number[], fmt: (v: number) => string = us): string =>
  values.length === 0 ? '' : `${fmt(Math.min(...values))}–${fmt(Math.max(...values))}`;
const rps = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '');

interface Row {
  id: string;
  scenario: string;
  value: string;
  spread: string;
  baseline: string;
  ratio: string;
  target: string;
  result: '' | 'PASS' | 'FAIL';
}

function markdown(rows: Row[]): string {
  const head = ['#', 'scenario', 'median', 'spread', 'baseline', 'ratio', 'target', 'result'];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map((_, i) => (i === 2 || i === 3 || i === 5 ? '---:' : '---')).join(' | ')} |`];
  for (const r of rows) lines.push(`| ${[r.id, r.scenario, r.value, r.spread, r.baseline, r.ratio, r.target, r.result ? `**${r.result}**` : ''].join(' | ')} |`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// The control plane shared by every part: a PostgreSQL schema of this run, dropped at the end

async function dropSchema(): Promise<void> {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${config.schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** Keeps results observable so the loops cannot be optimised away. */
let sink = 0;

// ---------------------------------------------------------------------------------------------
// R1. Lookup cost

interface LookupResult {
  /** ns per call, one figure per sample. */
  cachedNs: number[];
  postgresNs: number[];
  libsqlNs: number[];
}

async function benchLookups(tmp: string): Promise<LookupResult> {
  const { samples, cachedIterations, postgresIterations, libsqlIterations } = config.lookup;
  const postgres = postgresRegistry({ connectionString: pgUrl, schema: config.schema });
  const libsql = libsqlRegistry({ url: pathToFileURL(join(tmp, 'lookup-control-plane.db')).href });
  // The cached side: tenantry on the PostgreSQL registry, record cached for longer than the run.
  const tenantry = createTenantry({
    resolvers: [fromHeader()],
    registry: postgres,
    databases: { urlTemplate: `${pathToFileURL(tmp).href}/{tenant}.db` },
    cache: { ttlMs: 3_600_000 },
  });
  try {
    await libsql.put({ id: 'acme' });
    const headers: Record<string, string> = { 'x-tenant-id': 'acme' };
    const view: RequestView = { method: 'GET', path: '/notes', header: (name) => headers[name] };
    const first = await tenantry.openScope(view);
    if (first?.context.tenantId !== 'acme') throw new BenchError('lookup: tenantry did not resolve tenant acme');
    const probe = tenantry.openScope(view);
    if (probe instanceof Promise || probe === undefined) throw new BenchError('lookup: a cached tenant did not resolve synchronously');
    for (const registry of [postgres, libsql] as TenantRegistry[]) {
      if ((await registry.get('acme'))?.id !== 'acme') throw new BenchError('lookup: registry.get(acme) found nothing');
    }

    const cached = async (n: number): Promise<number> => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        const scope = tenantry.openScope(view) as Exclude<ReturnType<Tenantry['openScope']>, Promise<unknown>>;
        sink += scope!.context.tenantId.length;
      }
      return Number(process.hrtime.bigint() - start) / n;
    };
    const get = (registry: TenantRegistry) => async (n: number): Promise<number> => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        const record = await registry.get('acme');
        sink += record?.id.length ?? 0;
      }
      return Number(process.hrtime.bigint() - start) / n;
    };
    const sides = [
      { name: 'cached', run: cached, n: cachedIterations, out: [] as number[] },
      { name: 'postgres', run: get(postgres), n: postgresIterations, out: [] as number[] },
      { name: 'libsql', run: get(libsql), n: libsqlIterations, out: [] as number[] },
    ];
    for (const side of sides) await side.run(Math.ceil(side.n / 10)); // warm-up: JIT, pools, page cache
    for (let s = 0; s < samples; s++) {
      const order = s % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) side.out.push(await side.run(side.n));
    }
    return { cachedNs: sides[0]!.out, postgresNs: sides[1]!.out, libsqlNs: sides[2]!.out };
  } finally {
    await tenantry.close();
    await postgres.close();
    await libsql.close?.();
  }
}

// ---------------------------------------------------------------------------------------------
// R2. Server CPU per request

const VARIANTS = [
  { key: 'libsql', label: 'Hono, tenancy(fromHeader()), libsqlRegistry (file), cached' },
  { key: 'postgres', label: 'Hono, tenancy(fromHeader()), postgresRegistry, cached' },
] as const;
type VariantKey = (typeof VARIANTS)[number]['key'];

interface RoundFigure {
  round: number;
  cpuUsPerRequest: number;
  userUs: number;
  systemUs: number;
  requestsPerSecond: number;
  requests: number;
}

const NOTES = { notes: [{ id: 1, text: 'ship the rocket skates' }] };

/** One round, as bench/run.ts's measureRound: fresh processes, warm-up, bursts taking turns. */
async function measureRound(round: number, env: Record<string, string>): Promise<Map<VariantKey, RoundFigure>> {
  const { requests, warmup, slices, connections } = config.servers;
  const headers = { 'x-tenant-id': 'acme' };
  const servers = new Map<VariantKey, BenchServer>();
  try {
    for (const v of VARIANTS) servers.set(v.key, await BenchServer.start('hono-registry', v.key, env, config.servers.pin ? 0 : undefined));
    for (const v of VARIANTS) {
      const server = servers.get(v.key)!;
      await checkRoute(server, headers, NOTES);
      if (warmup > 0) await load(server, { amount: warmup, connections, headers, phase: 'warm-up' });
    }
    const totals = new Map(VARIANTS.map((v) => [v.key, { userUs: 0, systemUs: 0, requests: 0, durationMs: 0 }]));
    const base = Math.floor(requests / slices);
    for (let slice = 0; slice < slices; slice++) {
      const amount = slice === slices - 1 ? requests - base * (slices - 1) : base;
      const order = (round + slice) % 2 === 1 ? VARIANTS : [...VARIANTS].reverse();
      for (const v of order) {
        const server = servers.get(v.key)!;
        const total = totals.get(v.key)!;
        const before = await server.cpu();
        const run = await load(server, { amount, connections, headers, phase: `round ${round}, slice ${slice + 1}` });
        const after = await server.cpu();
        total.userUs += after.userUs - before.userUs;
        total.systemUs += after.systemUs - before.systemUs;
        total.requests += run.requests;
        total.durationMs += run.durationMs;
      }
    }
    const out = new Map<VariantKey, RoundFigure>();
    for (const [key, t] of totals) {
      out.set(key, {
        round,
        cpuUsPerRequest: (t.userUs + t.systemUs) / t.requests,
        userUs: t.userUs,
        systemUs: t.systemUs,
        requestsPerSecond: t.requests / (t.durationMs / 1000),
        requests: t.requests,
      });
    }
    return out;
  } finally {
    await Promise.all([...servers.values()].map((server) => server.stop()));
  }
}

// ---------------------------------------------------------------------------------------------
// R3. Invalidation latency

type PeerMessage =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'dropped'; tenantId: string; at: string; outcome: string }
  | { type: 'resolved'; id: number; outcome: string }
  | { type: 'stopped' };

/** Instance B: bench/servers/invalidation-peer.mjs in its own process. */
class Peer {
  readonly #child: ChildProcess;
  /** Drops reported and not consumed yet, oldest first. */
  readonly #drops: { tenantId: string; at: bigint; outcome: string }[] = [];
  #wake: (() => void) | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, (outcome: string) => void>();

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (msg: PeerMessage) => {
      if (msg.type === 'dropped') {
        this.#drops.push({ tenantId: msg.tenantId, at: BigInt(msg.at), outcome: msg.outcome });
        this.#wake?.();
      } else if (msg.type === 'resolved') {
        this.#pending.get(msg.id)?.(msg.outcome);
        this.#pending.delete(msg.id);
      }
    });
  }

  static start(env: Record<string, string>): Promise<Peer> {
    const child = fork(fileURLToPath(new URL('./servers/invalidation-peer.mjs', import.meta.url)), [], {
      execArgv: [],
      env: { ...process.env, ...env, NODE_ENV: 'production' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    peers.add(child);
    child.once('exit', () => peers.delete(child));
    return new Promise((resolve, reject) => {
      const fail = (message: string): void => {
        clearTimeout(timer);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        reject(new BenchError(`invalidation peer failed to start: ${message}`));
      };
      const timer = setTimeout(() => fail('no "ready" within 20 s'), 20_000);
      child.once('exit', (code, signal) => fail(`exited (code ${code}, signal ${signal})`));
      child.on('message', (msg: PeerMessage) => {
        if (msg.type === 'failed') fail(msg.message);
        if (msg.type !== 'ready') return;
        clearTimeout(timer);
        child.removeAllListeners('exit');
        child.once('exit', () => peers.delete(child));
        resolve(new Peer(child));
      });
    });
  }

  /** B resolves `tenantId` (and so caches its record); resolves `'active'` or the error code. */
  resolve(tenantId: string): Promise<string> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new BenchError('invalidation peer did not answer a resolve')), 10_000);
      this.#pending.set(id, (outcome) => {
        clearTimeout(timer);
        resolve(outcome);
      });
      this.#child.send({ cmd: 'resolve', id, tenantId });
    });
  }

  /** The first drop of `tenantId` taken at or after `since` (hrtime ns); older ones are discarded. */
  async dropAfter(tenantId: string, since: bigint, timeoutMs: number): Promise<{ at: bigint; outcome: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#drops.length > 0) {
        const drop = this.#drops.shift()!;
        if (drop.tenantId === tenantId && drop.at >= since) return drop;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new BenchError(`instance B did not drop tenant ${tenantId} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.send({ cmd: 'stop' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

const peers = new Set<ChildProcess>();
function killPeers(): void {
  for (const child of peers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  peers.clear();
}

interface InvalidationResult {
  /** ms from A's call returning to B's drop (negative: B dropped before A's promise resolved). */
  afterReturnMs: number[];
  /** ms from A's call starting to B's drop. */
  afterStartMs: number[];
  /** ms A's call took (suspend or resume: registry write, platform token calls, PUBLISH). */
  callMs: number[];
}

async function benchInvalidation(tmp: string): Promise<InvalidationResult> {
  const dataDir = join(tmp, 'invalidation');
  const channel = `tenantry-bench:${runId}:invalidate`;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {}); // failures reject the bench's own calls
  const registry = postgresRegistry({ connectionString: pgUrl, schema: config.schema });
  const a = createTenantry({
    resolvers: [fromHeader()],
    registry,
    dataDir,
    invalidation: redisInvalidationBus({ client: redis, channel }),
    cache: { ttlMs: 600_000 },
  });
  let peer: Peer | undefined;
  try {
    await a.ready();
    const tenantId = 'inv-acme';
    const provisioned = await a.provisioning.provisionTenant({ orgId: tenantId });
    if (provisioned.status !== 'active') throw new BenchError(`invalidation: provisioning failed: ${provisioned.error ?? provisioned.status}`);
    peer = await Peer.start({ BENCH_PG_URL: pgUrl, BENCH_PG_SCHEMA: config.schema, BENCH_REDIS_URL: redisUrl, BENCH_CHANNEL: channel, BENCH_DATA_DIR: dataDir });
    if ((await peer.resolve(tenantId)) !== 'active') throw new BenchError('invalidation: instance B does not see the tenant active');
    const result: InvalidationResult = { afterReturnMs: [], afterStartMs: [], callMs: [] };
    for (let i = 0; i < config.invalidation.operations; i++) {
      const suspend = i % 2 === 0;
      const t0 = process.hrtime.bigint();
      const r = suspend ? await a.provisioning.suspendTenant(tenantId) : await a.provisioning.resumeTenant(tenantId);
      const t1 = process.hrtime.bigint();
      if (r.status !== (suspend ? 'suspended' : 'active')) throw new BenchError(`invalidation: ${suspend ? 'suspend' : 'resume'} answered status ${r.status}`);
      // B reports the drop after it re-resolved the tenant: its cache holds the new state again.
      const drop = await peer.dropAfter(tenantId, t0, config.invalidation.timeoutMs);
      const expected = suspend ? 'TENANT_SUSPENDED' : 'active';
      if (drop.outcome !== expected) throw new BenchError(`invalidation: after the drop instance B resolved ${drop.outcome}, expected ${expected}`);
      result.afterReturnMs.push(Number(drop.at - t1) / 1e6);
      result.afterStartMs.push(Number(drop.at - t0) / 1e6);
      result.callMs.push(Number(t1 - t0) / 1e6);
    }
    return result;
  } finally {
    await peer?.stop();
    await a.close();
    await registry.close();
    await redis.quit().catch(() => redis.disconnect());
  }
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const startedAt = new Date();
  const t0 = process.hrtime.bigint();
  const load0 = loadavg();
  const tmp = mkdtempSync(join(tmpdir(), 'tenantry-bench-registry-'));
  console.log(
    `tenantry registry bench${quick ? ' (QUICK smoke run: figures are not meaningful)' : ''}: PostgreSQL ${redactUrl(pgUrl)} (schema ${config.schema}), ` +
      `Redis ${redactUrl(redisUrl)}; node ${process.version}, ${cpus().length} CPUs, load ${load0.map((l) => l.toFixed(2)).join(' ')}`,
  );

  let lookups: LookupResult;
  const figures = new Map<VariantKey, RoundFigure[]>(VARIANTS.map((v) => [v.key, []]));
  let invalidation: InvalidationResult;
  try {
    const setup = postgresRegistry({ connectionString: pgUrl, schema: config.schema });
    try {
      await setup.migrate();
      await setup.put({ id: 'acme' });
    } finally {
      await setup.close();
    }

    console.log(`\nR1: lookups, ${config.lookup.samples} samples: openScope() cache hit ×${config.lookup.cachedIterations}, PostgreSQL get ×${config.lookup.postgresIterations}, libSQL get ×${config.lookup.libsqlIterations} ...`);
    lookups = await benchLookups(tmp);

    console.log(
      `R2: Hono servers, ${config.servers.rounds} rounds × ${config.servers.requests} requests after ${config.servers.warmup} warm-up, ${config.servers.connections} connections, ` +
        `${config.servers.pin ? 'servers pinned to CPU 0, autocannon to CPU 1' : 'unpinned'} ...`,
    );
    if (config.servers.pin && !pin(process.pid, 1)) {
      console.log('taskset is not available: running unpinned');
      config.servers.pin = false;
    }
    const env = { BENCH_TMP: tmp, BENCH_PG_URL: pgUrl, BENCH_PG_SCHEMA: config.schema };
    try {
      for (let round = 1; round <= config.servers.rounds; round++) {
        const results = await measureRound(round, env);
        for (const v of VARIANTS) {
          const f = results.get(v.key)!;
          figures.get(v.key)!.push(f);
          console.log(
            `round ${round}/${config.servers.rounds}  ${v.key.padEnd(9)} ${us(f.cpuUsPerRequest).padStart(7)} µs CPU/req (user ${us(f.userUs / f.requests)}, sys ${us(f.systemUs / f.requests)})  ${rps(f.requestsPerSecond).padStart(7)} req/s`,
          );
        }
      }
    } finally {
      killAll();
      if (config.servers.pin) pin(process.pid, `0-${cpus().length - 1}`);
    }

    console.log(`R3: invalidation latency, ${config.invalidation.operations} suspensions/resumptions on A, B in another process ...`);
    invalidation = await benchInvalidation(tmp);
  } finally {
    killPeers();
    rmSync(tmp, { recursive: true, force: true });
    await dropSchema();
  }

  // --- Summary
  const rows: Row[] = [];
  const summary: Record<string, unknown> = {};

  const cached = median(lookups.cachedNs);
  const postgres = median(lookups.postgresNs);
  const libsql = median(lookups.libsqlNs);
  const nsOrUs = (ns: number): string => (ns >= 1_000 ? `${us(ns / 1000)} µs` : `${ns.toFixed(0)} ns`);
  rows.push({
    id: 'R1',
    scenario: `cache hit: \`tenantry.openScope(view)\` of a warm tenant (header resolver, cache, status gate, context), synchronous, ${config.lookup.cachedIterations.toLocaleString('en-US')} calls × ${lookups.cachedNs.length}, wall`,
    value: nsOrUs(cached),
    spread: range(lookups.cachedNs, nsOrUs),
    baseline: '',
    ratio: '',
    target: '',
    result: '',
  });
  rows.push({
    id: 'R1',
    scenario: `libSQL file registry: \`await registry.get(id)\`, one at a time, ${config.lookup.libsqlIterations.toLocaleString('en-US')} calls × ${lookups.libsqlNs.length}, wall`,
    value: nsOrUs(libsql),
    spread: range(lookups.libsqlNs, nsOrUs),
    baseline: 'cache hit',
    ratio: ratio(libsql / cached),
    target: '',
    result: '',
  });
  rows.push({
    id: 'R1',
    scenario: `PostgreSQL registry: \`await registry.get(id)\` (one round trip to the local server), one at a time, ${config.lookup.postgresIterations.toLocaleString('en-US')} calls × ${lookups.postgresNs.length}, wall`,
    value: nsOrUs(postgres),
    spread: range(lookups.postgresNs, nsOrUs),
    baseline: 'cache hit / libSQL',
    ratio: `${ratio(postgres / cached)} / ${ratio(postgres / libsql)}`,
    target: '',
    result: '',
  });
  summary['lookup'] = { cachedNs: cached, libsqlNs: libsql, postgresNs: postgres, postgresOverCached: postgres / cached, libsqlOverCached: libsql / cached, postgresOverLibsql: postgres / libsql };

  const stat = (key: VariantKey) => {
    const list = figures.get(key)!;
    return { cpu: median(list.map((f) => f.cpuUsPerRequest)), cpus: list.map((f) => f.cpuUsPerRequest), rps: median(list.map((f) => f.requestsPerSecond)) };
  };
  const lib = stat('libsql');
  const pgs = stat('postgres');
  const paired = figures.get('postgres')!.map((f, i) => f.cpuUsPerRequest / figures.get('libsql')![i]!.cpuUsPerRequest);
  const cpuRatio = pgs.cpu / lib.cpu;
  const cpuPass = cpuRatio <= CPU_TARGET;
  rows.push({
    id: 'R2',
    scenario: `${VARIANTS[0].label}: server CPU µs/request (${rps(lib.rps)} req/s)`,
    value: `${us(lib.cpu)} µs`,
    spread: range(lib.cpus),
    baseline: '',
    ratio: '',
    target: '',
    result: '',
  });
  rows.push({
    id: 'R2',
    scenario: `${VARIANTS[1].label}: server CPU µs/request (${rps(pgs.rps)} req/s)`,
    value: `${us(pgs.cpu)} µs`,
    spread: range(pgs.cpus),
    baseline: 'libsql',
    ratio: `${ratio(cpuRatio)} (rounds ${ratio(Math.min(...paired))}–${ratio(Math.max(...paired))})`,
    target: `≤ ${CPU_TARGET.toFixed(2)}×`,
    result: cpuPass ? 'PASS' : 'FAIL',
  });
  summary['server-cpu'] = { libsqlUs: lib.cpu, postgresUs: pgs.cpu, ratio: cpuRatio, medianPairedRatio: median(paired), pairedRatios: paired, target: `<= ${CPU_TARGET}`, pass: cpuPass };

  const inv = invalidation;
  const ahead = inv.afterReturnMs.filter((v) => v < 0).length;
  const p99 = percentile(inv.afterReturnMs, 99);
  const invPass = p99 <= INVALIDATION_TARGET_MS;
  rows.push({
    id: 'R3',
    scenario: `A's call: \`suspendTenant\` / \`resumeTenant\` (PostgreSQL write, local platform tokens, PUBLISH), ${inv.callMs.length} calls`,
    value: ms(median(inv.callMs)),
    spread: `p99 ${ms(percentile(inv.callMs, 99))}`,
    baseline: '',
    ratio: '',
    target: '',
    result: '',
  });
  rows.push({
    id: 'R3',
    scenario: `invalidation latency, A's call returning → B (another process) has dropped its cached record; ${ahead} of ${inv.afterReturnMs.length} drops came before A's call returned (negative)`,
    value: ms(median(inv.afterReturnMs)),
    spread: `p99 ${ms(p99)}, max ${ms(Math.max(...inv.afterReturnMs))}`,
    baseline: '',
    ratio: '',
    target: `p99 ≤ ${INVALIDATION_TARGET_MS} ms`,
    result: invPass ? 'PASS' : 'FAIL',
  });
  rows.push({
    id: 'R3',
    scenario: "the same, from A's call starting",
    value: ms(median(inv.afterStartMs)),
    spread: `p99 ${ms(percentile(inv.afterStartMs, 99))}, max ${ms(Math.max(...inv.afterStartMs))}`,
    baseline: '',
    ratio: '',
    target: '',
    result: '',
  });
  summary['invalidation'] = {
    afterReturnMedianMs: median(inv.afterReturnMs),
    afterReturnP99Ms: p99,
    afterStartMedianMs: median(inv.afterStartMs),
    afterStartP99Ms: percentile(inv.afterStartMs, 99),
    callMedianMs: median(inv.callMs),
    dropsBeforeReturn: ahead,
    operations: inv.afterReturnMs.length,
    target: `p99 <= ${INVALIDATION_TARGET_MS} ms`,
    pass: invPass,
  };

  const elapsedS = Number(process.hrtime.bigint() - t0) / 1e9;
  const load1 = loadavg();
  const table = markdown(rows);
  const note =
    `R1: wall time per call, median of ${lookups.cachedNs.length} samples taking turns; PostgreSQL and Redis on the same machine. ` +
    `R2: CPU time (user + system) of the server process per request, median of ${config.servers.rounds} rounds of ${config.servers.requests.toLocaleString('en-US')} requests ` +
    `(${config.servers.connections} connections, after ${config.servers.warmup.toLocaleString('en-US')} warm-up), fresh processes per round, bursts taking turns; ratio of medians (per-round paired ratios in parentheses). ` +
    `R3: ${inv.afterReturnMs.length} operations alternating suspend / resume, times from the machine's monotonic clock in both processes. ` +
    `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, load average ${load0[0]!.toFixed(2)} → ${load1[0]!.toFixed(2)}; ${elapsedS.toFixed(0)} s.`;
  console.log(`\n${table}\n\n${note}\n`);

  const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, 'registry.json');
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        elapsedSeconds: elapsedS,
        environment: { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, loadavgStart: load0, loadavgEnd: load1 },
        config: { ...config, postgres: redactUrl(pgUrl), redis: redactUrl(redisUrl) },
        summary,
        lookups,
        servers: Object.fromEntries(VARIANTS.map((v) => [v.key, { label: v.label, rounds: figures.get(v.key) }])),
        invalidation: inv,
        rows,
        markdown: `${table}\n\n${note}\n`,
        sink,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`results written to ${file}`);

  const scenarioFile = writeScenarios({
    script: 'registry',
    title: 'Registry backends and scale-out (bench/registry.ts)',
    startedAt: startedAt.toISOString(),
    quick,
    machine: machineNotes(load0[0]!),
    method:
      `R1: wall time per call in this process, median of ${lookups.cachedNs.length} samples taking turns; PostgreSQL and Redis run on the same machine. ` +
      `R2: server CPU per request as in bench/run.ts, ${config.servers.rounds} rounds of ${config.servers.requests.toLocaleString('en-US')} requests. ` +
      `R3: ${inv.afterReturnMs.length} suspend/resume operations on instance A, instance B in another process; times from the monotonic clock of both.`,
    scenarios: [
      {
        id: 'R1',
        scenario: 'warm tenant through `tenantry.openScope()` (header resolver, cached record, status gate, context; synchronous)',
        baseline: 'libsqlRegistry (file) `await registry.get(id)`',
        baselineValue: libsql / 1000,
        tenantryValue: cached / 1000,
        unit: 'µs/call',
        ratio: ratioOf(cached, libsql),
        notes: `what the lookup cache saves per request; PostgreSQL get ${nsOrUs(postgres)}`,
      },
      {
        id: 'R1',
        scenario: 'postgresRegistry `await registry.get(id)` (one round trip to the local server)',
        baseline: 'libsqlRegistry (file) `await registry.get(id)`',
        baselineValue: libsql / 1000,
        tenantryValue: postgres / 1000,
        unit: 'µs/call',
        ratio: ratioOf(postgres, libsql),
        notes: `samples ${range(lookups.postgresNs, nsOrUs)} vs ${range(lookups.libsqlNs, nsOrUs)}; both registries are tenantry's, the cache hides either`,
      },
      {
        id: 'R2',
        scenario: 'Hono tenancy(fromHeader()) on postgresRegistry (cached), server CPU per request',
        baseline: 'the same on libsqlRegistry (file)',
        baselineValue: lib.cpu,
        tenantryValue: pgs.cpu,
        unit: 'µs CPU/req',
        ratio: cpuRatio,
        target: `≤ ${CPU_TARGET.toFixed(2)}×`,
        pass: cpuPass,
        notes: `per-round ratios ${ratio(Math.min(...paired))}–${ratio(Math.max(...paired))}; ${rps(pgs.rps)} vs ${rps(lib.rps)} req/s`,
      },
      {
        id: 'R3',
        scenario: 'invalidation across instances over Redis: A’s suspend/resume returned → B dropped its cached record, p99',
        baseline: '',
        baselineValue: null,
        tenantryValue: p99,
        unit: 'ms',
        ratio: null,
        target: `p99 ≤ ${INVALIDATION_TARGET_MS} ms`,
        pass: invPass,
        notes: `median ${ms(median(inv.afterReturnMs))}, max ${ms(Math.max(...inv.afterReturnMs))}; ${ahead} of ${inv.afterReturnMs.length} drops before A’s call returned; A’s call median ${ms(median(inv.callMs))}`,
      },
    ],
  });
  console.log(`scenarios written to ${scenarioFile}`);
  return 0;
}

const stopOnSignal = (signal: NodeJS.Signals): void => {
  killAll();
  killPeers();
  process.exit(signal === 'SIGINT' ? 130 : 143);
};
process.once('SIGINT', stopOnSignal);
process.once('SIGTERM', stopOnSignal);
process.once('exit', () => {
  killAll();
  killPeers();
});

try {
  process.exitCode = await main();
} catch (err) {
  killAll();
  killPeers();
  console.error(err instanceof BenchError ? `\nbench failed: ${err.message}` : '\nbench failed:', err instanceof BenchError ? '' : err);
  process.exitCode = 1;
}
