/**
 * An in-memory fake of the Turso Platform API as msw handlers, following the documented
 * shapes (DESIGN.md, "Facts about the parts we build on"). It keeps databases in a Map,
 * enforces the name rule, answers 409 on duplicates, 404 on unknown databases, 401 without
 * the bearer token, records every request, and can be told to fail or delay requests.
 */
import { randomUUID } from 'node:crypto';
import { HttpResponse, delay, http } from 'msw';
import type { HttpHandler } from 'msw';
import { base64url } from 'jose';

/** Options of {@link FakeTurso}. */
export interface FakeTursoOptions {
  organization: string;
  apiToken: string;
  /** Default `https://api.turso.tech`. */
  baseUrl?: string;
  /** Groups that exist. Default `['default']`. */
  groups?: string[];
  /** Where usage totals go: under `database.total` (OpenAPI) or `database.usage` (official client). Default `total`. */
  usageShape?: 'total' | 'usage';
  /** Clock of `iat` / `exp` and token checks, in ms. Default `Date.now`. */
  now?: () => number;
}

/** A request the fake saw. */
export interface FakeRequest {
  method: string;
  /** Raw (still encoded) path. */
  pathname: string;
  /** Raw query string, with `?`, or `''`. */
  search: string;
  /** Route after `/v1/organizations/{org}/`, segments decoded and joined with `/` (e.g. `databases/acme/usage`). */
  route: string;
  /** Decoded organization segment. */
  organization: string;
  authorization: string | null;
  body: unknown;
}

/** A failure or delay the fake applies to matching requests. */
export interface Injection {
  method?: string;
  /** Matched against `FakeRequest.route`: equal string, or a RegExp. Default: every route. */
  route?: string | RegExp;
  /** Wait this long before answering (a handler slower than the client's timeout). */
  delayMs?: number;
  /** Answer with this status (and `body`, `headers`) instead of handling the request. */
  status?: number;
  /** JSON body, or a string sent as is. Default `{ error: 'injected failure' }` when `status` is set. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Fail at the network level (`fetch` rejects). */
  networkError?: boolean;
  /** How many matching requests this applies to. Default 1. */
  times?: number;
}

interface FakeDatabase {
  Name: string;
  DbId: string;
  Hostname: string;
  group: string;
  /** Token generation: bumped by rotate. */
  generation: number;
  usage: { storage_bytes: number; rows_read: number; rows_written: number };
}

/** Claims in the fake's tokens. */
export interface FakeTokenClaims {
  id: string;
  a: 'rw' | 'ro';
  iat: number;
  exp?: number;
}

const NAME_RULE = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

export class FakeTurso {
  readonly databases = new Map<string, FakeDatabase>();
  readonly requests: FakeRequest[] = [];
  readonly handlers: HttpHandler[];
  readonly #options: Required<Omit<FakeTursoOptions, 'groups'>> & { groups: Set<string> };
  readonly #injections: Injection[] = [];

  constructor(options: FakeTursoOptions) {
    this.#options = {
      baseUrl: 'https://api.turso.tech',
      usageShape: 'total',
      now: Date.now,
      ...options,
      groups: new Set(options.groups ?? ['default']),
    };
    this.handlers = [http.all(`${this.#options.baseUrl}/*`, ({ request }) => this.#handle(request))];
  }

  /** Applies `injection` to the next matching request(s). */
  inject(injection: Injection): this {
    this.#injections.push({ times: 1, ...injection });
    return this;
  }

  /** Sets the usage figures of a database. */
  setUsage(name: string, usage: Partial<FakeDatabase['usage']>): void {
    const db = this.databases.get(name);
    if (db === undefined) throw new Error(`no database ${name}`);
    Object.assign(db.usage, usage);
  }

  /** Sets the usage shape the fake answers with. */
  set usageShape(shape: 'total' | 'usage') {
    this.#options.usageShape = shape;
  }

  /** The claims of a token, as the fake's databases would accept it; throws when it is not valid (any more). */
  verifyToken(name: string, token: string): FakeTokenClaims {
    const db = this.databases.get(name);
    if (db === undefined) throw new Error(`no database ${name}`);
    const [header, payload, signature] = token.split('.');
    if (header === undefined || payload === undefined || signature === undefined) throw new Error('malformed token');
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as FakeTokenClaims & { gen: number };
    if (signature !== `fake-${db.DbId}-${db.generation}`) throw new Error('signature does not verify (rotated or another database)');
    if (claims.exp !== undefined && claims.exp * 1000 <= this.#options.now()) throw new Error('expired');
    const { gen: _gen, ...rest } = claims;
    return rest;
  }

  /** Requests whose route matches. */
  requestsTo(method: string, route: string | RegExp): FakeRequest[] {
    return this.requests.filter((r) => r.method === method && (typeof route === 'string' ? r.route === route : route.test(r.route)));
  }

  async #handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const base = new URL(this.#options.baseUrl);
    const rawPath = url.pathname.slice(base.pathname.replace(/\/$/, '').length);
    const segments = rawPath.split('/').slice(1).map((s) => decodeURIComponent(s));
    const text = await request.text();
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = text;
    }
    const organization = segments[2] ?? '';
    const record: FakeRequest = {
      method: request.method,
      pathname: url.pathname,
      search: url.search,
      route: segments.slice(3).join('/'),
      organization,
      authorization: request.headers.get('authorization'),
      body,
    };
    this.requests.push(record);

    const injection = this.#injections.find(
      (i) =>
        (i.times ?? 1) > 0 &&
        (i.method === undefined || i.method === record.method) &&
        (i.route === undefined || (typeof i.route === 'string' ? i.route === record.route : i.route.test(record.route))),
    );
    if (injection !== undefined) {
      injection.times = (injection.times ?? 1) - 1;
      if (injection.delayMs !== undefined) await delay(injection.delayMs);
      if (injection.networkError === true) return HttpResponse.error();
      if (injection.status !== undefined) {
        const payload = injection.body ?? { error: 'injected failure' };
        return typeof payload === 'string'
          ? new HttpResponse(payload, { status: injection.status, headers: injection.headers })
          : HttpResponse.json(payload, { status: injection.status, headers: injection.headers });
      }
    }

    if (record.authorization !== `Bearer ${this.#options.apiToken}`) return error(401, 'unauthorized: invalid or missing API token');
    if (segments[0] !== 'v1' || segments[1] !== 'organizations') return error(404, 'not found');
    if (organization !== this.#options.organization) return error(403, `no access to organization ${organization}`);
    return this.#route(request.method, segments.slice(3), url.searchParams, body);
  }

  #route(method: string, route: string[], query: URLSearchParams, body: unknown): Response {
    const [collection, name, sub, action] = route;
    if (collection !== 'databases') return error(404, 'not found');
    if (name === undefined) {
      if (method === 'POST') return this.#create(body);
      if (method === 'GET') {
        const group = query.get('group');
        const list = [...this.databases.values()].filter((db) => group === null || db.group === group);
        return HttpResponse.json({ databases: list.map((db) => this.#view(db)) });
      }
      return error(405, 'method not allowed');
    }
    const db = this.databases.get(name);
    if (db === undefined) return error(404, `database ${name} not found`);
    if (sub === undefined) {
      if (method === 'GET') return HttpResponse.json({ database: this.#view(db) });
      if (method === 'DELETE') {
        this.databases.delete(name);
        return HttpResponse.json({ database: name });
      }
      return error(405, 'method not allowed');
    }
    if (sub === 'usage' && method === 'GET' && action === undefined) {
      return HttpResponse.json({ database: { uuid: db.DbId, instances: [], [this.#options.usageShape]: { ...db.usage, bytes_synced: 0 } } });
    }
    if (sub === 'auth' && method === 'POST' && action === 'rotate') {
      db.generation += 1;
      return new HttpResponse(null, { status: 200 });
    }
    if (sub === 'auth' && method === 'POST' && action === 'tokens') return this.#token(db, query);
    return error(404, 'not found');
  }

  #create(body: unknown): Response {
    const input = (typeof body === 'object' && body !== null ? body : {}) as { name?: unknown; group?: unknown };
    if (typeof input.name !== 'string' || !NAME_RULE.test(input.name)) return error(400, 'invalid database name');
    if (typeof input.group !== 'string' || !this.#options.groups.has(input.group)) return error(400, `group ${String(input.group)} does not exist`);
    if (this.databases.has(input.name)) return error(409, `database with name ${input.name} already exists`);
    const db: FakeDatabase = {
      Name: input.name,
      DbId: randomUUID(),
      Hostname: `${input.name}-${this.#options.organization.toLowerCase().replace(/[^a-z0-9-]/g, '')}.turso.io`,
      group: input.group,
      generation: 0,
      usage: { storage_bytes: 4096, rows_read: 0, rows_written: 0 },
    };
    this.databases.set(db.Name, db);
    return HttpResponse.json({ database: { DbId: db.DbId, Hostname: db.Hostname, Name: db.Name } });
  }

  #token(db: FakeDatabase, query: URLSearchParams): Response {
    const authorization = query.get('authorization') ?? 'full-access';
    const expiration = query.get('expiration') ?? 'never';
    if (authorization !== 'full-access' && authorization !== 'read-only') return error(400, 'invalid authorization');
    if (!/^(?:never|(?:\d+[smhdw])+)$/.test(expiration)) return error(400, 'invalid expiration');
    const iat = Math.floor(this.#options.now() / 1000);
    let lifetime = 0;
    for (const [, n, unit] of expiration.matchAll(/(\d+)([smhdw])/g)) lifetime += Number(n) * (UNIT_SECONDS[unit!] ?? 0);
    const claims = {
      id: db.DbId,
      a: authorization === 'read-only' ? 'ro' : 'rw',
      iat,
      ...(expiration === 'never' ? {} : { exp: iat + lifetime }),
      gen: db.generation,
    };
    const part = (value: unknown) => base64url.encode(JSON.stringify(value));
    return HttpResponse.json({ jwt: `${part({ alg: 'EdDSA', typ: 'JWT' })}.${part(claims)}.fake-${db.DbId}-${db.generation}` });
  }

  #view(db: FakeDatabase) {
    return {
      Name: db.Name,
      DbId: db.DbId,
      Hostname: db.Hostname,
      block_reads: false,
      block_writes: false,
      regions: ['aws-us-east-1'],
      primaryRegion: 'aws-us-east-1',
      type: 'logical',
      version: '0.24.31',
      group: db.group,
      delete_protection: false,
    };
  }
}

function error(status: number, message: string): Response {
  return HttpResponse.json({ error: message }, { status });
}
