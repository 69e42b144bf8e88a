/**
 * Hostile JWTs, property-based (fast-check) and through every adapter: tokens re-signed with
 * other keys, `alg` swapped (`none` in any case, HS256 with the public key as its secret,
 * algorithms that are not pinned), embedded keys and `kid`/`jku` tricks, claims of the wrong
 * type, expired / not-yet-valid tokens, wrong `iss` / `aud`, look-alike tenant ids, mutated and
 * spliced tokens, huge tokens. None resolves a tenant it should not, every failure is a
 * `TenantryError` (`INVALID_TOKEN`, or `INVALID_TENANT_ID` for a verified claim that is no id),
 * and no handler runs. test/resolvers-jwt*.test.ts hold the unit cases; this file is the
 * adversarial sweep.
 */
import { SignJWT, base64url, exportJWK, exportPKCS8, exportSPKI, generateKeyPair, importPKCS8 } from 'jose';
import type { CryptoKey, JWTPayload } from 'jose';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TENANT_ID_PATTERN, fromJwt, fromSubdomain } from '../src/index.js';
import type { TenantResolver } from '../src/router/types.js';
import { ADAPTERS } from './helpers/adapters.js';
import type { AdapterKind } from './helpers/adapters.js';
import { testTenantry } from './helpers/env.js';
import type { TestTenantry } from './helpers/env.js';
import { NOW_MS, NOW_S, mentionsToken } from './helpers/jwt.js';
import { DIRECT, withHeaders } from './helpers/request.js';
import { expectProblem, expectTenantryError, isTransportRefusal, reportingApp } from './helpers/security.js';
import type { ReportingApp } from './helpers/security.js';

// Each property takes about a second alone; with every test file running at once on a loaded
// machine it can take fifty times that, which is not a failure.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const ISSUER = 'https://auth.tenantry.test/';
const AUDIENCE = 'api';
const SECRET = new TextEncoder().encode('security-jwt-secret-0123456789abcdef!');
const OTHER_SECRET = new TextEncoder().encode('an-attacker-secret-0123456789abcdef!!');
const BASE = 'app.example.com';
const now = () => NOW_MS;
const VALID: JWTPayload = { tenant_id: 'acme', iss: ISSUER, aud: AUDIENCE, exp: NOW_S + 3600 };

let rsa: { publicKey: CryptoKey; privateKey: CryptoKey };
let pem: string;
let attacker: Record<'RS256' | 'ES256' | 'EdDSA', { publicKey: CryptoKey; privateKey: CryptoKey }>;
/** Resolvers that trust only SECRET (HS256) or only `rsa` (given as a PEM, and as a key). */
let resolvers: Record<'secret' | 'pem' | 'key', TenantResolver>;

beforeAll(async () => {
  rsa = await generateKeyPair('RS256', { extractable: true });
  pem = await exportSPKI(rsa.publicKey);
  attacker = {
    RS256: await generateKeyPair('RS256', { extractable: true }),
    ES256: await generateKeyPair('ES256', { extractable: true }),
    EdDSA: await generateKeyPair('EdDSA', { extractable: true }),
  };
  const checks = { issuer: ISSUER, audience: AUDIENCE, now };
  resolvers = {
    secret: fromJwt({ secret: SECRET, ...checks }),
    pem: fromJwt({ publicKey: pem, ...checks }),
    key: fromJwt({ publicKey: rsa.publicKey, ...checks, algorithms: ['RS256', 'PS256'] }),
  };
});

const part = (value: unknown) => base64url.encode(JSON.stringify(value));

/** A token with a hand-made header (and payload), signed by nobody: `signature` as given. */
function handMade(header: object, payload: object, signature = ''): string {
  return `${part(header)}.${part(payload)}.${signature}`;
}

/** What a resolver did with a bearer token: the tenant id, or the error. */
async function resolveToken(resolver: TenantResolver, token: string): Promise<{ tenant: string } | { error: unknown }> {
  try {
    const identity = await resolver.resolve(withHeaders({ authorization: `Bearer ${token}` }), DIRECT);
    if (identity === undefined) throw new Error('a required JWT resolver resolved nothing');
    return { tenant: identity.value };
  } catch (error) {
    return { error };
  }
}

/** Asserts the outcome is an `INVALID_TOKEN` TenantryError that does not mention the token. */
function expectInvalidToken(result: { tenant: string } | { error: unknown }, token: string, label: string): void {
  expect('error' in result, `${label} resolved ${JSON.stringify(result)}`).toBe(true);
  const { error } = result as { error: Error };
  expectTenantryError(error, ['INVALID_TOKEN']);
  expect(mentionsToken(error, token)).toBe(false);
}

// ---------------------------------------------------------------------------------------------
// Forgeries: tokens no trusted key signed

type Forgery =
  | 'hs256-other-secret'
  | 'hs256-public-pem-as-secret'
  | 'hs256-public-jwk-as-secret'
  | 'rs256-attacker-key'
  | 'es256-attacker-key'
  | 'eddsa-attacker-key'
  | 'alg-none'
  | 'alg-none-cased'
  | 'embedded-jwk'
  | 'kid-and-jku-tricks'
  | 'rs-signature-under-hs-header'
  | 'legit-signature-other-payload';
const FORGERIES: Forgery[] = [
  'hs256-other-secret',
  'hs256-public-pem-as-secret',
  'hs256-public-jwk-as-secret',
  'rs256-attacker-key',
  'es256-attacker-key',
  'eddsa-attacker-key',
  'alg-none',
  'alg-none-cased',
  'embedded-jwk',
  'kid-and-jku-tricks',
  'rs-signature-under-hs-header',
  'legit-signature-other-payload',
];

async function forge(kind: Forgery, claims: JWTPayload, noise: string): Promise<string> {
  const sign = (alg: string, key: CryptoKey | Uint8Array, header: Record<string, unknown> = {}) =>
    new SignJWT(claims).setProtectedHeader({ ...header, alg }).sign(key);
  switch (kind) {
    case 'hs256-other-secret':
      return sign('HS256', OTHER_SECRET);
    case 'hs256-public-pem-as-secret':
      return sign('HS256', new TextEncoder().encode(pem));
    case 'hs256-public-jwk-as-secret':
      return sign('HS256', new TextEncoder().encode(JSON.stringify(await exportJWK(rsa.publicKey))));
    case 'rs256-attacker-key':
      return sign('RS256', attacker.RS256.privateKey);
    case 'es256-attacker-key':
      return sign('ES256', attacker.ES256.privateKey);
    case 'eddsa-attacker-key':
      return sign('EdDSA', attacker.EdDSA.privateKey);
    case 'alg-none':
      return handMade({ alg: 'none', typ: 'JWT' }, claims, noise);
    case 'alg-none-cased':
      return handMade({ alg: ['None', 'NONE', 'nOnE'][noise.length % 3]!, typ: 'JWT' }, claims, noise || 'x');
    case 'embedded-jwk':
      return sign('RS256', attacker.RS256.privateKey, { jwk: await exportJWK(attacker.RS256.publicKey) });
    case 'kid-and-jku-tricks':
      return sign('RS256', attacker.RS256.privateKey, { kid: '../../../../dev/null', jku: 'http://127.0.0.1:1/jwks.json', x5u: 'http://127.0.0.1:1/x5c' });
    case 'rs-signature-under-hs-header': {
      const legit = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey);
      const [, payload, signature] = legit.split('.');
      return `${part({ alg: 'HS256' })}.${payload}.${signature}`;
    }
    case 'legit-signature-other-payload': {
      // a genuine token the attacker has seen, its payload swapped for theirs
      const legit = await new SignJWT({ ...VALID, tenant_id: 'beta', jti: 'observed' }).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey);
      const [header, , signature] = legit.split('.');
      return `${header}.${part(claims)}.${signature}`;
    }
  }
}

/** Claims an attacker picks: the right ones, or anything JSON at all. */
const claimsArb: fc.Arbitrary<JWTPayload> = fc.record(
  {
    tenant_id: fc.oneof(fc.constantFrom('acme', 'beta', 'аcme', 'ACME', 'acme ', 'acme\u0000'), fc.jsonValue()),
    iss: fc.oneof(fc.constant(ISSUER), fc.constant(`${ISSUER}evil`), fc.jsonValue()),
    aud: fc.oneof(fc.constant(AUDIENCE), fc.constant([AUDIENCE, 'other']), fc.jsonValue()),
    exp: fc.oneof(fc.constant(NOW_S + 3600), fc.constant(NOW_S - 1), fc.constant(String(NOW_S + 3600)), fc.jsonValue()),
    nbf: fc.oneof(fc.constant(NOW_S - 60), fc.constant(NOW_S + 60), fc.jsonValue()),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<JWTPayload>;

/** The valid claims with one of them replaced by anything, or removed: near misses. */
const nearValidArb: fc.Arbitrary<JWTPayload> = fc
  .tuple(fc.constantFrom('tenant_id', 'iss', 'aud', 'exp', 'nbf'), fc.option(fc.oneof(fc.jsonValue(), fc.constantFrom('beta', 'аcme', NOW_S - 1, NOW_S + 60)), { nil: undefined }))
  .map(([name, value]) => {
    const claims: Record<string, unknown> = { ...VALID };
    if (value === undefined) delete claims[name];
    else claims[name] = value;
    return claims as JWTPayload;
  });

describe('forged tokens', () => {
  it('are refused with INVALID_TOKEN by every resolver, whatever their claims say', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...FORGERIES), claimsArb, fc.base64String({ maxLength: 40 }), async (kind, claims, noise) => {
        const token = await forge(kind, claims, noise.replace(/[+/=]/g, ''));
        for (const [name, resolver] of Object.entries(resolvers)) {
          expectInvalidToken(await resolveToken(resolver, token), token, `${kind} against ${name}`);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('with perfect claims, every forgery is still refused (the property above is not won by bad claims)', async () => {
    for (const kind of FORGERIES) {
      const token = await forge(kind, VALID, 'c2lnbmF0dXJl');
      for (const [name, resolver] of Object.entries(resolvers)) {
        expectInvalidToken(await resolveToken(resolver, token), token, `${kind} against ${name}`);
      }
    }
  });

  it('an algorithm that is not pinned is refused even when the trusted key made it', async () => {
    const cases: Array<[string, TenantResolver]> = [
      [await new SignJWT(VALID).setProtectedHeader({ alg: 'HS384' }).sign(SECRET), resolvers.secret],
      [await new SignJWT(VALID).setProtectedHeader({ alg: 'HS512' }).sign(SECRET), resolvers.secret],
      // the trusted RSA key, imported for algorithms the `pem` resolver does not pin
      [await new SignJWT(VALID).setProtectedHeader({ alg: 'PS256' }).sign(await importPKCS8(await exportPKCS8(rsa.privateKey), 'PS256')), resolvers.pem],
      [await new SignJWT(VALID).setProtectedHeader({ alg: 'RS384' }).sign(await importPKCS8(await exportPKCS8(rsa.privateKey), 'RS384')), resolvers.pem],
      [await new SignJWT(VALID).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey), resolvers.secret],
    ];
    for (const [token, resolver] of cases) expectInvalidToken(await resolveToken(resolver, token), token, token.split('.')[0]!);
  });
});

// ---------------------------------------------------------------------------------------------
// Genuine signatures over hostile claims

/** What the documented checks accept: the tenant the token may resolve, or undefined. */
function acceptable(claims: JWTPayload): { tenant: string } | { invalidTenantId: true } | undefined {
  const { tenant_id: id, iss, aud, exp, nbf } = claims;
  const audOk = aud === AUDIENCE || (Array.isArray(aud) && aud.includes(AUDIENCE));
  const timeOk = typeof exp === 'number' && exp > NOW_S && (nbf === undefined || (typeof nbf === 'number' && nbf <= NOW_S));
  if (iss !== ISSUER || !audOk || !timeOk || typeof id !== 'string') return undefined;
  return TENANT_ID_PATTERN.test(id) ? { tenant: id } : { invalidTenantId: true };
}

describe('tokens signed by the trusted key', () => {
  it('resolve exactly their string tenant_id claim when every claim checks out, and are refused otherwise', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('secret', 'pem', 'key') as fc.Arbitrary<keyof typeof resolvers>, fc.oneof(claimsArb, nearValidArb), async (name, claims) => {
        const token =
          name === 'secret'
            ? await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(SECRET)
            : await new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey);
        const result = await resolveToken(resolvers[name], token);
        const want = acceptable(claims);
        if (want !== undefined && 'tenant' in want) {
          expect(result).toEqual(want);
        } else if (want !== undefined) {
          expect('error' in result).toBe(true);
          expectTenantryError((result as { error: unknown }).error, ['INVALID_TENANT_ID']);
        } else {
          expectInvalidToken(result, token, JSON.stringify(claims));
        }
      }),
      { numRuns: 600 },
    );
  });

  it('refuse look-alike and padded tenant ids with INVALID_TENANT_ID, and claims of the wrong type with INVALID_TOKEN', async () => {
    for (const id of ['аcme', 'ａcme', 'ACME', 'acme ', ' acme', 'acme\u0000', 'acme\u200b', '../acme', 'acme/../beta', 'acme%00', '']) {
      const token = await new SignJWT({ ...VALID, tenant_id: id }).setProtectedHeader({ alg: 'HS256' }).sign(SECRET);
      const result = await resolveToken(resolvers.secret, token);
      expectTenantryError((result as { error: unknown }).error, ['INVALID_TENANT_ID']);
    }
    for (const id of [42, ['acme'], { id: 'acme' }, null, true]) {
      const token = await new SignJWT({ ...VALID, tenant_id: id }).setProtectedHeader({ alg: 'HS256' }).sign(SECRET);
      expectInvalidToken(await resolveToken(resolvers.secret, token), token, JSON.stringify(id));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Mutated and spliced tokens

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe('mutated and spliced tokens', () => {
  it('resolve only a payload the trusted key signed, and then exactly its tenant', async () => {
    const originals = {
      secret: {
        acme: await new SignJWT(VALID).setProtectedHeader({ alg: 'HS256' }).sign(SECRET),
        beta: await new SignJWT({ ...VALID, tenant_id: 'beta' }).setProtectedHeader({ alg: 'HS256' }).sign(SECRET),
      },
      pem: {
        acme: await new SignJWT(VALID).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey),
        beta: await new SignJWT({ ...VALID, tenant_id: 'beta' }).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey),
      },
    };
    const mutation = fc.record({
      op: fc.integer({ min: 0, max: 7 }),
      at: fc.nat(),
      char: fc.constantFrom(...B64URL, '.', '=', '+', '/', ' ', '\u0430'),
      from: fc.integer({ min: 0, max: 2 }),
      alg: fc.constantFrom('none', 'HS256', 'RS256', 'ES256', 'EdDSA', 'PS256', 'HS512'),
    });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('secret', 'pem') as fc.Arbitrary<'secret' | 'pem'>, fc.array(mutation, { minLength: 1, maxLength: 3 }), async (name, edits) => {
        let token = originals[name].acme;
        for (const { op, at, char, from, alg } of edits) {
          const i = at % (token.length + 1);
          const parts = token.split('.');
          switch (op) {
            case 0:
              token = token.slice(0, i) + char + token.slice(i + 1);
              break;
            case 1:
              token = token.slice(0, i) + char + token.slice(i);
              break;
            case 2:
              token = token.slice(0, i) + token.slice(i + 1);
              break;
            case 3: // one part from the other tenant's genuine token
              token = parts.map((p, k) => (k === from ? (originals[name].beta.split('.')[k] ?? p) : p)).join('.');
              break;
            case 4: // the header re-encoded with another alg, signature kept
              token = [part({ alg, typ: 'JWT' }), ...parts.slice(1)].join('.');
              break;
            case 5:
              token = token.slice(0, i);
              break;
            case 6:
              token = `${token}.${parts[from] ?? ''}`;
              break;
            default:
              token = token.slice(0, i) + (token[i] ?? '').toUpperCase() + token.slice(i + 1);
          }
        }
        const result = await resolveToken(resolvers[name], token);
        if ('error' in result) {
          expectTenantryError(result.error, ['INVALID_TOKEN']);
          return;
        }
        // a signature covers the encoded header and payload: only a genuine payload part verifies
        const payload = token.split('.')[1];
        const genuine = { [originals[name].acme.split('.')[1]!]: 'acme', [originals[name].beta.split('.')[1]!]: 'beta' };
        expect(payload !== undefined && payload in genuine, token).toBe(true);
        expect(result.tenant).toBe(genuine[payload!]);
      }),
      { numRuns: 1_000 },
    );
  });

  it('refuses huge tokens without verifying them', async () => {
    const big = await new SignJWT({ ...VALID, pad: 'x'.repeat(10_000) }).setProtectedHeader({ alg: 'HS256' }).sign(SECRET);
    expectInvalidToken(await resolveToken(resolvers.secret, big), big, 'a genuine 13 kB token');
    const junk = `${'a'.repeat(1_000_000)}.b.c`;
    expectInvalidToken(await resolveToken(resolvers.secret, junk), junk, 'a 1 MB header value');
  });
});

// ---------------------------------------------------------------------------------------------
// Through the adapters

describe('hostile tokens through the adapters', () => {
  let env: TestTenantry;
  const apps = new Map<AdapterKind, ReportingApp>();
  /** name → [Authorization value, Host, expected code (undefined: served as acme)] */
  let table: Array<{ name: string; authorization: string; host?: string; code?: 'INVALID_TOKEN' | 'INVALID_TENANT_ID' | 'TENANT_MISMATCH' }>;

  beforeAll(async () => {
    env = await testTenantry({
      resolvers: [fromJwt({ publicKey: pem, issuer: ISSUER, audience: AUDIENCE, now }), fromSubdomain({ baseDomains: [BASE] })],
    });
    await env.addTenant('acme');
    await env.addTenant('beta');
    for (const kind of ADAPTERS) apps.set(kind, await reportingApp(kind, env.tenantry));
    const rs = (claims: JWTPayload, header: Record<string, unknown> = {}) => new SignJWT(claims).setProtectedHeader({ ...header, alg: 'RS256' }).sign(rsa.privateKey);
    const bearer = (token: string) => `Bearer ${token}`;
    table = [
      { name: 'a genuine token', authorization: bearer(await rs(VALID)) },
      { name: 'a genuine token on its own subdomain', authorization: bearer(await rs(VALID)), host: `acme.${BASE}` },
      { name: "a genuine token on another tenant's subdomain", authorization: bearer(await rs(VALID)), host: `beta.${BASE}`, code: 'TENANT_MISMATCH' },
      ...(await Promise.all(FORGERIES.map(async (kind) => ({ name: kind, authorization: bearer(await forge(kind, VALID, 'c2ln')), code: 'INVALID_TOKEN' as const })))),
      { name: 'expired', authorization: bearer(await rs({ ...VALID, exp: NOW_S - 1 })), code: 'INVALID_TOKEN' },
      { name: 'not valid yet', authorization: bearer(await rs({ ...VALID, nbf: NOW_S + 60 })), code: 'INVALID_TOKEN' },
      { name: 'exp as a string', authorization: bearer(await rs({ ...VALID, exp: String(NOW_S + 3600) as never })), code: 'INVALID_TOKEN' },
      { name: 'wrong issuer', authorization: bearer(await rs({ ...VALID, iss: 'https://evil.test/' })), code: 'INVALID_TOKEN' },
      { name: 'wrong audience', authorization: bearer(await rs({ ...VALID, aud: 'admin' })), code: 'INVALID_TOKEN' },
      { name: 'claim as a number', authorization: bearer(await rs({ ...VALID, tenant_id: 7 })), code: 'INVALID_TOKEN' },
      { name: 'claim as an array', authorization: bearer(await rs({ ...VALID, tenant_id: ['acme', 'beta'] })), code: 'INVALID_TOKEN' },
      { name: 'claim missing', authorization: bearer(await rs({ ...VALID, tenant_id: undefined })), code: 'INVALID_TOKEN' },
      { name: 'look-alike claim', authorization: bearer(await rs({ ...VALID, tenant_id: 'аcme' })), code: 'INVALID_TENANT_ID' },
      { name: 'upper-case claim', authorization: bearer(await rs({ ...VALID, tenant_id: 'ACME' })), code: 'INVALID_TENANT_ID' },
      { name: 'a 9,000-character token', authorization: bearer(`${'a'.repeat(9_000)}.b.c`), code: 'INVALID_TOKEN' },
      { name: 'two tokens', authorization: `${bearer(await rs(VALID))} ${await rs({ ...VALID, tenant_id: 'beta' })}`, code: 'INVALID_TOKEN' },
      { name: 'Basic scheme', authorization: `Basic ${Buffer.from('acme:x').toString('base64')}`, code: 'INVALID_TOKEN' },
      { name: 'garbage', authorization: 'Bearer %00..', code: 'INVALID_TOKEN' },
    ];
  }, 60_000);
  afterAll(async () => {
    for (const app of apps.values()) await app.close();
    await env?.close();
  });

  for (const kind of ADAPTERS) {
    it(`${kind}: serves only the genuine token, and answers every hostile one with a documented problem without running the handler`, async () => {
      const app = apps.get(kind)!;
      for (const { name, authorization, host, code } of table) {
        const answer = await app.send('/notes', [
          ['host', host ?? 'localhost'],
          ['authorization', authorization],
        ]);
        if (code === undefined) {
          expect(answer.status, name).toBe(200);
          expect(answer.ran).toBe(true);
          expect(JSON.parse(answer.body)).toMatchObject({ tenant: 'acme', markers: ['acme'] });
          continue;
        }
        expect(answer.ran, name).toBe(false);
        expect(expectProblem(answer), name).toBe(code);
        if (answer.status === 401) expect(answer.headers['www-authenticate']).toBe('Bearer');
        expect(answer.body).not.toContain(authorization.slice(7, 60));
      }
    });

    it(`${kind}: a 20 kB Authorization header is refused before any handler (by the server, or as INVALID_TOKEN)`, async () => {
      const app = apps.get(kind)!;
      const answer = await app.send('/notes', [
        ['host', 'localhost'],
        ['authorization', `Bearer ${'a'.repeat(20_000)}.b.c`],
      ]);
      expect(answer.ran).toBe(false);
      if (isTransportRefusal(answer)) expect(answer.status).toBe(431);
      else expect(expectProblem(answer)).toBe('INVALID_TOKEN');
    });
  }
});
