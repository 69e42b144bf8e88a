/**
 * Hostile input, property-based (fast-check): random and adversarial hosts, header values and
 * paths — unicode look-alikes, punycode, CRLF, NUL, percent-encoding, `..`, ports, trailing
 * dots, whitespace — never resolve a tenant they do not name, never throw anything but a
 * `TenantryError` with a documented code, and never reach a handler.
 *
 * The oracle ({@link expected}) is the documented behaviour of the resolvers, written
 * independently of their code: a header or path segment names a tenant only when it is exactly
 * its id; a host only when its ASCII, lowercased form without port and trailing dot is
 * `<slug or id>.app.example.com` or one of the tenant's custom domains.
 * JWTs are in test/security-jwt.test.ts.
 */
import { domainToASCII } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TENANT_ID_PATTERN, fromHeader, fromHost, fromPath, fromSubdomain } from '../src/index.js';
import type { Tenantry } from '../src/index.js';
import { toProblem } from '../src/middleware/problem.js';
import { ADAPTERS } from './helpers/adapters.js';
import type { AdapterKind } from './helpers/adapters.js';
import { testTenantry } from './helpers/env.js';
import type { TestTenantry } from './helpers/env.js';
import { requestView } from './helpers/request.js';
import { expectProblem, expectTenantryError, isTransportRefusal, reportingApp } from './helpers/security.js';
import type { ProbedAnswer, ReportingApp, Seen } from './helpers/security.js';

// Each property takes about a second alone; with every test file running at once on a loaded
// machine it can take fifty times that, which is not a failure.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const BASE = 'app.example.com';
/** `аpple` with a Cyrillic `а`, in its punycode form: a tenant of its own, not `apple`. */
const PUNY = domainToASCII(`аpple.${BASE}`).split('.')[0]!;
const TENANTS = [
  { id: 'acme', slug: 'acme-co', domains: ['acme.example.org'] },
  { id: 'kiosk', slug: 'sky', domains: ['kiosk.example.net'] },
  { id: 'apple', slug: 'apple-inc', domains: ['apple.example.org'] },
  { id: PUNY, slug: 'cyrillic-apple', domains: [] },
  { id: 'beta', slug: 'beta-2', domains: [] },
];
const IDS = new Set(TENANTS.map((t) => t.id));
/** Subdomain label (slug, or id: a slug lookup falls back to the id) → tenant id. */
const BY_LABEL = new Map(TENANTS.flatMap((t) => [[t.slug, t.id] as const, [t.id, t.id] as const]));
const BY_DOMAIN = new Map(TENANTS.flatMap((t) => t.domains.map((d) => [d, t.id] as const)));

// ---------------------------------------------------------------------------------------------
// The oracle

/** What one source of a request says: nothing, a tenant, or that the request must be refused. */
type Verdict = { kind: 'none' } | { kind: 'tenant'; id: string } | { kind: 'refuse' };
const NONE: Verdict = { kind: 'none' };
const REFUSE: Verdict = { kind: 'refuse' };
const tenant = (id: string): Verdict => ({ kind: 'tenant', id });

function headerVerdict(value: string | undefined): Verdict {
  if (value === undefined) return NONE;
  return IDS.has(value) ? tenant(value) : REFUSE;
}

function pathVerdict(path: string): Verdict {
  if (!path.startsWith('/t/')) return NONE;
  const segment = path.slice(3).split('/')[0]!;
  return IDS.has(segment) ? tenant(segment) : REFUSE;
}

/** Which resolvers a tenantry under test has. */
interface Active {
  subdomain: boolean;
  host: boolean;
  header: boolean;
  path: boolean;
}
const ALL: Active = { subdomain: true, host: true, header: true, path: true };

/**
 * A host names a tenant only in its canonical form: printable ASCII letters, digits, dots and
 * dashes, any case, an optional `:port` (1–5 digits, at most 65535) and one optional trailing
 * dot. Everything else that could be a host is refused; IPs, single labels, `*.localhost`, the
 * base domain itself and `www` name nothing, and so does a host that none of the `active`
 * host resolvers looks at. (A bracketed IPv6 literal is left undecided: `undefined`.)
 */
function hostVerdict(raw: string | undefined, active: Active = ALL): Verdict | undefined {
  if (!active.subdomain && !active.host) return NONE;
  if (raw === undefined || raw === '') return NONE;
  if (raw.startsWith('[')) return undefined;
  let host = raw;
  const colon = host.lastIndexOf(':');
  if (colon !== -1) {
    const port = host.slice(colon + 1);
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return REFUSE;
    host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (!/^[A-Za-z0-9.-]+$/.test(host) || host.length > 253) return REFUSE;
  host = host.toLowerCase();
  const labels = host.split('.');
  if (labels.some((l) => l.length === 0 || l.length > 63 || l.startsWith('-') || l.endsWith('-'))) return REFUSE;
  if (/^(?:\d+|0x[0-9a-f]*)$/.test(labels[labels.length - 1]!)) return NONE; // an IPv4 address
  if (host === BASE || host === `www.${BASE}`) return NONE;
  if (host.endsWith(`.${BASE}`)) {
    if (!active.subdomain) return NONE;
    const label = host.slice(0, -BASE.length - 1);
    const id = label.includes('.') ? undefined : BY_LABEL.get(label);
    return id === undefined ? REFUSE : tenant(id);
  }
  if (labels.length === 1 || host.endsWith('.localhost') || !active.host) return NONE;
  const id = BY_DOMAIN.get(host);
  return id === undefined ? REFUSE : tenant(id);
}

/**
 * The tenant a request must resolve to, or `undefined` when it must be refused; `'either'`
 * when the oracle leaves the host undecided (then only "never another tenant" is checked).
 */
function expected(request: { host?: string; header?: string; path: string }, active: Active = ALL): string | undefined | { either: Set<string> } {
  const verdicts = [active.header ? headerVerdict(request.header) : NONE, active.path ? pathVerdict(request.path) : NONE];
  const host = hostVerdict(request.host, active);
  if (host !== undefined) verdicts.push(host);
  if (verdicts.some((v) => v.kind === 'refuse')) return undefined;
  const named = new Set(verdicts.flatMap((v) => (v.kind === 'tenant' ? [v.id] : [])));
  if (host === undefined) return { either: named };
  return named.size === 1 ? [...named][0] : undefined;
}

// ---------------------------------------------------------------------------------------------
// Generators

const LOOK_ALIKES: Record<string, string[]> = {
  a: ['а', 'ɑ', 'ａ', 'à'], // Cyrillic а, Latin alpha, fullwidth, a-grave
  c: ['с', 'ϲ', 'ｃ'],
  e: ['е', 'ё', 'ｅ'],
  i: ['і', 'ı', 'İ', 'ｉ'], // Cyrillic і, dotless ı, dotted capital İ (lowercases to i + U+0307)
  k: ['K', 'κ', 'к'], // KELVIN SIGN (lowercases to k), Greek kappa, Cyrillic ka
  m: ['м', 'ｍ'],
  o: ['о', 'ο', '0', 'ｏ'],
  p: ['р', 'ρ'],
  s: ['ѕ', 'ſ'], // Cyrillic dze, long s (uppercases to S)
  t: ['т', 'τ'],
  y: ['у', 'ý'],
  '.': ['。', '．', '｡'], // ideographic and fullwidth full stops (IDNA maps them to '.')
  '-': ['‐', '‑', '−', '－'],
};
/** Characters that never belong in a canonical host, id or path segment, and some that do. */
const HOSTILE_CHARS = [
  '\r', '\n', '\r\n', '\0', '\t', ' ', '\u00a0', '\u200b', '\u200d', '\u00ad', '\ufeff', '\u202e', '\u0307',
  '%', '%2f', '%2F', '%2e', '%00', '%0d%0a', '%61', '/', '\\', '..', '@', '_', '?', '#', ',', ';', '"', "'", '[', ']', ':',
  'A', 'Z', '-', '.', 'x', '0', '🏢', '\ud800', 'xn--', ...Object.values(LOOK_ALIKES).flat(),
];
const hostileChar = fc.constantFrom(...HOSTILE_CHARS);
const hostileString = fc.string({ unit: hostileChar, maxLength: 12 });

/** One random edit of `value`: insert, replace, delete, case change, homoglyph, affixes. */
function mutate(value: string): fc.Arbitrary<string> {
  return fc
    .tuple(fc.nat({ max: Math.max(0, value.length) }), hostileChar, fc.integer({ min: 0, max: 8 }), fc.nat({ max: 99_999 }))
    .map(([at, char, op, n]) => {
      switch (op) {
        case 0:
          return value.slice(0, at) + char + value.slice(at);
        case 1:
          return value.slice(0, at) + char + value.slice(at + 1);
        case 2:
          return value.slice(0, at) + value.slice(at + 1);
        case 3:
          return value.toUpperCase();
        case 4: {
          const c = value[at];
          const alikes = c === undefined ? undefined : LOOK_ALIKES[c];
          return alikes === undefined ? value + char : value.slice(0, at) + alikes[n % alikes.length] + value.slice(at + 1);
        }
        case 5:
          return `${value}:${n}`;
        case 6:
          return `${value}.`;
        case 7:
          return `${char}${value}`;
        default:
          return `${value}${char}`;
      }
    });
}
const mutated = (values: string[], depth = 2): fc.Arbitrary<string> =>
  fc.constantFrom(...values).chain((v) => (depth <= 1 ? mutate(v) : mutate(v).chain((m) => fc.oneof(fc.constant(m), mutate(m)))));

const KNOWN_HOSTS = [
  ...TENANTS.flatMap((t) => [`${t.slug}.${BASE}`, `${t.id}.${BASE}`, ...t.domains]),
  `аpple.${BASE}`, // the Unicode form of PUNY's host: refused, never `apple` nor PUNY
  BASE,
  `www.${BASE}`,
  'localhost',
  '127.0.0.1',
  'other.example.com',
];
const KNOWN_VALUES = [...IDS, ...TENANTS.map((t) => t.slug), 'ACME', ' acme', 'acme ', 'acme\r\nx-tenant-id: beta', 'acme%00', '%61cme', '../beta', 'acme/../beta', 'acme,beta'];

// Weighted so that a fair share of requests name a tenant correctly (the oracle must also
// let those through), the rest near misses and noise.
const hostArb = fc.oneof(
  { arbitrary: fc.constantFrom(...KNOWN_HOSTS), weight: 3 },
  { arbitrary: mutated(KNOWN_HOSTS), weight: 4 },
  { arbitrary: hostileString, weight: 1 },
  { arbitrary: mutated(KNOWN_HOSTS).map((h) => `${h}:443`), weight: 1 },
);
const headerArb = fc.oneof(
  { arbitrary: fc.constantFrom(...IDS), weight: 3 },
  { arbitrary: fc.constantFrom(...KNOWN_VALUES), weight: 2 },
  { arbitrary: mutated([...IDS]), weight: 3 },
  { arbitrary: hostileString, weight: 1 },
);
const pathArb = fc.oneof(
  { arbitrary: fc.constant('/notes'), weight: 4 },
  { arbitrary: fc.constantFrom(...IDS).map((id) => `/t/${id}/notes`), weight: 2 },
  {
    arbitrary: fc.constantFrom('/t', '/t/', '/t//acme', '/T/acme', '//t/acme', '/t/./acme', '/t/../t/acme', '/t/acme/../beta', '/t/%2e%2e/beta', '/t/acme%2fbeta', '/tx/acme'),
    weight: 1,
  },
  { arbitrary: mutated([...IDS]).map((id) => `/t/${id}/notes`), weight: 2 },
  { arbitrary: hostileString.map((s) => `/t/${s}`), weight: 1 },
);
/** Present half of the time. */
const sometimes = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });

// ---------------------------------------------------------------------------------------------

let env: TestTenantry;
let tenantry: Tenantry;
/** The same tenants behind a trusted proxy. */
let proxied: TestTenantry;
/** One instance per resolver, on the same registry: each resolver must hold on its own. */
const singles: Array<{ name: keyof Active; env: TestTenantry }> = [];

beforeAll(async () => {
  const resolvers = () => [fromSubdomain({ baseDomains: [BASE] }), fromHost({ ignore: [BASE] }), fromHeader(), fromPath()];
  env = await testTenantry({ resolvers: resolvers() });
  proxied = await testTenantry({ resolvers: resolvers(), trustProxy: true });
  for (const t of TENANTS) {
    await env.addTenant(t.id, { slug: t.slug, domains: t.domains });
    await proxied.addTenant(t.id, { slug: t.slug, domains: t.domains });
  }
  tenantry = env.tenantry;
  const only = {
    subdomain: () => fromSubdomain({ baseDomains: [BASE] }),
    host: () => fromHost({ ignore: [BASE] }),
    header: () => fromHeader(),
    path: () => fromPath(),
  };
  for (const name of ['subdomain', 'host', 'header', 'path'] as const) {
    singles.push({ name, env: await testTenantry({ resolvers: [only[name]()], registry: env.registry }) });
  }
});
afterAll(async () => {
  await env?.close();
  await proxied?.close();
  for (const single of singles) await single.env.close();
});

/** What `openScope` did with a request: the tenant, or the error it threw or rejected with. */
async function outcome(t: Tenantry, request: { host?: string; header?: string; path: string; xfh?: string }): Promise<{ tenant: string } | { error: unknown }> {
  const headers: Record<string, string> = {};
  if (request.host !== undefined) headers['host'] = request.host;
  if (request.header !== undefined) headers['x-tenant-id'] = request.header;
  if (request.xfh !== undefined) headers['x-forwarded-host'] = request.xfh;
  try {
    const scope = await t.openScope(requestView({ path: request.path, headers }));
    if (scope === undefined) throw new Error('openScope resolved no scope on a required route');
    return { tenant: scope.context.tenantId };
  } catch (error) {
    return { error };
  }
}

function checkAgainstOracle(request: { host?: string; header?: string; path: string }, result: { tenant: string } | { error: unknown }, active: Active = ALL): void {
  const want = expected(request, active);
  if ('error' in result) {
    expectTenantryError(result.error);
    const problem = toProblem(result.error as never);
    expect(problem.status).toBeGreaterThanOrEqual(400);
    expect(problem.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(problem.body).detail).not.toMatch(/[\u0000-\u001f\u007f]/);
    if (typeof want === 'string') expect.fail(`refused a request naming ${want}: ${JSON.stringify(request)} → ${String(result.error)}`);
    return;
  }
  expect(TENANT_ID_PATTERN.test(result.tenant)).toBe(true);
  if (typeof want === 'object' && want !== null) {
    // an IPv6 literal names nothing: the tenant must come from the header or the path
    expect([...want.either]).toContain(result.tenant);
    return;
  }
  expect(result.tenant, `resolved ${JSON.stringify(request)}`).toBe(want);
}

describe('hostile hosts, headers and paths at the router', () => {
  it('resolve exactly the tenant they name canonically, or are refused with a documented TenantryError', async () => {
    await fc.assert(
      fc.asyncProperty(sometimes(hostArb), sometimes(headerArb), pathArb, async (host, header, path) => {
        const request = { path, ...(host === undefined ? {} : { host }), ...(header === undefined ? {} : { header }) };
        checkAgainstOracle(request, await outcome(tenantry, request));
      }),
      { numRuns: 3_000 },
    );
  });

  for (const name of ['subdomain', 'host', 'header', 'path'] as const) {
    it(`each resolver on its own (${name}) resolves exactly what the request names, or refuses it`, async () => {
      const single = singles.find((s) => s.name === name)!.env.tenantry;
      const active: Active = { subdomain: false, host: false, header: false, path: false, [name]: true };
      await fc.assert(
        fc.asyncProperty(sometimes(hostArb), sometimes(headerArb), pathArb, async (host, header, path) => {
          const request = { path, ...(host === undefined ? {} : { host }), ...(header === undefined ? {} : { header }) };
          checkAgainstOracle(request, await outcome(single, request), active);
        }),
        { numRuns: 1_500 },
      );
    });
  }

  it('a single hostile host resolves only the tenant its canonical form names', async () => {
    await fc.assert(
      fc.asyncProperty(hostArb, async (host) => {
        checkAgainstOracle({ host, path: '/notes' }, await outcome(tenantry, { host, path: '/notes' }));
      }),
      { numRuns: 2_000 },
    );
  });

  it('refuses look-alike, punycode-confused, CRLF, NUL and percent-encoded variants of a real tenant', async () => {
    const cases: Array<{ host?: string; header?: string; path: string }> = [
      { host: `аpple.${BASE}`, path: '/' }, // Cyrillic а: not apple, not its punycode tenant
      { host: `ａｐｐｌｅ.${BASE}`, path: '/' }, // fullwidth (IDNA would map it to apple)
      { host: `apple。${BASE.replaceAll('.', '。')}`, path: '/' }, // ideographic full stops
      { host: `\u212Aiosk.${BASE}`, path: '/' }, // KELVIN SIGN: 'K'.toLowerCase() === 'k'
      { host: `\u017Fky.${BASE}`, path: '/' }, // long s: 'ſ'.toUpperCase() === 'S'
      { host: `apple\u200b.${BASE}`, path: '/' },
      { host: `apple\u00ad.${BASE}`, path: '/' },
      { host: `apple.${BASE}\r\nX-Tenant-Id: beta`, path: '/' },
      { host: `apple.${BASE}\0.evil.test`, path: '/' },
      { host: `apple%2e${BASE}`, path: '/' },
      { host: `beta@apple.${BASE}`, path: '/' },
      { host: `apple.${BASE}:99999`, path: '/' },
      { host: `apple.${BASE}..`, path: '/' },
      { host: `x.apple.${BASE}`, path: '/' }, // nested: never one of its labels
      { header: 'аcme', path: '/' },
      { header: 'acme\r\nx-tenant-id: beta', path: '/' },
      { header: 'acme\0', path: '/' },
      { header: 'ACME', path: '/' },
      { header: ' acme', path: '/' },
      { header: 'acme%00', path: '/' },
      { header: '../acme', path: '/' },
      { path: '/t/%61cme/notes' },
      { path: '/t/acme%2fbeta' },
      { path: '/t/..%2facme' },
      { path: '/t/ACME' },
      { path: '/t/acme\0/notes' },
      { path: '/t/аcme' },
    ];
    for (const request of cases) {
      const result = await outcome(tenantry, request);
      expect('error' in result, JSON.stringify(request)).toBe(true);
      expectTenantryError((result as { error: unknown }).error, ['INVALID_TENANT_ID', 'TENANT_NOT_FOUND']);
    }
    // and their canonical forms do resolve (the oracle is not vacuous)
    expect(await outcome(tenantry, { host: `Apple.${BASE.toUpperCase()}.:8443`, path: '/' })).toEqual({ tenant: 'apple' });
    expect(await outcome(tenantry, { host: `${PUNY}.${BASE}`, path: '/' })).toEqual({ tenant: PUNY });
    expect(await outcome(tenantry, { host: 'ACME.example.org', path: '/' })).toEqual({ tenant: 'acme' });
  });
});

describe('X-Forwarded-Host', () => {
  it('is ignored without trustProxy: adding any value never changes the outcome', async () => {
    await fc.assert(
      fc.asyncProperty(sometimes(hostArb), fc.oneof(hostArb, fc.constantFrom(...KNOWN_HOSTS)), async (host, xfh) => {
        const base = { path: '/notes', ...(host === undefined ? {} : { host }) };
        const without = await outcome(tenantry, base);
        const withXfh = await outcome(tenantry, { ...base, xfh });
        if ('tenant' in without) expect(withXfh).toEqual(without);
        else expect((withXfh as { error: { code: string } }).error.code).toBe((without as { error: { code: string } }).error.code);
      }),
      { numRuns: 1_000 },
    );
  });

  it('is used, first value trimmed, only when the instance sets trustProxy', async () => {
    const request = { host: `beta.${BASE}`, xfh: ` apple.${BASE} , beta.${BASE}`, path: '/' };
    expect(await outcome(tenantry, request)).toEqual({ tenant: 'beta' });
    expect(await outcome(proxied.tenantry, request)).toEqual({ tenant: 'apple' });
    const spoofed = await outcome(proxied.tenantry, { ...request, xfh: `аpple.${BASE}` });
    expectTenantryError((spoofed as { error: unknown }).error, ['INVALID_TENANT_ID']);
  });
});

// ---------------------------------------------------------------------------------------------
// Through the adapters

describe('hostile requests through the adapters', () => {
  const apps = new Map<AdapterKind, ReportingApp>();
  beforeAll(async () => {
    for (const kind of ADAPTERS) apps.set(kind, await reportingApp(kind, tenantry));
  });
  afterAll(async () => {
    for (const app of apps.values()) await app.close();
  });

  /** A header value without leading and trailing HTTP whitespace, which every HTTP stack strips. */
  const ows = (value: string) => value.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');

  /**
   * Sends the request; checks that the handler ran only for the tenant the request (as sent,
   * and as the framework saw it) names, with only that tenant's rows, and that everything else
   * is a documented problem+json or the HTTP server's own refusal. Returns whether it ran.
   */
  async function check(app: ReportingApp, sent: { host?: string; header?: string; path: string }): Promise<boolean | 'untransmittable'> {
    const headers: Array<[string, string]> = [['host', sent.host ?? 'localhost']];
    if (sent.header !== undefined) headers.push(['x-tenant-id', sent.header]);
    let answer: ProbedAnswer;
    try {
      answer = await app.send(sent.path, headers);
    } catch (err) {
      // fetch's Request refuses CR, LF and NUL in header values and some paths: never sent
      if (err instanceof TypeError && (app.kind === 'hono' || app.kind === 'fetch')) return 'untransmittable';
      throw err;
    }
    // Over a raw socket a CR or LF in a value makes other header lines, or ends the request and
    // starts a second, malformed one that the server may refuse (400) before it answers the first.
    const raw = app.kind === 'express' || app.kind === 'fastify';
    const split = raw && /[\r\n]/.test(`${sent.host ?? ''}${sent.header ?? ''}`);
    if (!answer.ran) {
      if ((answer.headers['content-type'] ?? '').startsWith('application/problem+json')) expectProblem(answer);
      else expect(isTransportRefusal(answer), `${answer.status} ${answer.body}`).toBe(true);
      return false;
    }
    if (split && answer.status !== 200) return true;
    expect(answer.status).toBe(200);
    const seen = JSON.parse(answer.body) as Seen;
    expect(seen.tenantAfter).toBe(seen.tenant);
    expect(seen.markers).toEqual([seen.tenant]);
    // the framework's view of the request names exactly this tenant
    const fromSeen = { path: seen.path, ...(seen.host === null ? {} : { host: seen.host }), ...(seen.header === null ? {} : { header: seen.header }) };
    const wantSeen = expected(fromSeen);
    if (typeof wantSeen === 'string' || wantSeen === undefined) expect(seen.tenant).toBe(wantSeen);
    // and so does what was sent (header values lose only their surrounding whitespace on the way)
    if (split) return true;
    const fromSent = { path: seen.path, host: ows(sent.host ?? 'localhost'), ...(sent.header === undefined ? {} : { header: ows(sent.header) }) };
    const wantSent = expected(fromSent);
    if (typeof wantSent === 'string' || wantSent === undefined) expect(seen.tenant, JSON.stringify(sent)).toBe(wantSent);
    return true;
  }

  for (const kind of ADAPTERS) {
    it(`${kind}: a handler runs only for the tenant a request names, with only its rows`, async () => {
      const app = apps.get(kind)!;
      let ran = 0;
      await fc.assert(
        fc.asyncProperty(sometimes(hostArb), sometimes(headerArb), pathArb, async (host, header, path) => {
          const sent = { path, ...(host === undefined ? {} : { host }), ...(header === undefined ? {} : { header }) };
          if ((await check(app, sent)) === true) ran++;
        }),
        { numRuns: 400 },
      );
      expect(ran).toBeGreaterThan(0); // the generators also produce requests that must be served
    });

    it(`${kind}: a value with a character no tenant name has never reaches the handler`, async () => {
      const app = apps.get(kind)!;
      // inside the value (not at its ends, which HTTP strips), a character that survives transport
      const poison = fc.constantFrom('\u0430', '\uff41', '\u212a', '\u017f', '\u200b', '\u00a0', '%', '%2f', '_', '@', ' ', '\0', '\r\n', 'A', '"');
      const inside = (values: string[]) =>
        fc.tuple(fc.constantFrom(...values), fc.nat(), poison).map(([v, at, p]) => {
          const i = 1 + (at % (v.length - 1));
          return v.slice(0, i) + p + v.slice(i);
        });
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            inside(KNOWN_HOSTS.filter((h) => h.includes('.'))).map((host) => ({ host, path: '/notes' })),
            inside([...IDS]).map((header) => ({ header, path: '/notes' })),
            inside([...IDS])
              .filter((id) => !/[\0\r\n ]/.test(id)) // not sendable in a request line
              .map((id) => ({ path: `/t/${id.replaceAll('"', '%22')}/notes` })),
          ),
          async (sent) => {
            const result = await check(app, sent);
            expect(result === false || result === 'untransmittable', JSON.stringify(sent)).toBe(true);
          },
        ),
        { numRuns: 300 },
      );
    });
  }
});
