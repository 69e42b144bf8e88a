/**
 * `tenantry/hono`: the Hono adapter.
 *
 * @example
 * import { tenancy } from 'tenantry/hono';
 * app.use('*', tenancy(tenantry));
 * app.get('/notes', async (c) => c.json((await (await getTenantClient()).execute('select * from notes')).rows));
 */
import type { Context, ErrorHandler, MiddlewareHandler, Next } from 'hono';
import { runWithTenant } from '../context/index.js';
import { isTenantryError } from '../errors/index.js';
import type { TenantryError } from '../errors/index.js';
import type { TenantRuntimeContext } from '../protocol/index.js';
import type { RequestScope } from '../router/scope.js';
import type { RequestView } from '../router/types.js';
import type { Tenantry } from '../tenantry.js';
import type { QuotaName } from '../quota/types.js';
import { resolveQuotaMiddlewareOptions, resolveTenancyOptions } from './options.js';
import type { QuotaMiddlewareOptions, TenancyOptions } from './options.js';
import { scopeQuota } from './quota.js';
import { hostOfUrl } from './fetch.js';
import { toProblem } from './problem.js';

export type { QuotaMiddlewareOptions, TenancyOptions } from './options.js';

/** Variables `tenancy()` sets on the Hono context: `c.var.tenant`. */
export type TenantVariables = {
  /** The runtime context of this request's tenant (absent on excluded or optional routes). */
  tenant: TenantRuntimeContext;
};

declare module 'hono' {
  interface ContextVariableMap {
    tenant: TenantRuntimeContext;
  }
}

/** The Node request that @hono/node-server passes as `c.env.incoming`. */
interface NodeIncoming {
  httpVersion: string;
  headers: Record<string, string | string[] | undefined>;
}

class HonoRequestView implements RequestView {
  readonly #c: Context;
  readonly #incoming: NodeIncoming | undefined;
  constructor(c: Context) {
    this.#c = c;
    this.#incoming = nodeIncoming(c.env);
  }
  get method(): string {
    return this.#c.req.method;
  }
  get path(): string {
    return this.#c.req.path;
  }
  header(name: string): string | undefined {
    const incoming = this.#incoming;
    if (incoming !== undefined) {
      // On Node, read the parsed headers directly: going through c.req materializes a whole
      // fetch Request and Headers, which costs more than the rest of tenancy together.
      const value = incoming.headers[name];
      if (typeof value === 'string') return value;
      if (name === 'host') {
        const authority = incoming.headers[':authority'];
        return typeof authority === 'string' ? authority : hostOfUrl(this.#c.req.url);
      }
      return undefined;
    }
    const value = this.#c.req.header(name);
    // Without a Host header (HTTP/2 via :authority, app.request(url)), the URL carries the host.
    if (value === undefined && name === 'host') return hostOfUrl(this.#c.req.url);
    return value;
  }
}

function nodeIncoming(env: unknown): NodeIncoming | undefined {
  const incoming = (env as { incoming?: unknown } | undefined)?.incoming as Partial<NodeIncoming> | undefined;
  if (incoming === undefined || incoming === null || typeof incoming !== 'object') return undefined;
  return typeof incoming.httpVersion === 'string' && typeof incoming.headers === 'object' && incoming.headers !== null
    ? (incoming as NodeIncoming)
    : undefined;
}

/**
 * Hono middleware: resolves the tenant of each request, refuses it with
 * `application/problem+json` when it cannot be served, and runs the rest of the chain inside
 * the tenant's scope (`getTenant()`, `getTenantClient()`, `c.var.tenant`). A `TenantryError`
 * thrown by a later handler (e.g. `QUOTA_EXCEEDED`) is answered the same way.
 *
 * @param tenantry the instance from `createTenantry()`
 * @param options `optional` (let tenant-less requests through) and `exclude` (central routes)
 */
export function tenancy(tenantry: Tenantry, options?: TenancyOptions): MiddlewareHandler<{ Variables: TenantVariables }> {
  const { optional, excluded } = resolveTenancyOptions(options);
  // Not an `async` function: a warm tenant resolves synchronously, and the only promise this
  // middleware then makes is the one that maps a handler's TenantryError after `next()` (an
  // async function would make two, and on Node 20 each promise runs the async-hooks init hook
  // AsyncLocalStorage installs). Every path still returns a promise.
  return function tenancyMiddleware(c, next) {
    if (excluded !== undefined && excluded(c.req.path)) return next();
    let scope: RequestScope | undefined | Promise<RequestScope | undefined>;
    try {
      scope = tenantry.openScope(new HonoRequestView(c), optional);
    } catch (err) {
      return refused(c, err);
    }
    if (scope instanceof Promise) {
      return scope.then(
        (s) => enter(c, s, next),
        (err: unknown) => refused(c, err),
      );
    }
    return enter(c, scope, next);
  };
}

/** Runs the rest of the chain (in the tenant's scope when there is one), then {@link answerHandlerError}. */
function enter(c: Context, scope: RequestScope | undefined, next: Next): Promise<undefined> {
  let done: unknown;
  if (scope === undefined) {
    done = next();
  } else {
    c.set('tenant', scope.context);
    const headers = scope.rate?.headers;
    if (headers !== undefined) for (const name in headers) c.header(name, headers[name]);
    done = runWithTenant(scope, next);
  }
  // Promise.resolve() returns a native promise as it is.
  return Promise.resolve(done).then(() => answerHandlerError(c));
}

/** A `TenantryError` thrown by a later handler (Hono put it on `c.error`) is answered as problem+json. */
function answerHandlerError(c: Context): undefined {
  if (c.error !== undefined && isTenantryError(c.error)) c.res = problem(c, c.error);
  return undefined;
}

/** A refused request: problem+json for a `TenantryError`, a rejection for anything else. */
function refused(c: Context, err: unknown): Promise<Response> {
  return isTenantryError(err) ? Promise.resolve(problem(c, err)) : Promise.reject(err);
}

/**
 * Route-level quota middleware: for the listed methods (default POST), enforces quota `name`
 * for the request's tenant before the handler runs (`QUOTA_EXCEEDED`, `RATE_LIMITED` or
 * `STORE_UNAVAILABLE` as problem+json). Use after `tenancy()`.
 *
 * @example
 * app.post('/notes', quota('maxRecordsPerObject', { object: 'notes' }), createNote);
 */
export function quota(name: QuotaName, options?: QuotaMiddlewareOptions): MiddlewareHandler {
  const { methods, check } = resolveQuotaMiddlewareOptions(name, options);
  return async function quotaMiddleware(c, next) {
    if (!methods.has(c.req.method)) return next();
    try {
      await scopeQuota().enforce(name, check);
    } catch (err) {
      if (isTenantryError(err)) return problem(c, err);
      throw err;
    }
    return next();
  };
}

/**
 * An `app.onError` handler that answers `TenantryError`s as problem+json without logging them
 * (Hono's default handler logs every error before `tenancy()` maps it), and hands every other
 * error to `fallback` (default: Hono's behaviour: an `HTTPException`'s own response, else a
 * logged 500).
 *
 * @example
 * app.onError(tenantryErrorHandler());
 */
export function tenantryErrorHandler(fallback?: ErrorHandler): ErrorHandler {
  return (err, c) => {
    if (isTenantryError(err)) return problem(c, err);
    if (fallback !== undefined) return fallback(err, c);
    if (typeof (err as { getResponse?: unknown }).getResponse === 'function') return (err as { getResponse(): Response }).getResponse();
    console.error(err);
    return c.text('Internal Server Error', 500);
  };
}

function problem(c: Context, error: TenantryError): Response {
  const { status, headers, body } = toProblem(error);
  return c.body(body, status as 400, headers);
}
