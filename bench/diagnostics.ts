/**
 * Cost of the diagnostics channels on the request path, on the built package (`npm run build`
 * first):
 *
 *   npx tsx bench/diagnostics.ts
 *
 * Hono `app.request()` through `tenancy(fromHeader())` on a warm tenant whose plan has an
 * `apiRateLimit` (so each request publishes on `tenantry:resolve` — start and end — and on
 * `tenantry:quota:check`), measured:
 *
 * 1. before anything ever subscribed (the channels have never been active in this process);
 * 2. then, sample by sample in alternating order, with one no-op subscriber on every tenantry
 *    channel (the five TracingChannel events and the six plain channels) and with none (the
 *    same subscribers removed again).
 *
 * Figures are wall-clock nanoseconds per request from `process.hrtime.bigint()`; the medians
 * of the samples are reported, and the ratio subscribed / unsubscribed of phase 2.
 *
 * Environment:
 *   BENCH_QUICK=1   smoke run: small counts (figures are not meaningful)
 */
import diagnostics_channel from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { TENANTRY_CHANNELS, createTenantry, fromHeader, getTenantClient, memoryRegistry } from '../dist/index.js';
import { tenancy } from '../dist/hono.js';
import { machineNotes, ratioOf, writeScenarios } from './scenarios.js';

const quick = process.env['BENCH_QUICK'] === '1';
const ITERATIONS = quick ? 2_000 : 20_000;
const SAMPLES = quick ? 3 : 9;
const NOTES = Object.freeze({ notes: [{ id: 1, text: 'ship the rocket skates' }] });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

let sink = 0;
let published = 0;
const noop = (): void => {
  published++;
};

/** Subscribes one no-op subscriber to every tenantry channel; returns the unsubscribe function. */
function subscribeAll(): () => void {
  const plain = Object.values(TENANTRY_CHANNELS).filter((name) => name !== TENANTRY_CHANNELS.resolve);
  for (const name of plain) diagnostics_channel.subscribe(name, noop);
  const tracing = diagnostics_channel.tracingChannel(TENANTRY_CHANNELS.resolve);
  const handlers = { start: noop, end: noop, asyncStart: noop, asyncEnd: noop, error: noop };
  tracing.subscribe(handlers);
  return () => {
    for (const name of plain) diagnostics_channel.unsubscribe(name, noop);
    tracing.unsubscribe(handlers);
  };
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const load0 = loadavg()[0]!;
  const folder = mkdtempSync(join(tmpdir(), 'tenantry-bench-diagnostics-'));
  const tenantry = createTenantry({
    resolvers: [fromHeader()],
    registry: memoryRegistry([{ id: 'acme' }]),
    databases: { urlTemplate: `file:${folder}/{tenant}.db` },
    plans: { free: { apiRateLimit: 1_000_000_000 }, pro: {}, enterprise: {} },
  });
  try {
    const app = new Hono();
    app.use('*', tenancy(tenantry));
    app.get('/notes', async (c) => {
      await getTenantClient();
      return c.json(NOTES);
    });
    const init = { headers: { 'x-tenant-id': 'acme' } };
    const once = async (n: number): Promise<number> => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        const res = await app.request('/notes', init);
        if (res.status !== 200) throw new Error(`diagnostics bench: app.request answered ${res.status}: ${await res.text()}`);
        sink += res.status;
      }
      return Number(process.hrtime.bigint() - start) / n;
    };

    // Phase 1: never subscribed (after a full sample of warm-up, so the JIT has settled).
    await once(ITERATIONS);
    const never: number[] = [];
    for (let s = 0; s < SAMPLES; s++) never.push(await once(ITERATIONS));

    // Phase 2: alternating, subscribed and unsubscribed again.
    const none: number[] = [];
    const subscribed: number[] = [];
    const unsubscribeWarm = subscribeAll();
    await once(Math.min(ITERATIONS, 5_000));
    unsubscribeWarm();
    let perRequest = 0;
    for (let s = 0; s < SAMPLES; s++) {
      const measureSubscribed = async (): Promise<void> => {
        const unsubscribe = subscribeAll();
        const before = published;
        subscribed.push(await once(ITERATIONS));
        perRequest = (published - before) / ITERATIONS;
        unsubscribe();
      };
      if (s % 2 === 0) {
        none.push(await once(ITERATIONS));
        await measureSubscribed();
      } else {
        await measureSubscribed();
        none.push(await once(ITERATIONS));
      }
    }
    if (perRequest < 3) throw new Error(`diagnostics bench: expected >= 3 messages per request, saw ${perRequest}`);

    const us = (ns: number): string => `${(ns / 1000).toFixed(2)} µs`;
    const rows = [
      ['1', 'tenancy, never subscribed', us(median(never)), ''],
      ['2a', 'tenancy, no subscriber (after unsubscribing)', us(median(none)), '1.00×'],
      ['2b', `tenancy, one subscriber on every channel (${perRequest} messages / request)`, us(median(subscribed)), `${(median(subscribed) / median(none)).toFixed(3)}×`],
    ];
    console.log(`\n## Diagnostics channels (${SAMPLES} samples × ${ITERATIONS} requests, Hono app.request, warm tenant)\n`);
    console.log(`node ${process.version}, ${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}${quick ? ', QUICK run' : ''}\n`);
    console.log('| # | scenario | median per request | ratio to 2a |');
    console.log('| --- | --- | ---: | ---: |');
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
    console.log(`\n(never subscribed / unsubscribed again: ${(median(never) / median(none)).toFixed(3)}×; sink ${sink % 7})`);
    const file = writeScenarios({
      script: 'diagnostics',
      title: 'Diagnostics channels on the request path (bench/diagnostics.ts)',
      startedAt: startedAt.toISOString(),
      quick,
      machine: machineNotes(load0),
      method:
        `Hono app.request() through tenancy(fromHeader()) on a warm tenant with a plan apiRateLimit (each request publishes on tenantry:resolve and tenantry:quota:check); ` +
        `wall time per request, median of ${SAMPLES} samples × ${ITERATIONS.toLocaleString('en-US')} requests, subscribed and unsubscribed taking turns.`,
      scenarios: [
        {
          id: 'D1',
          scenario: `one no-op subscriber on every tenantry channel (${perRequest} messages per request)`,
          baseline: 'no subscriber (after unsubscribing)',
          baselineValue: median(none) / 1000,
          tenantryValue: median(subscribed) / 1000,
          unit: 'µs/req',
          ratio: ratioOf(median(subscribed), median(none)),
          notes: 'what turning on tracing (e.g. an APM) costs per request',
        },
        {
          id: 'D1',
          scenario: 'channels never subscribed in this process',
          baseline: 'no subscriber (after unsubscribing)',
          baselineValue: median(none) / 1000,
          tenantryValue: median(never) / 1000,
          unit: 'µs/req',
          ratio: ratioOf(median(never), median(none)),
          notes: 'measured first, before any subscription',
        },
      ],
    });
    console.log(`scenarios written to ${file}`);
  } finally {
    await tenantry.close();
    rmSync(folder, { recursive: true, force: true });
  }
}

await main();
