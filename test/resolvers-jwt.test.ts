import { beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportSPKI, generateKeyPair } from 'jose';
import type { CryptoKey } from 'jose';
import { createPublicKey } from 'node:crypto';
import { fromJwt } from '../src/router/resolvers/index.js';
import type { TenantResolver } from '../src/router/types.js';
import { TenantryError } from '../src/errors/index.js';
import { DIRECT, thrown, withHeaders } from './helpers/request.js';
import { ANY_ISS_AUD, NOW_MS, NOW_S, SECRET, SECRET_BYTES, bearer, failure, mentionsToken, resolveAsync, signHs256, unsignedToken } from './helpers/jwt.js';

const now = () => NOW_MS;
const identity = (value: string) => ({ kind: 'id', value, source: 'jwt' });

async function expectRejected(resolver: TenantResolver, token: string, code: string): Promise<void> {
  const err = await failure(() => resolver.resolve(bearer(token), DIRECT));
  expect(err.code).toBe(code);
  expect(mentionsToken(err, token)).toBe(false);
}

describe('fromJwt with an HS256 secret', () => {
  const resolver = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, now, cacheSize: 0 });

  it('resolves the tenant_id claim of a valid token', async () => {
    const result = resolver.resolve(bearer(await signHs256()), DIRECT);
    expect(result).toBeInstanceOf(Promise);
    expect(await result).toEqual(identity('acme'));
  });

  it('requires a token by default: no authorization header is INVALID_TOKEN, thrown synchronously', () => {
    const err = thrown(() => resolver.resolve(withHeaders({ 'x-tenant-id': 'acme' }), DIRECT));
    expect(err).toBeInstanceOf(TenantryError);
    expect(err).toMatchObject({ code: 'INVALID_TOKEN', status: 401, message: 'a bearer token is required' });
    expect(thrown(() => fromJwt({ ...ANY_ISS_AUD, secret: SECRET, required: true }).resolve(withHeaders({}), DIRECT)).code).toBe(
      'INVALID_TOKEN',
    );
  });

  it('resolves nothing without an authorization header with required: false, and still checks a token that is there', async () => {
    const optional = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, required: false, now });
    expect(optional.resolve(withHeaders({ 'x-tenant-id': 'acme' }), DIRECT)).toBeUndefined();
    expect(await optional.resolve(bearer(await signHs256()), DIRECT)).toEqual(identity('acme'));
    await expectRejected(optional, await signHs256({ exp: NOW_S - 1 }), 'INVALID_TOKEN');
    expect(thrown(() => optional.resolve(withHeaders({ authorization: '' }), DIRECT)).code).toBe('INVALID_TOKEN');
  });

  it('accepts the Bearer scheme in any case and a secret given as bytes', async () => {
    const token = await signHs256();
    const bytes = fromJwt({ ...ANY_ISS_AUD, secret: SECRET_BYTES, now });
    expect(await bytes.resolve(withHeaders({ authorization: `bEaReR   ${token}` }), DIRECT)).toEqual(identity('acme'));
  });

  it('reads a custom claim', async () => {
    const custom = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, claim: 'org', now });
    expect(await custom.resolve(bearer(await signHs256({ org: 'globex' })), DIRECT)).toEqual(identity('globex'));
  });

  it('reads a custom header, with or without the Bearer scheme', async () => {
    const custom = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, header: 'X-Access-Token', now });
    const token = await signHs256();
    expect(await custom.resolve(withHeaders({ 'x-access-token': token }), DIRECT)).toEqual(identity('acme'));
    expect(await custom.resolve(withHeaders({ 'x-access-token': `Bearer ${token}` }), DIRECT)).toEqual(identity('acme'));
    expect(thrown(() => custom.resolve(bearer(token), DIRECT)).code).toBe('INVALID_TOKEN');
    const optional = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, header: 'X-Access-Token', required: false, now });
    expect(optional.resolve(bearer(token), DIRECT)).toBeUndefined();
  });

  it('checks the issuer and the audience', async () => {
    const strict = fromJwt({ secret: SECRET, issuer: ['https://auth.example.com/'], audience: 'api', now });
    const good = await signHs256({ iss: 'https://auth.example.com/', aud: ['api', 'web'] });
    expect(await strict.resolve(bearer(good), DIRECT)).toEqual(identity('acme'));
    await expectRejected(strict, await signHs256({ iss: 'https://evil.example.com/', aud: 'api' }), 'INVALID_TOKEN');
    await expectRejected(strict, await signHs256({ iss: 'https://auth.example.com/', aud: 'other' }), 'INVALID_TOKEN');
    await expectRejected(strict, await signHs256({ aud: 'api' }), 'INVALID_TOKEN');
  });

  it('checks only what is not turned off with false', async () => {
    const issuerOnly = fromJwt({ secret: SECRET, issuer: 'https://auth.example.com/', audience: false, now, cacheSize: 0 });
    expect(await issuerOnly.resolve(bearer(await signHs256({ iss: 'https://auth.example.com/', aud: 'anything' })), DIRECT)).toEqual(
      identity('acme'),
    );
    expect(await issuerOnly.resolve(bearer(await signHs256({ iss: 'https://auth.example.com/' })), DIRECT)).toEqual(identity('acme'));
    await expectRejected(issuerOnly, await signHs256({ iss: 'https://evil.example.com/' }), 'INVALID_TOKEN');

    const audienceOnly = fromJwt({ secret: SECRET, issuer: false, audience: ['api'], now, cacheSize: 0 });
    expect(await audienceOnly.resolve(bearer(await signHs256({ iss: 'https://whoever.example.com/', aud: 'api' })), DIRECT)).toEqual(
      identity('acme'),
    );
    await expectRejected(audienceOnly, await signHs256({ iss: 'https://whoever.example.com/' }), 'INVALID_TOKEN');

    const neither = fromJwt({ secret: SECRET, issuer: false, audience: false, now, cacheSize: 0 });
    expect(await neither.resolve(bearer(await signHs256({ iss: 'x', aud: 'y' })), DIRECT)).toEqual(identity('acme'));
  });

  it('rejects a token signed with another secret', async () => {
    await expectRejected(resolver, await signHs256({}, new TextEncoder().encode('another-secret-of-at-least-32-bytes!!')), 'INVALID_TOKEN');
  });

  it('rejects a tampered payload', async () => {
    const [header, , signature] = (await signHs256()).split('.');
    const [, payload] = (await signHs256({ tenant_id: 'globex' }, new TextEncoder().encode('x'.repeat(32)))).split('.');
    await expectRejected(resolver, `${header}.${payload}.${signature}`, 'INVALID_TOKEN');
  });

  it('rejects an unsigned alg:none token, with or without a signature part', async () => {
    await expectRejected(resolver, unsignedToken(), 'INVALID_TOKEN');
    await expectRejected(resolver, unsignedToken({}, 'c2lnbmF0dXJlLWJ5dGVz'), 'INVALID_TOKEN');
  });

  it('rejects an algorithm that is not pinned, even with the right secret', async () => {
    await expectRejected(resolver, await signHs256({}, SECRET_BYTES, 'HS512'), 'INVALID_TOKEN');
  });

  it('rejects an expired token and one not valid yet', async () => {
    await expectRejected(resolver, await signHs256({ exp: NOW_S - 1 }), 'INVALID_TOKEN');
    await expectRejected(resolver, await signHs256({ exp: NOW_S }), 'INVALID_TOKEN');
    await expectRejected(resolver, await signHs256({ nbf: NOW_S + 60 }), 'INVALID_TOKEN');
  });

  it('applies clockToleranceSeconds to exp and nbf', async () => {
    const lenient = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, clockToleranceSeconds: 30, now, cacheSize: 0 });
    expect(await lenient.resolve(bearer(await signHs256({ exp: NOW_S - 10 })), DIRECT)).toEqual(identity('acme'));
    expect(await lenient.resolve(bearer(await signHs256({ nbf: NOW_S + 10 })), DIRECT)).toEqual(identity('acme'));
    await expectRejected(lenient, await signHs256({ exp: NOW_S - 30 }), 'INVALID_TOKEN');
  });

  it('requires exp by default, and accepts a token without exp when requireExp is false', async () => {
    const noExp = await signHs256({ exp: undefined });
    await expectRejected(resolver, noExp, 'INVALID_TOKEN');
    expect(await fromJwt({ ...ANY_ISS_AUD, secret: SECRET, requireExp: false, now }).resolve(bearer(noExp), DIRECT)).toEqual(identity('acme'));
  });

  it('rejects a missing or non-string claim with INVALID_TOKEN', async () => {
    await expectRejected(resolver, await signHs256({ tenant_id: undefined }), 'INVALID_TOKEN');
    await expectRejected(resolver, await signHs256({ tenant_id: 42 }), 'INVALID_TOKEN');
    await expectRejected(resolver, await signHs256({ tenant_id: ['acme'] }), 'INVALID_TOKEN');
  });

  it('rejects a claim that is not a valid tenant id with INVALID_TENANT_ID', async () => {
    await expectRejected(resolver, await signHs256({ tenant_id: 'Acme' }), 'INVALID_TENANT_ID');
    await expectRejected(resolver, await signHs256({ tenant_id: '../globex' }), 'INVALID_TENANT_ID');
    await expectRejected(resolver, await signHs256({ tenant_id: '' }), 'INVALID_TENANT_ID');
  });

  it('rejects a header that is not "Bearer <token>", synchronously', async () => {
    const token = await signHs256();
    for (const value of [token, `Basic ${token}`, `Bearer`, `Bearer `, `Bearer${token}`, `Token ${token}`, '']) {
      const err = await failure(() => resolver.resolve(withHeaders({ authorization: value }), DIRECT));
      expect(err.code, value).toBe('INVALID_TOKEN');
      expect(mentionsToken(err, token)).toBe(false);
    }
  });

  it('rejects garbage and a huge token without verifying it', async () => {
    for (const garbage of ['not-a-jwt', 'a.b', 'a.b.c.d', 'a..c', 'ey J.x.y', '\u0430.b.c', '{"alg":"none"}.e30.']) {
      expect(() => resolver.resolve(bearer(garbage), DIRECT), garbage).toThrow(expect.objectContaining({ code: 'INVALID_TOKEN' }));
    }
    const huge = `${'a'.repeat(10_000)}.${'b'.repeat(10_000)}.c`;
    const err = await failure(() => resolver.resolve(bearer(huge), DIRECT));
    expect(err.code).toBe('INVALID_TOKEN');
    expect(err.message.length).toBeLessThan(200);
    const capped = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, maxTokenLength: 64, now });
    await expectRejected(capped, await signHs256(), 'INVALID_TOKEN');
  });

  it('keeps the jose error as the cause', async () => {
    const err = await failure(() => resolver.resolve(bearer(unsignedToken({}, 'c2ln')), DIRECT));
    expect(err.cause).toBeInstanceOf(Error);
    expect((err.cause as { code?: string }).code).toBe('ERR_JOSE_ALG_NOT_ALLOWED');
  });
});

describe('fromJwt with an RS256 public key', () => {
  let privateKey: CryptoKey;
  let publicKey: CryptoKey;
  let pem: string;
  let resolver: TenantResolver;
  const signRs256 = (claims: Record<string, unknown> = {}) =>
    new SignJWT({ tenant_id: 'acme', exp: NOW_S + 3600, ...claims }).setProtectedHeader({ alg: 'RS256' }).sign(privateKey);

  beforeAll(async () => {
    ({ privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true }));
    pem = await exportSPKI(publicKey);
    resolver = fromJwt({ ...ANY_ISS_AUD, publicKey: pem, algorithms: ['RS256'], now, cacheSize: 0 });
  });

  it('verifies a token against a PEM SPKI key', async () => {
    expect(await resolveAsync(resolver, bearer(await signRs256()))).toEqual(identity('acme'));
    expect(await resolveAsync(resolver, bearer(await signRs256({ tenant_id: 'globex' })))).toEqual(identity('globex'));
  });

  it('verifies a token against a CryptoKey and a KeyObject', async () => {
    const token = await signRs256();
    expect(await resolveAsync(fromJwt({ ...ANY_ISS_AUD, publicKey, now }), bearer(token))).toEqual(identity('acme'));
    expect(await resolveAsync(fromJwt({ ...ANY_ISS_AUD, publicKey: createPublicKey(pem), now }), bearer(token))).toEqual(identity('acme'));
  });

  it('rejects an HS256 token signed with the public key PEM as its secret (key confusion)', async () => {
    const forged = await new SignJWT({ tenant_id: 'globex', exp: NOW_S + 3600 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(pem));
    await expectRejected(resolver, forged, 'INVALID_TOKEN');
    await expectRejected(fromJwt({ ...ANY_ISS_AUD, publicKey: pem, now }), forged, 'INVALID_TOKEN');
  });

  it('rejects a token signed by another key', async () => {
    const other = await generateKeyPair('RS256');
    const token = await new SignJWT({ tenant_id: 'acme', exp: NOW_S + 3600 }).setProtectedHeader({ alg: 'RS256' }).sign(other.privateKey);
    await expectRejected(resolver, token, 'INVALID_TOKEN');
  });

  it('rejects an allowed algorithm the key cannot verify', async () => {
    const ec = await generateKeyPair('ES256');
    const token = await new SignJWT({ tenant_id: 'acme', exp: NOW_S + 3600 }).setProtectedHeader({ alg: 'ES256' }).sign(ec.privateKey);
    await expectRejected(fromJwt({ ...ANY_ISS_AUD, publicKey: pem, now }), token, 'INVALID_TOKEN');
  });

  it('rejects alg:none and expired tokens', async () => {
    await expectRejected(resolver, unsignedToken(), 'INVALID_TOKEN');
    await expectRejected(resolver, await signRs256({ exp: NOW_S - 60 }), 'INVALID_TOKEN');
  });
});
