import { SignJWT, base64url } from 'jose';
import type { JWTPayload } from 'jose';
import type { TenantIdentity, TenantResolver } from '../../src/router/types.js';
import { DIRECT, withHeaders } from './request.js';

/** A fixed clock for token tests: 2030-01-01T00:00:00Z in ms, and in seconds. */
export const NOW_MS = Date.UTC(2030, 0, 1);
export const NOW_S = NOW_MS / 1000;

/**
 * `issuer: false, audience: false`: the two checks that every `fromJwt()` must decide, turned
 * off, for tests that are about something else.
 */
export const ANY_ISS_AUD = Object.freeze({ issuer: false, audience: false } as const);

/** A 32+ byte HMAC secret. */
export const SECRET = 'resolver-tests-secret-0123456789abcdef';
export const SECRET_BYTES = new TextEncoder().encode(SECRET);

/** Signs `claims` (default: tenant `acme`, valid for an hour around {@link NOW_S}). */
export function signHs256(claims: JWTPayload = {}, key: Uint8Array = SECRET_BYTES, alg = 'HS256'): Promise<string> {
  return new SignJWT({ tenant_id: 'acme', iat: NOW_S, exp: NOW_S + 3600, ...claims }).setProtectedHeader({ alg }).sign(key);
}

/** An unsigned token (`alg: none`), built by hand, with an optional fake signature. */
export function unsignedToken(claims: JWTPayload = {}, signature = ''): string {
  const part = (value: unknown) => base64url.encode(JSON.stringify(value));
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ tenant_id: 'acme', exp: NOW_S + 3600, ...claims })}.${signature}`;
}

/** A request carrying `Authorization: Bearer <token>`. */
export const bearer = (token: string) => withHeaders({ authorization: `Bearer ${token}` });

/** Resolves a request (sync or async) to its identity. */
export async function resolveAsync(resolver: TenantResolver, request = withHeaders({})): Promise<TenantIdentity | undefined> {
  return await resolver.resolve(request, DIRECT);
}

/** What a resolver threw or rejected with (fails the test when it succeeded). */
export async function failure(run: () => unknown): Promise<Error & { code?: string; cause?: unknown }> {
  try {
    await run();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a failure');
}

/** Asserts that an error says nothing of the token: neither it nor any of its parts. */
export function mentionsToken(err: Error, token: string): boolean {
  const texts = [err.message, String(err), err.stack ?? ''];
  const parts = token.split('.').filter((p) => p.length >= 8);
  return texts.some((text) => text.includes(token) || parts.some((p) => text.includes(p)));
}

/** A promise with its resolve and reject functions, to hold a response until a test lets it go. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (reason: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
