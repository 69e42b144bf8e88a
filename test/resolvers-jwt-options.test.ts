import { describe, expect, it } from 'vitest';
import { generateKeyPair, generateSecret } from 'jose';
import { fromJwt } from '../src/router/resolvers/index.js';
import type { JwtResolverOptions } from '../src/router/resolvers/index.js';
import { SECRET } from './helpers/jwt.js';

const PEM = '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n';
const JWKS = 'https://auth.example.com/.well-known/jwks.json';

function rejects(options: unknown, pattern: RegExp): void {
  expect(() => fromJwt(options as JwtResolverOptions)).toThrow(TypeError);
  expect(() => fromJwt(options as JwtResolverOptions)).toThrow(pattern);
}

describe('fromJwt options', () => {
  it('accepts each kind of key with its default algorithms', () => {
    expect(fromJwt({ secret: SECRET }).name).toBe('jwt');
    expect(fromJwt({ publicKey: PEM }).name).toBe('jwt');
    expect(fromJwt({ jwksUrl: JWKS }).name).toBe('jwt');
    expect(fromJwt({ jwksUrl: new URL(JWKS), algorithms: ['ES256', 'PS256'] }).name).toBe('jwt');
  });

  it('requires exactly one of secret, publicKey or jwksUrl', () => {
    rejects({}, /exactly one of secret, publicKey or jwksUrl/);
    rejects({ secret: SECRET, jwksUrl: JWKS }, /got secret, jwksUrl/);
    rejects({ publicKey: PEM, jwksUrl: JWKS }, /exactly one/);
    rejects(undefined, /options/);
  });

  it('rejects a secret shorter than 32 bytes or of the wrong type', () => {
    rejects({ secret: 'short' }, /secret must be at least 32 bytes/);
    rejects({ secret: new Uint8Array(31) }, /secret/);
    rejects({ secret: 42 }, /secret/);
    expect(fromJwt({ secret: new Uint8Array(32) }).name).toBe('jwt');
  });

  it("never accepts 'none'", () => {
    rejects({ secret: SECRET, algorithms: ['none'] }, /none/);
    rejects({ jwksUrl: JWKS, algorithms: ['RS256', 'None'] }, /none/);
  });

  it('rejects HMAC algorithms with a public key or a JWKS (HS/RS confusion)', () => {
    rejects({ publicKey: PEM, algorithms: ['RS256', 'HS256'] }, /algorithms: HS256 needs a secret/);
    rejects({ jwksUrl: JWKS, algorithms: ['HS512'] }, /HS512/);
  });

  it('rejects asymmetric algorithms with a secret, unknown and empty algorithm lists', () => {
    rejects({ secret: SECRET, algorithms: ['RS256'] }, /algorithms: RS256 needs publicKey or jwksUrl/);
    rejects({ secret: SECRET, algorithms: ['HS257'] }, /unsupported algorithm/);
    rejects({ secret: SECRET, algorithms: [] }, /algorithms/);
    rejects({ secret: SECRET, algorithms: 'HS256' }, /algorithms/);
  });

  it('rejects a public key that is not a public key', async () => {
    rejects({ publicKey: 'not a pem' }, /publicKey/);
    rejects({ publicKey: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----' }, /publicKey/);
    const { privateKey } = await generateKeyPair('RS256');
    rejects({ publicKey: privateKey }, /publicKey/);
    rejects({ publicKey: await generateSecret('HS256') }, /publicKey/);
    rejects({ publicKey: {} }, /publicKey/);
  });

  it('rejects a jwksUrl that is not an absolute http(s) URL', () => {
    rejects({ jwksUrl: '/jwks.json' }, /jwksUrl/);
    rejects({ jwksUrl: 'file:///etc/jwks.json' }, /jwksUrl/);
    rejects({ jwksUrl: JWKS, fetch: 'fetch' }, /fetch/);
  });

  it.each([
    [{ issuer: '' }, /issuer/],
    [{ issuer: [] }, /issuer/],
    [{ audience: [1] }, /audience/],
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
    rejects({ secret: SECRET, ...extra }, pattern);
  });

  it('treats 0 as a value, not as "not passed"', () => {
    expect(fromJwt({ secret: SECRET, cacheSize: 0, clockToleranceSeconds: 0 }).name).toBe('jwt');
  });
});
