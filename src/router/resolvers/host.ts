/**
 * `fromHost()`: custom domains. The request's host is the identity; the tenant router looks it
 * up with the registry's `findByDomain`.
 */
import type { RequestView, ResolverEnv, TenantIdentity, TenantResolver } from '../types.js';
import { hostListOption, normalizeHost, requestHost } from './validate.js';

/** Options of {@link fromHost}. */
export interface HostResolverOptions {
  /**
   * Domains that are not custom domains: a host equal to one of them or under it resolves
   * nothing. Pass your base domains here so their subdomains are left to `fromSubdomain()`.
   * Lowercase ASCII hostnames, no port. Default `[]`.
   */
  ignore?: string[];
}

/**
 * Resolves a tenant by custom domain: `{ kind: 'domain', value: host, source: 'host' }` with
 * the normalized host (port and trailing dot stripped, lowercased; see `normalizeHost`) of
 * `Host`, or of the first `X-Forwarded-Host` value when the instance sets `trustProxy`.
 *
 * Resolves nothing for: no host, IP addresses, single-label hosts (`localhost`, `api`: a
 * custom domain has a dot), names under `.localhost`, and hosts equal to or under a domain in
 * `ignore`. An invalid host throws `TenantryError('INVALID_TENANT_ID')`. Synchronous.
 *
 * @param options - `ignore` (default `[]`)
 * @example
 * createTenantry({ resolvers: [
 *   fromSubdomain({ baseDomains: ['app.example.com'] }),
 *   fromHost({ ignore: ['app.example.com'] }),   // notes.acme.com → findByDomain('notes.acme.com')
 * ] })
 */
export function fromHost(options: HostResolverOptions = {}): TenantResolver {
  if (typeof options !== 'object' || options === null) throw new TypeError('fromHost: options must be an object');
  const ignored = options.ignore === undefined ? [] : hostListOption(options.ignore, 'fromHost: ignore', { nonEmpty: false });
  const domains = [...new Set(ignored)].map((domain) => ({ domain, suffix: `.${domain}` }));
  const count = domains.length;

  return {
    name: 'host',
    resolve(request: RequestView, env: ResolverEnv): TenantIdentity | undefined {
      const raw = requestHost(request, env);
      if (raw === undefined) return undefined;
      const host = normalizeHost(raw);
      if (host === undefined || !host.includes('.') || host.endsWith('.localhost')) return undefined;
      for (let i = 0; i < count; i++) {
        const { domain, suffix } = domains[i]!;
        if (host === domain || host.endsWith(suffix)) return undefined;
      }
      return { kind: 'domain', value: host, source: 'host' };
    },
  };
}
