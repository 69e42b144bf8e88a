/**
 * Helpers of the security tests (test/security-*.test.ts): bounded concurrency, random small
 * delays, raw HTTP requests over a socket (to send bytes a well-behaved client refuses to send),
 * one app per adapter whose handler reports what its framework saw, and the check that an
 * answer is a documented problem+json.
 */
import { createServer } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { expect } from 'vitest';
import { ERROR_STATUS, getTenant, getTenantClient, isTenantryError } from '../../src/index.js';
import type { Tenantry, TenantryErrorCode } from '../../src/index.js';
import { tenancy as honoTenancy, tenantryErrorHandler as honoErrors } from '../../src/middleware/hono.js';
import { tenancy as expressTenancy, tenantryErrorHandler } from '../../src/middleware/express.js';
import { tenancy as fastifyTenancy } from '../../src/middleware/fastify.js';
import type { AdapterKind } from './adapters.js';

/** Resolves after 0–`maxMs` ms: a macrotask hop, or a timer of a random length. */
export function randomDelay(maxMs: number): Promise<void> {
  const ms = Math.random() * maxMs;
  if (ms < maxMs / 3) return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `task(0..count-1)` with at most `concurrency` tasks in flight; resolves their results in order. */
export async function runConcurrently<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

/** An HTTP answer in plain values. */
export interface RawAnswer {
  status: number;
  /** Lowercased header names. */
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `head` (request line and header lines, without the final blank line; `\r\n` added
 * between lines) as raw bytes — UTF-8 for characters above 0x7F, as a careless client would —
 * and reads the answer until the server closes the connection. Any byte may be sent: CR, LF,
 * NUL, non-ASCII, an unencoded path.
 */
export function rawHttp(port: number, lines: string[]): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // a server that answered and closed may reset the rest of the request: keep the answer
      if (chunks.length > 0 && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) return;
      reject(err);
    });
    socket.on('close', () => {
      try {
        resolve(parseAnswer(Buffer.concat(chunks)));
      } catch (err) {
        reject(err);
      }
    });
    socket.write(Buffer.from([...lines, 'Connection: close', '', ''].join('\r\n'), 'utf8'));
  });
}

function parseAnswer(bytes: Buffer): RawAnswer {
  const text = bytes.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) throw new Error(`not an HTTP answer: ${JSON.stringify(text.slice(0, 200))}`);
  const [statusLine, ...headerLines] = text.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = bytes.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
  // only the first answer: bytes after a CR or LF in a value may have made a second request
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  return { status, headers, body: body.toString('utf8') };
}

function dechunk(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd === -1) break;
    const size = parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) break;
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** What a handler saw, as its framework presents the request, and the tenant it ran as. */
export interface Seen {
  /** `getTenant().tenantId` when the handler started, and after awaiting the database. */
  tenant: string;
  tenantAfter: string;
  /** The tenant's marker rows. */
  markers: string[];
  /** Host as the framework reports it (`Host` header, or the URL's host when there is none). */
  host: string | null;
  /** The `x-tenant-id` header as the framework reports it. */
  header: string | null;
  /** The path the framework routes on. */
  path: string;
}

/** An answer, and whether the handler ran for this very request. */
export interface ProbedAnswer extends RawAnswer {
  ran: boolean;
}

/** An app of one adapter, reporting {@link Seen} from every route. */
export interface ReportingApp {
  kind: AdapterKind;
  /**
   * Sends a request, with an `x-probe` header of its own that the handler records, so `ran`
   * says whether the handler ran for this request (not for another one in flight). Hono and
   * fetch: a `Request` to `http://localhost<path>` with `headers`, each value as the latin1
   * text of its UTF-8 bytes (what a Node server reads); throws a `TypeError` when `Request`
   * refuses a value (CR, LF, NUL). Express and Fastify: raw bytes over a socket (see
   * {@link rawHttp}), so anything can be sent.
   */
  send(path: string, headers: ReadonlyArray<[string, string]>): Promise<ProbedAnswer>;
  close(): Promise<void>;
}

let probes = 0;

async function report(framework: { host: string | null; header: string | null; path: string }): Promise<Seen> {
  const tenant = getTenant().tenantId;
  await randomDelay(1);
  const db = await getTenantClient();
  const { rows } = await db.execute('select tenant from marker');
  return { tenant, tenantAfter: getTenant().tenantId, markers: rows.map((r) => String(r['tenant'])), ...framework };
}

/** The host of an absolute URL, or `null`. */
function urlHost(url: string): string | null {
  try {
    return new URL(url).host || null;
  } catch {
    return null;
  }
}

/** One app per adapter, every route answering with {@link Seen} (status 200). */
export async function reportingApp(kind: AdapterKind, tenantry: Tenantry): Promise<ReportingApp> {
  /** Probes of the requests the handler ran for. */
  const ran = new Set<string>();
  const record = (probe: string | string[] | null | undefined): void => {
    if (typeof probe === 'string') ran.add(probe);
  };
  const probed = async (headers: ReadonlyArray<[string, string]>, send: (headers: Array<[string, string]>) => Promise<RawAnswer>): Promise<ProbedAnswer> => {
    const probe = `p${++probes}`;
    const answer = await send([['x-probe', probe], ...headers]); // first: a CR or LF in a later value cannot cut it off
    return { ...answer, ran: ran.delete(probe) };
  };
  const fetchLike = (handle: (request: Request) => Promise<Response>): ReportingApp => ({
    kind,
    send: (path, headers) =>
      probed(headers, async (all) => {
        // Headers only take byte strings: send what a server reads from UTF-8 bytes (latin1 text)
        const bytes = all.map(([name, value]): [string, string] => [name, Buffer.from(value, 'utf8').toString('latin1')]);
        const request = new Request(`http://localhost${path}`, { headers: bytes });
        return plain(await handle(request));
      }),
    close: async () => {},
  });

  if (kind === 'hono') {
    const app = new Hono();
    app.onError(honoErrors());
    app.use('*', honoTenancy(tenantry));
    app.all('*', async (c) => {
      record(c.req.header('x-probe'));
      return c.json(await report({ host: c.req.header('host') ?? urlHost(c.req.url), header: c.req.header('x-tenant-id') ?? null, path: c.req.path }));
    });
    return fetchLike(async (request) => app.request(request));
  }

  if (kind === 'fetch') {
    return fetchLike((request) =>
      tenantry.handle(request, async (req) => {
        record(req.headers.get('x-probe'));
        return Response.json(await report({ host: req.headers.get('host') ?? urlHost(req.url), header: req.headers.get('x-tenant-id'), path: new URL(req.url).pathname }));
      }),
    );
  }

  const socketApp = (port: number, close: () => Promise<void>): ReportingApp => ({
    kind,
    send: (path, headers) => probed(headers, (all) => rawHttp(port, [`GET ${path} HTTP/1.1`, ...all.map(([name, value]) => `${name}: ${value}`)])),
    close,
  });

  if (kind === 'express') {
    const app = express();
    app.use(expressTenancy(tenantry));
    app.use(async (req, res, next) => {
      record(req.headers['x-probe']);
      try {
        const host = req.headers.host;
        const header = req.headers['x-tenant-id'];
        res.json(await report({ host: host ?? null, header: typeof header === 'string' ? header : null, path: req.path }));
      } catch (err) {
        next(err);
      }
    });
    app.use(tenantryErrorHandler());
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return socketApp((server.address() as AddressInfo).port, () => new Promise<void>((resolve) => server.close(() => resolve())));
  }

  const app = Fastify();
  await app.register(fastifyTenancy(tenantry));
  app.all('/*', async (request, reply) => {
    record(request.headers['x-probe']);
    const header = request.headers['x-tenant-id'];
    const path = request.url.split('?')[0]!;
    return reply.send(await report({ host: request.headers.host ?? null, header: typeof header === 'string' ? header : null, path }));
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return socketApp((app.server.address() as AddressInfo).port, () => app.close());
}

async function plain(response: Response): Promise<RawAnswer> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return { status: response.status, headers, body: await response.text() };
}

/** The documented codes (DESIGN.md, "Errors") and their statuses. */
export const DOCUMENTED: Readonly<Record<TenantryErrorCode, number>> = ERROR_STATUS;

/**
 * Asserts that `err` is a `TenantryError` with a documented code and the status DESIGN.md
 * gives it, and, when `codes` is given, one of those codes.
 */
export function expectTenantryError(err: unknown, codes?: readonly TenantryErrorCode[]): asserts err is { code: TenantryErrorCode; status: number; message: string } {
  expect(isTenantryError(err), `expected a TenantryError, got ${String(err)}`).toBe(true);
  const { code, status } = err as { code: TenantryErrorCode; status: number };
  expect(Object.keys(DOCUMENTED)).toContain(code);
  expect(status).toBe(DOCUMENTED[code]);
  if (codes !== undefined) expect(codes).toContain(code);
}

/**
 * Asserts that `answer` is an RFC 9457 problem+json with a documented code, whose status is the
 * code's, and whose detail has no control characters (nothing raw from the request is echoed).
 * Returns the code.
 */
export function expectProblem(answer: RawAnswer, codes?: readonly TenantryErrorCode[]): TenantryErrorCode {
  expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
  const problem = JSON.parse(answer.body) as { code: TenantryErrorCode; status: number; detail: string };
  expect(Object.keys(DOCUMENTED)).toContain(problem.code);
  expect(answer.status).toBe(DOCUMENTED[problem.code]);
  expect(problem.status).toBe(answer.status);
  expect(problem.detail).not.toMatch(/[\u0000-\u001f\u007f]/);
  if (codes !== undefined) expect(codes).toContain(problem.code);
  return problem.code;
}

/**
 * True when the answer is the HTTP server's own refusal of a request it could not parse (Node's
 * `400 Bad Request` / `431`, or a framework's 4xx before any middleware ran): not problem+json.
 */
export function isTransportRefusal(answer: RawAnswer): boolean {
  return answer.status >= 400 && answer.status < 500 && !(answer.headers['content-type'] ?? '').startsWith('application/problem+json');
}
