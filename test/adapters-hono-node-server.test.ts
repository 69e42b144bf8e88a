import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHeader, fromSubdomain, getTenant } from '../src/index.js';
import { tenancy } from '../src/middleware/hono.js';
import { testTenantry } from './helpers/env.js';
import type { TestTenantry } from './helpers/env.js';

/** Hono on @hono/node-server, where tenancy() reads headers from the Node request itself. */
describe('the Hono adapter on @hono/node-server', () => {
  let env: TestTenantry;
  let server: ReturnType<typeof serve>;
  let port: number;
  beforeAll(async () => {
    env = await testTenantry({ resolvers: [fromSubdomain({ baseDomains: ['example.com'] }), fromHeader()] });
    await env.addTenant('acme');
    await env.addTenant('globex');
    const app = new Hono();
    app.use('*', tenancy(env.tenantry));
    app.get('/', (c) => c.json({ tenant: getTenant().tenantId, source: getTenant().source }));
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.close();
    await env.close();
  });

  const get = (headers: Record<string, string | string[]>) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', headers }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end();
    });

  it('resolves by subdomain and by header', async () => {
    expect((await get({ host: 'acme.example.com' })).body).toEqual({ tenant: 'acme', source: 'subdomain' });
    expect((await get({ host: 'localhost', 'x-tenant-id': 'globex' })).body).toEqual({ tenant: 'globex', source: 'header' });
  });

  it('refuses a header and a subdomain that disagree', async () => {
    expect((await get({ host: 'acme.example.com', 'x-tenant-id': 'globex' })).body.code).toBe('TENANT_MISMATCH');
  });

  it('refuses a duplicated tenant header instead of picking one', async () => {
    const res = await get({ host: 'localhost', 'x-tenant-id': ['acme', 'globex'] });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_TENANT_ID');
  });

  it('ignores an env binding called incoming that is not a Node request', async () => {
    const app = new Hono<{ Bindings: { incoming: unknown } }>();
    app.use('*', tenancy(env.tenantry));
    app.get('/', (c) => c.text(getTenant().tenantId));
    const res = await app.request('/', { headers: { 'x-tenant-id': 'acme' } }, { incoming: { headers: { 'x-tenant-id': 'globex' } } });
    expect(await res.text()).toBe('acme');
  });
});
