/**
 * `tenantry/express`: the Express adapter (Express 4.18+ and 5).
 *
 * @example
 * import { tenancy, tenantryErrorHandler } from 'tenantry/express';
 * app.use(tenancy(tenantry));
 * app.get('/notes', async (req, res) => res.json((await (await getTenantClient()).execute('select * from notes')).rows));
 * app.use(tenantryErrorHandler());
 */
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
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

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The runtime context of this request's tenant, set by `tenancy()`. */
      tenant?: TenantRuntimeContext;
    }
  }
}

class ExpressRequestView implements RequestView {
  readonly #req: Request;
  constructor(req: Request) {
    this.#req = req;
  }
  get method(): string {
    return this.#req.method;
  }
  get path(): string {
    return this.#req.path;
  }
  header(name: string): string | undefined {
    const value = this.#req.headers[name];
    if (typeof value === 'string') return value;
    // HTTP/2 (node:http2 compatibility API) carries the host in :authority.
    if (name === 'host') {
      const authority = this.#req.headers[':authority'];
      return typeof authority === 'string' ? authority : undefined;
    }
    return undefined;
  }
}

/**
 * Express middleware: resolves the tenant of each request, refuses it with
 * `application/problem+json` when it cannot be served, and runs the rest of the chain inside
 * the tenant's scope (`getTenant()`, `getTenantClient()`, `req.tenant`, `res.locals.tenant`).
 *
 * @param tenantry the instance from `createTenantry()`
 * @param options `optional` (let tenant-less requests through) and `exclude` (central routes)
 */
export function tenancy(tenantry: Tenantry, options?: TenancyOptions): RequestHandler {
  const { optional, excluded } = resolveTenancyOptions(options);
  return function tenancyMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (excluded !== undefined && excluded(req.path)) return next();
    let scope: RequestScope | undefined | Promise<RequestScope | undefined>;
    try {
      scope = tenantry.openScope(new ExpressRequestView(req), optional);
    } catch (err) {
      return refuse(err, res, next);
    }
    if (scope instanceof Promise) {
      scope.then(
        (s) => enter(s, req, res, next),
        (err: unknown) => refuse(err, res, next),
      );
      return;
    }
    enter(scope, req, res, next);
  };
}

/**
 * Express error middleware that answers `TenantryError`s thrown by handlers (e.g.
 * `QUOTA_EXCEEDED`, `NO_TENANT_CONTEXT`) as `application/problem+json` and passes every other
 * error on. Register it after your routes.
 */
export function tenantryErrorHandler(): ErrorRequestHandler {
  return function tenantryErrors(err: unknown, _req: Request, res: Response, next: NextFunction): void {
    if (!isTenantryError(err) || res.headersSent) return next(err);
    send(res, err);
  };
}

/**
 * Route-level quota middleware: for the listed methods (default POST), enforces quota `name`
 * for the request's tenant before the handler runs (`QUOTA_EXCEEDED`, `RATE_LIMITED` or
 * `STORE_UNAVAILABLE` as problem+json). Use after `tenancy()`.
 *
 * @example
 * app.post('/notes', quota('maxRecordsPerObject', { object: 'notes' }), createNote);
 */
export function quota(name: QuotaName, options?: QuotaMiddlewareOptions): RequestHandler {
  const { methods, check } = resolveQuotaMiddlewareOptions(name, options);
  return function quotaMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (!methods.has(req.method)) return next();
    let service;
    try {
      service = scopeQuota();
    } catch (err) {
      return refuse(err, res, next);
    }
    service.enforce(name, check).then(
      () => next(),
      (err: unknown) => refuse(err, res, next),
    );
  };
}

function enter(scope: RequestScope | undefined, req: Request, res: Response, next: NextFunction): void {
  if (scope === undefined) return next();
  req.tenant = scope.context;
  res.locals['tenant'] = scope.context;
  const headers = scope.rate?.headers;
  if (headers !== undefined) for (const name in headers) res.setHeader(name, headers[name]!);
  runWithTenant(scope, next);
}

function refuse(err: unknown, res: Response, next: NextFunction): void {
  if (!isTenantryError(err)) return next(err);
  send(res, err);
}

function send(res: Response, error: TenantryError): void {
  const { status, headers, body } = toProblem(error);
  res.status(status).set(headers).send(body);
}
