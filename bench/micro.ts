/**
 * In-process micro-benchmarks (no HTTP), run by bench/run.ts before the server rounds:
 *
 * - scenario 4: `fromJwt()`'s verified-token cache (a repeated token) against jose's
 *   `jwtVerify` on the same token, uncached;
 * - scenario 5: Hono `app.request()` bare against `tenancy(fromHeader())`.
 *
 * Figures are wall-clock nanoseconds per call from `process.hrtime.bigint()`, alternating the
 * two sides sample by sample; the medians of the samples are reported.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { jwtVerify } from 'jose';
import { createTenantry, fromHeader, fromJwt, getTenantClient, memoryRegistry } from '../dist/index.js';
import type { RequestView, ResolverEnv, TenantIdentity } from '../dist/index.js';
import { tenancy } from '../dist/hono.js';

/** The JSON the bench servers answer (kept equal to bench/servers/harness.mjs). */
const NOTES = Object.freeze({ notes: [{ id: 1, text: 'ship the rocket skates' }] });

export interface JwtMaterial {
  secret: string;
  token: string;
  issuer: string;
  audience: string;
}

export interface JwtCacheResult {
  /** ns per `resolver.resolve()` on a cached token, one figure per sample. */
  hitNs: number[];
  /**
   * ns per cache hit when the header value is a fresh string each call, as an HTTP parser hands
   * it over (a fresh string has no cached hash, so the LRU lookup hashes the whole token); the
   * figure includes making the string from bytes.
   */
  hitFreshNs: number[];
  /** ns per jose `jwtVerify()` of the same token, one figure per sample. */
  joseNs: number[];
  /** ns per `resolver.resolve()` with `cacheSize: 0` (every call verifies), per sample. */
  uncachedResolverNs: number[];
  /** Whether a cache hit returned synchronously (not a promise). */
  hitIsSynchronous: boolean;
  iterations: { hit: number; jose: number };
}

export interface AppRequestResult {
  bareNs: number[];
  tenancyNs: number[];
  iterations: number;
}

/** Keeps results observable so the loops cannot be optimised away. */
let sink = 0;

export function sinkValue(): number {
  return sink;
}

function nsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start);
}

/**
 * Scenario 4. `hitIterations` synchronous cache hits per sample, `joseIterations` jose
 * verifications per sample, `samples` samples of each, alternating.
 */
export async function benchJwtCache(
  jwt: JwtMaterial,
  opts: { hitIterations: number; joseIterations: number; samples: number },
): Promise<JwtCacheResult> {
  const verifyOptions = { algorithms: ['HS256'], issuer: jwt.issuer, audience: jwt.audience };
  const resolver = fromJwt({ secret: jwt.secret, algorithms: ['HS256'], issuer: jwt.issuer, audience: jwt.audience });
  const uncached = fromJwt({ secret: jwt.secret, algorithms: ['HS256'], issuer: jwt.issuer, audience: jwt.audience, cacheSize: 0 });
  // The same key material fromJwt hands to jose: the secret's UTF-8 bytes.
  const key = new TextEncoder().encode(jwt.secret);
  const headers: Record<string, string> = { authorization: `Bearer ${jwt.token}` };
  const view: RequestView = { method: 'GET', path: '/', header: (name) => headers[name] };
  const env: ResolverEnv = { trustProxy: false };

  // The first call verifies (a promise) and fills the cache; the next ones are hits.
  const first = await resolver.resolve(view, env);
  if (first?.value !== 'acme') throw new Error(`micro: fromJwt resolved ${JSON.stringify(first)} instead of tenant acme`);
  const probe = resolver.resolve(view, env);
  const hitIsSynchronous = !(probe instanceof Promise);
  if ((await probe)?.value !== 'acme') throw new Error('micro: the cached fromJwt lookup did not resolve tenant acme');
  const joseCheck = await jwtVerify(jwt.token, key, verifyOptions);
  if (joseCheck.payload['tenant_id'] !== 'acme') throw new Error('micro: jose did not verify the bench token');

  const headerBytes = Buffer.from(headers['authorization']!, 'latin1');
  const freshHeaders = (name: string): string | undefined => (name === 'authorization' ? headerBytes.toString('latin1') : undefined);
  const freshView: RequestView = { method: 'GET', path: '/', header: freshHeaders };
  /** `n` calls of the cached resolver on `v`: synchronous when hits are, awaited otherwise. */
  const hitLoop = hitIsSynchronous
    ? async (v: RequestView, n: number): Promise<number> => {
        const start = process.hrtime.bigint();
        for (let i = 0; i < n; i++) {
          const identity = resolver.resolve(v, env) as TenantIdentity;
          sink += identity.value.length;
        }
        return nsSince(start) / n;
      }
    : async (v: RequestView, n: number): Promise<number> => {
        const start = process.hrtime.bigint();
        for (let i = 0; i < n; i++) {
          const identity = await resolver.resolve(v, env);
          sink += identity?.value.length ?? 0;
        }
        return nsSince(start) / n;
      };
  const hitOnce = (n: number): Promise<number> => hitLoop(view, n);
  const hitFreshOnce = (n: number): Promise<number> => hitLoop(freshView, n);
  const joseOnce = async (n: number): Promise<number> => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const { payload } = await jwtVerify(jwt.token, key, verifyOptions);
      sink += typeof payload['tenant_id'] === 'string' ? 1 : 0;
    }
    return nsSince(start) / n;
  };
  const uncachedOnce = async (n: number): Promise<number> => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const identity = await uncached.resolve(view, env);
      sink += identity?.value.length ?? 0;
    }
    return nsSince(start) / n;
  };

  // Warm-up (JIT) of every path.
  await hitOnce(Math.min(opts.hitIterations, 20_000));
  await hitFreshOnce(Math.min(opts.hitIterations, 20_000));
  await joseOnce(Math.min(opts.joseIterations, 500));
  await uncachedOnce(Math.min(opts.joseIterations, 500));

  const result: JwtCacheResult = {
    hitNs: [],
    hitFreshNs: [],
    joseNs: [],
    uncachedResolverNs: [],
    hitIsSynchronous,
    iterations: { hit: opts.hitIterations, jose: opts.joseIterations },
  };
  for (let s = 0; s < opts.samples; s++) {
    result.hitNs.push(await hitOnce(opts.hitIterations));
    result.hitFreshNs.push(await hitFreshOnce(opts.hitIterations));
    result.joseNs.push(await joseOnce(opts.joseIterations));
    result.uncachedResolverNs.push(await uncachedOnce(opts.joseIterations));
  }
  return result;
}

/**
 * Scenario 5 (orientation). `iterations` `app.request()` calls per sample for each app,
 * `samples` samples, alternating bare and tenancy.
 */
export async function benchAppRequest(opts: { iterations: number; samples: number }): Promise<AppRequestResult> {
  const folder = mkdtempSync(join(tmpdir(), 'tenantry-bench-micro-'));
  const tenantry = createTenantry({
    resolvers: [fromHeader()],
    registry: memoryRegistry([{ id: 'acme' }]),
    databases: { urlTemplate: `file:${folder}/{tenant}.db` },
  });
  try {
    const bare = new Hono();
    bare.get('/notes', async (c) => c.json(NOTES));
    const tenant = new Hono();
    tenant.use('*', tenancy(tenantry));
    tenant.get('/notes', async (c) => {
      await getTenantClient();
      return c.json(NOTES);
    });
    const init = { headers: { 'x-tenant-id': 'acme' } };

    const once = async (app: Hono, n: number): Promise<number> => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        const res = await app.request('/notes', init);
        if (res.status !== 200) throw new Error(`micro: app.request answered ${res.status}: ${await res.text()}`);
        sink += res.status;
      }
      return nsSince(start) / n;
    };

    const warm = Math.min(opts.iterations, 5_000);
    await once(bare, warm);
    await once(tenant, warm);
    const result: AppRequestResult = { bareNs: [], tenancyNs: [], iterations: opts.iterations };
    for (let s = 0; s < opts.samples; s++) {
      // Alternate which side goes first, so slow drift of the machine is shared.
      if (s % 2 === 0) {
        result.bareNs.push(await once(bare, opts.iterations));
        result.tenancyNs.push(await once(tenant, opts.iterations));
      } else {
        result.tenancyNs.push(await once(tenant, opts.iterations));
        result.bareNs.push(await once(bare, opts.iterations));
      }
    }
    return result;
  } finally {
    await tenantry.close();
    rmSync(folder, { recursive: true, force: true });
  }
}
