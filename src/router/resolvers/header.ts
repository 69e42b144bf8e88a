/**
 * `fromHeader()`: the tenant named by a request header (default `x-tenant-id`).
 */
import { TenantryError } from '../../errors/index.js';
import type { RequestView, TenantIdentity, TenantResolver } from '../types.js';
import { MAX_TENANT_ID_LENGTH, headerNameOption, kindOption, parseTenantId } from './validate.js';

/** Options of {@link fromHeader}. */
export interface HeaderResolverOptions {
  /** Header carrying the tenant, matched case-insensitively. Default `x-tenant-id`. */
  name?: string;
  /** Whether the header holds the tenant's `id` or its `slug`. Default `'id'`. */
  kind?: 'id' | 'slug';
}

/**
 * Resolves the tenant from a request header. An absent header resolves nothing; a present
 * header that is empty, longer than 63 characters or not a valid id (lowercase letters,
 * digits, dashes; see `TENANT_ID_PATTERN`) throws `TenantryError('INVALID_TENANT_ID')`.
 * The value is neither trimmed nor lowercased. Synchronous.
 *
 * Only trust a tenant header set by your own gateway or combine it with `fromJwt()`, whose
 * claim must then agree with it.
 *
 * @param options - `name` (default `x-tenant-id`), `kind` (default `'id'`)
 * @example
 * createTenantry({ resolvers: [fromHeader({ name: 'X-Org', kind: 'slug' })] })
 */
export function fromHeader(options: HeaderResolverOptions = {}): TenantResolver {
  if (typeof options !== 'object' || options === null) throw new TypeError('fromHeader: options must be an object');
  const name = headerNameOption(options.name, 'x-tenant-id', 'fromHeader: name');
  const kind = kindOption(options.kind, 'fromHeader: kind');
  // The identity of the last valid value: a repeated tenant costs a string comparison instead of
  // a validation and an allocation. Identities are frozen, so sharing one is safe.
  let lastValue: string | undefined;
  let lastIdentity: TenantIdentity | undefined;
  return {
    name: 'header',
    resolve(request: RequestView): TenantIdentity | undefined {
      const value = request.header(name);
      if (value === undefined) return undefined;
      if (value === lastValue) return lastIdentity;
      if (value.length > MAX_TENANT_ID_LENGTH) {
        throw new TenantryError('INVALID_TENANT_ID', `header ${name}: the tenant id is longer than ${MAX_TENANT_ID_LENGTH} characters`);
      }
      const identity: TenantIdentity = Object.freeze({ kind, value: parseTenantId(value, `header ${name}`), source: 'header' });
      lastValue = value;
      lastIdentity = identity;
      return identity;
    },
  };
}
