/**
 * Error mapping inside workerd: refusals of the request path and `TenantryError`s thrown by a
 * handler are answered as `application/problem+json` carrying the code; Node-only options are
 * refused with a `TypeError` at `createTenantry()`, and the Worker still loads.
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

async function problem(url: string, headers: Record<string, string> = {}) {
  const res = await worker.fetch(url, { headers });
  return { status: res.status, type: res.headers.get('content-type'), headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe('problem responses in workerd', () => {
  it.each([
    ['no tenant on the request', 'https://api.example.test/header/whoami', {}, 401, 'TENANT_NOT_RESOLVED'],
    ['an unknown tenant', 'https://nobody.app.test/', {}, 404, 'TENANT_NOT_FOUND'],
    ['a value no tenant id can be', 'https://api.example.test/header/whoami', { 'x-tenant-id': 'Not A Tenant!' }, 400, 'INVALID_TENANT_ID'],
    ['a suspended tenant', 'https://initech.app.test/', {}, 403, 'TENANT_SUSPENDED'],
    ['a tenant being provisioned', 'https://umbrella.app.test/', {}, 503, 'TENANT_UNAVAILABLE'],
    ['a missing token', 'https://api.example.test/jwt/whoami', {}, 401, 'INVALID_TOKEN'],
    ['a malformed token', 'https://api.example.test/jwt/whoami', { authorization: 'Bearer not.a.jwt' }, 401, 'INVALID_TOKEN'],
  ])('answers %s with %i %s', async (_what, url, headers, status, code) => {
    const res = await problem(url, headers);
    expect(res.status).toBe(status);
    expect(res.type).toBe('application/problem+json');
    expect(res.body).toMatchObject({ status, code });
  });

  it('sends Retry-After for a tenant being provisioned and WWW-Authenticate on 401', async () => {
    expect((await problem('https://umbrella.app.test/')).headers.get('retry-after')).toBe('30');
    expect((await problem('https://api.example.test/jwt/whoami')).headers.get('www-authenticate')).toBe('Bearer');
  });

  it('refuses a token signed by another key', async () => {
    const token = await worker.sign({ tenant_id: 'acme' });
    const [header, payload] = token.split('.');
    const forged = `${header}.${payload}.${'A'.repeat(86)}`;
    const res = await problem('https://api.example.test/jwt/whoami', { authorization: `Bearer ${forged}` });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: 'INVALID_TOKEN' });
  });

  it('maps a TenantryError thrown by the handler', async () => {
    const res = await problem('https://api.example.test/header/throw-quota', { 'x-tenant-id': 'acme' });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ code: 'QUOTA_EXCEEDED', detail: 'maxRecordsPerObject of notes is reached' });
  });
});

describe('Node-only options in workerd', () => {
  it('are refused with a TypeError that says why and what to pass instead', async () => {
    const res = await worker.fetch('https://api.example.test/refusals');
    const refusals = (await res.json()) as Array<{ name: string; error: string | null; message?: string }>;
    expect(refusals.map((r) => [r.name, r.error])).toEqual([
      ['no options', 'TypeError'],
      ['no urlTemplate', 'TypeError'],
      ['dataDir', 'TypeError'],
      ['file urlTemplate', 'TypeError'],
      ['localPlatform', 'TypeError'],
    ]);
    for (const refusal of refusals) expect(refusal.message).toMatch(/file system, which this runtime does not have/);
    expect(refusals[0]!.message).toMatch(/pass a registry .* and databases\.urlTemplate with libsql:\/\//);
  });
});
