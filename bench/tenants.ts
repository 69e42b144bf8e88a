/**
 * Throughput against the number of active tenants, on the built package (`npm run build` first;
 * `npm run bench` runs it):
 *
 *   npx tsx bench/tenants.ts
 *
 * T1. Requests per second through Hono `tenancy(fromHeader())` with a per-request query
 *     (`getTenantClient()` then `select 1`) when the requests spread uniformly at random over 10,
 *     100, 1,000 and 10,000 tenants, with a pool of `maxClients: 200`: up to 200 tenants every
 *     client stays pooled; above, most requests open a client and evict one (hit rate about
 *     200 / tenants). Reference: the bare Hono server with one client of its own and the same
 *     `select 1` (bench/servers/hono.mjs `bare-query`).
 *
 * Method, as bench/run.ts: each server in its own process (bench/servers/hono-tenants.mjs
 * <tenants>), pinned to CPU 0 with autocannon on CPU 1 (Linux, 2+ CPUs), 50 keep-alive
 * connections. Each server is first warmed up with requests that go round-robin over all its
 * tenants (every database file exists, every record is cached), then the servers take turns in
 * `rounds` bursts of `requests` requests (the order reversed every other round). req/s = requests
 * ÷ the burst's wall time to its last answer; the figure is the median over rounds. The server's
 * CPU per request is read over IPC as well.
 *
 * Writes `bench/throughput-vs-tenants.svg` (drawn by bench/plot.ts, no plotting dependency) and
 * `bench/results/scenarios/tenants.json` (bench/scenarios.ts). Exits 1 when a server fails or a
 * request does not answer 200; no targets.
 *
 * Environment:
 *   BENCH_TENANT_REQUESTS  measured requests per server and round (default 10000; quick 1500)
 *   BENCH_TENANT_ROUNDS    rounds                                 (default 3; quick 1)
 *   BENCH_CONNECTIONS      autocannon connections                 (default 50)
 *   BENCH_PIN=0            do not pin
 *   BENCH_QUICK=1          smoke run: small counts (figures are not meaningful)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchError, BenchServer, checkRoute, killAll, load, pin } from './http.js';
import type { Framework } from './http.js';
import { logXPlot } from './plot.js';
import { machineNotes, ratioOf, writeScenarios } from './scenarios.js';
import type { Scenario } from './scenarios.js';
import { intEnv } from './stats.js';

const quick = process.env['BENCH_QUICK'] === '1';
const config = {
  tenantCounts: [10, 100, 1_000, 10_000],
  maxClients: 200,
  requests: intEnv('BENCH_TENANT_REQUESTS', quick ? 1_500 : 10_000),
  rounds: intEnv('BENCH_TENANT_ROUNDS', quick ? 1 : 3),
  connections: intEnv('BENCH_CONNECTIONS', 50),
  /** Warm-up requests, round-robin over the tenants: at least one per tenant. */
  warmup: (tenants: number): number => Math.max(quick ? 500 : 2_000, tenants),
  pin: process.env['BENCH_PIN'] !== '0' && process.platform === 'linux' && cpus().length >= 2,
};
const SVG_PATH = fileURLToPath(new URL('./throughput-vs-tenants.svg', import.meta.url));
const NOTES = { notes: [{ id: 1, text: 'ship the rocket skates' }] };

interface Target {
  key: string;
  framework: Framework;
  variant: string;
  /** Tenants the requests spread over; 0 for the single-client reference. */
  tenants: number;
}

const TARGETS: Target[] = [
  { key: 'bare-query', framework: 'hono', variant: 'bare-query', tenants: 0 },
  ...config.tenantCounts.map((n) => ({ key: `tenants-${n}`, framework: 'hono-tenants' as const, variant: String(n), tenants: n })),
];

/** xorshift32: a cheap, seeded, uniform-enough sequence for picking tenants. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

interface Figure {
  rps: number;
  cpuUsPerRequest: number;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const thousands = (v: number): string => Math.round(v).toLocaleString('en-US');

async function main(): Promise<number> {
  const startedAt = new Date();
  const load0 = loadavg()[0]!;
  if (config.pin && !pin(process.pid, 1)) {
    console.log('taskset is not available: running unpinned');
    config.pin = false;
  }
  console.log(
    `tenantry throughput-vs-tenants bench${quick ? ' (QUICK smoke run: figures are not meaningful)' : ''}: tenants ${config.tenantCounts.join(', ')}, maxClients ${config.maxClients}; ` +
      `${config.rounds} rounds × ${config.requests} requests per server, ${config.connections} connections, ${config.pin ? 'servers pinned to CPU 0, autocannon to CPU 1' : 'unpinned'}; ` +
      `node ${process.version}, load ${load0.toFixed(2)}`,
  );
  const tmp = mkdtempSync(join(tmpdir(), 'tenantry-bench-tenants-'));
  const figures = new Map<string, Figure[]>(TARGETS.map((t) => [t.key, []]));
  const servers = new Map<string, BenchServer>();
  try {
    for (const t of TARGETS) servers.set(t.key, await BenchServer.start(t.framework, t.variant, { BENCH_TMP: tmp }, config.pin ? 0 : undefined));
    for (const t of TARGETS) {
      const server = servers.get(t.key)!;
      const headers = { 'x-tenant-id': t.tenants === 0 ? 'acme' : 't-0' };
      await checkRoute(server, headers, NOTES);
      let next = 0;
      const started = process.hrtime.bigint();
      await load(server, {
        amount: config.warmup(t.tenants),
        connections: config.connections,
        headers,
        phase: 'warm-up',
        ...(t.tenants === 0
          ? {}
          : {
              setupRequest: (request) => {
                request.headers = { ...request.headers, 'x-tenant-id': `t-${next++ % t.tenants}` };
                return request;
              },
            }),
      });
      console.log(`warm-up ${t.key}: ${config.warmup(t.tenants).toLocaleString('en-US')} requests in ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s`);
    }
    for (let round = 1; round <= config.rounds; round++) {
      const order = round % 2 === 1 ? TARGETS : [...TARGETS].reverse();
      for (const t of order) {
        const server = servers.get(t.key)!;
        const random = xorshift(0x9e3779b9 ^ (round * 7919 + t.tenants));
        const before = await server.cpu();
        const run = await load(server, {
          amount: config.requests,
          connections: config.connections,
          headers: { 'x-tenant-id': t.tenants === 0 ? 'acme' : 't-0' },
          phase: `round ${round}`,
          ...(t.tenants === 0
            ? {}
            : {
                setupRequest: (request) => {
                  request.headers = { ...request.headers, 'x-tenant-id': `t-${random() % t.tenants}` };
                  return request;
                },
              }),
        });
        const after = await server.cpu();
        const figure = {
          rps: run.requests / (run.durationMs / 1000),
          cpuUsPerRequest: (after.userUs - before.userUs + after.systemUs - before.systemUs) / run.requests,
        };
        figures.get(t.key)!.push(figure);
        console.log(`round ${round}/${config.rounds}  ${t.key.padEnd(14)} ${thousands(figure.rps).padStart(7)} req/s  ${figure.cpuUsPerRequest.toFixed(1).padStart(7)} µs CPU/req`);
      }
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.stop()));
    killAll();
    rmSync(tmp, { recursive: true, force: true });
  }

  const stat = (key: string): { rps: number; cpu: number; rpsAll: number[] } => {
    const list = figures.get(key)!;
    return { rps: median(list.map((f) => f.rps)), cpu: median(list.map((f) => f.cpuUsPerRequest)), rpsAll: list.map((f) => f.rps) };
  };
  const reference = stat('bare-query');
  const scenarios: Scenario[] = [];
  for (const n of config.tenantCounts) {
    const s = stat(`tenants-${n}`);
    const hit = Math.min(1, config.maxClients / n);
    scenarios.push({
      id: 'T1',
      scenario: `Hono tenancy(fromHeader()) + \`select 1\`, requests uniform over ${n.toLocaleString('en-US')} tenants, maxClients ${config.maxClients}`,
      baseline: 'Hono bare, one client, `select 1`',
      baselineValue: reference.rps,
      tenantryValue: s.rps,
      unit: 'req/s',
      ratio: ratioOf(s.rps, reference.rps),
      notes:
        `median of ${s.rpsAll.length} rounds (${s.rpsAll.map(thousands).join(', ')}); server CPU ${s.cpu.toFixed(1)} vs ${reference.cpu.toFixed(1)} µs/req; ` +
        `expected pool hit rate ${Math.round(hit * 100)}%`,
    });
  }
  const machine = machineNotes(load0);
  const svg = logXPlot({
    title: 'Throughput vs active tenants',
    subtitle: `Hono + tenancy(fromHeader()) + select 1 per request, pool maxClients ${config.maxClients}${quick ? ' (QUICK run: not meaningful)' : ''}`,
    xLabel: 'active tenants (requests spread uniformly at random; log scale)',
    yLabel: 'requests per second (median of rounds)',
    series: { name: 'tenantry, requests/s', points: config.tenantCounts.map((n) => ({ x: n, y: stat(`tenants-${n}`).rps })) },
    reference: { name: 'Hono bare, one client, select 1', y: reference.rps },
    notes: [
      `Server pinned to 1 CPU, autocannon on the other, ${config.connections} connections, ${config.rounds} rounds × ${config.requests.toLocaleString('en-US')} requests per point.`,
      `Node ${machine.node}, ${machine.cores} × ${machine.cpuModel}, load ${machine.loadavgStart.toFixed(2)} → ${machine.loadavgEnd.toFixed(2)}, ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
    ],
  });
  writeFileSync(SVG_PATH, svg);
  console.log(`\nplot written to ${SVG_PATH}`);
  const file = writeScenarios({
    script: 'tenants',
    title: 'Throughput vs active tenants (bench/tenants.ts)',
    startedAt: startedAt.toISOString(),
    quick,
    machine,
    method:
      `One server process per point (${config.pin ? 'pinned to CPU 0, autocannon on CPU 1' : 'unpinned'}), ${config.connections} connections; warm-up round-robin over all tenants, ` +
      `then ${config.rounds} rounds of ${config.requests.toLocaleString('en-US')} requests per server taking turns, tenants picked uniformly at random per request; req/s median of rounds. ` +
      'Plot: [throughput-vs-tenants.svg](throughput-vs-tenants.svg).',
    scenarios,
  });
  console.log(`scenarios written to ${file}`);
  return 0;
}

const stopOnSignal = (signal: NodeJS.Signals): void => {
  killAll();
  process.exit(signal === 'SIGINT' ? 130 : 143);
};
process.once('SIGINT', stopOnSignal);
process.once('SIGTERM', stopOnSignal);
process.once('exit', killAll);

try {
  process.exitCode = await main();
} catch (err) {
  killAll();
  console.error(err instanceof BenchError ? `\nbench failed: ${err.message}` : '\nbench failed:', err instanceof BenchError ? '' : err);
  process.exitCode = 1;
}
