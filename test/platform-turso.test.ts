import { inspect } from 'node:util';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isTenantryError } from '../src/errors/index.js';
import { PlatformResponseError, isPlatformConflict, platformErrorStatus, tursoPlatform } from '../src/turso/index.js';
import type { TursoPlatform, TursoPlatformOptions } from '../src/turso/index.js';
import { FakeTurso } from './helpers/fake-turso.js';

const ORG = 'acme-corp';
const API_TOKEN = 'tk_live_SECRET-7f3a9c';

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

let fake: FakeTurso;
let waits: number[];

/** A platform on the fake API that records its waits instead of sleeping. */
function platformWith(options: Partial<TursoPlatformOptions> = {}): TursoPlatform {
  return tursoPlatform({
    organization: ORG,
    apiToken: API_TOKEN,
    group: 'default',
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...options,
  });
}

beforeEach(() => {
  waits = [];
  fake = new FakeTurso({ organization: ORG, apiToken: API_TOKEN, groups: ['default', 'europe', 'asia'] });
  server.use(...fake.handlers);
});

/** The rejection of `promise` (fails the test when it resolves). */
async function failure(promise: Promise<unknown>): Promise<Error & { code?: string; retryAfterSeconds?: number }> {
  const result = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(result instanceof Error)) throw new Error('expected a rejection');
  return result;
}

/** Everything an error could show: message, stack, cause chain, enumerable and hidden properties. */
function serialized(err: unknown): string {
  const parts: string[] = [inspect(err, { depth: Infinity, showHidden: true }), String(err)];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 10; depth++) {
    if (typeof e === 'object') {
      parts.push(JSON.stringify(e, Object.getOwnPropertyNames(e)));
      const { message, stack } = e as { message?: unknown; stack?: unknown };
      parts.push(String(message), String(stack));
    }
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

describe('tursoPlatform requests', () => {
  it('creates a database with POST /databases { name, group, size_limit } and the bearer token', async () => {
    const platform = platformWith();
    const db = await platform.createDatabase({ name: 'tenant-a', sizeLimit: '500mb' });
    expect(db).toEqual({
      name: 'tenant-a',
      id: fake.databases.get('tenant-a')!.DbId,
      hostname: 'tenant-a-acme-corp.turso.io',
      url: 'libsql://tenant-a-acme-corp.turso.io',
      group: 'default',
    });
    const [request] = fake.requests;
    expect(request).toMatchObject({
      method: 'POST',
      pathname: '/v1/organizations/acme-corp/databases',
      search: '',
      authorization: `Bearer ${API_TOKEN}`,
      body: { name: 'tenant-a', group: 'default', size_limit: '500mb' },
    });
  });

  it('picks the group from the input, then the region map, then the default group', async () => {
    const platform = platformWith({ groups: { 'eu-west': 'europe', 'ap-southeast': 'asia' } });
    await platform.createDatabase({ name: 'a', group: 'asia', region: 'eu-west' });
    await platform.createDatabase({ name: 'b', region: 'eu-west' });
    await platform.createDatabase({ name: 'c', region: 'us-east' });
    await platform.createDatabase({ name: 'd' });
    expect(fake.requests.map((r) => (r.body as { group: string }).group)).toEqual(['asia', 'europe', 'default', 'default']);
  });

  it('refuses to create a database with no group for its region, before sending anything', async () => {
    const platform = platformWith({ group: undefined, groups: { 'eu-west': 'europe' } });
    await expect(platform.createDatabase({ name: 'a', region: 'us-east' })).rejects.toThrow(/no group for region "us-east"/);
    await expect(platform.createDatabase({ name: 'a' })).rejects.toThrow(TypeError);
    expect(fake.requests).toHaveLength(0);
  });

  it('lists all databases, or those of one group with ?group=', async () => {
    const platform = platformWith();
    await platform.createDatabase({ name: 'b', group: 'europe' });
    await platform.createDatabase({ name: 'a', group: 'default' });
    expect(await platform.listDatabases()).toEqual([
      expect.objectContaining({ name: 'a', group: 'default' }),
      expect.objectContaining({ name: 'b', group: 'europe', url: 'libsql://b-acme-corp.turso.io' }),
    ]);
    expect((await platform.listDatabases({ group: 'europe' })).map((db) => db.name)).toEqual(['b']);
    expect(fake.requests.at(-1)).toMatchObject({ method: 'GET', pathname: '/v1/organizations/acme-corp/databases', search: '?group=europe' });
  });

  it('asks for tokens with expiration and authorization in the query string', async () => {
    const platform = platformWith();
    await platform.createDatabase({ name: 'acme' });
    await platform.createToken('acme', { authorization: 'read-only', expiration: '2w' });
    await platform.createToken('acme');
    const tokens = fake.requestsTo('POST', 'databases/acme/auth/tokens');
    expect(tokens.map((r) => r.search)).toEqual(['?expiration=2w&authorization=read-only', '?expiration=never&authorization=full-access']);
  });

  it('treats an empty 200 from rotate as success', async () => {
    const platform = platformWith();
    await platform.createDatabase({ name: 'acme' });
    await expect(platform.revokeTokens('acme')).resolves.toBeUndefined();
    expect(fake.databases.get('acme')!.generation).toBe(1);
  });

  it('reads usage totals under database.total and under database.usage', async () => {
    const platform = platformWith();
    await platform.createDatabase({ name: 'acme' });
    fake.setUsage('acme', { storage_bytes: 123_456, rows_read: 7, rows_written: 3 });
    fake.usageShape = 'total';
    expect(await platform.getUsage('acme')).toEqual({ storageBytes: 123_456, rowsRead: 7, rowsWritten: 3 });
    fake.usageShape = 'usage';
    expect(await platform.getUsage('acme')).toEqual({ storageBytes: 123_456, rowsRead: 7, rowsWritten: 3 });
  });

  it('encodes the organization and database segments and the query values', async () => {
    const org = 'my org/with?odd#chars';
    const odd = new FakeTurso({ organization: org, apiToken: API_TOKEN, groups: ['a&b=c'] });
    server.use(...odd.handlers);
    const platform = platformWith({ organization: org, group: 'a&b=c' });
    await platform.createDatabase({ name: 'acme' });
    await platform.listDatabases({ group: 'a&b=c' });
    expect(await platform.getDatabase('acme')).toMatchObject({ name: 'acme' });
    expect(odd.requests.map((r) => `${r.method} ${r.pathname}${r.search}`)).toEqual([
      'POST /v1/organizations/my%20org%2Fwith%3Fodd%23chars/databases',
      'GET /v1/organizations/my%20org%2Fwith%3Fodd%23chars/databases?group=a%26b%3Dc',
      'GET /v1/organizations/my%20org%2Fwith%3Fodd%23chars/databases/acme',
    ]);
    expect(odd.requests.every((r) => r.organization === org)).toBe(true);
  });

  it('keeps a base path of baseUrl', async () => {
    const proxied = new FakeTurso({ organization: ORG, apiToken: API_TOKEN, baseUrl: 'http://proxy.test/turso' });
    server.use(...proxied.handlers);
    const platform = platformWith({ baseUrl: 'http://proxy.test/turso/' });
    await platform.createDatabase({ name: 'acme' });
    expect(proxied.requests[0]?.pathname).toBe('/turso/v1/organizations/acme-corp/databases');
  });
});

describe('tursoPlatform errors', () => {
  it('surfaces 409 on an existing name as PLATFORM_ERROR, without retrying', async () => {
    const platform = platformWith();
    await platform.createDatabase({ name: 'acme' });
    const err = await failure(platform.createDatabase({ name: 'acme' }));
    expect(err).toMatchObject({ code: 'PLATFORM_ERROR' });
    expect(err.message).toBe('Turso API POST /v1/organizations/acme-corp/databases: 409 database with name acme already exists');
    expect(err.cause).toBeInstanceOf(PlatformResponseError);
    expect(isPlatformConflict(err)).toBe(true);
    expect(fake.requestsTo('POST', 'databases')).toHaveLength(2);
    expect(waits).toEqual([]);
  });

  it('maps 422 (name not available) to PLATFORM_ERROR that is not a conflict', async () => {
    fake.inject({ method: 'POST', route: 'databases', status: 422, body: { error: 'database name not available' } });
    const err = await failure(platformWith().createDatabase({ name: 'acme' }));
    expect(err).toMatchObject({ code: 'PLATFORM_ERROR' });
    expect(err.message).toContain('422 database name not available');
    expect(isPlatformConflict(err)).toBe(false);
    expect(platformErrorStatus(err)).toBe(422);
    expect(fake.requests).toHaveLength(1);
  });

  it('resolves undefined for GET 404, resolves DELETE 404, and fails other 404s', async () => {
    const platform = platformWith();
    expect(await platform.getDatabase('nobody')).toBeUndefined();
    await expect(platform.deleteDatabase('nobody')).resolves.toBeUndefined();
    const err = await failure(platform.getUsage('nobody'));
    expect(err.message).toBe('Turso API GET /v1/organizations/acme-corp/databases/nobody/usage: 404 database nobody not found');
    expect(fake.requests).toHaveLength(3);
    expect(waits).toEqual([]);
  });

  it('fails at once on 401, without retrying', async () => {
    const platform = platformWith({ apiToken: 'wrong-token' });
    const err = await failure(platform.listDatabases());
    expect(err).toMatchObject({ code: 'PLATFORM_ERROR' });
    expect(err.message).toMatch(/: 401 unauthorized/);
    expect(platformErrorStatus(err)).toBe(401);
    expect(fake.requests).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it('waits as long as Retry-After (seconds) says after a 429, then succeeds', async () => {
    fake.inject({ status: 429, body: { error: 'rate limited' }, headers: { 'Retry-After': '1' } });
    expect(await platformWith().listDatabases()).toEqual([]);
    expect(waits).toEqual([1000]);
    expect(fake.requests).toHaveLength(2);
  });

  it('honours a Retry-After HTTP date, capped at 30 s', async () => {
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    const nextYear = new Date(Date.now() + 365 * 86_400_000).toUTCString();
    fake.inject({ status: 503, headers: { 'Retry-After': inTenSeconds } });
    fake.inject({ status: 429, headers: { 'Retry-After': nextYear } });
    await platformWith().listDatabases();
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeGreaterThan(8_000);
    expect(waits[0]).toBeLessThanOrEqual(10_000);
    expect(waits[1]).toBe(30_000);
  });

  it('retries a 500 after a short backoff, then succeeds', async () => {
    const platform = platformWith();
    fake.inject({ method: 'POST', route: 'databases', status: 500, body: 'upstream exploded' });
    await expect(platform.createDatabase({ name: 'acme' })).resolves.toMatchObject({ name: 'acme' });
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThanOrEqual(100);
    expect(waits[0]).toBeLessThanOrEqual(200);
  });

  it('retries a network error, then succeeds', async () => {
    fake.inject({ networkError: true });
    await expect(platformWith().getDatabase('acme')).resolves.toBeUndefined();
    expect(fake.requests).toHaveLength(2);
    expect(waits).toHaveLength(1);
  });

  it('backs off exponentially, capped at 5 s, and gives up after `retries` retries with the last status', async () => {
    fake.inject({ status: 503, body: { error: 'overloaded' }, times: 20 });
    const err = await failure(platformWith({ retries: 7 }).listDatabases());
    expect(err).toMatchObject({ code: 'PLATFORM_ERROR' });
    expect(err.message).toBe('Turso API GET /v1/organizations/acme-corp/databases: 503 overloaded (after 8 attempts)');
    expect(platformErrorStatus(err)).toBe(503);
    expect(fake.requests).toHaveLength(8);
    const ceilings = [200, 400, 800, 1600, 3200, 5000, 5000];
    expect(waits).toHaveLength(ceilings.length);
    waits.forEach((wait, n) => {
      expect(wait).toBeGreaterThanOrEqual(ceilings[n]! / 2);
      expect(wait).toBeLessThanOrEqual(ceilings[n]!);
    });
  });

  it('does not retry when retries is 0', async () => {
    fake.inject({ status: 502 });
    const err = await failure(platformWith({ retries: 0 }).listDatabases());
    expect(err.message).toMatch(/: 502 injected failure$/);
    expect(fake.requests).toHaveLength(1);
  });

  it('passes the advised wait of a last 429 on as retryAfterSeconds', async () => {
    fake.inject({ status: 429, headers: { 'Retry-After': '7' }, times: 2 });
    const err = await failure(platformWith({ retries: 1 }).listDatabases());
    expect(err).toMatchObject({ code: 'PLATFORM_ERROR', retryAfterSeconds: 7 });
  });

  it('times an attempt out after timeoutMs and retries it', async () => {
    fake.inject({ delayMs: 300 });
    const started = Date.now();
    await expect(platformWith({ timeoutMs: 50 }).listDatabases()).resolves.toEqual([]);
    expect(Date.now() - started).toBeLessThan(250);
    expect(fake.requests).toHaveLength(2);
    expect(waits).toHaveLength(1);
  });

  it('gives up with PLATFORM_ERROR when every attempt times out', async () => {
    fake.inject({ delayMs: 300, times: 3 });
    const err = await failure(platformWith({ timeoutMs: 40, retries: 2 }).getDatabase('acme'));
    expect(err).toMatchObject({ code: 'PLATFORM_ERROR' });
    expect(err.message).toBe('Turso API GET /v1/organizations/acme-corp/databases/acme: timed out after 40 ms (after 3 attempts)');
    expect(platformErrorStatus(err)).toBeUndefined();
    expect(err.cause).toBeDefined();
    expect(fake.requests).toHaveLength(3);
  });

  it('rejects a response of the wrong shape with PLATFORM_ERROR naming the field', async () => {
    fake.inject({ method: 'POST', route: 'databases', status: 200, body: { database: { DbId: 'x', Name: 'acme' } } });
    const err = await failure(platformWith().createDatabase({ name: 'acme' }));
    expect(err).toMatchObject({ code: 'PLATFORM_ERROR' });
    expect(err.message).toMatch(/^Turso API POST \/v1\/organizations\/acme-corp\/databases: unexpected response: database\.Hostname: /);
    expect(err.cause).toBeDefined();

    fake.inject({ route: 'databases', status: 200, body: { databases: 'nope' } });
    await expect(platformWith().listDatabases()).rejects.toMatchObject({ code: 'PLATFORM_ERROR', message: expect.stringContaining('databases:') });

    fake.inject({ status: 200, body: 'this is not json' });
    await expect(platformWith().listDatabases()).rejects.toMatchObject({ code: 'PLATFORM_ERROR', message: expect.stringContaining('not JSON') });
  });

  it('rejects a usage answer with neither database.total nor database.usage', async () => {
    await platformWith().createDatabase({ name: 'acme' });
    fake.inject({ route: 'databases/acme/usage', status: 200, body: { database: { uuid: 'x' } } });
    await expect(platformWith().getUsage('acme')).rejects.toMatchObject({ code: 'PLATFORM_ERROR', message: expect.stringContaining('usage totals') });
  });

  it('never shows the API token in an error, its cause, or the client', async () => {
    const errors: unknown[] = [];
    const platform = platformWith({ retries: 1, timeoutMs: 40 });
    await platform.createDatabase({ name: 'acme' });
    errors.push(await failure(platform.createDatabase({ name: 'acme' }))); // 409
    errors.push(await failure(platformWith({ apiToken: `${API_TOKEN}-x` }).listDatabases())); // 401
    fake.inject({ status: 400, body: { error: `bad header: Bearer ${API_TOKEN}` } }); // an API that echoes it
    errors.push(await failure(platform.listDatabases()));
    fake.inject({ status: 500, body: `<html>Authorization: Bearer ${API_TOKEN}</html>`, times: 2 });
    errors.push(await failure(platform.listDatabases()));
    fake.inject({ networkError: true, times: 2 });
    errors.push(await failure(platform.listDatabases()));
    fake.inject({ delayMs: 200, times: 2 });
    errors.push(await failure(platform.listDatabases()));
    fake.inject({ status: 200, body: { databases: [{ Name: API_TOKEN }] } });
    errors.push(await failure(platform.listDatabases()));
    const leaky = platformWith({
      retries: 0,
      fetch: async (_url, init) => {
        throw new Error(`could not connect with ${JSON.stringify(init?.headers)}`, { cause: new Error(String(new Headers(init?.headers).get('authorization'))) });
      },
    });
    errors.push(await failure(leaky.listDatabases()));

    expect(errors).toHaveLength(8);
    for (const err of errors) {
      expect(isTenantryError(err)).toBe(true);
      expect(serialized(err)).not.toContain(API_TOKEN);
    }
    expect((errors[2] as Error).message).toContain('[redacted]');
    expect(inspect(platform, { depth: Infinity, showHidden: true })).not.toContain(API_TOKEN);
    expect(JSON.stringify(platform)).not.toContain(API_TOKEN);
  });
});

describe('tursoPlatform options', () => {
  it('refuses to start without an API token (no mock mode), naming the option', () => {
    // @ts-expect-error apiToken missing
    expect(() => tursoPlatform({ organization: ORG })).toThrow(/options\.apiToken/);
    expect(() => tursoPlatform({ organization: ORG, apiToken: '' })).toThrow(TypeError);
    expect(() => tursoPlatform({ organization: ORG, apiToken: '   ' })).toThrow(TypeError);
  });

  it('names each invalid option in a TypeError, without showing the token', () => {
    const base = { organization: ORG, apiToken: API_TOKEN };
    const cases: [unknown, RegExp][] = [
      [{ ...base, organization: '' }, /options\.organization/],
      [{ ...base, group: '' }, /options\.group/],
      [{ ...base, groups: { mars: 'red' } }, /unknown region "mars"/],
      [{ ...base, groups: { 'eu-west': 5 } }, /options\.groups\["eu-west"\]/],
      [{ ...base, baseUrl: 'ftp://api.turso.tech' }, /options\.baseUrl/],
      [{ ...base, baseUrl: 'not a url' }, /options\.baseUrl/],
      [{ ...base, fetch: 'fetch' }, /options\.fetch/],
      [{ ...base, retries: -1 }, /options\.retries/],
      [{ ...base, retries: 1.5 }, /options\.retries/],
      [{ ...base, timeoutMs: 0 }, /options\.timeoutMs/],
      [{ ...base, timeoutMs: Number.NaN }, /options\.timeoutMs/],
      [{ ...base, sleep: 10 }, /options\.sleep/],
      [{ ...base, apiKey: 'x' }, /unknown option apiKey/],
      [null, /options must be an object/],
    ];
    for (const [options, message] of cases) {
      let thrown: unknown;
      try {
        tursoPlatform(options as TursoPlatformOptions);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, String(message)).toBeInstanceOf(TypeError);
      expect((thrown as Error).message).toMatch(message);
      expect((thrown as Error).message).not.toContain(API_TOKEN);
    }
  });

  it('accepts retries 0 and an http base URL', () => {
    expect(() => tursoPlatform({ organization: ORG, apiToken: API_TOKEN, retries: 0, baseUrl: 'http://localhost:8080' })).not.toThrow();
  });

  it('exposes the organization but not the token', () => {
    const platform = platformWith();
    expect(platform.organization).toBe(ORG);
    expect(Object.values(platform)).not.toContain(API_TOKEN);
  });
});
