import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHeader, getTenantClient } from '../src/index.js';
import { ADAPTERS, harness } from './helpers/adapters.js';
import { testTenantry } from './helpers/env.js';
import type { TestTenantry } from './helpers/env.js';

describe.each(ADAPTERS)('a suspended tenant in read-only mode (%s)', (kind) => {
  let env: TestTenantry;
  beforeAll(async () => {
    env = await testTenantry({ resolvers: [fromHeader()], suspendedAccess: 'read-only' });
    await env.addTenant('frozen', { status: 'suspended' });
    await env.addTenant('live');
  });
  afterAll(() => env.close());

  it('serves reads', async () => {
    const app = await harness(kind, env.tenantry);
    const res = await app.request('/notes', { headers: { 'x-tenant-id': 'frozen' } });
    expect(res.status).toBe(200);
    expect(res.body.markers).toEqual(['frozen']);
    await app.close();
  });

  it('refuses writes inside a GET at the database', async () => {
    const app = await harness(kind, env.tenantry);
    const res = await app.request('/write', { headers: { 'x-tenant-id': 'frozen' } });
    expect(res.body).toEqual({ written: false, error: 'SQLITE_READONLY' });
    await app.close();
  });

  it('refuses unsafe methods with TENANT_SUSPENDED before the handler', async () => {
    const app = await harness(kind, env.tenantry);
    const res = await app.request('/write', { method: 'POST', headers: { 'x-tenant-id': 'frozen' } });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('TENANT_SUSPENDED');
    expect(app.handlerRuns).toBe(0);
    await app.close();
  });

  it('leaves active tenants writable', async () => {
    const app = await harness(kind, env.tenantry);
    const res = await app.request('/write', { method: 'POST', headers: { 'x-tenant-id': 'live' } });
    expect(res.body).toEqual({ written: true });
    await app.close();
  });
});

describe('a suspended tenant in a job', () => {
  it('gets a read-only client from withTenant when read-only mode is on', async () => {
    const env = await testTenantry({ resolvers: [fromHeader()], suspendedAccess: 'read-only' });
    await env.addTenant('frozen', { status: 'suspended' });
    const rows = await env.tenantry.withTenant('frozen', async () => {
      const db = await getTenantClient();
      await expect(db.execute("insert into marker values ('x')")).rejects.toMatchObject({ code: 'SQLITE_READONLY' });
      return (await db.execute('select count(*) as n from marker')).rows[0]?.['n'];
    });
    expect(rows).toBe(1);
    await env.close();
  });

  it('is refused by withTenant when read-only mode is off', async () => {
    const env = await testTenantry({ resolvers: [fromHeader()] });
    await env.addTenant('frozen', { status: 'suspended' });
    await expect(env.tenantry.withTenant('frozen', () => 1)).rejects.toMatchObject({ code: 'TENANT_SUSPENDED', status: 403 });
    await env.close();
  });
});
