/**
 * `tenantry/fastify`: the Fastify adapter (Fastify 5).
 *
 * @example
 * import Fastify from 'fastify';
 * import { getTenantClient } from 'tenantry';
 * import { tenancy, quota } from 'tenantry/fastify';
 *
 * const app = Fastify();
 * await app.register(tenancy(tenantry, { exclude: ['/health'] }));
 * app.get('/notes', async () => (await (await getTenantClient()).execute('select * from notes')).rows);
 * app.post('/notes', { preHandler: quota('maxRecordsPerObject', { object: 'notes' }) }, createNote);
 */
import type {
  FastifyError,
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  onRequestHookHandler,
  preHandlerHookHandler,
} from 'fastify';
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
import { toProblem } from './problem.js';

export type { QuotaMiddlewareOptions, TenancyOptions } from './options.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The runtime context of this request's tenant, set by `tenancy()` (absent on excluded or optional routes). */
    tenant?: TenantRuntimeContext;
  }
}

/** A route's own error handler, as Fastify's `RouteOptions['errorHandler']` declares it. */
type RouteErrorHandler = (this: FastifyInstance, error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void;

/** The path of a request URL: Fastify's `request.url` is the raw target, query string included. */
function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

class FastifyRequestView implements RequestView {
  readonly #request: FastifyRequest;
  readonly path: string;
  constructor(request: FastifyRequest, path: string) {
    this.#request = request;
    this.path = path;
  }
  get method(): string {
    return this.#request.method;
  }
  header(name: string): string | undefined {
    const headers = this.#request.headers;
    const value = headers[name];
    if (typeof value === 'string') return value;
    // HTTP/2 (Fastify with `http2: true`) carries the host in :authority.
    if (name === 'host') {
      const authority = headers[':authority'];
      return typeof authority === 'string' ? authority : undefined;
    }
    return undefined;
  }
}

/**
 * Fastify plugin: resolves the tenant of each request in an `onRequest` hook, refuses it with
 * `application/problem+json` when it cannot be served, and runs the rest of the request (hooks
 * and handler) inside the tenant's scope (`getTenant()`, `getTenantClient()`, `request.tenant`).
 *
 * The plugin is not encapsulated (like a `fastify-plugin` plugin): registered on the root
 * instance it applies to every route, also those registered in other plugins; registered inside
 * a plugin it applies to that plugin's context. Register it once per context, before your
 * routes: a `TenantryError` thrown later by a route's hooks or handler (e.g. `QUOTA_EXCEEDED`
 * from `tenantry.quota.enforce()`) is answered as problem+json with its status by a per-route
 * error handler, and every other error goes on to your `setErrorHandler` or Fastify's default.
 *
 * @param tenantry the instance from `createTenantry()`
 * @param options `optional` (let tenant-less requests through; default false) and `exclude`
 *   (central routes; default none). Invalid options throw a `TypeError` here.
 * @example
 * await app.register(tenancy(tenantry, { exclude: ['/health', '/auth/*'] }));
 * app.get('/me', async (request) => ({ tenant: request.tenant?.tenantId }));
 */
export function tenancy(tenantry: Tenantry, options?: TenancyOptions): FastifyPluginCallback {
  const { optional, excluded } = resolveTenancyOptions(options);

  const onRequest: onRequestHookHandler = function tenancyHook(request, reply, done) {
    const path = pathOf(request.url);
    if (excluded !== undefined && excluded(path)) return done();
    let scope: RequestScope | undefined | Promise<RequestScope | undefined>;
    try {
      scope = tenantry.openScope(new FastifyRequestView(request, path), optional);
    } catch (err) {
      return refuse(err, reply, done);
    }
    if (scope instanceof Promise) {
      scope.then(
        (s) => enter(s, request, reply, done),
        (err: unknown) => refuse(err, reply, done),
      );
      return;
    }
    enter(scope, request, reply, done);
  };

  const plugin: FastifyPluginCallback = function tenantryFastify(fastify, _options, done) {
    // Declared up front so every request object has the same shape (Fastify's advice); this
    // also makes a second registration in the same context fail instead of counting twice.
    fastify.decorateRequest('tenant', undefined);
    fastify.addHook('onRequest', onRequest);
    fastify.addHook('onRoute', (route) => {
      route.errorHandler = routeErrors(route.errorHandler as RouteErrorHandler | undefined);
    });
    done();
  };
  // What fastify-plugin does, without making it a dependency: skip encapsulation, so the hooks
  // land on the context that registers the plugin, and name it for error messages.
  Object.assign(plugin, {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: 'tenantry',
    [Symbol.for('plugin-meta')]: { name: 'tenantry', fastify: '>=5' },
  });
  return plugin;
}

/**
 * Route-level quota hook (`preHandler`): for the listed methods (default POST), enforces quota
 * `name` for the request's tenant before the handler runs (`QUOTA_EXCEEDED`, `RATE_LIMITED` or
 * `STORE_UNAVAILABLE` as problem+json). Needs `tenancy()` on the route.
 *
 * @example
 * app.post('/notes', { preHandler: quota('maxRecordsPerObject', { object: 'notes' }) }, createNote);
 */
export function quota(name: QuotaName, options?: QuotaMiddlewareOptions): preHandlerHookHandler {
  const { methods, check } = resolveQuotaMiddlewareOptions(name, options);
  return function quotaHook(request, reply, done) {
    if (!methods.has(request.method)) return done();
    let service;
    try {
      service = scopeQuota();
    } catch (err) {
      return refuse(err, reply, done);
    }
    service.enforce(name, check).then(
      () => done(),
      (err: unknown) => refuse(err, reply, done),
    );
  };
}

/**
 * A `setErrorHandler` handler that answers `TenantryError`s as problem+json and hands every
 * other error to `fallback` (default: the parent handler, i.e. Fastify's default). `tenancy()`
 * already maps the errors of routes registered after it; use this for routes registered before
 * it or outside its context.
 *
 * @example
 * app.setErrorHandler(tenantryErrorHandler());
 */
export function tenantryErrorHandler(fallback?: RouteErrorHandler): RouteErrorHandler {
  return routeErrors(fallback);
}

function routeErrors(own: RouteErrorHandler | undefined): RouteErrorHandler {
  return function tenantryErrors(this: FastifyInstance, error, request, reply) {
    if (isTenantryError(error) && !reply.sent) {
      send(reply, error);
      return;
    }
    if (own !== undefined) return own.call(this, error, request, reply);
    // Thrown from an error handler, the error goes on to the parent handler.
    throw error;
  };
}

function enter(scope: RequestScope | undefined, request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  if (scope === undefined) return done();
  request.tenant = scope.context;
  const headers = scope.rate?.headers;
  if (headers !== undefined) for (const name in headers) reply.header(name, headers[name]);
  // The rest of the lifecycle (later hooks, body parsing, handler) starts synchronously from
  // done(), so it and everything it awaits runs in the scope.
  runWithTenant(scope, done);
}

function refuse(err: unknown, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  if (!isTenantryError(err)) return done(err as Error);
  send(reply, err);
}

function send(reply: FastifyReply, error: TenantryError): void {
  const { status, headers, body } = toProblem(error);
  reply.code(status).headers(headers).send(body);
}
