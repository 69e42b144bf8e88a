/**
 * The contract between adapters, resolvers and the tenant router. Nothing here knows a web
 * framework: adapters wrap their request in a {@link RequestView}.
 */

/**
 * A framework-neutral, read-only view of an incoming request. Adapters build one per request;
 * every value in it is untrusted input.
 */
export interface RequestView {
  /** HTTP method, upper case. */
  readonly method: string;
  /** Path of the URL without query string, e.g. `/t/acme/notes`. */
  readonly path: string;
  /**
   * One header value by lowercase name, or `undefined`. Lookups are case-insensitive for the
   * caller because every caller passes a lowercase name.
   */
  header(name: string): string | undefined;
}

/** How a resolver names a tenant: by its id, by its slug, or by one of its custom domains. */
export type TenantIdentityKind = 'id' | 'slug' | 'domain';

/** What a resolver found on a request. `value` is already validated. */
export interface TenantIdentity {
  readonly kind: TenantIdentityKind;
  readonly value: string;
  /** Name of the resolver that found it (`jwt`, `subdomain`, `host`, `header`, `path`, ...). */
  readonly source: string;
}

/** Settings shared by all resolvers of one tenantry instance. */
export interface ResolverEnv {
  /**
   * Trust `X-Forwarded-Host` (the first value) instead of `Host`. Only set this behind a proxy
   * that overwrites the header.
   */
  readonly trustProxy: boolean;
}

/** The result of one resolver: an identity, nothing, or a promise of either. */
export type ResolveResult = TenantIdentity | undefined | Promise<TenantIdentity | undefined>;

/**
 * Finds a tenant on a request. A resolver returns `undefined` when its source is absent (no
 * header, no subdomain) and throws a `TenantryError` when the source is present but invalid
 * (`INVALID_TENANT_ID`, `INVALID_TOKEN`). Return synchronously when you can: the chain stays
 * synchronous on the hot path.
 */
export interface TenantResolver {
  /** Short name, used as the identity's `source`. */
  readonly name: string;
  resolve(request: RequestView, env: ResolverEnv): ResolveResult;
}
