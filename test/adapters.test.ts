import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_STATUS, fromHeader, fromJwt, fromSubdomain } from '../src/index.js';
import type { TenantryErrorCode } from '../src/index.js';
import { SignJWT } from 'jose';
import { ADAPTERS, harness } from './helpers/adapters.js';
import type { Harness } from './helpers/adapters.js';
import { testTenantry } from './helpers/env.js';
import type { TestTenantry } from './helpers/env.js';

const SECRET = 'adapter-suite-secret-0123456789abcdefghij';
const sign = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode(SECRET));

describe.each(ADAPTERS)('the %s adapter', (kind) => {
  let env: TestTenantry;
  let app: Harness;

  beforeAll(async () => {
    env = await testTenantry({
      resolvers: [fromJwt({ secret: SECRET, issuer: false, audience: false, required: false }), fromSubdomain({ baseDomains: ['example.com'] }), fromHeader()],
      suspendedAccess: 'deny',
    });
    await env.addTenant('acme');
    await env.addTenant('globex');
    await env.addTenant('frozen', { status: 'suspended' });
    await env.addTenant('baking', { status: 'provisioning' });
    app = await harness(kind, env.tenantry);
  });
  afterAll(async () => {
    await app.close();
    await env.close();
  });

  it('serves a tenant named by the header from its own database', async () => {
    const res = await app.request('/notes', { headers: { 'x-tenant-id': 'acme' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tenant: 'acme', source: 'header', markers: ['acme'] });
  });

  it('serves a tenant named by the subdomain', async () => {
    const res = await app.request('/notes', { headers: { host: 'globex.example.com' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tenant: 'globex', markers: ['globex'] });
  });

  it('serves a tenant named by a verified JWT', async () => {
    const res = await app.request('/notes', { headers: { authorization: `Bearer ${await sign({ tenant_id: 'acme' })}` } });
    expect(res.body).toMatchObject({ tenant: 'acme', source: 'jwt', markers: ['acme'] });
  });

  it('accepts a JWT and a subdomain that agree', async () => {
    const res = await app.request('/notes', {
      headers: { host: 'acme.example.com', authorization: `Bearer ${await sign({ tenant_id: 'acme' })}` },
    });
    expect(res.status).toBe(200);
  });

  const refusals: [string, Record<string, string>, TenantryErrorCode][] = [
    ['no tenant at all', {}, 'TENANT_NOT_RESOLVED'],
    ['an invalid tenant id', { 'x-tenant-id': 'ACME;drop' }, 'INVALID_TENANT_ID'],
    ['an unknown tenant', { 'x-tenant-id': 'initech' }, 'TENANT_NOT_FOUND'],
    ['a header and a subdomain that disagree', { host: 'globex.example.com', 'x-tenant-id': 'acme' }, 'TENANT_MISMATCH'],
    ['a garbage token', { authorization: 'Bearer not.a.jwt' }, 'INVALID_TOKEN'],
    ['a suspended tenant', { 'x-tenant-id': 'frozen' }, 'TENANT_SUSPENDED'],
    ['a tenant being provisioned', { 'x-tenant-id': 'baking' }, 'TENANT_UNAVAILABLE'],
  ];
  it.each(refusals)('refuses %s with problem+json before the handler runs', async (_name, headers, code) => {
    const before = app.handlerRuns;
    const res = await app.request('/notes', { headers });
    expect(res.status).toBe(ERROR_STATUS[code]);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ code, status: ERROR_STATUS[code], type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
    expect(app.handlerRuns).toBe(before);
  });

  it('refuses a JWT of acme on the globex subdomain', async () => {
    const res = await app.request('/notes', {
      headers: { host: 'globex.example.com', authorization: `Bearer ${await sign({ tenant_id: 'acme' })}` },
    });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('TENANT_MISMATCH');
  });

  it('sends Retry-After for a tenant being provisioned', async () => {
    const res = await app.request('/notes', { headers: { 'x-tenant-id': 'baking' } });
    expect(res.headers.get('retry-after')).toBe('30');
  });

  it('never echoes a token in an error', async () => {
    const token = await sign({ tenant_id: 'acme', extra: 'x'.repeat(20) });
    const forged = `${token.slice(0, -4)}AAAA`;
    const res = await app.request('/notes', { headers: { authorization: `Bearer ${forged}` } });
    expect(res.status).toBe(401);
    expect(JSON.stringify(res.body)).not.toContain(forged.split('.')[1]!);
  });

  it.each(Object.keys(ERROR_STATUS) as TenantryErrorCode[])('maps %s thrown by a handler to its status', async (code) => {
    const res = await app.request(`/throw/${code}`, { headers: { 'x-tenant-id': 'acme' } });
    expect(res.status).toBe(ERROR_STATUS[code]);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe(code);
  });
});

describe.each(['hono', 'express'] as const)('the %s adapter options', (kind) => {
  let env: TestTenantry;
  beforeAll(async () => {
    env = await testTenantry({ resolvers: [fromHeader()] });
    await env.addTenant('acme');
  });
  afterAll(() => env.close());

  it('lets excluded routes through without a tenant', async () => {
    const app = await harness(kind, env.tenantry, { exclude: ['/health'] });
    const res = await app.request('/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true, tenant: null });
    await app.close();
  });

  it('lets tenant-less requests through when optional, and still scopes the others', async () => {
    const app = await harness(kind, env.tenantry, { optional: true });
    expect((await app.request('/whoami')).body).toEqual({ tenant: null });
    expect((await app.request('/whoami', { headers: { 'x-tenant-id': 'acme' } })).body).toEqual({ tenant: 'acme' });
    expect((await app.request('/whoami', { headers: { 'x-tenant-id': 'nope' } })).status).toBe(404);
    await app.close();
  });

  it('rejects bad options when the middleware is created', async () => {
    await expect(harness(kind, env.tenantry, { exclude: ['health'] })).rejects.toThrow(TypeError);
  });
});
