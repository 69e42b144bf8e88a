/**
 * Isolation under load, across every adapter at once: 100 tenants (each database holds one
 * marker row naming its tenant), 20,000 requests interleaved with random small delays through
 * Hono, Express, Fastify and the fetch handler of one tenantry instance, each request naming its
 * tenant by a different means (JWT claim, subdomain, path, header). The pool is smaller than the
 * number of tenants, so clients are evicted and reopened under the running requests.
 *
 * test/context-isolation.test.ts covers one adapter pair with the header resolver; this file is
 * the cross-adapter, cross-resolver one. It runs the full count everywhere (about 8 s here),
 * also under `CI=true` and in `npm run test:soak`.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHeader, fromJwt, fromPath, fromSubdomain } from '../src/index.js';
import { ADAPTERS, harness } from './helpers/adapters.js';
import type { AdapterKind, Answer, Harness } from './helpers/adapters.js';
import { testTenantry } from './helpers/env.js';
import type { TestTenantry } from './helpers/env.js';
import { randomDelay, runConcurrently } from './helpers/security.js';

const TENANTS = Array.from({ length: 100 }, (_, i) => {
  const n = String(i).padStart(3, '0');
  return { id: `iso-${n}`, slug: `org-${n}` };
});
/** The full count: it takes well under the 20 s that would justify a smaller one under `CI=true`. */
const COUNT = 20_000;
const CONCURRENCY = 256;
const SECRET = 'isolation-test-secret-0123456789abcdef';
const ISSUER = 'https://issuer.isolation.test';

type Means = 'jwt' | 'subdomain' | 'path' | 'header';
const MEANS: Means[] = ['jwt', 'subdomain', 'path', 'header'];

describe('isolation under load across adapters and resolvers', () => {
  let env: TestTenantry;
  const apps = new Map<AdapterKind, Harness>();
  const tokens = new Map<string, string>();

  beforeAll(async () => {
    env = await testTenantry({
      resolvers: [
        fromJwt({ secret: SECRET, issuer: ISSUER, audience: 'api', required: false }),
        fromSubdomain({ baseDomains: ['app.isolation.test'] }),
        fromPath({ prefix: '/t' }),
        fromHeader(),
      ],
      // fewer clients than tenants: evictions and reopening happen under the running requests
      databases: { maxClients: 90 },
    });
    const exp = Math.floor(Date.now() / 1000) + 3600;
    for (const { id, slug } of TENANTS) {
      await env.addTenant(id, { slug });
      tokens.set(
        id,
        await new SignJWT({ tenant_id: id }).setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setAudience('api').setExpirationTime(exp).sign(new TextEncoder().encode(SECRET)),
      );
    }
    for (const kind of ADAPTERS) apps.set(kind, await harness(kind, env.tenantry));
  }, 120_000);

  afterAll(async () => {
    for (const app of apps.values()) await app.close();
    await env?.close();
  });

  function send(kind: AdapterKind, tenant: (typeof TENANTS)[number], means: Means): Promise<Answer> {
    const app = apps.get(kind)!;
    switch (means) {
      case 'jwt':
        return app.request('/notes', { headers: { authorization: `Bearer ${tokens.get(tenant.id)!}` } });
      case 'subdomain':
        return app.request('/notes', { headers: { host: `${tenant.slug}.app.isolation.test` } });
      case 'path':
        return app.request(`/t/${tenant.id}/notes`);
      case 'header':
        return app.request('/notes', { headers: { 'x-tenant-id': tenant.id } });
    }
  }

  it(`serves ${COUNT.toLocaleString('en')} interleaved requests of 100 tenants through 4 adapters, each with only its own tenant's rows`, async () => {
    const started = Date.now();
    const results = await runConcurrently(COUNT, CONCURRENCY, async (i) => {
      const kind = ADAPTERS[i % ADAPTERS.length]!;
      const means = MEANS[Math.floor(Math.random() * MEANS.length)]!;
      const tenant = TENANTS[Math.floor(Math.random() * TENANTS.length)]!;
      await randomDelay(2);
      const res = await send(kind, tenant, means);
      return { kind, means, tenant: tenant.id, res };
    });
    const elapsedMs = Date.now() - started;

    const wrong = results
      .filter(({ tenant, means, res }) => {
        const body = res.body as { tenant?: unknown; source?: unknown; markers?: unknown };
        return res.status !== 200 || body.tenant !== tenant || body.source !== means || JSON.stringify(body.markers) !== JSON.stringify([tenant]);
      })
      .slice(0, 5)
      .map(({ kind, means, tenant, res }) => ({ kind, means, tenant, status: res.status, body: res.body }));
    expect(wrong).toEqual([]);

    // every request had its own scope, and every adapter and means was exercised evenly
    expect(new Set(results.map(({ res }) => (res.body as { requestId: string }).requestId)).size).toBe(COUNT);
    for (const kind of ADAPTERS) expect(results.filter((r) => r.kind === kind).length).toBe(COUNT / ADAPTERS.length);
    for (const means of MEANS) expect(results.filter((r) => r.means === means).length).toBeGreaterThan(COUNT / 8);
    // the pool stayed bounded while evicting: more opens than slots
    const { pool } = env.tenantry.stats();
    expect(pool.size).toBeLessThanOrEqual(90);
    expect(pool.leased).toBe(0);
    console.info(`[security-isolation] ${COUNT} requests in ${elapsedMs} ms (${Math.round((COUNT / elapsedMs) * 1000)}/s), pool opens ${pool.opens}, evictions ${pool.evictions}`);
  }, 180_000);
});
