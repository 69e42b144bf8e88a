/**
 * Provisioning benchmarks, on the built package (`npm run build` first):
 *
 *   npx tsx bench/provisioning.ts
 *
 * 1. local provisioning latency: tenants provisioned one after another with the embedded
 *    defaults (libSQL file control plane, file databases) in a temp folder, 2 migrations;
 * 2. signup latency from a warm pool on a platform that takes 2 s to create a database — the
 *    local platform with a 2 s `createDatabase` delay (a Turso-like platform whose databases
 *    stay reachable; the msw fake of the Turso API would hand out `libsql://` URLs nothing
 *    serves) — against one signup on the same platform without a pool;
 * 3. `tenantry.migrate()` of 3 new migrations over many local tenant databases, concurrency 8
 *    and concurrency 1 (another 3 migrations, on a fresh instance, so no client is pooled).
 *
 * Prints a Markdown table (scenario, median, p95, target, result) and writes
 * `bench/results/scenarios/provisioning.json` (bench/scenarios.ts). Exits 1 when a provisioning
 * or a migration fails; a missed target is reported, not asserted.
 *
 * Environment:
 *   BENCH_QUICK=1   smoke run: small counts everywhere (figures are not meaningful)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTenantry, localPlatform } from '../dist/index.js';
import type { ITursoPlatformService, Migration, TenantProvisioningResult, Tenantry } from '../dist/index.js';
import { machineNotes, ratioOf, writeScenarios } from './scenarios.js';
import type { Scenario } from './scenarios.js';
import { median, percentile } from './stats.js';

const quick = process.env['BENCH_QUICK'] === '1';
const config = {
  sequentialTenants: quick ? 20 : 100,
  createDelayMs: 2_000,
  warmPoolSize: quick ? 3 : 10,
  migrateTenants: quick ? 100 : 1_000,
  migrateConcurrency: 8,
};
const SIGNUP_TARGET_P95_MS = 50;

/** The rows in the common results format (bench/scenarios.ts), for bench/report.ts. */
const scenarios: Scenario[] = [];

const MIGRATIONS: Migration[] = [
  { id: '0001_notes', sql: 'create table notes (id integer primary key, text text not null, created_at integer not null default (unixepoch()));' },
  { id: '0002_tags', sql: 'create table tags (name text primary key); create index notes_created on notes (created_at);' },
];
const SEED = "insert into notes (text) values ('welcome')";
/** Three migrations added later, twice (one set per concurrency). */
const laterMigrations = (set: string): Migration[] => [
  { id: `0100_${set}_comments`, sql: `create table comments_${set} (id integer primary key, note_id integer not null, body text not null);` },
  { id: `0101_${set}_index`, sql: `create index comments_${set}_note on comments_${set} (note_id);` },
  { id: `0102_${set}_column`, sql: `alter table tags add column colour_${set} text;` },
];

// ---------------------------------------------------------------------------------------------
// Statistics and formatting

const ms = (v: number): string => (Number.isFinite(v) ? (v >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`) : 'n/a');
const seconds = (v: number): string => `${(v / 1000).toFixed(2)} s`;

interface Row {
  id: string;
  scenario: string;
  median: string;
  p95: string;
  target: string;
  result: '' | 'PASS' | 'FAIL';
}

function markdown(rows: Row[]): string {
  const head = ['#', 'scenario', 'median', 'p95', 'target', 'result'];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map((_, i) => (i === 2 || i === 3 ? '---:' : '---')).join(' | ')} |`];
  for (const r of rows) lines.push(`| ${[r.id, r.scenario, r.median, r.p95, r.target, r.result ? `**${r.result}**` : ''].join(' | ')} |`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Helpers

class ProvisioningFailed extends Error {
  constructor(result: TenantProvisioningResult) {
    super(`provisioning of "${result.tenantId}" failed: ${result.error ?? 'no error given'}`);
    this.name = 'ProvisioningFailed';
  }
}

/** Provisions `orgId` and resolves the wall time in ms; throws when it did not end active. */
async function timedSignup(tenantry: Tenantry, orgId: string): Promise<number> {
  const t0 = performance.now();
  const result = await tenantry.provisioning.provisionTenant({ orgId });
  const elapsed = performance.now() - t0;
  if (result.status !== 'active') throw new ProvisioningFailed(result);
  return elapsed;
}

/** The local platform in `dir` whose `createDatabase` first waits `delayMs` (a slow platform API). */
function slowLocalPlatform(dir: string, delayMs: number): ITursoPlatformService {
  const local = localPlatform({ dir });
  return {
    ...local,
    createDatabase: async (input) => {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return local.createDatabase(input);
    },
  };
}

function tempFolder(name: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `tenantry-bench-${name}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

// ---------------------------------------------------------------------------------------------
// Scenarios

async function sequentialLocal(rows: Row[]): Promise<void> {
  const { dir, cleanup } = tempFolder('seq');
  const tenantry = createTenantry({ dataDir: dir, provisioning: { migrations: MIGRATIONS, seed: SEED } });
  try {
    const times: number[] = [];
    for (let i = 0; i < config.sequentialTenants; i++) times.push(await timedSignup(tenantry, `seq-${i}`));
    rows.push({
      id: '1',
      scenario: `local provisioning, ${config.sequentialTenants} tenants one after another (embedded defaults, 2 migrations + seed)`,
      median: ms(median(times)),
      p95: ms(percentile(times, 95)),
      target: '',
      result: '',
    });
    scenarios.push({
      id: '1',
      scenario: `local provisioning (embedded defaults, 2 migrations + seed), ${config.sequentialTenants} tenants one after another, median`,
      baseline: '',
      baselineValue: null,
      tenantryValue: median(times),
      unit: 'ms',
      ratio: null,
      notes: `p95 ${ms(percentile(times, 95))}`,
    });
  } finally {
    await tenantry.close();
    cleanup();
  }
}

async function warmSignups(rows: Row[], notes: string[]): Promise<boolean> {
  const { dir, cleanup } = tempFolder('warm');
  const size = config.warmPoolSize;
  const tenantry = createTenantry({
    dataDir: dir,
    platform: slowLocalPlatform(join(dir, 'tenants'), config.createDelayMs),
    provisioning: { migrations: MIGRATIONS, seed: SEED, warmPool: { size, refill: 'manual' } },
  });
  const cold = createTenantry({
    dataDir: join(dir, 'cold'),
    platform: slowLocalPlatform(join(dir, 'cold', 'tenants'), config.createDelayMs),
    provisioning: { migrations: MIGRATIONS, seed: SEED },
  });
  try {
    const t0 = performance.now();
    const created = await tenantry.provisioning.refillWarmPool();
    const fillMs = performance.now() - t0;
    if (created !== size) throw new Error(`refillWarmPool() created ${created} databases, expected ${size}`);
    notes.push(`Row 2: the pool of ${size} was filled first with \`refillWarmPool()\` (one creation at a time: ${seconds(fillMs)}).`);

    const times: number[] = [];
    for (let i = 0; i < size; i++) times.push(await timedSignup(tenantry, `signup-${i}`));
    const p95 = percentile(times, 95);
    const pass = p95 <= SIGNUP_TARGET_P95_MS;
    rows.push({
      id: '2',
      scenario: `signup from a warm pool (size ${size}), ${size} signups one after another; local platform with a ${config.createDelayMs / 1000} s createDatabase delay`,
      median: ms(median(times)),
      p95: ms(p95),
      target: `p95 ≤ ${SIGNUP_TARGET_P95_MS} ms`,
      result: pass ? 'PASS' : 'FAIL',
    });

    const coldMs = await timedSignup(cold, 'cold-signup');
    rows.push({
      id: '2',
      scenario: `contrast: one signup without a warm pool on the same slow platform`,
      median: ms(coldMs),
      p95: '',
      target: '',
      result: '',
    });
    scenarios.push({
      id: '2',
      scenario: `signup from a warm pool (size ${size}), ${size} signups one after another, p95; platform with a ${config.createDelayMs / 1000} s createDatabase`,
      baseline: 'one signup without a warm pool on the same platform',
      baselineValue: coldMs,
      tenantryValue: p95,
      unit: 'ms',
      ratio: ratioOf(p95, coldMs),
      target: `p95 ≤ ${SIGNUP_TARGET_P95_MS} ms`,
      pass,
      notes: `median ${ms(median(times))}; pool filled first in ${seconds(fillMs)}`,
    });
    return pass;
  } finally {
    await tenantry.close();
    await cold.close();
    cleanup();
  }
}

async function migrateMany(rows: Row[], notes: string[]): Promise<void> {
  const { dir, cleanup } = tempFolder('migrate');
  const count = config.migrateTenants;
  try {
    const setup = createTenantry({ dataDir: dir, provisioning: { migrations: MIGRATIONS } });
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const result = await setup.provisioning.provisionTenant({ orgId: `m-${i}` });
      if (result.status !== 'active') throw new ProvisioningFailed(result);
    }
    const provisionMs = performance.now() - t0;
    await setup.close();
    notes.push(`Row 3: ${count.toLocaleString('en-US')} tenants provisioned first (${seconds(provisionMs)}).`);

    const run = async (set: string, concurrency: number): Promise<number> => {
      // a fresh instance each time: no client pooled by the previous run
      const tenantry = createTenantry({ dataDir: dir });
      try {
        const started = performance.now();
        const report = await tenantry.migrate({ migrations: laterMigrations(set), concurrency });
        const wall = performance.now() - started;
        if (report.failed.length > 0 || report.succeeded.length !== count) {
          const first = report.failed[0];
          throw new Error(
            `migrate (concurrency ${concurrency}): ${report.succeeded.length} succeeded, ${report.failed.length} failed` +
              (first === undefined ? '' : ` (first: ${first.tenantId}: ${first.error.message})`),
          );
        }
        return wall;
      } finally {
        await tenantry.close();
      }
    };
    const parallel = await run('a', config.migrateConcurrency);
    const serial = await run('b', 1);
    rows.push({
      id: '3',
      scenario: `\`tenantry.migrate()\`, 3 new migrations × ${count.toLocaleString('en-US')} local tenant databases, concurrency ${config.migrateConcurrency} (wall time)`,
      median: seconds(parallel),
      p95: '',
      target: '',
      result: '',
    });
    rows.push({
      id: '3',
      scenario: `the same with another 3 migrations, concurrency 1 (wall time); ratio concurrency 1 ÷ concurrency ${config.migrateConcurrency} = ${(serial / parallel).toFixed(2)}×`,
      median: seconds(serial),
      p95: '',
      target: '',
      result: '',
    });
    scenarios.push({
      id: '3',
      scenario: `\`tenantry.migrate()\`: 3 new migrations × ${count.toLocaleString('en-US')} local tenant databases, concurrency ${config.migrateConcurrency}, wall time`,
      baseline: 'another 3 migrations, concurrency 1',
      baselineValue: serial,
      tenantryValue: parallel,
      unit: 'ms',
      ratio: ratioOf(parallel, serial),
      notes: 'file databases are synchronous (each statement blocks the event loop), so concurrency gains little locally; against remote databases the waits overlap',
    });
    notes.push(
      'Row 3: file databases are synchronous (each statement blocks the event loop), so concurrency gains little locally and the ratio stays near 1; against remote databases (`libsql://`) the waits overlap.',
    );
  } finally {
    cleanup();
  }
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const started = performance.now();
  const startedAt = new Date();
  const load0 = loadavg();
  console.log(`tenantry provisioning bench${quick ? ' (QUICK smoke run: figures are not meaningful)' : ''}`);
  const rows: Row[] = [];
  const notes: string[] = [];
  await sequentialLocal(rows);
  const warmPass = await warmSignups(rows, notes);
  await migrateMany(rows, notes);
  const load1 = loadavg();
  const elapsed = (performance.now() - started) / 1000;
  const note =
    `${notes.join(' ')} Latencies are wall ms of \`provisionTenant()\` per tenant, p95 by nearest rank. ` +
    `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, load average ${load0[0]!.toFixed(2)} → ${load1[0]!.toFixed(2)}; ${elapsed.toFixed(0)} s.`;
  console.log(`\n${markdown(rows)}\n\n${note}\n`);
  const file = writeScenarios({
    script: 'provisioning',
    title: 'Provisioning, warm pool, migrate fan-out (bench/provisioning.ts)',
    startedAt: startedAt.toISOString(),
    quick,
    machine: machineNotes(load0[0]!),
    method: `${notes.join(' ')} Latencies are wall ms of \`provisionTenant()\` per tenant, p95 by nearest rank; local platform and libSQL files in a temp folder.`,
    scenarios,
  });
  console.log(`scenarios written to ${file}`);
  // A missed target is reported (in the table and the scenario file), not asserted.
  if (!warmPass) console.log(`warm-pool signup target missed (p95 > ${SIGNUP_TARGET_P95_MS} ms)`);
  return 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  console.error('\nbench failed:', err instanceof ProvisioningFailed ? err.message : err);
  process.exitCode = 1;
}
