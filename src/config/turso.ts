/**
 * Adapts the protocol's `TursoMultiTenantConfig` to `createTenantry()` options.
 */
import { TursoMultiTenantConfigSchema } from '../protocol/index.js';
import type { TursoMultiTenantConfig } from '../protocol/index.js';
import { fromHeader, fromHost, fromJwt, fromPath, fromSubdomain } from '../router/resolvers/index.js';
import type { JwtResolverOptions } from '../router/resolvers/index.js';
import type { TenantResolver } from '../router/types.js';
import type { TenantryOptions } from './index.js';

/**
 * What the protocol's config leaves to the deployment: settings some resolver strategies
 * need, and any other `createTenantry()` option to merge in.
 */
export interface TursoConfigExtras extends Omit<TenantryOptions, 'resolvers' | 'databases'> {
  /** Base domains for `tenantResolverStrategy: 'subdomain'` (e.g. `['app.example.com']`). */
  baseDomains?: string[];
  /** JWT verification for `tenantResolverStrategy: 'token'` (a secret, public key or JWKS URL). */
  jwt?: JwtResolverOptions;
  /** Path prefix for `tenantResolverStrategy: 'path'`. Default `/t`. */
  pathPrefix?: string;
  /** Header for `tenantResolverStrategy: 'header'`. Default `x-tenant-id`. */
  header?: string;
}

/**
 * Turns the protocol's `TursoMultiTenantConfig` into `createTenantry()` options:
 * `urlTemplate` (`{tenant_id}`) and `groupAuthToken` become the database settings,
 * `maxCachedConnections` and `connectionCacheTTL` (seconds) the pool bounds,
 * `tenantResolverStrategy` the resolver (`header` → `fromHeader`, `subdomain` →
 * `fromSubdomain`, `path` → `fromPath`, `token` → `fromJwt`, `lookup` → `fromHost`, custom
 * domains through the registry), `lifecycle.onTenantSuspend.readOnly` the suspended access,
 * `lifecycle.onTenantSuspend.revokeTokens` and `lifecycle.onTenantDelete.gracePeriodHours`
 * the provisioning settings. The platform client (`tursoPlatform` from `tenantry/turso`)
 * goes in `extras.platform`. Throws a `TypeError` naming the field when the config is invalid or a strategy
 * needs a setting from `extras` that is missing.
 *
 * @example
 * const tenantry = createTenantry(fromTursoMultiTenantConfig({
 *   organizationSlug: 'acme-corp',
 *   urlTemplate: 'libsql://{tenant_id}-acme-corp.turso.io',
 *   groupAuthToken: process.env.TURSO_GROUP_TOKEN!,
 *   tenantResolverStrategy: 'header',
 * }));
 */
export function fromTursoMultiTenantConfig(config: TursoMultiTenantConfig, extras: TursoConfigExtras = {}): TenantryOptions {
  const parsed = TursoMultiTenantConfigSchema.safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(`fromTursoMultiTenantConfig: ${issue?.path.join('.') || 'config'}: ${issue?.message ?? 'invalid'}`);
  }
  const turso = parsed.data;
  if (!/\{tenant(?:_id)?\}/.test(turso.urlTemplate)) {
    throw new TypeError('fromTursoMultiTenantConfig: urlTemplate must contain {tenant_id}');
  }
  const { baseDomains, jwt, pathPrefix, header, ...rest } = extras;
  const readOnly = turso.lifecycle?.onTenantSuspend?.readOnly;
  const options: TenantryOptions = {
    ...rest,
    resolvers: [strategyResolver(turso.tenantResolverStrategy, { baseDomains, jwt, pathPrefix, header })],
    databases: {
      urlTemplate: turso.urlTemplate,
      authToken: turso.groupAuthToken,
      maxClients: turso.maxCachedConnections,
      idleTtlMs: turso.connectionCacheTTL * 1000,
    },
  };
  if (readOnly !== undefined && rest.suspendedAccess === undefined) options.suspendedAccess = readOnly ? 'read-only' : 'deny';
  const lifecycle = turso.lifecycle;
  if (lifecycle?.onTenantDelete !== undefined || lifecycle?.onTenantSuspend !== undefined) {
    options.provisioning = {
      ...(lifecycle.onTenantDelete === undefined ? {} : { gracePeriodHours: lifecycle.onTenantDelete.gracePeriodHours }),
      ...(lifecycle.onTenantSuspend === undefined ? {} : { revokeTokensOnSuspend: lifecycle.onTenantSuspend.revokeTokens }),
      ...rest.provisioning,
    };
  }
  return options;
}

function strategyResolver(
  strategy: 'header' | 'subdomain' | 'path' | 'token' | 'lookup',
  extras: Pick<TursoConfigExtras, 'baseDomains' | 'jwt' | 'pathPrefix' | 'header'>,
): TenantResolver {
  switch (strategy) {
    case 'header':
      return fromHeader(extras.header === undefined ? {} : { name: extras.header });
    case 'path':
      return fromPath(extras.pathPrefix === undefined ? {} : { prefix: extras.pathPrefix });
    case 'subdomain':
      if (extras.baseDomains === undefined) {
        throw new TypeError("fromTursoMultiTenantConfig: tenantResolverStrategy 'subdomain' needs extras.baseDomains");
      }
      return fromSubdomain({ baseDomains: extras.baseDomains });
    case 'token':
      if (extras.jwt === undefined) {
        throw new TypeError("fromTursoMultiTenantConfig: tenantResolverStrategy 'token' needs extras.jwt (secret, publicKey or jwksUrl)");
      }
      return fromJwt(extras.jwt);
    case 'lookup':
      return fromHost(extras.baseDomains === undefined ? {} : { ignore: extras.baseDomains });
  }
}
