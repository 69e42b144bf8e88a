import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import { fromJwt } from '../src/router/resolvers/index.js';
import { DIRECT } from './helpers/request.js';
import { ANY_ISS_AUD, NOW_MS, NOW_S, bearer, deferred, failure, mentionsToken, signHs256 } from './helpers/jwt.js';

const now = () => NOW_MS;
const identity = (value: string) => ({ kind: 'id', value, source: 'jwt' });

describe('fromJwt with a remote JWKS', () => {
  let server: Server;
  let jwksUrl: string;
  let served = 0;
  let privateKey: CryptoKey;
  let jwk: JWK;
  const signEdDsa = (claims: Record<string, unknown> = {}, kid = 'key-1', key: CryptoKey = privateKey) =>
    new SignJWT({ tenant_id: 'acme', exp: NOW_S + 3600, ...claims }).setProtectedHeader({ alg: 'EdDSA', kid }).sign(key);

  beforeAll(async () => {
    const pair = await generateKeyPair('EdDSA', { extractable: true });
    privateKey = pair.privateKey;
    jwk = { ...(await exportJWK(pair.publicKey)), kid: 'key-1', alg: 'EdDSA', use: 'sig' };
    server = createServer((req, res) => {
      served++;
      if (req.url !== '/.well-known/jwks.json') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('verifies an EdDSA token with a key fetched from a local JWKS server', async () => {
    const resolver = fromJwt({ ...ANY_ISS_AUD, jwksUrl, algorithms: ['EdDSA'], now });
    const before = served;
    expect(await resolver.resolve(bearer(await signEdDsa()), DIRECT)).toEqual(identity('acme'));
    expect(await resolver.resolve(bearer(await signEdDsa({ tenant_id: 'globex' })), DIRECT)).toEqual(identity('globex'));
    expect(served - before).toBe(1);
  });

  it('serves a repeated token from the cache without touching the JWKS', async () => {
    let fetches = 0;
    const resolver = fromJwt({
      ...ANY_ISS_AUD,
      jwksUrl: new URL(jwksUrl),
      now,
      fetch: async (...args: Parameters<typeof fetch>) => {
        fetches++;
        return fetch(...args);
      },
    });
    const token = await signEdDsa();
    expect(await resolver.resolve(bearer(token), DIRECT)).toEqual(identity('acme'));
    expect(resolver.resolve(bearer(token), DIRECT)).toEqual(identity('acme'));
    expect(fetches).toBe(1);
  });

  it('rejects a token whose kid is not in the set, or signed by another key', async () => {
    const resolver = fromJwt({ ...ANY_ISS_AUD, jwksUrl, now });
    const other = await generateKeyPair('EdDSA');
    for (const token of [await signEdDsa({}, 'key-2', other.privateKey), await signEdDsa({}, 'key-1', other.privateKey)]) {
      const err = await failure(() => resolver.resolve(bearer(token), DIRECT));
      expect(err.code).toBe('INVALID_TOKEN');
      expect(mentionsToken(err, token)).toBe(false);
    }
  });

  it('never accepts an HS256 token against a JWKS', async () => {
    const resolver = fromJwt({ ...ANY_ISS_AUD, jwksUrl, now });
    const forged = await signHs256({}, new TextEncoder().encode(JSON.stringify(jwk)));
    expect((await failure(() => resolver.resolve(bearer(forged), DIRECT))).code).toBe('INVALID_TOKEN');
  });

  it('reports a JWKS that cannot be fetched as TENANT_UNAVAILABLE, not as a bad token', async () => {
    const token = await signEdDsa();
    const failing = [
      async () => new Response('oops', { status: 500 }),
      async () => new Response('not json', { status: 200 }),
      async () => {
        throw new TypeError('fetch failed');
      },
    ];
    for (const fetchImpl of failing) {
      const resolver = fromJwt({ ...ANY_ISS_AUD, jwksUrl, now, fetch: fetchImpl });
      const err = await failure(() => resolver.resolve(bearer(token), DIRECT));
      expect(err.code).toBe('TENANT_UNAVAILABLE');
      expect(err.cause).toBeDefined();
      expect(mentionsToken(err, token)).toBe(false);
    }
    const unreachable = fromJwt({ ...ANY_ISS_AUD, jwksUrl: 'http://127.0.0.1:1/jwks.json', now });
    expect((await failure(() => unreachable.resolve(bearer(token), DIRECT))).code).toBe('TENANT_UNAVAILABLE');
  });

  it('reports every failure of the JWKS request as TENANT_UNAVAILABLE, keeping what the fetch threw', async () => {
    const token = await signEdDsa();
    const thrownByFetch: unknown[] = [
      new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
      new DOMException('This operation was aborted', 'AbortError'),
      new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }),
      new Error('a bug in a custom fetch'),
    ];
    for (const thrown of thrownByFetch) {
      const resolver = fromJwt({
        ...ANY_ISS_AUD,
        jwksUrl,
        now,
        fetch: async () => {
          throw thrown;
        },
      });
      const err = await failure(() => resolver.resolve(bearer(token), DIRECT));
      expect(err.code, String(thrown)).toBe('TENANT_UNAVAILABLE');
      expect((err as { status?: number }).status).toBe(503);
      expect((err.cause as { cause?: unknown }).cause).toBe(thrown);
    }
    const answers: (() => unknown)[] = [
      () => new Response(null, { status: 302, headers: { location: 'https://elsewhere.example.com/' } }),
      () => new Response(JSON.stringify({ keys: [jwk] }), { status: 404 }),
      () => new Response(JSON.stringify({ keys: 'none' }), { status: 200 }), // JSON, not a JWK Set: ERR_JWKS_INVALID
      () => new Response('{"keys": [', { status: 200 }),
      () => undefined, // a custom fetch that resolves to no Response at all
    ];
    for (const answer of answers) {
      const resolver = fromJwt({ ...ANY_ISS_AUD, jwksUrl, now, fetch: async () => answer() as Response });
      expect((await failure(() => resolver.resolve(bearer(token), DIRECT))).code).toBe('TENANT_UNAVAILABLE');
    }
  });

  it('reports a malformed token as INVALID_TOKEN even while the JWKS is down, without fetching it', async () => {
    let fetches = 0;
    const resolver = fromJwt({
      ...ANY_ISS_AUD,
      jwksUrl,
      now,
      fetch: async () => {
        fetches++;
        throw new TypeError('fetch failed');
      },
    });
    const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
    const malformed = [
      'not-a-jwt',
      `${b64('not json')}.${b64({ tenant_id: 'acme' })}.c2lnbmF0dXJl`,
      `${b64({ kid: 'key-1' })}.${b64({ tenant_id: 'acme' })}.c2lnbmF0dXJl`, // no alg
      `${b64({ alg: 'EdDSA', kid: 'key-1', crit: ['x'] })}.${b64({ tenant_id: 'acme' })}.c2lnbmF0dXJl`,
      await signHs256(), // alg not allowed with a JWKS
    ];
    for (const token of malformed) {
      const err = await failure(() => resolver.resolve(bearer(token), DIRECT));
      expect(err.code, token).toBe('INVALID_TOKEN');
    }
    expect(fetches).toBe(0);
  });

  it('reports an unknown kid as INVALID_TOKEN, not as an outage, without fetching the JWKS again during the cooldown', async () => {
    let fetches = 0;
    const resolver = fromJwt({
      ...ANY_ISS_AUD,
      jwksUrl,
      now,
      fetch: async (...args: Parameters<typeof fetch>) => {
        fetches++;
        return fetch(...args);
      },
    });
    const other = await generateKeyPair('EdDSA');
    const unknownKid = await signEdDsa({}, 'key-2', other.privateKey);
    const err = await failure(() => resolver.resolve(bearer(unknownKid), DIRECT));
    expect(err.code).toBe('INVALID_TOKEN');
    expect((err.cause as { code?: string }).code).toBe('ERR_JWKS_NO_MATCHING_KEY');
    expect(await resolver.resolve(bearer(await signEdDsa()), DIRECT)).toEqual(identity('acme'));
    expect(fetches).toBe(1);
  });

  it('reports an error that did not come from the JWKS request as INVALID_TOKEN (not every non-jose error is an outage)', async () => {
    // The set is fetched fine, but the key named by the token cannot be imported: WebCrypto throws
    // a DOMException (DataError) that jose passes through. Not a retrieval failure, so 401.
    const broken = { kty: 'OKP', crv: 'Ed25519', x: 'AAAA', kid: 'broken' };
    const resolver = fromJwt({ ...ANY_ISS_AUD, jwksUrl, now, fetch: async () => Response.json({ keys: [jwk, broken] }) });
    const brokenKid = await signEdDsa({}, 'broken');
    const err = await failure(() => resolver.resolve(bearer(brokenKid), DIRECT));
    expect(err.cause).toBeInstanceOf(DOMException);
    expect(err.code).toBe('INVALID_TOKEN');
    expect(await resolver.resolve(bearer(await signEdDsa()), DIRECT)).toEqual(identity('acme'));
  });

  it('verifies a token once when concurrent requests find the cache cold (single flight)', async () => {
    let fetches = 0;
    const release = deferred<void>();
    let clockReads = 0;
    const resolver = fromJwt({
      ...ANY_ISS_AUD,
      jwksUrl,
      now: () => {
        clockReads++;
        return NOW_MS;
      },
      fetch: async (...args: Parameters<typeof fetch>) => {
        fetches++;
        await release.promise;
        return fetch(...args);
      },
    });
    const token = await signEdDsa();
    const pending = Array.from({ length: 10 }, () => resolver.resolve(bearer(token), DIRECT));
    // Each verification reads the clock once; concurrent requests for one token share one.
    expect(clockReads).toBe(1);
    expect(new Set(pending).size).toBe(1);
    release.resolve();
    const results = await Promise.all(pending);
    expect(results.every((result) => result === results[0])).toBe(true);
    expect(results[0]).toEqual(identity('acme'));
    expect(fetches).toBe(1);
    expect(clockReads).toBe(1);
    expect(resolver.resolve(bearer(token), DIRECT)).toBe(results[0]);
  });

  it('gives concurrent waiters the same JWKS failure, and tries again on the next request', async () => {
    let fetches = 0;
    let gate = deferred<void>();
    const resolver = fromJwt({
      ...ANY_ISS_AUD,
      jwksUrl,
      now,
      fetch: async (...args: Parameters<typeof fetch>) => {
        fetches++;
        await gate.promise;
        return fetch(...args);
      },
    });
    const token = await signEdDsa();
    const pending = Array.from({ length: 5 }, () => resolver.resolve(bearer(token), DIRECT));
    expect(new Set(pending).size).toBe(1);
    gate.reject(new TypeError('fetch failed'));
    const errors = await Promise.all(pending.map((p) => failure(() => p)));
    expect(errors.every((err) => err === errors[0])).toBe(true);
    expect(errors[0]!.code).toBe('TENANT_UNAVAILABLE');
    expect(fetches).toBe(1);

    // The failure was not kept: the next request verifies (and fetches) again, and succeeds.
    gate = deferred<void>();
    gate.resolve();
    const retry = resolver.resolve(bearer(token), DIRECT);
    expect(pending).not.toContain(retry);
    expect(await retry).toEqual(identity('acme'));
    expect(fetches).toBe(2);
  });
});
