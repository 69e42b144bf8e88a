import { beforeEach, describe, expect, it, vi } from 'vitest';
import { jwtVerify } from 'jose';
import { fromJwt } from '../src/router/resolvers/index.js';
import { DIRECT } from './helpers/request.js';
import { NOW_MS, NOW_S, SECRET, bearer, failure, mentionsToken, signHs256 } from './helpers/jwt.js';

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
    const resolver = fromJwt({ secret: SECRET, now });
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
    const resolver = fromJwt({ secret: SECRET, now });
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
    const resolver = fromJwt({ secret: SECRET, clockToleranceSeconds: 30, now });
    const token = await signHs256({ exp: NOW_S + 60 });
    await resolver.resolve(bearer(token), DIRECT);
    clock = NOW_MS + 89_999;
    expect(resolver.resolve(bearer(token), DIRECT)).toEqual(identity('acme'));
    clock = NOW_MS + 90_000;
    expect(() => resolver.resolve(bearer(token), DIRECT)).toThrow(expect.objectContaining({ code: 'INVALID_TOKEN' }));
    expect(verifyCalls()).toBe(1);
  });

  it('rejects a cached token before its nbf when the clock goes back', async () => {
    const resolver = fromJwt({ secret: SECRET, now });
    const token = await signHs256({ nbf: NOW_S });
    await resolver.resolve(bearer(token), DIRECT);
    clock = NOW_MS - 1;
    expect(() => resolver.resolve(bearer(token), DIRECT)).toThrow(expect.objectContaining({ code: 'INVALID_TOKEN' }));
    expect(verifyCalls()).toBe(1);
  });

  it('verifies a long-lived token again after five minutes', async () => {
    const resolver = fromJwt({ secret: SECRET, now });
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
    const resolver = fromJwt({ secret: SECRET, requireExp: false, now });
    const token = await signHs256({ exp: undefined });
    await resolver.resolve(bearer(token), DIRECT);
    clock = NOW_MS + 4 * 60_000;
    expect(resolver.resolve(bearer(token), DIRECT)).not.toBeInstanceOf(Promise);
    clock = NOW_MS + 5 * 60_000;
    expect(await resolver.resolve(bearer(token), DIRECT)).toEqual(identity('acme'));
    expect(verifyCalls()).toBe(2);
  });

  it('does not cache failures', async () => {
    const resolver = fromJwt({ secret: SECRET, now });
    const token = await signHs256({ tenant_id: 'Not-Valid' });
    expect((await failure(() => resolver.resolve(bearer(token), DIRECT))).code).toBe('INVALID_TENANT_ID');
    expect((await failure(() => resolver.resolve(bearer(token), DIRECT))).code).toBe('INVALID_TENANT_ID');
    expect(verifyCalls()).toBe(2);
  });

  it('is bounded by cacheSize, evicting the least recently used token', async () => {
    const resolver = fromJwt({ secret: SECRET, cacheSize: 2, now });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => signHs256({ tenant_id: id })));
    for (const token of [a!, b!, c!]) await resolver.resolve(bearer(token), DIRECT);
    expect(resolver.resolve(bearer(c!), DIRECT)).not.toBeInstanceOf(Promise);
    expect(resolver.resolve(bearer(b!), DIRECT)).not.toBeInstanceOf(Promise);
    const evicted = resolver.resolve(bearer(a!), DIRECT);
    expect(evicted).toBeInstanceOf(Promise);
    expect(await evicted).toEqual(identity('a'));
  });

  it('verifies every time with cacheSize 0', async () => {
    const resolver = fromJwt({ secret: SECRET, cacheSize: 0, now });
    const token = await signHs256();
    await resolver.resolve(bearer(token), DIRECT);
    const second = resolver.resolve(bearer(token), DIRECT);
    expect(second).toBeInstanceOf(Promise);
    expect(await second).toEqual(identity('acme'));
    expect(verifyCalls()).toBe(2);
  });

  it('keeps one cache per resolver, so a token verified by one is not trusted by another', async () => {
    const trusting = fromJwt({ secret: SECRET, now });
    const other = fromJwt({ secret: 'a-completely-different-secret-0123456789', now });
    const token = await signHs256();
    await trusting.resolve(bearer(token), DIRECT);
    expect((await failure(() => other.resolve(bearer(token), DIRECT))).code).toBe('INVALID_TOKEN');
  });
});
