/**
 * Tenant resolvers: each finds a tenant identity on a request, or nothing. Compose them in
 * `createTenantry({ resolvers: [...] })`; all that answer must agree.
 *
 * @example
 * import { fromJwt, fromSubdomain, fromHost } from 'tenantry';
 * const resolvers = [
 *   fromJwt({ jwksUrl: 'https://auth.example.com/.well-known/jwks.json', issuer: 'https://auth.example.com', audience: 'api' }),
 *   fromSubdomain({ baseDomains: ['app.example.com'] }),
 *   fromHost({ ignore: ['app.example.com'] }),
 * ];
 */
export { fromHeader } from './header.js';
export type { HeaderResolverOptions } from './header.js';
export { fromHost } from './host.js';
export type { HostResolverOptions } from './host.js';
export { fromJwt } from './jwt.js';
export type { JwtResolverOptions } from './jwt.js';
export { fromPath } from './path.js';
export type { PathResolverOptions } from './path.js';
export { fromSubdomain } from './subdomain.js';
export type { SubdomainResolverOptions } from './subdomain.js';
export { normalizeHost, parseTenantId, requestHost } from './validate.js';
