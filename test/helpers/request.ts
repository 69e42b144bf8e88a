import type { RequestView, ResolverEnv } from '../../src/router/types.js';

/** What a test request is built from; header names may be in any case. */
export interface TestRequestInit {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
}

/** A `RequestView` over plain values, with lowercase-keyed (case-insensitive) header lookup. */
export function requestView({ method = 'GET', path = '/', headers = {} }: TestRequestInit = {}): RequestView {
  const lower = new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  return {
    method,
    path,
    header: (name: string) => lower.get(name),
  };
}

/** A request with only headers. */
export const withHeaders = (headers: Record<string, string>, path = '/'): RequestView => requestView({ path, headers });

/** Resolver env without a trusted proxy. */
export const DIRECT: ResolverEnv = Object.freeze({ trustProxy: false });
/** Resolver env behind a trusted proxy. */
export const BEHIND_PROXY: ResolverEnv = Object.freeze({ trustProxy: true });

/** Runs `fn` and returns what it threw (fails the test when it did not throw). */
export function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected the call to throw');
}
