import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import { fromJwt } from '../src/router/resolvers/index.js';
import { DIRECT } from './helpers/request.js';
import { NOW_MS, NOW_S, bearer, failure, mentionsToken, signHs256 } from './helpers/jwt.js';

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
    const resolver = fromJwt({ jwksUrl, algorithms: ['EdDSA'], now });
    const before = served;
    expect(await resolver.resolve(bearer(await signEdDsa()), DIRECT)).toEqual(identity('acme'));
    expect(await resolver.resolve(bearer(await signEdDsa({ tenant_id: 'globex' })), DIRECT)).toEqual(identity('globex'));
    expect(served - before).toBe(1);
  });

  it('serves a repeated token from the cache without touching the JWKS', async () => {
    let fetches = 0;
    const resolver = fromJwt({
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
    const resolver = fromJwt({ jwksUrl, now });
    const other = await generateKeyPair('EdDSA');
    for (const token of [await signEdDsa({}, 'key-2', other.privateKey), await signEdDsa({}, 'key-1', other.privateKey)]) {
      const err = await failure(() => resolver.resolve(bearer(token), DIRECT));
      expect(err.code).toBe('INVALID_TOKEN');
      expect(mentionsToken(err, token)).toBe(false);
    }
  });

  it('never accepts an HS256 token against a JWKS', async () => {
    const resolver = fromJwt({ jwksUrl, now });
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
      const resolver = fromJwt({ jwksUrl, now, fetch: fetchImpl });
      const err = await failure(() => resolver.resolve(bearer(token), DIRECT));
      expect(err.code).toBe('TENANT_UNAVAILABLE');
      expect(err.cause).toBeDefined();
      expect(mentionsToken(err, token)).toBe(false);
    }
    const unreachable = fromJwt({ jwksUrl: 'http://127.0.0.1:1/jwks.json', now });
    expect((await failure(() => unreachable.resolve(bearer(token), DIRECT))).code).toBe('TENANT_UNAVAILABLE');
  });
});
