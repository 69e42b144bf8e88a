/**
 * The fetch-style adapter: a `RequestView` over a WHATWG `Request`, and problem responses.
 * Used by `tenantry.handle()` in serverless functions and edge runtimes.
 */
import type { TenantryError } from '../errors/index.js';
import type { RequestView } from '../router/types.js';
import { toProblem } from './problem.js';

/** A `RequestView` over a fetch `Request`; the path is parsed from the URL only when asked. */
export function fetchRequestView(request: Request): RequestView {
  return new FetchRequestView(request);
}

class FetchRequestView implements RequestView {
  readonly #request: Request;
  #path: string | undefined;

  constructor(request: Request) {
    this.#request = request;
  }

  get method(): string {
    return this.#request.method;
  }

  get path(): string {
    this.#path ??= pathOf(this.#request.url);
    return this.#path;
  }

  header(name: string): string | undefined {
    const value = this.#request.headers.get(name);
    if (value !== null) return value;
    // Runtimes that hand over a Request without a Host header still carry it in the URL.
    if (name === 'host') return hostOfUrl(this.#request.url);
    return undefined;
  }
}

/** The path of an absolute URL, without query or fragment, without building a `URL`. */
function pathOf(url: string): string {
  const scheme = url.indexOf('://');
  const start = url.indexOf('/', scheme === -1 ? 0 : scheme + 3);
  if (start === -1) return '/';
  let end = url.length;
  const query = url.indexOf('?', start);
  if (query !== -1) end = query;
  const hash = url.indexOf('#', start);
  if (hash !== -1 && hash < end) end = hash;
  return url.slice(start, end);
}

/** The `host[:port]` of an absolute URL, or `undefined`. */
export function hostOfUrl(url: string): string | undefined {
  try {
    return new URL(url).host || undefined;
  } catch {
    return undefined;
  }
}

/** The `application/problem+json` Response for a tenantry error. */
export function problemResponse(error: TenantryError): Response {
  const problem = toProblem(error);
  return new Response(problem.body, { status: problem.status, headers: problem.headers });
}
