/**
 * `fromJwt()`: the tenant named by a claim of a verified JWT bearer token, with a cache of
 * verified tokens so that a repeated token costs a map lookup instead of a signature check.
 */
import { createRemoteJWKSet, customFetch, importSPKI, jwtVerify } from 'jose';
import type {
  CryptoKey,
  FetchImplementation,
  JWSHeaderParameters,
  JWTPayload,
  JWTVerifyGetKey,
  JWTVerifyOptions,
  KeyObject,
} from 'jose';
import { LRUCache } from 'lru-cache';
import { TenantryError } from '../../errors/index.js';
import type { RequestView, TenantIdentity, TenantResolver } from '../types.js';
import { headerNameOption, parseTenantId } from './validate.js';

/**
 * Options of {@link fromJwt}. Exactly one of `secret`, `publicKey` or `jwksUrl` is required, and
 * both `issuer` and `audience` must be decided: a value to check, or `false` to skip the check.
 */
export interface JwtResolverOptions {
  /** Shared HMAC secret (HS256/384/512), at least 32 bytes. */
  secret?: string | Uint8Array;
  /** Public key: a `CryptoKey`, a Node `KeyObject`, or a PEM SPKI string (`-----BEGIN PUBLIC KEY-----`). */
  publicKey?: CryptoKey | KeyObject | string;
  /** URL of a JSON Web Key Set (`http:` or `https:`), fetched and cached by jose. */
  jwksUrl?: string | URL;
  /**
   * Accepted `alg` values. Default `['HS256']` with a secret, `['RS256', 'ES256', 'EdDSA']`
   * with a public key or JWKS. `none` is never accepted, and HMAC algorithms are only accepted
   * with a secret (no HS/RS key confusion).
   */
  algorithms?: string[];
  /**
   * Accepted `iss` (one of). Required: there is no default. Pass `false` to accept tokens from
   * any issuer, knowingly (e.g. a secret that only one issuer holds).
   */
  issuer?: string | string[] | false;
  /**
   * Accepted `aud` (one of; a token's `aud` array matches when it contains one of them).
   * Required: there is no default. Pass `false` to accept tokens for any audience, knowingly.
   */
  audience?: string | string[] | false;
  /**
   * Whether a request must carry a token. Default `true`: a request without the token header
   * throws `TenantryError('INVALID_TOKEN')` (401). With `false`, such a request resolves
   * nothing, so that the other resolvers of the chain decide. Apps that also serve anonymous
   * traffic on tenant subdomains set `required: false` (or keep those routes out of the
   * adapter's middleware).
   */
  required?: boolean;
  /** Claim holding the tenant id. Default `tenant_id`. */
  claim?: string;
  /**
   * Header carrying the token, case-insensitive. Default `authorization`, whose value must be
   * `Bearer <token>` (scheme case-insensitive). Any other header may also carry the bare token.
   */
  header?: string;
  /** Reject tokens without `exp`. Default `true`. */
  requireExp?: boolean;
  /** Leeway for `exp` and `nbf`, in seconds. Default `0`. */
  clockToleranceSeconds?: number;
  /** Longest accepted token, in characters. Default `8192`. */
  maxTokenLength?: number;
  /** Verified tokens kept in the cache (LRU). `0` disables the cache. Default `10_000`. */
  cacheSize?: number;
  /** Clock in milliseconds, for tests. Default `Date.now`. */
  now?: () => number;
  /**
   * `fetch` used for the JWKS request, for tests. Default the global `fetch`. Used only with
   * `jwksUrl`. Anything it throws, and any answer but a 200 with a JSON body, is a JWKS outage
   * (`TENANT_UNAVAILABLE`).
   */
  fetch?: typeof fetch;
}

const HMAC_ALGORITHMS: ReadonlySet<string> = new Set(['HS256', 'HS384', 'HS512']);
const ASYMMETRIC_ALGORITHMS: ReadonlySet<string> = new Set([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
  'ML-DSA-44',
  'ML-DSA-65',
  'ML-DSA-87',
]);
const MIN_SECRET_BYTES = 32;
/**
 * A cached verification is trusted for at most this long, and never past the token's `exp`.
 * After it, the token is verified again (so a key removed from a JWKS stops being honoured).
 */
const MAX_CACHE_AGE_MS = 5 * 60_000;
const PEM_SPKI = /^\s*-----BEGIN PUBLIC KEY-----\s+[A-Za-z0-9+/=\s]+-----END PUBLIC KEY-----\s*$/;

type KeySource =
  | { readonly type: 'secret'; readonly key: Uint8Array }
  | { readonly type: 'key'; readonly key: CryptoKey | KeyObject }
  | { readonly type: 'getKey'; readonly key: JWTVerifyGetKey; readonly remote: boolean };

interface ResolvedJwtConfig {
  readonly keySource: KeySource;
  readonly verifyOptions: Readonly<JWTVerifyOptions>;
  readonly claim: string;
  readonly header: string;
  readonly required: boolean;
  readonly bearerOnly: boolean;
  readonly toleranceMs: number;
  readonly maxTokenLength: number;
  readonly cacheSize: number;
  readonly now: () => number;
}

interface CacheEntry {
  readonly identity: TenantIdentity;
  /** `exp` in ms, `Infinity` without one. */
  readonly expMs: number;
  /** `nbf` in ms, `-Infinity` without one. */
  readonly nbfMs: number;
  /** Verify again from this time on. */
  readonly refreshAtMs: number;
}

/**
 * Resolves the tenant id from a claim (default `tenant_id`) of a JWT bearer token, verified
 * with jose against a shared secret, a public key or a remote JWKS, with pinned algorithms.
 *
 * - no token header: throws `TenantryError('INVALID_TOKEN', 'a bearer token is required')`, or
 *   resolves nothing with `required: false`;
 * - a header that is not `Bearer <token>`, a token longer than `maxTokenLength`, a bad
 *   signature, a disallowed `alg` (`none`, HS* against a public key), an expired or not yet
 *   valid token, a wrong `iss`/`aud`, a missing or non-string claim: throws
 *   `TenantryError('INVALID_TOKEN')` whose message never contains the token;
 * - a claim that is not a valid tenant id: throws `TenantryError('INVALID_TENANT_ID')`;
 * - the JWKS cannot be fetched (network error, abort, timeout, non-200, a body that is not JSON
 *   or not a JSON Web Key Set): throws `TenantryError('TENANT_UNAVAILABLE')` (503: the token
 *   may be fine). Every other failure, including a `kid` that is not in the set, is
 *   `INVALID_TOKEN`.
 *
 * Verified tokens are cached (LRU of `cacheSize`, keyed by the token): a repeat returns the
 * identity synchronously after a clock check, never past the token's `exp` and for at most
 * 5 minutes before verifying again. A cache miss returns a promise. Concurrent requests with the
 * same uncached token share one verification (and its failure). Failures are not cached.
 *
 * Throws a `TypeError` naming the option when the options are invalid.
 *
 * @example
 * fromJwt({ jwksUrl: 'https://auth.example.com/.well-known/jwks.json', issuer: 'https://auth.example.com/', audience: 'api' })
 * fromJwt({ secret: process.env.JWT_SECRET!, issuer: false, audience: false, claim: 'org_id' })
 * fromJwt({ jwksUrl, issuer, audience, required: false }) // anonymous requests fall through to fromSubdomain()
 */
export function fromJwt(options: JwtResolverOptions): TenantResolver {
  const config = resolveJwtOptions(options);
  const { keySource, verifyOptions, claim, header, required, bearerOnly, toleranceMs, maxTokenLength, now } = config;
  const cache = config.cacheSize === 0 ? undefined : new LRUCache<string, CacheEntry>({ max: config.cacheSize });
  /** Verifications under way, by token: concurrent misses of one token share one. */
  const inflight = new Map<string, Promise<TenantIdentity>>();
  const remote = keySource.type === 'getKey' && keySource.remote;
  const claimSource = `jwt claim ${claim}`;

  async function verify(token: string): Promise<TenantIdentity> {
    const verifiedAt = now();
    let payload: JWTPayload;
    try {
      const options = { ...verifyOptions, currentDate: new Date(verifiedAt) };
      payload = (await jwtVerify(token, keySource.key, options)).payload;
    } catch (err) {
      if (remote && isJwksOutage(err)) {
        throw new TenantryError('TENANT_UNAVAILABLE', 'jwt: the JSON Web Key Set could not be fetched', { cause: err });
      }
      throw new TenantryError('INVALID_TOKEN', 'jwt: the bearer token could not be verified', { cause: err });
    }
    const value = payload[claim];
    if (typeof value !== 'string') {
      throw new TenantryError('INVALID_TOKEN', `jwt: the token has no string "${claim}" claim`);
    }
    const identity: TenantIdentity = Object.freeze({ kind: 'id', value: parseTenantId(value, claimSource), source: 'jwt' });
    if (cache !== undefined) {
      cache.set(token, {
        identity,
        expMs: typeof payload.exp === 'number' ? payload.exp * 1000 : Infinity,
        nbfMs: typeof payload.nbf === 'number' ? payload.nbf * 1000 : -Infinity,
        refreshAtMs: verifiedAt + MAX_CACHE_AGE_MS,
      });
    }
    return identity;
  }

  /** {@link verify}, at most once at a time per token; the entry goes when it settles. */
  function verifyOnce(token: string): Promise<TenantIdentity> {
    const pending = inflight.get(token);
    if (pending !== undefined) return pending;
    const started = verify(token);
    inflight.set(token, started);
    // Registered before any caller awaits `started`, so the entry is gone when callers resume.
    const settled = (): void => {
      if (inflight.get(token) === started) inflight.delete(token);
    };
    started.then(settled, settled);
    return started;
  }

  // The last header value that was a cache hit, its token and its entry: a client repeating its
  // token (the common case) then costs one string comparison instead of extracting the token
  // and hashing it for the LRU lookup. Keyed by the exact header value, so it names exactly one
  // token; the entry is still checked against the clock (exp, nbf, refresh) on every use.
  let lastValue: string | undefined;
  let lastToken = '';
  let lastEntry: CacheEntry | undefined;

  return {
    name: 'jwt',
    resolve(request: RequestView): TenantIdentity | undefined | Promise<TenantIdentity | undefined> {
      const value = request.header(header);
      if (value === undefined) {
        if (required) throw new TenantryError('INVALID_TOKEN', 'a bearer token is required');
        return undefined;
      }
      let token: string;
      let entry: CacheEntry | undefined;
      if (value === lastValue) {
        token = lastToken;
        entry = lastEntry;
      } else {
        token = extractToken(value, bearerOnly, maxTokenLength);
        entry = cache?.get(token);
      }
      if (entry !== undefined) {
        const t = now();
        if (t >= entry.expMs + toleranceMs) {
          lastValue = undefined;
          cache!.delete(token);
          throw new TenantryError('INVALID_TOKEN', 'jwt: the bearer token has expired');
        }
        if (t < entry.nbfMs - toleranceMs) throw new TenantryError('INVALID_TOKEN', 'jwt: the bearer token is not valid yet');
        if (t < entry.refreshAtMs) {
          lastValue = value;
          lastToken = token;
          lastEntry = entry;
          return entry.identity;
        }
        cache!.delete(token);
      }
      lastValue = undefined;
      checkCompactShape(token);
      return verifyOnce(token);
    },
  };
}

/**
 * True when the JWKS could not be retrieved, so the token could not be judged: a failure of the
 * JWKS request ({@link JwksFetchFailure}), a jose JWKS timeout, or a key set that jose rejects
 * (`ERR_JWKS_INVALID`: not a JWK Set, or a member that is not a public key). Everything else,
 * `ERR_JWKS_NO_MATCHING_KEY` included, is about the token.
 */
function isJwksOutage(err: unknown): boolean {
  if (err instanceof JwksFetchFailure) return true;
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return code === 'ERR_JWKS_TIMEOUT' || code === 'ERR_JWKS_INVALID';
}

/** A failure of the JWKS request itself; its `cause` is the original error, when there is one. */
class JwksFetchFailure extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'JwksFetchFailure';
  }
}

/**
 * The `fetch` handed to jose for the JWKS: `fetchImpl` (default: the global `fetch`, looked up
 * on each call), with every failure of the request marked as a {@link JwksFetchFailure} — a
 * rejection (network error, `AbortError`, `TimeoutError`, anything a custom `fetch` throws), a
 * status other than 200, a body that cannot be read or is not JSON — so that the failure is
 * told apart from a bad token by where it happened, not by guessing from its type.
 */
function jwksFetch(fetchImpl: typeof fetch | undefined): FetchImplementation {
  return (url, init) =>
    fetchJwksText(fetchImpl ?? fetch, url, init).then(
      (text) => new Response(text, { status: 200, headers: { 'content-type': 'application/json' } }),
      (cause: unknown) => {
        throw cause instanceof JwksFetchFailure ? cause : new JwksFetchFailure('jwt: the JSON Web Key Set request failed', { cause });
      },
    );
}

/** The body of a 200 answer to the JWKS request, checked to be JSON (jose parses it again). */
async function fetchJwksText(fetchImpl: typeof fetch, url: string, init: Parameters<FetchImplementation>[1]): Promise<string> {
  const response = await fetchImpl(url, init);
  if (response.status !== 200) {
    void response.body?.cancel().catch(() => undefined);
    throw new JwksFetchFailure(`jwt: the JSON Web Key Set request answered ${response.status}, expected 200`);
  }
  const text = await response.text();
  try {
    JSON.parse(text);
  } catch (cause) {
    throw new JwksFetchFailure('jwt: the JSON Web Key Set response is not JSON', { cause });
  }
  return text;
}

const CH_SPACE = 32;
const CH_TAB = 9;
const BEARER = 'bearer';

/** The token of a header value: `Bearer <token>`, or (for a custom header) the bare token. */
function extractToken(value: string, bearerOnly: boolean, maxTokenLength: number): string {
  if (value.length > maxTokenLength + 64) throw tokenTooLong(maxTokenLength);
  let start = 0;
  if (isBearer(value)) {
    start = BEARER.length;
    while (start < value.length && (value.charCodeAt(start) === CH_SPACE || value.charCodeAt(start) === CH_TAB)) start++;
  } else if (bearerOnly) {
    throw new TenantryError('INVALID_TOKEN', 'jwt: expected an "Authorization: Bearer <token>" header');
  }
  let end = value.length;
  while (end > start && (value.charCodeAt(end - 1) === CH_SPACE || value.charCodeAt(end - 1) === CH_TAB)) end--;
  if (end === start) throw new TenantryError('INVALID_TOKEN', 'jwt: the bearer token is empty');
  if (end - start > maxTokenLength) throw tokenTooLong(maxTokenLength);
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/** `Bearer` (any case) followed by a space or tab. */
function isBearer(value: string): boolean {
  if (value.length <= BEARER.length) return false;
  for (let i = 0; i < BEARER.length; i++) {
    if ((value.charCodeAt(i) | 0x20) !== BEARER.charCodeAt(i)) return false;
  }
  const next = value.charCodeAt(BEARER.length);
  return next === CH_SPACE || next === CH_TAB;
}

function tokenTooLong(maxTokenLength: number): TenantryError {
  return new TenantryError('INVALID_TOKEN', `jwt: the bearer token is longer than ${maxTokenLength} characters`);
}

/** Three non-empty base64url parts separated by dots (JWS compact serialization). */
function checkCompactShape(token: string): void {
  let dots = 0;
  let partLength = 0;
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (c === 46) {
      if (partLength === 0) throw malformed();
      dots++;
      partLength = 0;
    } else if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95) {
      partLength++;
    } else {
      throw malformed();
    }
  }
  if (dots !== 2 || partLength === 0) throw malformed();
}

function malformed(): TenantryError {
  return new TenantryError('INVALID_TOKEN', 'jwt: the bearer token is not a signed JWT (header.payload.signature)');
}

// ---------------------------------------------------------------------------------------------
// Options

function resolveJwtOptions(options: JwtResolverOptions): ResolvedJwtConfig {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('fromJwt: options must be an object with one of secret, publicKey or jwksUrl');
  }
  const given = (['secret', 'publicKey', 'jwksUrl'] as const).filter((name) => options[name] !== undefined);
  if (given.length !== 1) {
    throw new TypeError(
      `fromJwt: pass exactly one of secret, publicKey or jwksUrl${given.length > 1 ? ` (got ${given.join(', ')})` : ''}`,
    );
  }
  const mode = given[0]!;
  const algorithms = algorithmsOption(options.algorithms, mode);
  const keySource = keySourceOption(options, mode);

  const verifyOptions: JWTVerifyOptions = {
    algorithms,
    requiredClaims: booleanOption(options.requireExp, true, 'requireExp') ? ['exp'] : [],
  };
  const issuer = claimCheckOption(options.issuer, 'issuer', 'from any issuer');
  if (issuer !== false) verifyOptions.issuer = issuer;
  const audience = claimCheckOption(options.audience, 'audience', 'for any audience');
  if (audience !== false) verifyOptions.audience = audience;
  const tolerance = options.clockToleranceSeconds;
  if (tolerance !== undefined && (typeof tolerance !== 'number' || !Number.isFinite(tolerance) || tolerance < 0)) {
    throw new TypeError('fromJwt: clockToleranceSeconds must be a finite number >= 0');
  }
  verifyOptions.clockTolerance = tolerance ?? 0;

  const claim = options.claim ?? 'tenant_id';
  if (typeof claim !== 'string' || claim.length === 0) throw new TypeError('fromJwt: claim must be a non-empty string');
  const header = headerNameOption(options.header, 'authorization', 'fromJwt: header');
  const required = booleanOption(options.required, true, 'required');
  const maxTokenLength = integerOption(options.maxTokenLength, 8192, 1, 'maxTokenLength');
  const cacheSize = integerOption(options.cacheSize, 10_000, 0, 'cacheSize');
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw new TypeError('fromJwt: now must be a function returning milliseconds');

  return Object.freeze({
    keySource,
    verifyOptions: Object.freeze(verifyOptions),
    claim,
    header,
    required,
    bearerOnly: header === 'authorization',
    toleranceMs: verifyOptions.clockTolerance * 1000,
    maxTokenLength,
    cacheSize,
    now,
  });
}

function algorithmsOption(value: unknown, mode: 'secret' | 'publicKey' | 'jwksUrl'): string[] {
  if (value === undefined) return mode === 'secret' ? ['HS256'] : ['RS256', 'ES256', 'EdDSA'];
  if (!Array.isArray(value) || value.length === 0) throw new TypeError('fromJwt: algorithms must be a non-empty array of JWS algorithm names');
  for (const alg of value) {
    if (typeof alg === 'string' && alg.toLowerCase() === 'none') {
      throw new TypeError("fromJwt: algorithms must not contain 'none' (unsigned tokens)");
    }
    if (typeof alg !== 'string' || (!HMAC_ALGORITHMS.has(alg) && !ASYMMETRIC_ALGORITHMS.has(alg))) {
      throw new TypeError(`fromJwt: algorithms: unsupported algorithm ${JSON.stringify(alg)}`);
    }
    if (mode === 'secret' && !HMAC_ALGORITHMS.has(alg)) {
      throw new TypeError(`fromJwt: algorithms: ${alg} needs publicKey or jwksUrl; with a secret only HS256, HS384 and HS512 are allowed`);
    }
    if (mode !== 'secret' && HMAC_ALGORITHMS.has(alg)) {
      throw new TypeError(
        `fromJwt: algorithms: ${alg} needs a secret; HMAC algorithms are never accepted with ${mode} (HS/RS key confusion)`,
      );
    }
  }
  return [...new Set(value as string[])];
}

function keySourceOption(options: JwtResolverOptions, mode: 'secret' | 'publicKey' | 'jwksUrl'): KeySource {
  if (mode === 'secret') {
    const secret = options.secret;
    let bytes: Uint8Array;
    if (typeof secret === 'string') bytes = new TextEncoder().encode(secret);
    else if (secret instanceof Uint8Array) bytes = new Uint8Array(secret);
    else throw new TypeError('fromJwt: secret must be a string or a Uint8Array');
    if (bytes.byteLength < MIN_SECRET_BYTES) throw new TypeError(`fromJwt: secret must be at least ${MIN_SECRET_BYTES} bytes`);
    return { type: 'secret', key: bytes };
  }

  if (mode === 'publicKey') {
    const publicKey = options.publicKey;
    if (typeof publicKey === 'string') {
      if (!PEM_SPKI.test(publicKey)) {
        throw new TypeError('fromJwt: publicKey must be a PEM SPKI public key (-----BEGIN PUBLIC KEY-----), a CryptoKey or a KeyObject');
      }
      // A PEM is imported once per algorithm, on first use (WebCrypto binds a key to an algorithm).
      const imported = new Map<string, Promise<CryptoKey>>();
      const getKey = (protectedHeader: JWSHeaderParameters): Promise<CryptoKey> => {
        const alg = protectedHeader.alg!; // jose checked it against `algorithms` before asking
        let key = imported.get(alg);
        if (key === undefined) {
          key = importSPKI(publicKey, alg);
          imported.set(alg, key);
        }
        return key;
      };
      return { type: 'getKey', key: getKey, remote: false };
    }
    if (typeof publicKey !== 'object' || publicKey === null || (publicKey as { type?: unknown }).type !== 'public') {
      throw new TypeError('fromJwt: publicKey must be a public key (a PEM SPKI string, or a CryptoKey / KeyObject of type "public")');
    }
    return { type: 'key', key: publicKey };
  }

  let url: URL;
  try {
    url = new URL(options.jwksUrl!);
  } catch (cause) {
    throw new TypeError('fromJwt: jwksUrl must be an absolute http(s) URL', { cause });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError('fromJwt: jwksUrl must be an http(s) URL');
  if (options.fetch !== undefined && typeof options.fetch !== 'function') throw new TypeError('fromJwt: fetch must be a function');
  const jwks = createRemoteJWKSet(url, { [customFetch]: jwksFetch(options.fetch) });
  return { type: 'getKey', key: jwks, remote: true };
}

/** `issuer` / `audience`: required; `false` turns the check off, on purpose. */
function claimCheckOption(value: unknown, option: 'issuer' | 'audience', anyOf: string): string | string[] | false {
  if (value === undefined) throw new TypeError(`fromJwt: ${option} is required (pass false to accept tokens ${anyOf})`);
  if (value === false) return false;
  if (typeof value === 'string' && value.length > 0) return value;
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string' && v.length > 0)) return [...(value as string[])];
  throw new TypeError(`fromJwt: ${option} must be false, a non-empty string or a non-empty array of non-empty strings`);
}

function booleanOption(value: unknown, fallback: boolean, option: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`fromJwt: ${option} must be a boolean`);
  return value;
}

function integerOption(value: unknown, fallback: number, min: number, option: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`fromJwt: ${option} must be an integer >= ${min}`);
  }
  return value;
}
