/**
 * One set of routes served through each adapter, so the same assertions run against Hono,
 * Express, Fastify and the fetch handler. Express and Fastify run on a real http.Server on an
 * ephemeral port.
 */
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { TenantryError, getTenant, getTenantClient, tryGetTenant } from '../../src/index.js';
import type { TenancyOptions, Tenantry, TenantryErrorCode } from '../../src/index.js';
import { tenancy as honoTenancy, tenantryErrorHandler as honoErrors } from '../../src/middleware/hono.js';
import { tenancy as expressTenancy, tenantryErrorHandler } from '../../src/middleware/express.js';
import { tenancy as fastifyTenancy } from '../../src/middleware/fastify.js';

export type AdapterKind = 'hono' | 'express' | 'fastify' | 'fetch';
export const ADAPTERS: AdapterKind[] = ['hono', 'express', 'fastify', 'fetch'];

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

export interface Harness {
  request(path: string, init?: { method?: string; headers?: Record<string, string>; body?: string }): Promise<Answer>;
  /** How many times a route handler ran. */
  handlerRuns: number;
  close(): Promise<void>;
}

interface RouteResult {
  status: number;
  body: unknown;
}

/** The framework-neutral routes every adapter serves. */
async function route(method: string, path: string, counter: { runs: number }): Promise<RouteResult> {
  counter.runs++;
  if (path === '/health') return { status: 200, body: { ok: true, tenant: tryGetTenant()?.tenantId ?? null } };
  if (path === '/whoami') return { status: 200, body: { tenant: tryGetTenant()?.tenantId ?? null } };
  if (path.startsWith('/throw/')) {
    throw new TenantryError(path.slice('/throw/'.length) as TenantryErrorCode, 'thrown by the handler');
  }
  if (path === '/notes' || path.startsWith('/t/')) {
    const ctx = getTenant();
    await new Promise((r) => setTimeout(r, Math.random() * 3));
    const db = await getTenantClient();
    const { rows } = await db.execute('select tenant from marker');
    return { status: 200, body: { tenant: ctx.tenantId, requestId: ctx.requestId, source: ctx.source, markers: rows.map((r) => r['tenant']) } };
  }
  if (path === '/write') {
    const db = await getTenantClient();
    try {
      await db.execute({ sql: 'insert into marker (tenant) values (?)', args: ['written'] });
      return { status: 200, body: { written: true } };
    } catch (err) {
      return { status: 500, body: { written: false, error: (err as { code?: string }).code } };
    }
  }
  return { status: 404, body: { error: 'no route' } };
}

export async function harness(kind: AdapterKind, tenantry: Tenantry, options?: TenancyOptions): Promise<Harness> {
  const counter = { runs: 0 };
  const result: Harness = {
    get handlerRuns() {
      return counter.runs;
    },
    set handlerRuns(v: number) {
      counter.runs = v;
    },
  } as Harness;

  if (kind === 'hono') {
    const app = new Hono();
    app.onError(honoErrors());
    app.use('*', honoTenancy(tenantry, options));
    app.all('*', async (c) => {
      const r = await route(c.req.method, c.req.path, counter);
      return c.json(r.body as object, r.status as 200);
    });
    result.request = async (path, init = {}) => {
      const res = await app.request(`http://localhost${path}`, { method: init.method ?? 'GET', headers: init.headers ?? {}, body: init.body });
      return answer(res);
    };
    result.close = async () => {};
    return result;
  }

  if (kind === 'express') {
    const app = express();
    app.use(expressTenancy(tenantry, options));
    app.use(async (req, res, next) => {
      try {
        const r = await route(req.method, req.path, counter);
        res.status(r.status).json(r.body);
      } catch (err) {
        next(err);
      }
    });
    app.use(tenantryErrorHandler());
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    result.request = nodeRequester((server.address() as AddressInfo).port);
    result.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
    return result;
  }

  if (kind === 'fastify') {
    const app = Fastify();
    await app.register(fastifyTenancy(tenantry, options));
    app.all('/*', async (request, reply) => {
      const r = await route(request.method, request.url.split('?')[0]!, counter);
      return reply.code(r.status).send(r.body);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    result.request = nodeRequester((app.server.address() as AddressInfo).port);
    result.close = () => app.close();
    return result;
  }

  result.request = async (path, init = {}) => {
    const req = new Request(`http://localhost${path}`, { method: init.method ?? 'GET', headers: init.headers ?? {}, body: init.body });
    const res = await tenantry.handle(req, async (request) => {
      const r = await route(request.method, new URL(request.url).pathname, counter);
      return Response.json(r.body, { status: r.status });
    });
    return answer(res);
  };
  result.close = async () => {};
  return result;
}

/** Requests over node:http rather than fetch: fetch replaces a custom Host header, and subdomain tests need one. */
function nodeRequester(port: number): Harness['request'] {
  return (path, init = {}) =>
    new Promise<Answer>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers ?? {} }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (typeof value === 'string') headers.set(name, value);
          }
          resolve(answer(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0, headers })));
        });
      });
      req.on('error', reject);
      req.end(init.body);
    });
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body };
}
