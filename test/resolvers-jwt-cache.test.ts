import { beforeEach, describe, expect, it, vi } from 'vitest';
import { jwtVerify } from 'jose';
import { fromJwt } from '../src/router/resolvers/index.js';
import { DIRECT } from './helpers/request.js';
import { ANY_ISS_AUD, NOW_MS, NOW_S, SECRET, bearer, failure, mentionsToken, signHs256 } from './helpers/jwt.js';

vi.mock('jose', async (importOriginal) => {
  const jose = await importOriginal<typeof import('jose')>();
  return { ...jose, jwtVerify: vi.fn(jose.jwtVerify) };
});

const verifyCalls = () => vi.mocked(jwtVerify).mock.calls.length;
const identity = (value: string) => ({ kind: 'id', value, source: 'jwt' });

describe('the verified-token cache of fromJwt', () => {
  let clock = NOW_MS;
  const now = () => clock;
  beforeEach(() => {
    clock = NOW_MS;
    vi.mocked(jwtVerify).mockClear();
  });

  it('answers a repeated token synchronously without verifying it again', async () => {
    const resolver = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, now });
    const token = await signHs256();
    const first = resolver.resolve(bearer(token), DIRECT);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toEqual(identity('acme'));
    expect(verifyCalls()).toBe(1);

    const second = resolver.resolve(bearer(token), DIRECT);
    expect(second).not.toBeInstanceOf(Promise);
    expect(second).toEqual(identity('acme'));
    expect(resolver.resolve(bearer(token), DIRECT)).toBe(second);
    expect(verifyCalls()).toBe(1);
  });

  it('rejects a cached token once its exp has passed, without verifying it again', async () => {
    const resolver = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, now });
    const token = await signHs256({ exp: NOW_S + 60 });
    await resolver.resolve(bearer(token), DIRECT);

    clock = NOW_MS + 59_999;
    expect(resolver.resolve(bearer(token), DIRECT)).toEqual(identity('acme'));

    clock = NOW_MS + 60_000;
    let err: (Error & { code?: string }) | undefined;
    try {
      resolver.resolve(bearer(token), DIRECT);
    } catch (caught) {
      err = caught as Error & { code?: string };
    }
    expect(err?.code).toBe('INVALID_TOKEN');
    expect(mentionsToken(err!, token)).toBe(false);
    expect(verifyCalls()).toBe(1);

    // The expired entry is gone: the next attempt is verified (and rejected) by jose.
    const again = await failure(() => resolver.resolve(bearer(token), DIRECT));
    expect(again.code).toBe('INVALID_TOKEN');
    expect(verifyCalls()).toBe(2);
  });

  it('honours clockToleranceSeconds on a cache hit like jose does', async () => {
    const resolver = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, clockToleranceSeconds: 30, now });
    const token = await signHs256({ exp: NOW_S + 60 });
    await resolver.resolve(bearer(token), DIRECT);
    clock = NOW_MS + 89_999;
    expect(resolver.resolve(bearer(token), DIRECT)).toEqual(identity('acme'));
    clock = NOW_MS + 90_000;
    expect(() => resolver.resolve(bearer(token), DIRECT)).toThrow(expect.objectContaining({ code: 'INVALID_TOKEN' }));
    expect(verifyCalls()).toBe(1);
  });

  it('rejects a cached token before its nbf when the clock goes back', async () => {
    const resolver = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, now });
    const token = await signHs256({ nbf: NOW_S });
    await resolver.resolve(bearer(token), DIRECT);
    clock = NOW_MS - 1;
    expect(() => resolver.resolve(bearer(token), DIRECT)).toThrow(expect.objectContaining({ code: 'INVALID_TOKEN' }));
    expect(verifyCalls()).toBe(1);
  });

  it('verifies a long-lived token again after five minutes', async () => {
    const resolver = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, now });
    const token = await signHs256({ exp: NOW_S + 86_400 });
    await resolver.resolve(bearer(token), DIRECT);
    clock = NOW_MS + 5 * 60_000 - 1;
    expect(resolver.resolve(bearer(token), DIRECT)).not.toBeInstanceOf(Promise);
    clock = NOW_MS + 5 * 60_000;
    const refreshed = resolver.resolve(bearer(token), DIRECT);
    expect(refreshed).toBeInstanceOf(Promise);
    expect(await refreshed).toEqual(identity('acme'));
    expect(verifyCalls()).toBe(2);
    expect(resolver.resolve(bearer(token), DIRECT)).not.toBeInstanceOf(Promise);
  });

  it('caches a token without exp for at most five minutes, then verifies it again', async () => {
    const resolver = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, requireExp: false, now });
    const token = await signHs256({ exp: undefined });
    await resolver.resolve(bearer(token), DIRECT);
    clock = NOW_MS + 4 * 60_000;
    expect(resolver.resolve(bearer(token), DIRECT)).not.toBeInstanceOf(Promise);
    clock = NOW_MS + 5 * 60_000;
    expect(await resolver.resolve(bearer(token), DIRECT)).toEqual(identity('acme'));
    expect(verifyCalls()).toBe(2);
  });

  it('does not cache failures', async () => {
    const resolver = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, now });
    const token = await signHs256({ tenant_id: 'Not-Valid' });
    expect((await failure(() => resolver.resolve(bearer(token), DIRECT))).code).toBe('INVALID_TENANT_ID');
    expect((await failure(() => resolver.resolve(bearer(token), DIRECT))).code).toBe('INVALID_TENANT_ID');
    expect(verifyCalls()).toBe(2);
  });

  it('is bounded by cacheSize, evicting the least recently used token', async () => {
    const resolver = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, cacheSize: 2, now });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => signHs256({ tenant_id: id })));
    for (const token of [a!, b!, c!]) await resolver.resolve(bearer(token), DIRECT);
    expect(resolver.resolve(bearer(c!), DIRECT)).not.toBeInstanceOf(Promise);
    expect(resolver.resolve(bearer(b!), DIRECT)).not.toBeInstanceOf(Promise);
    const evicted = resolver.resolve(bearer(a!), DIRECT);
    expect(evicted).toBeInstanceOf(Promise);
    expect(await evicted).toEqual(identity('a'));
  });

  it('verifies every time with cacheSize 0', async () => {
    const resolver = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, cacheSize: 0, now });
    const token = await signHs256();
    await resolver.resolve(bearer(token), DIRECT);
    const second = resolver.resolve(bearer(token), DIRECT);
    expect(second).toBeInstanceOf(Promise);
    expect(await second).toEqual(identity('acme'));
    expect(verifyCalls()).toBe(2);
  });

  it('verifies a token once when concurrent requests miss the cache together (single flight)', async () => {
    const resolver = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, now });
    const token = await signHs256();
    const pending = Array.from({ length: 20 }, () => resolver.resolve(bearer(token), DIRECT));
    expect(pending[0]).toBeInstanceOf(Promise);
    expect(new Set(pending).size).toBe(1);
    const results = await Promise.all(pending);
    expect(verifyCalls()).toBe(1);
    expect(results.every((result) => result === results[0])).toBe(true);
    expect(results[0]).toEqual(identity('acme'));
    // Settled and cached: the next request is a synchronous hit, no new verification.
    expect(resolver.resolve(bearer(token), DIRECT)).toBe(results[0]);
    expect(verifyCalls()).toBe(1);
  });

  it('shares one verification also without a cache, and one per distinct token', async () => {
    const resolver = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, cacheSize: 0, now });
    const [a, b] = await Promise.all([signHs256({ tenant_id: 'a' }), signHs256({ tenant_id: 'b' })]);
    const pending = [a!, b!, a!, b!, a!].map((token) => resolver.resolve(bearer(token), DIRECT));
    expect(pending[0]).toBe(pending[2]);
    expect(pending[1]).toBe(pending[3]);
    expect(pending[0]).not.toBe(pending[1]);
    expect(await Promise.all(pending)).toEqual(['a', 'b', 'a', 'b', 'a'].map(identity));
    expect(verifyCalls()).toBe(2);
    // Nothing is kept once settled: with cacheSize 0 the next request verifies again.
    await resolver.resolve(bearer(a!), DIRECT);
    expect(verifyCalls()).toBe(3);
  });

  it('gives concurrent waiters the same failure, and does not keep it', async () => {
    const resolver = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, now });
    const token = await signHs256({ tenant_id: 'Not-Valid' });
    const pending = Array.from({ length: 5 }, () => resolver.resolve(bearer(token), DIRECT));
    const errors = await Promise.all(pending.map((p) => failure(() => p)));
    expect(verifyCalls()).toBe(1);
    expect(errors.every((err) => err === errors[0])).toBe(true);
    expect(errors[0]!.code).toBe('INVALID_TENANT_ID');
    const again = resolver.resolve(bearer(token), DIRECT);
    expect(pending).not.toContain(again);
    expect((await failure(() => again)).code).toBe('INVALID_TENANT_ID');
    expect(verifyCalls()).toBe(2);
  });

  it('shares the verification of a token whose cached entry is due for a refresh', async () => {
    const resolver = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, now });
    const token = await signHs256({ exp: NOW_S + 86_400 });
    await resolver.resolve(bearer(token), DIRECT);
    clock = NOW_MS + 5 * 60_000;
    const pending = Array.from({ length: 5 }, () => resolver.resolve(bearer(token), DIRECT));
    expect(new Set(pending).size).toBe(1);
    await Promise.all(pending);
    expect(verifyCalls()).toBe(2);
  });

  it('keeps one cache per resolver, so a token verified by one is not trusted by another', async () => {
    const trusting = fromJwt({ ...ANY_ISS_AUD, secret: SECRET, now });
    const other = fromJwt({ ...ANY_ISS_AUD, secret: 'a-completely-different-secret-0123456789', now });
    const token = await signHs256();
    await trusting.resolve(bearer(token), DIRECT);
    expect((await failure(() => other.resolve(bearer(token), DIRECT))).code).toBe('INVALID_TOKEN');
  });
});
