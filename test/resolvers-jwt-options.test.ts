import { describe, expect, it } from 'vitest';
import { generateKeyPair, generateSecret } from 'jose';
import { fromJwt } from '../src/router/resolvers/index.js';
import type { JwtResolverOptions } from '../src/router/resolvers/index.js';
import { ANY_ISS_AUD, SECRET } from './helpers/jwt.js';

const PEM = '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n';
const JWKS = 'https://auth.example.com/.well-known/jwks.json';

function rejects(options: unknown, pattern: RegExp): void {
  expect(() => fromJwt(options as JwtResolverOptions)).toThrow(TypeError);
  expect(() => fromJwt(options as JwtResolverOptions)).toThrow(pattern);
}

/** Options that decide issuer and audience, plus `extra`. */
const decided = (extra: Record<string, unknown>) => ({ ...ANY_ISS_AUD, ...extra });

describe('fromJwt options', () => {
  it('accepts each kind of key with its default algorithms', () => {
    expect(fromJwt({ ...ANY_ISS_AUD, secret: SECRET }).name).toBe('jwt');
    expect(fromJwt({ ...ANY_ISS_AUD, publicKey: PEM }).name).toBe('jwt');
    expect(fromJwt({ ...ANY_ISS_AUD, jwksUrl: JWKS }).name).toBe('jwt');
    expect(fromJwt({ ...ANY_ISS_AUD, jwksUrl: new URL(JWKS), algorithms: ['ES256', 'PS256'] }).name).toBe('jwt');
  });

  it('requires exactly one of secret, publicKey or jwksUrl', () => {
    rejects({}, /exactly one of secret, publicKey or jwksUrl/);
    rejects(ANY_ISS_AUD, /exactly one of secret, publicKey or jwksUrl/);
    rejects(decided({ secret: SECRET, jwksUrl: JWKS }), /got secret, jwksUrl/);
    rejects(decided({ publicKey: PEM, jwksUrl: JWKS }), /exactly one/);
    rejects(undefined, /options/);
  });

  it('rejects a secret shorter than 32 bytes or of the wrong type', () => {
    rejects(decided({ secret: 'short' }), /secret must be at least 32 bytes/);
    rejects(decided({ secret: new Uint8Array(31) }), /secret/);
    rejects(decided({ secret: 42 }), /secret/);
    expect(fromJwt({ ...ANY_ISS_AUD, secret: new Uint8Array(32) }).name).toBe('jwt');
  });

  it("never accepts 'none'", () => {
    rejects(decided({ secret: SECRET, algorithms: ['none'] }), /none/);
    rejects(decided({ jwksUrl: JWKS, algorithms: ['RS256', 'None'] }), /none/);
  });

  it('rejects HMAC algorithms with a public key or a JWKS (HS/RS confusion)', () => {
    rejects(decided({ publicKey: PEM, algorithms: ['RS256', 'HS256'] }), /algorithms: HS256 needs a secret/);
    rejects(decided({ jwksUrl: JWKS, algorithms: ['HS512'] }), /HS512/);
  });

  it('rejects asymmetric algorithms with a secret, unknown and empty algorithm lists', () => {
    rejects(decided({ secret: SECRET, algorithms: ['RS256'] }), /algorithms: RS256 needs publicKey or jwksUrl/);
    rejects(decided({ secret: SECRET, algorithms: ['HS257'] }), /unsupported algorithm/);
    rejects(decided({ secret: SECRET, algorithms: [] }), /algorithms/);
    rejects(decided({ secret: SECRET, algorithms: 'HS256' }), /algorithms/);
  });

  it('rejects a public key that is not a public key', async () => {
    rejects(decided({ publicKey: 'not a pem' }), /publicKey/);
    rejects(decided({ publicKey: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----' }), /publicKey/);
    const { privateKey } = await generateKeyPair('RS256');
    rejects(decided({ publicKey: privateKey }), /publicKey/);
    rejects(decided({ publicKey: await generateSecret('HS256') }), /publicKey/);
    rejects(decided({ publicKey: {} }), /publicKey/);
  });

  it('rejects a jwksUrl that is not an absolute http(s) URL', () => {
    rejects(decided({ jwksUrl: '/jwks.json' }), /jwksUrl/);
    rejects(decided({ jwksUrl: 'file:///etc/jwks.json' }), /jwksUrl/);
    rejects(decided({ jwksUrl: JWKS, fetch: 'fetch' }), /fetch/);
  });

  it.each([
    [{ issuer: '' }, /issuer must be false, a non-empty string/],
    [{ issuer: [] }, /issuer must be false, a non-empty string/],
    [{ issuer: [''] }, /issuer/],
    [{ issuer: true }, /issuer/],
    [{ issuer: null }, /issuer/],
    [{ audience: '' }, /audience must be false, a non-empty string/],
    [{ audience: [] }, /audience must be false, a non-empty string/],
    [{ audience: [1] }, /audience/],
    [{ audience: true }, /audience/],
    [{ required: 'yes' }, /required must be a boolean/],
    [{ required: 0 }, /required/],
    [{ claim: '' }, /claim/],
    [{ header: 'bad header' }, /header/],
    [{ requireExp: 'yes' }, /requireExp/],
    [{ clockToleranceSeconds: -1 }, /clockToleranceSeconds/],
    [{ clockToleranceSeconds: Number.NaN }, /clockToleranceSeconds/],
    [{ maxTokenLength: 0 }, /maxTokenLength/],
    [{ maxTokenLength: 1.5 }, /maxTokenLength/],
    [{ cacheSize: -1 }, /cacheSize/],
    [{ now: 5 }, /now/],
  ])('names the option in the TypeError for %j', (extra, pattern) => {
    rejects(decided({ secret: SECRET, ...extra }), pattern);
  });

  it('requires issuer and audience to be decided: a value, or false', () => {
    for (const key of [{ secret: SECRET }, { publicKey: PEM }, { jwksUrl: JWKS }]) {
      expect(() => fromJwt({ ...key, audience: 'api' })).toThrow(
        new TypeError('fromJwt: issuer is required (pass false to accept tokens from any issuer)'),
      );
      expect(() => fromJwt({ ...key, issuer: 'https://auth.example.com/' })).toThrow(
        new TypeError('fromJwt: audience is required (pass false to accept tokens for any audience)'),
      );
      expect(() => fromJwt({ ...key, issuer: undefined, audience: undefined })).toThrow(/issuer is required/);
      expect(fromJwt({ ...key, issuer: 'https://auth.example.com/', audience: ['api', 'web'] }).name).toBe('jwt');
      expect(fromJwt({ ...key, issuer: false, audience: 'api' }).name).toBe('jwt');
      expect(fromJwt({ ...key, issuer: ['https://a.example.com/'], audience: false }).name).toBe('jwt');
    }
  });

  it('accepts required as a boolean', () => {
    expect(fromJwt({ ...ANY_ISS_AUD, secret: SECRET, required: true }).name).toBe('jwt');
    expect(fromJwt({ ...ANY_ISS_AUD, secret: SECRET, required: false }).name).toBe('jwt');
  });

  it('treats 0 as a value, not as "not passed"', () => {
    expect(fromJwt({ ...ANY_ISS_AUD, secret: SECRET, cacheSize: 0, clockToleranceSeconds: 0 }).name).toBe('jwt');
  });
});
