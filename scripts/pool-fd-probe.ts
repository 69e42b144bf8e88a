/**
 * Measures file descriptors and RSS of a `ClientPool` (maxClients 200) under churn, with no
 * forced garbage collection, then after `pool.close()` and after one forced GC. Shows that
 * libsql 0.5.29 (under @libsql/client 0.18) keeps a closed `file:` connection's descriptor until
 * V8 collects the statements prepared on it (tursodatabase/libsql-js#228, #230; fixed upstream by
 * libsql-js#236, not in a release yet), while the pool itself holds only its open clients.
 *
 * Usage: npx tsx scripts/pool-fd-probe.ts [tenants=10000] [concurrency=400]   (Linux: /proc/self/fd)
 * Prints one JSON line.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ClientPool } from '../src/router/pool.js';
import { collectGarbage, openFileDescriptors, rssMiB } from '../test/helpers/process-stats.js';

const tenants = Number(process.argv[2] ?? 10_000);
const concurrency = Number(process.argv[3] ?? 400);
if (!Number.isInteger(tenants) || tenants < 1 || !Number.isInteger(concurrency) || concurrency < 1) {
  console.error('usage: npx tsx scripts/pool-fd-probe.ts [tenants >= 1] [concurrency >= 1]');
  process.exit(2);
}
const MAX_CLIENTS = 200;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tenantry-fd-probe-'));
const urlOf = (id: string): string => `${pathToFileURL(dir).href}/${id}.db`;

// Load the native library (and the descriptors it opens once) before the baseline.
const warm = new ClientPool();
const warmLease = warm.acquire('warm', { url: urlOf('warm') });
await warmLease.client.execute('select 1');
warmLease.release();
await warm.close();
await collectGarbage();

const pool = new ClientPool({ maxClients: MAX_CLIENTS });
const baseline = openFileDescriptors();
const rssBefore = rssMiB();
let fdPeak = baseline;
let rssPeak = rssBefore;
let next = 0;
const worker = async (): Promise<void> => {
  while (next < tenants) {
    const i = next++;
    const lease = pool.acquire(`t${i}`, { url: urlOf(`t${i}`) });
    try {
      const tx = await lease.client.transaction('read'); // held across a pause, as a request does
      await tx.execute('pragma database_list');
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 4));
      await tx.commit();
    } finally {
      lease.release();
    }
    if (i % 100 === 0) {
      fdPeak = Math.max(fdPeak, openFileDescriptors());
      rssPeak = Math.max(rssPeak, rssMiB());
    }
  }
};
await Promise.all(Array.from({ length: Math.min(concurrency, tenants) }, worker));
const endOfLoop = openFileDescriptors();
await collectGarbage();
const heldByPool = openFileDescriptors();
await pool.close();
const afterClose = openFileDescriptors();
await collectGarbage();
console.log(
  JSON.stringify({
    node: process.version,
    tenants,
    concurrency,
    maxClients: MAX_CLIENTS,
    fd: { baseline, peakNoGc: Math.max(fdPeak, endOfLoop), endOfLoopNoGc: endOfLoop, afterGcPoolOpen: heldByPool, afterCloseNoGc: afterClose, afterCloseAndGc: openFileDescriptors() },
    rssMiB: { before: rssBefore, peak: rssPeak, end: rssMiB() },
  }),
);
fs.rmSync(dir, { recursive: true, force: true });
