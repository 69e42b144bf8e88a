/**
 * Deploy pipeline benchmark, on the built package (`npm run build` first):
 *
 *   npx tsx bench/deploy.ts
 *
 * 1,000 local tenant databases (embedded defaults: file databases in a temp folder), each first
 * given a 20-object bundle (5 fields per object, 10 seed rows per object). Then a 20-object
 * bundle change — a new field and a new index on every object, and two objects rebuilt (a field
 * made unique) — is planned and executed with `tenantry.deploy`, concurrency 8:
 *
 * 1. `planDeployment` (introspect + diff + generate per tenant), wall time;
 * 2. `executeDeployment` with snapshots (the default for local databases): wall time, and p50 /
 *    p95 of the per-tenant time (`durationMs`: introspect, quota, `VACUUM INTO`, one
 *    transaction with the plan and the record);
 * 3. the same shape of change without snapshots (`snapshots: false`);
 * 4. baseline: the SQL of such a change run as a plain migration by `tenantry.migrate()`
 *    (concurrency 8; no introspection, diff, snapshot or record). Rows 2 and 3 are given as
 *    ratios to it.
 *
 * Prints a Markdown table. Exits 1 when a tenant fails.
 *
 * Environment:
 *   BENCH_QUICK=1        smoke run: 50 tenants (figures are not meaningful)
 *   BENCH_TENANTS=<n>    number of tenants (default 1000)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTenantry } from '../dist/index.js';
import type { DeployBundle, DeploymentResult, Tenantry } from '../dist/index.js';
import { machineNotes, ratioOf, writeScenarios } from './scenarios.js';

const quick = process.env['BENCH_QUICK'] === '1';
const TENANTS = Number(process.env['BENCH_TENANTS'] ?? (quick ? 50 : 1_000));
const OBJECTS = 20;
const CONCURRENCY = 8;
const PROTOCOL_TARGET = 'protocol: 2–5 s for one tenant on Turso';

/** The bundle of version `v`: 20 objects; from v ≥ 2 each object has the fields added by every version up to v, and objects 2(v−2), 2(v−2)+1 have `a` unique. */
function bundle(v: number): DeployBundle {
  const objects = Array.from({ length: OBJECTS }, (_, i) => {
    const fields: DeployBundle['manifest']['objects'][number]['fields'] = [
      { name: 'a', type: 'text', required: true, unique: i < 2 * (v - 1) },
      { name: 'b', type: 'number' },
      { name: 'c', type: 'boolean', default: false },
      { name: 'd', type: 'datetime' },
      { name: 'e', type: 'json' },
    ];
    const indexes: NonNullable<DeployBundle['manifest']['objects'][number]['indexes']> = [];
    for (let k = 2; k <= v; k++) {
      fields.push({ name: `extra_${k}`, type: 'text' });
      indexes.push({ fields: [`extra_${k}`, 'b'] });
    }
    return { name: `object_${String(i).padStart(2, '0')}`, fields, indexes };
  });
  const seed = Object.fromEntries(
    objects.map((o) => [o.name, Array.from({ length: 10 }, (_, r) => ({ a: `${o.name}-${r}`, b: r * 1.5, c: r % 2 === 0, d: '2026-01-01T00:00:00Z', e: '{"r":1}' }))]),
  );
  return { manifest: { version: `${v}.0.0`, objects }, seed };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1] ?? NaN;
}
const ms = (v: number): string => (v >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`);
const seconds = (v: number): string => `${(v / 1000).toFixed(2)} s`;

function check(result: DeploymentResult, what: string): void {
  if (result.summary.failed > 0 || result.summary.applied !== TENANTS) {
    const first = result.tenants.find((t) => t.status === 'failed');
    throw new Error(`${what}: ${result.summary.applied} applied, ${result.summary.failed} failed${first === undefined ? '' : ` (first: ${first.tenantId}: ${first.error?.message})`}`);
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; wall: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, wall: performance.now() - t0 };
}

async function main(): Promise<number> {
  const started = performance.now();
  const load0 = loadavg();
  const startedAt = new Date().toISOString();
  console.log(`tenantry deploy bench: ${TENANTS} local tenants, ${OBJECTS} objects${quick ? ' (QUICK smoke run: figures are not meaningful)' : ''}`);
  const dir = mkdtempSync(join(tmpdir(), 'tenantry-bench-deploy-'));
  const tenantry: Tenantry = createTenantry({ dataDir: dir });
  try {
    for (let i = 0; i < TENANTS; i++) {
      const result = await tenantry.provisioning.provisionTenant({ orgId: `t-${i}` });
      if (result.status !== 'active') throw new Error(`provisioning t-${i} failed: ${result.error}`);
    }
    const initial = await timed(async () => tenantry.deploy.executeDeployment(await tenantry.deploy.planDeployment(bundle(1)), { concurrency: CONCURRENCY }));
    check(initial.value, 'initial deploy');
    console.log(`setup: ${TENANTS} tenants provisioned; initial 20-object deploy with seed rows in ${seconds(initial.wall)}`);

    const plan = await timed(() => tenantry.deploy.planDeployment(bundle(2), { concurrency: CONCURRENCY }));
    const statements = plan.value.tenants[0]!.sql.length;
    const withSnapshots = await timed(() => tenantry.deploy.executeDeployment(plan.value, { concurrency: CONCURRENCY }));
    check(withSnapshots.value, 'deploy with snapshots');

    const plan3 = await tenantry.deploy.planDeployment(bundle(3), { concurrency: CONCURRENCY, snapshots: false });
    const noSnapshots = await timed(() => tenantry.deploy.executeDeployment(plan3, { concurrency: CONCURRENCY }));
    check(noSnapshots.value, 'deploy without snapshots');

    const plan4 = await tenantry.deploy.planDeployment(bundle(4), { concurrency: CONCURRENCY });
    const sql = plan4.tenants[0]!.sql.join(';\n');
    const baseline = await timed(() => tenantry.migrate({ migrations: [{ id: '9000_same_change', sql }], concurrency: CONCURRENCY }));
    if (baseline.value.failed.length > 0 || baseline.value.succeeded.length !== TENANTS) throw new Error(`baseline migrate: ${baseline.value.failed.length} failed (${baseline.value.failed[0]?.error.message})`);

    const per = (r: DeploymentResult) => r.tenants.map((t) => t.durationMs);
    const rows = [
      ['1', `planDeployment: ${OBJECTS}-object change × ${TENANTS} tenants (introspect, diff, generate), concurrency ${CONCURRENCY}`, seconds(plan.wall), '', '', ''],
      [
        '2',
        `executeDeployment with snapshots (${statements} statements per tenant, 2 rebuilds), concurrency ${CONCURRENCY}`,
        seconds(withSnapshots.wall),
        ms(percentile(per(withSnapshots.value), 50)),
        ms(percentile(per(withSnapshots.value), 95)),
        `${(withSnapshots.wall / baseline.wall).toFixed(2)}×`,
      ],
      [
        '3',
        'the same shape of change without snapshots (`snapshots: false`)',
        seconds(noSnapshots.wall),
        ms(percentile(per(noSnapshots.value), 50)),
        ms(percentile(per(noSnapshots.value), 95)),
        `${(noSnapshots.wall / baseline.wall).toFixed(2)}×`,
      ],
      ['4', 'baseline: the same SQL as a plain migration, `tenantry.migrate()`, concurrency 8', seconds(baseline.wall), '', '', '1.00×'],
    ];
    const head = ['#', 'scenario', 'total', 'p50 per tenant', 'p95 per tenant', 'vs baseline'];
    console.log(`\n| ${head.join(' | ')} |\n| --- | --- | ---: | ---: | ---: | ---: |`);
    for (const row of rows) console.log(`| ${row.join(' | ')} |`);
    const load1 = loadavg();
    console.log(
      `\nPer-tenant times are \`durationMs\` of each tenant's result (wall time of that tenant's work, including waits for the ${CONCURRENCY - 1} others: file databases are synchronous). ` +
        `${PROTOCOL_TARGET}; one local tenant here takes the p50 above. Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ` +
        `load average ${load0[0]!.toFixed(2)} → ${load1[0]!.toFixed(2)}; ${((performance.now() - started) / 1000).toFixed(0)} s.\n`,
    );
    const p = (r: DeploymentResult, q: number) => percentile(per(r), q);
    writeScenarios({
      script: 'deploy',
      title: 'Deploys across tenants (bench/deploy.ts)',
      startedAt,
      quick,
      machine: machineNotes(load0[0]!),
      method:
        `${TENANTS} local tenant databases (files), ${OBJECTS}-object bundle, a change of ${statements} statements per tenant (2 table rebuilds), ` +
        `concurrency ${CONCURRENCY}; wall time of each call, per-tenant durationMs from the results.`,
      scenarios: [
        {
          id: 'D1',
          scenario: `executeDeployment with snapshots (VACUUM INTO before each tenant), ${TENANTS} tenants; p50/p95 per tenant ${p(withSnapshots.value, 50).toFixed(0)}/${p(withSnapshots.value, 95).toFixed(0)} ms`,
          baseline: 'the same SQL as a plain `tenantry.migrate()`',
          baselineValue: baseline.wall / 1000,
          tenantryValue: withSnapshots.wall / 1000,
          unit: 's',
          ratio: ratioOf(withSnapshots.wall, baseline.wall),
          notes: `planDeployment took ${(plan.wall / 1000).toFixed(1)} s; the snapshot copy is most of the difference`,
        },
        {
          id: 'D2',
          scenario: `executeDeployment without snapshots (\`snapshots: false\`), ${TENANTS} tenants; p50/p95 per tenant ${p(noSnapshots.value, 50).toFixed(0)}/${p(noSnapshots.value, 95).toFixed(0)} ms`,
          baseline: 'the same SQL as a plain `tenantry.migrate()`',
          baselineValue: baseline.wall / 1000,
          tenantryValue: noSnapshots.wall / 1000,
          unit: 's',
          ratio: ratioOf(noSnapshots.wall, baseline.wall),
          notes: 'the pipeline itself: introspection, fingerprint check, quota, the per-tenant record',
        },
      ],
    });
    return 0;
  } finally {
    await tenantry.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  process.exitCode = await main();
} catch (err) {
  console.error('\nbench failed:', err);
  process.exitCode = 1;
}
