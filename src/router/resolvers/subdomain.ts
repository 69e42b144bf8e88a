/**
 * `fromSubdomain()`: the tenant named by the first label of a host under a base domain
 * (`acme.app.example.com` → slug `acme`).
 */
import { TenantryError } from '../../errors/index.js';
import type { RequestView, ResolverEnv, TenantIdentity, TenantResolver } from '../types.js';
import { describeValue, hostListOption, normalizeHost, parseTenantId, requestHost } from './validate.js';

/** Options of {@link fromSubdomain}. */
export interface SubdomainResolverOptions {
  /**
   * Domains whose direct subdomains are tenants, e.g. `['app.example.com']`. Required,
   * non-empty; lowercase ASCII hostnames (punycode for IDNs), no port. When base domains nest
   * (`example.com` and `app.example.com`), the longest one that matches wins.
   */
  baseDomains: string[];
  /** Subdomain labels that are not tenants (the host resolves nothing). Default `['www']`. */
  ignore?: string[];
}

/**
 * Resolves the tenant slug from the subdomain of the request's host (`Host`, or the first
 * `X-Forwarded-Host` value when the instance sets `trustProxy`). The host is normalized first
 * (port and trailing dot stripped, lowercased; see `normalizeHost`).
 *
 * - no host, an IP address, a host under no base domain, the apex itself, or an ignored label
 *   (`www.example.com`): resolves nothing;
 * - `<label>.<base>`: `{ kind: 'slug', value: label, source: 'subdomain' }`;
 * - `<a>.<b>.<base>` (nested) or an invalid host: throws `TenantryError('INVALID_TENANT_ID')`,
 *   so a nested name never resolves to one of its labels.
 *
 * Synchronous; one `endsWith` per base domain, no regex. Throws a `TypeError` naming
 * `baseDomains` or `ignore` when they are invalid.
 *
 * @example
 * fromSubdomain({ baseDomains: ['app.example.com'] })  // acme.app.example.com → slug 'acme'
 */
export function fromSubdomain(options: SubdomainResolverOptions): TenantResolver {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('fromSubdomain: options must be an object with baseDomains');
  }
  const bases = hostListOption(options.baseDomains, 'fromSubdomain: baseDomains', { nonEmpty: true });
  const ignore = ignoreOption(options.ignore);
  // Longest first: the first base a host matches is the most specific one.
  const sorted = [...new Set(bases)].sort((a, b) => b.length - a.length);
  const domains = sorted.map((base) => ({ base, suffix: `.${base}` }));
  const count = domains.length;

  // The answer for the last host that was answered (not refused): a repeated host costs a
  // string comparison instead of a parse and an allocation. Identities are frozen, so sharing
  // one is safe.
  let lastRaw: string | undefined;
  let lastAnswer: TenantIdentity | undefined;

  return {
    name: 'subdomain',
    resolve(request: RequestView, env: ResolverEnv): TenantIdentity | undefined {
      const raw = requestHost(request, env);
      if (raw === undefined) return undefined;
      if (raw === lastRaw) return lastAnswer;
      const identity = identityOf(raw); // a refused host throws here and is not remembered
      lastRaw = raw;
      lastAnswer = identity;
      return identity;
    },
  };

  /** What `raw` names: a frozen identity, or `undefined` (apex, ignored label, other domain, IP). */
  function identityOf(raw: string): TenantIdentity | undefined {
    const host = normalizeHost(raw);
    if (host === undefined) return undefined;
    for (let i = 0; i < count; i++) {
      const { base, suffix } = domains[i]!;
      if (host === base) return undefined;
      if (host.length > suffix.length && host.endsWith(suffix)) {
        const label = host.slice(0, host.length - suffix.length);
        if (label.includes('.')) {
          throw new TenantryError(
            'INVALID_TENANT_ID',
            `subdomain: ${describeValue(host)} is a nested subdomain of ${base}; only one label names a tenant`,
          );
        }
        if (ignore.has(label)) return undefined;
        return Object.freeze({ kind: 'slug', value: parseTenantId(label, 'subdomain'), source: 'subdomain' });
      }
    }
    return undefined;
  }
}

function ignoreOption(value: unknown): ReadonlySet<string> {
  if (value === undefined) return new Set(['www']);
  if (!Array.isArray(value) || value.some((label) => typeof label !== 'string' || label.length === 0 || label.includes('.'))) {
    throw new TypeError("fromSubdomain: ignore must be an array of subdomain labels (e.g. ['www', 'api'])");
  }
  return new Set(value.map((label: string) => label.toLowerCase()));
}
