/**
 * Validation shared by the resolvers: tenant ids, hostnames and the request's host. Everything
 * here runs on every request, so it scans characters by hand instead of building regexes or
 * URLs, and allocates only the strings it returns.
 */
import { TenantryError } from '../../errors/index.js';
import { TENANT_ID_PATTERN } from '../../protocol/index.js';
import type { RequestView, ResolverEnv } from '../types.js';

/** Longest tenant id (a DNS label). */
export const MAX_TENANT_ID_LENGTH = 63;
/** Longest hostname, without a trailing dot. */
const MAX_HOST_LENGTH = 253;
/** Longest `Host` value worth scanning: hostname, trailing dot and `:65535`. */
const MAX_RAW_HOST_LENGTH = MAX_HOST_LENGTH + 1 + 6;
/** Longest value quoted in an error message. */
const MAX_QUOTED_LENGTH = 64;

/**
 * A value quoted for an error message: JSON-quoted when it is short printable ASCII, otherwise
 * only its length. Never pass a token here.
 */
export function describeValue(value: string): string {
  if (value.length > MAX_QUOTED_LENGTH) return `a value of ${value.length} characters`;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return `a value of ${value.length} characters with unprintable characters`;
  }
  return JSON.stringify(value);
}

/**
 * Returns `value` when it is a valid tenant id ({@link TENANT_ID_PATTERN}: lowercase letters,
 * digits and dashes, 1–63 characters, no leading or trailing dash), else throws
 * `TenantryError('INVALID_TENANT_ID')`. The value is not lowercased: `Acme` is invalid.
 *
 * @param value - the untrusted candidate id
 * @param source - where it came from, for the error message (`header`, `withTenant`, ...)
 * @example
 * parseTenantId('acme', 'header')  // 'acme'
 * parseTenantId('Acme', 'header')  // throws INVALID_TENANT_ID
 */
export function parseTenantId(value: string, source: string): string {
  if (typeof value !== 'string') {
    throw new TenantryError('INVALID_TENANT_ID', `${source}: the tenant id must be a string`);
  }
  if (value.length === 0 || value.length > MAX_TENANT_ID_LENGTH || !TENANT_ID_PATTERN.test(value)) {
    throw new TenantryError(
      'INVALID_TENANT_ID',
      `${source}: ${describeValue(value)} is not a valid tenant id (lowercase letters, digits and dashes, 1-63 characters, no leading or trailing dash)`,
    );
  }
  return value;
}

function invalidHost(raw: string, why: string): TenantryError {
  return new TenantryError('INVALID_TENANT_ID', `host: ${describeValue(raw)} is not a valid host (${why})`);
}

const CH_0 = 48;
const CH_9 = 57;
const CH_A = 65;
const CH_F = 70;
const CH_Z = 90;
const CH_a = 97;
const CH_f = 102;
const CH_z = 122;
const CH_DASH = 45;
const CH_DOT = 46;
const CH_COLON = 58;
const CH_LBRACKET = 91;

/** Throws unless the `:port` suffix starting at `colon` is 1–5 digits, at most 65535. */
function checkPort(raw: string, colon: number): void {
  const digits = raw.length - colon - 1;
  if (digits < 1 || digits > 5) throw invalidHost(raw, 'bad port');
  let port = 0;
  for (let i = colon + 1; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c < CH_0 || c > CH_9) throw invalidHost(raw, 'bad port');
    port = port * 10 + (c - CH_0);
  }
  if (port > 65535) throw invalidHost(raw, 'bad port');
}

/** Validates a bracketed IPv6 literal `[...]` with an optional port. Throws when malformed. */
function checkIpv6Literal(raw: string): void {
  const close = raw.indexOf(']');
  if (close < 3) throw invalidHost(raw, 'bad IPv6 literal');
  for (let i = 1; i < close; i++) {
    const c = raw.charCodeAt(i);
    const ok =
      (c >= CH_0 && c <= CH_9) || (c >= CH_a && c <= CH_f) || (c >= CH_A && c <= CH_F) || c === CH_COLON || c === CH_DOT;
    if (!ok) throw invalidHost(raw, 'bad IPv6 literal');
  }
  if (close === raw.length - 1) return;
  if (raw.charCodeAt(close + 1) !== CH_COLON) throw invalidHost(raw, 'bad IPv6 literal');
  checkPort(raw, close + 1);
}

/** True when the last label is a number (decimal or `0x` hex): the host is an IPv4 address. */
function endsInNumber(host: string, lastLabelStart: number): boolean {
  const end = host.length;
  if (end - lastLabelStart >= 2 && host.charCodeAt(lastLabelStart) === CH_0 && host.charCodeAt(lastLabelStart + 1) === 120) {
    for (let i = lastLabelStart + 2; i < end; i++) {
      const c = host.charCodeAt(i);
      if (!((c >= CH_0 && c <= CH_9) || (c >= CH_a && c <= CH_f))) return false;
    }
    return true;
  }
  for (let i = lastLabelStart; i < end; i++) {
    const c = host.charCodeAt(i);
    if (c < CH_0 || c > CH_9) return false;
  }
  return true;
}

/**
 * Normalizes a `Host` (or `X-Forwarded-Host`) value to a lowercase ASCII hostname: strips a
 * `:port` (1–5 digits, at most 65535) and one trailing dot, lowercases A–Z, and checks that
 * every label is 1–63 characters of `a-z`, `0-9` and `-` without a leading or trailing dash and
 * that the whole name is at most 253 characters. Punycode (`xn--`) labels are plain ASCII and
 * pass; IDNs in Unicode form, look-alike characters, whitespace, `@`, `/`, `\`, `%`, `_`, empty
 * labels and over-long names throw `TenantryError('INVALID_TENANT_ID')`.
 *
 * IP literals are valid hosts but never tenants: an IPv6 literal (`[::1]:3000`) or an IPv4
 * address (any host whose last label is a number, e.g. `127.0.0.1`, `10.1`) returns
 * `undefined`, so callers skip it.
 *
 * @example
 * normalizeHost('Acme.Example.COM.:8443')  // 'acme.example.com'
 * normalizeHost('127.0.0.1:3000')          // undefined (IP address)
 * normalizeHost('аcme.example.com')        // throws INVALID_TENANT_ID (Cyrillic а)
 */
export function normalizeHost(raw: string): string | undefined {
  const rawLength = raw.length;
  if (rawLength === 0) throw invalidHost(raw, 'empty');
  if (rawLength > MAX_RAW_HOST_LENGTH) throw invalidHost(raw, 'too long');
  if (raw.charCodeAt(0) === CH_LBRACKET) {
    checkIpv6Literal(raw);
    return undefined;
  }

  // One pass: classify each character, check each label when its dot is reached, stop at ':'.
  let end = rawLength;
  let upper = false;
  let labelStart = 0;
  let lastLabelStart = 0;
  for (let i = 0; i < rawLength; i++) {
    const c = raw.charCodeAt(i);
    const k = c < 128 ? HOST_CHAR[c]! : OTHER;
    if (k === LDH) continue;
    if (k === DOT) {
      checkLabel(raw, labelStart, i);
      lastLabelStart = labelStart;
      labelStart = i + 1;
    } else if (k === UPPER) {
      upper = true;
    } else if (k === COLON) {
      checkPort(raw, i);
      end = i;
      break;
    } else {
      throw invalidHost(raw, 'only ASCII letters, digits, dashes and dots are allowed');
    }
  }
  if (labelStart === end) {
    // Empty last label: a trailing dot (its label was checked at the dot), or nothing at all.
    if (end === 0) throw invalidHost(raw, 'empty');
    end--;
  } else {
    checkLabel(raw, labelStart, end);
    lastLabelStart = labelStart;
  }
  if (end > MAX_HOST_LENGTH) throw invalidHost(raw, 'too long');

  let host = end === rawLength ? raw : raw.slice(0, end);
  if (upper) host = host.toLowerCase();
  if (endsInNumber(host, lastLabelStart)) return undefined;
  return host;
}

const OTHER = 0;
const LDH = 1;
const UPPER = 2;
const DOT = 3;
const COLON = 4;
/** Class of each ASCII character in a host: letters, digits and dash (LDH), upper case, dot, colon. */
const HOST_CHAR = /* @__PURE__ */ (() => {
  const table = new Uint8Array(128);
  for (let c = CH_a; c <= CH_z; c++) table[c] = LDH;
  for (let c = CH_0; c <= CH_9; c++) table[c] = LDH;
  for (let c = CH_A; c <= CH_Z; c++) table[c] = UPPER;
  table[CH_DASH] = LDH;
  table[CH_DOT] = DOT;
  table[CH_COLON] = COLON;
  return table;
})();

/** Throws unless `raw[start, end)` is a label of 1–63 characters without a leading or trailing dash. */
function checkLabel(raw: string, start: number, end: number): void {
  const length = end - start;
  if (length === 0) throw invalidHost(raw, 'empty label');
  if (length > MAX_TENANT_ID_LENGTH) throw invalidHost(raw, 'label longer than 63 characters');
  if (raw.charCodeAt(start) === CH_DASH || raw.charCodeAt(end - 1) === CH_DASH) {
    throw invalidHost(raw, 'label starts or ends with a dash');
  }
}

/**
 * The raw host a request was addressed to: with `env.trustProxy` and an `X-Forwarded-Host`
 * header, its first comma-separated value, trimmed; otherwise the `Host` header.
 * `X-Forwarded-Host` is never read without `trustProxy`. Returns `undefined` when the chosen
 * header is absent or empty. The value is not validated: pass it to {@link normalizeHost}.
 *
 * @example
 * requestHost(request, { trustProxy: true })  // 'acme.example.com' from X-Forwarded-Host
 */
export function requestHost(request: RequestView, env: ResolverEnv): string | undefined {
  if (env.trustProxy) {
    const forwarded = request.header('x-forwarded-host');
    if (forwarded !== undefined) {
      const comma = forwarded.indexOf(',');
      const first = (comma === -1 ? forwarded : forwarded.slice(0, comma)).trim();
      return first.length === 0 ? undefined : first;
    }
  }
  const host = request.header('host');
  return host === undefined || host.length === 0 ? undefined : host;
}

/**
 * Validates a list of hostnames given as a resolver option (e.g. `baseDomains`): each must be
 * a string that {@link normalizeHost} accepts unchanged apart from case, with no port and no
 * IP address. Returns the lowercased names. Throws a `TypeError` naming the option.
 */
export function hostListOption(value: unknown, option: string, { nonEmpty }: { nonEmpty: boolean }): string[] {
  if (!Array.isArray(value) || (nonEmpty && value.length === 0)) {
    throw new TypeError(`${option} must be ${nonEmpty ? 'a non-empty' : 'an'} array of hostnames`);
  }
  return value.map((entry: unknown, i) => {
    if (typeof entry !== 'string' || entry.length === 0) {
      throw new TypeError(`${option}[${i}] must be a non-empty hostname string`);
    }
    const lower = entry.toLowerCase();
    let normalized: string | undefined;
    try {
      normalized = normalizeHost(lower);
    } catch {
      normalized = undefined;
    }
    if (normalized !== lower) {
      throw new TypeError(
        `${option}[${i}] must be a valid ASCII hostname without port or trailing dot (punycode for IDNs, no IP address), got ${describeValue(entry)}`,
      );
    }
    return lower;
  });
}

/** Validates the `kind` option of the header and path resolvers. */
export function kindOption(value: unknown, option: string): 'id' | 'slug' {
  if (value === undefined) return 'id';
  if (value !== 'id' && value !== 'slug') throw new TypeError(`${option} must be 'id' or 'slug'`);
  return value;
}

/** RFC 9110 header field name (token): validated and lowercased once. */
export function headerNameOption(value: unknown, fallback: string, option: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value)) {
    throw new TypeError(`${option} must be an HTTP header name`);
  }
  return value.toLowerCase();
}
