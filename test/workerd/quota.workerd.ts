/**
 * The rate quota inside workerd with the memory quota store: a tenant over its plan's
 * `apiRateLimit` gets 429 with the RateLimit headers, and its handler does not run.
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

describe('the rate quota in workerd', () => {
  it('answers the request over apiRateLimit (3 a minute on free) with 429 and RateLimit headers', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await worker.fetch('https://api.example.test/rate/whoami', { headers: { 'x-tenant-id': 'acme' } });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses).toEqual([200, 200, 200]);

    const limited = await worker.fetch('https://api.example.test/rate/whoami', { headers: { 'x-tenant-id': 'acme' } });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('content-type')).toBe('application/problem+json');
    expect(await limited.json()).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
    expect(limited.headers.get('ratelimit-policy')).toBe('"free";q=3;w=60');
    expect(limited.headers.get('ratelimit')).toMatch(/^"free";r=0;t=\d+$/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('counts per tenant: a pro tenant without a limit is not affected', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await worker.fetch('https://api.example.test/rate/whoami', { headers: { 'x-tenant-id': 'globex' } });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
  });
});
