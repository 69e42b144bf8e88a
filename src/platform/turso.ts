/**
 * The Turso Platform API client (`tursoPlatform`, from `tenantry/turso`), plus the platform
 * error helpers both platforms share (`PlatformResponseError`, `platformErrorStatus`,
 * `isPlatformConflict`). Portable: it needs `fetch`, `AbortSignal.timeout` and zod, nothing
 * Node-only, so the local platform imports its helpers from here and not the other way round.
 */
import { z } from 'zod';
import { TenantryError, isTenantryError } from '../errors/index.js';
import { TenantRegionSchema } from '../protocol/index.js';
import type { TenantRegion } from '../protocol/index.js';
import { assertDatabaseName } from './types.js';
import type { CreateDatabaseInput, CreateTokenOptions, ITursoPlatformService, PlatformDatabase, PlatformUsage } from './types.js';

// ---------------------------------------------------------------------------------------------
// Shared platform error helpers
// ---------------------------------------------------------------------------------------------

/**
 * What a platform answered when it refused a request: the `cause` of a `PLATFORM_ERROR` that
 * has a status (Turso's HTTP status, or the local platform's equivalent: 404 unknown
 * database, 409 name taken). Read it with {@link platformErrorStatus}.
 */
export class PlatformResponseError extends Error {
  /** HTTP status the platform answered with (or the local equivalent). */
  readonly status: number;

  constructor(status: number, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PlatformResponseError';
    this.status = status;
  }
}

/**
 * The platform's status behind a `PLATFORM_ERROR` (e.g. 404, 409, 422, 429, 503), or
 * `undefined` when `err` is something else or failed without an answer (network, timeout).
 * Works across duplicated copies of tenantry (duck-typed).
 *
 * @example
 * try { await platform.createDatabase({ name }) } catch (err) {
 *   if (platformErrorStatus(err) === 409) ... // the name is taken
 * }
 */
export function platformErrorStatus(err: unknown): number | undefined {
  if (!isTenantryError(err) || err.code !== 'PLATFORM_ERROR') return undefined;
  const cause: unknown = err.cause;
  if (typeof cause !== 'object' || cause === null) return undefined;
  const { name, status } = cause as { name?: unknown; status?: unknown };
  return name === 'PlatformResponseError' && typeof status === 'number' ? status : undefined;
}

/**
 * True when `err` is the `PLATFORM_ERROR` of a `createDatabase` whose name already exists
 * (status 409). Turso's 422 ("name not available") is not a conflict: the name may be
 * unusable for other reasons, and the database is not one of yours.
 *
 * @example
 * try { await platform.createDatabase({ name: 'acme' }) } catch (err) {
 *   if (!isPlatformConflict(err)) throw err;
 *   const existing = await platform.getDatabase('acme'); // decide whether it is yours
 * }
 */
export function isPlatformConflict(err: unknown): boolean {
  return platformErrorStatus(err) === 409;
}

/** Token lifetimes both platforms accept: `never`, or a sequence of `<n><unit>` (`1h`, `2w1d`, `30m`). */
export const TOKEN_EXPIRATION_PATTERN = /^(?:never|(?:\d+[smhdw])+)$/;

/** Checks `createToken` options (shared by the platforms); a `TypeError` naming the option. */
export function resolveTokenOptions(options: CreateTokenOptions | undefined): Required<CreateTokenOptions> {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new TypeError('createToken: options must be an object');
  }
  const authorization = options?.authorization ?? 'full-access';
  if (authorization !== 'full-access' && authorization !== 'read-only') {
    throw new TypeError("createToken: options.authorization must be 'full-access' or 'read-only'");
  }
  const expiration = options?.expiration ?? 'never';
  if (typeof expiration !== 'string' || !TOKEN_EXPIRATION_PATTERN.test(expiration)) {
    throw new TypeError("createToken: options.expiration must be 'never' or a duration like '30m', '12h', '30d', '2w1d'");
  }
  return { authorization, expiration };
}

// ---------------------------------------------------------------------------------------------
// tursoPlatform
// ---------------------------------------------------------------------------------------------

/** Options of {@link tursoPlatform}. */
export interface TursoPlatformOptions {
  /** Organization slug (the `{org}` of `/v1/organizations/{org}`). Required. */
  organization: string;
  /**
   * Platform API token (`turso auth api-tokens mint`), sent as `Authorization: Bearer`.
   * Required: there is no mock mode. It never appears in an error message or `cause`.
   */
  apiToken: string;
  /** Group new databases go to when neither the input nor `groups` names one. */
  group?: string;
  /** Group per tenant region (`{ 'eu-west': 'europe' }`), used when the input has a `region`. */
  groups?: Partial<Record<TenantRegion, string>>;
  /** API origin (and optional base path). Default `'https://api.turso.tech'`. */
  baseUrl?: string;
  /** The `fetch` to use. Default: the global `fetch`, looked up at each call. */
  fetch?: typeof fetch;
  /** Retries after a 408, 429, 5xx, network error or timeout (0 = none). Default `3`. */
  retries?: number;
  /** Time limit of each attempt, in ms (the body included). Default `10_000`. */
  timeoutMs?: number;
  /** How to wait between attempts. Default: `setTimeout`. Tests pass a recorder. */
  sleep?: (ms: number) => Promise<void>;
}

/** The client {@link tursoPlatform} returns. */
export interface TursoPlatform extends ITursoPlatformService {
  /** The organization this client manages. */
  readonly organization: string;
  /** Usage totals of a database (`GET /databases/{db}/usage`). */
  getUsage(name: string): Promise<PlatformUsage>;
}

interface ResolvedTursoOptions {
  organization: string;
  apiToken: string;
  group: string | undefined;
  groups: Partial<Record<TenantRegion, string>>;
  baseUrl: string;
  fetch: typeof fetch;
  retries: number;
  timeoutMs: number;
  sleep: (ms: number) => Promise<void>;
}

const OPTION_KEYS: ReadonlySet<string> = new Set([
  'organization',
  'apiToken',
  'group',
  'groups',
  'baseUrl',
  'fetch',
  'retries',
  'timeoutMs',
  'sleep',
]);

const DEFAULT_BASE_URL = 'https://api.turso.tech';
const DEFAULT_RETRIES = 3;
const DEFAULT_TIMEOUT_MS = 10_000;
const BACKOFF_BASE_MS = 200;
const BACKOFF_CAP_MS = 5_000;
const RETRY_AFTER_CAP_MS = 30_000;

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.trim().length > 0;
}

function resolveOptions(options: TursoPlatformOptions): ResolvedTursoOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError('tursoPlatform: options must be an object with `organization` and `apiToken`');
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new TypeError(`tursoPlatform: unknown option ${key}`);
  }
  if (!isNonEmptyString(options.organization)) {
    throw new TypeError('tursoPlatform: options.organization must be the organization slug (a non-empty string)');
  }
  if (options.organization === '.' || options.organization === '..') {
    // encodeURIComponent keeps dots, and a `.` or `..` segment would move the request path
    throw new TypeError('tursoPlatform: options.organization must be the organization slug, not "." or ".."');
  }
  if (!isNonEmptyString(options.apiToken)) {
    throw new TypeError('tursoPlatform: options.apiToken is required (a Turso Platform API token); there is no mock mode');
  }
  if (options.group !== undefined && !isNonEmptyString(options.group)) {
    throw new TypeError('tursoPlatform: options.group must be a non-empty string');
  }
  const groups: Partial<Record<TenantRegion, string>> = {};
  if (options.groups !== undefined) {
    if (typeof options.groups !== 'object' || options.groups === null || Array.isArray(options.groups)) {
      throw new TypeError('tursoPlatform: options.groups must be an object of region → group name');
    }
    for (const [region, group] of Object.entries(options.groups)) {
      const parsed = TenantRegionSchema.safeParse(region);
      if (!parsed.success) {
        throw new TypeError(`tursoPlatform: options.groups has an unknown region "${region}" (one of ${TenantRegionSchema.options.join(', ')})`);
      }
      if (group === undefined) continue;
      if (!isNonEmptyString(group)) throw new TypeError(`tursoPlatform: options.groups["${region}"] must be a non-empty string`);
      groups[parsed.data] = group;
    }
  }
  const baseUrl = resolveBaseUrl(options.baseUrl);
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new TypeError('tursoPlatform: options.fetch must be a fetch function');
  }
  if (options.fetch === undefined && typeof globalThis.fetch !== 'function') {
    throw new TypeError('tursoPlatform: no global fetch in this runtime; pass options.fetch');
  }
  const retries = options.retries ?? DEFAULT_RETRIES;
  if (!Number.isSafeInteger(retries) || retries < 0) {
    throw new TypeError('tursoPlatform: options.retries must be an integer >= 0');
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError('tursoPlatform: options.timeoutMs must be a finite number of ms greater than 0');
  }
  if (options.sleep !== undefined && typeof options.sleep !== 'function') {
    throw new TypeError('tursoPlatform: options.sleep must be a function (ms) => Promise<void>');
  }
  const customFetch = options.fetch;
  return {
    organization: options.organization,
    apiToken: options.apiToken,
    group: options.group,
    groups,
    baseUrl,
    // looked up at each call, so a fetch installed later (an interceptor, a polyfill) is used
    fetch: customFetch ?? ((input, init) => globalThis.fetch(input, init)),
    retries,
    timeoutMs,
    sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
  };
}

function resolveBaseUrl(value: unknown): string {
  if (value === undefined) return DEFAULT_BASE_URL;
  let url: URL;
  try {
    if (typeof value !== 'string') throw new TypeError('not a string');
    url = new URL(value);
  } catch {
    throw new TypeError('tursoPlatform: options.baseUrl must be an absolute http(s) URL');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new TypeError('tursoPlatform: options.baseUrl must be an http(s) URL without credentials, query or fragment');
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

// Response shapes (DESIGN.md, "Facts about the parts we build on"). Unknown fields are dropped.
const DatabaseSchema = z.object({
  Name: z.string().min(1),
  DbId: z.string().min(1),
  Hostname: z.string().min(1),
  group: z.string().optional(),
});
const DatabaseResponseSchema = z.object({ database: DatabaseSchema });
const DatabaseListSchema = z.object({ databases: z.array(DatabaseSchema) });
const TokenResponseSchema = z.object({ jwt: z.string().min(1) });
const UsageTotalsSchema = z.object({
  storage_bytes: z.number().nonnegative().optional(),
  rows_read: z.number().nonnegative().optional(),
  rows_written: z.number().nonnegative().optional(),
});
const UsageResponseSchema = z.object({
  database: z
    .object({ total: UsageTotalsSchema.optional(), usage: UsageTotalsSchema.optional() })
    .refine((db) => db.total !== undefined || db.usage !== undefined, { message: 'expected usage totals under `total` or `usage`' }),
});
const ErrorBodySchema = z.object({ error: z.string() });

type TursoDatabase = z.infer<typeof DatabaseSchema>;

interface RequestSpec {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path segments under `/v1/organizations/{org}`, each encoded here. */
  segments: readonly string[];
  query?: Record<string, string>;
  body?: unknown;
  /** Resolve `undefined` on 404 instead of failing (set by `find` and `deleteDatabase`). */
  allowNotFound?: boolean;
}

/** The outcome of one attempt that did not succeed. */
interface AttemptFailure {
  detail: string;
  cause: unknown;
  retryable: boolean;
  retryAfterMs: number | undefined;
}

/**
 * A client of the Turso Platform API, implementing the protocol's `ITursoPlatformService`.
 *
 * - Endpoints under `/v1/organizations/{org}`: `POST /databases`, `GET /databases[?group=]`,
 *   `GET|DELETE /databases/{db}`, `POST /databases/{db}/auth/tokens`, `POST
 *   /databases/{db}/auth/rotate`, `GET /databases/{db}/usage`. Every path segment is
 *   `encodeURIComponent`ed, every response checked with zod (a shape mismatch is a
 *   `PLATFORM_ERROR` naming the field).
 * - Database names are checked before anything is sent (`TypeError`).
 * - The group of a new database: `input.group`, else `groups[input.region]`, else `group`,
 *   else a `TypeError` before anything is sent.
 * - Failures are `TenantryError` `PLATFORM_ERROR` with the message `Turso API <METHOD> <path>:
 *   <status> <message>` and a {@link PlatformResponseError} (its `status`) as `cause`.
 *   `getDatabase` resolves `undefined` on 404, `deleteDatabase` resolves on 404.
 * - 408, 429, 5xx, network errors and timeouts (`timeoutMs` per attempt) are retried up to
 *   `retries` times: 200 ms × 2^n with jitter, at most 5 s, or the `Retry-After` the API sent
 *   (at most 30 s). Other 4xx are not retried.
 * - Retrying `POST /databases` after a timeout can meet the database the first attempt made:
 *   that surfaces as the usual 409 (`isPlatformConflict(err)`), and the caller (the
 *   provisioning layer) decides whether the existing database is its own.
 * - The API token is sent only in the `Authorization` header: it is not a property of the
 *   client and is scrubbed from anything that becomes an error.
 *
 * @example
 * import { tursoPlatform } from 'tenantry/turso';
 * const platform = tursoPlatform({
 *   organization: 'acme-corp',
 *   apiToken: process.env.TURSO_API_TOKEN!,
 *   group: 'default',
 *   groups: { 'eu-west': 'europe' },
 * });
 * const db = await platform.createDatabase({ name: 'tenant-a', region: 'eu-west' });
 * const token = await platform.createToken('tenant-a', { expiration: '30d' });
 */
export function tursoPlatform(options: TursoPlatformOptions): TursoPlatform {
  const config = resolveOptions(options);
  const orgPath = `/v1/organizations/${encodeURIComponent(config.organization)}`;

  /** Removes the API token from text that may end up in an error. */
  const redact = (text: string): string => text.split(config.apiToken).join('[redacted]');

  /** The cause to keep: `err` itself, unless the API token shows anywhere in its chain. */
  const safeCause = (err: unknown): unknown => (mentionsToken(err, config.apiToken, 0) ? scrubbed(err, redact) : err);

  async function attempt(spec: RequestSpec, url: string): Promise<{ ok: true; text: string | undefined } | { ok: false; failure: AttemptFailure }> {
    const signal = AbortSignal.timeout(config.timeoutMs);
    const headers: Record<string, string> = { authorization: `Bearer ${config.apiToken}`, accept: 'application/json' };
    if (spec.body !== undefined) headers['content-type'] = 'application/json';
    try {
      const response = await config.fetch(url, {
        method: spec.method,
        headers,
        ...(spec.body === undefined ? {} : { body: JSON.stringify(spec.body) }),
        signal,
      });
      const text = await response.text(); // under the same time limit
      if (response.ok) return { ok: true, text };
      if (response.status === 404 && spec.allowNotFound === true) return { ok: true, text: undefined };
      const message = redact(errorMessage(text, response.statusText));
      const status = response.status;
      return {
        ok: false,
        failure: {
          detail: `${status} ${message}`,
          cause: new PlatformResponseError(status, message),
          retryable: status === 408 || status === 429 || status >= 500,
          retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), Date.now()),
        },
      };
    } catch (err) {
      const timedOut = signal.aborted;
      return {
        ok: false,
        failure: {
          detail: timedOut ? `timed out after ${config.timeoutMs} ms` : `network error: ${redact(describeError(err))}`,
          cause: safeCause(err),
          retryable: true,
          retryAfterMs: undefined,
        },
      };
    }
  }

  const pathOf = (spec: RequestSpec): string => `${orgPath}${spec.segments.map((s) => `/${encodeURIComponent(s)}`).join('')}`;

  /**
   * Sends a request, retrying what may succeed later. Resolves the body text, or `undefined`
   * on a 404 the spec allows.
   */
  async function send(spec: RequestSpec): Promise<string | undefined> {
    const path = pathOf(spec);
    const query = spec.query === undefined ? '' : new URLSearchParams(spec.query).toString();
    const url = `${config.baseUrl}${path}${query === '' ? '' : `?${query}`}`;
    for (let n = 0; ; n++) {
      const result = await attempt(spec, url);
      if (result.ok) return result.text;
      const { failure } = result;
      if (!failure.retryable || n >= config.retries) {
        const attempts = n + 1;
        throw new TenantryError(
          'PLATFORM_ERROR',
          `Turso API ${spec.method} ${path}: ${failure.detail}${attempts > 1 ? ` (after ${attempts} attempts)` : ''}`,
          {
            cause: failure.cause,
            ...(failure.retryAfterMs === undefined ? {} : { retryAfterSeconds: Math.ceil(failure.retryAfterMs / 1000) }),
          },
        );
      }
      await config.sleep(failure.retryAfterMs ?? backoffMs(n));
    }
  }

  /** The body parsed as JSON and checked against `schema`. */
  function parse<T>(spec: RequestSpec, text: string, schema: z.ZodType<T>): T {
    const where = `Turso API ${spec.method} ${pathOf(spec)}`;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new TenantryError('PLATFORM_ERROR', `${where}: the response is not JSON`, { cause: safeCause(err) });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const at = issue === undefined || issue.path.length === 0 ? 'response' : issue.path.join('.');
      throw new TenantryError('PLATFORM_ERROR', `${where}: unexpected response: ${at}: ${issue?.message ?? 'invalid'}`, {
        cause: parsed.error,
      });
    }
    return parsed.data;
  }

  /** A request whose 404 is an error, its JSON body checked. */
  async function request<T>(spec: RequestSpec, schema: z.ZodType<T>): Promise<T> {
    const text = await send({ ...spec, allowNotFound: false });
    return parse(spec, text ?? '', schema);
  }

  /** A request whose 404 resolves `undefined`, its JSON body checked otherwise. */
  async function find<T>(spec: RequestSpec, schema: z.ZodType<T>): Promise<T | undefined> {
    const text = await send({ ...spec, allowNotFound: true });
    return text === undefined ? undefined : parse(spec, text, schema);
  }

  const toDatabase = (db: TursoDatabase, group: string | undefined): PlatformDatabase => ({
    name: db.Name,
    id: db.DbId,
    hostname: db.Hostname,
    url: `libsql://${db.Hostname}`,
    group: db.group ?? group,
  });

  function groupFor(input: CreateDatabaseInput): string {
    if (input.group !== undefined) {
      if (!isNonEmptyString(input.group)) throw new TypeError('createDatabase: input.group must be a non-empty string');
      return input.group;
    }
    if (input.region !== undefined) {
      const region = TenantRegionSchema.safeParse(input.region);
      if (!region.success) throw new TypeError(`createDatabase: unknown region "${String(input.region)}"`);
      const group = config.groups[region.data] ?? config.group;
      if (group === undefined) {
        throw new TypeError(`tursoPlatform: no group for region "${region.data}": pass input.group, or set options.groups["${region.data}"] or options.group`);
      }
      return group;
    }
    if (config.group === undefined) {
      throw new TypeError('tursoPlatform: no group for the new database: pass input.group or input.region, or set options.group');
    }
    return config.group;
  }

  return {
    organization: config.organization,

    async createDatabase(input) {
      if (typeof input !== 'object' || input === null) throw new TypeError('createDatabase: input must be an object with a name');
      assertDatabaseName(input.name);
      const group = groupFor(input);
      if (input.sizeLimit !== undefined && !isNonEmptyString(input.sizeLimit)) {
        throw new TypeError("createDatabase: input.sizeLimit must be a size like '500mb'");
      }
      const body = { name: input.name, group, ...(input.sizeLimit === undefined ? {} : { size_limit: input.sizeLimit }) };
      const res = await request({ method: 'POST', segments: ['databases'], body }, DatabaseResponseSchema);
      return toDatabase(res.database, group);
    },

    async deleteDatabase(name) {
      assertDatabaseName(name);
      await send({ method: 'DELETE', segments: ['databases', name], allowNotFound: true });
    },

    async listDatabases(filter) {
      if (filter !== undefined && (typeof filter !== 'object' || filter === null)) throw new TypeError('listDatabases: filter must be an object');
      if (filter?.group !== undefined && !isNonEmptyString(filter.group)) throw new TypeError('listDatabases: filter.group must be a non-empty string');
      const res = await request(
        { method: 'GET', segments: ['databases'], ...(filter?.group === undefined ? {} : { query: { group: filter.group } }) },
        DatabaseListSchema,
      );
      return res.databases.map((db) => toDatabase(db, undefined)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    async getDatabase(name) {
      assertDatabaseName(name);
      const res = await find({ method: 'GET', segments: ['databases', name] }, DatabaseResponseSchema);
      return res === undefined ? undefined : toDatabase(res.database, undefined);
    },

    async createToken(name, tokenOptions) {
      assertDatabaseName(name);
      const { authorization, expiration } = resolveTokenOptions(tokenOptions);
      const res = await request(
        { method: 'POST', segments: ['databases', name, 'auth', 'tokens'], query: { expiration, authorization } },
        TokenResponseSchema,
      );
      return res.jwt;
    },

    async revokeTokens(name) {
      assertDatabaseName(name);
      await send({ method: 'POST', segments: ['databases', name, 'auth', 'rotate'] }); // an empty 200 body is success
    },

    async getUsage(name) {
      assertDatabaseName(name);
      const res = await request({ method: 'GET', segments: ['databases', name, 'usage'] }, UsageResponseSchema);
      const totals = res.database.total ?? res.database.usage;
      return { storageBytes: totals?.storage_bytes, rowsRead: totals?.rows_read, rowsWritten: totals?.rows_written };
    },
  };
}

/** The API's `{ "error": msg }`, else the start of the body, else the status text. */
function errorMessage(text: string, statusText: string): string {
  try {
    const parsed = ErrorBodySchema.safeParse(JSON.parse(text));
    if (parsed.success && parsed.data.error.trim() !== '') return parsed.data.error;
  } catch {
    // not JSON: fall through
  }
  const trimmed = text.trim().replace(/\s+/g, ' ');
  if (trimmed !== '') return trimmed.length > 200 ? `${trimmed.slice(0, 200)}…` : trimmed;
  return statusText.trim() === '' ? '(no message)' : statusText;
}

/** `Retry-After` in ms (delay seconds or an HTTP date), at most 30 s; `undefined` when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) return Math.min(RETRY_AFTER_CAP_MS, Math.round(Number(trimmed) * 1000));
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.min(RETRY_AFTER_CAP_MS, Math.max(0, date - now));
}

/** Wait before retry `n` (0-based): 200 ms × 2^n capped at 5 s, the upper half jittered. */
function backoffMs(n: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** n);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}

/** True when `token` shows in the message, stack or cause chain of `err`. */
function mentionsToken(err: unknown, token: string, depth: number): boolean {
  if (depth > 5 || err === null || err === undefined) return false;
  if (typeof err === 'string') return err.includes(token);
  if (typeof err !== 'object') return String(err).includes(token);
  const e = err as { message?: unknown; stack?: unknown; cause?: unknown };
  if (typeof e.message === 'string' && e.message.includes(token)) return true;
  if (typeof e.stack === 'string' && e.stack.includes(token)) return true;
  try {
    if (JSON.stringify(err)?.includes(token)) return true;
  } catch {
    return true; // cannot tell: do not keep it
  }
  return mentionsToken(e.cause, token, depth + 1);
}

/** A stand-in for an error that mentioned the API token: same name, redacted message, no cause. */
function scrubbed(err: unknown, redact: (text: string) => string): Error {
  const copy = new Error(redact(err instanceof Error ? err.message : String(err)));
  copy.name = err instanceof Error ? err.name : 'Error';
  copy.stack = `${copy.name}: ${copy.message}`;
  return copy;
}
