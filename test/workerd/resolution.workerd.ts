/**
 * Tenant resolution inside workerd: subdomain, header and JWT (keys from a JWKS URL fetched
 * through the Worker's outbound fetch), the Hono adapter, and a Worker that creates its
 * tenantry instances at module load.
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

interface Whoami {
  tenantId: string;
  source: string;
  requestId: string;
  tenantDbUrl: string;
  instanceId: string;
  cwd: string;
}

describe('resolution in workerd', () => {
  it('resolves the tenant from the subdomain', async () => {
    const res = await worker.fetch('https://acme.app.test/');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Whoami;
    expect(body).toMatchObject({ tenantId: 'acme', source: 'subdomain', tenantDbUrl: 'libsql://acme-org.turso.test', cwd: '/' });
    // made on the first request: workerd refuses random values at module load
    expect(body.instanceId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('resolves the tenant from the x-tenant-id header', async () => {
    const res = await worker.fetch('https://api.example.test/header/whoami', { headers: { 'x-tenant-id': 'globex' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ tenantId: 'globex', source: 'header', tenantDbUrl: 'https://globex-db.turso.test' });
  });

  it('resolves the tenant from a JWT verified with keys fetched from the JWKS URL, fetching them once', async () => {
    for (const tenant of ['acme', 'globex']) {
      const token = await worker.sign({ tenant_id: tenant });
      const res = await worker.fetch('https://api.example.test/jwt/whoami', { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ tenantId: tenant, source: 'jwt' });
    }
    expect(worker.jwksFetches()).toBe(1);
  });

  it('needs the JWT and the subdomain to agree when both are configured', async () => {
    const token = await worker.sign({ tenant_id: 'acme' });
    const agreeing = await worker.fetch('https://acme.app.test/jwt-subdomain/whoami', { headers: { authorization: `Bearer ${token}` } });
    expect(agreeing.status).toBe(200);
    const disagreeing = await worker.fetch('https://globex.app.test/jwt-subdomain/whoami', { headers: { authorization: `Bearer ${token}` } });
    expect(disagreeing.status).toBe(403);
    expect(await disagreeing.json()).toMatchObject({ code: 'TENANT_MISMATCH' });
  });

  it('serves the Hono adapter of the edge build with the same tenant context', async () => {
    const res = await worker.fetch('https://api.example.test/hono/whoami', { headers: { 'x-tenant-id': 'acme' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ tenantId: 'acme', source: 'header' });
    const missing = await worker.fetch('https://api.example.test/hono/whoami');
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ code: 'TENANT_NOT_RESOLVED' });
  });

  it('publishes on node:diagnostics_channel in workerd', async () => {
    const res = await worker.fetch('https://api.example.test/diagnostics');
    const body = (await res.json()) as { statuses: number[]; rejected: Array<{ code: string }>; resolveStarts: number };
    expect(body.statuses).toEqual([404, 200]);
    expect(body.rejected).toEqual([expect.objectContaining({ code: 'TENANT_NOT_FOUND', status: 404 })]);
    expect(body.resolveStarts).toBe(2);
  });
});

describe('a Worker on the newest compatibility date', () => {
  it('resolves the tenant as well', async () => {
    const newest = await startWorker({ compatibilityDate: '2026-07-01' });
    try {
      const res = await newest.fetch('https://acme.app.test/');
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ tenantId: 'acme', source: 'subdomain' });
    } finally {
      await newest.dispose();
    }
  });
});
